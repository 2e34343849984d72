//! A campaign of 10 k contacts run to completion on the embedded store through the campaign
//! actor and the dialer pool, with no pacing limits (no daily cap, the widest window, 100
//! concurrent calls): once with an instant simulated dialer, once with the webhook dialer and a
//! provider on loopback that answers each dial at once with its outcome. The baseline, in the
//! same run, is the store alone driven by a plain loop (claim 100, record 100), so the ratios are
//! the cost of the actors and the cost of one HTTP request per call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pacer::actors::{CampaignOp, Directory, DirectoryOptions};
use pacer::clock::{Clock, SystemClock};
use pacer::dialer::{CarrierGate, Dialer, SimulatedDialer, WebhookDialer, WebhookDialerSettings};
use pacer::domain::{
    CampaignId, CampaignSpec, CampaignStatus, DialOutcome, OrgId, PhoneNumber, PhoneRotation,
    Schedule, SchedulePatch,
};
use pacer::store::capabilities::*;
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

/// Which dialer places the calls.
#[derive(Debug, Clone, Copy)]
enum DialerKind {
    Instant,
    Webhook,
}

/// A provider on loopback that places every call at once and answers with its outcome.
fn start_provider() -> String {
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().default_service(actix_web::web::to(|| async {
            actix_web::HttpResponse::Ok()
                .content_type("application/json")
                .body(r#"{"outcome":"completed","duration_seconds":1}"#)
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("the provider binds");
    let port = server.addrs()[0].port();
    actix_rt::spawn(server.run());
    format!("http://127.0.0.1:{port}/dial")
}

/// Schedule to `completed` through the actors; the time of that span.
fn run_through_actors(kind: DialerKind) -> Duration {
    actix_rt::System::new().block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn CampaignStore> = Arc::new(MemoryStore::new());
        let gate = Arc::new(CarrierGate::unlimited(store.clone()));
        let dialer: Arc<dyn Dialer> = match kind {
            DialerKind::Instant => {
                Arc::new(SimulatedDialer::from_settings("0..0", "completed=1", 1.0).expect("valid"))
            }
            DialerKind::Webhook => Arc::new(
                WebhookDialer::new(
                    WebhookDialerSettings {
                        url: start_provider(),
                        secret: "bench-secret-0123456789".to_owned(),
                        timeout: Duration::from_secs(5),
                        tries: 3,
                        backoff: Duration::from_millis(10),
                    },
                    store.clone(),
                    gate.clone(),
                    clock.clone(),
                )
                .expect("a valid dialer"),
            ),
        };
        let directory = Directory::new(
            store.clone(),
            clock.clone(),
            dialer,
            DirectoryOptions {
                gate: Some(gate),
                ..DirectoryOptions::default()
            },
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
            .expect("leased")
            .expect("a free lease");
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
        b.iter_custom(|n| {
            (0..n)
                .map(|_| run_through_actors(DialerKind::Instant))
                .sum()
        });
    });
    group.bench_function("actors_and_webhook_dialer", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| run_through_actors(DialerKind::Webhook))
                .sum()
        });
    });
    group.finish();
}

criterion_group!(benches, campaign_run);
criterion_main!(benches);
