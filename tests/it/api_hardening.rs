//! What did not hold when the product was attacked from outside (issue 22), each through the
//! HTTP API: instants no API can print, records that cannot be read back, made-up methods,
//! unknown fields and nulls, hidden characters, unbounded lists and offsets.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ACME_KEY, Backend, TestApp, every_day, redis_store_at, spawn_app, spawn_app_on,
};

fn campaign(fields: Value) -> Value {
    let mut body = json!({
        "name": "c", "agent_id": "a",
        "contacts": [{ "phone_number": "+14155550100" }, { "phone_number": "+14155550101" }],
    });
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    body
}

async fn n_campaigns(app: &TestApp) -> u64 {
    app.get("/batch-calls").await.expect(200).body["pagination"]["total"]
        .as_u64()
        .unwrap()
}

#[track_caller]
fn assert_field(reply: &crate::helpers::Reply, field: &str) {
    assert_eq!(reply.status.as_u16(), 422, "{}", reply.body);
    assert_eq!(reply.error_code(), "validation_error", "{}", reply.body);
    assert_eq!(reply.error_field(), field, "{}", reply.body);
}

async fn a_scheduled_at_outside_1970_to_9999_is_422_and_the_organisation_stays_readable(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    for (zone, at) in [
        ("UTC", "9999-12-31T23:00:00-05:00"),
        ("Pacific/Apia", "0000-01-01T00:00:00"),
        ("UTC", "1969-12-31T23:59:59Z"),
    ] {
        let body =
            campaign(json!({ "timezone": zone, "scheduled_at": at, "schedule_type": "scheduled" }));
        assert_field(&app.post("/batch-calls", body).await, "scheduled_at");
    }
    assert_eq!(n_campaigns(&app).await, 0);

    // The last instant RFC 3339 can show is taken, read back, listed, paused, cancelled and
    // deleted like any other.
    let fields = json!({ "scheduled_at": "9999-12-31T23:59:59Z", "schedule_type": "scheduled" });
    let id = app.create_campaign(2, fields).await;
    let far = app.command(&id, "schedule").await.expect(200);
    assert_eq!(far.data()["scheduled_at"], "9999-12-31T23:59:59.000Z");
    assert_eq!(far.data()["status"], "scheduled");
    let patch = app
        .patch(
            &format!("/batch-calls/{id}"),
            json!({ "scheduled_at": "10000-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(patch.status.as_u16(), 422, "{}", patch.body);
    let listed = app.get("/batch-calls").await.expect(200);
    assert_eq!(listed.data()[0]["scheduled_at"], "9999-12-31T23:59:59.000Z");
    app.command(&id, "pause").await.expect(200);
    app.command(&id, "cancel").await.expect(200);
    app.request(
        Method::DELETE,
        &format!("/batch-calls/{id}"),
        ACME_KEY,
        None,
    )
    .await
    .expect(200);
    assert_eq!(n_campaigns(&app).await, 0);
}

async fn due_times_past_year_9999_are_shown_as_null(backend: Backend) {
    let app = spawn_app(backend).await;
    // One call a day from 9999-12-20: the twelfth contact and the ones after it fall in 10000.
    let mut fields = every_day();
    fields["max_calls_per_day"] = json!(1);
    fields["scheduled_at"] = json!("9999-12-20T00:00:00Z");
    let id = app.create_campaign(20, fields).await;
    app.command(&id, "schedule").await.expect(200);
    let contacts = app.contacts(&id).await;
    let due: Vec<&Value> = contacts.iter().map(|c| &c["scheduled_at"]).collect();
    assert_eq!(due[0], "9999-12-20T00:00:00.000Z");
    assert_eq!(due[11], "9999-12-31T00:00:00.000Z");
    assert!(due[12..].iter().all(|due| due.is_null()), "{due:?}");
}

/// A campaign whose stored definition cannot be read back (written by hand, or by a bug) is
/// skipped by the list, logged and counted; asked for alone it is a 500 with an opaque body.
#[actix_web::test]
async fn a_campaign_that_cannot_be_read_back_is_skipped_by_the_list_and_counted() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let app = spawn_app_on(
        std::sync::Arc::new(redis_store_at(&prefix)),
        crate::helpers::monday_8am(),
    )
    .await;
    let good = app.create_campaign(1, json!({})).await;
    let bad = app.create_campaign(1, json!({})).await;
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let meta = format!("{prefix}{{c:{bad}}}:meta");
    let () = ::redis::cmd("HSET")
        .arg(&meta)
        .arg("spec")
        .arg("{not json")
        .query_async(&mut con)
        .await
        .unwrap();
    let listed = app.get("/batch-calls").await.expect(200);
    let ids: Vec<&str> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|campaign| campaign["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [good.as_str()]);
    let alone = app.get(&format!("/batch-calls/{bad}")).await.expect(500);
    assert_eq!(alone.error_code(), "internal_error");
    assert!(!alone.body.to_string().contains("spec"), "{}", alone.body);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.root))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pacer_store_unreadable_records_total{record=\"campaign\"}"),
        "{metrics}"
    );
}

