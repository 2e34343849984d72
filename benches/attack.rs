//! The attacks of the hardening issue, measured against a node process on loopback:
//!
//! 1. `events`: 60 connections each sending a 15 MiB body to `POST /calls/{id}/events` without
//!    a signature: the node's peak RSS, and `/healthz` latency meanwhile;
//! 2. `idle`: 5 000 connections from 127.0.0.2 that send one byte each and hold, against a node
//!    whose file-descriptor limit is 4 096: the node's peak RSS, `/healthz` latency and failures
//!    from 127.0.0.1 meanwhile;
//! 3. `methods`: 5 000 requests with invented method names, then the size of `/metrics` and the
//!    time to scrape it;
//! 4. `listing`: `GET …/contacts?offset=99900&limit=100` of a paced campaign of 100 000
//!    contacts (10 calls per day), alone (median of five) and 16 at once beside `/readyz`.
//!
//! `cargo bench --bench attack` runs all four; `-- events` (or `idle`, `methods`, `listing`) one.
//! `BENCH_NODE_BINARY=path` measures another build of the node (e.g. the previous commit's). Every
//! loop is bounded in count and time; every address is on loopback.

#![allow(clippy::print_stdout, reason = "a harness prints its table")]

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

#[path = "support/mod.rs"]
mod support;

use support::{KEY, Proc, free_port, ms, percentile};

/// A node process on the memory store, with the simulated dialer and a dialer secret (so that
/// the call-events route is on), under a file-descriptor limit of `nofile`.
struct Target {
    proc: Proc,
    port: u16,
    client: reqwest::Client,
}

