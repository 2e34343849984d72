//! The callee's clock: each contact's zone, from its own field, its number, or its campaign.

use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn each_contact_shows_its_zone_and_where_it_came_from(backend: Backend) {
    let app = spawn_app(backend).await;
    let contacts = json!([
        { "phone_number": "+12125550123" },                           // New York
        { "phone_number": "+13105550123" },                           // Los Angeles
        { "phone_number": "+19075550123" },                           // Alaska: two zones
        { "phone_number": "+999123456" },                             // no country: the campaign's
        { "phone_number": "+12125550124", "timezone": "Asia/Tokyo" }, // its own
    ]);
    let body = json!({
        "name": "zones", "agent_id": "a", "timezone": "Europe/Berlin", "contacts": contacts,
    });
    let id = app.post("/batch-calls", body).await.expect(201).data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown: Vec<(String, String)> = app
        .contacts(&id)
        .await
        .iter()
        .map(|contact| {
            let field = |name: &str| contact[name].as_str().unwrap_or_default().to_owned();
            (field("timezone"), field("timezone_source"))
        })
        .collect();
    let expected = [
        ("America/New_York", "number"),
        ("America/Los_Angeles", "number"),
        ("America/Adak|America/Anchorage", "number"),
        ("Europe/Berlin", "fallback"),
        ("Asia/Tokyo", "contact"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(zone, source)| ((*zone).to_owned(), (*source).to_owned()))
        .collect();
    assert_eq!(shown, expected);
}

crate::helpers::on_both_backends!(each_contact_shows_its_zone_and_where_it_came_from);