/// Any token is a valid HTTP method; each one a label value would grow `/metrics` without
/// bound.
#[actix_web::test]
async fn made_up_methods_are_one_metric_series_named_other() {
    let app = spawn_app(Backend::Memory).await;
    for i in 0..20 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let reply = app
            .client
            .request(method, format!("{}/healthz", app.root))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 404);
    }
    let metrics = app
        .client
        .get(format!("{}/metrics", app.root))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("MADEUP"),
        "a made-up method became a label"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

async fn unknown_fields_and_nulls_are_422_naming_the_field_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let typo = campaign(json!({ "max_calls_per_dya": 5 }));
    assert_field(&app.post("/batch-calls", typo).await, "max_calls_per_dya");
    let null = campaign(json!({ "timezone": null }));
    assert_field(&app.post("/batch-calls", null).await, "timezone");
    let contact =
        campaign(json!({ "contacts": [{ "phone_number": "+14155550100", "frist_name": "Ada" }] }));
    assert_field(
        &app.post("/batch-calls", contact).await,
        "contacts[0].frist_name",
    );
    assert_eq!(n_campaigns(&app).await, 0);

    let id = app.create_campaign(2, json!({})).await;
    let before = app.campaign(&id).await;
    let path = format!("/batch-calls/{id}");
    assert_field(
        &app.patch(&path, json!({ "max_calls_per_dya": 5 })).await,
        "max_calls_per_dya",
    );
    assert_field(&app.patch(&path, json!({ "name": null })).await, "name");
    assert_field(
        &app.patch(&path, json!({ "max_concurrent_calls": null }))
            .await,
        "max_concurrent_calls",
    );
    // A cap may be cleared with null: that field is nullable.
    app.patch(&path, json!({ "max_calls_per_day": null }))
        .await
        .expect(200);
    let schedule = format!("/batch-calls/{id}/schedule");
    assert_field(
        &app.post(&schedule, json!({ "max_calls_per_day": 5 })).await,
        "max_calls_per_day",
    );
    assert_field(
        &app.post(&schedule, json!({ "timezone": null })).await,
        "timezone",
    );
    let contacts = format!("/batch-calls/{id}/contacts");
    assert_field(
        &app.post(&contacts, json!({ "contacts": [], "dry": true }))
            .await,
        "dry",
    );
    let after = app.campaign(&id).await;
    assert_eq!(after["status"], "draft");
    assert_eq!(after["name"], before["name"]);
    assert_eq!(
        after["max_concurrent_calls"],
        before["max_concurrent_calls"]
    );
}

async fn hidden_characters_and_unbounded_lists_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (json!({ "name": "a\u{0}b" }), "name"),
        (json!({ "agent_id": "agent\u{202E}1" }), "agent_id"),
        (
            json!({ "contacts": [{ "phone_number": "+14155550100", "first_name": "Ada\u{2066}" }] }),
            "contacts[0].first_name",
        ),
        (
            json!({ "contacts": [{ "phone_number": "+14155550100", "custom_fields": { "plan": "gold\u{0}" } }] }),
            "contacts[0].custom_fields.plan",
        ),
        (
            json!({ "phone_number_ids": vec!["+14155550000"; 101] }),
            "phone_number_ids",
        ),
        (
            json!({ "phone_number_ids": ["ok", ""] }),
            "phone_number_ids[1]",
        ),
        (json!({ "start_time": "+9:00" }), "start_time"),
    ];
    for (fields, field) in cases {
        assert_field(&app.post("/batch-calls", campaign(fields)).await, field);
    }
    assert_eq!(n_campaigns(&app).await, 0);
    // Right-to-left text itself is fine.
    let id = app.create_campaign(1, json!({ "name": "שלום" })).await;
    assert_eq!(app.campaign(&id).await["name"], "שלום");
}

async fn an_offset_past_every_list_is_an_empty_page_or_422_never_a_wrapped_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(3, json!({})).await;
    for path in [
        "/batch-calls".to_owned(),
        format!("/batch-calls/{id}/contacts"),
    ] {
        let last = app
            .get(&format!("{path}?offset=9223372036854775807"))
            .await
            .expect(200);
        assert_eq!(last.data(), &json!([]));
        assert_eq!(last.body["pagination"]["has_more"], false);
        let past = app
            .get(&format!("{path}?offset=18446744073709551615"))
            .await;
        assert_field(&past, "offset");
    }
}

crate::helpers::on_both_backends!(
    a_scheduled_at_outside_1970_to_9999_is_422_and_the_organisation_stays_readable,
    due_times_past_year_9999_are_shown_as_null,
    unknown_fields_and_nulls_are_422_naming_the_field_and_change_nothing,
    hidden_characters_and_unbounded_lists_are_refused,
    an_offset_past_every_list_is_an_empty_page_or_422_never_a_wrapped_one,
);
