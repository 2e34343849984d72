//! A campaign's expiry and its forecast through the API.

use chrono::Duration;
use pacer::domain::DialOutcome;
use serde_json::json;

use crate::helpers::{Backend, at, on_both_backends, spawn_app};

/// 1 000 contacts at 100 a day, 09:00–17:00 every day, from Monday 08:00 UTC.
fn capped(expires_at: &str, strict: bool) -> serde_json::Value {
    json!({
        "working_days": [1, 2, 3, 4, 5, 6, 7], "start_time": "09:00", "end_time": "17:00",
        "max_calls_per_day": 100, "expires_at": expires_at, "strict_expiry": strict,
    })
}

async fn an_expiry_ends_what_the_forecast_said_it_would(backend: Backend) {
    let app = spawn_app(backend).await;
    // Five days of calls fit before Saturday.
    let expires = "2026-12-05T00:00:00Z";
    let id = app.create_campaign(1_000, capped(expires, false)).await;
    let forecast = app
        .get(&format!("/batch-calls/{id}/forecast"))
        .await
        .expect(200);
    let forecast = forecast.data().clone();
    assert_eq!(forecast["contacts_at_risk"], 500, "{forecast}");
    assert_eq!(forecast["limiting_factor"], "daily_cap");
    assert_eq!(forecast["waiting"], 1_000);
    // Ten days of 100 (8 h / 100 apart), plus a minute's call.
    assert_eq!(
        forecast["estimated_completion_at"],
        "2026-12-09T16:56:12.000Z"
    );
    app.command(&id, "schedule").await.expect(200);
    for day in 0..5 {
        let open = at("2026-11-30T09:00:00Z") + Duration::days(day);
        for slot in 0..100 {
            app.advance_to(open + Duration::seconds(288 * slot)).await;
            app.finish_all(DialOutcome::Completed).await;
        }
    }
    assert_eq!(app.dialer.n_placed(), 500);
    app.advance_to(at(expires)).await;
    let campaign = app.campaign(&id).await;
    assert_eq!(campaign["status"], "completed", "{campaign}");
    assert_eq!(campaign["completed"], 500);
    assert_eq!(campaign["expired"], 500);
    assert_eq!(campaign["pending"], 0);
    app.advance_to(at("2026-12-07T09:00:00Z")).await;
    assert_eq!(
        app.dialer.n_placed(),
        500,
        "nothing called after the expiry"
    );
    let expired = app
        .get(&format!(
            "/batch-calls/{id}/contacts?status=expired&limit=1"
        ))
        .await
        .expect(200);
    assert_eq!(expired.body["pagination"]["total"], 500);
    assert_eq!(expired.data()[0]["skip_reason"], "expired");
    let after = app
        .get(&format!("/batch-calls/{id}/forecast"))
        .await
        .expect(200);
    assert_eq!(
        after.data()["estimated_completion_at"],
        serde_json::Value::Null
    );
}

async fn a_strict_expiry_refuses_a_plan_that_cannot_fit(backend: Backend) {
    let app = spawn_app(backend).await;
    let contacts: Vec<_> = (0..1_000)
        .map(|i| json!({ "phone_number": crate::helpers::phone(i) }))
        .collect();
    let mut body = capped("2026-12-05T00:00:00Z", true);
    body["name"] = json!("strict");
    body["agent_id"] = json!("a");
    body["contacts"] = json!(contacts);
    let reply = app.post("/batch-calls", body.clone()).await.expect(422);
    assert_eq!(reply.error_field(), "expires_at");
    assert_eq!(
        reply.body["error"]["details"]["minimum_expires_at"],
        "2026-12-09T16:56:12Z"
    );
    assert_eq!(app.get("/batch-calls").await.body["pagination"]["total"], 0);
    body["expires_at"] = json!("2026-12-10T00:00:00Z");
    let id = app.create(body).await;
    // An edit that shortens it, or halves the cap, is refused the same way; nothing changes.
    let path = format!("/batch-calls/{id}");
    app.patch(&path, json!({ "max_calls_per_day": 50 }))
        .await
        .expect(422);
    app.patch(&path, json!({ "expires_at": "2026-12-06T00:00:00Z" }))
        .await
        .expect(422);
    let campaign = app.campaign(&id).await;
    assert_eq!(campaign["max_calls_per_day"], 100);
    assert_eq!(campaign["expires_at"], "2026-12-10T00:00:00.000Z");
    // An expiry in the past is refused whatever `strict_expiry` says.
    let reply = app
        .patch(
            &path,
            json!({ "expires_at": "2026-11-01T00:00:00Z", "strict_expiry": false }),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "expires_at");
    app.command(&id, "schedule").await.expect(200);
}

on_both_backends!(
    an_expiry_ends_what_the_forecast_said_it_would,
    a_strict_expiry_refuses_a_plan_that_cannot_fit,
);
