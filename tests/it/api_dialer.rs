//! The webhook dialer against a test provider on loopback, and the signed call-events endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use pacer::config::DialerKind;
use pacer::webhooks::signature::{sign, sign_call_event};
use serde_json::json;

use crate::fakes::{Fake, Node, campaign_body, fresh_prefix, node_settings};
use crate::helpers::{Backend, on_both_backends};

const SECRET: &str = "dialer-secret-0123456789";

async fn webhook_node(backend: Backend, provider: &Fake) -> Node {
    webhook_node_at(backend, provider, &fresh_prefix(), None).await
}

/// A node with the webhook dialer on the store under `prefix`, with a carrier limit.
async fn webhook_node_at(
    backend: Backend,
    provider: &Fake,
    prefix: &str,
    max_cps: Option<f64>,
) -> Node {
    let mut settings = node_settings(backend, prefix);
    settings.dialer_max_cps = max_cps;
    settings.dialer = DialerKind::Webhook;
    settings.dialer_url = Some(provider.url.clone());
    settings.dialer_secret = Some(SECRET.to_owned());
    settings.dialer_backoff_ms = 10;
    Node::start(&settings).await
}

/// Creates and schedules a campaign of `n` contacts, callable now, all at once.
async fn start_campaign(node: &Node, n: usize) -> String {
    node.start_campaign(&campaign_body(0, n)).await
}

async fn provider_places_each_attempt_once_even_when_it_answers_500_first(backend: Backend) {
    // The provider fails the first request of each key, then places the call and answers
    // with its outcome.
    let provider = Fake::start(|_, seen_before| match seen_before {
        0 => (500, String::new()),
        _ => (
            200,
            r#"{"outcome":"completed","duration_seconds":7}"#.to_owned(),
        ),
    })
    .await;
    let node = webhook_node(backend, &provider).await;
    let id = start_campaign(&node, 5).await;
    let campaign = node
        .wait_for(&id, Duration::from_secs(20), |c| c["completed"] == 5)
        .await;
    assert_eq!(campaign["completed"], 5, "{campaign}");
    assert_eq!(campaign["status"], "completed");

    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for request in provider.received() {
        let key = request
            .idempotency_key
            .clone()
            .expect("every dial has a key");
        let body = request.json();
        assert_eq!(body["idempotency_key"], key);
        assert_eq!(
            key,
            format!(
                "{}:{}:{}",
                body["campaign_id"].as_str().unwrap(),
                body["contact_id"].as_str().unwrap(),
                body["attempt"]
            )
        );
        // Dial requests are signed with the dialer secret.
        let timestamp: i64 = request.timestamp.as_deref().unwrap().parse().unwrap();
        assert_eq!(
            request.signature.as_deref(),
            Some(sign(SECRET, timestamp, &request.body).as_str())
        );
        *by_key.entry(key).or_default() += 1;
    }
    assert_eq!(by_key.len(), 5, "one key per contact: {by_key:?}");
    assert!(
        by_key.keys().all(|key| key.ends_with(":1")),
        "first attempts only: {by_key:?}"
    );
    assert!(
        by_key.values().all(|&n| n == 2),
        "the 500 and its retry: {by_key:?}"
    );
}

