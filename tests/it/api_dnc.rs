//! The organisation's do-not-call list through the API: its routes, the screen at every claim
//! across campaigns, opt-outs from call events, and the guarantee that no dial request to a
//! listed number starts after the add's answer, on either of two nodes.

use std::time::{Duration, Instant};

use pacer::clock::Clock as _;
use pacer::config::DialerKind;
use pacer::webhooks::signature::sign_call_event;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fakes::{Fake, Node, fresh_prefix, node_settings};
use crate::helpers::{ACME_KEY, Backend, GLOBEX_KEY, at, on_both_backends, spawn_app};

const SECRET: &str = "dialer-secret-0123456789";

async fn webhook_node(backend: Backend, provider: &Fake, prefix: &str) -> Node {
    let mut settings = node_settings(backend, prefix);
    settings.dialer = DialerKind::Webhook;
    settings.dialer_url = Some(provider.url.clone());
    settings.dialer_secret = Some(SECRET.to_owned());
    settings.dialer_backoff_ms = 10;
    settings.max_body_bytes = 16 << 20;
    Node::start(&settings).await
}

fn campaign_of(numbers: &[String], concurrency: u32) -> Value {
    let contacts: Vec<Value> = numbers
        .iter()
        .map(|number| json!({ "phone_number": number }))
        .collect();
    json!({
        "name": "dnc", "agent_id": "agent_1", "contacts": contacts,
        "working_days": [1, 2, 3, 4, 5, 6, 7], "max_concurrent_calls": concurrency,
    })
}

/// The numbers the provider was asked to call for `campaign`, with when each request came.
fn dialled(provider: &Fake, campaign: &str) -> Vec<(String, Instant)> {
    provider
        .received()
        .iter()
        .filter(|request| request.json()["campaign_id"] == campaign)
        .map(|request| {
            let to = request.json()["to"].as_str().unwrap_or_default().to_owned();
            (to, request.at)
        })
        .collect()
}

async fn no_dial_request_starts_after_a_dnc_add_is_answered_on_either_node() {
    let provider = Fake::start(|_, _| {
        (
            200,
            r#"{"outcome":"completed","duration_seconds":1}"#.to_owned(),
        )
    })
    .await;
    let prefix = fresh_prefix();
    let first = webhook_node(Backend::Redis, &provider, &prefix).await;
    let second = webhook_node(Backend::Redis, &provider, &prefix).await;
    let mut mid_flow = 0;
    for trial in 0..8u64 {
        let numbers: Vec<String> = (0..3_000)
            .map(|i| format!("+1555{trial:02}{i:05}"))
            .collect();
        let body = campaign_of(&numbers, 10);
        // A node takes the lease of what it schedules: one campaign dispatched by each.
        let ids = [
            first.start_campaign(&body).await,
            second.start_campaign(&body).await,
        ];
        // Add at a different moment of the flow in each trial (bounded: at most 21 ms), through
        // each node in turn: the other one dispatches a campaign of the same numbers.
        tokio::time::sleep(Duration::from_millis(3 * trial)).await;
        let adder = if trial % 2 == 0 { &first } else { &second };
        let entries = json!({ "entries": [{ "prefix": format!("+1555{trial:02}") }] });
        adder
            .send(Method::POST, "/dnc", ACME_KEY, Some(&entries))
            .await
            .expect(200);
        let answered = Instant::now();
        for (id, node) in ids.iter().zip([&first, &second]) {
            let campaign = node
                .wait_for(id, Duration::from_secs(30), |c| c["status"] == "completed")
                .await;
            let late: Vec<String> = dialled(&provider, id)
                .into_iter()
                .filter(|(_, received)| *received > answered)
                .map(|(to, _)| to)
                .collect();
            assert!(
                late.is_empty(),
                "trial {trial}: {} dial requests after the add's answer",
                late.len()
            );
            let (called, skipped) = (
                campaign["called"].as_u64().unwrap(),
                campaign["skipped"].as_u64().unwrap(),
            );
            assert_eq!(called + skipped, 3_000, "trial {trial}: {campaign}");
            assert_eq!(campaign["completed"], called, "trial {trial}");
            assert_eq!(
                dialled(&provider, id).len() as u64,
                called,
                "trial {trial}: each call placed once"
            );
            if called > 0 && skipped > 0 {
                mid_flow += 1;
            }
        }
    }
    assert!(
        mid_flow >= 8,
        "most adds must land while calls flow: {mid_flow} of 16"
    );
    first.kill().await;
    second.kill().await;
}

