//! The production surface: outbound webhooks (signed, in order, surviving a restart), the
//! per-organisation rate limit, idempotent creates, and the Prometheus metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pacer::domain::DialOutcome;
use pacer::store::capabilities::*;
use pacer::webhooks::WebhookTarget;
use pacer::webhooks::signature::sign;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fakes::{Fake, Node, campaign_body, fresh_prefix, node_settings};
use crate::helpers::{
    ACME_KEY, Backend, GLOBEX_KEY, on_both_backends, phone, scrape_metrics, spawn_app,
};

const HOOK_SECRET: &str = "acme-webhook-secret-0123";

#[actix_web::test]
async fn webhooks_reach_the_receiver_signed_in_order_and_survive_a_restart() {
    // The receiver is down while the first node runs the campaign.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = fresh_prefix();
    let mut settings = node_settings(Backend::Redis, &prefix);
    // The node restarts under its name (PACER_NODE_ID), so it holds the outbox again at once.
    settings.node_id = Some("node-restarting".to_owned());
    settings.webhooks.insert(
        "acme".to_owned(),
        WebhookTarget {
            url: format!("http://127.0.0.1:{port}/hook"),
            secret: HOOK_SECRET.to_owned(),
        },
    );
    let first = Node::start(&settings).await;
    let id = first.start_campaign(&campaign_body(0, 3)).await;
    let done = first
        .wait_for(&id, Duration::from_secs(20), |c| c["status"] == "completed")
        .await;
    assert_eq!(done["completed"], 3);
    // The last step's events reach the organisation's outbox once the step relayed them
    // (they were written by the steps themselves); wait until all ten are queued.
    let store = crate::helpers::redis_store_at(&prefix);
    let acme = pacer::domain::OrgId::parse("acme").unwrap();
    let give_up = Instant::now() + Duration::from_secs(10);
    while store.outbox(&acme, 100).await.unwrap().1 < 10 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().await;

    // The receiver comes up, and a new node on the same store delivers what was queued.
    let receiver = Fake::start_on(port, Arc::new(|_, _| (200, "{}".to_owned()))).await;
    let second = Node::start(&settings).await;
    let give_up = Instant::now() + Duration::from_secs(20);
    // draft → scheduled → active, 3 × (call.started, call.ended), active → completed,
    // batch.completed.
    while receiver.received().len() < 10 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = receiver.received();
    let events: Vec<Value> = received
        .iter()
        .map(|request| {
            let timestamp: i64 = request.timestamp.as_deref().unwrap().parse().unwrap();
            assert_eq!(
                request.signature.as_deref(),
                Some(sign(HOOK_SECRET, timestamp, &request.body).as_str()),
                "every webhook is signed over its exact bytes"
            );
            request.json()
        })
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.len(), 10, "{names:?}");
    assert!(
        events
            .iter()
            .all(|event| event["data"]["batch_id"] == id.as_str())
    );
    assert_eq!(names[0], "batch.status.changed");
    assert_eq!(events[0]["data"]["previous_status"], "draft");
    assert_eq!(names[8..], ["batch.status.changed", "batch.completed"]);
    assert_eq!(events[8]["data"]["status"], "completed");
    for contact in events.iter().filter(|event| event["event"] == "call.ended") {
        let started = events
            .iter()
            .position(|event| {
                event["event"] == "call.started"
                    && event["data"]["contact_id"] == contact["data"]["contact_id"]
            })
            .expect("every ended call started");
        let ended = events.iter().position(|event| event == contact).unwrap();
        assert!(started < ended, "{names:?}");
    }
    let timestamps: Vec<&str> = events
        .iter()
        .map(|event| event["timestamp"].as_str().unwrap())
        .collect();
    assert!(
        timestamps.windows(2).all(|pair| pair[0] <= pair[1]),
        "{timestamps:?}"
    );
    // Delivered once each here (at least once in general), and acknowledged: nothing is resent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 10);
    second.kill().await;
}

