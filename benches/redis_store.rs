//! The Redis store's figures, against a redis-server this harness starts on loopback (or the one
//! in `REDIS_URL`), each beside a baseline measured in the same run:
//!
//! 1. memory per pending contact (phone and two custom fields): `INFO memory` before and after;
//!    also for a national list (numbers over the US zones) with `timezone_mode: contact`, fresh
//!    and once every contact was held back by the legal floor;
//! 2. creating a campaign of contacts through the import path (the store's `create_campaign`);
//! 3. PATCH of the schedule while the campaign dispatches: latency percentiles, the next claim
//!    obeying the new pacing, and the slowest command Redis saw (`SLOWLOG`);
//! 4. dispatch throughput through the actors with an instant simulated dialer, beside
//!    `redis-benchmark -P 32 -t zadd,zpopmin`;
//! 5. what a lone call costs Redis (a claim of one contact and its record, as in the lateness
//!    workload: many campaigns, one call each at a time), beside a claim that stops at its
//!    lease check: script time and Redis CPU per call, from `INFO`.
//!
//! `cargo bench --bench redis_store` runs the full sizes (1 M contacts); `-- --quick` a small
//! run. Every loop is bounded in count and time.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a harness prints its table, and marks its phases for a profiler"
)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pacer::actors::{CampaignOp, Directory, DirectoryOptions};
use pacer::clock::{Clock, SystemClock};
use pacer::dialer::SimulatedDialer;
use pacer::domain::{
    CampaignId, CampaignSpec, CampaignStatus, DialOutcome, DncEntry, DncTarget, OrgId, PhoneNumber,
    PhoneRotation, Schedule, SchedulePatch,
};
use pacer::store::capabilities::*;
use pacer::store::{
    CallDeadline, CallResult, CampaignEdit, CampaignStore, Fence, NewContact, RedisSettings,
    RedisStore, StoreError,
};

