//! What the node-process benches share: a redis-server and a recording provider on loopback,
//! `pacer` node processes and their API, the throughput workload, percentiles.

#![allow(dead_code, reason = "each bench uses a part")]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use pacer::clock::{Clock, SystemClock};
use parking_lot::Mutex;
use serde_json::{Value, json};

pub const KEY: &str = "bench-key-0123456789abcdef";
pub const LEASE_TTL_MS: u64 = 2_000;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `BENCH_REDIS_CORE=<n>`: each redis-server on core `n` alone, and the bench with all it
/// starts on the other cores (`keep_off_redis_core`): Redis on a core of its own, as in the
/// capacity model of `ARCHITECTURE.md`.
pub fn redis_core() -> Option<usize> {
    let core = std::env::var("BENCH_REDIS_CORE").ok()?;
    Some(core.parse().expect("BENCH_REDIS_CORE is a core number"))
}

/// Moves this process, and so every thread and process it starts from now on, off the core of
/// `BENCH_REDIS_CORE` (nothing without it); called first thing in `main`.
pub fn keep_off_redis_core() {
    let Some(core) = redis_core() else { return };
    let n = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let others: Vec<String> = (0..n)
        .filter(|&c| c != core)
        .map(|c| c.to_string())
        .collect();
    assert!(
        core < n && !others.is_empty(),
        "BENCH_REDIS_CORE={core}: needs another of the {n} cores"
    );
    let status = Command::new("taskset")
        .args([
            "-p",
            "-c",
            &others.join(","),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .expect("taskset runs (util-linux)");
    assert!(
        status.success(),
        "taskset moves the bench to cores {others:?}"
    );
}

/// A redis-server on a free loopback port with `extra` arguments (e.g. `--hz 100`); its URL.
/// With `BENCH_REDIS_CORE`, on that core.
pub fn redis_server(extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let mut command = match redis_core() {
        Some(core) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", &core.to_string(), "redis-server"]);
            taskset
        }
        None => Command::new("redis-server"),
    };
    let child = command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts (apt-get install redis-server)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (Proc(child), format!("redis://127.0.0.1:{port}/"))
}

/// The dial requests a provider received: when, and from which node (the path's last part).
pub type Dials = Arc<Mutex<Vec<Dial>>>;

/// One dial request the provider received.
#[derive(Debug, Clone)]
pub struct Dial {
    pub at: Instant,
    /// The same moment on the wall clock (due times are wall-clock instants).
    pub wall: chrono::DateTime<chrono::Utc>,
    /// The node that sent it (the last part of the path).
    pub node: String,
    pub campaign: String,
}

pub async fn provider() -> (String, Dials) {
    provider_holding("").await
}

/// A provider whose calls from node `holding` stay running: it answers that node's first
/// request of each idempotency key without an outcome, and any repeat of the key with the
/// call's outcome (how a node that takes a dead node's campaign learns how its calls ended).
/// Every other request is answered with an outcome at once.
pub async fn provider_holding(holding: &str) -> (String, Dials) {
    let holding = holding.to_owned();
    let seen: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
    let dials: Dials = Arc::default();
    let recorded = dials.clone();
    let server = HttpServer::new(move || {
        let (recorded, seen, holding) = (recorded.clone(), seen.clone(), holding.clone());
        App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
            let (recorded, seen, holding) = (recorded.clone(), seen.clone(), holding.clone());
            async move {
                let (at, wall) = (Instant::now(), SystemClock.now());
                let node = request.path().rsplit('/').next().unwrap_or("").to_owned();
                let campaign = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|body| Some(body["campaign_id"].as_str()?.to_owned()))
                    .unwrap_or_default();
                let key = request
                    .headers()
                    .get("idempotency-key")
                    .and_then(|key| key.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let first = seen.lock().insert(key);
                let held = first && !holding.is_empty() && node == holding;
                recorded.lock().push(Dial {
                    at,
                    wall,
                    node,
                    campaign,
                });
                if held {
                    return HttpResponse::Ok().json(json!({}));
                }
                HttpResponse::Ok().json(json!({ "outcome": "completed", "duration_seconds": 1 }))
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (format!("http://127.0.0.1:{port}/dial"), dials)
}

pub struct Node {
    pub proc: Proc,
    pub base: String,
    pub client: reqwest::Client,
}

impl Node {
    /// Starts node `name` on `redis` with `env` on top of the common settings.
    pub async fn start(name: &str, redis: &str, prefix: &str, env: &[(&str, String)]) -> Self {
        let port = free_port();
        // `BENCH_NODE_BINARY` measures another build (e.g. the previous commit's) with this harness.
        let binary = std::env::var("BENCH_NODE_BINARY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pacer").to_owned());
        let mut command = Command::new(binary);
        command
            .env("RUST_LOG", "warn")
            .env("PACER_LISTEN", format!("127.0.0.1:{port}"))
            .env("PACER_API_KEYS", format!("bench:{KEY}"))
            .env("PACER_NODE_ID", name)
            .env("PACER_REDIS_URL", redis)
            .env("PACER_REDIS_PREFIX", prefix)
            .env("PACER_LEASE_TTL_MS", LEASE_TTL_MS.to_string())
            .env("PACER_RATE_LIMIT_PER_SEC", "1000000")
            .env("PACER_RATE_LIMIT_BURST", "1000000")
            .env("PACER_SIMULATED_OUTCOMES", "completed=1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let node = Self {
            proc: Proc(command.spawn().expect("the pacer binary starts")),
            base: format!("http://127.0.0.1:{port}/api/public/v1"),
            // Idle connections dropped well before the node's keep-alive (75 s) closes them
            // under a request.
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("an HTTP client"),
        };
        let ready = format!("http://127.0.0.1:{port}/readyz");
        for _ in 0..400 {
            if node.client.get(&ready).send().await.is_ok() {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("node {name} did not start");
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the node answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// A draft campaign of `n` contacts; its id. With `--gates`, each call is counted
    /// against a frequency cap (that it never reaches).
    pub async fn create(&self, first: usize, n: usize, concurrency: u32) -> String {
        let contacts: Vec<Value> = (first..first + n)
            .map(|i| json!({ "phone_number": format!("+1555{i:07}") }))
            .collect();
        let mut body = json!({
            "name": "bench", "agent_id": "agent", "contacts": contacts,
            "working_days": [1, 2, 3, 4, 5, 6, 7], "max_concurrent_calls": concurrency,
        });
        if gates() {
            body["frequency_caps"] = frequency_caps();
        }
        let created = self
            .call(reqwest::Method::POST, "/batch-calls", Some(body))
            .await;
        created["data"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn post(&self, id: &str, action: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/batch-calls/{id}/{action}"),
            None,
        )
        .await;
    }

    pub async fn status(&self, id: &str) -> String {
        let campaign = self
            .call(reqwest::Method::GET, &format!("/batch-calls/{id}"), None)
            .await;
        campaign["data"]["status"].as_str().unwrap().to_owned()
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// `INFO <section>` of the redis-server at `redis`.
fn redis_info(redis: &str, section: &str) -> String {
    let port = redis.trim_end_matches('/').rsplit(':').next().unwrap();
    let info = Command::new("redis-cli")
        .args(["-p", port, "INFO", section])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&info.stdout).into_owned()
}

/// Redis' CPU time (user + system, s) and the commands its clients sent (a script counts once).
pub fn redis_usage(redis: &str) -> (f64, f64) {
    let (mut cpu, mut commands) = (0.0, 0.0);
    for line in redis_info(redis, "default").lines() {
        let Some((name, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        match name {
            "used_cpu_user" | "used_cpu_sys" => cpu += value,
            "total_commands_processed" => commands = value,
            _ => {}
        }
    }
    (cpu, commands)
}

/// Each command's time in Redis so far (`INFO commandstats`: calls and µs; a script's commands
/// count both in it and on their own).
pub fn redis_commands(redis: &str) -> std::collections::HashMap<String, (f64, f64)> {
    let field = |fields: &str, name: &str| -> f64 {
        fields
            .split(',')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    };
    redis_info(redis, "commandstats")
        .lines()
        .filter_map(|line| {
            let (name, fields) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            Some((
                name.to_owned(),
                (field(fields, "calls"), field(fields, "usec")),
            ))
        })
        .collect()
}

/// Each command's runs and µs between two [`redis_commands`] readings, divided by `per` (a
/// span's seconds, or its calls), busiest first; commands that did not run are left out.
pub fn commands_between(
    before: &std::collections::HashMap<String, (f64, f64)>,
    after: &std::collections::HashMap<String, (f64, f64)>,
    per: f64,
) -> Vec<(String, f64, f64)> {
    let mut by_command: Vec<(String, f64, f64)> = after
        .iter()
        .map(|(name, &(calls, usec))| {
            let (calls_before, usec_before) = before.get(name).copied().unwrap_or_default();
            (
                name.clone(),
                (calls - calls_before) / per,
                (usec - usec_before) / per,
            )
        })
        .filter(|&(_, runs, _)| runs > 0.0)
        .collect();
    by_command.sort_by(|a, b| b.2.total_cmp(&a.2));
    by_command
}

/// CPU time (user + system, s) of a process so far, from `/proc/<pid>/stat`.
pub fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which may hold spaces: utime and stime are 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Clock ticks are 100 a second on Linux (USER_HZ).
    (ticks(11) + ticks(12)) / 100.0
}

/// `--gates`: the do-not-call list and frequency caps on (a list of [`LISTED`] numbers none of
/// the campaigns calls, each campaign's calls counted against a cap), to compare with off.
pub fn gates() -> bool {
    std::env::args().any(|arg| arg == "--gates")
}

/// Numbers on the organisation's list with `--gates`.
pub const LISTED: usize = 100_000;

/// The cap each campaign sets with `--gates`: 3 calls a day to one number (each is called once).
pub fn frequency_caps() -> Value {
    json!([{ "max_calls": 3, "window_hours": 24 }])
}

/// Puts [`LISTED`] numbers (`+1444…`, called by no campaign) on the organisation's list.
pub async fn list_numbers(node: &Node) {
    for chunk in (0..LISTED).collect::<Vec<_>>().chunks(10_000) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|i| json!({ "phone_number": format!("+1444{i:07}") }))
            .collect();
        node.call(
            reqwest::Method::POST,
            "/dnc",
            Some(json!({ "entries": entries })),
        )
        .await;
    }
}

/// Calls finished per second with `n_nodes` nodes: campaigns scheduled round-robin through
/// the nodes (each takes the campaigns it schedules), all due at once, instant calls.
#[allow(
    clippy::print_stderr,
    reason = "markers on stderr for a profiler attached to Redis"
)]
pub async fn throughput(
    redis: &str,
    n_nodes: usize,
    n_campaigns: usize,
    per_campaign: usize,
) -> Throughput {
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let simulated = [("PACER_SIMULATED_CALL_MS", "0..0".to_owned())];
    let mut nodes = Vec::new();
    for i in 0..n_nodes {
        nodes.push(Node::start(&format!("n{i}"), redis, &prefix, &simulated).await);
    }
    if gates() {
        list_numbers(&nodes[0]).await;
    }
    let mut ids = Vec::new();
    for i in 0..n_campaigns {
        ids.push(nodes[0].create(i * per_campaign, per_campaign, 100).await);
    }
    let (cpu_before, commands_before) = redis_usage(redis);
    let by_command_before = redis_commands(redis);
    let node_cpu =
        |nodes: &[Node]| -> f64 { nodes.iter().map(|node| process_cpu(node.proc.0.id())).sum() };
    let node_cpu_before = node_cpu(&nodes);
    // Markers for a profiler attached to Redis (BENCHMARKS.md, *Instructions per call*).
    eprintln!("dispatch: start");
    let started = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        nodes[i % n_nodes].post(id, "schedule").await;
    }
    let give_up = started + Duration::from_secs(300);
    let mut pending = ids.clone();
    while !pending.is_empty() && Instant::now() < give_up {
        let mut still = Vec::new();
        for id in pending {
            if nodes[0].status(&id).await != "completed" {
                still.push(id);
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pending.is_empty(), "campaigns did not complete in time");
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!("dispatch: end");
    let n_calls = (n_campaigns * per_campaign) as f64;
    let (cpu, commands) = redis_usage(redis);
    let node_us_per_call = (node_cpu(&nodes) - node_cpu_before) * 1e6 / n_calls;
    let by_command = commands_between(&by_command_before, &redis_commands(redis), n_calls);
    Throughput {
        calls_per_sec: n_calls / elapsed,
        redis_us_per_call: (cpu - cpu_before) * 1e6 / n_calls,
        commands_per_call: (commands - commands_before) / n_calls,
        node_us_per_call,
        by_command,
    }
}

pub struct Throughput {
    pub calls_per_sec: f64,
    /// Redis' CPU time per call (the status polls of this harness included).
    pub redis_us_per_call: f64,
    pub commands_per_call: f64,
    /// The nodes' CPU time per call (the answers to this harness' status polls included).
    pub node_us_per_call: f64,
    /// Each Redis command per call, busiest first: (name, runs per call, µs per call); a
    /// script's commands count both in it and on their own.
    pub by_command: Vec<(String, f64, f64)>,
}
