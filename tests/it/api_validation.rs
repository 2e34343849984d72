//! Bad input gets the JSON error envelope with the field named, and changes nothing.

use pacer::domain::DialOutcome;
use serde_json::{Value, json};

use crate::helpers::{BODY_LIMIT, Backend, TestApp, every_day, spawn_app};

fn valid_campaign() -> Value {
    json!({ "name": "c", "agent_id": "a", "contacts": [{ "phone_number": "+14155550100" }, { "phone_number": "+14155550101" }] })
}

async fn n_campaigns(app: &TestApp) -> u64 {
    app.get("/batch-calls").await.expect(200).body["pagination"]["total"]
        .as_u64()
        .unwrap()
}

async fn check_rejected(app: &TestApp, change: Value, field: &str) {
    let mut body = valid_campaign();
    body.as_object_mut()
        .unwrap()
        .extend(change.as_object().unwrap().clone());
    let reply = app.post("/batch-calls", body).await.expect(422);
    assert_eq!(reply.error_code(), "validation_error", "{}", reply.body);
    assert_eq!(reply.error_field(), field, "{}", reply.body);
    assert!(reply.body["meta"]["request_id"].is_string());
}

async fn bad_fields_on_create_are_named_and_nothing_is_created(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (
            json!({ "contacts": [{ "phone_number": "+14155550100" }, { "phone_number": "555-0101" }] }),
            "contacts[1].phone_number",
        ),
        (
            json!({ "contacts": [{ "first_name": "Ada" }] }),
            "contacts[0].phone_number",
        ),
        (json!({ "timezone": "Mars/Olympus_Mons" }), "timezone"),
        (json!({ "start_time": "25:00" }), "start_time"),
        (
            json!({ "start_time": "17:00", "end_time": "09:00" }),
            "end_time",
        ),
        (json!({ "working_days": [1, 8] }), "working_days[1]"),
        (json!({ "working_days": [] }), "working_days"),
        (json!({ "max_concurrent_calls": 0 }), "max_concurrent_calls"),
        (
            json!({ "max_concurrent_calls": 101 }),
            "max_concurrent_calls",
        ),
        (
            json!({ "max_concurrent_calls": "ten" }),
            "max_concurrent_calls",
        ),
        (json!({ "max_calls_per_day": 0 }), "max_calls_per_day"),
        (json!({ "max_retry_attempts": 4 }), "max_retry_attempts"),
        (json!({ "schedule_type": "scheduled" }), "scheduled_at"),
        (
            json!({ "phone_rotation_strategy": "shuffle" }),
            "phone_rotation_strategy",
        ),
        (json!({ "name": "" }), "name"),
    ];
    for (change, field) in cases {
        check_rejected(&app, change, field).await;
    }
    let mut missing_name = valid_campaign();
    missing_name.as_object_mut().unwrap().remove("name");
    assert_eq!(
        app.post("/batch-calls", missing_name)
            .await
            .expect(422)
            .error_field(),
        "name"
    );
    assert_eq!(n_campaigns(&app).await, 0);
}

async fn malformed_json_is_400_and_an_oversized_body_is_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let malformed = app
        .client
        .post(format!("{}/batch-calls", app.base))
        .bearer_auth(crate::helpers::ACME_KEY)
        .header("content-type", "application/json")
        .body("{\"name\": \"x\",")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_error");

    let contacts: Vec<Value> = (0..BODY_LIMIT / 20)
        .map(|i| json!({ "phone_number": format!("+1555{i:07}") }))
        .collect();
    let oversized = app
        .post(
            "/batch-calls",
            json!({ "name": "big", "agent_id": "a", "contacts": contacts }),
        )
        .await
        .expect(413);
    assert_eq!(oversized.error_code(), "payload_too_large");
    assert_eq!(n_campaigns(&app).await, 0);
}

async fn a_bad_patch_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.start_campaign(3, 1).await;
    app.finish_all(DialOutcome::Completed).await;
    assert_eq!(app.campaign(&id).await["status"], "active");
    let before = app.campaign(&id).await;
    let contacts_before = app.contacts(&id).await;
    for (patch, field) in [
        (
            json!({ "end_time": "08:00", "start_time": "09:00" }),
            "end_time",
        ),
        (json!({ "timezone": "Nowhere/City" }), "timezone"),
        (json!({ "max_calls_per_day": -1 }), "max_calls_per_day"),
        (json!({ "working_days": [0] }), "working_days[0]"),
    ] {
        let reply = app
            .patch(&format!("/batch-calls/{id}"), patch)
            .await
            .expect(422);
        assert_eq!(reply.error_field(), field);
    }
    assert_eq!(app.campaign(&id).await, before);
    assert_eq!(app.contacts(&id).await, contacts_before);
}

async fn bad_query_parameters_and_ids_get_clear_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.get("/batch-calls?limit=0")
            .await
            .expect(422)
            .error_field(),
        "limit"
    );
    assert_eq!(
        app.get("/batch-calls?limit=101")
            .await
            .expect(422)
            .error_field(),
        "limit"
    );
    assert_eq!(
        app.get("/batch-calls?offset=-1")
            .await
            .expect(422)
            .error_field(),
        "offset"
    );
    assert_eq!(
        app.get("/batch-calls?status=sleeping")
            .await
            .expect(422)
            .error_field(),
        "status"
    );
    assert_eq!(
        app.get("/batch-calls/not-a-uuid")
            .await
            .expect(404)
            .error_code(),
        "not_found"
    );
    assert_eq!(
        app.get("/no/such/route").await.expect(404).error_code(),
        "not_found"
    );
    let id = app.create_campaign(0, every_day()).await;
    let reply = app.command(&id, "schedule").await.expect(422);
    assert_eq!(reply.error_field(), "contacts");
}

crate::helpers::on_both_backends!(
    bad_fields_on_create_are_named_and_nothing_is_created,
    malformed_json_is_400_and_an_oversized_body_is_413,
    a_bad_patch_changes_nothing,
    bad_query_parameters_and_ids_get_clear_errors,
);
