//! Several real node processes (the `pacer` binary) on one redis-server, dialing through the
//! webhook dialer to one recording fake provider in this process: each node's requests come
//! under a path of their own (`/hook/<node>`), so the provider knows who placed every call, and
//! its receive times and the test's response times are on one clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::fakes::{Fake, Received, campaign_body, fresh_prefix};
use crate::helpers::{ACME_KEY, Reply, redis_url};

const LEASE_TTL: Duration = Duration::from_millis(1500);

/// A node process, killed when dropped.
struct Proc {
    name: String,
    child: Child,
    base: String,
    client: reqwest::Client,
    /// Its stdout; its stderr beside it (`.err`): kept when a test fails.
    log: std::path::PathBuf,
}

/// What the nodes of one test share.
struct Cluster {
    prefix: String,
    provider: Fake,
    max_cps: u32,
    /// The nodes' `call_deadline_secs` (`None`: the default, an hour).
    call_deadline_secs: Option<u64>,
}

const ENDED: &str = r#"{"outcome":"completed","duration_seconds":1}"#;

impl Cluster {
    async fn new(max_cps: u32) -> Self {
        Self::with_provider_delay(max_cps, Duration::ZERO).await
    }

    /// A provider that takes `delay` per request, one request at a time.
    async fn with_provider_delay(max_cps: u32, delay: Duration) -> Self {
        let provider = Fake::start(move |_, _| {
            std::thread::sleep(delay);
            (200, ENDED.to_owned())
        })
        .await;
        Self {
            prefix: fresh_prefix(),
            provider,
            max_cps,
            call_deadline_secs: Some(2),
        }
    }

    /// Starts node `name` and waits until it is ready.
    async fn node(&self, name: &str) -> Proc {
        self.node_with(name, &[]).await
    }