#[actix_web::test]
async fn two_nodes_sharing_an_outbox_deliver_it_once_in_order() {
    let receiver = Fake::start(|_, _| (200, "{}".to_owned())).await;
    let mut settings = node_settings(Backend::Redis, &fresh_prefix());
    settings.webhooks.insert(
        "acme".to_owned(),
        WebhookTarget {
            url: receiver.url.clone(),
            secret: HOOK_SECRET.to_owned(),
        },
    );
    let first = Node::start(&settings).await;
    let second = Node::start(&settings).await;
    let one = first.start_campaign(&campaign_body(0, 3)).await;
    let other = second.start_campaign(&campaign_body(100, 3)).await;
    let give_up = Instant::now() + Duration::from_secs(20);
    while receiver.received().len() < 20 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events: Vec<Value> = receiver
        .received()
        .iter()
        .map(crate::fakes::Received::json)
        .collect();
    assert_eq!(events.len(), 20, "each event once");
    for id in [&one, &other] {
        let names: Vec<&str> = events
            .iter()
            .filter(|event| event["data"]["batch_id"] == id.as_str())
            .map(|event| event["event"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 10);
        assert_eq!(names[0], "batch.status.changed");
        assert_eq!(
            names[8..],
            ["batch.status.changed", "batch.completed"],
            "{names:?}"
        );
    }
    first.kill().await;
    second.kill().await;
}

/// A receiver that keeps refusing one event: after the operator's limit of attempts it moves
/// to the dead letters and the events after it go on; an operator lists it and sends it again,
/// under its own id. Every event carries an id and the Standard Webhooks headers.
async fn a_refused_webhook_goes_to_the_dead_letters_and_the_others_go_on(backend: Backend) {
    let refusing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let receiver = {
        let refusing = refusing.clone();
        Fake::start(move |request, _| {
            let event = request.json();
            let first = event["data"]["previous_status"] == "draft";
            if first && refusing.load(std::sync::atomic::Ordering::Relaxed) {
                (400, "{}".to_owned())
            } else {
                (200, "{}".to_owned())
            }
        })
        .await
    };
    let mut settings = node_settings(backend, &fresh_prefix());
    settings.webhook_max_attempts = 2;
    settings.webhooks.insert(
        "acme".to_owned(),
        WebhookTarget {
            url: receiver.url.clone(),
            secret: HOOK_SECRET.to_owned(),
        },
    );
    let node = Node::start(&settings).await;
    let id = node.start_campaign(&campaign_body(0, 2)).await;
    node.wait_for(&id, Duration::from_secs(20), |c| c["status"] == "completed")
        .await;
    // Eight events; the first refused twice, then given up: the other seven arrive.
    let accepted = |receiver: &Fake| {
        receiver
            .received()
            .into_iter()
            .filter(|request| request.json()["data"]["previous_status"] != "draft")
            .count()
    };
    let give_up = Instant::now() + Duration::from_secs(20);
    while accepted(&receiver) < 7 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(accepted(&receiver), 7);
    let dead = node
        .send(Method::GET, "/webhooks/dead-letters", ACME_KEY, None)
        .await
        .expect(200);
    assert_eq!(dead.body["pagination"]["total"], 1, "{}", dead.body);
    let letter = &dead.data()[0];
    assert_eq!(letter["event"], "batch.status.changed");
    assert!(
        letter["reason"].as_str().unwrap().contains("400"),
        "{letter}"
    );
    let dead_id = letter["id"].as_str().unwrap().to_owned();
    assert_eq!(letter["body"]["id"], dead_id.as_str());
    // Another organisation sees none.
    let none = node
        .send(Method::GET, "/webhooks/dead-letters", GLOBEX_KEY, None)
        .await
        .expect(200);
    assert_eq!(none.body["pagination"]["total"], 0);

    refusing.store(false, std::sync::atomic::Ordering::Relaxed);
    let replay = node
        .send(
            Method::POST,
            "/webhooks/dead-letters/replay",
            ACME_KEY,
            Some(&json!({ "all": true })),
        )
        .await
        .expect(200);
    assert_eq!(replay.data()["replayed_count"], 1);
    let give_up = Instant::now() + Duration::from_secs(10);
    while receiver.received().len() < 10 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = receiver.received();
    let last = received.last().unwrap();
    assert_eq!(
        last.json()["id"],
        dead_id.as_str(),
        "sent again under its own id"
    );
    // Each event's id is its own, and rides in the Standard Webhooks headers, signed.
    let ids: std::collections::HashSet<String> = received
        .iter()
        .map(|request| request.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 8);
    for request in &received {
        let id = &request.headers["webhook-id"];
        assert_eq!(request.json()["id"], id.as_str());
        let timestamp: i64 = request.headers["webhook-timestamp"].parse().unwrap();
        assert_eq!(
            request.headers["webhook-signature"],
            pacer::webhooks::signature::sign_standard(HOOK_SECRET, id, timestamp, &request.body)
        );
    }
    let empty = node
        .send(Method::GET, "/webhooks/dead-letters", ACME_KEY, None)
        .await
        .expect(200);
    assert_eq!(empty.body["pagination"]["total"], 0);
    let metrics = scrape_metrics(&node.client, &node.root).await;
    assert!(
        metrics.contains("pacer_webhook_outbox_depth{org=\"acme\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pacer_webhook_dead_letters_total"),
        "{metrics}"
    );
}

async fn the_rate_limit_answers_429_with_retry_after_per_organisation(backend: Backend) {
    let mut settings = node_settings(backend, &fresh_prefix());
    settings.rate_limit_per_sec = 1.0;
    settings.rate_limit_burst = 3;
    let node = Node::start(&settings).await;
    for _ in 0..3 {
        node.send(Method::GET, "/batch-calls", ACME_KEY, None)
            .await
            .expect(200);
    }
    let limited = node
        .send(Method::GET, "/batch-calls", ACME_KEY, None)
        .await
        .expect(429);
    assert_eq!(limited.error_code(), "rate_limit_exceeded");
    assert_eq!(limited.body["error"]["details"]["limit"], 1);
    assert!(limited.body["error"]["details"]["reset_at"].is_string());
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert!(limited.headers.contains_key("x-request-id"));
    // Another organisation has its own budget.
    node.send(Method::GET, "/batch-calls", GLOBEX_KEY, None)
        .await
        .expect(200);
}

async fn an_idempotent_create_replays_and_refuses_another_body(backend: Backend) {
    let node = Node::start(&node_settings(backend, &fresh_prefix())).await;
    let create = |body: Value, key: &'static str| {
        node.client
            .post(format!("{}/batch-calls", node.base))
            .bearer_auth(ACME_KEY)
            .header("X-Idempotency-Key", key)
            .json(&body)
    };
    let first = create(campaign_body(0, 2), "create-1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = create(campaign_body(0, 2), "create-1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    let other = create(campaign_body(0, 3), "create-1")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 409);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["error"]["code"], "idempotency_conflict");
    // A request that failed keeps nothing: its key can be used again.
    let invalid = create(json!({ "name": "" }), "create-2")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    assert_eq!(
        create(campaign_body(0, 1), "create-2")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let listed = node
        .send(Method::GET, "/batch-calls", ACME_KEY, None)
        .await
        .expect(200);
    assert_eq!(listed.body["pagination"]["total"], 2);
}

