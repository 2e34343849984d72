//! A campaign of 10 k contacts run to completion on the embedded store through the campaign
//! actor and the dialer pool, with an instant simulated dialer and no pacing limits (no daily
//! cap, the widest window, 100 concurrent calls). The baseline, in the same run, is the store
//! alone driven by a plain loop (claim 100, record 100), so the ratio is the cost of the actors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pacer::actors::{CampaignOp, Directory, DirectoryOptions};
use pacer::clock::{Clock, SystemClock};
use pacer::dialer::SimulatedDialer;
use pacer::domain::{
    CampaignId, CampaignSpec, CampaignStatus, DialOutcome, OrgId, PhoneNumber, PhoneRotation,
    Schedule, SchedulePatch,
};
use pacer::store::{CallResult, CampaignStore, MemoryStore, NewContact};

const N_CONTACTS: usize = 10_000;

fn org() -> OrgId {
    OrgId::parse("bench").expect("a valid organisation")
}

async fn create(store: &dyn CampaignStore, now: DateTime<Utc>) -> CampaignId {
    let schedule = Schedule::default()
        .apply(&SchedulePatch {
            working_days: Some(vec![1, 2, 3, 4, 5, 6, 7]),
            max_concurrent_calls: Some(100),
            ..SchedulePatch::default()
        })
        .expect("a valid schedule");
    let spec = CampaignSpec {
        name: "bench".to_owned(),
        agent_id: "agent".to_owned(),
        phone_number_ids: Vec::new(),
        rotation: PhoneRotation::Random,
        schedule,
    };
    let contacts = (0..N_CONTACTS)
        .map(|i| {
            NewContact::new(PhoneNumber::parse(&format!("+1555{i:07}")).expect("a valid number"))
        })
        .collect();
    store
        .create_campaign(&org(), spec, contacts, now)
        .await
        .expect("created")
        .0
        .id
}

/// Schedule to `completed` through the actors; the time of that span.
fn run_through_actors() -> Duration {
    actix_rt::System::new().block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn CampaignStore> = Arc::new(MemoryStore::new());
        let dialer =
            Arc::new(SimulatedDialer::from_settings("0..0", "completed=1", 1.0).expect("valid"));
        let directory = Directory::new(
            store.clone(),
            clock.clone(),
            dialer,
            DirectoryOptions::default(),
        );
        let id = create(&*store, clock.now()).await;
        let started = Instant::now();
        directory
            .run(&org(), id, CampaignOp::Schedule(SchedulePatch::default()))
            .await
            .expect("scheduled");
        // Bounded: a run that takes over a minute is a failure, not a measurement.
        while started.elapsed() < Duration::from_secs(60) {
            if store.campaign(&org(), id).await.expect("readable").status
                == CampaignStatus::Completed
            {
                return started.elapsed();
            }
            actix_rt::time::sleep(Duration::from_micros(200)).await;
        }
        panic!("the campaign did not complete within a minute");
    })
}

/// The same work on the store alone: claim up to 100, record each, until none is left.
fn run_store_only() -> Duration {
    actix_rt::System::new().block_on(async {
        let store = MemoryStore::new();
        let now = SystemClock.now();
        let id = create(&store, now).await;
        let started = Instant::now();
        store
            .schedule_campaign(&org(), id, SchedulePatch::default(), now)
            .await
            .expect("scheduled");
        let fence = store
            .acquire_lease(id, "bench", Duration::from_secs(60))
            .await
            .expect("leased");
        let done = CallResult {
            outcome: DialOutcome::Completed,
            duration_secs: 0,
        };
        loop {
            let batch = store.claim_due(id, fence, now, 100).await.expect("claimed");
            if batch.calls.is_empty() {
                break;
            }
            for call in batch.calls {
                store
                    .record_outcome(id, call.contact_id, call.attempt, done, now)
                    .await
                    .expect("recorded");
            }
        }
        assert_eq!(
            store.campaign(&org(), id).await.expect("readable").status,
            CampaignStatus::Completed
        );
        started.elapsed()
    })
}

fn campaign_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("campaign_10k_to_completion");
    group.sample_size(10);
    group.bench_function("baseline_store_only", |b| {
        b.iter_custom(|n| (0..n).map(|_| run_store_only()).sum());
    });
    group.bench_function("actors_and_instant_dialer", |b| {
        b.iter_custom(|n| (0..n).map(|_| run_through_actors()).sum());
    });
    group.finish();
}

criterion_group!(benches, campaign_run);
criterion_main!(benches);