struct Server {
    url: String,
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn start() -> Self {
        if let Ok(url) = std::env::var("REDIS_URL") {
            let port = url
                .rsplit(':')
                .next()
                .unwrap_or("6379")
                .trim_end_matches('/')
                .parse()
                .unwrap_or(6379);
            return Self {
                url,
                port,
                child: None,
            };
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            child: Some(child),
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn used_memory(&self) -> u64 {
        self.cli(&["INFO", "memory"])
            .lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|value| value.trim().parse().ok())
            .expect("used_memory in INFO")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn store(server: &Server, prefix: &str) -> RedisStore {
    RedisStore::connect(&RedisSettings {
        url: server.url.clone(),
        cluster: false,
        prefix: prefix.to_owned(),
        connections: 4,
        response_timeout: Duration::from_secs(10),
        call_deadline: CallDeadline::default(),
        ca_pem: None,
        idempotency: Default::default(),
    })
    .expect("a store")
}

fn org() -> OrgId {
    OrgId::parse("bench").expect("valid")
}

fn spec(patch: SchedulePatch) -> CampaignSpec {
    let all_days = SchedulePatch {
        working_days: Some(vec![1, 2, 3, 4, 5, 6, 7]),
        ..patch
    };
    CampaignSpec {
        name: "bench".to_owned(),
        agent_id: "agent".to_owned(),
        phone_number_ids: Vec::new(),
        rotation: PhoneRotation::Random,
        schedule: Schedule::default().apply(&all_days).expect("valid"),
    }
}

fn contacts(n: usize) -> Vec<NewContact> {
    (0..n)
        .map(|i| {
            let mut contact =
                NewContact::new(PhoneNumber::parse(&format!("+1555{i:07}")).expect("valid"));
            contact.custom_fields = BTreeMap::from([
                ("plan".to_owned(), "gold".to_owned()),
                ("account".to_owned(), format!("A{i:07}")),
            ]);
            contact
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn create(
    store: &dyn CampaignStore,
    n: usize,
    patch: SchedulePatch,
) -> (CampaignId, Duration) {
    let rows = contacts(n);
    let started = Instant::now();
    let (campaign, _) = store
        .create_campaign(&org(), spec(patch), rows, SystemClock.now())
        .await
        .expect("created");
    (campaign.id, started.elapsed())
}

async fn memory_and_ingest(server: &Server, n: usize, runs: usize) {
    let mut times = Vec::new();
    let mut per_contact = Vec::new();
    for run in 0..runs {
        server.cli(&["FLUSHALL"]);
        let before = server.used_memory();
        let store = store(server, &format!("ingest{run}:"));
        let (_, took) = create(&store, n, SchedulePatch::default()).await;
        times.push(took);
        per_contact.push((server.used_memory() - before) as f64 / n as f64);
    }
    per_contact.sort_by(f64::total_cmp);
    let memory = per_contact[per_contact.len() / 2];
    // Baseline: the same number of plain `SET key value` of the phone number, pipelined.
    server.cli(&["FLUSHALL"]);
    println!("| redis bytes per pending contact | {memory:.0} B | target ≤ 200 B |");
    println!(
        "| create {n} contacts (median of {runs}) | {:.2} s | target ≤ 5 s |",
        median(times).as_secs_f64()
    );
}

/// Area codes of every US zone, Alaska's and Hawaii's among them.
const AREA_CODES: [&str; 16] = [
    "212", "305", "312", "214", "303", "602", "213", "206", "907", "808", "205", "617", "404",
    "702", "503", "615",
];

/// `n` contacts spread over [`AREA_CODES`], with the same custom fields as `contacts`.
fn national_contacts(n: usize) -> Vec<NewContact> {
    (0..n)
        .map(|i| {
            let npa = AREA_CODES[i % AREA_CODES.len()];
            let number = format!("+1{npa}{:07}", 2_000_000 + i);
            let mut contact = NewContact::new(PhoneNumber::parse(&number).expect("valid"));
            contact.custom_fields = BTreeMap::from([
                ("plan".to_owned(), "gold".to_owned()),
                ("account".to_owned(), format!("A{i:07}")),
            ]);
            contact
        })
        .collect()
}

/// Bytes per pending contact of a national list in `timezone_mode: contact`: as added, and
/// once claims at an hour when every US zone is outside its floor have held each one back
/// (each then has a call state and a member in the retry set).
async fn national_memory(server: &Server, n: usize) {
    server.cli(&["FLUSHALL"]);
    let before = server.used_memory();
    let store = store(server, "national:");
    let safety = pacer::config::Settings::defaults()
        .compliance
        .call_safety()
        .expect("the shipped profiles");
    store.set_call_safety(Arc::new(safety));
    let contact_mode = SchedulePatch {
        timezone_mode: Some("contact".to_owned()),
        ..SchedulePatch::default()
    };
    // 10:00Z: 05:00 in New York, midnight in Honolulu.
    let night: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().expect("an instant");
    let (campaign, _) = store
        .create_campaign(&org(), spec(contact_mode), national_contacts(n), night)
        .await
        .expect("created");
    let fresh = (server.used_memory() - before) as f64 / n as f64;
    store
        .schedule_campaign(&org(), campaign.id, SchedulePatch::default(), night)
        .await
        .expect("scheduled");
    let fence = store
        .acquire_lease(campaign.id, "bench", Duration::from_secs(600))
        .await
        .expect("a lease")
        .expect("a free lease");
    let mut n_held = 0;
    for _ in 0..(n / 1_000 + 10) {
        let batch = store
            .claim_due(campaign.id, fence, night, 100)
            .await
            .expect("a claim");
        assert!(batch.calls.is_empty(), "every zone is closed");
        let held: u64 = batch.held.iter().map(|(_, n)| n).sum();
        if held == 0 {
            break;
        }
        n_held += held;
    }
    assert_eq!(n_held, n as u64, "every contact held back");
    let held = (server.used_memory() - before) as f64 / n as f64;
    println!(
        "| redis bytes per pending contact, national list, `timezone_mode: contact` | {fresh:.0} B as added; {held:.0} B once each was held back by the floor | target ≤ 200 B |"
    );
}

/// Redis bytes per do-not-call entry with `n` numbers listed (random US numbers), and the
/// lookup of a claim's 100 numbers against the list.
async fn dnc_memory(server: &Server, n: usize) {
    server.cli(&["FLUSHALL"]);
    let before = server.used_memory();
    let store = store(server, "dnc:");
    let now: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().expect("an instant");
    // A fixed walk over numbers +1 NPA NXX XXXX with no repeats: a full-period LCG modulo 10^10
    // (the multiplier is 1 modulo 20, the increment prime to 10).
    let mut state: u64 = 12_345;
    let mut next = || {
        state = ((u128::from(state) * 3_141_592_661 + 2_718_281_829) % 10_000_000_000) as u64;
        let digits = state;
        let area = 200 + digits / 10_000_000 % 800;
        let exchange = 200 + digits / 10_000 % 800;
        let line = digits % 10_000;
        PhoneNumber::parse(&format!("+1{area}{exchange}{line:04}")).expect("a number")
    };
    let mut listed = Vec::new();
    let started = Instant::now();
    let mut added = 0;
    while added < n {
        let chunk: Vec<DncEntry> = (0..(n - added).min(10_000))
            .map(|_| {
                let number = next();
                if listed.len() < 100_000 {
                    listed.push(number.clone());
                }
                DncEntry {
                    target: DncTarget::Number(number),
                    reason: None,
                    expires_at: None,
                    created_at: now,
                }
            })
            .collect();
        added += chunk.len();
        store.add_dnc(&org(), &chunk).await.expect("added");
    }
    let ingest = started.elapsed();
    let per_entry = (server.used_memory() - before) as f64 / n as f64;
    let mut lookups = Vec::new();
    for batch in listed.chunks(100).take(1_000) {
        let mut numbers = batch.to_vec();
        // Half listed, half not.
        numbers.truncate(50);
        numbers.extend((0..50).map(|_| next()));
        let started = Instant::now();
        let found = store
            .dnc_covering(&org(), &numbers, now)
            .await
            .expect("a lookup");
        lookups.push(started.elapsed());
        assert!(found[..50].iter().all(Option::is_some));
    }
    lookups.sort();
    println!(
        "| redis bytes per do-not-call entry, {n} numbers | {per_entry:.1} B ({:.0} entries/s added) | target ≤ 40 B |",
        n as f64 / ingest.as_secs_f64()
    );
    println!(
        "| lookup of a claim's 100 numbers in that list | p50 {:.2} ms, p99 {:.2} ms | |",
        percentile(&lookups, 0.5).as_secs_f64() * 1e3,
        percentile(&lookups, 0.99).as_secs_f64() * 1e3
    );
}

async fn patch_while_dispatching(server: &Server, n: usize, n_edits: usize) {
    server.cli(&["FLUSHALL"]);
    server.cli(&["CONFIG", "SET", "slowlog-log-slower-than", "5000"]);
    server.cli(&["SLOWLOG", "RESET"]);
    let store: Arc<dyn CampaignStore> = Arc::new(store(server, "patch:"));
    let (id, _) = create(
        &*store,
        n,
        SchedulePatch {
            max_concurrent_calls: Some(100),
            ..SchedulePatch::default()
        },
    )
    .await;
    let slow_while_creating = server.cli(&["SLOWLOG", "LEN"]).trim().to_owned();
    server.cli(&["SLOWLOG", "RESET"]);
    let now = SystemClock.now();
    store
        .schedule_campaign(&org(), id, SchedulePatch::default(), now)
        .await
        .expect("scheduled");
    // A dispatcher that claims and completes as fast as it can, alongside the edits.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dispatcher = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let fence = store
                .acquire_lease(id, "bench", Duration::from_secs(60))
                .await
                .expect("lease")
                .expect("a free lease");
            let started = Instant::now();
            let mut n_calls = 0usize;
            while started.elapsed() < Duration::from_secs(30)
                && !stop.load(std::sync::atomic::Ordering::Relaxed)
            {
                let batch = store
                    .claim_due(id, fence, SystemClock.now(), 100)
                    .await
                    .expect("claim");
                if batch.status != CampaignStatus::Active
                    && batch.status != CampaignStatus::Scheduled
                {
                    break;
                }
                for call in &batch.calls {
                    let done = CallResult {
                        outcome: DialOutcome::Completed,
                        duration_secs: 1,
                    };
                    store
                        .record_outcome(id, call.contact_id, call.attempt, done, SystemClock.now())
                        .await
                        .expect("record");
                }
                n_calls += batch.calls.len();
                if n_calls > 200_000 {
                    break;
                }
            }
            n_calls
        })
    };
    let mut latencies = Vec::new();
    for edit in 0..n_edits {
        let cap = if edit % 2 == 0 {
            Some(Some(1_000_000))
        } else {
            Some(None)
        };
        let patch = CampaignEdit {
            schedule: SchedulePatch {
                max_calls_per_day: cap,
                max_concurrent_calls: Some(100),
                ..SchedulePatch::default()
            },
            ..CampaignEdit::default()
        };
        let started = Instant::now();
        store
            .edit_campaign(&org(), id, patch, SystemClock.now())
            .await
            .expect("edited");
        latencies.push(started.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n_calls = dispatcher.await.unwrap_or(0);
    // The very next claim obeys the new pacing: a window that closed a minute ago.
    let closed = (SystemClock.now() - chrono::Duration::minutes(1))
        .format("%H:%M")
        .to_string();
    let opens = (SystemClock.now() - chrono::Duration::minutes(2))
        .format("%H:%M")
        .to_string();
    let window = CampaignEdit {
        schedule: SchedulePatch {
            start_time: Some(Some(opens)),
            end_time: Some(Some(closed)),
            ..SchedulePatch::default()
        },
        ..CampaignEdit::default()
    };
    let edited_at: DateTime<Utc> = SystemClock.now();
    let window_ok = store
        .edit_campaign(&org(), id, window, edited_at)
        .await
        .is_ok();
    // The same owner as the dispatcher (stopped by now): its lease, renewed.
    let fence = store
        .acquire_lease(id, "bench", Duration::from_secs(60))
        .await
        .expect("lease")
        .expect("the bench's own lease");
    let next = store
        .claim_due(id, fence, SystemClock.now(), 100)
        .await
        .expect("claim");
    latencies.sort();
    let slowlog = server.cli(&["SLOWLOG", "LEN"]).trim().to_owned();
    println!(
        "| PATCH with {n} pending while dispatching ({n_edits} edits) | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms | target p99 ≤ 10 ms |",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    println!("| calls completed by the concurrent dispatcher | {n_calls} | |");
    println!(
        "| next claim after closing the window | {} calls (edit ok: {window_ok}) | must be 0 |",
        next.calls.len()
    );
    println!(
        "| Redis commands over 5 ms while creating (SLOWLOG LEN) | {slow_while_creating} | target 0 |"
    );
    println!("| Redis commands over 5 ms while editing and dispatching | {slowlog} | target 0 |");
}

fn redis_benchmark(server: &Server) -> f64 {
    let output = Command::new("redis-benchmark")
        .args([
            "-p",
            &server.port.to_string(),
            "-P",
            "32",
            "-t",
            "zadd,zpopmin",
            "-n",
            "1000000",
            "-q",
        ])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&output.stdout);
    println!(
        "redis-benchmark: {}",
        text.replace('\r', "\n")
            .lines()
            .filter(|line| line.contains("requests per second"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    text.replace('\r', "\n")
        .lines()
        .filter(|line| line.starts_with("ZPOPMIN"))
        .filter_map(|line| {
            line.split_whitespace()
                .nth(1)
                .and_then(|value| value.parse().ok())
        })
        .next_back()
        .unwrap_or(0.0)
}

async fn throughput(server: &Server, n_campaigns: usize, per_campaign: usize) -> f64 {
    server.cli(&["FLUSHALL"]);
    let store: Arc<dyn CampaignStore> = Arc::new(store(server, "throughput:"));
    let mut ids = Vec::new();
    for _ in 0..n_campaigns {
        let (id, _) = create(
            &*store,
            per_campaign,
            SchedulePatch {
                max_concurrent_calls: Some(100),
                ..SchedulePatch::default()
            },
        )
        .await;
        ids.push(id);
    }
    let dialer =
        Arc::new(SimulatedDialer::from_settings("0..0", "completed=1", 1.0).expect("valid"));
    let directory = Directory::new(
        store.clone(),
        Arc::new(SystemClock),
        dialer,
        DirectoryOptions::default(),
    );
    // Markers for a profiler attached to Redis, as for the lone calls.
    eprintln!("dispatch: start");
    let started = Instant::now();
    for &id in &ids {
        directory
            .run(&org(), id, CampaignOp::Schedule(SchedulePatch::default()))
            .await
            .expect("scheduled");
    }
    let total = (n_campaigns * per_campaign) as f64;
    while started.elapsed() < Duration::from_secs(120) {
        let mut done = 0;
        for &id in &ids {
            if store.campaign(&org(), id).await.expect("read").status == CampaignStatus::Completed {
                done += 1;
            }
        }
        if done == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = total / started.elapsed().as_secs_f64();
    eprintln!("dispatch: end");
    directory.shutdown();
    rate
}

/// Script time (`INFO commandstats`, µs) and Redis CPU (`INFO cpu`, s) so far.
fn redis_time(server: &Server) -> (u64, u64, f64) {
    let info = server.cli(&["INFO", "all"]);
    let mut calls = 0;
    let mut usec = 0;
    let mut cpu = 0.0;
    for line in info.lines() {
        if let Some(stats) = line.strip_prefix("cmdstat_evalsha:") {
            for field in stats.split(',') {
                match field.split_once('=') {
                    Some(("calls", n)) => calls = n.trim().parse().unwrap_or(0),
                    Some(("usec", n)) => usec = n.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        for name in ["used_cpu_sys:", "used_cpu_user:"] {
            if let Some(value) = line.strip_prefix(name) {
                cpu += value.trim().parse::<f64>().unwrap_or(0.0);
            }
        }
    }
    (calls, usec, cpu)
}

/// What Redis spent on a stretch of work: calls placed, scripts run, their time, its CPU.
struct Spent {
    calls: u64,
    scripts: u64,
    script_us: u64,
    cpu_s: f64,
}

/// `n_campaigns` campaigns of `rounds` contacts each; `tasks` workers, each going through its
/// share of the campaigns round after round: a claim of one contact, then its record. Returns
/// what the calls cost, and what the same claims cost with a stale fence (refused at the
/// script's first check, so they change nothing: measured first).
async fn lone_calls(
    server: &Server,
    n_campaigns: usize,
    rounds: usize,
    tasks: usize,
) -> (Spent, Spent) {
    server.cli(&["FLUSHALL"]);
    let store: Arc<dyn CampaignStore> = Arc::new(store(server, "lone:"));
    let mut leases = Vec::new();
    for _ in 0..n_campaigns {
        let (id, _) = create(&*store, rounds, SchedulePatch::default()).await;
        store
            .schedule_campaign(&org(), id, SchedulePatch::default(), SystemClock.now())
            .await
            .expect("scheduled");
        let fence = store
            .acquire_lease(id, "bench", Duration::from_secs(600))
            .await
            .expect("lease")
            .expect("a free lease");
        leases.push((id, fence));
    }
    let leases = Arc::new(leases);
    let measure = |stale: bool| {
        let (store, leases) = (store.clone(), leases.clone());
        async move {
            let before = redis_time(server);
            let started = Instant::now();
            let workers: Vec<_> = (0..tasks)
                .map(|task| {
                    let (store, leases) = (store.clone(), leases.clone());
                    tokio::spawn(async move {
                        let mut n_calls = 0u64;
                        for _ in 0..rounds {
                            for &(id, fence) in leases.iter().skip(task).step_by(tasks) {
                                if started.elapsed() > Duration::from_secs(60) {
                                    return n_calls;
                                }
                                if stale {
                                    let refused = store
                                        .claim_due(id, Fence(fence.0 + 1), SystemClock.now(), 1)
                                        .await;
                                    assert!(matches!(refused, Err(StoreError::StaleLease)));
                                    continue;
                                }
                                let batch = store
                                    .claim_due(id, fence, SystemClock.now(), 1)
                                    .await
                                    .expect("claimed");
                                for call in batch.calls {
                                    let done = CallResult {
                                        outcome: DialOutcome::Completed,
                                        duration_secs: 1,
                                    };
                                    store
                                        .record_outcome(
                                            id,
                                            call.contact_id,
                                            call.attempt,
                                            done,
                                            SystemClock.now(),
                                        )
                                        .await
                                        .expect("recorded");
                                    n_calls += 1;
                                }
                            }
                        }
                        n_calls
                    })
                })
                .collect();
            let mut calls = 0;
            for worker in workers {
                calls += worker.await.expect("a worker");
            }
            let after = redis_time(server);
            Spent {
                calls,
                scripts: after.0 - before.0,
                script_us: after.1 - before.1,
                cpu_s: after.2 - before.2,
            }
        }
    };
    let refused = measure(true).await;
    // Markers for a profiler attached to Redis (`callgrind_control -i on` between them).
    eprintln!("lone calls: start");
    let calls = measure(false).await;
    eprintln!("lone calls: end");
    (calls, refused)
}

async fn lone_figure(server: &Server, n_campaigns: usize) {
    let (calls, refused) = lone_calls(server, n_campaigns, 5, 8).await;
    let per_call = calls.calls.max(1) as f64;
    println!(
        "| Redis per lone call (claim 1, record 1; {n_campaigns} campaigns, 5 rounds) | {:.1} µs of scripts ({:.2} a call), {:.1} µs of CPU | beside a claim stopped at its lease check: {:.1} µs |",
        calls.script_us as f64 / per_call,
        calls.scripts as f64 / per_call,
        calls.cpu_s * 1e6 / per_call,
        refused.script_us as f64 / refused.scripts.max(1) as f64,
    );
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let server = Server::start();
    let (n, runs, edits, campaigns, per_campaign, lone) = if quick {
        (50_000, 1, 100, 10, 1_000, 500)
    } else {
        (1_000_000, 3, 500, 100, 1_000, 5_000)
    };
    let version = server
        .cli(&["INFO", "server"])
        .lines()
        .find(|line| line.starts_with("redis_version"))
        .unwrap_or("")
        .to_owned();
    println!(
        "redis: {version}; mode: {}",
        if quick { "quick" } else { "full" }
    );
    println!("| figure | measured | target |\n|---|---|---|");
    actix_rt::System::new().block_on(async {
        // `--lone` alone: a lone call's cost, for comparing scripts.
        if std::env::args().any(|arg| arg == "--lone") {
            lone_figure(&server, lone).await;
            return;
        }
        // `--dnc` alone: the do-not-call list's memory and lookups.
        let dnc_entries = if quick { 200_000 } else { 10_000_000 };
        if std::env::args().any(|arg| arg == "--dnc") {
            dnc_memory(&server, dnc_entries).await;
            return;
        }
        // `--throughput` alone: for profiling the dispatch path.
        if !std::env::args().any(|arg| arg == "--throughput") {
            memory_and_ingest(&server, n, runs).await;
            national_memory(&server, n).await;
            dnc_memory(&server, dnc_entries).await;
            patch_while_dispatching(&server, n, edits).await;
        }
        let rate = throughput(&server, campaigns, per_campaign).await;
        let ceiling = redis_benchmark(&server);
        println!(
            "| dispatch throughput, actors in this process, instant dialer | {rate:.0} calls/s = {:.1} % of ZPOPMIN -P 32 ({ceiling:.0}/s) | the ≥ 5 % target is a node process: `--bench peers` |",
            100.0 * rate / ceiling.max(1.0)
        );
        if !std::env::args().any(|arg| arg == "--throughput") {
            lone_figure(&server, lone).await;
        }
    });
}
