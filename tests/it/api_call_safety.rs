//! The callee's clock: each contact's zone, from its own field, its number, or its campaign;
//! calls inside each callee's legal hours, and why a contact waits.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use pacer::clock::Clock as _;
use pacer::domain::DialOutcome;
use serde_json::json;

use crate::helpers::{Backend, at, scrape_metrics, spawn_app, spawn_app_on};

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

/// A contact's candidate zones, its legal hours there (start, end, in minutes of the day) by
/// weekday (0 = Monday), or none when no floor holds (London).
struct Callee {
    phone: &'static str,
    zones: &'static [Tz],
    floor: Option<fn(u32) -> (u32, u32)>,
}

fn us_federal(_: u32) -> (u32, u32) {
    (8 * 60, 21 * 60)
}

fn canada(weekday: u32) -> (u32, u32) {
    if weekday < 5 {
        (9 * 60, 21 * 60 + 30)
    } else {
        (10 * 60, 18 * 60)
    }
}

const NATIONAL: &[Callee] = &[
    Callee {
        phone: "+12125550101",
        zones: &[chrono_tz::America::New_York],
        floor: Some(us_federal),
    },
    Callee {
        phone: "+13125550101",
        zones: &[chrono_tz::America::Chicago],
        floor: Some(us_federal),
    },
    Callee {
        phone: "+13035550101",
        zones: &[chrono_tz::America::Denver],
        floor: Some(us_federal),
    },
    Callee {
        phone: "+16025550101",
        zones: &[chrono_tz::America::Phoenix],
        floor: Some(us_federal),
    },
    Callee {
        phone: "+13105550101",
        zones: &[chrono_tz::America::Los_Angeles],
        floor: Some(us_federal),
    },
    Callee {
        phone: "+18085550101",
        zones: &[chrono_tz::Pacific::Honolulu],
        floor: Some(us_federal),
    },
    Callee {
        phone: "+19075550101",
        zones: &[chrono_tz::America::Adak, chrono_tz::America::Anchorage],
        floor: Some(us_federal),
    },
    Callee {
        phone: "+14165550101",
        zones: &[chrono_tz::America::Toronto],
        floor: Some(canada),
    },
    Callee {
        phone: "+442071234567",
        zones: &[chrono_tz::Europe::London],
        floor: None,
    },
    Callee {
        phone: "+16055550101",
        zones: &[
            chrono_tz::America::Denver,
            chrono_tz::America::North_Dakota::Center,
        ],
        floor: Some(us_federal),
    },
];

fn minute_in(zone: Tz, instant: DateTime<Utc>) -> (u32, u32) {
    let local = instant.with_timezone(&zone);
    (
        local.weekday().num_days_from_monday(),
        local.hour() * 60 + local.minute(),
    )
}

