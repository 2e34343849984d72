//! Calling final contacts again through the API: a retry by outcome.

use pacer::domain::DialOutcome;
use serde_json::json;

use crate::helpers::{Backend, on_both_backends, phone, spawn_app};

async fn a_retry_calls_the_chosen_outcomes_again_with_their_next_attempt(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.start_campaign(3, 3).await;
    app.dialer.finish(&phone(0), DialOutcome::NoAnswer);
    app.dialer.finish(&phone(1), DialOutcome::Busy);
    app.dialer.finish(&phone(2), DialOutcome::Completed);
    app.tick().await;
    assert_eq!(app.campaign(&id).await["status"], "completed");
    let path = format!("/batch-calls/{id}/retry");

    for (body, field) in [
        (json!({ "outcomes": ["nope"] }), "outcomes[0]"),
        (json!({ "outcomes": [] }), "outcomes"),
    ] {
        let reply = app.post(&path, body).await.expect(422);
        assert_eq!(reply.error_field(), field);
    }
    let reply = app
        .post(&path, json!({ "outcomes": ["busy"] }))
        .await
        .expect(200);
    assert_eq!(reply.data()["requeued_count"], 1);
    assert_eq!(reply.data()["status"], "active");
    app.tick().await;
    let placed: Vec<(String, u32)> = app
        .dialer
        .placed()
        .iter()
        .map(|placed| (placed.call.phone.as_str().to_owned(), placed.call.attempt))
        .collect();
    assert_eq!(
        placed[3..],
        [(phone(1), 2)],
        "attempt 2: a new idempotency key"
    );
    app.finish_all(DialOutcome::Completed).await;
    // The default outcomes: no answer, busy, failed.
    let reply = app.post(&path, json!({})).await.expect(200);
    assert_eq!(reply.data()["requeued_count"], 1);
    app.tick().await;
    assert_eq!(app.dialer.placed()[4].call.attempt, 2);
    app.finish_all(DialOutcome::Completed).await;
    let campaign = app.campaign(&id).await;
    assert_eq!(campaign["status"], "completed");
    assert_eq!(campaign["completed"], 3);
    assert_eq!(campaign["called"], 3);

    // Not from a draft or a cancelled campaign.
    let draft = app.create_campaign(1, json!({})).await;
    let reply = app
        .post(&format!("/batch-calls/{draft}/retry"), json!({}))
        .await
        .expect(409);
    assert_eq!(reply.body["error"]["details"]["current_status"], "draft");
}

on_both_backends!(a_retry_calls_the_chosen_outcomes_again_with_their_next_attempt);
