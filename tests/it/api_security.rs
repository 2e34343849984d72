//! Every route of the API against the same attacks, from one table: no key, a wrong key,
//! another organisation's campaign while its actor runs (the path that skips the organisation
//! read: the store step itself must refuse), and bodies past the limit, with a length or
//! chunked. Each is refused with its status in the error envelope and changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ACME_KEY, BODY_LIMIT, Backend, GLOBEX_KEY, TestApp, answer, connect_from, monday_8am,
    spawn_app_with, test_settings,
};

/// A route of the API, with `{id}` for a campaign id.
struct Route {
    method: Method,
    path: &'static str,
    /// A body the route accepts (`None`: it takes none).
    body: Option<Value>,
    /// Signed by the dialer provider instead of a key.
    signed: bool,
}

fn route(method: Method, path: &'static str, body: Option<Value>) -> Route {
    Route {
        method,
        path,
        body,
        signed: false,
    }
}

/// Every route under the API's base path (the OpenAPI document and its page excepted: they are
/// public, as health and metrics are).
fn routes() -> Vec<Route> {
    let contacts = json!({ "contacts": [{ "phone_number": "+15559990000" }] });
    vec![
        route(
            Method::POST,
            "/batch-calls",
            Some(json!({ "name": "x", "agent_id": "a", "contacts": [] })),
        ),
        route(Method::GET, "/batch-calls", None),
        route(
            Method::POST,
            "/batch-calls/bulk-delete",
            Some(json!({ "ids": ["{id}"] })),
        ),
        route(Method::GET, "/batch-calls/{id}", None),
        route(
            Method::PATCH,
            "/batch-calls/{id}",
            Some(json!({ "name": "mine" })),
        ),
        route(Method::DELETE, "/batch-calls/{id}", None),
        route(Method::POST, "/batch-calls/{id}/schedule", Some(json!({}))),
        route(Method::POST, "/batch-calls/{id}/pause", Some(json!({}))),
        route(Method::POST, "/batch-calls/{id}/resume", Some(json!({}))),
        route(Method::POST, "/batch-calls/{id}/cancel", Some(json!({}))),
        route(Method::POST, "/batch-calls/{id}/contacts", Some(contacts)),
        route(Method::GET, "/batch-calls/{id}/contacts", None),
        route(
            Method::POST,
            "/batch-calls/{id}/contacts/import",
            Some(json!({ "csv": "phone_number\n+15559990000\n" })),
        ),
        route(Method::GET, "/batch-calls/{id}/analytics", None),
        route(Method::GET, "/batch-calls/{id}/diagnostics", None),
        route(Method::POST, "/batch-calls/{id}/retry", Some(json!({}))),
        route(Method::GET, "/batch-calls/{id}/forecast", None),
        route(
            Method::POST,
            "/batch-calls/{id}/contacts/{call}/callback",
            Some(json!({ "at": "2026-12-01T15:00:00Z" })),
        ),
        route(Method::GET, "/webhooks/dead-letters", None),
        route(
            Method::POST,
            "/webhooks/dead-letters/replay",
            Some(json!({})),
        ),
        route(
            Method::POST,
            "/dnc",
            Some(json!({ "entries": [{ "phone_number": "+15559990000" }] })),
        ),
        route(Method::GET, "/dnc", None),
        route(
            Method::POST,
            "/dnc/import",
            Some(json!({ "csv": "phone_number\n+15559990000\n" })),
        ),
        route(Method::GET, "/dnc/+15559990000", None),
        route(Method::DELETE, "/dnc/+15559990000", None),
        route(Method::DELETE, "/dnc/prefix/+1555", None),
        Route {
            method: Method::POST,
            path: "/calls/{call}/events",
            body: Some(json!({ "outcome": "completed", "duration_seconds": 1 })),
            signed: true,
        },
    ]
}

impl Route {
    fn path_for(&self, campaign: &str) -> String {
        self.path
            .replace("{id}", campaign)
            .replace("{call}", &uuid::Uuid::new_v4().to_string())
    }