/// A campaign in New York, 09:00–20:00 every day, calling across North America and London:
/// each contact's first call falls inside its own legal hours (in every candidate zone) and the
/// campaign's window; while the west waits, the diagnostics name the floor and the contacts
/// say why they wait and until when.
async fn a_national_list_is_called_in_each_callee_s_legal_hours(backend: Backend) {
    let app = spawn_app_on(backend.store(), at("2026-11-30T13:00:00Z")).await;
    let contacts: Vec<_> = NATIONAL
        .iter()
        .map(|callee| json!({ "phone_number": callee.phone }))
        .collect();
    let body = json!({
        "name": "national", "agent_id": "a", "timezone": "America/New_York",
        "start_time": "09:00", "end_time": "20:00", "working_days": [1, 2, 3, 4, 5, 6, 7],
        "max_concurrent_calls": 20, "contacts": contacts,
    });
    let reply = app.post("/batch-calls", body).await.expect(201);
    assert!(
        reply
            .body
            .get("warnings")
            .is_some_and(|warnings| warnings[0]["code"] == "outside_legal_hours"),
        "Canada's weekend hours are narrower than the window: {}",
        reply.body
    );
    let id = reply.data()["id"].as_str().unwrap().to_owned();
    app.command(&id, "schedule").await.expect(200);
    let mut first_call: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut diagnosed = false;
    let end = at("2026-12-01T13:00:00Z");
    while app.clock.now() < end {
        app.tick().await;
        for placed in app.dialer.placed() {
            first_call
                .entry(placed.call.phone.as_str().to_owned())
                .or_insert(placed.placed_at);
        }
        app.finish_all(DialOutcome::Completed).await;
        // 10:30 in New York, 07:30 in Los Angeles: the west coast waits for its floor.
        if app.clock.now() == at("2026-11-30T15:30:00Z") {
            let diagnostics = app
                .get(&format!("/batch-calls/{id}/diagnostics"))
                .await
                .expect(200);
            let data = diagnostics.data();
            let rules: Vec<&str> = data["blocked_by"]
                .as_array()
                .unwrap()
                .iter()
                .map(|blocked| blocked["rule"].as_str().unwrap())
                .collect();
            assert!(rules.contains(&"legal_hours"), "{data}");
            assert!(
                data["held_by_reason"]["legal_hours"].as_u64().unwrap() >= 1,
                "{data}"
            );
            assert_eq!(data["calling_now"], false, "{data}");
            let held = app
                .get(&format!(
                    "/batch-calls/{id}/contacts?held_reason=legal_hours"
                ))
                .await
                .expect(200);
            let los_angeles = held
                .data()
                .as_array()
                .unwrap()
                .iter()
                .find(|contact| contact["phone_number"] == "+13105550101")
                .expect("Los Angeles waits for its floor")
                .clone();
            assert_eq!(los_angeles["next_eligible_at"], "2026-11-30T16:00:00.000Z");
            diagnosed = true;
        }
        app.clock.advance(chrono::Duration::minutes(5));
    }
    assert!(diagnosed);
    for callee in NATIONAL {
        let placed = *first_call
            .get(callee.phone)
            .unwrap_or_else(|| panic!("{} was never called", callee.phone));
        let (_, in_new_york) = minute_in(chrono_tz::America::New_York, placed);
        assert!(
            (9 * 60..20 * 60).contains(&in_new_york),
            "{} called at {placed}, outside the campaign's window",
            callee.phone
        );
        if let Some(floor) = callee.floor {
            for zone in callee.zones {
                let (weekday, minute) = minute_in(*zone, placed);
                let (start, end) = floor(weekday);
                assert!(
                    (start..end).contains(&minute),
                    "{} called at {placed}, outside its legal hours in {zone}",
                    callee.phone
                );
            }
        }
    }
    assert_eq!(app.campaign(&id).await["completed"], NATIONAL.len());
    let metrics = scrape_metrics(&app.client, &app.root).await;
    assert!(
        metrics.contains("pacer_contacts_held_total{reason=\"legal_hours\"}"),
        "the held contacts are counted by reason"
    );
}

/// A campaign open 06:00–23:00 never calls a US number before 08:00 or after 21:00 in its
/// own time.
async fn a_wide_window_waits_for_the_floor(backend: Backend) {
    // 10:00Z is 05:00 in New York.
    let app = spawn_app_on(backend.store(), at("2026-11-30T10:00:00Z")).await;
    let body = json!({
        "name": "wide", "agent_id": "a", "timezone": "America/New_York",
        "start_time": "06:00", "end_time": "23:00", "working_days": [1, 2, 3, 4, 5, 6, 7],
        "retry_failed": true, "max_retry_attempts": 3, "retry_delay_minutes": 30,
        "contacts": [{ "phone_number": "+12125550102" }],
    });
    let reply = app.post("/batch-calls", body).await.expect(201);
    assert_eq!(reply.body["warnings"][0]["code"], "outside_legal_hours");
    let id = reply.data()["id"].as_str().unwrap().to_owned();
    app.command(&id, "schedule").await.expect(200);
    let mut placed_at = Vec::new();
    for _ in 0..(24 * 12) {
        app.tick().await;
        placed_at.extend(app.dialer.running().iter().map(|_| app.clock.now()));
        app.finish_all(DialOutcome::NoAnswer).await;
        app.clock.advance(chrono::Duration::minutes(5));
    }
    assert_eq!(placed_at.len(), 4, "the first call and three retries");
    for instant in placed_at {
        let (_, minute) = minute_in(chrono_tz::America::New_York, instant);
        assert!((8 * 60..21 * 60).contains(&minute), "called at {instant}");
    }
}

