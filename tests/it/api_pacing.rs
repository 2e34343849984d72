//! Pacing through the HTTP API: PATCH redistributes what is not finished, the daily cap holds
//! per local day with retries counted, and the next call obeys the new rules.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use pacer::domain::DialOutcome;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, at, spawn_app};

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// Checks every waiting contact is due inside `[start_hour, end_hour)` local time on a working
/// day of `days` with at most `cap` on one local day.
fn assert_due_times(
    contacts: &[Value],
    zone: Tz,
    (start_hour, end_hour): (u32, u32),
    days: &[u32],
    cap: usize,
) {
    let mut per_day: HashMap<NaiveDate, usize> = HashMap::new();
    let waiting: Vec<_> = contacts
        .iter()
        .filter(|contact| contact["status"] == "scheduled")
        .collect();
    assert!(!waiting.is_empty());
    for contact in waiting {
        let local = instant(&contact["scheduled_at"]).with_timezone(&zone);
        assert!(
            (start_hour..end_hour).contains(&local.hour()),
            "{local} outside {start_hour}–{end_hour}"
        );
        assert!(
            days.contains(&local.weekday().number_from_monday()),
            "{local} on a day off"
        );
        *per_day.entry(local.date_naive()).or_default() += 1;
    }
    assert!(
        per_day.values().all(|&n| n <= cap),
        "{per_day:?} over {cap}"
    );
}

/// A campaign of 12 contacts, 09:00–17:00 UTC on weekdays, 8 a day, with one contact completed
/// at 09:00 on Monday; left in `status`.
async fn campaign_with_one_finished_call(app: &TestApp, status: &str) -> String {
    let id = app
        .create_campaign(
            12,
            json!({ "start_time": "09:00", "end_time": "17:00", "max_calls_per_day": 8 }),
        )
        .await;
    app.command(&id, "schedule").await.expect(200);
    app.advance_to(at("2026-11-30T09:00:00Z")).await;
    assert_eq!(app.finish_all(DialOutcome::Completed).await, 1);
    if status == "paused" {
        app.command(&id, "pause").await.expect(200);
    }
    assert_eq!(app.campaign(&id).await["status"], status);
    id
}

