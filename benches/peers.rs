//! Pacer beside BullMQ (`benches/peers/bullmq/bench.js`) on the same redis-server, in one
//! invocation, alternating, once with Redis at its default `hz 10` and once at `hz 100`:
//!
//! 1. the ceiling: `redis-benchmark -P 32 -t zadd,zpopmin`;
//! 2. throughput: calls (jobs) finished per second, everything due at once, instant work, the
//!    same total concurrency (Pacer: 10 campaigns × 100; BullMQ: one queue × 1 000, and ten
//!    queues × 100);
//! 3. lateness: work falling due at a steady rate (Pacer: one campaign per call per second, each
//!    with a daily cap that puts a slot every ≈ second, on windows opened a minute apart so the
//!    slots spread evenly, `WINDOW_MINUTES`; BullMQ: delayed jobs at the same rate), start time
//!    minus due time;
//! 4. pause: many pauses at random moments while work flows; calls (jobs) started after the
//!    pause's answer (Pacer: dial requests the provider received; must be 0);
//! 5. control: pause, resume and PATCH on a campaign of 1 M pending contacts (added through the
//!    API, timed) while other campaigns dispatch, through the owner and through another node;
//! 6. footprint: node RSS and Redis memory with as many campaigns as the lateness workload,
//!    dispatching (Pacer only, once).
//!
//! `cargo bench --bench peers` (full sizes), `-- --quick` (under two minutes), `-- lateness`
//! (one workload: `throughput`, `lateness`, `pause`, `control` or `footprint`; with `--rate N`
//! and `--instant`, one part of it). Needs
//! `redis-server`, `redis-benchmark`, `node` and `npm` (BullMQ is installed with `npm ci` into
//! `benches/peers/bullmq/node_modules` on first use). `--gates` turns the do-not-call list and
//! frequency caps on for Pacer's throughput and lateness (`support::gates`). Every loop is
//! bounded in count and time.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a harness prints its table, and markers for a profiler on stderr"
)]

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pacer::clock::{Clock, SystemClock};

use serde_json::{Value, json};

#[path = "support/mod.rs"]
mod support;

use support::{Node, process_cpu, provider, redis_server, redis_usage, throughput};

const PEER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/bullmq");

fn port_of(redis: &str) -> String {
    redis
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned()
}

/// Runs the BullMQ script: its one JSON line.
fn bullmq(redis: &str, mode: &str, args: &[(&str, String)]) -> Value {
    if !std::path::Path::new(PEER_DIR).join("node_modules").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-fund", "--no-audit", "--prefix", PEER_DIR])
            .status()
            .expect("npm runs (apt-get install npm)");
        assert!(installed.success(), "npm ci failed in {PEER_DIR}");
    }
    let mut command = Command::new("node");
    command
        .arg(format!("{PEER_DIR}/bench.js"))
        .arg(mode)
        .args(["--port", &port_of(redis)]);
    for (name, value) in args {
        command.arg(format!("--{name}")).arg(value);
    }
    let output = command
        .output()
        .expect("node runs (apt-get install nodejs)");
    assert!(
        output.status.success(),
        "bench.js {mode}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("one JSON line")
}

/// `redis-benchmark -P 32 -t zadd,zpopmin`: requests per second of each.
fn ceiling(redis: &str, n: u32) -> (f64, f64) {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port_of(redis), "-P", "32", "-q"])
        .args(["-t", "zadd,zpopmin", "-n", &n.to_string()])
        .output()
        .expect("redis-benchmark runs");
    let text = String::from_utf8_lossy(&output.stdout).replace('\r', "\n");
    let rate = |name: &str| {
        text.lines()
            .filter(|line| line.starts_with(name) && line.contains("requests per second"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
            .next_back()
            .unwrap_or(0.0)
    };
    (rate("ZADD:"), rate("ZPOPMIN:"))
}

fn prefix() -> String {
    format!("bench:{}:", uuid::Uuid::new_v4().simple())
}

fn webhook(provider: &str, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PACER_DIALER", "webhook".to_owned()),
        ("PACER_DIALER_URL", format!("{provider}/{name}")),
        (
            "PACER_DIALER_SECRET",
            "bench-dialer-secret-0123456789".to_owned(),
        ),
    ]
}

/// Pacer's pauses: `trials` pauses at random moments of a campaign dialing through the webhook
/// dialer; dial requests received after each answer, and the answers' latencies.
async fn pacer_pause(redis: &str, trials: usize) -> (usize, Vec<Duration>) {
    let (provider, dials) = provider().await;
    let node = Node::start("p", redis, &prefix(), &webhook(&provider, "p")).await;
    let id = node.create(0, 200_000, 100).await;
    node.post(&id, "schedule").await;
    let (mut late, mut latencies) = (0, Vec::new());
    for trial in 0..trials {
        tokio::time::sleep(Duration::from_millis(20 + (trial as u64 * 37) % 80)).await;
        let sent = Instant::now();
        node.post(&id, "pause").await;
        let answered = Instant::now();
        latencies.push(answered - sent);
        tokio::time::sleep(Duration::from_millis(100)).await;
        late += dials
            .lock()
            .iter()
            .filter(|dial| dial.at > answered)
            .count();
        node.post(&id, "resume").await;
    }
    latencies.sort();
    (late, latencies)
}

