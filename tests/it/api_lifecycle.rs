//! The campaign lifecycle through the HTTP API: schedule, pause, resume, cancel, complete.

use chrono::Duration;
use pacer::domain::DialOutcome;
use serde_json::json;

use crate::helpers::{Backend, at, every_day, monday_8am, phone, spawn_app};

async fn pausing_an_active_campaign_stops_new_calls_and_lets_placed_calls_finish(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app
        .create_campaign(
            6,
            json!({ "working_days": [1,2,3,4,5,6,7], "max_concurrent_calls": 2 }),
        )
        .await;
    let scheduled = app.command(&id, "schedule").await.expect(200);
    assert_eq!(scheduled.data()["status"], "scheduled");
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 2);
    assert_eq!(app.campaign(&id).await["status"], "active");

    let paused = app.command(&id, "pause").await.expect(200);
    assert_eq!(paused.data()["status"], "paused");
    assert_eq!(paused.data()["in_progress"], 2);
    let n_placed_at_pause = app.dialer.n_placed();

    // The calls already placed run to their end and are recorded …
    assert_eq!(app.finish_all(DialOutcome::Completed).await, 2);
    let campaign = app.campaign(&id).await;
    assert_eq!(
        (
            campaign["completed"].as_u64(),
            campaign["in_progress"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(campaign["pending"], 4);
    // … and no new call is placed, however long the pause lasts.
    for _ in 0..5 {
        app.advance(Duration::hours(6)).await;
    }
    assert_eq!(app.dialer.n_placed(), n_placed_at_pause);
    assert_eq!(app.campaign(&id).await["status"], "paused");
}

async fn pausing_a_draft_is_409_with_its_status_and_a_second_pause_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(1, every_day()).await;
    let reply = app.command(&id, "pause").await.expect(409);
    assert_eq!(reply.error_code(), "invalid_state");
    assert_eq!(reply.body["error"]["details"]["current_status"], "draft");
    assert_eq!(
        reply.body["error"]["details"]["allowed_from"],
        json!(["scheduled", "active"])
    );

    // A draft can be edited, again and again.
    for name in ["first", "second"] {
        let edited = app
            .patch(&format!("/batch-calls/{id}"), json!({ "name": name }))
            .await
            .expect(200);
        assert_eq!(edited.data()["name"], name);
        assert_eq!(edited.data()["status"], "draft");
    }
    app.command(&id, "schedule").await.expect(200);
    app.command(&id, "pause").await.expect(200);
    let again = app.command(&id, "pause").await.expect(409);
    assert_eq!(again.body["error"]["details"]["current_status"], "paused");
    assert_eq!(
        app.command(&id, "schedule").await.expect(409).error_code(),
        "invalid_state"
    );
}

async fn resuming_before_the_start_goes_back_to_scheduled(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(3, json!({ "working_days": [1,2,3,4,5,6,7], "schedule_type": "scheduled", "scheduled_at": "2026-12-01T10:00:00Z" })).await;
    app.command(&id, "schedule").await.expect(200);
    app.command(&id, "pause").await.expect(200);
    let resumed = app.command(&id, "resume").await.expect(200);
    assert_eq!(resumed.data()["status"], "scheduled");
    assert!(resumed.data()["resumed_at"].is_string());
    app.tick().await;
    assert_eq!(
        app.dialer.n_placed(),
        0,
        "nothing is called before the start"
    );
    app.advance_to(at("2026-12-01T10:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 3);
    assert_eq!(app.campaign(&id).await["status"], "active");
}

async fn resuming_after_the_start_goes_active_and_continues_without_a_burst(backend: Backend) {
    let app = spawn_app(backend).await;
    // 09:00–17:00 with 8 calls per day: one slot an hour.
    let id = app
        .create_campaign(
            20,
            json!({ "start_time": "09:00", "end_time": "17:00", "max_calls_per_day": 8 }),
        )
        .await;
    app.command(&id, "schedule").await.expect(200);
    app.advance_to(at("2026-11-30T09:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 1);
    app.finish_all(DialOutcome::Completed).await;
    app.advance_to(at("2026-11-30T09:30:00Z")).await;
    app.command(&id, "pause").await.expect(200);

    // Four slots (10:00 … 13:00) pass while paused.
    app.advance_to(at("2026-11-30T13:30:00Z")).await;
    let resumed = app.command(&id, "resume").await.expect(200);
    assert_eq!(resumed.data()["status"], "active");
    app.tick().await;
    assert_eq!(
        app.dialer.n_placed(),
        1,
        "the missed slots are not made up in a burst"
    );

    let contacts = app.contacts(&id).await;
    assert_eq!(contacts[1]["scheduled_at"], "2026-11-30T14:00:00.000Z");
    assert_eq!(contacts[2]["scheduled_at"], "2026-11-30T15:00:00.000Z");
    assert_eq!(contacts[4]["scheduled_at"], "2026-12-01T09:00:00.000Z");

    app.advance_to(at("2026-11-30T14:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 2);
    app.advance_to(at("2026-11-30T14:30:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 2);
}

async fn concurrency_never_exceeds_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.start_campaign(10, 3).await;
    for step in 0..10 {
        let running = app.dialer.running();
        assert!(
            running.len() <= 3,
            "step {step}: {} calls running",
            running.len()
        );
        if running.is_empty() {
            break;
        }
        app.dialer
            .finish(running[0].phone.as_str(), DialOutcome::Completed);
        app.tick().await;
        let campaign = app.campaign(&id).await;
        assert!(campaign["in_progress"].as_u64().unwrap() <= 3);
    }
    let campaign = app.campaign(&id).await;
    assert_eq!(campaign["status"], "completed");
    assert_eq!(campaign["completed"], 10);
    assert!(campaign["completed_at"].is_string());
    assert_eq!(app.dialer.n_placed(), 10);
}

async fn retries_happen_only_for_retry_outcomes_and_only_up_to_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app
        .create_campaign(
            4,
            json!({ "working_days": [1,2,3,4,5,6,7], "retry_failed": true, "max_retry_attempts": 2, "retry_delay_minutes": 30 }),
        )
        .await;
    app.command(&id, "schedule").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 4);
    app.dialer.finish(&phone(0), DialOutcome::Completed);
    app.dialer.finish(&phone(1), DialOutcome::Voicemail);
    app.dialer.finish(&phone(2), DialOutcome::NoAnswer);
    app.dialer.finish(&phone(3), DialOutcome::Busy);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 4, "retries wait for their delay");

    let contacts = app.contacts(&id).await;
    assert_eq!(contacts[2]["status"], "scheduled");
    assert_eq!(contacts[2]["call_status"], "no_answer");
    assert_eq!(contacts[2]["scheduled_at"], "2026-11-30T08:30:00.000Z");

    app.advance(Duration::minutes(29)).await;
    assert_eq!(app.dialer.n_placed(), 4);
    app.advance(Duration::minutes(1)).await;
    assert_eq!(
        app.dialer.n_placed(),
        6,
        "the two failed contacts are called again"
    );
    app.finish_all(DialOutcome::Failed).await;
    app.advance(Duration::minutes(30)).await;
    assert_eq!(app.dialer.n_placed(), 8, "second retry");
    app.finish_all(DialOutcome::NoAnswer).await;
    app.advance(Duration::hours(5)).await;
    assert_eq!(app.dialer.n_placed(), 8, "two retries at most");

    let campaign = app.campaign(&id).await;
    assert_eq!(campaign["status"], "completed");
    assert_eq!(
        (campaign["completed"].as_u64(), campaign["failed"].as_u64()),
        (Some(2), Some(2))
    );
    let contacts = app.contacts(&id).await;
    let attempts: Vec<_> = contacts
        .iter()
        .map(|contact| contact["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 1, 3, 3]);
    assert_eq!(contacts[3]["status"], "failed");
}

async fn cancelling_ends_pending_contacts_and_lets_running_calls_finish(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.start_campaign(5, 2).await;
    let cancelled = app.command(&id, "cancel").await.expect(200);
    assert_eq!(cancelled.data()["status"], "cancelled");
    assert_eq!(cancelled.data()["cancelled"], 3);
    assert_eq!(cancelled.data()["in_progress"], 2);
    app.finish_all(DialOutcome::Completed).await;
    app.advance(Duration::days(1)).await;
    assert_eq!(app.dialer.n_placed(), 2);
    let campaign = app.campaign(&id).await;
    assert_eq!(
        (
            campaign["completed"].as_u64(),
            campaign["cancelled"].as_u64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(campaign["status"], "cancelled");
    assert_eq!(
        app.command(&id, "resume").await.expect(409).error_code(),
        "invalid_state"
    );
    // Terminal campaigns can be deleted; then they are gone.
    app.request(
        reqwest::Method::DELETE,
        &format!("/batch-calls/{id}"),
        crate::helpers::ACME_KEY,
        None,
    )
    .await
    .expect(200);
    app.get(&format!("/batch-calls/{id}")).await.expect(404);
    // Commands on it are refused as for any unknown campaign, whatever its actor was doing.
    app.command(&id, "pause").await.expect(404);
    app.request(
        reqwest::Method::PATCH,
        &format!("/batch-calls/{id}"),
        crate::helpers::ACME_KEY,
        Some(json!({ "agent_id": "agent_2" })),
    )
    .await
    .expect(404);
}

async fn active_campaigns_cannot_be_deleted_and_bulk_delete_reports_each_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let draft = app.create_campaign(1, every_day()).await;
    let active = app.create_campaign(1, every_day()).await;
    app.command(&active, "schedule").await.expect(200);
    let reply = app
        .post(
            "/batch-calls/bulk-delete",
            json!({ "ids": [draft, active, "batch_nope"] }),
        )
        .await
        .expect(200);
    assert_eq!(reply.data()["deleted_count"], 1);
    assert_eq!(reply.data()["deleted_ids"], json!([draft]));
    assert_eq!(reply.data()["failed_ids"], json!([active, "batch_nope"]));
    app.get(&format!("/batch-calls/{active}")).await.expect(200);
}

async fn contacts_added_to_an_active_campaign_are_queued_and_called(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.start_campaign(1, 5).await;
    let reply = app
        .post(
            &format!("/batch-calls/{id}/contacts"),
            json!({ "contacts": [
                { "phone_number": "+15550001111" },
                { "phone_number": "not a number" },
                { "phone_number": phone(0) },
                { "phone_number": "+15550002222", "custom_fields": { "plan": "gold" } },
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(reply.data()["added_count"], 2);
    assert_eq!(reply.data()["failed_count"], 2);
    let errors = reply.data()["errors"].as_array().unwrap();
    assert_eq!(errors[0]["field"], "contacts[1].phone_number");
    assert_eq!(errors[1]["index"], 2);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 3);
    let gold = app
        .dialer
        .placed()
        .into_iter()
        .find(|placed| placed.call.phone.as_str() == "+15550002222")
        .unwrap();
    assert_eq!(
        gold.call.variables.get("plan").map(String::as_str),
        Some("gold")
    );
    assert_eq!(app.campaign(&id).await["total_contacts"], 3);
}

async fn listing_filters_by_status_and_agent_and_paginates(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for agent in ["a", "b", "a"] {
        ids.push(
            app.create_campaign(
                1,
                json!({ "agent_id": agent, "working_days": [1,2,3,4,5,6,7] }),
            )
            .await,
        );
    }
    app.command(&ids[0], "schedule").await.expect(200);
    app.tick().await;
    let running = app.get("/batch-calls?status=running").await.expect(200);
    assert_eq!(running.body["pagination"]["total"], 1);
    assert_eq!(running.data()[0]["id"], ids[0]);
    let by_agent = app.get("/batch-calls?agent_id=a&limit=1").await.expect(200);
    assert_eq!(
        by_agent.body["pagination"],
        json!({ "total": 2, "limit": 1, "offset": 0, "has_more": true })
    );
    assert_eq!(by_agent.data()[0]["id"], ids[2], "newest first");
    let contacts = app
        .get(&format!(
            "/batch-calls/{}/contacts?status=in_progress",
            ids[0]
        ))
        .await
        .expect(200);
    assert_eq!(contacts.body["pagination"]["total"], 1);
    assert_eq!(contacts.data()[0]["attempts"], 1);
}

async fn timers_pace_a_campaign_to_completion_on_the_system_clock(backend: Backend) {
    let dialer = std::sync::Arc::new(crate::helpers::InstantDialer::default());
    let (base, client) = crate::helpers::spawn_real_time_app(backend, dialer).await;
    // 864,000 calls per day over the whole day: one slot every 100 ms.
    let body = json!({
        "name": "real time", "agent_id": "a", "working_days": [1,2,3,4,5,6,7], "max_calls_per_day": 864_000,
        "contacts": (0..8).map(|i| json!({ "phone_number": phone(i) })).collect::<Vec<_>>(),
    });
    let send = crate::helpers::send_json;
    let created = send(client.post(format!("{base}/batch-calls")).json(&body)).await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    send(client.post(format!("{base}/batch-calls/{id}/schedule"))).await;
    // Bounded wait for the dispatcher's own timers (not a timing assertion): at most 10 s.
    let mut status = String::new();
    for _ in 0..200 {
        let campaign = send(client.get(format!("{base}/batch-calls/{id}"))).await;
        status = campaign["data"]["status"].as_str().unwrap().to_owned();
        if status == "completed" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "completed");
    let contacts = send(client.get(format!("{base}/batch-calls/{id}/contacts"))).await;
    let called_at: Vec<i64> = contacts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|contact| {
            contact["called_at"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        })
        .map(|instant| instant.timestamp_millis())
        .collect();
    // The slots are the 100 ms grid from local midnight: one call at most in each (a call
    // that starts late in its slot may be followed closely by the next slot's call).
    let slots: std::collections::HashSet<i64> = called_at.iter().map(|ms| ms / 100).collect();
    assert_eq!(
        slots.len(),
        called_at.len(),
        "two calls in one slot: {called_at:?}"
    );
}

async fn no_call_starts_after_the_pause_response_while_calls_flow(backend: Backend) {
    let dialer = std::sync::Arc::new(crate::helpers::InstantDialer::default());
    let (base, client) = crate::helpers::spawn_real_time_app(backend, dialer.clone()).await;
    let send = crate::helpers::send_json;
    let mut called_before_pause = Vec::new();
    for trial in 0..10u64 {
        let body = json!({
            "name": "flowing", "agent_id": "a", "working_days": [1,2,3,4,5,6,7], "max_concurrent_calls": 2,
            "contacts": (0..20_000).map(|i| json!({ "phone_number": phone(i) })).collect::<Vec<_>>(),
        });
        let id = send(client.post(format!("{base}/batch-calls")).json(&body)).await["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let n_before = dialer.placed_at.lock().len();
        send(client.post(format!("{base}/batch-calls/{id}/schedule"))).await;
        // Pause at a different moment of the flow in each trial (bounded: at most 27 ms).
        actix_web::rt::time::sleep(std::time::Duration::from_millis(3 * trial)).await;
        let paused = send(client.post(format!("{base}/batch-calls/{id}/pause"))).await;
        let answered = std::time::Instant::now();
        assert_eq!(paused["data"]["status"], "paused", "trial {trial}");
        let called_at_pause = paused["data"]["called"].as_u64().unwrap();
        assert!(
            called_at_pause < 20_000,
            "trial {trial}: the campaign ended before the pause"
        );
        // Give any stray dispatch a chance to show itself (bounded wait, not a timing assertion).
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        let placed = dialer.placed_at.lock()[n_before..].to_vec();
        assert_eq!(
            placed.len() as u64,
            called_at_pause,
            "trial {trial}: every claimed call was placed, no other"
        );
        assert!(
            placed.iter().all(|&at| at <= answered),
            "trial {trial}: a call started after the pause response"
        );
        let campaign = send(client.get(format!("{base}/batch-calls/{id}"))).await;
        assert_eq!(
            campaign["data"]["called"].as_u64(),
            Some(called_at_pause),
            "trial {trial}"
        );
        called_before_pause.push(called_at_pause);
    }
    let n_mid_flow = called_before_pause.iter().filter(|&&n| n > 0).count();
    assert!(
        n_mid_flow >= 5,
        "most pauses must land while calls flow: {called_before_pause:?}"
    );
}

async fn more_campaigns_falling_due_at_once_than_steps_at_the_store_all_place_and_complete(
    backend: Backend,
) {
    // The API's rate limit (on real time) out of the way of 1 200 requests. The tests' 500 ms
    // leases of 600 campaigns, renewed on real time, can lapse while a fresh Redis loads its
    // scripts and be taken again mid-test: every outcome is recorded all the same.
    let mut settings = crate::helpers::test_settings();
    settings.rate_limit_per_sec = 1e6;
    settings.rate_limit_burst = 1_000_000;
    let app = crate::helpers::spawn_app_with(backend.store(), monday_8am(), &settings).await;
    // More campaigns than the node lets be at their store work at once, all starting at one
    // instant: some steps wait for a turn, and each still gets one.
    let n = pacer::actors::STEPS_AT_ONCE + 88;
    let start = json!({ "working_days": [1,2,3,4,5,6,7], "schedule_type": "scheduled", "scheduled_at": "2026-12-01T10:00:00Z" });
    for _ in 0..n {
        let id = app.create_campaign(1, start.clone()).await;
        app.command(&id, "schedule").await.expect(200);
    }
    assert_eq!(app.dialer.n_placed(), 0);
    app.advance_to(at("2026-12-01T10:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), n);
    assert_eq!(app.finish_all(DialOutcome::Completed).await, n);
    let completed = app
        .get("/batch-calls?status=completed&limit=1")
        .await
        .expect(200);
    assert_eq!(completed.body["pagination"]["total"], n);
}

crate::helpers::on_both_backends!(
    pausing_an_active_campaign_stops_new_calls_and_lets_placed_calls_finish,
    pausing_a_draft_is_409_with_its_status_and_a_second_pause_too,
    resuming_before_the_start_goes_back_to_scheduled,
    resuming_after_the_start_goes_active_and_continues_without_a_burst,
    concurrency_never_exceeds_the_limit,
    retries_happen_only_for_retry_outcomes_and_only_up_to_the_limit,
    cancelling_ends_pending_contacts_and_lets_running_calls_finish,
    active_campaigns_cannot_be_deleted_and_bulk_delete_reports_each_id,
    contacts_added_to_an_active_campaign_are_queued_and_called,
    listing_filters_by_status_and_agent_and_paginates,
    timers_pace_a_campaign_to_completion_on_the_system_clock,
    no_call_starts_after_the_pause_response_while_calls_flow,
    a_pause_sent_while_a_dial_request_is_held_is_answered_after_it,
    more_campaigns_falling_due_at_once_than_steps_at_the_store_all_place_and_complete,
);

/// A dialer whose requests wait at a barrier: `place` is entered, then waits until the barrier
/// opens, then the request counts as sent.
#[derive(Debug)]
struct BarrierDialer {
    entered: tokio::sync::Notify,
    n_entered: std::sync::atomic::AtomicUsize,
    barrier: tokio::sync::Semaphore,
    sent_at: parking_lot::Mutex<Vec<std::time::Instant>>,
}

#[async_trait::async_trait]
impl pacer::dialer::Dialer for BarrierDialer {
    async fn place(
        &self,
        _call: pacer::store::ClaimedCall,
        _sink: pacer::dialer::OutcomeSink,
    ) -> Result<(), pacer::dialer::DialError> {
        self.n_entered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entered.notify_one();
        // Closed: open for good.
        let _ = self.barrier.acquire().await;
        self.sent_at.lock().push(std::time::Instant::now());
        Ok(())
    }
}

/// The pause is answered only once the dispatch step under way is over: a pause sent while a
/// dial request is held at the barrier waits for it, so every request it let through was sent
/// before the answer, and none starts after. (Were the pause run beside the step, it would be
/// answered while the request is held, and the request would be sent after the answer.)
async fn a_pause_sent_while_a_dial_request_is_held_is_answered_after_it(backend: Backend) {
    let dialer = std::sync::Arc::new(BarrierDialer {
        entered: tokio::sync::Notify::new(),
        n_entered: std::sync::atomic::AtomicUsize::new(0),
        barrier: tokio::sync::Semaphore::new(0),
        sent_at: parking_lot::Mutex::new(Vec::new()),
    });
    let components = pacer::startup::Components {
        store: backend.store(),
        clock: std::sync::Arc::new(pacer::clock::ManualClock::new(monday_8am())),
        dialer: dialer.clone(),
        gate: None,
    };
    let app = crate::helpers::start_app(&crate::helpers::test_settings(), components).await;
    let (directory, base) = (app.directory.clone(), app.base.clone());
    let client = reqwest::Client::new();
    let send = crate::helpers::send_json;
    let body = json!({
        "name": "held", "agent_id": "a", "working_days": [1,2,3,4,5,6,7], "max_concurrent_calls": 3,
        "contacts": (0..10).map(|i| json!({ "phone_number": phone(i) })).collect::<Vec<_>>(),
    });
    let id = send(client.post(format!("{base}/batch-calls")).json(&body)).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let schedule = actix_web::rt::spawn(send(
        client.post(format!("{base}/batch-calls/{id}/schedule")),
    ));
    let step = actix_web::rt::spawn(async move { directory.dispatch_all().await });
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        dialer.entered.notified(),
    )
    .await
    .expect("a dial request reaches the barrier");
    let pause = {
        let request = client.post(format!("{base}/batch-calls/{id}/pause"));
        actix_web::rt::spawn(async move {
            let answer = send(request).await;
            (answer, std::time::Instant::now())
        })
    };
    // A bounded wait that lets a pause answered beside the step show itself (the assertions
    // below hold whatever this wait is).
    for _ in 0..50 {
        if pause.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    dialer.barrier.close();
    let (paused, answered) = pause.await.unwrap();
    schedule.await.unwrap();
    step.await.unwrap();
    assert_eq!(paused["data"]["status"], "paused");
    let sent = dialer.sent_at.lock().clone();
    let n_entered = dialer.n_entered.load(std::sync::atomic::Ordering::SeqCst);
    assert!(!sent.is_empty());
    assert_eq!(sent.len(), n_entered, "every request entered was sent");
    assert!(
        sent.iter().all(|&at| at <= answered),
        "a dial request was sent after the pause response"
    );
    assert_eq!(
        paused["data"]["called"].as_u64(),
        Some(sent.len() as u64),
        "the pause answers with every call placed before it"
    );
    // And nothing more, however often the campaign is looked at.
    for _ in 0..3 {
        send(client.get(format!("{base}/batch-calls/{id}"))).await;
    }
    assert_eq!(
        dialer.n_entered.load(std::sync::atomic::Ordering::SeqCst),
        n_entered
    );
}

/// The lifecycle through the API on a Redis Cluster (the store's own checks run there too, in
/// `store_conformance`): commands, dispatch and completion across slots.
mod redis_cluster {
    use crate::helpers::Backend::RedisCluster;

    #[actix_web::test]
    async fn pausing_an_active_campaign_stops_new_calls_and_lets_placed_calls_finish() {
        super::pausing_an_active_campaign_stops_new_calls_and_lets_placed_calls_finish(
            RedisCluster,
        )
        .await;
    }

    #[actix_web::test]
    async fn resuming_after_the_start_goes_active_and_continues_without_a_burst() {
        super::resuming_after_the_start_goes_active_and_continues_without_a_burst(RedisCluster)
            .await;
    }

    #[actix_web::test]
    async fn cancelling_ends_pending_contacts_and_lets_running_calls_finish() {
        super::cancelling_ends_pending_contacts_and_lets_running_calls_finish(RedisCluster).await;
    }

    #[actix_web::test]
    async fn a_pause_sent_while_a_dial_request_is_held_is_answered_after_it() {
        super::a_pause_sent_while_a_dial_request_is_held_is_answered_after_it(RedisCluster).await;
    }
}