crate::helpers::on_both_backends!(
    each_contact_shows_its_zone_and_where_it_came_from,
    a_national_list_is_called_in_each_callee_s_legal_hours,
    a_wide_window_waits_for_the_floor,
    the_timezone_mode_is_validated_and_shown,
    calling_windows_are_kept_shown_and_obeyed,
);

/// `timezone_mode` and `timezone_fallback` are validated, kept and shown.
async fn the_timezone_mode_is_validated_and_shown(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "name": "m", "agent_id": "a", "timezone_mode": "callee" });
    let reply = app.post("/batch-calls", body).await.expect(422);
    assert_eq!(reply.error_field(), "timezone_mode");
    let body = json!({ "name": "m", "agent_id": "a", "timezone_fallback": "guess" });
    let reply = app.post("/batch-calls", body).await.expect(422);
    assert_eq!(reply.error_field(), "timezone_fallback");
    let body = json!({ "name": "m", "agent_id": "a" });
    let created = app.post("/batch-calls", body).await.expect(201);
    assert_eq!(created.data()["timezone_mode"], "campaign");
    assert_eq!(created.data()["timezone_fallback"], "campaign");
    let id = created.data()["id"].as_str().unwrap().to_owned();
    let patch = json!({ "timezone_mode": "contact", "timezone_fallback": "skip" });
    app.patch(&format!("/batch-calls/{id}"), patch)
        .await
        .expect(200);
    let campaign = app.campaign(&id).await;
    assert_eq!(campaign["timezone_mode"], "contact");
    assert_eq!(campaign["timezone_fallback"], "skip");
}

/// `calling_windows`: several windows a day, checked, kept, shown beside the seed vendor's
/// fields, and obeyed: nothing is called in the gap between two windows.
async fn calling_windows_are_kept_shown_and_obeyed(backend: Backend) {
    // Monday 2026-11-30, 13:30 UTC: in the gap between 10:00–13:00 and 14:00–20:00.
    let app = spawn_app_on(backend.store(), at("2026-11-30T13:30:00Z")).await;
    let windows = json!([
        { "days": [1, 2, 3, 4, 5], "start_time": "10:00", "end_time": "13:00" },
        { "days": [1, 2, 3, 4, 5], "start_time": "14:00", "end_time": "20:00" },
        { "days": [6], "start_time": "10:00", "end_time": "18:00" },
    ]);
    let mixed =
        json!({ "name": "w", "agent_id": "a", "calling_windows": windows, "start_time": "09:00" });
    let reply = app.post("/batch-calls", mixed).await.expect(422);
    assert_eq!(reply.error_field(), "calling_windows");
    let overlapping = json!({ "name": "w", "agent_id": "a", "calling_windows": [
        { "days": [1], "start_time": "10:00", "end_time": "13:00" },
        { "days": [1, 2], "start_time": "12:00", "end_time": "14:00" },
    ]});
    let reply = app.post("/batch-calls", overlapping).await.expect(422);
    assert_eq!(reply.error_field(), "calling_windows[1]");
    let body = json!({
        "name": "w", "agent_id": "a", "calling_windows": windows,
        "contacts": [{ "phone_number": "+447700900201" }],
    });
    let created = app.post("/batch-calls", body).await.expect(201);
    let data = created.data();
    assert_eq!(data["calling_windows"], windows);
    assert_eq!(
        (data["start_time"].as_str(), data["end_time"].as_str()),
        (Some("10:00"), Some("13:00"))
    );
    assert_eq!(data["working_days"], json!([1, 2, 3, 4, 5, 6]));
    let id = data["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.campaign(&id).await["calling_windows"],
        windows,
        "kept by the store"
    );
    app.command(&id, "schedule").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 0, "nothing in the gap");
    app.advance_to(at("2026-11-30T14:00:00Z")).await;
    assert_eq!(
        app.dialer.n_placed(),
        1,
        "called when the second window opens"
    );
    // The seed's fields replace the windows.
    let edited = app
        .patch(
            &format!("/batch-calls/{id}"),
            json!({ "start_time": "09:00", "end_time": "17:00" }),
        )
        .await
        .expect(200);
    assert_eq!(
        edited.data()["calling_windows"],
        json!([{ "days": [1, 2, 3, 4, 5, 6], "start_time": "09:00", "end_time": "17:00" }])
    );
}
