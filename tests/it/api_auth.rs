//! Keys and tenants: every campaign route needs a key; another organisation's campaign is 404.

use serde_json::json;

use crate::helpers::{ACME_KEY, Backend, GLOBEX_KEY, every_day, spawn_app};

async fn campaign_routes_need_a_key_and_health_does_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let anonymous = app
        .client
        .get(format!("{}/batch-calls", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .request(reqwest::Method::GET, "/batch-calls", "not-a-key", None)
        .await
        .expect(401);
    assert_eq!(wrong.error_code(), "unauthorized");
    let health = app
        .client
        .get(format!("{}/healthz", app.root))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.root))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

async fn one_organisation_never_sees_another_organisations_campaigns(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_campaign(2, every_day()).await;
    let app = &app;
    let as_globex =
        |method, path: String| async move { app.request(method, &path, GLOBEX_KEY, None).await };
    assert_eq!(
        as_globex(reqwest::Method::GET, format!("/batch-calls/{id}"))
            .await
            .expect(404)
            .error_code(),
        "not_found"
    );
    as_globex(reqwest::Method::POST, format!("/batch-calls/{id}/schedule"))
        .await
        .expect(404);
    as_globex(reqwest::Method::GET, format!("/batch-calls/{id}/contacts"))
        .await
        .expect(404);
    as_globex(reqwest::Method::DELETE, format!("/batch-calls/{id}"))
        .await
        .expect(404);
    let listed = as_globex(reqwest::Method::GET, "/batch-calls".to_owned())
        .await
        .expect(200);
    assert_eq!(listed.body["pagination"]["total"], 0);
    let patched = app
        .request(
            reqwest::Method::PATCH,
            &format!("/batch-calls/{id}"),
            GLOBEX_KEY,
            Some(json!({ "name": "mine" })),
        )
        .await;
    patched.expect(404);
    let campaign = app.campaign(&id).await;
    assert_eq!(
        (campaign["status"].as_str(), campaign["name"].as_str()),
        (Some("draft"), Some("test campaign"))
    );
    app.request(
        reqwest::Method::GET,
        &format!("/batch-calls/batch_{id}"),
        ACME_KEY,
        None,
    )
    .await
    .expect(200);
}

async fn request_ids_are_echoed_or_generated(backend: Backend) {
    let app = spawn_app(backend).await;
    let echoed = app
        .client
        .get(format!("{}/batch-calls", app.base))
        .bearer_auth(ACME_KEY)
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123");
    let body: serde_json::Value = echoed.json().await.unwrap();
    assert_eq!(body["meta"]["request_id"], "trace-123");
    let generated = app.get("/batch-calls").await.expect(200);
    assert!(generated.headers.contains_key("x-request-id"));
}

crate::helpers::on_both_backends!(
    campaign_routes_need_a_key_and_health_does_not,
    one_organisation_never_sees_another_organisations_campaigns,
    request_ids_are_echoed_or_generated,
);