/// Sleeps until the wall clock reaches `instant` (due times are wall-clock instants).
async fn wall_clock_until(instant: chrono::DateTime<chrono::Utc>) {
    while SystemClock.now() < instant {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Length of the lateness workload's calling windows. A campaign with `60 × WINDOW_MINUTES + 1`
/// slots per day calls every ≈ 999.97 ms on the grid `open + k·len/cap`, and a window opened one
/// minute later puts that grid ≈ 1.67 ms later in the second: campaigns spread over
/// `WINDOW_MINUTES` opens a minute apart fall due evenly through every second, at one rate.
/// Campaigns on one open bunch their slots; so do caps that differ: with caps 86 400 + i (this
/// harness before) the busiest millisecond held 48–244 of 10 000 campaigns' due times, by the
/// node's formula, depending on the start's time of day. Here it holds 17 (10 on average).
const WINDOW_MINUTES: i64 = 600;

/// One campaign's slots, as the node computes them: `open + ⌊k·len/cap⌋` ms.
#[derive(Debug, Clone, Copy)]
struct Grid {
    /// The window's opening, Unix ms.
    open_ms: i64,
    len_ms: i64,
    cap: i64,
}

impl Grid {
    /// Unix ms of the `k`-th slot at or after `start_ms` (the `k`-th call's due time).
    fn due_ms(&self, start_ms: i64, k: i64) -> i64 {
        let first = ((start_ms - self.open_ms) * self.cap + self.len_ms - 1) / self.len_ms;
        self.open_ms + (first + k) * self.len_ms / self.cap
    }
}

/// `n` campaigns of `seconds + 2` contacts on `node`, calling every ≈ second on windows of
/// `WINDOW_MINUTES` that open a minute apart (in a fixed-offset timezone where it is about noon,
/// so the windows fit in the day), all starting at one instant on a whole second. Returns the
/// start and each campaign's slot grid.
async fn steady_campaigns(
    node: &Node,
    n: usize,
    seconds: usize,
) -> (chrono::DateTime<chrono::Utc>, HashMap<String, Grid>) {
    const MINUTE_MS: i64 = 60_000;
    // Time to create and schedule them all first (≈ 1 ms per campaign here, 32 at a time), plus
    // a margin.
    let start = SystemClock.now() + chrono::Duration::milliseconds(5_000 + 3 * n as i64);
    let start = chrono::DateTime::from_timestamp(start.timestamp(), 0).expect("a valid instant");
    let start_ms = start.timestamp_millis();
    // The whole-hour UTC offset that puts the start nearest noon (`Etc/GMT-h` is UTC+h).
    let minute_of_day = |offset_h: i64| (start_ms / MINUTE_MS + offset_h * 60).rem_euclid(1_440);
    let offset_h = (-12..=14)
        .min_by_key(|&h| (minute_of_day(h) - 720).abs())
        .expect("offsets");
    let timezone = match offset_h {
        0 => "UTC".to_owned(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    };
    let local_minute = minute_of_day(offset_h);
    let local_midnight_ms = start_ms - start_ms.rem_euclid(MINUTE_MS) - local_minute * MINUTE_MS;
    // Opens from `WINDOW_MINUTES - 3` minutes before the start's minute to that minute: every
    // window holds the whole run.
    let opens: Vec<i64> = (local_minute - WINDOW_MINUTES + 3..=local_minute).collect();
    let cap = 60 * WINDOW_MINUTES + 1;
    let timezone = &timezone;
    let create = |i: usize| {
        let open = opens[i % opens.len()];
        async move {
            let contacts: Vec<Value> = (0..seconds + 2)
                .map(|k| json!({ "phone_number": format!("+1555{:07}", i * 100 + k) }))
                .collect();
            let hh_mm = |minute: i64| format!("{:02}:{:02}", minute / 60, minute % 60);
            let mut body = json!({
                "name": "lateness", "agent_id": "agent", "contacts": contacts,
                "timezone": timezone, "working_days": [1, 2, 3, 4, 5, 6, 7],
                "start_time": hh_mm(open), "end_time": hh_mm(open + WINDOW_MINUTES),
                "max_calls_per_day": cap,
            });
            if support::gates() {
                body["frequency_caps"] = support::frequency_caps();
            }
            let created = node
                .call(reqwest::Method::POST, "/batch-calls", Some(body))
                .await;
            let id = created["data"]["id"].as_str().unwrap().to_owned();
            let schedule = json!({ "scheduled_at": start.to_rfc3339() });
            node.call(
                reqwest::Method::POST,
                &format!("/batch-calls/{id}/schedule"),
                Some(schedule),
            )
            .await;
            let grid = Grid {
                open_ms: local_midnight_ms + open * MINUTE_MS,
                len_ms: WINDOW_MINUTES * MINUTE_MS,
                cap,
            };
            (id, grid)
        }
    };
    let grids: HashMap<String, Grid> = futures_util::stream::iter(0..n)
        .map(create)
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        SystemClock.now() < start,
        "creating the campaigns took past their start"
    );
    (start, grids)
}

/// `node`'s metrics, as Prometheus scrapes them.
async fn node_metrics(node: &Node) -> String {
    let metrics_url = format!("{}/metrics", node.base.trim_end_matches("/api/public/v1"));
    node.client
        .get(metrics_url)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// A lateness histogram of `node`'s metrics: its cumulative buckets, (upper bound s, count).
async fn node_lateness(node: &Node, metric: &str) -> Buckets {
    let text = node_metrics(node).await;
    let prefix = format!("{metric}_bucket");
    Buckets(
        text.lines()
            .filter(|line| line.starts_with(&prefix))
            .filter_map(|line| {
                let le = line.split("le=\"").nth(1)?.split('"').next()?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, line.rsplit(' ').next()?.parse().ok()?))
            })
            .collect(),
    )
}

/// How many calls the node has placed so far (`pacer_calls_placed_total`).
async fn node_calls_placed(node: &Node) -> f64 {
    let text = node_metrics(node).await;
    text.lines()
        .find_map(|line| line.strip_prefix("pacer_calls_placed_total ")?.parse().ok())
        .unwrap_or(0.0)
}

/// How many store steps of each kind (`op`: claim, record) the node has run so far.
async fn node_store_steps(node: &Node) -> HashMap<String, f64> {
    let text = node_metrics(node).await;
    let prefix = "pacer_store_duration_seconds_count{op=\"";
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(prefix)?;
            let (op, rest) = rest.split_once('"')?;
            Some((op.to_owned(), rest.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// A node histogram's cumulative buckets: (upper bound s, count).
#[derive(Debug)]
struct Buckets(Vec<(f64, f64)>);

impl Buckets {
    /// What was observed since `before` (an earlier read of the same histogram).
    fn since(&self, before: &Self) -> Self {
        Self(
            self.0
                .iter()
                .map(|&(le, count)| {
                    let earlier = before.0.iter().find(|&&(bound, _)| bound == le);
                    (le, count - earlier.map_or(0.0, |&(_, count)| count))
                })
                .collect(),
        )
    }

    /// Observations, and the bucket bounds (ms) holding the median and the 99th percentile.
    fn histogram(&self) -> Histogram {
        let total = self.0.last().map_or(0.0, |&(_, count)| count);
        let bound = |p: f64| {
            self.0
                .iter()
                .find(|&&(_, count)| count >= p * total)
                .map_or(f64::NAN, |&(le, _)| le * 1e3)
        };
        let within_5ms = self
            .0
            .iter()
            .find(|&&(le, _)| (le - 0.005).abs() < 1e-9)
            .map_or(f64::NAN, |&(_, count)| count / total);
        Histogram {
            observed: total,
            p50: bound(0.5),
            p99: bound(0.99),
            within_5ms,
        }
    }
}

/// Observations of a node's histogram, the bucket bounds (ms) of two quantiles, and the share
/// observed within 5 ms (the lateness target).
struct Histogram {
    observed: f64,
    p50: f64,
    p99: f64,
    within_5ms: f64,
}

/// CPU time (s) of Redis and of a node process so far.
#[derive(Debug, Clone, Copy)]
struct CpuSince {
    redis: f64,
    node: f64,
}

impl CpuSince {
    fn now(redis: &str, node: &Node) -> Self {
        Self {
            redis: redis_usage(redis).0,
            node: process_cpu(node.proc.0.id()),
        }
    }

    /// µs of Redis and of the node per call, for `calls` calls.
    fn per_call(self, calls: f64) -> (f64, f64) {
        let per_call = |seconds: f64| seconds * 1e6 / calls.max(1.0);
        (per_call(self.redis), per_call(self.node))
    }
}

/// Pacer's lateness with an instant simulated dialer, from the node's own histograms: claim
/// (reply − due) and timer (fired − due); and the CPU per call (µs) of Redis and of the node
/// over the run.
struct Dispatched {
    /// Every claim up to `measured_until`.
    claims: Histogram,
    /// The claims from each campaign's fourth slot on (`WARM_UP_SLOTS`).
    steady: Histogram,
    /// The timers from each campaign's fourth slot on.
    timers: Histogram,
    /// CPU and store steps per call placed.
    cost: StepCost,
}

async fn pacer_dispatch_lateness(redis: &str, n: usize, seconds: usize) -> Dispatched {
    let mut env = lateness_env();
    env.push(("PACER_SIMULATED_CALL_MS", "0..0".to_owned()));
    let node = Node::start("d", redis, &prefix(), &env).await;
    let (start, _) = steady_campaigns(&node, n, seconds).await;
    wall_clock_until(start).await;
    let started = Mark::now(redis, &node).await;
    let warmed_up = start + chrono::Duration::seconds(WARM_UP_SLOTS as i64);
    wall_clock_until(warmed_up).await;
    let claims_warm_up = node_lateness(&node, CLAIM_LATENESS).await;
    let timers_warm_up = node_lateness(&node, TIMER_LATENESS).await;
    let until = measured_until(start, seconds);
    wall_clock_until(until).await;
    let cost = started.cost_since(redis, &node).await;
    let claims = node_lateness(&node, CLAIM_LATENESS).await;
    let timers = node_lateness(&node, TIMER_LATENESS).await;
    let all = claims.histogram();
    Dispatched {
        cost,
        steady: claims.since(&claims_warm_up).histogram(),
        timers: timers.since(&timers_warm_up).histogram(),
        claims: all,
    }
}

const CLAIM_LATENESS: &str = "pacer_claim_lateness_seconds";
const TIMER_LATENESS: &str = "pacer_dispatch_lateness_seconds";

/// The lateness workload's node settings: the product's default lease TTL (the harness' other
/// nodes run a short one, to measure takeovers quickly; renewals are work that scales with it).
fn lateness_env() -> Vec<(&'static str, String)> {
    vec![("PACER_LEASE_TTL_MS", "5000".to_owned())]
}

/// When the lateness workloads read the node's histograms: half a second past the slot of each
/// campaign's `seconds`-th call. The two contacts left are not measured, so that no campaign
/// has completed (a completion is a store step of its own, all of them in one second here).
fn measured_until(
    start: chrono::DateTime<chrono::Utc>,
    seconds: usize,
) -> chrono::DateTime<chrono::Utc> {
    start + chrono::Duration::milliseconds(seconds as i64 * 1_000 + 500)
}

/// Pacer's lateness through the webhook dialer.
struct Lateness {
    /// Dial received minus slot, in ms, for every call however late (n × seconds), sorted.
    all: Vec<f64>,
    /// The same from each campaign's fourth slot on: past the first seconds, when every
    /// campaign takes its lease and starts (sorted).
    steady: Vec<f64>,
    /// The node's claim lateness histogram, up to `measured_until`.
    claims: Histogram,
    /// CPU time per call placed (µs) of Redis and of the node, from the start to
    /// `measured_until`.
    redis_us: f64,
    node_us: f64,
    /// Store steps per claimed call over the same span: claims and records.
    claims_per_call: f64,
    records_per_call: f64,
    /// The same four from each campaign's fourth slot on (its lease taken, its claims in their
    /// rhythm): what a paced call costs once a campaign runs.
    steady_cost: StepCost,
}

/// What the calls claimed over a span cost: CPU (µs) of Redis and of the node, and store steps
/// (claims, records) per call.
#[derive(Debug, Clone, Default)]
struct StepCost {
    redis_us: f64,
    node_us: f64,
    claims: f64,
    records: f64,
    /// Redis' busiest commands: (name, runs per call, µs per call); a script's commands count
    /// both in it and on their own.
    commands: Vec<(String, f64, f64)>,
}

/// A point of a lateness run: CPU used so far, store steps and calls placed.
struct Mark {
    cpu: CpuSince,
    steps: HashMap<String, f64>,
    placed: f64,
    commands: HashMap<String, (f64, f64)>,
}

impl Mark {
    async fn now(redis: &str, node: &Node) -> Self {
        Self {
            cpu: CpuSince::now(redis, node),
            steps: node_store_steps(node).await,
            placed: node_calls_placed(node).await,
            commands: support::redis_commands(redis),
        }
    }

    /// The cost per call placed since `self` (calls are claimed up to a horizon before they
    /// are placed: a span's claims are not its calls).
    async fn cost_since(self, redis: &str, node: &Node) -> StepCost {
        let now = Self::now(redis, node).await;
        let calls = (now.placed - self.placed).max(1.0);
        let (redis_us, node_us) = CpuSince {
            redis: now.cpu.redis - self.cpu.redis,
            node: now.cpu.node - self.cpu.node,
        }
        .per_call(calls);
        let per_call = |op: &str| {
            let since = now.steps.get(op).copied().unwrap_or(0.0)
                - self.steps.get(op).copied().unwrap_or(0.0);
            since / calls
        };
        let mut commands = support::commands_between(&self.commands, &now.commands, calls);
        commands.truncate(8);
        StepCost {
            redis_us,
            node_us,
            claims: per_call("claim"),
            records: per_call("record"),
            commands,
        }
    }
}

/// Number of first slots of each campaign left out of `Lateness::steady`.
const WARM_UP_SLOTS: usize = 3;

/// The lateness workload through the webhook dialer: `n` campaigns calling once a second each,
/// for `seconds`, on a node of its own.
async fn pacer_lateness(redis: &str, n: usize, seconds: usize) -> Lateness {
    let (provider, dials) = provider().await;
    let mut env = lateness_env();
    env.extend(webhook(&provider, "l"));
    let node = Node::start("l", redis, &prefix(), &env).await;
    if support::gates() {
        support::list_numbers(&node).await;
    }
    let (start, grids) = steady_campaigns(&node, n, seconds).await;
    wall_clock_until(start).await;
    let started = Mark::now(redis, &node).await;
    wall_clock_until(start + chrono::Duration::seconds(WARM_UP_SLOTS as i64)).await;
    let warmed_up = Mark::now(redis, &node).await;
    // Markers for a profiler attached to Redis (BENCHMARKS.md, *Instructions per call*).
    eprintln!("steps: start");
    let measured = measured_until(start, seconds);
    wall_clock_until(measured).await;
    eprintln!("steps: end");
    let steady_cost = warmed_up.cost_since(redis, &node).await;
    let StepCost {
        redis_us,
        node_us,
        claims: claims_per_call,
        records: records_per_call,
        ..
    } = started.cost_since(redis, &node).await;
    let claims = node_lateness(&node, CLAIM_LATENESS).await.histogram();
    // Until every campaign's calls are in (or a minute past the last slot).
    let until = start + chrono::Duration::seconds(seconds as i64 + 60);
    while SystemClock.now() < until && dials.lock().len() < n * (seconds + 2) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each campaign dials its contacts in order, one per slot: the k-th dial is due at the k-th
    // slot from the first one at or after the start.
    let start_ms = start.timestamp_millis();
    let mut by_campaign: HashMap<&str, Vec<f64>> = HashMap::new();
    let dials = dials.lock();
    for dial in dials.iter() {
        let t = dial.wall.timestamp_micros() as f64 / 1e6;
        by_campaign.entry(&dial.campaign).or_default().push(t);
    }
    let (mut late, mut steady) = (Vec::new(), Vec::new());
    for (campaign, mut times) in by_campaign {
        let Some(grid) = grids.get(campaign) else {
            continue;
        };
        times.sort_by(f64::total_cmp);
        for (k, t) in times.into_iter().take(seconds).enumerate() {
            let ms = t * 1e3 - grid.due_ms(start_ms, k as i64) as f64;
            late.push(ms);
            if k >= WARM_UP_SLOTS {
                steady.push(ms);
            }
        }
    }
    late.sort_by(f64::total_cmp);
    steady.sort_by(f64::total_cmp);
    Lateness {
        all: late,
        steady,
        claims,
        redis_us,
        node_us,
        claims_per_call,
        records_per_call,
        steady_cost,
    }
}

/// Pause, resume and PATCH on a campaign of `pending` contacts while ten campaigns of 100
/// concurrent calls run on two nodes, through the owning node and through the other; also how
/// long adding the contacts through the API took. Latencies by (operation, node).
async fn control_under_load(
    redis: &str,
    pending: usize,
    rounds: usize,
) -> (Duration, Vec<(String, Vec<Duration>)>) {
    const CHUNK: usize = 20_000;
    let calls = [("PACER_SIMULATED_CALL_MS", "500..3000".to_owned())];
    let prefix = prefix();
    let owner = Node::start("owner", redis, &prefix, &calls).await;
    let other = Node::start("other", redis, &prefix, &calls).await;
    let ingest = Instant::now();
    let id = owner.create(0, CHUNK, 100).await;
    for first in (CHUNK..pending).step_by(CHUNK) {
        let contacts: Vec<Value> = (first..(first + CHUNK).min(pending))
            .map(|i| json!({ "phone_number": format!("+1555{i:07}") }))
            .collect();
        owner
            .call(
                reqwest::Method::POST,
                &format!("/batch-calls/{id}/contacts"),
                Some(json!({ "contacts": contacts })),
            )
            .await;
    }
    let ingest = ingest.elapsed();
    owner.post(&id, "schedule").await;
    for i in 0..10 {
        let node = if i % 2 == 0 { &owner } else { &other };
        let load = node.create(2_000_000 + 20_000 * i, 20_000, 100).await;
        node.post(&load, "schedule").await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    for (name, via) in [("owner", &owner), ("other node", &other)] {
        let (mut pauses, mut resumes, mut patches) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            for (action, into) in [("pause", &mut pauses), ("resume", &mut resumes)] {
                let sent = Instant::now();
                via.post(&id, action).await;
                into.push(sent.elapsed());
            }
            let patch = json!({ "max_concurrent_calls": 50 + round % 50 });
            let sent = Instant::now();
            via.call(
                reqwest::Method::PATCH,
                &format!("/batch-calls/{id}"),
                Some(patch),
            )
            .await;
            patches.push(sent.elapsed());
        }
        for (op, mut values) in [("pause", pauses), ("resume", resumes), ("PATCH", patches)] {
            values.sort();
            latencies.push((format!("{op} via the {name}"), values));
        }
    }
    (ingest, latencies)
}

/// How long `n` contacts take to go in through the API on one node: a campaign created with
/// the first 20 000, then `POST …/contacts` of 20 000 each, one after the other. The request
/// bodies are serialized before the clock starts, so the figure is the node's and Redis' work.
async fn ingest(redis: &str, n: usize) -> Duration {
    const CHUNK: usize = 20_000;
    let node = Node::start("ingest", redis, &prefix(), &[]).await;
    let contacts = |first: usize| -> Vec<Value> {
        (first..(first + CHUNK).min(n))
            .map(|i| json!({ "phone_number": format!("+1555{i:07}") }))
            .collect()
    };
    let create = serde_json::to_vec(&json!({
        "name": "ingest", "agent_id": "agent", "contacts": contacts(0),
        "working_days": [1, 2, 3, 4, 5, 6, 7],
    }))
    .expect("JSON");
    let adds: Vec<Vec<u8>> = (CHUNK..n)
        .step_by(CHUNK)
        .map(|first| serde_json::to_vec(&json!({ "contacts": contacts(first) })).expect("JSON"))
        .collect();
    let send = |path: String, body: Vec<u8>| {
        let request = node
            .client
            .post(format!("{}{path}", node.base))
            .bearer_auth(support::KEY)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let response = request.send().await.expect("the node answers");
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<Value>().await.expect("JSON")
        }
    };
    let started = Instant::now();
    let created = send("/batch-calls".to_owned(), create).await;
    let id = created["data"]["id"].as_str().expect("an id").to_owned();
    for body in adds {
        send(format!("/batch-calls/{id}/contacts"), body).await;
    }
    started.elapsed()
}

/// How long the footprint workload samples the node's RSS once its campaigns start dispatching,
/// and how often: the first wave of calls ends and the next is claimed within it.
const FOOTPRINT_SAMPLING: Duration = Duration::from_secs(10);
const FOOTPRINT_EVERY: Duration = Duration::from_millis(250);

/// What the footprint workload measured.
struct Footprint {
    campaigns: usize,
    /// The node's RSS (MB) over the sampling: median and highest.
    rss_median: f64,
    rss_max: f64,
    /// Redis' `used_memory` (MB) at the end.
    redis: f64,
}

/// The node's RSS in MB, from `/proc`.
fn rss_mb(pid: u32) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the node's /proc status");
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

/// Node RSS and Redis memory with `n` campaigns dispatching on one node: the RSS sampled while
/// they dispatch (a single reading lands anywhere between the waves of calls).
async fn footprint(redis: &str, n: usize) -> Footprint {
    let calls = [("PACER_SIMULATED_CALL_MS", "500..3000".to_owned())];
    let node = Node::start("f", redis, &prefix(), &calls).await;
    let (start, _) = steady_campaigns(&node, n, 10).await;
    wall_clock_until(start).await;
    let mut samples = Vec::new();
    let sampling = Instant::now();
    while sampling.elapsed() < FOOTPRINT_SAMPLING {
        samples.push(rss_mb(node.proc.0.id()));
        tokio::time::sleep(FOOTPRINT_EVERY).await;
    }
    samples.sort_by(f64::total_cmp);
    let info = Command::new("redis-cli")
        .args(["-p", &port_of(redis), "INFO", "memory"])
        .output()
        .expect("redis-cli runs");
    let used: f64 = String::from_utf8_lossy(&info.stdout)
        .lines()
        .find_map(|line| line.trim().strip_prefix("used_memory:"))
        .and_then(|value| value.parse().ok())
        .unwrap_or(f64::NAN);
    Footprint {
        campaigns: n,
        rss_median: samples[samples.len() / 2],
        rss_max: samples[samples.len() - 1],
        redis: used / 1e6,
    }
}

/// What the loaded workload measured: `loaded` campaigns on one node, `dispatching` of them
/// calling (the others scheduled for a start a day ahead).
struct Loaded {
    loaded: usize,
    dispatching: usize,
    /// The node's RSS (MB) over the sampling: median and highest; before any campaign.
    rss_median: f64,
    rss_max: f64,
    rss_idle_node: f64,
    /// The same with the waiting campaigns only, before the others start.
    rss_waiting: f64,
    /// Redis CPU (share of one core) over the sampling, and over a sampling with only the
    /// waiting campaigns loaded (their lease renewals and the keeper's ticks).
    redis_core: f64,
    redis_core_waiting: f64,
    /// Redis' commands over the waiting sampling: (name, calls/s, share of a core).
    commands_waiting: Vec<(String, f64, f64)>,
}

/// How long the loaded workload waits, once its waiting campaigns are created, before it
/// samples them: the last of their first steps are over by then (10 s was not enough for
/// 90 000: claims still ran).
const SETTLE_WAITING: Duration = Duration::from_secs(60);

/// `n` campaigns of two contacts each on `node`, scheduled to start a day from now: loaded, with
/// nothing to do for a day.
async fn waiting_campaigns(node: &Node, n: usize, first: usize) {
    let start = (SystemClock.now() + chrono::Duration::days(1)).to_rfc3339();
    let create = |i: usize| {
        let start = start.clone();
        async move {
            let contacts: Vec<Value> = (0..2)
                .map(|k| json!({ "phone_number": format!("+1555{:07}", (first + i) * 2 + k) }))
                .collect();
            let body = json!({ "name": "waiting", "agent_id": "agent", "contacts": contacts });
            let created = node
                .call(reqwest::Method::POST, "/batch-calls", Some(body))
                .await;
            let id = created["data"]["id"].as_str().unwrap().to_owned();
            let schedule = json!({ "scheduled_at": start });
            node.call(
                reqwest::Method::POST,
                &format!("/batch-calls/{id}/schedule"),
                Some(schedule),
            )
            .await;
        }
    };
    futures_util::stream::iter(0..n)
        .map(create)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

/// RSS samples of `pid` every `FOOTPRINT_EVERY` over `FOOTPRINT_SAMPLING`, sorted, and the share
/// of a core Redis used meanwhile.
async fn sample_rss(redis: &str, pid: u32) -> (Vec<f64>, f64) {
    let (samples, core, _) = sample_rss_and_commands(redis, pid).await;
    (samples, core)
}

/// [`sample_rss`], and the share of a core each command took meanwhile (`INFO commandstats`;
/// busiest first, as (name, calls per second, share)).
async fn sample_rss_and_commands(
    redis: &str,
    pid: u32,
) -> (Vec<f64>, f64, Vec<(String, f64, f64)>) {
    let mut samples = Vec::new();
    let (cpu, commands, sampling) = (
        redis_usage(redis).0,
        support::redis_commands(redis),
        Instant::now(),
    );
    while sampling.elapsed() < FOOTPRINT_SAMPLING {
        samples.push(rss_mb(pid));
        tokio::time::sleep(FOOTPRINT_EVERY).await;
    }
    let seconds = sampling.elapsed().as_secs_f64();
    let core = (redis_usage(redis).0 - cpu) / seconds;
    let by_command = support::commands_between(&commands, &support::redis_commands(redis), seconds);
    samples.sort_by(f64::total_cmp);
    (samples, core, by_command)
}

/// `loaded` campaigns on one node, `dispatching` of them calling once a second each through the
/// simulated dialer, the others waiting for a start a day ahead.
async fn loaded(redis: &str, loaded: usize, dispatching: usize) -> Loaded {
    // The product's lease TTL: the renewals measured are those a node makes.
    let mut env = lateness_env();
    env.push(("PACER_SIMULATED_CALL_MS", "500..3000".to_owned()));
    let node = Node::start("w", redis, &prefix(), &env).await;
    let pid = node.proc.0.id();
    let rss_idle_node = rss_mb(pid);
    waiting_campaigns(&node, loaded - dispatching, dispatching).await;
    // Past the waiting campaigns' first steps (each claims nothing and parks): what waiting
    // costs from then on.
    tokio::time::sleep(SETTLE_WAITING).await;
    let (waiting, redis_core_waiting, commands_waiting) = sample_rss_and_commands(redis, pid).await;
    let (start, _) = steady_campaigns(&node, dispatching, 10).await;
    wall_clock_until(start).await;
    let (samples, redis_core) = sample_rss(redis, pid).await;
    Loaded {
        loaded,
        dispatching,
        rss_median: samples[samples.len() / 2],
        rss_max: samples[samples.len() - 1],
        rss_idle_node,
        rss_waiting: waiting[waiting.len() / 2],
        commands_waiting,
        redis_core,
        redis_core_waiting,
    }
}

/// What one `wrk` run reported: requests per second, latency p50 and p99, and answers that
/// were not 2xx/3xx.
struct Wrk {
    per_second: f64,
    p50: String,
    p99: String,
    errors: u64,
}

/// Runs `wrk` for `seconds` against `url` with `threads` × `connections`, and `script` (Lua)
/// if given. `None` when wrk is not installed.
fn wrk(
    url: &str,
    threads: u32,
    connections: u32,
    seconds: u32,
    script: Option<&str>,
) -> Option<Wrk> {
    let mut command = Command::new("wrk");
    command.args([
        "--latency",
        &format!("-t{threads}"),
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "-H",
        &format!("Authorization: Bearer {}", support::KEY),
    ]);
    let path = std::env::temp_dir().join(format!("pacer-wrk-{}.lua", uuid::Uuid::new_v4()));
    if let Some(script) = script {
        std::fs::write(&path, script).expect("the wrk script is written");
        command.arg("-s").arg(&path);
    }
    let output = command.arg(url).output().ok()?;
    let _ = std::fs::remove_file(&path);
    let report = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        report
            .lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .map(|value| value.trim().to_owned())
    };
    Some(Wrk {
        per_second: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN),
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
        errors: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

/// REST under `wrk` on one node and Redis: `GET /batch-calls/{id}` (2 threads, 64
/// connections), and pause/resume pairs (8 threads of one connection, each alternating pause
/// and resume of its own campaign of 1 000 pending contacts, so every command is a valid one).
async fn rest(redis: &str, seconds: u32) -> Option<(Wrk, Wrk)> {
    let node = Node::start("rest", redis, &prefix(), &[]).await;
    let read = node.create(0, 100, 10).await;
    let get = wrk(
        &format!("{}/batch-calls/{read}", node.base),
        2,
        64,
        seconds,
        None,
    )?;
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = node.create(1_000 + i * 1_000, 1_000, 10).await;
        node.post(&id, "schedule").await;
        node.post(&id, "pause").await;
        ids.push(format!("{id:?}"));
    }
    // Each wrk thread takes one campaign; its one connection sends resume, pause, resume, …
    // (after each answer, whichever is valid now).
    let script = format!(
        r#"local ids = {{{ids}}}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", ids[next_id])
end
-- The campaign's state as the last answer left it (wrk may build a request it never sends).
local paused = true
function request()
  local action = paused and "resume" or "pause"
  return wrk.format("POST", "/api/public/v1/batch-calls/" .. id .. "/" .. action)
end
function response(status, headers, body)
  if status == 200 then paused = not paused end
end
"#,
        ids = ids.join(", ")
    );
    let base = node.base.trim_end_matches("/api/public/v1");
    let control = wrk(base, 8, 8, seconds, Some(&script))?;
    Some((get, control))
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Lateness table rows of one run of Pacer's lateness workload.
fn print_lateness(name: &str, late: &Lateness) {
    println!(
        "{}",
        lateness_row(&format!("{name} (dial received − slot)"), &late.all)
    );
    println!(
        "{}",
        lateness_row(
            &format!("{name}, from slot {} on", WARM_UP_SLOTS + 1),
            &late.steady
        )
    );
    println!(
        "{}",
        histogram_row(&format!("{name}, claim − due"), &late.claims)
    );
    println!(
        "| {name}: CPU per call, Redis {:.1} µs, node {:.1} µs; store steps per call, claims {:.2}, records {:.2} | | | | | |",
        late.redis_us, late.node_us, late.claims_per_call, late.records_per_call
    );
    let steady = &late.steady_cost;
    if late.steady.is_empty() {
        return;
    }
    println!(
        "| {name}, from slot {} on: CPU per call, Redis {:.1} µs, node {:.1} µs; store steps per call, claims {:.2}, records {:.2} | | | | | |",
        WARM_UP_SLOTS + 1,
        steady.redis_us,
        steady.node_us,
        steady.claims,
        steady.records
    );
    let commands: Vec<String> = steady
        .commands
        .iter()
        .map(|(name, runs, us)| format!("{name} {runs:.3} × = {us:.2} µs"))
        .collect();
    println!(
        "| {name}, from slot {} on: Redis' busiest commands per call: {} | | | | | |",
        WARM_UP_SLOTS + 1,
        commands.join(", ")
    );
}

/// A lateness table row from a node's histogram (bucket bounds).
fn histogram_row(name: &str, histogram: &Histogram) -> String {
    if histogram.observed == 0.0 {
        return empty_row(name);
    }
    format!(
        "| {name} (node histogram, bucket bounds; {:.1} % ≤ 5 ms) | {} | | ≤ {} ms | ≤ {} ms | |",
        histogram.within_5ms * 100.0,
        histogram.observed,
        histogram.p50,
        histogram.p99
    )
}

/// A lateness table row: calls, min, p50, p99 and max of `late` (sorted, ms).
fn lateness_row(name: &str, late: &[f64]) -> String {
    if late.is_empty() {
        return empty_row(name);
    }
    format!(
        "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
        late.len(),
        late.first().copied().unwrap_or(f64::NAN),
        quantile(late, 0.5),
        quantile(late, 0.99),
        late.last().copied().unwrap_or(f64::NAN)
    )
}

/// A row with no calls: the run ended before its first slot counted (`--quick` runs 2 s, within
/// the warm-up of `WARM_UP_SLOTS` slots).
fn empty_row(name: &str) -> String {
    format!("| {name} | 0 (the run ended within the warm-up) | | | | |")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    quantile(&values, 0.5)
}

async fn run(quick: bool, only: Option<String>, hzs: Vec<&str>, with_peer: bool) {
    let runs = |workload: &str| only.as_deref().is_none_or(|only| only == workload);
    let (per_campaign, rounds, trials) = if quick {
        (1_000, 1, 10)
    } else {
        (10_000, 3, 50)
    };
    let (n_late, seconds) = if quick { (500, 2) } else { (10_000, 10) };
    // `--seconds N`: a longer lateness run, whose steady figures weigh its first seconds less.
    let seconds = args_value("--seconds").unwrap_or(seconds);
    // `--rate N`: the lateness workload at N calls/s only; `--instant`: only its instant-dialer
    // part (for profiling).
    let rate = args_value("--rate");
    let instant_only = std::env::args().any(|arg| arg == "--instant");
    let (n_late, sweep) = match rate {
        Some(rate) => (rate, false),
        None => (n_late, !quick),
    };
    let n_jobs = 10 * per_campaign;
    if runs("control") {
        let (_server, redis) = redis_server(&[]);
        let pending = if quick { 50_000 } else { 1_000_000 };
        let (ingest, latencies) = control_under_load(&redis, pending, trials).await;
        println!(
            "\n## Control at {pending} pending, ≈ 1 100 calls in flight on two nodes\n\n{pending} contacts added through the API (POST …/contacts, 20 000 a request) in {:.2} s\n",
            ingest.as_secs_f64()
        );
        println!("| command | p50 | p99 | max |\n|---|---|---|---|");
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        for (name, values) in &latencies {
            println!(
                "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
                ms(values[values.len() / 2]),
                ms(values[(values.len() - 1) * 99 / 100]),
                ms(*values.last().unwrap())
            );
        }
    }
    if runs("ingest") {
        let (n, rounds) = if quick { (100_000, 1) } else { (1_000_000, 3) };
        let mut times = Vec::new();
        for _ in 0..rounds {
            let (_server, redis) = redis_server(&[]);
            times.push(ingest(&redis, n).await.as_secs_f64());
        }
        let low = times.iter().copied().fold(f64::INFINITY, f64::min);
        let high = times.iter().copied().fold(0.0, f64::max);
        println!(
            "\n## Ingest through the API\n\n{n} contacts (a campaign created with 20 000, then `POST …/contacts` of 20 000 each), {rounds} rounds on a fresh Redis: median {:.2} s (min {low:.2} s, max {high:.2} s)",
            median(times)
        );
    }
    if runs("rest") {
        let (_server, redis) = redis_server(&[]);
        let seconds = if quick { 2 } else { 10 };
        match rest(&redis, seconds).await {
            Some((get, control)) => {
                println!("\n## REST, `wrk` for {seconds} s, one node on Redis\n");
                println!("| requests | per second | p50 | p99 | not 2xx |\n|---|---|---|---|---|");
                for (name, run) in [
                    ("`GET /batch-calls/{id}` (2 threads, 64 connections)", get),
                    (
                        "pause/resume, alternating on 8 campaigns (8 connections)",
                        control,
                    ),
                ] {
                    println!(
                        "| {name} | {:.0} | {} | {} | {} |",
                        run.per_second, run.p50, run.p99, run.errors
                    );
                }
            }
            None => println!("\n## REST\n\nskipped: `wrk` is not installed (apt-get install wrk)"),
        }
    }
    if only.as_deref() == Some("loaded") {
        let (_server, redis) = redis_server(&[]);
        let (n, dispatching) = if quick {
            (10_000, 1_000)
        } else {
            (100_000, 10_000)
        };
        let Loaded {
            loaded,
            dispatching,
            rss_median,
            rss_max,
            rss_idle_node,
            rss_waiting,
            redis_core,
            redis_core_waiting,
            commands_waiting,
        } = loaded(&redis, n, dispatching).await;
        println!(
            "\n## Loaded\n\n{loaded} campaigns on one node, {dispatching} of them calling once a second (simulated calls of 0.5–3 s), the others scheduled a day ahead; RSS sampled every {} ms for {} s: node alone {rss_idle_node:.1} MB; the waiting ones alone {rss_waiting:.1} MB (Redis {:.1} % of a core); all: median {rss_median:.1} MB, highest {rss_max:.1} MB (Redis {:.1} % of a core)",
            FOOTPRINT_EVERY.as_millis(),
            FOOTPRINT_SAMPLING.as_secs(),
            redis_core_waiting * 100.0,
            redis_core * 100.0
        );
        println!(
            "\nRedis' commands with only the waiting campaigns (`INFO commandstats`; a script's commands count in it and on their own):\n\n| command | calls/s | % of a core |\n|---|---|---|"
        );
        for (name, rate, core) in commands_waiting.iter().take(8) {
            println!("| {name} | {rate:.0} | {:.2} % |", core * 100.0);
        }
    }
    if runs("footprint") {
        let (_server, redis) = redis_server(&[]);
        let Footprint {
            campaigns,
            rss_median,
            rss_max,
            redis,
        } = footprint(&redis, n_late).await;
        println!(
            "\n## Footprint\n\n{campaigns} campaigns of 12 contacts dispatching (simulated calls of 0.5–3 s): node RSS over their first {} s, sampled every {} ms: median {rss_median:.1} MB, highest {rss_max:.1} MB; Redis used_memory {redis:.1} MB",
            FOOTPRINT_SAMPLING.as_secs(),
            FOOTPRINT_EVERY.as_millis()
        );
    }
    let per_hz = ["throughput", "lateness", "pause"];
    if only.as_deref().is_some_and(|only| !per_hz.contains(&only)) {
        return;
    }
    for hz in hzs {
        let (_server, redis) = redis_server(&["--hz", hz]);
        println!("\n## Redis hz {hz}\n");
        let bullmq = |redis: &str, mode: &str, args: &[(&str, String)]| {
            if with_peer {
                bullmq(redis, mode, args)
            } else {
                Value::Null
            }
        };
        let (zadd, zpopmin) = ceiling(&redis, if quick { 200_000 } else { 2_000_000 });
        println!("Ceiling, `redis-benchmark -P 32`: ZADD {zadd:.0}/s, ZPOPMIN {zpopmin:.0}/s\n");

        // Throughput, alternating Pacer and BullMQ.
        if runs("throughput") {
            let (mut pacer, mut one_queue, mut ten_queues) = (Vec::new(), Vec::new(), Vec::new());
            let (mut redis_us, mut node_us, mut by_command) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                let run = throughput(&redis, 1, 10, per_campaign).await;
                pacer.push(run.calls_per_sec);
                redis_us.push(run.redis_us_per_call);
                node_us.push(run.node_us_per_call);
                by_command = run.by_command;
                let args = |concurrency: u32, queues: u32| {
                    vec![
                        ("jobs", n_jobs.to_string()),
                        ("concurrency", concurrency.to_string()),
                        ("queues", queues.to_string()),
                    ]
                };
                let rate = |result: Value| result["per_second"].as_f64().unwrap_or(f64::NAN);
                one_queue.push(rate(bullmq(&redis, "throughput", &args(1_000, 1))));
                ten_queues.push(rate(bullmq(&redis, "throughput", &args(100, 10))));
            }
            let (pacer, one_queue, ten_queues) =
                (median(pacer), median(one_queue), median(ten_queues));
            println!(
                "Pacer: Redis CPU {:.2} µs per call, node {:.2} µs (medians); the last run's commands:\n",
                median(redis_us),
                median(node_us)
            );
            println!("| command | runs per call | µs per call |\n|---|---|---|");
            for (name, runs, us) in by_command.iter().take(12) {
                println!("| {name} | {runs:.3} | {us:.2} |");
            }
            println!();
            println!(
                "| throughput ({n_jobs} calls, concurrency 1 000, median of {rounds}) | per second | Pacer ÷ this | this ÷ ZPOPMIN ceiling |"
            );
            println!("|---|---|---|---|");
            for (name, rate) in [
                ("Pacer, 1 node", pacer),
                ("BullMQ, 1 queue", one_queue),
                ("BullMQ, 10 queues", ten_queues),
            ] {
                println!(
                    "| {name} | {rate:.0} | {:.2} | {:.2} % |",
                    pacer / rate,
                    100.0 * rate / zpopmin
                );
            }
        }
        // Lateness at the same steady rate, each measurement on a redis-server of its own (the
        // same hz), so that none runs beside the keys and leases another left.
        if runs("lateness") {
            let fresh = || redis_server(&["--hz", hz]);
            println!(
                "\n| lateness at {n_late} calls/s for {seconds} s | calls | min | p50 | p99 | max |"
            );
            println!("|---|---|---|---|---|---|");
            if !instant_only {
                let (_server, redis) = fresh();
                print_lateness("Pacer", &pacer_lateness(&redis, n_late, seconds).await);
                // Where Pacer is on time on this machine: the same workload at lower rates.
                if sweep && hz == "10" {
                    for rate in [1_000, 2_500, 5_000] {
                        let (_server, redis) = fresh();
                        let late = pacer_lateness(&redis, rate, seconds).await;
                        print_lateness(
                            &format!("Pacer at {rate} calls/s ({rate} campaigns)"),
                            &late,
                        );
                    }
                }
            }
            let dispatched = {
                let (_server, redis) = fresh();
                pacer_dispatch_lateness(&redis, n_late, seconds).await
            };
            for (name, histogram) in [
                (
                    "Pacer, instant simulated dialer, claim − due",
                    &dispatched.claims,
                ),
                (
                    "Pacer, instant simulated dialer, claim − due, from slot 4 on",
                    &dispatched.steady,
                ),
                (
                    "Pacer, instant simulated dialer, timer fired − due, from slot 4 on",
                    &dispatched.timers,
                ),
            ] {
                println!("{}", histogram_row(name, histogram));
            }
            println!(
                "| Pacer, instant simulated dialer: CPU per call, Redis {:.1} µs, node {:.1} µs; store steps per call, claims {:.2}, records {:.2} | | | | | |",
                dispatched.cost.redis_us,
                dispatched.cost.node_us,
                dispatched.cost.claims,
                dispatched.cost.records
            );
            if with_peer && !instant_only {
                for (name, concurrency, queues) in [("1 queue", 1_000, 1), ("10 queues", 100, 10)] {
                    let (_server, redis) = fresh();
                    let peer = bullmq(
                        &redis,
                        "lateness",
                        &[
                            ("rate", n_late.to_string()),
                            ("seconds", seconds.to_string()),
                            ("concurrency", concurrency.to_string()),
                            ("queues", queues.to_string()),
                        ],
                    );
                    println!(
                        "| BullMQ, {name} (processed − timestamp + delay) | {} | | {} ms | {} ms | {} ms |",
                        peer["jobs"], peer["p50_ms"], peer["p99_ms"], peer["max_ms"]
                    );
                }
            }
        }
        // Pauses.
        if runs("pause") {
            let (late, latencies) = pacer_pause(&redis, trials).await;
            let peer = bullmq(
                &redis,
                "pause",
                &[
                    ("trials", trials.to_string()),
                    ("concurrency", "100".to_owned()),
                ],
            );
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "\n| {trials} pauses at random moments | started after the pause answer | pause p50 | pause p99 |"
            );
            println!("|---|---|---|---|");
            println!(
                "| Pacer (dial requests) | {late} | {:.1} ms | {:.1} ms |",
                ms(latencies[latencies.len() / 2]),
                ms(latencies[(latencies.len() - 1) * 99 / 100])
            );
            println!(
                "| BullMQ (`queue.pause()`, jobs started) | {} | {:.1} ms | {:.1} ms |",
                peer["started_after_pause"],
                peer["pause_p50_ms"].as_f64().unwrap_or(f64::NAN),
                peer["pause_p99_ms"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
}

/// The value after `flag` on the command line, as a number.
fn args_value(flag: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|arg| arg == flag)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    support::keep_off_redis_core();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    // One workload only: `-- lateness` (throughput, lateness, pause, footprint, control,
    // ingest, rest; `loaded`, 100 000 campaigns on one node, runs only when named).
    let only = args
        .iter()
        .find(|arg| {
            [
                "throughput",
                "lateness",
                "pause",
                "footprint",
                "loaded",
                "control",
                "ingest",
                "rest",
            ]
            .contains(&arg.as_str())
        })
        .cloned();
    // `--hz 10` or `--hz 100`: one Redis tick rate only (both by default).
    let hzs = match args_value("--hz") {
        Some(100) => vec!["100"],
        Some(_) => vec!["10"],
        None => vec!["10", "100"],
    };
    // `--pacer`: Pacer alone, no peer (for profiling).
    let peer = !args.iter().any(|arg| arg == "--pacer");
    actix_web::rt::System::new().block_on(run(quick, only, hzs, peer));
}