impl Target {
    async fn start(nofile: u32, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let binary = std::env::var("BENCH_NODE_BINARY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pacer").to_owned());
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" serve"))
            .arg(binary)
            .env("RUST_LOG", "error")
            .env("PACER_LISTEN", format!("0.0.0.0:{port}"))
            .env("PACER_API_KEYS", format!("bench:{KEY}"))
            .env("PACER_DIALER_SECRET", "attack-dialer-secret-0123456789")
            .env("PACER_RATE_LIMIT_PER_SEC", "1000000")
            .env("PACER_RATE_LIMIT_BURST", "1000000")
            .env("PACER_HTTP_WORKERS", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let target = Self {
            proc: Proc(command.spawn().expect("the pacer binary starts")),
            port,
            client: reqwest::Client::new(),
        };
        for _ in 0..400 {
            if target.healthz().await.is_some() {
                return target;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the node did not start");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// One `/healthz` on a new connection: its latency, or `None` (no answer in 5 s).
    async fn healthz(&self) -> Option<Duration> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(0)
            .build()
            .ok()?;
        let started = Instant::now();
        let answer = client.get(self.url("/healthz")).send().await.ok()?;
        answer.status().is_success().then(|| started.elapsed())
    }

    /// Peak RSS so far, in MB (`VmHWM`).
    fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.0.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// `/healthz` every 100 ms for `length`: latencies of those answered, and how many were not.
async fn probe(target: &Target, length: Duration) -> (Vec<Duration>, usize) {
    let (mut answered, mut failed) = (Vec::new(), 0);
    let until = Instant::now() + length;
    while Instant::now() < until {
        match target.healthz().await {
            Some(latency) => answered.push(latency),
            None => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    answered.sort();
    (answered, failed)
}

fn latency_row(name: &str, (answered, failed): &(Vec<Duration>, usize)) {
    if answered.is_empty() {
        println!("| {name} | — | — | {failed} |");
        return;
    }
    println!(
        "| {name} | {} | {} | {failed} |",
        ms(percentile(answered, 0.5)),
        ms(percentile(answered, 0.99))
    );
}

/// 60 connections, each sending a 15 MiB unsigned call event as fast as the node reads it.
async fn events() {
    let target = Target::start(16_384, &[]).await;
    let before = target.peak_rss_mb();
    let address: SocketAddr = format!("127.0.0.1:{}", target.port).parse().unwrap();
    let flood = (0..60).map(|_| async move {
        let Ok(mut stream) = TcpStream::connect(address).await else {
            return;
        };
        let length = 15 << 20;
        let head = format!(
            "POST /api/public/v1/calls/{}/events HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
            uuid::Uuid::new_v4()
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 64 << 10];
        let mut sent = 0;
        let give_up = Instant::now() + Duration::from_secs(30);
        while sent < length && Instant::now() < give_up {
            match tokio::time::timeout(Duration::from_secs(5), stream.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                _ => return,
            }
        }
    });
    let flooding = tokio::spawn(futures_util::future::join_all(flood));
    let probed = probe(&target, Duration::from_secs(6)).await;
    let _ = flooding.await;
    println!("| workload | /healthz p50 | /healthz p99 | /healthz failed |");
    println!("|---|---|---|---|");
    latency_row("60 × 15 MiB unsigned call events", &probed);
    println!(
        "\nnode peak RSS: {before:.0} MB at rest, {:.0} MB after the flood\n",
        target.peak_rss_mb()
    );
}

/// 5 000 connections from 127.0.0.2 that send one byte each and hold, against a node limited
/// to 4 096 file descriptors; `/healthz` from 127.0.0.1 meanwhile.
async fn idle() {
    let target = Target::start(4_096, &[]).await;
    let address: SocketAddr = format!("127.0.0.1:{}", target.port).parse().unwrap();
    let from: SocketAddr = "127.0.0.2:0".parse().unwrap();
    // Opened 1 000 at a time, so that all are open within about a second (the node's request
    // timeout closes a connection that sent no request head after 5 s).
    let connect = || async move {
        let socket = TcpSocket::new_v4().ok()?;
        socket.bind(from).ok()?;
        let mut stream = tokio::time::timeout(Duration::from_secs(2), socket.connect(address))
            .await
            .ok()?
            .ok()?;
        stream.write_all(b"G").await.ok()?;
        Some(stream)
    };
    let mut held = Vec::new();
    let mut refused = 0;
    let opened = Instant::now();
    for _ in 0..5 {
        let batch = futures_util::future::join_all((0..1_000).map(|_| connect())).await;
        for stream in batch {
            match stream {
                Some(stream) => held.push(stream),
                None => refused += 1,
            }
        }
    }
    let opening = opened.elapsed();
    let fds =
        std::fs::read_dir(format!("/proc/{}/fd", target.proc.0.id())).map_or(0, Iterator::count);
    let probed = probe(&target, Duration::from_secs(4)).await;
    // Connections the node closed (a refusal, or its request timeout): readable.
    let closed = futures_util::future::join_all(held.iter().map(|stream| async move {
        let mut byte = [0u8; 1];
        let peeked = tokio::time::timeout(Duration::from_millis(200), stream.peek(&mut byte));
        peeked.await.is_ok()
    }))
    .await
    .into_iter()
    .filter(|closed| *closed)
    .count();
    println!("| workload | /healthz p50 | /healthz p99 | /healthz failed |");
    println!("|---|---|---|---|");
    latency_row("5 000 one-byte connections from 127.0.0.2", &probed);
    println!(
        "\nconnections: {} opened in {opening:.1?}, {refused} refused at connect, {closed} closed \
         by the node 4 s later; node file descriptors {fds}; node peak RSS {:.0} MB\n",
        held.len(),
        target.peak_rss_mb()
    );
    drop(held);
}

/// 5 000 requests with invented methods, then `/metrics`.
async fn methods() {
    let target = Target::start(16_384, &[]).await;
    let address: SocketAddr = format!("127.0.0.1:{}", target.port).parse().unwrap();
    for i in 0..5_000 {
        let Ok(mut stream) = TcpStream::connect(address).await else {
            continue;
        };
        let request = format!("M{i:04}X /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(request.as_bytes()).await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut sink),
        )
        .await;
    }
    let mut sizes = Vec::new();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let body = target
            .client
            .get(target.url("/metrics"))
            .send()
            .await
            .expect("the node answers")
            .bytes()
            .await
            .expect("a body");
        times.push(started.elapsed());
        sizes.push(body.len());
    }
    times.sort();
    println!(
        "/metrics after 5 000 invented methods: {:.1} KB, scraped in {} (median of 5)\n",
        sizes[2] as f64 / 1e3,
        ms(times[2])
    );
}

/// A paced campaign of 100 000 contacts, and its deepest page.
async fn listing() {
    let target = Target::start(16_384, &[]).await;
    let contacts: Vec<Value> = (0..100_000)
        .map(|i| json!({ "phone_number": format!("+1555{i:07}") }))
        .collect();
    let body = json!({
        "name": "deep", "agent_id": "agent", "contacts": contacts,
        "working_days": [1, 2, 3, 4, 5, 6, 7], "start_time": "09:00", "end_time": "17:00",
        "max_calls_per_day": 10,
    });
    let base = target.url("/api/public/v1");
    let created: Value = target
        .client
        .post(format!("{base}/batch-calls"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("the node answers")
        .json()
        .await
        .expect("JSON");
    let id = created["data"]["id"].as_str().expect("created").to_owned();
    target
        .client
        .post(format!("{base}/batch-calls/{id}/schedule"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("scheduled");
    let page = format!("{base}/batch-calls/{id}/contacts?offset=99900&limit=100");
    let read = || async {
        let started = Instant::now();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let answer = client.get(&page).bearer_auth(KEY).send().await;
        let ok = answer.is_ok_and(|answer| answer.status().is_success());
        ok.then(|| started.elapsed())
    };
    let mut alone = Vec::new();
    for _ in 0..5 {
        alone.extend(read().await);
    }
    alone.sort();
    let readyz = async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let started = Instant::now();
        let answer = client.get(target.url("/readyz")).send().await;
        answer
            .is_ok_and(|answer| answer.status().is_success())
            .then(|| started.elapsed())
    };
    let (pages, ready) = tokio::join!(
        futures_util::future::join_all((0..16).map(|_| read())),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            readyz.await
        }
    );
    let mut together: Vec<Duration> = pages.into_iter().flatten().collect();
    together.sort();
    println!("| contacts page at offset 99 900 of 100 000 | p50 | max |");
    println!("|---|---|---|");
    if !alone.is_empty() {
        println!(
            "| alone (5 reads) | {} | {} |",
            ms(alone[alone.len() / 2]),
            ms(alone[alone.len() - 1])
        );
    }
    if !together.is_empty() {
        println!(
            "| 16 at once ({} answered) | {} | {} |",
            together.len(),
            ms(percentile(&together, 0.5)),
            ms(together[together.len() - 1])
        );
    }
    match ready {
        Some(latency) => println!("\n/readyz meanwhile: {}\n", ms(latency)),
        None => println!("\n/readyz meanwhile: no answer in 5 s\n"),
    }
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wants = |name: &str| only.is_empty() || only.iter().any(|arg| arg == name);
    actix_web::rt::System::new().block_on(async {
        if wants("events") {
            events().await;
        }
        if wants("idle") {
            idle().await;
        }
        if wants("methods") {
            methods().await;
        }
        if wants("listing") {
            listing().await;
        }
    });
}
