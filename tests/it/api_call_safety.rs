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
    day_rules_hold_a_contact_until_the_next_allowed_day,
    unresolvable_contacts_are_skipped_and_found_by_their_reason,
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

/// An Alabama number is held on a Sunday and on a state holiday (its floor's day rules) and
/// called on the next allowed day; held contacts say why.
async fn day_rules_hold_a_contact_until_the_next_allowed_day(backend: Backend) {
    // Sunday 2026-12-06, 15:00 UTC: 09:00 in Birmingham.
    let app = spawn_app_on(backend.store(), at("2026-12-06T15:00:00Z")).await;
    let body = json!({
        "name": "alabama", "agent_id": "a", "timezone": "America/Chicago",
        "start_time": "09:00", "end_time": "17:00", "working_days": [1, 2, 3, 4, 5, 6, 7],
        "retry_failed": true, "max_retry_attempts": 3, "retry_delay_minutes": 60,
        "contacts": [{ "phone_number": "+12055550104" }],
    });
    let id = app.post("/batch-calls", body).await.expect(201).data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.command(&id, "schedule").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 0, "no call on a Sunday in Alabama");
    let contact = app.contacts(&id).await[0].clone();
    assert_eq!(contact["held_reason"], "legal_hours");
    assert_eq!(contact["next_eligible_at"], "2026-12-07T15:00:00.000Z");
    app.advance_to(at("2026-12-07T15:00:00Z")).await;
    assert_eq!(app.dialer.n_placed(), 1, "called on Monday at 09:00");
    // Christmas Day 2026 is a Friday and an Alabama holiday: a retry due then waits for Saturday.
    app.finish_all(DialOutcome::NoAnswer).await;
    app.advance_to(at("2026-12-25T15:00:00Z")).await;
    let placed_before = app.dialer.n_placed();
    let contact = app.contacts(&id).await[0].clone();
    assert_eq!(contact["held_reason"], "holiday", "{contact}");
    assert_eq!(contact["next_eligible_at"], "2026-12-26T15:00:00.000Z");
    app.advance_to(at("2026-12-26T15:00:00Z")).await;
    assert_eq!(
        app.dialer.n_placed(),
        placed_before + 1,
        "called on Saturday"
    );
}

/// With `timezone_fallback: skip`, a contact whose zone is unknown ends `skipped` with its
/// reason, found by `skip_reason`.
async fn unresolvable_contacts_are_skipped_and_found_by_their_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({
        "name": "skip", "agent_id": "a", "working_days": [1, 2, 3, 4, 5, 6, 7],
        "timezone_fallback": "skip",
        "contacts": [{ "phone_number": "+15550001234" }, { "phone_number": "+447700900301" }],
    });
    let id = app.post("/batch-calls", body).await.expect(201).data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.command(&id, "schedule").await.expect(200);
    app.tick().await;
    assert_eq!(app.dialer.n_placed(), 1);
    let skipped = app
        .get(&format!(
            "/batch-calls/{id}/contacts?skip_reason=timezone_unresolvable"
        ))
        .await
        .expect(200);
    let skipped = skipped.data().as_array().unwrap().clone();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["phone_number"], "+15550001234");
    assert_eq!(skipped[0]["status"], "skipped");
    assert_eq!(skipped[0]["skip_reason"], "timezone_unresolvable");
    assert_eq!(app.campaign(&id).await["skipped"], 1);
    let reply = app
        .get(&format!("/batch-calls/{id}/contacts?skip_reason=bored"))
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "skip_reason");
}

mod claims {
    //! The store's claims under the callee gate, over many random campaigns and timelines.

    use std::collections::HashMap;
    use std::sync::Arc;

    use chrono::{DateTime, Duration, Utc};
    use pacer::domain::{
        CampaignSpec, DialOutcome, OrgId, PhoneNumber, PhoneRotation, Schedule, SchedulePatch,
        Verdict, local_date, partition_key,
    };
    use pacer::store::capabilities::*;
    use pacer::store::{CallResult, CampaignStore, MemoryStore, NewContact};
    use proptest::prelude::*;

