//! The pacing function distributing 1 M contacts (target: under 50 ms), beside a baseline of
//! the same number of plain millisecond additions measured in the same run; and the callee
//! gate's verdict for one partition (what a claim pays per partition), beside the claim-time
//! gate of the campaign itself.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pacer::domain::{Plan, Schedule, SchedulePatch};

const N_CONTACTS: usize = 1_000_000;

fn schedule(zone: &str, cap: Option<i64>) -> Schedule {
    Schedule::default()
        .apply(&SchedulePatch {
            timezone: Some(zone.to_owned()),
            start_time: Some(Some("09:00".to_owned())),
            end_time: Some(Some("17:00".to_owned())),
            max_calls_per_day: Some(cap),
            ..SchedulePatch::default()
        })
        .expect("a valid schedule")
}

fn distribute(schedule: &Schedule, anchor: DateTime<Utc>) -> Vec<i64> {
    Plan::new(schedule, anchor, 0)
        .slots()
        .take(N_CONTACTS)
        .map(|slot| slot.timestamp_millis())
        .collect()
}

fn pacing(c: &mut Criterion) {
    let anchor: DateTime<Utc> = "2026-11-30T08:00:00Z".parse().expect("an instant");
    let mut group = c.benchmark_group("distribute_1m_contacts");
    group.sample_size(20);
    group.bench_function("baseline_plain_additions", |b| {
        b.iter(|| {
            let start = black_box(anchor.timestamp_millis());
            (0..N_CONTACTS as i64)
                .map(|i| start + i * 288_000)
                .collect::<Vec<i64>>()
        });
    });
    // 100 a day: 10,000 working days of slots, the DST days among them.
    let new_york = schedule("America/New_York", Some(100));
    group.bench_function("new_york_cap_100", |b| {
        b.iter(|| distribute(black_box(&new_york), anchor));
    });
    let london = schedule("Europe/London", Some(10_000));
    group.bench_function("london_cap_10000", |b| {
        b.iter(|| distribute(black_box(&london), anchor));
    });
    let no_cap = schedule("UTC", None);
    group.bench_function("utc_no_cap", |b| {
        b.iter(|| distribute(black_box(&no_cap), anchor));
    });
    group.bench_function("projection_of_position_999999", |b| {
        b.iter(|| {
            Plan::new(black_box(&new_york), anchor, 0)
                .slots_from(999_999)
                .next()
        });
    });
    group.finish();
}

/// One partition's verdict, as a claim decides it: a campaign in New York, 09:00–20:00, and a
/// national list's partitions (one zone, two zones, the campaign's own).
fn callee_gate(c: &mut Criterion) {
    let safety = pacer::config::Settings::defaults()
        .compliance
        .call_safety()
        .expect("the shipped profiles");
    let campaign = Schedule::default()
        .apply(&SchedulePatch {
            timezone: Some("America/New_York".to_owned()),
            start_time: Some(Some("09:00".to_owned())),
            end_time: Some(Some("20:00".to_owned())),
            ..SchedulePatch::default()
        })
        .expect("a valid schedule");
    // Monday 17:00Z: open in New York and Los Angeles, closed in Honolulu.
    let now: DateTime<Utc> = "2026-11-30T17:00:00Z".parse().expect("an instant");
    let mut group = c.benchmark_group("callee_gate");
    group.bench_function("baseline_campaign_gate", |b| {
        let pacing = pacer::domain::PacingState::default();
        b.iter(|| black_box(&campaign).gate(now, &pacing, black_box(now)));
    });
    for (name, key) in [
        ("partition_0_campaign_zone", ""),
        ("los_angeles_open", "America/Los_Angeles;US-CA"),
        ("honolulu_held", "Pacific/Honolulu;US-HI"),
        ("alaska_two_zones", "America/Adak America/Anchorage;US-AK"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| safety.verdict(black_box(&campaign), "acme", black_box(key), now));
        });
    }
    group.finish();
}

criterion_group!(benches, pacing, callee_gate);
criterion_main!(benches);
