//! Calling contacts again through the API: a retry by outcome, a callback.

use pacer::domain::DialOutcome;
use serde_json::json;

use crate::helpers::{Backend, at, on_both_backends, phone, spawn_app};

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

async fn a_callback_goes_out_at_the_next_legal_instant_unless_listed_meanwhile(backend: Backend) {
    let app = crate::helpers::spawn_app_on(backend.store(), at("2026-11-30T14:00:00Z")).await;
    // 09:00 in New York.
    let (late, listed) = ("+12125550100", "+12125550101");
    let body = json!({
        "name": "callbacks", "agent_id": "a", "working_days": [1, 2, 3, 4, 5, 6, 7],
        "contacts": [{ "phone_number": late }, { "phone_number": listed }],
    });
    let id = app.create(body).await;
    app.command(&id, "schedule").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 2);
    app.finish_all(DialOutcome::Completed).await;
    let contacts = app.contacts(&id).await;
    let contact_id = |i: usize| contacts[i]["contact_id"].as_str().unwrap().to_owned();
    let path = |i: usize| format!("/batch-calls/{id}/contacts/{}/callback", contact_id(i));

    // 21:30 in New York is past its legal hours: 08:00 the next morning (13:00Z).
    let reply = app
        .post(&path(0), json!({ "at": "2026-12-01T02:30:00Z" }))
        .await
        .expect(200);
    assert_eq!(reply.data()["scheduled_at"], "2026-12-01T13:00:00.000Z");
    assert_eq!(reply.data()["held_reason"], "callback_pending");
    assert_eq!(app.campaign(&id).await["status"], "active");
    let reply = app
        .post(&path(1), json!({ "at": "2026-11-30T20:00:00Z" }))
        .await
        .expect(200);
    assert_eq!(reply.data()["scheduled_at"], "2026-11-30T20:00:00.000Z");
    // Listed meanwhile: skipped when its callback falls due.
    app.post("/dnc", json!({ "entries": [{ "phone_number": listed }] }))
        .await
        .expect(200);
    app.advance_to(at("2026-11-30T20:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 2);
    app.advance_to(at("2026-12-01T12:59:59Z")).await;
    assert_eq!(app.dialer.n_placed(), 2);
    app.advance_to(at("2026-12-01T13:00:00Z")).await;
    let placed = app.dialer.placed();
    assert_eq!(placed.len(), 3);
    assert_eq!(placed[2].call.phone.as_str(), late);
    assert_eq!(placed[2].call.attempt, 2);
    let contacts = app.contacts(&id).await;
    assert_eq!(contacts[1]["status"], "skipped");
    assert_eq!(contacts[1]["skip_reason"], "dnc");

    // Bad input: a time too far ahead, a contact of no campaign, a draft's contact.
    let reply = app
        .post(&path(0), json!({ "at": "2027-03-01T00:00:00Z" }))
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "at");
    let unknown = format!(
        "/batch-calls/{id}/contacts/{}/callback",
        uuid::Uuid::new_v4()
    );
    app.post(&unknown, json!({ "at": "2026-12-01T15:00:00Z" }))
        .await
        .expect(404);
    let draft = app.create_campaign(1, json!({})).await;
    let first = app.contacts(&draft).await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app
        .post(
            &format!("/batch-calls/{draft}/contacts/{first}/callback"),
            json!({ "at": "2026-12-01T15:00:00Z" }),
        )
        .await
        .expect(409);
    assert_eq!(reply.body["error"]["details"]["current_status"], "draft");
}

on_both_backends!(
    a_retry_calls_the_chosen_outcomes_again_with_their_next_attempt,
    a_callback_goes_out_at_the_next_legal_instant_unless_listed_meanwhile,
);
