//! Recovery on the Redis store: a node that stops mid-campaign and a new one on the same data.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use pacer::domain::DialOutcome;
use pacer::store::capabilities::*;

use crate::helpers::{monday_8am, redis_store_at, scrape_metrics, spawn_app_on};

#[actix_web::test]
async fn a_new_node_continues_a_campaign_and_never_redials_a_lost_call() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let first = spawn_app_on(Arc::new(redis_store_at(&prefix)), monday_8am()).await;
    let id = first.start_campaign(6, 2).await;
    first.dialer.finish_all(DialOutcome::Completed);
    first.tick().await;
    assert_eq!(first.dialer.n_placed(), 4);
    assert_eq!(
        first.dialer.running().len(),
        2,
        "two calls are in flight when the node dies"
    );
    let lost: HashSet<String> = first
        .dialer
        .running()
        .iter()
        .map(|call| call.phone.as_str().to_owned())
        .collect();
    first.kill().await;

    // A new node on the same Redis, two hours later: past the calls' one-hour deadline.
    let second = spawn_app_on(
        Arc::new(redis_store_at(&prefix)),
        monday_8am() + Duration::hours(2),
    )
    .await;
    // The dead node's lease lapses (real time), then the new node adopts the campaign.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while second.directory.n_running() == 0 && std::time::Instant::now() < give_up {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    second.tick().await;
    for _ in 0..10 {
        if second.finish_all(DialOutcome::Completed).await == 0 {
            break;
        }
    }
    let campaign = second.campaign(&id).await;
    assert_eq!(campaign["status"], "completed");
    assert_eq!(
        (campaign["completed"].as_u64(), campaign["unknown"].as_u64()),
        (Some(4), Some(2))
    );
    let first_dials: HashSet<String> = first
        .dialer
        .placed()
        .iter()
        .map(|placed| placed.call.phone.as_str().to_owned())
        .collect();
    let second_dials: Vec<String> = second
        .dialer
        .placed()
        .iter()
        .map(|placed| placed.call.phone.as_str().to_owned())
        .collect();
    assert_eq!(second_dials.len(), 2);
    assert!(
        second_dials
            .iter()
            .all(|phone| !first_dials.contains(phone)),
        "no contact is called twice"
    );
    let unknown = second
        .get(&format!("/batch-calls/{id}/contacts?status=unknown"))
        .await
        .expect(200);
    let unknown: HashSet<String> = unknown
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|contact| contact["phone_number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unknown, lost);
}