    fn body_for(&self, campaign: &str) -> Option<Value> {
        let text = serde_json::to_string(self.body.as_ref()?).unwrap();
        Some(serde_json::from_str(&text.replace("{id}", campaign)).unwrap())
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A node whose limit on failed keys does not get in the way of the table (it has tests of its
/// own), with call events enabled.
async fn spawn(backend: Backend) -> TestApp {
    let mut settings = test_settings();
    settings.auth_failures_burst = 10_000;
    settings.dialer_secret = Some("a-dialer-secret-0123456789".to_owned());
    spawn_app_with(backend.store(), monday_8am(), &settings).await
}

/// What acme's campaign looks like, and how many campaigns and do-not-call entries it has:
/// what no refused request may change.
async fn snapshot(app: &TestApp, id: &str) -> (Value, u64, u64) {
    let campaign = app.campaign(id).await;
    let kept = json!({
        "name": campaign["name"],
        "status": campaign["status"],
        "total_contacts": campaign["total_contacts"],
        "start_time": campaign["start_time"],
    });
    let listed = app.get("/batch-calls").await.expect(200);
    let dnc = app.get("/dnc").await.expect(200);
    let total = |reply: &crate::helpers::Reply| reply.body["pagination"]["total"].as_u64().unwrap();
    (kept, total(&listed), total(&dnc))
}

async fn every_route_refuses_a_missing_or_wrong_key(backend: Backend) {
    let app = spawn(backend).await;
    let id = app.start_campaign(3, 1).await;
    let before = snapshot(&app, &id).await;
    for route in routes() {
        for key in [None, Some("wrong-key-0123456789abcdef")] {
            let mut request = app.client.request(
                route.method.clone(),
                format!("{}{}", app.base, route.path_for(&id)),
            );
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            if let Some(body) = route.body_for(&id) {
                request = request.json(&body);
            }
            let reply = crate::helpers::Reply::from(request.send().await.unwrap()).await;
            assert_eq!(
                (reply.status.as_u16(), reply.error_code()),
                (401, "unauthorized"),
                "{} with key {key:?}: {:?}",
                route.name(),
                reply.body
            );
            if !route.signed {
                assert_eq!(
                    reply.headers["www-authenticate"],
                    "Bearer",
                    "{}",
                    route.name()
                );
            }
        }
    }
    assert_eq!(snapshot(&app, &id).await, before);
}

async fn another_organisations_running_campaign_is_not_found_on_every_route(backend: Backend) {
    let app = spawn(backend).await;
    // Running: its actor is live on this node with a call in flight, so commands go straight to
    // the actor and the store step is what checks the organisation.
    let id = app.start_campaign(3, 1).await;
    assert_eq!(app.dialer.n_placed(), 1);
    let before = snapshot(&app, &id).await;
    assert_eq!(before.0["status"], "active");
    for route in routes().iter().filter(|route| route.path.contains("{id}")) {
        let reply = app
            .request(
                route.method.clone(),
                &route.path_for(&id),
                GLOBEX_KEY,
                route.body_for(&id),
            )
            .await;
        if route.path == "/batch-calls/bulk-delete" {
            let data = reply.expect(200).body["data"].clone();
            assert_eq!(
                (data["deleted_count"].as_u64(), &data["failed_ids"]),
                (Some(0), &json!([id])),
                "a foreign id is not deleted"
            );
        } else {
            assert_eq!(
                (reply.status.as_u16(), reply.error_code()),
                (404, "not_found"),
                "{}: {:?}",
                route.name(),
                reply.body
            );
        }
    }
    let listed = app
        .request(Method::GET, "/batch-calls", GLOBEX_KEY, None)
        .await
        .expect(200);
    assert_eq!(listed.body["pagination"]["total"], 0);
    assert_eq!(snapshot(&app, &id).await, before);
    // Still dispatching: the refused pause paused nothing.
    app.finish_all(pacer::domain::DialOutcome::Completed).await;
    assert_eq!(app.dialer.n_placed(), 2, "the next contact is called");
}

/// Sends `method path` with a chunked body of `size` bytes (no length ahead): its status.
async fn send_chunked(app: &TestApp, method: &Method, path: &str, key: &str, size: usize) -> u16 {
    use tokio::io::AsyncWriteExt as _;
    let address = app.root.trim_start_matches("http://");
    let head = format!(
        "{method} /api/public/v1{path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    let mut stream = connect_from("127.0.0.1", &app.root, head.as_bytes())
        .await
        .expect("a loopback connection");
    let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, " ".repeat(16 * 1024));
    // The node may answer and close before the last chunk: a failed write ends the body.
    for _ in 0..size.div_ceil(16 * 1024) {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    answer(&mut stream, std::time::Duration::from_secs(10))
        .await
        .map_or(0, |(status, _)| status)
}

async fn every_route_with_a_body_refuses_one_past_the_limit(backend: Backend) {
    let app = spawn(backend).await;
    let id = app.start_campaign(3, 1).await;
    let before = snapshot(&app, &id).await;
    let size = BODY_LIMIT + 1;
    // The contact import takes files of 50 MB, announced by their length (api_import).
    let limited = |route: &&Route| route.body.is_some() && !route.path.ends_with("/import");
    for route in routes().iter().filter(limited) {
        let path = route.path_for(&id);
        // With a length: `{"pad": "    …"}`, valid JSON past the limit.
        let mut body = route.body_for(&id).unwrap();
        body.as_object_mut()
            .unwrap()
            .insert("pad".to_owned(), Value::String(" ".repeat(size)));
        let mut request = app
            .client
            .request(route.method.clone(), format!("{}{path}", app.base))
            .bearer_auth(ACME_KEY)
            .json(&body);
        if route.signed {
            request = request
                .header("x-pacer-timestamp", "0")
                .header("x-pacer-signature", "v1=00");
        }
        let reply = crate::helpers::Reply::from(request.send().await.unwrap()).await;
        let refused = if route.signed {
            // Signature first (from the headers), or size: either way nothing is read.
            [401, 413].contains(&reply.status.as_u16())
        } else {
            reply.status == 413 && reply.error_code() == "payload_too_large"
        };
        assert!(refused, "{} with a length: {:?}", route.name(), reply.body);
        let status = send_chunked(&app, &route.method, &path, ACME_KEY, size).await;
        let expected: &[u16] = if route.signed { &[401, 413] } else { &[413] };
        assert!(
            expected.contains(&status),
            "{} chunked: {status}",
            route.name()
        );
    }
    assert_eq!(snapshot(&app, &id).await, before);
}

crate::helpers::on_both_backends!(
    every_route_refuses_a_missing_or_wrong_key,
    another_organisations_running_campaign_is_not_found_on_every_route,
    every_route_with_a_body_refuses_one_past_the_limit,
);
