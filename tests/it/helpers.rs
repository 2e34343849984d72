//! `spawn_app()`: the whole application on port 0 with the memory store, a manual clock and a
//! recording dialer, plus request helpers.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use pacer::actors::Directory;
use pacer::clock::{Clock, ManualClock};
use pacer::config::Settings;
use pacer::dialer::{CallReport, DialError, Dialer, OutcomeSink};
use pacer::domain::DialOutcome;
use pacer::startup::{Application, Components};
use pacer::store::{CallResult, ClaimedCall, MemoryStore};
use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const ACME_KEY: &str = "acme-key-0123456789abcdef";
pub const GLOBEX_KEY: &str = "globex-key-0123456789abcdef";
pub const BODY_LIMIT: usize = 64 * 1024;

/// Monday 2026-11-30, 08:00 UTC.
pub fn monday_8am() -> DateTime<Utc> {
    "2026-11-30T08:00:00Z".parse().unwrap()
}

pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// One call the dialer was asked to place.
#[derive(Debug, Clone)]
pub struct PlacedCall {
    pub call: ClaimedCall,
    pub placed_at: DateTime<Utc>,
    pub sink: OutcomeSink,
    pub finished: bool,
}

/// A dialer that records every call and ends them only when a test says so.
#[derive(Debug)]
pub struct RecordingDialer {
    clock: ManualClock,
    calls: Mutex<Vec<PlacedCall>>,
}

impl RecordingDialer {
    pub fn placed(&self) -> Vec<PlacedCall> {
        self.calls.lock().clone()
    }

    pub fn n_placed(&self) -> usize {
        self.calls.lock().len()
    }

    pub fn running(&self) -> Vec<ClaimedCall> {
        self.calls
            .lock()
            .iter()
            .filter(|placed| !placed.finished)
            .map(|placed| placed.call.clone())
            .collect()
    }

    /// Ends every running call with `outcome`; returns how many.
    pub fn finish_all(&self, outcome: DialOutcome) -> usize {
        let mut calls = self.calls.lock();
        let mut n_finished = 0;
        for placed in calls.iter_mut().filter(|placed| !placed.finished) {
            placed.finished = true;
            n_finished += 1;
            placed.sink.report(report(&placed.call, outcome));
        }
        n_finished
    }

    /// Ends the running call to `phone` with `outcome`.
    pub fn finish(&self, phone: &str, outcome: DialOutcome) {
        let mut calls = self.calls.lock();
        let placed = calls
            .iter_mut()
            .find(|placed| !placed.finished && placed.call.phone.as_str() == phone)
            .unwrap_or_else(|| panic!("no running call to {phone}"));
        placed.finished = true;
        placed.sink.report(report(&placed.call, outcome));
    }
}

fn report(call: &ClaimedCall, outcome: DialOutcome) -> CallReport {
    CallReport {
        campaign_id: call.campaign_id,
        contact_id: call.contact_id,
        attempt: call.attempt,
        result: CallResult {
            outcome,
            duration_secs: 42,
        },
    }
}

#[async_trait]
impl Dialer for RecordingDialer {
    async fn place(&self, call: ClaimedCall, sink: OutcomeSink) -> Result<(), DialError> {
        let placed_at = self.clock.now();
        self.calls.lock().push(PlacedCall {
            call,
            placed_at,
            sink,
            finished: false,
        });
        Ok(())
    }
}

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub root: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub dialer: Arc<RecordingDialer>,
    pub directory: Directory,
    pub server: actix_web::dev::ServerHandle,
    /// Stops the node's background tasks (lease keeper, webhook delivery) when sent or dropped.
    pub stop_background: tokio::sync::watch::Sender<bool>,
}

pub fn test_settings() -> Settings {
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.api_keys = format!("acme:{ACME_KEY},globex:{GLOBEX_KEY}");
    settings.max_body_bytes = BODY_LIMIT;
    settings.http_workers = 1;
    settings.actor_threads = 2;
    settings.dialers = 2;
    // Short leases: a test that kills a node sees its campaigns taken over quickly.
    settings.lease_ttl_ms = 500;
    settings
}

/// Which store an application runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
    /// A Redis Cluster of three masters (for the tests that name it: the API's lifecycle).
    RedisCluster,
}

impl Backend {
    pub fn store(self) -> Arc<dyn pacer::store::CampaignStore> {
        match self {
            Self::Memory => Arc::new(MemoryStore::new()),
            Self::Redis => Arc::new(redis_store()),
            Self::RedisCluster => Arc::new(redis_cluster_store()),
        }
    }
}