/// A redis-server of one test's own, with the append-only file on, that the test can kill and
/// start again on the same data.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn new() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("pacer-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self {
            port,
            dir,
            child: None,
        };
        redis.start();
        redis
    }

    /// A store on this redis-server, whose commands give up after 300 ms.
    fn store(&self, prefix: &str, connections: usize) -> pacer::store::RedisStore {
        pacer::store::RedisStore::connect(&pacer::store::RedisSettings {
            url: self.url(),
            cluster: false,
            prefix: prefix.to_owned(),
            connections,
            response_timeout: std::time::Duration::from_millis(300),
            call_deadline: pacer::store::CallDeadline::default(),
            ca_pem: None,
            idempotency: Default::default(),
        })
        .unwrap()
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn start(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts (apt-get install redis-server)");
        self.child = Some(child);
        assert!(
            crate::helpers::port_opens(self.port),
            "redis-server did not start on port {}",
            self.port
        );
    }

    /// Kills the server at once (SIGKILL): what it acknowledged is in the append-only file.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[actix_web::test]
async fn a_redis_outage_is_503_and_every_contact_still_ends_exactly_once() {
    let mut redis = OwnRedis::new();
    let store = redis.store("outage:", 2);
    let app = spawn_app_on(Arc::new(store), monday_8am()).await;
    let id = app.start_campaign(6, 2).await;
    assert_eq!(app.dialer.n_placed(), 2);

    redis.kill();
    let reply = app.get(&format!("/batch-calls/{id}")).await.expect(503);
    assert_eq!(reply.error_code(), "unavailable");
    let ready = app
        .client
        .get(format!("{}/readyz", app.root))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    // The two calls end while Redis is down: their outcomes wait in the dispatcher.
    assert_eq!(app.finish_all(DialOutcome::Completed).await, 2);
    app.command(&id, "pause").await.expect(503);

    redis.start();
    // Bounded wait for the dispatcher's own retries (one per second) to land: at most 20 s.
    let mut campaign = serde_json::Value::Null;
    for _ in 0..200 {
        app.tick().await;
        app.dialer.finish_all(DialOutcome::Completed);
        campaign = app.get(&format!("/batch-calls/{id}")).await.body["data"].clone();
        if campaign["status"] == "completed" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(campaign["status"], "completed", "{campaign}");
    assert_eq!(
        (campaign["completed"].as_u64(), campaign["unknown"].as_u64()),
        (Some(6), Some(0))
    );
    let phones: Vec<String> = app
        .dialer
        .placed()
        .iter()
        .map(|placed| placed.call.phone.as_str().to_owned())
        .collect();
    let unique: HashSet<&String> = phones.iter().collect();
    assert_eq!(
        (phones.len(), unique.len()),
        (6, 6),
        "every contact called exactly once"
    );
    let ready = app
        .client
        .get(format!("{}/readyz", app.root))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

/// What a client reads while Redis is down is the envelope's own words: no Redis error text
/// (addresses, `os error`, the client library's kinds) on any route.
#[actix_web::test]
async fn no_redis_error_text_reaches_a_response_body() {
    let mut redis = OwnRedis::new();
    let store = redis.store("no-leak:", 2);
    let app = spawn_app_on(Arc::new(store), monday_8am()).await;
    let id = app.start_campaign(2, 1).await;
    redis.kill();
    let create = serde_json::json!({ "name": "x", "agent_id": "a", "contacts": [] });
    let replies = [
        app.get(&format!("/batch-calls/{id}")).await,
        app.get("/batch-calls").await,
        app.get(&format!("/batch-calls/{id}/contacts")).await,
        app.command(&id, "pause").await,
        app.post("/batch-calls", create).await,
    ];
    for reply in replies {
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        let text = reply.body.to_string().to_ascii_lowercase();
        for leak in [
            "redis",
            "os error",
            "refused",
            "127.0.0.1",
            "ioerror",
            "broken pipe",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert_eq!(reply.body["error"]["message"], "the store is unavailable");
    }
    redis.start();
}

/// Every connection left idle through a Redis outage answers its first request once Redis is
/// back (a request refused by a connection that could not be made was never sent, and is sent
/// again over the new one).
#[actix_web::test]
async fn after_an_outage_every_connection_answers_its_first_request() {
    let mut redis = OwnRedis::new();
    let store = redis.store("idle:", 3);
    let acme = pacer::domain::OrgId::parse("acme").unwrap();
    let filter = pacer::store::CampaignFilter::default();
    let page = pacer::store::Page {
        limit: 10,
        offset: 0,
    };
    // Each request takes the next of the thread's three connections.
    for _ in 0..3 {
        store.list_campaigns(&acme, &filter, page).await.unwrap();
    }
    redis.kill();
    for _ in 0..6 {
        assert!(store.list_campaigns(&acme, &filter, page).await.is_err());
    }
    // The managers' attempts to reconnect fail meanwhile.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    redis.start();
    for request in 0..6 {
        if let Err(error) = store.list_campaigns(&acme, &filter, page).await {
            panic!("request {request} after the outage: {error}");
        }
    }
}

/// Waits (real time, bounded) until `done` holds, ticking the app's dispatchers meanwhile.
async fn eventually(app: &crate::helpers::TestApp, what: &str, done: impl Fn() -> bool) {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < give_up, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        app.tick().await;
    }
}

async fn metric(app: &crate::helpers::TestApp, series: &str) -> bool {
    let text = scrape_metrics(&app.client, &app.root).await;
    text.contains(series)
}

/// A campaign paced by its daily cap waits on its actor's timer; the actor panics when the
/// timer fires. Another actor takes the campaign on (nothing else would: no outcome and no
/// command comes, and the node keeps renewing the lease).
async fn a_campaign_actor_that_panics_is_started_again_and_its_campaign_goes_on(
    backend: crate::helpers::Backend,
) {
    use pacer::faults::{FaultAction, FaultPoint, arm};
    let app = crate::helpers::spawn_app(backend).await;
    let fields = serde_json::json!({
        "working_days": [1, 2, 3, 4, 5, 6, 7], "start_time": "09:00", "end_time": "17:00",
        "max_calls_per_day": 3,
    });
    let id = app.create_campaign(3, fields).await;
    app.command(&id, "schedule").await.expect(200);
    app.advance_to(crate::helpers::at("2026-11-30T09:00:00Z"))
        .await;
    assert_eq!(app.dialer.n_placed(), 1);
    app.finish_all(DialOutcome::Completed).await;
    let campaign = pacer::domain::CampaignId::parse(&id).unwrap();
    arm(FaultPoint::ActorStep, Some(campaign), FaultAction::Panic, 1);
    // The next slot: the timer fires and its step panics.
    app.advance_to(crate::helpers::at("2026-11-30T11:40:00Z"))
        .await;
    eventually(&app, "the campaign's next call was placed", || {
        app.dialer.n_placed() == 2
    })
    .await;
    assert!(metric(&app, "pacer_actor_restarts_total{actor=\"campaign\"}").await);
    let campaign = app.campaign(&id).await;
    assert_eq!(
        (
            campaign["completed"].as_u64(),
            campaign["in_progress"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

/// An actor that keeps panicking: after a few restarts the node gives the campaign's lease up,
/// so that another node (or this one, later) can take it.
async fn a_campaign_actor_that_keeps_panicking_gives_its_lease_up(
    backend: crate::helpers::Backend,
) {
    use pacer::faults::{FaultAction, FaultPoint, arm};
    let store = backend.store();
    let app = spawn_app_on(store.clone(), monday_8am()).await;
    let id = app.start_campaign(4, 1).await;
    let campaign = pacer::domain::CampaignId::parse(&id).unwrap();
    assert!(store.lease_holder(campaign).await.unwrap().is_some());
    arm(
        FaultPoint::ActorStep,
        Some(campaign),
        FaultAction::Panic,
        100,
    );
    app.tick().await;
    // Restarted after 100, 200 and 400 ms, then left alone: the lease stays free for a while
    // (600 ms here, more than the keeper's ticks of 167 ms that would adopt it again).
    let (start, mut free_since) = (std::time::Instant::now(), None);
    loop {
        let free = store.lease_holder(campaign).await.unwrap().is_none();
        let now = std::time::Instant::now();
        free_since = if free { free_since.or(Some(now)) } else { None };
        if free_since.is_some_and(|since| now - since > std::time::Duration::from_millis(600)) {
            break;
        }
        assert!(
            now - start < std::time::Duration::from_secs(10),
            "the campaign was never left alone"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    arm(FaultPoint::ActorStep, Some(campaign), FaultAction::Panic, 0);
}

/// A dialer actor that panics as it takes a batch: the batch goes back to the queue (its calls
/// keep their attempt, hence their idempotency key), the pool starts another dialer, and every
/// contact is placed once.
async fn a_dialer_actor_that_panics_is_replaced_and_its_batch_placed_again(
    backend: crate::helpers::Backend,
) {
    use pacer::faults::{FaultAction, FaultPoint, arm};
    let app = crate::helpers::spawn_app(backend).await;
    let id = app.create_campaign(3, crate::helpers::every_day()).await;
    let campaign = pacer::domain::CampaignId::parse(&id).unwrap();
    arm(
        FaultPoint::DialerPlace,
        Some(campaign),
        FaultAction::Panic,
        1,
    );
    app.command(&id, "schedule").await.expect(200);
    eventually(&app, "every contact was placed", || {
        app.dialer.n_placed() == 3
    })
    .await;
    let attempts: Vec<u32> = app
        .dialer
        .placed()
        .iter()
        .map(|placed| placed.call.attempt)
        .collect();
    assert_eq!(attempts, [1, 1, 1]);
    assert!(metric(&app, "pacer_actor_restarts_total{actor=\"dialer\"}").await);
    app.finish_all(DialOutcome::Completed).await;
    assert_eq!(app.campaign(&id).await["status"], "completed");
}

/// Two calls end while their campaign's actor is about to panic in the step that would record
/// them: the actor stops with the outcomes in hand, and they are recorded all the same (the
/// contacts end `completed`, not `unknown` at their deadline).
async fn outcomes_in_hand_when_a_campaign_actor_panics_are_recorded(
    backend: crate::helpers::Backend,
) {
    use pacer::faults::{FaultAction, FaultPoint, arm};
    let app = crate::helpers::spawn_app(backend).await;
    let id = app.start_campaign(2, 2).await;
    assert_eq!(app.dialer.running().len(), 2);
    let campaign = pacer::domain::CampaignId::parse(&id).unwrap();
    arm(FaultPoint::ActorStep, Some(campaign), FaultAction::Panic, 1);
    app.dialer.finish_all(DialOutcome::Completed);
    let campaign = completed(&app, &id, 2).await;
    assert_eq!(campaign["status"], "completed");
    assert!(metric(&app, "pacer_actor_restarts_total{actor=\"campaign\"}").await);
}

/// Another node takes the campaign's lease while two of its calls are in flight here; they end
/// at once. The step that records them meets the lease taken over at its claim, and the actor
/// stops (or the keeper finds the lease lost first): the outcomes are recorded either way (no
/// lease is needed to record an outcome), and no contact is placed again.
async fn outcomes_that_meet_a_lease_taken_over_are_recorded(backend: crate::helpers::Backend) {
    let store = backend.store();
    let app = spawn_app_on(store.clone(), monday_8am()).await;
    let id = app.start_campaign(2, 2).await;
    assert_eq!(app.dialer.running().len(), 2);
    let campaign = pacer::domain::CampaignId::parse(&id).unwrap();
    // The lease lapses (the test releases it in the node's name) and another node takes it.
    let node = store.lease_holder(campaign).await.unwrap().expect("leased");
    let fence = store
        .acquire_lease(campaign, &node, std::time::Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the node holds its own lease");
    store.release_lease(campaign, &node, fence).await.unwrap();
    store
        .acquire_lease(campaign, "other-node", std::time::Duration::from_secs(3600))
        .await
        .unwrap()
        .expect("the lease is free");
    app.dialer.finish_all(DialOutcome::Completed);
    completed(&app, &id, 2).await;
    assert_eq!(app.dialer.n_placed(), 2);
}

/// The campaign `id` once `n` of its contacts are `completed` (real time, bounded).
async fn completed(app: &crate::helpers::TestApp, id: &str, n: u64) -> serde_json::Value {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let campaign = app.campaign(id).await;
        if campaign["completed"].as_u64() == Some(n) {
            return campaign;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "the outcomes were never recorded: {campaign}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

crate::helpers::on_both_backends!(
    a_campaign_actor_that_panics_is_started_again_and_its_campaign_goes_on,
    outcomes_in_hand_when_a_campaign_actor_panics_are_recorded,
    outcomes_that_meet_a_lease_taken_over_are_recorded,
    a_campaign_actor_that_keeps_panicking_gives_its_lease_up,
    a_dialer_actor_that_panics_is_replaced_and_its_batch_placed_again,
);
