//! The operator's tools, measured against a node process on a redis-server of its own:
//!
//! 1. `import`: a CSV file of 1 M rows through `pacer import` (the CLI streams it, the node
//!    parses it as it arrives and stores it in batches): rows per second, and the node's peak RSS
//!    (`VmHWM`) beside its RSS before;
//! 2. `metrics`: 10 000 campaigns dispatching on the node (one call each in flight), then the
//!    size of `/metrics` and the time to scrape it (21 scrapes).
//!
//! `cargo bench --bench operators` runs both; `-- import` or `-- metrics` one; `-- --quick` uses
//! 100 000 rows and 1 000 campaigns. `BENCH_NODE_BINARY=path` measures another build of the node
//! (and of the CLI). The console's figures come from `tests/browser/console_test.py --measure`.

#![allow(clippy::print_stdout, reason = "a harness prints its table")]

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "support/mod.rs"]
mod support;

use support::{KEY, Node, ms, percentile, redis_server};

fn binary() -> String {
    std::env::var("BENCH_NODE_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pacer").to_owned())
}

/// A `/proc/<pid>/status` field in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

async fn import(rows: usize) {
    let (_redis, url) = redis_server(&[]);
    let node = Node::start("import", &url, "import:", &[]).await;
    let pid = node.proc.0.id();
    let file = std::env::temp_dir().join(format!("pacer-import-{}.csv", std::process::id()));
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        writeln!(out, "phone_number,first_name,last_name,plan").unwrap();
        for row in 0..rows {
            writeln!(out, "+1555{row:07},Name{row},Surname,gold").unwrap();
        }
    }
    let size = std::fs::metadata(&file).unwrap().len();
    let idle_kb = status_kb(pid, "VmRSS:");
    let root = node.base.trim_end_matches("/api/public/v1").to_owned();
    let mut runs = Vec::new();
    for round in 0..3 {
        let created = node
            .call(
                reqwest::Method::POST,
                "/batch-calls",
                Some(json!({ "name": format!("import {round}"), "agent_id": "a" })),
            )
            .await;
        let id = created["data"]["id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let output = tokio::task::spawn_blocking({
            let (file, root) = (file.clone(), root.clone());
            move || {
                Command::new(binary())
                    .args([
                        "import",
                        file.to_str().unwrap(),
                        "--campaign",
                        &id,
                        "--quiet",
                    ])
                    .env("PACER_URL", root)
                    .env("PACER_API_KEY", KEY)
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        let took = started.elapsed();
        let summary = String::from_utf8_lossy(&output.stdout);
        assert!(
            summary.contains(&format!(": {rows} rows added, 0 not added")),
            "{summary}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        runs.push(took);
        println!(
            "import round {round}: {} ({:.0} rows/s), node peak RSS {:.1} MB",
            ms(took),
            rows as f64 / took.as_secs_f64(),
            status_kb(pid, "VmHWM:") as f64 / 1024.0
        );
    }
    let _ = std::fs::remove_file(&file);
    runs.sort();
    let median = runs[runs.len() / 2];
    println!(
        "import of {rows} rows ({:.1} MB) through the CLI: median {} = {:.0} rows/s; node RSS {:.1} MB before, peak {:.1} MB",
        size as f64 / 1e6,
        ms(median),
        rows as f64 / median.as_secs_f64(),
        idle_kb as f64 / 1024.0,
        status_kb(pid, "VmHWM:") as f64 / 1024.0
    );
}

async fn metrics(n_campaigns: usize) {
    let (_redis, url) = redis_server(&[]);
    // Calls that last: every campaign keeps one in flight while the scrapes run.
    let env = [("PACER_SIMULATED_CALL_MS", "600000..600000".to_owned())];
    let node = &Node::start("metrics", &url, "metrics:", &env).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let mut created = 0;
    while created < n_campaigns {
        assert!(Instant::now() < deadline, "campaigns not created in time");
        let batch: Vec<_> = (created..(created + 64).min(n_campaigns))
            .map(|index| async move {
                let id = node.create(index * 2, 2, 1).await;
                node.post(&id, "schedule").await;
            })
            .collect();
        created += batch.len();
        futures_util::future::join_all(batch).await;
    }
    println!(
        "{n_campaigns} campaigns created and scheduled in {}",
        ms(started.elapsed())
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let root = node.base.trim_end_matches("/api/public/v1").to_owned();
    let mut times = Vec::new();
    let mut text = String::new();
    for _ in 0..21 {
        let started = Instant::now();
        text = node
            .client
            .get(format!("{root}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    let samples = text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .count();
    let in_flight = text
        .lines()
        .find(|line| line.starts_with("pacer_calls_in_flight "))
        .unwrap_or("pacer_calls_in_flight ?");
    println!(
        "/metrics with {n_campaigns} campaigns dispatching ({in_flight}): {} bytes, {samples} samples; scrape p50 {}, max {}",
        text.len(),
        ms(percentile(&times, 0.5)),
        ms(times[times.len() - 1])
    );
}

#[actix_web::main]
async fn main() {
    support::keep_off_redis_core();
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    let only = args
        .iter()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .cloned();
    let wants = |name: &str| only.as_deref().is_none_or(|only| only == name);
    if wants("import") {
        import(if quick { 100_000 } else { 1_000_000 }).await;
    }
    if wants("metrics") {
        metrics(if quick { 1_000 } else { 10_000 }).await;
    }
}
