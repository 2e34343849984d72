//! What did not hold when the product was attacked from outside (issue 22), each through the
//! HTTP API: instants no API can print, records that cannot be read back, made-up methods,
//! unknown fields and nulls, hidden characters, unbounded lists and offsets; floods of
//! connections, slow and oversized requests, forged call events, guessed keys.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fakes::Node;
use crate::helpers::{
    ACME_KEY, Backend, TestApp, answer, connect_from, every_day, redis_store_at, scrape_metrics,
    spawn_app, spawn_app_on,
};

const SECRET: &str = "dialer-secret-0123456789";

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
    // One call per day from 9999-12-20: the twelfth contact and the ones after it fall in 10000.
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
    let metrics = scrape_metrics(&app.client, &app.root).await;
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
    let metrics = scrape_metrics(&app.client, &app.root).await;
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

/// Thousands of bad rows: the answer lists the first thousand and counts them all by reason,
/// so an idempotent request keeps a bounded answer (replayed as it was).
async fn an_answer_lists_a_thousand_bad_rows_and_counts_them_all(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(1, json!({})).await;
    let mut rows: Vec<Value> = (0..1_500)
        .map(|i| json!({ "phone_number": format!("555-{i}") }))
        .collect();
    rows.push(json!({ "phone_number": "+14155550200", "first_name": "a\u{0}" }));
    rows.push(json!({ "phone_number": "+14155550201" }));
    rows.push(json!({ "phone_number": "+14155550201" }));
    let send = || {
        app.client
            .post(format!("{}/batch-calls/{id}/contacts", app.base))
            .bearer_auth(ACME_KEY)
            .header("X-Idempotency-Key", "bulk-1")
            .json(&json!({ "contacts": rows }))
            .send()
    };
    let first = crate::helpers::Reply::from(send().await.unwrap())
        .await
        .expect(200);
    let data = first.data();
    assert_eq!(data["added_count"], 1);
    assert_eq!(data["failed_count"], 1_502);
    assert_eq!(
        data["failed_by_reason"],
        json!({ "invalid_number": 1_500, "bad_row": 1, "duplicate": 1 })
    );
    let errors = data["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1_000);
    assert_eq!(errors[0]["index"], 0);
    assert_eq!(errors[0]["code"], "invalid_number");
    assert!(
        first.body.to_string().len() < 200_000,
        "the answer stays small"
    );
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = crate::helpers::Reply::from(again).await.expect(200);
    assert_eq!(again.data(), data);
}

crate::helpers::on_both_backends!(
    an_answer_lists_a_thousand_bad_rows_and_counts_them_all,
    a_scheduled_at_outside_1970_to_9999_is_422_and_the_organisation_stays_readable,
    due_times_past_year_9999_are_shown_as_null,
    unknown_fields_and_nulls_are_422_naming_the_field_and_change_nothing,
    hidden_characters_and_unbounded_lists_are_refused,
    an_offset_past_every_list_is_an_empty_page_or_422_never_a_wrapped_one,
);

fn hardened_settings(backend: Backend) -> pacer::config::Settings {
    let mut settings = crate::fakes::node_settings(backend, &crate::fakes::fresh_prefix());
    settings.max_connections_per_address = 20;
    settings.header_timeout_ms = 700;
    settings.body_timeout_ms = 700;
    settings
}

/// A flood of idle connections from one address: beyond its share they are answered 503 at
/// once; those held get a 408 in the envelope when their head does not come; health and
/// authenticated requests from elsewhere are served meanwhile.
#[actix_web::test]
async fn a_flood_of_idle_connections_from_one_address_is_refused_and_others_are_served() {
    let node = Node::start(&hardened_settings(Backend::Memory)).await;
    let mut held = Vec::new();
    for _ in 0..100 {
        held.extend(connect_from("127.0.0.2", &node.root, b"G").await);
    }
    assert_eq!(held.len(), 100, "loopback connections open");
    // Read together, well within the head timeout (700 ms).
    let answers = futures_util::future::join_all(
        held.iter_mut()
            .map(|stream| answer(stream, Duration::from_millis(300))),
    )
    .await;
    let refused: Vec<&(u16, Value)> = answers.iter().flatten().collect();
    assert_eq!(
        refused.len(),
        80,
        "every connection beyond 20 is refused at once"
    );
    for (status, body) in &refused {
        assert_eq!(*status, 503);
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
    }
    let health = node
        .client
        .get(format!("{}/healthz", node.root))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = node
        .client
        .get(format!("{}/readyz", node.root))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let listed = node.send(Method::GET, "/batch-calls", ACME_KEY, None).await;
    assert_eq!(listed.status, 200);
    // The 20 held ones sent no head: 408 in the envelope once the head timeout passed.
    let mut timed_out = 0;
    for (stream, refused) in held.iter_mut().zip(&answers) {
        if refused.is_none() {
            let (status, body) = answer(stream, Duration::from_secs(5))
                .await
                .expect("an answer");
            assert_eq!(status, 408);
            assert_eq!(body["error"]["code"], "request_timeout", "{body}");
            assert!(body["meta"]["request_id"].is_string(), "{body}");
            timed_out += 1;
        }
    }
    assert_eq!(timed_out, 20);
    // Their places are free again.
    let mut again = connect_from(
        "127.0.0.2",
        &node.root,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(
        answer(&mut again, Duration::from_secs(5))
            .await
            .map(|a| a.0),
        Some(200)
    );
}

/// Past `max_connections` in all, from any address, a new connection is refused too.
#[actix_web::test]
async fn past_the_node_s_connection_cap_new_connections_are_refused() {
    let mut settings = hardened_settings(Backend::Memory);
    settings.max_connections = 30;
    settings.max_connections_per_address = 0;
    let node = Node::start(&settings).await;
    let mut held = Vec::new();
    for i in 0..40 {
        held.extend(connect_from(&format!("127.0.1.{}", i % 10 + 1), &node.root, b"G").await);
    }
    let answers = futures_util::future::join_all(
        held.iter_mut()
            .map(|stream| answer(stream, Duration::from_millis(300))),
    )
    .await;
    let refused: Vec<u16> = answers
        .into_iter()
        .flatten()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(refused, [503; 10]);
}

/// Answers the framework writes before a handler runs come in the envelope too.
#[actix_web::test]
async fn malformed_heads_and_slow_bodies_are_answered_in_the_envelope() {
    let node = Node::start(&hardened_settings(Backend::Memory)).await;
    let mut garbage = connect_from("127.0.0.1", &node.root, b"NOT HTTP AT ALL\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = answer(&mut garbage, Duration::from_secs(5)).await.unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "validation_error", "{body}");
    // A body that stops coming: 408 once the body timeout passed.
    let head = format!(
        "POST /api/public/v1/batch-calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ACME_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\":"
    );
    let mut slow = connect_from("127.0.0.1", &node.root, head.as_bytes())
        .await
        .unwrap();
    let (status, body) = answer(&mut slow, Duration::from_secs(5)).await.unwrap();
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
}

/// Keys guessed from one address meet 429s; a valid key from that address still passes.
#[actix_web::test]
async fn failed_authentications_are_limited_per_address() {
    let node = Node::start(&hardened_settings(Backend::Memory)).await;
    let mut statuses = Vec::new();
    for i in 0..40 {
        let reply = node
            .send(Method::GET, "/batch-calls", &format!("guess-{i:016}"), None)
            .await;
        statuses.push(reply.status.as_u16());
    }
    assert!(
        statuses[..20].iter().all(|&status| status == 401),
        "{statuses:?}"
    );
    assert!(statuses[20..].contains(&429), "{statuses:?}");
    let reply = node.send(Method::GET, "/batch-calls", ACME_KEY, None).await;
    assert_eq!(reply.status, 200);
}

/// A call event is checked as far as its headers allow before a byte of its body is read, and
/// its body is small.
#[actix_web::test]
async fn a_call_event_is_refused_from_its_headers_before_its_body_is_read() {
    let provider = crate::fakes::Fake::start(|_, _| (202, "{}".to_owned())).await;
    let mut settings = hardened_settings(Backend::Memory);
    settings.dialer = pacer::config::DialerKind::Webhook;
    settings.dialer_url = Some(provider.url.clone());
    settings.dialer_secret = Some(SECRET.to_owned());
    settings.body_timeout_ms = 10_000;
    let node = Node::start(&settings).await;
    node.start_campaign(&crate::fakes::campaign_body(0, 1))
        .await;
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while provider.received().is_empty() && std::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dial = provider.received()[0].json();
    let call = dial["call_id"].as_str().unwrap().to_owned();
    let now = provider.received()[0]
        .timestamp
        .as_deref()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let event_head = |call: &str, signature: Option<String>, length: usize| {
        let signature = signature
            .map(|signature| {
                format!("X-Pacer-Timestamp: {now}\r\nX-Pacer-Signature: {signature}\r\n")
            })
            .unwrap_or_default();
        format!(
            "POST /api/public/v1/calls/{call}/events HTTP/1.1\r\nHost: x\r\n{signature}\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
    };
    // 15 MiB announced, none sent: each answer comes at once, from the headers alone.
    let cases = [
        (event_head(&call, None, 15 << 20), 401),
        (
            event_head(
                &uuid::Uuid::new_v4().to_string(),
                Some("ab".repeat(32)),
                15 << 20,
            ),
            404,
        ),
        (event_head(&call, Some("ab".repeat(32)), 15 << 20), 413),
    ];
    for (head, expected) in cases {
        let mut stream = connect_from("127.0.0.1", &node.root, head.as_bytes())
            .await
            .unwrap();
        let (status, body) = answer(&mut stream, Duration::from_secs(3))
            .await
            .expect("an answer before the body");
        assert_eq!(status, expected, "{body}");
    }
    // A signed event over 64 KiB, sent whole: 413 and nothing applied.
    let body = serde_json::to_vec(
        &json!({ "event": "call.ended", "outcome": "completed", "padding": "x".repeat(70_000) }),
    )
    .unwrap();
    let signature = pacer::webhooks::signature::sign_call_event(SECRET, now, &call, &body);
    let reply = node
        .client
        .post(format!("{}/calls/{call}/events", node.base))
        .header("X-Pacer-Timestamp", now.to_string())
        .header("X-Pacer-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);
}