/// A signed call event for `call_id`.
fn call_event(node: &Node, call_id: &str, body: &Value) -> reqwest::RequestBuilder {
    let body = serde_json::to_vec(body).unwrap();
    let timestamp = pacer::clock::SystemClock.now().timestamp();
    node.client
        .post(format!("{}/calls/{call_id}/events", node.base))
        .header("X-Pacer-Timestamp", timestamp.to_string())
        .header(
            "X-Pacer-Signature",
            sign_call_event(SECRET, timestamp, call_id, &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
}

async fn an_opt_out_in_one_campaign_stops_the_number_in_every_other(backend: Backend) {
    // The provider takes each call and reports its end later (a call event).
    let provider = Fake::start(|_, _| (200, "{}".to_owned())).await;
    let node = webhook_node(backend, &provider, &fresh_prefix()).await;
    // Numbers no legal floor applies to: the campaigns call at any hour of the run.
    let (opting, other) = ("+447700900101", "+447700900102");
    let first = node
        .start_campaign(&campaign_of(&[opting.to_owned()], 1))
        .await;
    // A second campaign of the same number, waiting in draft.
    let numbers = [opting.to_owned(), other.to_owned()];
    let created = node
        .send(
            Method::POST,
            "/batch-calls",
            ACME_KEY,
            Some(&campaign_of(&numbers, 2)),
        )
        .await
        .expect(201);
    let second = created.data()["id"].as_str().unwrap().to_owned();
    let placed = node
        .wait_for(&first, Duration::from_secs(10), |c| c["in_progress"] == 1)
        .await;
    assert_eq!(placed["called"], 1);
    let call_id = dialled_call_id(&provider, &first);
    let event = json!({ "event": "call.ended", "outcome": "completed", "duration_seconds": 20, "opt_out": true });
    let answer = call_event(&node, &call_id, &event).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    // Listed before the event was answered, for the whole organisation only.
    let found = node
        .send(Method::GET, &format!("/dnc/{opting}"), ACME_KEY, None)
        .await
        .expect(200);
    assert_eq!(found.data()["reason"], "opt_out");
    assert_eq!(found.data()["phone_number"], opting);
    node.send(Method::GET, &format!("/dnc/{opting}"), GLOBEX_KEY, None)
        .await
        .expect(404);
    node.wait_for(&first, Duration::from_secs(10), |c| c["completed"] == 1)
        .await;

    // The other campaign calls the other number only.
    let schedule = format!("/batch-calls/{second}/schedule");
    node.send(Method::POST, &schedule, ACME_KEY, None)
        .await
        .expect(200);
    let campaign = node
        .wait_for(&second, Duration::from_secs(10), |c| {
            c["skipped"] == 1 && c["in_progress"] == 1
        })
        .await;
    assert_eq!(campaign["called"], 1);
    let to: Vec<String> = dialled(&provider, &second)
        .into_iter()
        .map(|(to, _)| to)
        .collect();
    assert_eq!(to, [other]);
    let contacts = node
        .send(
            Method::GET,
            &format!("/batch-calls/{second}/contacts?status=skipped"),
            ACME_KEY,
            None,
        )
        .await
        .expect(200);
    assert_eq!(contacts.data()[0]["phone_number"], opting);
    assert_eq!(contacts.data()[0]["skip_reason"], "dnc");

    // A contact added while its number is listed is skipped at once.
    let third = node
        .send(
            Method::POST,
            "/batch-calls",
            ACME_KEY,
            Some(&campaign_of(&numbers, 2)),
        )
        .await
        .expect(201);
    assert_eq!(third.data()["skipped"], 1);
    node.kill().await;
}

async fn a_call_event_s_callback_is_a_new_attempt_then(backend: Backend) {
    let provider = Fake::start(|_, _| (200, "{}".to_owned())).await;
    let node = webhook_node(backend, &provider, &fresh_prefix()).await;
    let id = node
        .start_campaign(&campaign_of(&["+15550009876".to_owned()], 1))
        .await;
    node.wait_for(&id, Duration::from_secs(10), |c| c["in_progress"] == 1)
        .await;
    let call_id = dialled_call_id(&provider, &id);
    let soon = pacer::clock::SystemClock.now() + chrono::Duration::seconds(2);
    let event = json!({
        "event": "call.ended", "outcome": "no_answer", "duration_seconds": 0,
        "callback_at": soon.to_rfc3339(),
    });
    let answer = call_event(&node, &call_id, &event).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    let body: Value = answer.json().await.unwrap();
    assert!(body["data"]["callback_scheduled_at"].is_string(), "{body}");
    let campaign = node
        .wait_for(&id, Duration::from_secs(15), |c| {
            c["in_progress"] == 1 && dialled(&provider, c["id"].as_str().unwrap()).len() == 2
        })
        .await;
    assert_eq!(campaign["called"], 1);
    let attempts: Vec<u64> = provider
        .received()
        .iter()
        .map(|request| request.json()["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2]);
    node.kill().await;
}

async fn a_takeover_asks_again_about_calls_in_flight_but_those_to_listed_numbers() {
    // The provider takes each call and reports its end later (never, here).
    let provider = Fake::start(|_, _| (200, "{}".to_owned())).await;
    let prefix = fresh_prefix();
    let first = webhook_node(Backend::Redis, &provider, &prefix).await;
    let numbers: Vec<String> = (0..3).map(|i| format!("+1555777000{i}")).collect();
    let id = first.start_campaign(&campaign_of(&numbers, 3)).await;
    first
        .wait_for(&id, Duration::from_secs(10), |c| c["in_progress"] == 3)
        .await;
    first.kill().await;
    let second = webhook_node(Backend::Redis, &provider, &prefix).await;
    let entries = json!({ "entries": [{ "phone_number": numbers[0] }] });
    second
        .send(Method::POST, "/dnc", ACME_KEY, Some(&entries))
        .await
        .expect(200);
    // The dead node's lease lapses; the second adopts the campaign and asks the provider again
    // about its calls in flight, under their own keys.
    let give_up = Instant::now() + Duration::from_secs(15);
    while dialled(&provider, &id).len() < 5 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut by_number: std::collections::BTreeMap<String, usize> = Default::default();
    for (to, _) in dialled(&provider, &id) {
        *by_number.entry(to).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<String, usize> = [
        (numbers[0].clone(), 1),
        (numbers[1].clone(), 2),
        (numbers[2].clone(), 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        by_number, expected,
        "no request to the listed number after the add"
    );
    second.kill().await;
}

/// The call id of the one dial request of `campaign`.
fn dialled_call_id(provider: &Fake, campaign: &str) -> String {
    let requests: Vec<Value> = provider
        .received()
        .iter()
        .map(crate::fakes::Received::json)
        .filter(|body| body["campaign_id"] == campaign)
        .collect();
    assert_eq!(requests.len(), 1);
    requests[0]["call_id"].as_str().unwrap().to_owned()
}

async fn expired_entries_allow_calls_and_prefixes_cover_every_number_under_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let numbers = [
        "+14155550101", // listed until 16:00Z
        "+12015550101", // under +1201
        "+12015550102", // under +1201
        "+14155550104", // not listed
    ];
    let contacts: Vec<Value> = numbers
        .iter()
        .map(|number| json!({ "phone_number": number }))
        .collect();
    let body = json!({
        "name": "later", "agent_id": "a", "contacts": contacts, "working_days": [1,2,3,4,5,6,7],
        "schedule_type": "scheduled", "scheduled_at": "2026-11-30T17:00:00Z",
    });
    let id = app.create(body).await;
    app.command(&id, "schedule").await.expect(200);
    let entries = json!({ "entries": [
        { "phone_number": numbers[0], "expires_at": "2026-11-30T16:00:00Z", "reason": "until 16:00Z" },
        { "prefix": "+1201" },
    ]});
    let added = app.post("/dnc", entries).await.expect(200);
    assert_eq!(added.data()["added_count"], 2);
    // 09:00 in California, 12:00 in New Jersey: inside the legal hours of all four.
    app.advance_to(at("2026-11-30T17:00:00Z")).await;
    let mut placed: Vec<String> = app
        .dialer
        .placed()
        .iter()
        .map(|placed| placed.call.phone.as_str().to_owned())
        .collect();
    placed.sort();
    assert_eq!(placed, [numbers[0], numbers[3]]);
    let shown: Vec<(String, String)> = app
        .contacts(&id)
        .await
        .iter()
        .map(|contact| {
            let field = |name: &str| contact[name].as_str().unwrap_or_default().to_owned();
            (field("status"), field("skip_reason"))
        })
        .collect();
    let as_pairs = |pairs: [(&str, &str); 4]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        shown,
        as_pairs([
            ("in_progress", ""),
            ("skipped", "dnc"),
            ("skipped", "dnc"),
            ("in_progress", ""),
        ])
    );
    let skipped = app
        .get(&format!("/batch-calls/{id}/contacts?skip_reason=dnc"))
        .await
        .expect(200);
    assert_eq!(skipped.body["pagination"]["total"], 2);
}

async fn the_dnc_routes_add_list_look_up_remove_and_import(backend: Backend) {
    let app = spawn_app(backend).await;
    let entries = json!({ "entries": [
        { "phone_number": "+14155550101", "reason": "asked" },
        { "phone_number": "+14155550102", "expires_at": "2027-01-01T00:00:00Z" },
        { "prefix": "+1201" },
    ]});
    let added = app.post("/dnc", entries.clone()).await.expect(200);
    assert_eq!(added.data()["added_count"], 3);
    let again = app.post("/dnc", entries).await.expect(200);
    assert_eq!(again.data()["updated_count"], 3);

    let listed = app.get("/dnc?limit=2").await.expect(200);
    assert_eq!(listed.body["pagination"]["total"], 3);
    assert_eq!(listed.data()[0]["prefix"], "+1201");
    let one = app
        .get("/dnc?phone_number=%2B14155550102")
        .await
        .expect(200);
    assert_eq!(one.data()[0]["expires_at"], "2027-01-01T00:00:00.000Z");
    // A lookup answers with the entry that covers the number; the `+` raw or encoded.
    let covered = app.get("/dnc/+12015550199").await.expect(200);
    assert_eq!(covered.data()["prefix"], "+1201");
    let own = app.get("/dnc/%2B14155550101").await.expect(200);
    assert_eq!(own.data()["reason"], "asked");
    assert_eq!(app.get("/dnc/+14155550199").await.status, 404);
    // Another organisation sees none of it.
    let theirs = app
        .request(Method::GET, "/dnc", GLOBEX_KEY, None)
        .await
        .expect(200);
    assert_eq!(theirs.body["pagination"]["total"], 0);
    let removed = app
        .request(Method::DELETE, "/dnc/+14155550101", GLOBEX_KEY, None)
        .await;
    assert_eq!(removed.status, 404);

    let deleted = app
        .request(Method::DELETE, "/dnc/%2B14155550101", ACME_KEY, None)
        .await
        .expect(200);
    assert_eq!(deleted.data()["deleted_count"], 1);
    app.request(Method::DELETE, "/dnc/prefix/+1201", ACME_KEY, None)
        .await
        .expect(200);
    app.request(Method::DELETE, "/dnc/prefix/+1201", ACME_KEY, None)
        .await
        .expect(404);
    assert_eq!(app.get("/dnc").await.body["pagination"]["total"], 1);

    // Bad input names its field and adds nothing.
    let bad = [
        (json!({ "entries": [] }), "entries"),
        (json!({ "entries": [{}] }), "entries[0].phone_number"),
        (
            json!({ "entries": [{ "phone_number": "+14155550101", "prefix": "+1" }] }),
            "entries[0].phone_number",
        ),
        (
            json!({ "entries": [{ "phone_number": "+14155550103" }, { "prefix": "1201" }] }),
            "entries[1].prefix",
        ),
        (
            json!({ "entries": [{ "phone_number": "+14155550103", "expires_at": "2020-01-01T00:00:00Z" }] }),
            "entries[0].expires_at",
        ),
        (
            json!({ "entries": [{ "phone_number": "+14155550103", "reason": "" }] }),
            "entries[0].reason",
        ),
    ];
    for (body, field) in bad {
        let reply = app.post("/dnc", body).await.expect(422);
        assert_eq!(reply.error_field(), field);
    }
    assert_eq!(app.get("/dnc/+14155550103").await.status, 404);
    assert_eq!(app.get("/dnc?prefix=1").await.status, 422);

    // A CSV file: BOM, CRLF, an invalid row listed with its line.
    let csv = "\u{feff}phone_number,prefix,reason,expires_at,notes\r\n\
               +14155550110,,imported,,x\r\n\
               ,+44,,2027-06-01T00:00:00Z,\r\n\
               not-a-number,,,,\r\n\
               +14155550111,,,,\r\n";
    let reply = app
        .client
        .post(format!("{}/dnc/import", app.base))
        .bearer_auth(ACME_KEY)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let imported: Value = reply.json().await.unwrap();
    assert_eq!(imported["data"]["added_count"], 3, "{imported}");
    assert_eq!(imported["data"]["failed_count"], 1);
    assert_eq!(imported["data"]["errors"][0]["row"], 4);
    assert_eq!(imported["data"]["errors"][0]["value"], "not-a-number");
    let found = app.get("/dnc/+447700900123").await.expect(200);
    assert_eq!(found.data()["prefix"], "+44");
}

async fn more_than_ten_thousand_entries_are_refused_whole(backend: Backend) {
    let mut settings = crate::helpers::test_settings();
    settings.max_body_bytes = 16 << 20;
    let app =
        crate::helpers::spawn_app_with(backend.store(), crate::helpers::monday_8am(), &settings)
            .await;
    let entries: Vec<Value> = (0..10_001)
        .map(|i| json!({ "phone_number": format!("+1415{i:07}") }))
        .collect();
    let reply = app.post("/dnc", json!({ "entries": entries })).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.error_code(), "payload_too_large");
    assert_eq!(app.get("/dnc").await.body["pagination"]["total"], 0);
}

on_both_backends!(
    an_opt_out_in_one_campaign_stops_the_number_in_every_other,
    expired_entries_allow_calls_and_prefixes_cover_every_number_under_them,
    the_dnc_routes_add_list_look_up_remove_and_import,
    more_than_ten_thousand_entries_are_refused_whole,
    a_cap_across_campaigns_holds_the_fourth_attempt_until_the_window_passes,
    a_campaign_s_caps_are_checked_and_shown,
    a_refusal_cools_the_number_down_in_every_campaign_where_its_region_says_so,
    a_call_event_s_callback_is_a_new_attempt_then,
);

#[actix_web::test]
async fn a_takeover_asks_again_about_calls_in_flight_but_those_to_listed_numbers_on_redis() {
    a_takeover_asks_again_about_calls_in_flight_but_those_to_listed_numbers().await;
}

#[actix_web::test]
async fn no_dial_request_starts_after_a_dnc_add_is_answered_on_two_nodes() {
    no_dial_request_starts_after_a_dnc_add_is_answered_on_either_node().await;
}

async fn a_cap_across_campaigns_holds_the_fourth_attempt_until_the_window_passes(backend: Backend) {
    let mut settings = crate::helpers::test_settings();
    let cap = pacer::config::CapEntry {
        max_calls: 3,
        window_hours: 24,
    };
    settings
        .compliance
        .frequency_caps
        .insert("acme".to_owned(), vec![cap]);
    let start = crate::helpers::monday_8am();
    let app = crate::helpers::spawn_app_with(backend.store(), start, &settings).await;
    // Two campaigns retrying one number (no region: no legal floor in the way).
    let number = "+15550001234";
    let body = json!({
        "name": "retrying", "agent_id": "a", "contacts": [{ "phone_number": number }],
        "working_days": [1, 2, 3, 4, 5, 6, 7], "retry_failed": true, "max_retry_attempts": 3,
        "retry_delay_minutes": 30,
    });
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = app.create(body.clone()).await;
        app.command(&id, "schedule").await.expect(200);
        ids.push(id);
    }
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 2, "08:00: one attempt each");
    app.finish_all(pacer::domain::DialOutcome::NoAnswer).await;
    app.advance_to(at("2026-11-30T08:30:00Z")).await;
    assert_eq!(
        app.dialer.n_placed(),
        3,
        "08:30: the third attempt, the fourth held"
    );
    app.finish_all(pacer::domain::DialOutcome::NoAnswer).await;
    app.advance_to(at("2026-11-30T09:00:00Z")).await;
    app.advance_to(at("2026-12-01T07:59:59Z")).await;
    assert_eq!(app.dialer.n_placed(), 3, "no fourth attempt inside 24 h");
    for id in &ids {
        let contact = app.contacts(id).await[0].clone();
        assert_eq!(contact["status"], "scheduled", "{contact}");
        assert_eq!(contact["held_reason"], "frequency_cap", "{contact}");
        assert_eq!(contact["next_eligible_at"], "2026-12-01T08:00:00.000Z");
    }
    // A day after the first two attempts: both go (the third is still counted).
    app.advance_to(at("2026-12-01T08:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 5);
    let mut late: Vec<(String, u32)> = app.dialer.placed()[3..]
        .iter()
        .map(|placed| (placed.placed_at.to_rfc3339(), placed.call.attempt))
        .collect();
    late.sort();
    let next_day = at("2026-12-01T08:00:00Z").to_rfc3339();
    assert_eq!(late, [(next_day.clone(), 2), (next_day, 3)]);
}

async fn a_refusal_cools_the_number_down_in_every_campaign_where_its_region_says_so(
    backend: Backend,
) {
    let mut settings = crate::helpers::test_settings();
    settings.compliance.enable = vec!["FR".to_owned()];
    // Monday 10:00 in Paris: inside the French hours.
    let start = at("2026-11-30T09:00:00Z");
    let app = crate::helpers::spawn_app_with(backend.store(), start, &settings).await;
    let number = "+33612345678";
    let body = json!({
        "name": "fr", "agent_id": "a", "working_days": [1, 2, 3, 4, 5, 6, 7],
        "contacts": [{ "phone_number": number }],
    });
    let first = app.create(body.clone()).await;
    app.command(&first, "schedule").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 1);
    app.finish_all(pacer::domain::DialOutcome::Refused).await;
    let campaign = app.campaign(&first).await;
    assert_eq!(campaign["status"], "completed", "a refusal is final");
    assert_eq!(app.contacts(&first).await[0]["call_status"], "refused");
    // Another campaign of the same number waits out the 60 days of the French profile.
    let second = app.create(body).await;
    app.command(&second, "schedule").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 1);
    let contact = app.contacts(&second).await[0].clone();
    assert_eq!(contact["held_reason"], "frequency_cap", "{contact}");
    assert_eq!(contact["next_eligible_at"], "2027-01-29T09:00:00.000Z");
}

async fn a_campaign_s_caps_are_checked_and_shown(backend: Backend) {
    let app = spawn_app(backend).await;
    let caps = json!([{ "max_calls": 2, "window_hours": 48 }]);
    let id = app
        .create_campaign(1, json!({ "frequency_caps": caps.clone() }))
        .await;
    assert_eq!(app.campaign(&id).await["frequency_caps"], caps);
    for (bad, field) in [
        (
            json!([{ "max_calls": 0, "window_hours": 24 }]),
            "frequency_caps[0].max_calls",
        ),
        (
            json!([{ "max_calls": 1, "window_hours": 9000 }]),
            "frequency_caps[0].window_hours",
        ),
        (
            json!(vec![json!({ "max_calls": 1, "window_hours": 1 }); 5]),
            "frequency_caps",
        ),
    ] {
        let reply = app
            .patch(
                &format!("/batch-calls/{id}"),
                json!({ "frequency_caps": bad }),
            )
            .await
            .expect(422);
        assert_eq!(reply.error_field(), field);
    }
    app.patch(
        &format!("/batch-calls/{id}"),
        json!({ "frequency_caps": [] }),
    )
    .await
    .expect(200);
    assert_eq!(app.campaign(&id).await["frequency_caps"], json!([]));
}