/// Generates, for each test function `f(backend)`, one test per backend: `memory::f` and
/// `redis::f`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[actix_web::test]
                async fn $test() {
                    super::$test(crate::helpers::Backend::Memory).await;
                }
            )*
        }
        mod redis {
            $(
                #[actix_web::test]
                async fn $test() {
                    super::$test(crate::helpers::Backend::Redis).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_on(backend.store(), monday_8am()).await
}

/// The application on `store` with a manual clock reading `now`.
pub async fn spawn_app_on(
    store: Arc<dyn pacer::store::CampaignStore>,
    now: DateTime<Utc>,
) -> TestApp {
    spawn_app_with(store, now, &test_settings()).await
}

/// The application on `store` with a manual clock reading `now`, and `settings`.
pub async fn spawn_app_with(
    store: Arc<dyn pacer::store::CampaignStore>,
    now: DateTime<Utc>,
    settings: &Settings,
) -> TestApp {
    let clock = ManualClock::new(now);
    let dialer = Arc::new(RecordingDialer {
        clock: clock.clone(),
        calls: Mutex::new(Vec::new()),
    });
    let components = Components {
        store,
        clock: Arc::new(clock.clone()),
        dialer: dialer.clone(),
        gate: None,
    };
    let started = start_app(settings, components).await;
    TestApp {
        base: started.base,
        root: started.root,
        client: reqwest::Client::new(),
        clock,
        dialer,
        directory: started.directory,
        server: started.server,
        stop_background: started.stop_background,
    }
}

/// A node built from `components` and serving on its port.
pub struct Started {
    /// `http://127.0.0.1:<port>` and the API's base under it.
    pub root: String,
    pub base: String,
    pub directory: Directory,
    pub server: actix_web::dev::ServerHandle,
    /// Stops the node's background tasks when sent or dropped.
    pub stop_background: tokio::sync::watch::Sender<bool>,
}

/// Builds the application from `settings` and `components` and serves it.
pub async fn start_app(settings: &Settings, components: Components) -> Started {
    let app = Application::build(settings, components)
        .await
        .expect("the app builds");
    let server = app.server.handle();
    actix_web::rt::spawn(app.server);
    let root = format!("http://127.0.0.1:{}", app.port);
    Started {
        base: format!("{root}/api/public/v1"),
        root,
        directory: app.directory,
        server,
        stop_background: app.stop_background,
    }
}

/// A response: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Self {
            status,
            body,
            headers,
        }
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn error_field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected reply: {}",
            self.body
        );
        self
    }
}

/// The text of a node's `/metrics` (no key needed).
pub async fn scrape_metrics(client: &reqwest::Client, root: &str) -> String {
    let reply = client.get(format!("{root}/metrics")).send().await;
    reply.expect("the server answers").text().await.unwrap()
}

impl TestApp {
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("the server answers")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(reqwest::Method::GET, path, ACME_KEY, None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(reqwest::Method::POST, path, ACME_KEY, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.request(reqwest::Method::PATCH, path, ACME_KEY, Some(body))
            .await
    }

    /// Creates a campaign of `n_contacts` (+1555000NNNN) with `fields`; returns its id.
    pub async fn create_campaign(&self, n_contacts: usize, fields: Value) -> String {
        let contacts: Vec<Value> = (0..n_contacts)
            .map(|index| json!({ "phone_number": phone(index) }))
            .collect();
        let mut body =
            json!({ "name": "test campaign", "agent_id": "agent_1", "contacts": contacts });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        self.create(body).await
    }

    /// Creates the campaign of `body` (201 expected); returns its id.
    pub async fn create(&self, body: Value) -> String {
        let reply = self.post("/batch-calls", body).await.expect(201);
        reply.data()["id"].as_str().unwrap().to_owned()
    }

    /// Creates a campaign that calls every day, all day, at most `max_concurrent_calls` at once,
    /// schedules it and lets it place its first calls.
    pub async fn start_campaign(&self, n_contacts: usize, max_concurrent_calls: u32) -> String {
        let fields = json!({ "working_days": [1, 2, 3, 4, 5, 6, 7], "max_concurrent_calls": max_concurrent_calls });
        let id = self.create_campaign(n_contacts, fields).await;
        self.command(&id, "schedule").await.expect(200);
        self.tick().await;
        id
    }

    pub async fn command(&self, id: &str, command: &str) -> Reply {
        self.post(&format!("/batch-calls/{id}/{command}"), json!({}))
            .await
    }

    pub async fn campaign(&self, id: &str) -> Value {
        self.get(&format!("/batch-calls/{id}"))
            .await
            .expect(200)
            .data()
            .clone()
    }

    /// Every contact of the campaign, in insertion order.
    pub async fn contacts(&self, id: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/batch-calls/{id}/contacts?limit=100"))
            .await
            .expect(200);
        reply.data().as_array().unwrap().clone()
    }

    /// Stops the node as a crash would: no more requests, every actor gone, calls in flight
    /// never report.
    pub async fn kill(&self) {
        self.server.stop(false).await;
        let _ = self.stop_background.send(true);
        self.directory.shutdown();
    }

    /// Lets every dispatcher act on the current time, and waits until all have.
    pub async fn tick(&self) {
        self.directory.dispatch_all().await;
    }

    pub async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.tick().await;
    }