async fn call_events_apply_once_and_forged_or_stale_ones_change_nothing(backend: Backend) {
    // The provider places the calls and reports their outcomes later, as events.
    let provider = Fake::start(|_, _| (202, "{}".to_owned())).await;
    let node = webhook_node(backend, &provider).await;
    let id = start_campaign(&node, 3).await;
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while provider.received().len() < 3 && std::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dials = provider.received();
    assert_eq!(dials.len(), 3);
    // The node's own clock, as it stamped its requests.
    let now: i64 = dials[0].timestamp.as_deref().unwrap().parse().unwrap();
    let call_ids: Vec<String> = dials
        .iter()
        .map(|dial| dial.json()["call_id"].as_str().unwrap().to_owned())
        .collect();
    let event = |call: &str, timestamp: i64, secret: &str| {
        let body = serde_json::to_vec(
            &json!({ "event": "call.ended", "outcome": "completed", "duration_seconds": 30 }),
        )
        .unwrap();
        let signature = sign_call_event(secret, timestamp, call, &body);
        node.client
            .post(format!("{}/calls/{call}/events", node.base))
            .header("X-Pacer-Timestamp", timestamp.to_string())
            .header("X-Pacer-Signature", signature)
            .header("Content-Type", "application/json")
            .body(body)
    };
    let forged = event(&call_ids[0], now, "not-the-secret-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let stale = event(&call_ids[0], now - 301, SECRET).send().await.unwrap();
    assert_eq!(stale.status(), 401);
    let unsigned = node
        .client
        .post(format!("{}/calls/{}/events", node.base, call_ids[0]))
        .json(&json!({ "event": "call.ended", "outcome": "completed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let unknown = event(&uuid::Uuid::new_v4().to_string(), now, SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // An event signed for one call, replayed on another: the signature binds the call.
    let body = serde_json::to_vec(&json!({ "event": "call.ended", "outcome": "busy" })).unwrap();
    let replayed = node
        .client
        .post(format!("{}/calls/{}/events", node.base, call_ids[1]))
        .header("X-Pacer-Timestamp", now.to_string())
        .header(
            "X-Pacer-Signature",
            sign_call_event(SECRET, now, &call_ids[0], &body),
        )
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    // Nor does a signature of the body alone (the form before the call was bound) pass.
    let body_only = node
        .client
        .post(format!("{}/calls/{}/events", node.base, call_ids[0]))
        .header("X-Pacer-Timestamp", now.to_string())
        .header("X-Pacer-Signature", sign(SECRET, now, &body))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(body_only.status(), 401);
    // Each was refused before it reached the campaign (the answer comes after the check), so
    // the campaign shows nothing of them now.
    let campaign = node.campaign_now(&id).await;
    assert_eq!(
        (
            campaign["completed"].as_u64(),
            campaign["in_progress"].as_u64()
        ),
        (Some(0), Some(3)),
        "{campaign}"
    );

    // The same event twice counts once.
    for _ in 0..2 {
        let accepted = event(&call_ids[0], now, SECRET).send().await.unwrap();
        assert_eq!(accepted.status(), 202);
    }
    let campaign = node
        .wait_for(&id, Duration::from_secs(10), |c| c["completed"] == 1)
        .await;
    assert_eq!(campaign["completed"], 1);
    // The repeat reached the campaign before the next call's event (both through its actor, in
    // order): once that one counts, a repeat counted twice would show as a third.
    assert_eq!(
        event(&call_ids[1], now, SECRET)
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    let campaign_later = node
        .wait_for(&id, Duration::from_secs(10), |c| c["completed"] == 2)
        .await;
    assert_eq!(
        (
            campaign_later["completed"].as_u64(),
            campaign_later["in_progress"].as_u64()
        ),
        (Some(2), Some(1))
    );

    for call in &call_ids[2..] {
        assert_eq!(event(call, now, SECRET).send().await.unwrap().status(), 202);
    }
    let campaign = node
        .wait_for(&id, Duration::from_secs(10), |c| c["status"] == "completed")
        .await;
    assert_eq!(
        (campaign["completed"].as_u64(), campaign["called"].as_u64()),
        (Some(3), Some(3)),
        "{campaign}"
    );
}

const ANSWERED: &str = r#"{"outcome":"completed","duration_seconds":1}"#;

/// The most requests received within any `window`.
fn busiest(received: &[crate::fakes::Received], window: Duration) -> usize {
    let times: Vec<std::time::Instant> = received.iter().map(|request| request.at).collect();
    (0..times.len())
        .map(|start| {
            times[start..]
                .iter()
                .take_while(|at| at.duration_since(times[start]) < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[actix_web::test]
async fn the_carrier_limit_holds_across_two_nodes_sharing_the_store() {
    let provider = Fake::start(|_, _| (200, ANSWERED.to_owned())).await;
    let prefix = fresh_prefix();
    // 20 calls per second across both nodes (a burst of 2).
    let first = webhook_node_at(Backend::Redis, &provider, &prefix, Some(20.0)).await;
    let second = webhook_node_at(Backend::Redis, &provider, &prefix, Some(20.0)).await;
    let one = first.start_campaign(&campaign_body(0, 30)).await;
    let other = second.start_campaign(&campaign_body(100, 30)).await;
    for (node, id) in [(&first, &one), (&second, &other)] {
        let campaign = node
            .wait_for(id, Duration::from_secs(30), |c| c["status"] == "completed")
            .await;
        assert_eq!(campaign["completed"], 30, "{campaign}");
    }
    let received = provider.received();
    assert_eq!(received.len(), 60);
    let busiest = busiest(&received, Duration::from_secs(1));
    // 20 a second plus the burst, with a little room for delivery jitter; two nodes limiting
    // on their own would reach about 40.
    assert!(busiest <= 25, "{busiest} dials within one second");
    let span = received.last().unwrap().at - received[0].at;
    assert!(
        span >= Duration::from_millis(2_500),
        "60 dials took {span:?}"
    );
}

#[actix_web::test]
async fn a_small_campaign_is_not_starved_by_a_large_one_under_the_carrier_limit() {
    let provider = Fake::start(|_, _| (200, ANSWERED.to_owned())).await;
    let node = webhook_node_at(Backend::Memory, &provider, &fresh_prefix(), Some(20.0)).await;
    let large = node.start_campaign(&campaign_body(0, 100)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let small = node.start_campaign(&campaign_body(1000, 5)).await;
    node.wait_for(&small, Duration::from_secs(20), |c| {
        c["status"] == "completed"
    })
    .await;
    let large_now = node.campaign_now(&large).await;
    // At 20 a second the large campaign needs 5 s; the small one is served alongside it.
    assert!(
        large_now["pending"].as_u64().unwrap() >= 40,
        "the small campaign waited for the large one: {large_now}"
    );
}

#[actix_web::test]
async fn a_429_from_the_provider_slows_placement_down_without_failing_the_attempt() {
    // The first request is refused with a Retry-After of one second; the rest are placed.
    let refused = std::sync::atomic::AtomicBool::new(false);
    let provider = Fake::start(move |_, _| {
        if refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
            (200, ANSWERED.to_owned())
        } else {
            (429, "{}".to_owned())
        }
    })
    .await;
    let node = webhook_node(Backend::Memory, &provider).await;
    let id = start_campaign(&node, 3).await;
    let campaign = node
        .wait_for(&id, Duration::from_secs(20), |c| c["status"] == "completed")
        .await;
    assert_eq!(
        (campaign["completed"].as_u64(), campaign["failed"].as_u64()),
        (Some(3), Some(0)),
        "{campaign}"
    );
    let received = provider.received();
    assert_eq!(received.len(), 4, "one refusal, then each call once");
    // The node held every placement for the second the provider asked for (the other calls of
    // the claim may have been on the wire already when the 429 came back).
    let after_refusal: Vec<Duration> = received[1..]
        .iter()
        .map(|request| request.at - received[0].at)
        .collect();
    let retried = received[1..]
        .iter()
        .position(|request| request.idempotency_key == received[0].idempotency_key)
        .expect("the refused call was retried with its key");
    assert!(
        after_refusal[retried] >= Duration::from_millis(950),
        "{after_refusal:?}"
    );
}

async fn a_draining_node_claims_nothing_more_and_lets_calls_in_flight_report(backend: Backend) {
    let provider = Fake::start(|_, _| (202, "{}".to_owned())).await;
    let node = webhook_node(backend, &provider).await;
    let mut body = campaign_body(0, 10);
    body["max_concurrent_calls"] = json!(3);
    let id = node.start_campaign(&body).await;
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while provider.received().len() < 3 && std::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dials = provider.received();
    assert_eq!(dials.len(), 3);
    // SIGTERM's first step, in the background; meanwhile the provider reports the three calls.
    let directory = node.directory();
    let drained =
        actix_web::rt::spawn(async move { directory.drain(Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let now: i64 = dials[0].timestamp.as_deref().unwrap().parse().unwrap();
    for dial in &dials {
        let call = dial.json()["call_id"].as_str().unwrap().to_owned();
        let body =
            serde_json::to_vec(&json!({ "event": "call.ended", "outcome": "completed" })).unwrap();
        let accepted = node
            .client
            .post(format!("{}/calls/{call}/events", node.base))
            .header("X-Pacer-Timestamp", now.to_string())
            .header(
                "X-Pacer-Signature",
                sign_call_event(SECRET, now, &call, &body),
            )
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), 202);
    }
    assert_eq!(
        drained.await.unwrap(),
        0,
        "every dispatcher stopped once its calls reported"
    );
    let campaign = node.campaign_now(&id).await;
    assert_eq!(
        (
            campaign["completed"].as_u64(),
            campaign["in_progress"].as_u64(),
            campaign["pending"].as_u64()
        ),
        (Some(3), Some(0), Some(7)),
        "{campaign}"
    );
    assert_eq!(
        provider.received().len(),
        3,
        "nothing was dialled after the drain began"
    );
}

/// The call id of each dial request is indexed in the store before the request leaves, so a
/// call event that overtakes the provider's answer finds its contact: here the provider looks
/// the call id up in Redis (as the node's own call-event route would) while it holds the
/// request.
#[actix_web::test]
async fn every_call_id_is_indexed_before_its_dial_request_is_sent() {
    let prefix = fresh_prefix();
    let key_prefix = format!("{prefix}call:");
    let missing = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let seen = missing.clone();
    let provider = Fake::start(move |request, _| {
        let call_id = request.json()["call_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
        let mut con = client.get_connection().unwrap();
        let indexed: bool = ::redis::cmd("EXISTS")
            .arg(format!("{key_prefix}{call_id}"))
            .query(&mut con)
            .unwrap();
        if !indexed {
            seen.lock().push(call_id);
        }
        (
            200,
            r#"{"outcome":"completed","duration_seconds":3}"#.to_owned(),
        )
    })
    .await;
    let node = webhook_node_at(Backend::Redis, &provider, &prefix, None).await;
    let id = start_campaign(&node, 5).await;
    let campaign = node
        .wait_for(&id, Duration::from_secs(20), |c| c["completed"] == 5)
        .await;
    assert_eq!(campaign["completed"], 5, "{campaign}");
    assert_eq!(provider.received().len(), 5);
    assert!(
        missing.lock().is_empty(),
        "dial requests sent before their call id was indexed: {:?}",
        missing.lock()
    );
}

on_both_backends!(
    a_draining_node_claims_nothing_more_and_lets_calls_in_flight_report,
    provider_places_each_attempt_once_even_when_it_answers_500_first,
    call_events_apply_once_and_forged_or_stale_ones_change_nothing,
    no_dial_request_goes_after_its_not_after,
);

/// A dial request carries `not_after` (the callee's window end, less the buffer), and none is
/// sent after it: a call whose provider pushed back until its window had closed is not tried
/// again, and waits for the window's next opening with its reason.
async fn no_dial_request_goes_after_its_not_after(backend: Backend) {
    use pacer::clock::ManualClock;
    use pacer::dialer::{CarrierGate, WebhookDialer, WebhookDialerSettings};
    use pacer::startup::Components;

    // The first request is told to come back in a second; the test moves the clock past the
    // request's `not_after` meanwhile.
    let provider = Fake::start(|_, seen| {
        if seen == 0 {
            (503, "{}".to_owned())
        } else {
            (200, "{}".to_owned())
        }
    })
    .await;
    // 19:58 in New York; the campaign's window closes at 20:00 (01:00Z).
    let clock = ManualClock::new(crate::helpers::at("2026-12-01T00:58:00Z"));
    let store = backend.store();
    let gate = std::sync::Arc::new(CarrierGate::new(store.clone(), None));
    let settings = WebhookDialerSettings {
        url: provider.url.clone(),
        secret: SECRET.to_owned(),
        timeout: Duration::from_secs(5),
        tries: 5,
        backoff: Duration::from_millis(10),
    };
    let dialer = WebhookDialer::new(
        settings,
        store.clone(),
        gate.clone(),
        std::sync::Arc::new(clock.clone()),
    )
    .unwrap();
    let components = Components {
        store,
        clock: std::sync::Arc::new(clock.clone()),
        dialer: std::sync::Arc::new(dialer),
        gate: Some(gate),
    };
    let started = crate::helpers::start_app(&crate::helpers::test_settings(), components).await;
    let client = reqwest::Client::new();
    let body = json!({
        "name": "evening", "agent_id": "a", "timezone": "America/New_York",
        "start_time": "09:00", "end_time": "20:00", "working_days": [1, 2, 3, 4, 5, 6, 7],
        "contacts": [{ "phone_number": "+12125550103" }],
    });
    let created = crate::helpers::send_json(
        client
            .post(format!("{}/batch-calls", started.base))
            .json(&body),
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    // The node dispatches as soon as the campaign is scheduled: the schedule request answers
    // once that first step is over.
    let schedule = client.post(format!("{}/batch-calls/{id}/schedule", started.base));
    let scheduled = actix_web::rt::spawn(crate::helpers::send_json(schedule));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while provider.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no dial request came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Past `not_after` (00:59:00Z) before the provider's second has passed.
    clock.set(crate::helpers::at("2026-12-01T00:59:30Z"));
    scheduled.await.unwrap();
    started.directory.dispatch_all().await;
    let received = provider.received();
    assert_eq!(received.len(), 1, "no request after not_after");
    assert_eq!(received[0].json()["not_after"], "2026-12-01T00:59:00.000Z");
    let contacts = crate::helpers::send_json(
        client.get(format!("{}/batch-calls/{id}/contacts", started.base)),
    )
    .await;
    let contact = &contacts["data"][0];
    assert_eq!(contact["status"], "scheduled");
    assert_eq!(contact["attempts"], 0);
    assert_eq!(contact["held_reason"], "window");
    // 09:00 in New York the next day.
    assert_eq!(contact["next_eligible_at"], "2026-12-01T14:00:00.000Z");
}
