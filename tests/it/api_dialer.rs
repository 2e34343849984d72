//! The webhook dialer against a test provider on loopback, and the signed call-events endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use pacer::config::DialerKind;
use pacer::webhooks::signature::sign;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fakes::{Fake, Node, fresh_prefix, node_settings};
use crate::helpers::{ACME_KEY, Backend, on_both_backends, phone};

const SECRET: &str = "dialer-secret-0123456789";

async fn webhook_node(backend: Backend, provider: &Fake) -> Node {
    let mut settings = node_settings(backend, &fresh_prefix());
    settings.dialer = DialerKind::Webhook;
    settings.dialer_url = Some(provider.url.clone());
    settings.dialer_secret = Some(SECRET.to_owned());
    settings.dialer_backoff_ms = 10;
    Node::start(&settings).await
}

/// Creates and schedules a campaign of `n` contacts, callable now, all at once.
async fn start_campaign(node: &Node, n: usize) -> String {
    let contacts: Vec<Value> = (0..n)
        .map(|i| json!({ "phone_number": phone(i) }))
        .collect();
    let body = json!({
        "name": "dialer", "agent_id": "agent_1", "contacts": contacts,
        "working_days": [1, 2, 3, 4, 5, 6, 7], "max_concurrent_calls": 10,
    });
    let created = node
        .send(Method::POST, "/batch-calls", ACME_KEY, Some(&body))
        .await
        .expect(201);
    let id = created.data()["id"].as_str().unwrap().to_owned();
    node.send(
        Method::POST,
        &format!("/batch-calls/{id}/schedule"),
        ACME_KEY,
        None,
    )
    .await
    .expect(200);
    id
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
        let signature = sign(secret, timestamp, &body);
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
    tokio::time::sleep(Duration::from_millis(100)).await;
    let campaign = node.wait_for(&id, Duration::ZERO, |_| true).await;
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
    tokio::time::sleep(Duration::from_millis(100)).await;
    let campaign_later = node.wait_for(&id, Duration::ZERO, |_| true).await;
    assert_eq!(campaign["completed"], 1);
    assert_eq!(
        (
            campaign_later["completed"].as_u64(),
            campaign_later["in_progress"].as_u64()
        ),
        (Some(1), Some(2))
    );

    for call in &call_ids[1..] {
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

on_both_backends!(
    provider_places_each_attempt_once_even_when_it_answers_500_first,
    call_events_apply_once_and_forged_or_stale_ones_change_nothing,
);