    /// Starts node `name` with `env` on top of the common settings, and waits until it is ready.
    async fn node_with(&self, name: &str, env: &[(&str, &str)]) -> Proc {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("pacer-{}-{name}.log", &self.prefix[5..13]));
        let child = Command::new(env!("CARGO_BIN_EXE_pacer"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "pacer=info")
            .env("PACER_LISTEN", format!("127.0.0.1:{port}"))
            .env("PACER_API_KEYS", format!("acme:{ACME_KEY}"))
            .env("PACER_NODE_ID", name)
            .env("PACER_REDIS_URL", redis_url())
            .env("PACER_REDIS_PREFIX", &self.prefix)
            .env("PACER_LEASE_TTL_MS", LEASE_TTL.as_millis().to_string())
            .env(
                "PACER_CALL_DEADLINE_SECS",
                self.call_deadline_secs
                    .map_or_else(|| "3600".to_owned(), |secs| secs.to_string()),
            )
            .env("PACER_DIALER", "webhook")
            .env("PACER_DIALER_URL", format!("{}/{name}", self.provider.url))
            .env("PACER_DIALER_SECRET", "cluster-test-secret-0123456789")
            .env("PACER_DIALER_MAX_CPS", self.max_cps.to_string())
            .env("PACER_DIALER_BACKOFF_MS", "50")
            .env("PACER_RATE_LIMIT_PER_SEC", "100000")
            .env("PACER_RATE_LIMIT_BURST", "100000")
            .env("PACER_ACTOR_THREADS", "1")
            .env("PACER_HTTP_WORKERS", "1")
            .env("PACER_SHUTDOWN_GRACE_SECS", "5")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&log).expect("a log file"))
            .stderr(std::fs::File::create(log.with_extension("err")).expect("a log file"))
            .spawn()
            .expect("the pacer binary starts");
        let proc = Proc {
            name: name.to_owned(),
            child,
            base: format!("http://127.0.0.1:{port}/api/public/v1"),
            client: reqwest::Client::new(),
            log,
        };
        let ready = format!("http://127.0.0.1:{port}/readyz");
        let give_up = Instant::now() + Duration::from_secs(20);
        loop {
            let answered = proc.client.get(&ready).send().await;
            if answered.is_ok_and(|reply| reply.status().is_success()) {
                return proc;
            }
            assert!(Instant::now() < give_up, "node {name} never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts node `name` with a campaign of `n` contacts and waits for its first ten dials;
    /// the node, the campaign's id and a moment before any dial.
    async fn dialing_node(&self, name: &str, n: usize) -> (Proc, String, Instant) {
        let before = Instant::now();
        let node = self.node(name).await;
        let id = node.start_campaign(0, n).await;
        self.wait_for_dials(name, before, 10, Duration::from_secs(10))
            .await;
        (node, id, before)
    }

    fn dials(&self) -> Vec<Received> {
        self.provider.received()
    }

    /// How many dials reached the provider after `answered`, counted 300 ms later.
    async fn dials_after(&self, answered: Instant) -> usize {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.dials()
            .iter()
            .filter(|dial| dial.at > answered)
            .count()
    }

    /// Waits until `count` dials from `node` arrived after `since`, for at most `limit`.
    async fn wait_for_dials(&self, node: &str, since: Instant, count: usize, limit: Duration) {
        let give_up = Instant::now() + limit;
        while dials_by(&self.dials(), node, since).len() < count {
            assert!(
                Instant::now() < give_up,
                "{node} placed fewer than {count} calls in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn node_of(dial: &Received) -> &str {
    dial.path.rsplit('/').next().unwrap_or_default()
}

fn dials_by<'a>(dials: &'a [Received], node: &str, since: Instant) -> Vec<&'a Received> {
    dials
        .iter()
        .filter(|dial| dial.at > since && node_of(dial) == node)
        .collect()
}

/// Every contact was dialed under one attempt key only (the same key twice is a retry of that
/// attempt, which the provider de-duplicates).
fn assert_one_attempt_per_contact(dials: &[Received]) {
    let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
    for dial in dials {
        let body = dial.json();
        keys.entry(body["contact_id"].as_str().unwrap().to_owned())
            .or_default()
            .insert(dial.idempotency_key.clone().unwrap());
    }
    for (contact, keys) in keys {
        assert_eq!(keys.len(), 1, "contact {contact} dialed under {keys:?}");
    }
}

impl Proc {
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ACME_KEY);
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::from(request.send().await.expect("the node answers")).await
    }

    async fn start_campaign(&self, first: usize, n: usize) -> String {
        let created = self
            .send(Method::POST, "/batch-calls", Some(&campaign_body(first, n)))
            .await
            .expect(201);
        let id = created.data()["id"].as_str().unwrap().to_owned();
        let schedule = format!("/batch-calls/{id}/schedule");
        self.send(Method::POST, &schedule, None).await.expect(200);
        id
    }

    /// Polls until the campaign is `completed`, for at most `limit`; its last view.
    async fn wait_completed(&self, id: &str, limit: Duration) -> Value {
        let give_up = Instant::now() + limit;
        loop {
            let campaign = self
                .send(Method::GET, &format!("/batch-calls/{id}"), None)
                .await
                .data()
                .clone();
            if campaign["status"] == "completed" {
                return campaign;
            }
            assert!(
                Instant::now() < give_up,
                "campaign not completed in {limit:?}: {campaign}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {}", self.name);
    }

    /// `kill -9`.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself, for at most `limit`.
    async fn exited(&mut self, limit: Duration) -> std::process::ExitStatus {
        let give_up = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < give_up, "{} did not exit", self.name);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
            let _ = std::fs::remove_file(self.log.with_extension("err"));
        }
    }
}