async fn check_patch_redistributes_only_unfinished_contacts(backend: Backend, status: &str) {
    let app = spawn_app(backend).await;
    let id = campaign_with_one_finished_call(&app, status).await;
    let before = app.campaign(&id).await;
    let finished_before = app.contacts(&id).await[0].clone();

    // 12:00–14:00 with 4 a day: a slot every 30 minutes; Tuesdays and Thursdays only.
    let patch = json!({ "start_time": "12:00", "end_time": "14:00", "max_calls_per_day": 4, "working_days": [2, 4] });
    let edited = app
        .patch(&format!("/batch-calls/{id}"), patch)
        .await
        .expect(200);
    assert_eq!(edited.data()["status"], status);
    assert_eq!(edited.data()["start_time"], "12:00");

    let contacts = app.contacts(&id).await;
    assert_eq!(
        contacts[0], finished_before,
        "finished contacts never change"
    );
    assert_due_times(&contacts, chrono_tz::UTC, (12, 14), &[2, 4], 4);
    assert_eq!(contacts[1]["scheduled_at"], "2026-12-01T12:00:00.000Z");
    assert_eq!(contacts[2]["scheduled_at"], "2026-12-01T12:30:00.000Z");
    assert_eq!(contacts[5]["scheduled_at"], "2026-12-03T12:00:00.000Z");
    let after = app.campaign(&id).await;
    for counter in [
        "total_contacts",
        "called",
        "completed",
        "failed",
        "pending",
        "in_progress",
        "cancelled",
    ] {
        assert_eq!(after[counter], before[counter], "{counter}");
    }

    if status == "paused" {
        app.command(&id, "resume").await.expect(200);
    }
    // The old rules would call at 10:00 on Monday; the new ones wait for Tuesday 12:00.
    app.advance_to(at("2026-11-30T10:00:00Z")).await;
    app.advance_to(at("2026-12-01T11:59:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 1);
    app.advance_to(at("2026-12-01T12:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 2);
    assert_eq!(app.dialer.placed()[1].placed_at, at("2026-12-01T12:00:00Z"));
}

async fn patching_an_active_campaign_redistributes_unfinished_contacts_and_governs_the_next_call(
    backend: Backend,
) {
    check_patch_redistributes_only_unfinished_contacts(backend, "active").await;
}

async fn patching_a_paused_campaign_redistributes_unfinished_contacts(backend: Backend) {
    check_patch_redistributes_only_unfinished_contacts(backend, "paused").await;
}

async fn patching_a_scheduled_campaign_moves_its_start_and_every_contact(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app
        .create_campaign(6, json!({ "schedule_type": "scheduled", "scheduled_at": "2026-12-01T09:00:00Z", "max_calls_per_day": 3, "start_time": "09:00", "end_time": "12:00" }))
        .await;
    app.command(&id, "schedule").await.expect(200);
    assert_eq!(
        app.contacts(&id).await[0]["scheduled_at"],
        "2026-12-01T09:00:00.000Z"
    );

    // Wall time without an offset is read in the campaign's timezone.
    let patch = json!({ "scheduled_at": "2026-12-02T10:00:00", "timezone": "America/New_York" });
    let edited = app
        .patch(&format!("/batch-calls/{id}"), patch)
        .await
        .expect(200);
    assert_eq!(edited.data()["status"], "scheduled");
    assert_eq!(edited.data()["scheduled_at"], "2026-12-02T15:00:00.000Z");
    let contacts = app.contacts(&id).await;
    let ny = chrono_tz::America::New_York;
    assert_due_times(&contacts, ny, (9, 12), &[1, 2, 3, 4, 5], 3);
    // From 10:00 New York on Wednesday: 10:00 and 11:00 are left that day, then 09:00 Thursday.
    let due: Vec<_> = contacts
        .iter()
        .map(|contact| contact["scheduled_at"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        due[..3],
        [
            "2026-12-02T15:00:00.000Z",
            "2026-12-02T16:00:00.000Z",
            "2026-12-03T14:00:00.000Z"
        ]
    );

    app.advance_to(at("2026-12-01T09:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 0, "the old start no longer applies");
    app.advance_to(at("2026-12-02T15:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 1);
    assert_eq!(app.campaign(&id).await["status"], "active");
}

async fn moving_the_start_of_an_active_campaign_into_the_future_makes_it_wait(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.start_campaign(4, 1).await;
    app.finish_all(DialOutcome::Completed).await;
    assert_eq!(app.dialer.n_placed(), 2);
    let edited = app
        .patch(
            &format!("/batch-calls/{id}"),
            json!({ "scheduled_at": "2026-12-05T08:00:00Z" }),
        )
        .await
        .expect(200);
    assert_eq!(edited.data()["status"], "scheduled");
    app.finish_all(DialOutcome::Completed).await;
    app.advance(Duration::days(1)).await;
    assert_eq!(app.dialer.n_placed(), 2);
    app.advance_to(at("2026-12-05T08:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 3);
}

async fn the_daily_cap_holds_per_local_day_with_retries_counted(backend: Backend) {
    let app = spawn_app(backend).await;
    // Auckland is UTC+13 in December: its local days do not line up with UTC days.
    let id = app
        .create_campaign(
            8,
            json!({
                "timezone": "Pacific/Auckland", "working_days": [1,2,3,4,5,6,7], "max_calls_per_day": 3,
                "retry_failed": true, "max_retry_attempts": 1, "retry_delay_minutes": 60,
            }),
        )
        .await;
    app.command(&id, "schedule").await.expect(200);
    // Walk four local days in 20-minute steps; every call ends no_answer, so each contact is
    // called twice and retries compete with first calls for the cap.
    for _ in 0..(4 * 24 * 3) {
        app.advance(Duration::minutes(20)).await;
        app.finish_all(DialOutcome::NoAnswer).await;
    }
    let zone = chrono_tz::Pacific::Auckland;
    let mut per_day: HashMap<NaiveDate, usize> = HashMap::new();
    for placed in app.dialer.placed() {
        *per_day
            .entry(placed.placed_at.with_timezone(&zone).date_naive())
            .or_default() += 1;
    }
    assert!(per_day.values().all(|&n| n <= 3), "{per_day:?}");
    assert!(
        app.dialer
            .placed()
            .iter()
            .any(|placed| placed.call.attempt == 2),
        "retries were placed"
    );
    let full_days = per_day.values().filter(|&&n| n == 3).count();
    assert!(full_days >= 3, "the cap is used, not starved: {per_day:?}");
}

async fn contacts_left_when_the_window_closes_move_to_the_next_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let fields = json!({ "start_time": "09:00", "end_time": "10:00", "max_concurrent_calls": 1 });
    let id = app.create_campaign(3, fields).await;
    app.command(&id, "schedule").await.expect(200);
    app.advance_to(at("2026-11-30T09:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 1);
    // The one call runs past the window's end; the two others were due at 09:00.
    app.advance_to(at("2026-11-30T10:30:00Z")).await;
    app.finish_all(DialOutcome::Completed).await;
    let contacts = app.contacts(&id).await;
    assert_eq!(contacts[1]["scheduled_at"], "2026-12-01T09:00:00.000Z");
    assert_eq!(contacts[2]["scheduled_at"], "2026-12-01T09:00:00.000Z");
    assert_eq!(app.dialer.n_placed(), 1);
    app.advance_to(at("2026-12-01T09:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 2);
}

/// Claim ahead, place on time: a claim reserves the calls of the slots within its horizon
/// (3 s), each placed at its slot; a pause puts those not yet placed back before it answers.
async fn calls_claimed_ahead_go_at_their_slots_and_a_pause_releases_the_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    // 28 800 a day over 09:00–17:00: a slot a second.
    let fields = json!({
        "start_time": "09:00", "end_time": "17:00", "max_calls_per_day": 28800,
        "max_concurrent_calls": 10, "working_days": [1, 2, 3, 4, 5, 6, 7],
    });
    let id = app.create_campaign(10, fields).await;
    app.command(&id, "schedule").await.expect(200);
    let nine = at("2026-11-30T09:00:00Z");
    app.advance_to(nine).await;
    let in_progress = |contacts: &[Value]| -> Vec<String> {
        contacts
            .iter()
            .filter(|contact| contact["status"] == "in_progress")
            .map(|contact| contact["called_at"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // One call at 09:00, six more claimed with it for the slots of the next six seconds (the
    // claim's horizon).
    assert_eq!(app.dialer.n_placed(), 1);
    let slots: Vec<String> = (0..7)
        .map(|s| format!("2026-11-30T09:00:0{s}.000Z"))
        .collect();
    assert_eq!(in_progress(&app.contacts(&id).await), slots);
    app.advance(Duration::seconds(1)).await;
    let placed: Vec<_> = app.dialer.placed().iter().map(|p| p.placed_at).collect();
    assert_eq!(placed, [nine, nine + Duration::seconds(1)]);
    // The pause puts the five reserved calls back to wait before it answers: none goes after.
    app.command(&id, "pause").await.expect(200);
    assert_eq!(in_progress(&app.contacts(&id).await).len(), 2);
    app.advance(Duration::seconds(10)).await;
    assert_eq!(app.dialer.n_placed(), 2);
    // Resumed, the calls go on from the slot of the moment, none twice.
    app.command(&id, "resume").await.expect(200);
    app.advance(Duration::seconds(3)).await;
    let placed = app.dialer.placed();
    let contacts: std::collections::HashSet<_> = placed.iter().map(|p| p.call.contact_id).collect();
    assert_eq!(contacts.len(), placed.len());
    assert!(placed.len() > 2, "the campaign goes on after the resume");
}

/// With every contact claimed ahead, the outcomes that arrive while calls are still reserved
/// (they wait for the step that places the last of them) are all recorded, and the campaign
/// completes as its last outcome comes.
async fn outcomes_of_calls_claimed_ahead_are_all_recorded_and_the_campaign_completes(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let fields = json!({
        "start_time": "09:00", "end_time": "17:00", "max_calls_per_day": 28800,
        "max_concurrent_calls": 10, "working_days": [1, 2, 3, 4, 5, 6, 7],
    });
    let id = app.create_campaign(3, fields).await;
    app.command(&id, "schedule").await.expect(200);
    app.advance_to(at("2026-11-30T09:00:00Z")).await;
    let statuses = |contacts: Vec<Value>| -> Vec<String> {
        contacts
            .iter()
            .map(|contact| contact["status"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // All three claimed at 09:00, one a second; each ends as soon as it is placed.
    assert_eq!(
        statuses(app.contacts(&id).await),
        ["in_progress", "in_progress", "in_progress"]
    );
    for _ in 0..2 {
        assert_eq!(app.dialer.finish_all(DialOutcome::Completed), 1);
        app.advance(Duration::seconds(1)).await;
    }
    assert_eq!(app.dialer.n_placed(), 3);
    assert_eq!(
        statuses(app.contacts(&id).await),
        ["completed", "completed", "in_progress"],
        "recorded by the time the last call is placed"
    );
    app.finish_all(DialOutcome::Completed).await;
    let campaign = app.get(&format!("/batch-calls/{id}")).await.expect(200);
    assert_eq!(campaign.data()["status"], "completed");
}

/// A campaign with nothing to do for a while (a start tomorrow, a pause) parks: its actor stops,
/// the node keeps its lease, and it is woken before its next claim or by a command.
async fn a_campaign_with_nothing_to_do_parks_and_wakes_on_time_or_on_a_command(backend: Backend) {
    let app = spawn_app(backend).await;
    let fields = json!({ "working_days": [1, 2, 3, 4, 5, 6, 7], "max_calls_per_day": 24 });
    let id = app.create_campaign(4, fields).await;
    let tomorrow = "2026-12-01T08:00:00Z";
    let schedule = json!({ "scheduled_at": tomorrow });
    let path = format!("/batch-calls/{id}/schedule");
    app.post(&path, schedule).await.expect(200);
    app.tick().await;
    assert_eq!(
        (app.directory.n_running(), app.directory.n_parked()),
        (0, 1),
        "waiting a day, the campaign has no actor"
    );
    assert_eq!(app.dialer.n_placed(), 0);
    // Woken before its start; the first call goes at its slot.
    app.advance_to(at(tomorrow)).await;
    assert_eq!(app.dialer.n_placed(), 1);
    assert_eq!(app.dialer.placed()[0].placed_at, at(tomorrow));
    app.finish_all(DialOutcome::Completed).await;
    // Paused with no call in flight, it parks again; a resume wakes it, and it calls on.
    app.command(&id, "pause").await.expect(200);
    app.tick().await;
    assert_eq!(app.directory.n_parked(), 1);
    app.advance(Duration::hours(2)).await;
    assert_eq!(app.dialer.n_placed(), 1, "no call while paused");
    app.command(&id, "resume").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 2);
    assert_eq!(app.directory.n_parked(), 0);
}

crate::helpers::on_both_backends!(
    patching_an_active_campaign_redistributes_unfinished_contacts_and_governs_the_next_call,
    a_campaign_with_nothing_to_do_parks_and_wakes_on_time_or_on_a_command,
    calls_claimed_ahead_go_at_their_slots_and_a_pause_releases_the_rest,
    outcomes_of_calls_claimed_ahead_are_all_recorded_and_the_campaign_completes,
    patching_a_paused_campaign_redistributes_unfinished_contacts,
    patching_a_scheduled_campaign_moves_its_start_and_every_contact,
    moving_the_start_of_an_active_campaign_into_the_future_makes_it_wait,
    the_daily_cap_holds_per_local_day_with_retries_counted,
    contacts_left_when_the_window_closes_move_to_the_next_day,
);