on_both_backends!(
    a_refused_webhook_goes_to_the_dead_letters_and_the_others_go_on,
    the_rate_limit_answers_429_with_retry_after_per_organisation,
    an_idempotent_create_replays_and_refuses_another_body,
    analytics_report_outcomes_answer_rate_duration_and_calls_per_day_and_hour,
);

#[actix_web::test]
async fn metrics_are_served_in_prometheus_text_with_bounded_labels() {
    let node = Node::start(&node_settings(Backend::Memory, &fresh_prefix())).await;
    // Paced to four calls per second: the second call is claimed when the timer fires.
    let mut body = campaign_body(0, 2);
    body["max_calls_per_day"] = json!(4 * 86_400);
    let id = node.start_campaign(&body).await;
    node.wait_for(&id, Duration::from_secs(10), |c| c["status"] == "completed")
        .await;
    // No key needed.
    let text = scrape_metrics(&node.client, &node.root).await;
    for name in [
        "pacer_calls_placed_total",
        "pacer_calls_finished_total{outcome=\"completed\"}",
        "pacer_claim_batch_size_bucket",
        "pacer_store_duration_seconds_bucket",
        "pacer_http_requests_total",
        "pacer_http_request_duration_seconds_bucket",
        "pacer_campaigns",
        // Lateness in millisecond steps up to the 5 ms target.
        "pacer_dispatch_lateness_seconds_bucket{le=\"0.002\"}",
        "pacer_claim_lateness_seconds_bucket{le=\"0.002\"}",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("route=\"/api/public/v1/batch-calls/{id}\""));
    assert!(!text.contains(&id), "a campaign id became a label");
}