/// Every contact of the campaign ended once: as many ended as there are contacts.
fn assert_all_ended(campaign: &Value, n: u64) {
    let ended: u64 = ["completed", "failed", "unknown", "cancelled"]
        .iter()
        .map(|field| campaign[field].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(ended, n, "{campaign}");
}

#[actix_web::test]
async fn a_killed_owner_s_campaign_continues_on_another_node_within_the_lease_ttl() {
    let cluster = Cluster::new(40).await;
    let (mut a, id, _) = cluster.dialing_node("a", 200).await;
    let (b, _c) = (cluster.node("b").await, cluster.node("c").await);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let killed = Instant::now();
    a.kill();
    let campaign = b.wait_completed(&id, Duration::from_secs(30)).await;
    let dials = cluster.dials();
    let takeover = dials
        .iter()
        .filter(|dial| dial.at > killed && node_of(dial) != "a")
        .map(|dial| dial.at - killed)
        .min()
        .expect("another node dialed");
    // Bounded by the lease (TTL, then a keeper tick of a third of it, then a claim), not by the
    // hour of call deadline; the margin is for a loaded machine (`benches/cluster` measures it).
    assert!(takeover <= LEASE_TTL * 4, "{takeover:?}");
    assert_all_ended(&campaign, 200);
    assert_one_attempt_per_contact(&dials);
}

/// With the default call deadline (an hour), a campaign whose owner is killed while its calls
/// are in flight completes soon after the takeover: the new owner sends each of those calls
/// again under its own idempotency key, and the provider (which placed them once) answers with
/// their outcome. No contact is dialled under a second attempt.
#[actix_web::test]
async fn a_killed_owner_s_calls_in_flight_are_reconciled_and_its_campaign_completes() {
    // Calls placed by `a` are still running when it dies: the provider answers `a` without an
    // outcome, and a repeat of the same key with the call's outcome. Other nodes' calls end at
    // once.
    let provider = Fake::start(|dial, seen_before| {
        if node_of(dial) == "a" && seen_before == 0 {
            (200, "{}".to_owned())
        } else {
            (200, ENDED.to_owned())
        }
    })
    .await;
    let cluster = Cluster {
        prefix: fresh_prefix(),
        provider,
        max_cps: 1_000,
        call_deadline_secs: None,
    };
    let before = Instant::now();
    let mut a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let id = a.start_campaign(0, 60).await;
    // `a` places its first ten calls (the campaign's concurrency) and they stay in flight.
    cluster
        .wait_for_dials("a", before, 10, Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(dials_by(&cluster.dials(), "a", before).len(), 10);
    let killed = Instant::now();
    a.kill();
    // Within the lease TTL and a few seconds (`benches/cluster.rs` measures how long).
    let campaign = b
        .wait_completed(&id, LEASE_TTL + Duration::from_secs(5))
        .await;
    assert!(killed.elapsed() < LEASE_TTL + Duration::from_secs(5));
    assert_all_ended(&campaign, 60);
    assert_eq!(campaign["completed"], 60, "{campaign}");
    let dials = cluster.dials();
    assert_one_attempt_per_contact(&dials);
    // The ten calls in flight were asked about again, by b, under their own keys.
    let keys_of = |node: &str| -> HashSet<String> {
        dials_by(&dials, node, before)
            .iter()
            .filter_map(|dial| dial.idempotency_key.clone())
            .collect()
    };
    let (of_a, of_b) = (keys_of("a"), keys_of("b"));
    assert_eq!(of_a.intersection(&of_b).count(), 10);
}

/// A node that dies right after a claim committed (a fault hook ends the process there, before
/// the claimed calls are placed): the claim's webhook events were written by the claim itself,
/// so the receiver gets every event of the campaign, each under one id, through the node that
/// takes over.
#[actix_web::test]
async fn a_node_killed_right_after_a_claim_loses_none_of_its_webhook_events() {
    let receiver = Fake::start(|_, _| (200, "{}".to_owned())).await;
    let cluster = Cluster::new(1_000).await;
    let hook = [
        ("PACER_WEBHOOKS__ACME__URL", receiver.url.as_str()),
        ("PACER_WEBHOOKS__ACME__SECRET", "acme-webhook-secret-0123"),
    ];
    let mut dying = hook.to_vec();
    dying.push(("PACER_FAULT", "after_claim:exit"));
    let mut a = cluster.node_with("a", &dying).await;
    let b = cluster.node_with("b", &hook).await;
    // Scheduled through a, to start in two seconds: a holds the lease, and its timer's claim
    // is the one the fault ends.
    let start = pacer::clock::Clock::now(&pacer::clock::SystemClock) + chrono::Duration::seconds(2);
    let mut body = campaign_body(0, 20);
    body["schedule_type"] = "scheduled".into();
    body["scheduled_at"] = start.to_rfc3339().into();
    let created = a
        .send(Method::POST, "/batch-calls", Some(&body))
        .await
        .expect(201);
    let id = created.data()["id"].as_str().unwrap().to_owned();
    let schedule = format!("/batch-calls/{id}/schedule");
    a.send(Method::POST, &schedule, None).await.expect(200);
    let status = a.exited(Duration::from_secs(10)).await;
    assert_eq!(
        status.code(),
        Some(137),
        "the fault hook ended a after its claim"
    );
    let campaign = b.wait_completed(&id, Duration::from_secs(30)).await;
    assert_all_ended(&campaign, 20);
    // draft → scheduled, scheduled → active, 20 × (call.started, call.ended), active →
    // completed, batch.completed: 44 events, each under its own id (at least once each).
    let give_up = Instant::now() + Duration::from_secs(20);
    let delivered = loop {
        let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
        for request in receiver.received() {
            let event = request.json();
            by_id.insert(event["id"].as_str().unwrap().to_owned(), event);
        }
        if by_id.len() >= 44 || Instant::now() > give_up {
            break by_id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let count = |name: &str| {
        delivered
            .values()
            .filter(|event| event["event"] == name)
            .count()
    };
    assert_eq!(delivered.len(), 44, "{:?}", delivered.keys());
    assert_eq!((count("call.started"), count("call.ended")), (20, 20));
    assert_eq!(
        (count("batch.status.changed"), count("batch.completed")),
        (3, 1)
    );
    let contacts: HashSet<&str> = delivered
        .values()
        .filter(|event| event["event"] == "call.started")
        .map(|event| event["data"]["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(contacts.len(), 20, "every contact's call started once");
    assert_one_attempt_per_contact(&cluster.dials());
}

#[actix_web::test]
async fn a_pause_through_a_node_that_does_not_own_the_campaign_stops_every_call() {
    // A slow provider: a node that answered before the owner's placements were over would see
    // them reach the provider after its answer.
    let cluster = Cluster::with_provider_delay(200, Duration::from_millis(4)).await;
    let (_owner, id, start) = cluster.dialing_node("owner", 3_000).await;
    let other = cluster.node("other").await;
    let (pause, resume) = (
        format!("/batch-calls/{id}/pause"),
        format!("/batch-calls/{id}/resume"),
    );
    for trial in 0..20_u64 {
        // Calls flow from the owner, then the other node is asked to pause.
        let resumed = Instant::now();
        cluster
            .wait_for_dials("owner", resumed, 1, Duration::from_secs(5))
            .await;
        tokio::time::sleep(Duration::from_millis(20 + trial * 17 % 150)).await;
        other.send(Method::POST, &pause, None).await.expect(200);
        let answered = Instant::now();
        let late = cluster.dials_after(answered).await;
        assert_eq!(late, 0, "trial {trial}: dials after the pause response");
        other.send(Method::POST, &resume, None).await.expect(200);
    }
    // An edit and a cancel through the other node too: after the cancel's answer, no call.
    let edit = serde_json::json!({ "max_concurrent_calls": 3 });
    let edited = other
        .send(Method::PATCH, &format!("/batch-calls/{id}"), Some(&edit))
        .await
        .expect(200);
    assert_eq!(edited.data()["max_concurrent_calls"], 3);
    cluster
        .wait_for_dials("owner", Instant::now(), 1, Duration::from_secs(5))
        .await;
    let cancel = format!("/batch-calls/{id}/cancel");
    other.send(Method::POST, &cancel, None).await.expect(200);
    let answered = Instant::now();
    let late = cluster.dials_after(answered).await;
    assert_eq!(late, 0, "dials after the cancel response");
    assert!(
        dials_by(&cluster.dials(), "other", start).is_empty(),
        "the owner kept the campaign"
    );
}

#[actix_web::test]
async fn a_stopped_owner_that_wakes_after_its_lease_lapsed_places_no_call() {
    let cluster = Cluster::new(40).await;
    let (a, id, _) = cluster.dialing_node("a", 240).await;
    let b = cluster.node("b").await;
    a.signal("STOP");
    let stopped = Instant::now();
    // The lease lapses; b takes the campaign over while a still believes it holds it.
    cluster
        .wait_for_dials("b", stopped, 5, LEASE_TTL + Duration::from_secs(3))
        .await;
    a.signal("CONT");
    let woke = Instant::now();
    let campaign = b.wait_completed(&id, Duration::from_secs(30)).await;
    let dials = cluster.dials();
    assert_eq!(
        dials_by(&dials, "a", woke).len(),
        0,
        "the stale node dialed"
    );
    assert_all_ended(&campaign, 240);
    assert_one_attempt_per_contact(&dials);
}

#[actix_web::test]
async fn a_joining_node_takes_a_share_and_a_leaving_node_hands_its_share_over() {
    let cluster = Cluster::new(90).await;
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let mut ids = Vec::new();
    for i in 0..9 {
        ids.push(a.start_campaign(i * 1_000, 150).await);
    }
    // Who dials which campaign, from the provider's log.
    let owners = |since: Instant| {
        let mut owners: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        for dial in cluster.dials().iter().filter(|dial| dial.at > since) {
            owners
                .entry(node_of(dial).to_owned())
                .or_default()
                .insert(dial.json()["campaign_id"].as_str().unwrap().to_owned());
        }
        owners
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut c = cluster.node("c").await;
    let joined = Instant::now();
    let give_up = joined + Duration::from_secs(10);
    while owners(joined).get("c").map_or(0, HashSet::len) < 2 {
        assert!(
            Instant::now() < give_up,
            "c took no share: {:?}",
            owners(joined)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let taken = owners(joined)["c"].clone();

    // c leaves gracefully: its campaigns go on elsewhere, long before a lease would lapse.
    c.signal("TERM");
    let status = c.exited(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
    let left = Instant::now();
    let give_up = left + Duration::from_secs(10);
    loop {
        let now_owned = owners(left);
        let continued = taken.iter().all(|id| {
            ["a", "b"]
                .iter()
                .any(|node| now_owned.get(*node).is_some_and(|ids| ids.contains(id)))
        });
        if continued {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "c's campaigns stalled: {now_owned:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in &ids {
        let campaign = b.wait_completed(id, Duration::from_secs(60)).await;
        assert_all_ended(&campaign, 150);
    }
    assert_one_attempt_per_contact(&cluster.dials());
}

/// A node stops claiming a fifth of the TTL before a lease it could not renew would lapse, and
/// gives it up once another node took it.
async fn a_lease_book_stops_claiming_before_an_unrenewed_lease_could_lapse(
    store: std::sync::Arc<dyn pacer::store::CampaignStore>,
) {
    use pacer::cluster::LeaseBook;
    let id = crate::store_conformance::scheduled(&*store, 1, Default::default()).await;
    // Unsafe a fifth of the TTL before it lapses: from 2.4 s to 3 s, with 300 ms either side of
    // the check for a loaded machine.
    let ttl = Duration::from_secs(3);
    let (a, b) = (
        LeaseBook::new(store.clone(), "a", ttl),
        LeaseBook::new(store.clone(), "b", ttl),
    );
    let fence = a.fence(id).await.unwrap().expect("a free lease is taken");
    assert!(a.safe(id));
    assert_eq!(b.fence(id).await.unwrap(), None, "one owner at a time");
    // Not renewed: unsafe from 2.4 s on, while the store still says the lease is a's.
    tokio::time::sleep(Duration::from_millis(2_700)).await;
    assert!(!a.safe(id));
    assert_eq!(
        store.lease_holder(id).await.unwrap().as_deref(),
        Some(a.owner())
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let newer = b.fence(id).await.unwrap().expect("a lapsed lease is taken");
    assert!(newer > fence);
    assert_eq!(a.fence(id).await.unwrap(), None);
    assert!(!a.holds(id));
}

/// A parked campaign's lease is renewed for twelve TTLs: no other node takes it after one TTL,
/// and it stays safe to claim under when its campaign wakes.
async fn a_parked_lease_lasts_twelve_ttls(store: std::sync::Arc<dyn pacer::store::CampaignStore>) {
    use pacer::cluster::LeaseBook;
    let id = crate::store_conformance::scheduled(&*store, 1, Default::default()).await;
    let ttl = Duration::from_millis(300);
    let (a, b) = (
        LeaseBook::new(store.clone(), "a", ttl),
        LeaseBook::new(store.clone(), "b", ttl),
    );
    a.fence(id).await.unwrap().expect("a free lease is taken");
    a.set_parked(id, true);
    assert!(a.renew_all().await.is_empty());
    // Three TTLs later, with no renewal since: still a's, and safe.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(b.fence(id).await.unwrap(), None);
    assert!(a.safe(id));
    // A renewal now leaves it alone (over two thirds of its long TTL are left) ...
    assert!(a.renew_all().await.is_empty());
    // ... and it lapses once the twelve TTLs have passed.
    tokio::time::sleep(a.parked_ttl()).await;
    assert!(
        b.fence(id).await.unwrap().is_some(),
        "a lapsed lease is taken"
    );
}

#[tokio::test]
async fn a_parked_lease_lasts_twelve_ttls_in_memory() {
    a_parked_lease_lasts_twelve_ttls(std::sync::Arc::new(pacer::store::MemoryStore::new())).await;
}

#[tokio::test]
async fn a_parked_lease_lasts_twelve_ttls_on_redis() {
    a_parked_lease_lasts_twelve_ttls(std::sync::Arc::new(crate::helpers::redis_store())).await;
}

#[tokio::test]
async fn a_lease_book_stops_claiming_before_an_unrenewed_lease_could_lapse_in_memory() {
    let store = std::sync::Arc::new(pacer::store::MemoryStore::new());
    a_lease_book_stops_claiming_before_an_unrenewed_lease_could_lapse(store).await;
}

#[tokio::test]
async fn a_lease_book_stops_claiming_before_an_unrenewed_lease_could_lapse_on_redis() {
    let store = std::sync::Arc::new(crate::helpers::redis_store());
    a_lease_book_stops_claiming_before_an_unrenewed_lease_could_lapse(store).await;
}