    pub async fn advance_to(&self, instant: DateTime<Utc>) {
        self.clock.set(instant);
        self.tick().await;
    }

    /// Ends every running call with `outcome` and lets the dispatchers act on it.
    pub async fn finish_all(&self, outcome: DialOutcome) -> usize {
        let n_finished = self.dialer.finish_all(outcome);
        self.tick().await;
        n_finished
    }
}

/// The application as it runs in production, on the system clock, with `dialer`.
/// Returns the base URL.
pub async fn spawn_real_time_app(
    backend: Backend,
    dialer: Arc<dyn Dialer>,
) -> (String, reqwest::Client) {
    let mut settings = test_settings();
    settings.max_body_bytes = 16 << 20;
    let components = Components {
        store: backend.store(),
        clock: Arc::new(pacer::clock::SystemClock),
        dialer,
        gate: None,
    };
    let started = start_app(&settings, components).await;
    // The background tasks (lease keeper, notes, webhooks) run as long as the test process.
    std::mem::forget(started.stop_background);
    (started.base, reqwest::Client::new())
}

/// A dialer whose calls end `completed` at once, recording when each was placed.
#[derive(Debug, Default)]
pub struct InstantDialer {
    pub placed_at: Mutex<Vec<std::time::Instant>>,
}

#[async_trait]
impl Dialer for InstantDialer {
    async fn place(&self, call: ClaimedCall, sink: OutcomeSink) -> Result<(), DialError> {
        self.placed_at.lock().push(std::time::Instant::now());
        sink.report(report(&call, DialOutcome::Completed));
        Ok(())
    }
}

/// Sends `request` with acme's key and reads its JSON body.
pub async fn send_json(request: reqwest::RequestBuilder) -> Value {
    let response = request
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .expect("the server answers");
    response.json().await.expect("a JSON body")
}

pub fn phone(index: usize) -> String {
    format!("+1555000{index:04}")
}

/// The fields of a campaign that calls on every day, all day.
pub fn every_day() -> Value {
    json!({ "working_days": [1, 2, 3, 4, 5, 6, 7] })
}

/// The Redis the tests use: `REDIS_URL` when set (as `scripts/test` does), else a
/// `redis-server` started once for this test process on a free loopback port, which a watcher
/// stops when the process exits.
pub fn redis_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("REDIS_URL") {
            return url;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = format!(
            "redis-server --bind 127.0.0.1 --port {port} --save '' --appendonly no --logfile '' & \
             server=$!; while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $server",
            parent = std::process::id()
        );
        let started = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdout(std::process::Stdio::null())
            .spawn();
        assert!(started.is_ok(), "cannot start redis-server: {started:?}");
        let url = format!("redis://127.0.0.1:{port}/");
        if port_opens(port) {
            return url;
        }
        panic!("redis-server did not start on port {port}: install it (apt-get install redis-server) or set REDIS_URL");
    })
    .clone()
}

