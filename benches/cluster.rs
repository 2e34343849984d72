//! Cluster figures, with real node processes (the `pacer` binary of this build) on one
//! redis-server this harness starts on loopback:
//!
//! 1. dispatch throughput with one, two and three nodes (instant simulated dialer): calls
//!    finished per second, campaigns spread over the nodes;
//! 2. takeover after `kill -9` of a campaign's owner (webhook dialer to a recording provider in
//!    this process): from the kill to the first call another node places, median and max;
//! 3. from `kill -9` of an owner whose calls are in flight to its campaign `completed` on the
//!    other node, with the default call deadline (the calls are reconciled, not waited for);
//! 4. pause and resume latency through the owning node and through another node while calls
//!    flow on every node.
//!
//! `cargo bench --bench cluster` runs the full sizes; `-- --quick` a small run. Every loop is
//! bounded in count and time.

#![allow(clippy::print_stdout, reason = "a harness prints its table")]

use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

use support::{
    Dials, LEASE_TTL_MS, Node, ms, percentile, provider, provider_holding, redis_server, throughput,
};

/// Campaigns of 100 concurrent calls that keep both nodes busy while control is measured.
const N_LOAD: usize = 10;

/// The settings of node `name`'s webhook dialer at `provider`, with one more setting.
fn webhook_dialer(
    provider: &str,
    name: &str,
    (key, value): (&'static str, &str),
) -> Vec<(&'static str, String)> {
    vec![
        ("PACER_DIALER", "webhook".to_owned()),
        ("PACER_DIALER_URL", format!("{provider}/{name}")),
        (
            "PACER_DIALER_SECRET",
            "bench-dialer-secret-0123456789".to_owned(),
        ),
        (key, value.to_owned()),
    ]
}

/// From `kill -9` of the owner to the first call another node places.
async fn takeover(redis: &str, provider: &str, dials: &Dials) -> Duration {
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let webhook = |name: &str| webhook_dialer(provider, name, ("PACER_DIALER_MAX_CPS", "50"));
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
            .find(|dial| dial.at > killed && dial.node == "b")
            .map(|dial| dial.at - killed);
        if let Some(first) = first {
            drop(other);
            return first;
        }
        assert!(Instant::now() < give_up, "no takeover");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// From `kill -9` of the owner, while the campaign's calls are in flight, to the campaign
/// `completed` on the other node, with the default call deadline (an hour): the calls in flight
/// are reconciled, not waited for. `provider` holds the calls of node `a` until asked again.
async fn takeover_to_completed(redis: &str, provider: &str, dials: &Dials) -> Duration {
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let webhook = |name: &str| webhook_dialer(provider, name, ("PACER_CALL_DEADLINE_SECS", "3600"));
    let owner = Node::start("a", redis, &prefix, &webhook("a")).await;
    let other = Node::start("b", redis, &prefix, &webhook("b")).await;
    let id = owner.create(0, 200, 10).await;
    let scheduled = Instant::now();
    owner.post(&id, "schedule").await;
    let give_up = scheduled + Duration::from_secs(10);
    while dials
        .lock()
        .iter()
        .filter(|dial| dial.at > scheduled)
        .count()
        < 10
    {
        assert!(Instant::now() < give_up, "the owner placed no calls");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = Instant::now();
    drop(owner);
    let give_up = killed + Duration::from_secs(60);
    while other.status(&id).await != "completed" {
        assert!(Instant::now() < give_up, "not completed after the takeover");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.elapsed()
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
    let (_redis, redis) = redis_server(&[]);
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

    let (holding, held_dials) = provider_holding("a").await;
    let mut completions = Vec::new();
    for _ in 0..trials {
        completions.push(takeover_to_completed(&redis, &holding, &held_dials).await);
    }
    completions.sort();
    println!(
        "\n## From kill -9 of the owner, ten calls in flight, to `completed` (200 contacts, call \
         deadline an hour, lease TTL {LEASE_TTL_MS} ms, {trials} trials)\n\nmedian {}, max {}",
        ms(percentile(&completions, 0.5)),
        ms(*completions.last().unwrap())
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
    let adds = dnc_adds(&owner, 0, pairs).await;
    let more = dnc_adds(&other, pairs, pairs).await;
    let mut all: Vec<Duration> = adds.into_iter().chain(more).collect();
    all.sort();
    println!(
        "\n## A do-not-call add while both nodes dispatch ({} adds of one number, half through each node, sequential)\n\n\
         p50 {}, p99 {}, max {}",
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap())
    );
}

/// Latencies of do-not-call adds of one number through `via`: each is answered once every node
/// settled (no step that looked up before it still places calls).
async fn dnc_adds(via: &Node, first: usize, n: usize) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for i in first..first + n {
        let body = serde_json::json!({ "entries": [{ "phone_number": format!("+1444{i:07}") }] });
        let sent = Instant::now();
        via.call(reqwest::Method::POST, "/dnc", Some(body)).await;
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    latencies
}

fn main() {
    support::keep_off_redis_core();
    let quick = std::env::args().any(|arg| arg == "--quick");
    actix_web::rt::System::new().block_on(run(quick));
}
