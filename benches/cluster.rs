//! Cluster figures, with real node processes (the `pacer` binary of this build) on one
//! redis-server this harness starts on loopback:
//!
//! 1. dispatch throughput with one, two and three nodes (instant simulated dialer): calls
//!    finished per second, campaigns spread over the nodes;
//! 2. takeover after `kill -9` of a campaign's owner (webhook dialer to a recording provider in
//!    this process): from the kill to the first call another node places, median and max;
//! 3. pause and resume latency through the owning node and through another node while calls
//!    flow on every node.
//!
//! `cargo bench --bench cluster` runs the full sizes; `-- --quick` a small run. Every loop is
//! bounded in count and time.

#![allow(clippy::print_stdout, reason = "a harness prints its table")]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use parking_lot::Mutex;
use serde_json::{Value, json};

const KEY: &str = "bench-key-0123456789abcdef";
const LEASE_TTL_MS: u64 = 2_000;
/// Campaigns of 100 concurrent calls that keep both nodes busy while control is measured.
const N_LOAD: usize = 10;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server() -> (Proc, String) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
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
type Dials = Arc<Mutex<Vec<(Instant, String)>>>;

async fn provider() -> (String, Dials) {
    let dials: Dials = Arc::default();
    let recorded = dials.clone();
    let server = HttpServer::new(move || {
        let recorded = recorded.clone();
        App::new().default_service(web::to(move |request: HttpRequest| {
            let recorded = recorded.clone();
            async move {
                let node = request.path().rsplit('/').next().unwrap_or("").to_owned();
                recorded.lock().push((Instant::now(), node));
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

struct Node {
    _proc: Proc,
    base: String,
    client: reqwest::Client,
}

impl Node {
    /// Starts node `name` on `redis` with `env` on top of the common settings.
    async fn start(name: &str, redis: &str, prefix: &str, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
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
            _proc: Proc(command.spawn().expect("the pacer binary starts")),
            base: format!("http://127.0.0.1:{port}/api/public/v1"),
            client: reqwest::Client::new(),
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

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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

    /// A draft campaign of `n` contacts; its id.
    async fn create(&self, first: usize, n: usize, concurrency: u32) -> String {
        let contacts: Vec<Value> = (first..first + n)
            .map(|i| json!({ "phone_number": format!("+1555{i:07}") }))
            .collect();
        let body = json!({
            "name": "bench", "agent_id": "agent", "contacts": contacts,
            "working_days": [1, 2, 3, 4, 5, 6, 7], "max_concurrent_calls": concurrency,
        });
        let created = self
            .call(reqwest::Method::POST, "/batch-calls", Some(body))
            .await;
        created["data"]["id"].as_str().unwrap().to_owned()
    }

    async fn post(&self, id: &str, action: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/batch-calls/{id}/{action}"),
            None,
        )
        .await;
    }

    async fn status(&self, id: &str) -> String {
        let campaign = self
            .call(reqwest::Method::GET, &format!("/batch-calls/{id}"), None)
            .await;
        campaign["data"]["status"].as_str().unwrap().to_owned()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// Redis' CPU time (user + system, s) and the commands its clients sent (a script counts once).
fn redis_usage(redis: &str) -> (f64, f64) {
    let port = redis
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let info = Command::new("redis-cli")
        .args(["-p", &port, "INFO"])
        .output()
        .expect("redis-cli runs");
    let (mut cpu, mut commands) = (0.0, 0.0);
    for line in String::from_utf8_lossy(&info.stdout).lines() {
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

/// Calls finished per second with `n_nodes` nodes: campaigns scheduled round-robin through
/// the nodes (each takes the campaigns it schedules), all due at once, instant calls.
async fn throughput(
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
    let mut ids = Vec::new();
    for i in 0..n_campaigns {
        ids.push(nodes[0].create(i * per_campaign, per_campaign, 100).await);
    }
    let (cpu_before, commands_before) = redis_usage(redis);
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
    let n_calls = (n_campaigns * per_campaign) as f64;
    let (cpu, commands) = redis_usage(redis);
    Throughput {
        calls_per_sec: n_calls / elapsed,
        redis_us_per_call: (cpu - cpu_before) * 1e6 / n_calls,
        commands_per_call: (commands - commands_before) / n_calls,
    }
}

struct Throughput {
    calls_per_sec: f64,
    /// Redis' CPU time per call (the status polls of this harness included).
    redis_us_per_call: f64,
    commands_per_call: f64,
}

/// From `kill -9` of the owner to the first call another node places.
async fn takeover(redis: &str, provider: &str, dials: &Dials) -> Duration {
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let webhook = |name: &str| {
        vec![
            ("PACER_DIALER", "webhook".to_owned()),
            ("PACER_DIALER_URL", format!("{provider}/{name}")),
            (
                "PACER_DIALER_SECRET",
                "bench-dialer-secret-0123456789".to_owned(),
            ),
            ("PACER_DIALER_MAX_CPS", "50".to_owned()),
        ]
    };
    let owner = Node::start("a", redis, &prefix, &webhook("a")).await;
    let id = owner.create(0, 2_000, 10).await;
    owner.post(&id, "schedule").await;
    let other = Node::start("b", redis, &prefix, &webhook("b")).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let killed = Instant::now();
    drop(owner);
    let give_up = killed + Duration::from_secs(30);
    loop {
        let first = dials
            .lock()
            .iter()
            .find(|(at, node)| *at > killed && node == "b")
            .map(|(at, _)| *at - killed);
        if let Some(first) = first {
            drop(other);
            return first;
        }
        assert!(Instant::now() < give_up, "no takeover");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Pause and resume latencies through `via` on a campaign `owner` dispatches, while calls flow.
async fn control(via: &Node, id: &str, pairs: usize) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for _ in 0..pairs {
        for action in ["pause", "resume"] {
            let sent = Instant::now();
            via.post(id, action).await;
            latencies.push(sent.elapsed());
        }
    }
    latencies.sort();
    latencies
}

async fn run(quick: bool) {
    let (_redis, redis) = redis_server();
    let (n_campaigns, per_campaign) = if quick { (12, 500) } else { (24, 5_000) };
    println!(
        "## Dispatch throughput ({n_campaigns} campaigns × {per_campaign} contacts, instant simulated dialer)\n"
    );
    println!(
        "| nodes | calls/s | ratio to 1 node | Redis CPU µs per call | Redis commands per call (in scripts included) |\n|---|---|---|---|---|"
    );
    let mut one = 0.0;
    for n_nodes in 1..=3 {
        let run = throughput(&redis, n_nodes, n_campaigns, per_campaign).await;
        if n_nodes == 1 {
            one = run.calls_per_sec;
        }
        println!(
            "| {n_nodes} | {:.0} | {:.2} | {:.2} | {:.3} |",
            run.calls_per_sec,
            run.calls_per_sec / one,
            run.redis_us_per_call,
            run.commands_per_call
        );
    }

    let (provider, dials) = provider().await;
    let trials = if quick { 2 } else { 5 };
    let mut takeovers = Vec::new();
    for _ in 0..trials {
        takeovers.push(takeover(&redis, &provider, &dials).await);
    }
    takeovers.sort();
    println!(
        "\n## Takeover after kill -9 (lease TTL {LEASE_TTL_MS} ms, {trials} trials)\n\nmedian {}, max {}",
        ms(percentile(&takeovers, 0.5)),
        ms(*takeovers.last().unwrap())
    );

    // Calls flowing on both nodes: campaigns of simulated calls lasting 0.5 to 3 s.
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let calls = [("PACER_SIMULATED_CALL_MS", "500..3000".to_owned())];
    let owner = Node::start("owner", &redis, &prefix, &calls).await;
    let other = Node::start("other", &redis, &prefix, &calls).await;
    let id = owner.create(0, 20_000, 100).await;
    owner.post(&id, "schedule").await;
    for i in 0..N_LOAD {
        let node = if i % 2 == 0 { &owner } else { &other };
        let load = node.create(100_000 * (i + 1), 20_000, 100).await;
        node.post(&load, "schedule").await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pairs = if quick { 50 } else { 250 };
    let through_owner = control(&owner, &id, pairs).await;
    let through_other = control(&other, &id, pairs).await;
    println!(
        "\n## Pause/resume while ≈{} calls are in flight ({pairs} pairs each, sequential)\n",
        100 * (N_LOAD + 1)
    );
    println!("| through | p50 | p99 | max |\n|---|---|---|---|");
    for (name, latencies) in [
        ("the owning node", &through_owner),
        ("another node", &through_other),
    ] {
        println!(
            "| {name} | {} | {} | {} |",
            ms(percentile(latencies, 0.5)),
            ms(percentile(latencies, 0.99)),
            ms(*latencies.last().unwrap())
        );
    }
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    actix_web::rt::System::new().block_on(run(quick));
}