async fn analytics_report_outcomes_answer_rate_duration_and_calls_per_day_and_hour(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let id = app.start_campaign(4, 4).await;
    let phones: Vec<String> = (0..4).map(phone).collect();
    app.dialer.finish(&phones[0], DialOutcome::Completed);
    app.dialer.finish(&phones[1], DialOutcome::Completed);
    app.dialer.finish(&phones[2], DialOutcome::Voicemail);
    app.dialer.finish(&phones[3], DialOutcome::Busy);
    app.tick().await;
    let analytics = app
        .get(&format!("/batch-calls/{id}/analytics"))
        .await
        .expect(200);
    let data = analytics.data();
    assert_eq!(data["batch_id"], id.as_str());
    assert_eq!(data["contacts"]["completed"], 3);
    assert_eq!(data["contacts"]["failed"], 1);
    assert_eq!(data["calls"]["total"], 4);
    assert_eq!(data["calls"]["by_outcome"]["completed"], 2);
    assert_eq!(data["calls"]["by_outcome"]["voicemail"], 1);
    assert_eq!(data["calls"]["by_outcome"]["busy"], 1);
    assert_eq!(data["calls"]["answer_rate"], 0.5);
    let total = data["calls"]["total_duration_seconds"].as_f64().unwrap();
    assert_eq!(
        data["calls"]["mean_duration_seconds"].as_f64().unwrap(),
        total / 4.0
    );
    assert_eq!(
        data["calls_per_day"],
        json!([{ "date": "2026-11-30", "calls": 4 }])
    );
    assert_eq!(
        data["calls_per_hour"],
        json!([{ "hour": "2026-11-30T08:00:00Z", "calls": 4 }])
    );
    // Another organisation's campaign does not exist.
    app.request(
        Method::GET,
        &format!("/batch-calls/{id}/analytics"),
        GLOBEX_KEY,
        None,
    )
    .await
    .expect(404);
}