/// The seed URLs of a Redis Cluster of three masters: `REDIS_CLUSTER_URL` (comma-separated), or
/// one started once for this test process on free loopback ports (`redis-server
/// --cluster-enabled yes` three times, then `redis-cli --cluster create`), stopped with it.
pub fn redis_cluster_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("REDIS_CLUSTER_URL") {
            return url;
        }
        // A cluster node's port is at most 55535: its bus port is 10000 higher.
        let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        let ports: Vec<u16> = (20_000 + (std::process::id() % 1_000) as u16 * 30..55_535)
            .filter(|&port| free(port) && free(port + 10_000))
            .take(3)
            .collect();
        let dir = std::env::temp_dir().join(format!("pacer-cluster-{}", std::process::id()));
        let servers: String = ports
            .iter()
            .map(|port| {
                format!(
                    "mkdir -p {dir}/{port} && (cd {dir}/{port} && redis-server --bind 127.0.0.1 \
                     --port {port} --cluster-enabled yes --cluster-config-file nodes.conf \
                     --save '' --appendonly no --logfile '' >/dev/null 2>&1 &) ; ",
                    dir = dir.display()
                )
            })
            .collect();
        let addresses: Vec<String> = ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        let script = format!(
            "{servers} sleep 0.5; \
             redis-cli --cluster create {addresses} --cluster-replicas 0 --cluster-yes >/dev/null && \
             echo created; \
             (while kill -0 {parent} 2>/dev/null; do sleep 1; done; \
              for port in {ports}; do redis-cli -p $port shutdown nosave; done; rm -rf {dir}) \
             >/dev/null 2>&1 &",
            addresses = addresses.join(" "),
            parent = std::process::id(),
            ports = ports.iter().map(u16::to_string).collect::<Vec<_>>().join(" "),
            dir = dir.display(),
        );
        let created = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .stderr(std::process::Stdio::null())
            .output()
            .expect("sh runs");
        assert!(
            String::from_utf8_lossy(&created.stdout).contains("created"),
            "cannot start a Redis Cluster: install redis-server and redis-cli \
             (apt-get install redis-server) or set REDIS_CLUSTER_URL"
        );
        // The nodes agree on the slots a moment after the command returns.
        std::thread::sleep(std::time::Duration::from_secs(1));
        addresses
            .iter()
            .map(|address| format!("redis://{address}/"))
            .collect::<Vec<_>>()
            .join(",")
    })
    .clone()
}

/// A store on the Redis Cluster, under a key prefix of its own.
pub fn redis_cluster_store() -> pacer::store::RedisStore {
    redis_cluster_store_with(|_| {})
}

/// A store on the Redis Cluster, under a key prefix of its own, with settings changed by `change`.
pub fn redis_cluster_store_with(
    change: impl FnOnce(&mut pacer::store::RedisSettings),
) -> pacer::store::RedisStore {
    let mut settings = pacer::store::RedisSettings {
        url: redis_cluster_url(),
        cluster: true,
        prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        connections: 1,
        response_timeout: std::time::Duration::from_secs(5),
        call_deadline: pacer::store::CallDeadline::default(),
        ca_pem: None,
        idempotency: Default::default(),
    };
    change(&mut settings);
    pacer::store::RedisStore::connect(&settings).expect("a Redis Cluster store")
}

/// A Redis store under a key prefix of its own.
pub fn redis_store() -> pacer::store::RedisStore {
    redis_store_at(&format!("test:{}:", uuid::Uuid::new_v4().simple()))
}

/// A Redis store under a key prefix of its own, with settings changed by `change`.
pub fn redis_store_with(
    change: impl FnOnce(&mut pacer::store::RedisSettings),
) -> pacer::store::RedisStore {
    redis_store_at_with(&format!("test:{}:", uuid::Uuid::new_v4().simple()), change)
}

/// A Redis store under `prefix` (a second node sharing another one's data).
pub fn redis_store_at(prefix: &str) -> pacer::store::RedisStore {
    redis_store_at_with(prefix, |_| {})
}

fn redis_store_at_with(
    prefix: &str,
    change: impl FnOnce(&mut pacer::store::RedisSettings),
) -> pacer::store::RedisStore {
    let mut settings = pacer::store::RedisSettings {
        url: redis_url(),
        cluster: false,
        prefix: prefix.to_owned(),
        connections: 2,
        response_timeout: std::time::Duration::from_secs(5),
        call_deadline: pacer::store::CallDeadline::default(),
        ca_pem: None,
        idempotency: Default::default(),
    };
    change(&mut settings);
    pacer::store::RedisStore::connect(&settings).expect("a Redis store")
}

/// Whether something listens on loopback `port` within five seconds (a server just started).
pub fn port_opens(port: u16) -> bool {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// A raw connection to `node` from the loopback address `from` (127.0.0.x), carrying `sent`.
pub async fn connect_from(from: &str, root: &str, sent: &[u8]) -> Option<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt as _;
    let address: std::net::SocketAddr = root.trim_start_matches("http://").parse().ok()?;
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(format!("{from}:0").parse().ok()?).ok()?;
    let mut stream = socket.connect(address).await.ok()?;
    stream.write_all(sent).await.ok()?;
    Some(stream)
}

/// What the node answers on `stream` within `wait`: status and JSON body (`None`: nothing).
pub async fn answer(
    stream: &mut tokio::net::TcpStream,
    wait: std::time::Duration,
) -> Option<(u16, Value)> {
    use tokio::io::AsyncReadExt as _;
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(wait, stream.read_to_end(&mut bytes)).await;
    if read.is_err() && bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes);
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}