    /// Numbers of the golden list (their zones known by where they are), one suffix each.
    const AREAS: &[&str] = &[
        "+1212", "+1312", "+1303", "+1602", "+1310", "+1808", "+1907", "+1605", "+1305", "+1205",
        "+1416", "+4420", "+1555",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Across DST days of several zones: no call is claimed outside its callee's effective
        /// window (the gate's verdict is open then), the daily cap and the concurrency limit
        /// hold, and each zone's contacts are called in the order they were added.
        #[test]
        fn claims_obey_the_callee_gate_the_cap_concurrency_and_zone_order(
            zone in prop::sample::select(vec!["America/New_York", "America/Los_Angeles", "Europe/London"]),
            contact_mode in any::<bool>(),
            start_hour in 6u32..12,
            end_hour in 14u32..23,
            cap in prop::option::of(5i64..40),
            concurrency in 1i64..8,
            areas in prop::collection::vec(0usize..AREAS.len(), 5..40),
            // Around the US and European DST changes of 2026.
            start_day in prop::sample::select(vec!["2026-03-06", "2026-03-27", "2026-10-23", "2026-10-30"]),
            steps in prop::collection::vec(1i64..45, 150..300),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let safety = Arc::new(
                    pacer::config::Settings::defaults().compliance.call_safety().unwrap(),
                );
                let store = MemoryStore::new();
                store.set_call_safety(safety.clone());
                let schedule = Schedule::default()
                    .apply(&SchedulePatch {
                        timezone: Some(zone.into()),
                        start_time: Some(Some(format!("{start_hour:02}:00"))),
                        end_time: Some(Some(format!("{end_hour:02}:00"))),
                        working_days: Some(vec![1, 2, 3, 4, 5, 6, 7]),
                        max_calls_per_day: Some(cap),
                        max_concurrent_calls: Some(concurrency),
                        timezone_mode: Some(if contact_mode { "contact" } else { "campaign" }.into()),
                        ..SchedulePatch::default()
                    })
                    .unwrap();
                let spec = CampaignSpec {
                    name: "property".into(),
                    agent_id: "a".into(),
                    phone_number_ids: Vec::new(),
                    rotation: PhoneRotation::Random,
                    schedule: schedule.clone(),
                };
                let phones: Vec<String> = areas
                    .iter()
                    .enumerate()
                    .map(|(index, &area)| format!("{}{:07}", AREAS[area], 5_550_000 + index))
                    .collect();
                let contacts = phones
                    .iter()
                    .map(|phone| NewContact::new(PhoneNumber::parse(phone).unwrap()))
                    .collect();
                let org = OrgId::parse("acme").unwrap();
                let mut now: DateTime<Utc> = format!("{start_day}T00:00:00Z").parse().unwrap();
                let (campaign, _) = store.create_campaign(&org, spec, contacts, now).await.unwrap();
                let id = campaign.id;
                store
                    .schedule_campaign(&org, id, SchedulePatch::default(), now)
                    .await
                    .unwrap();
                let fence = store
                    .acquire_lease(id, "property", std::time::Duration::from_secs(3600))
                    .await
                    .unwrap()
                    .unwrap();
                let index_of: HashMap<&str, usize> =
                    phones.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
                let mut per_day: HashMap<chrono::NaiveDate, i64> = HashMap::new();
                let mut last_by_partition: HashMap<String, usize> = HashMap::new();
                let mut running = Vec::new();
                for (step, minutes) in steps.iter().enumerate() {
                    // A call without an outcome by its deadline (an hour) ends `unknown`.
                    running.retain(|(_, claimed_at)| *claimed_at + Duration::hours(1) > now);
                    let batch = store.claim_due(id, fence, now, 100).await.unwrap();
                    for call in &batch.calls {
                        let key = partition_key(None, &call.phone);
                        let verdict = safety.verdict(&schedule, "acme", &key, now);
                        prop_assert!(
                            matches!(verdict, Verdict::Open { .. }),
                            "{} called at {now} while its gate says {verdict:?}", call.phone.as_str()
                        );
                        prop_assert!(call.not_after.is_some_and(|not_after| not_after > now));
                        let day = local_date(schedule.timezone, now);
                        let count = per_day.entry(day).or_default();
                        *count += 1;
                        if let Some(cap) = cap {
                            prop_assert!(*count <= cap, "{count} calls on {day}, cap {cap}");
                        }
                        let index = index_of[call.phone.as_str()];
                        if let Some(previous) = last_by_partition.insert(key.clone(), index) {
                            prop_assert!(previous < index, "{key}: {index} called after {previous}");
                        }
                        running.push((call.clone(), now));
                    }
                    prop_assert!(running.len() as i64 <= concurrency);
                    // Calls end at the next step, some of them.
                    let (ending, staying): (Vec<_>, Vec<_>) =
                        running.drain(..).enumerate().partition(|(i, _)| (i + step) % 3 != 0);
                    running = staying.into_iter().map(|(_, running)| running).collect();
                    now += Duration::minutes(*minutes);
                    for (_, (call, _)) in ending {
                        let done = CallResult { outcome: DialOutcome::Completed, duration_secs: 30 };
                        store
                            .record_outcome(id, call.contact_id, call.attempt, done, now)
                            .await
                            .unwrap();
                    }
                }
                Ok(())
            })?;
        }
    }
}