#[actix_web::test]
async fn the_openapi_document_describes_every_route_and_has_a_docs_page() {
    let node = Node::start(&node_settings(Backend::Memory, &fresh_prefix())).await;
    let document: Value = node
        .client
        .get(format!("{}/openapi.json", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/public/v1/batch-calls", "post"),
        ("/api/public/v1/batch-calls", "get"),
        ("/api/public/v1/batch-calls/bulk-delete", "post"),
        ("/api/public/v1/batch-calls/{id}", "get"),
        ("/api/public/v1/batch-calls/{id}", "patch"),
        ("/api/public/v1/batch-calls/{id}", "delete"),
        ("/api/public/v1/batch-calls/{id}/schedule", "post"),
        ("/api/public/v1/batch-calls/{id}/pause", "post"),
        ("/api/public/v1/batch-calls/{id}/resume", "post"),
        ("/api/public/v1/batch-calls/{id}/cancel", "post"),
        ("/api/public/v1/batch-calls/{id}/contacts", "post"),
        ("/api/public/v1/batch-calls/{id}/contacts", "get"),
        ("/api/public/v1/batch-calls/{id}/analytics", "get"),
        ("/api/public/v1/calls/{call_id}/events", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    assert!(paths["/api/public/v1/batch-calls/{id}/pause"]["post"]["responses"]["409"].is_object());
    // Per route only the errors it can give, readable and unique operation ids, the create and
    // the PATCH apart, headers, examples, and what Pacer itself sends.
    let nodes = &paths["/api/public/v1/nodes"]["get"];
    let statuses: Vec<&String> = nodes["responses"].as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "401", "429", "503"]);
    assert_eq!(nodes["operationId"], "list_nodes");
    let ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["CampaignCreate"]["required"],
        json!(["name", "agent_id"])
    );
    assert!(schemas["CampaignPatch"]["properties"]["contacts"].is_null());
    let create = &paths["/api/public/v1/batch-calls"]["post"];
    let body = &create["requestBody"]["content"]["application/json"];
    assert_eq!(
        body["schema"]["$ref"],
        "#/components/schemas/CampaignCreate"
    );
    assert!(create["responses"]["201"]["headers"]["Idempotent-Replayed"].is_object());
    assert!(create["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert!(create["responses"]["201"]["headers"]["X-Request-Id"].is_object());
    // The example of a create is one the API takes.
    let created = node
        .client
        .post(format!("{}/batch-calls", node.base))
        .bearer_auth(ACME_KEY)
        .json(&body["example"])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let webhooks = document["webhooks"].as_object().unwrap();
    assert!(webhooks.contains_key("batch_event") && webhooks.contains_key("dial_request"));
    let docs = node
        .client
        .get(format!("{}/docs", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let page = docs.text().await.unwrap();
    assert!(page.contains("openapi.json"));
    assert!(
        !page.contains("https://"),
        "the page loads nothing from elsewhere"
    );
}

/// The console's files come from the binary, public (they hold no data), under a policy that
/// lets them load nothing from elsewhere.
#[actix_web::test]
async fn the_console_is_served_from_the_binary_under_a_strict_policy() {
    let app = spawn_app(Backend::Memory).await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.root)).send();
    let page = get("/console").await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/console.js") && !html.contains("https://"));
    for (file, kind) in [
        ("console.js", "text/javascript"),
        ("console.css", "text/css"),
        ("docs.js", "text/javascript"),
    ] {
        let asset = get(&format!("/console/{file}")).await.unwrap();
        assert_eq!(asset.status(), 200, "{file}");
        assert!(
            asset.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
    assert_eq!(get("/console/../Cargo.toml").await.unwrap().status(), 404);
    assert_eq!(get("/console/secret.js").await.unwrap().status(), 404);
}

/// An idle connection stays open longer than clients keep theirs in a pool before reuse
/// (actix-web's default closed it after 5 s, under a client's next request).
#[actix_web::test]
async fn an_idle_connection_is_kept_open_for_the_next_request() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = spawn_app(Backend::Memory).await;
    let address = app.root.trim_start_matches("http://").to_owned();
    let mut connection = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: pacer\r\n\r\n";
    for pause in [0, 6] {
        tokio::time::sleep(Duration::from_secs(pause)).await;
        connection.write_all(request).await.unwrap();
        let mut reply = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), connection.read(&mut reply))
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&reply[..n]);
        assert!(
            text.starts_with("HTTP/1.1 200"),
            "after {pause} s idle: {text:?}"
        );
    }
}
