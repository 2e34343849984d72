//! Loopback HTTP peers of a node: a recording server that plays the dialer provider or a
//! webhook receiver, and real-time nodes built from settings (the product's own wiring).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use pacer::config::Settings;
use pacer::startup::{Application, Components};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, Reply, redis_url};

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    /// The request's path: nodes under test each get a path of their own.
    pub path: String,
    pub idempotency_key: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    /// Every header, by lower-case name.
    pub headers: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// How the fake answers a request, given it and how many earlier requests had its key.
pub type Behaviour = dyn Fn(&Received, usize) -> (u16, String) + Send + Sync;

/// A recording HTTP server on loopback.
pub struct Fake {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    /// Starts on a free port.
    pub async fn start(
        behaviour: impl Fn(&Received, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        Self::start_on(0, Arc::new(behaviour)).await
    }

    pub async fn start_on(port: u16, behaviour: Arc<Behaviour>) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let state = (received.clone(), behaviour);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", port))
        .expect("the fake binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        actix_web::rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            received,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().clone()
    }
}

type FakeState = (Arc<Mutex<Vec<Received>>>, Arc<Behaviour>);

async fn answer(
    state: web::Data<FakeState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let received = Received {
        at: Instant::now(),
        path: request.path().to_owned(),
        idempotency_key: header("idempotency-key"),
        timestamp: header("x-pacer-timestamp"),
        signature: header("x-pacer-signature"),
        headers: request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    let (log, behaviour) = state.get_ref();
    let seen_before = {
        let mut log = log.lock();
        let seen = log
            .iter()
            .filter(|earlier| {
                earlier.idempotency_key.is_some()
                    && earlier.idempotency_key == received.idempotency_key
            })
            .count();
        log.push(received.clone());
        seen
    };
    let (status, body) = behaviour(&received, seen_before);
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    // A provider that pushes back says for how long.
    if status == 429 || status == 503 {
        response.insert_header(("Retry-After", "1"));
    }
    response.content_type("application/json").body(body)
}

/// A campaign of `n` contacts (phone numbers from index `first` on), callable any day at any
/// hour, ten at a time.
pub fn campaign_body(first: usize, n: usize) -> Value {
    let contacts: Vec<Value> = (first..first + n)
        .map(|i| serde_json::json!({ "phone_number": crate::helpers::phone(i) }))
        .collect();
    serde_json::json!({
        "name": "test", "agent_id": "agent_1", "contacts": contacts,
        "working_days": [1, 2, 3, 4, 5, 6, 7], "max_concurrent_calls": 10,
    })
}

/// A node on the system clock, wired from settings exactly as `pacer serve` is.
pub struct Node {
    pub root: String,
    pub base: String,
    pub client: reqwest::Client,
    app_server: actix_web::dev::ServerHandle,
    directory: pacer::actors::Directory,
    stop_background: tokio::sync::watch::Sender<bool>,
}

/// Test settings for a node on `backend`; on Redis, under `prefix`.
pub fn node_settings(backend: Backend, prefix: &str) -> Settings {
    let mut settings = crate::helpers::test_settings();
    match backend {
        Backend::Memory => {}
        Backend::Redis => settings.redis_url = Some(redis_url()),
        Backend::RedisCluster => {
            settings.redis_url = Some(crate::helpers::redis_cluster_url());
            settings.redis_cluster = true;
        }
    }
    settings.redis_prefix = prefix.to_owned();
    settings.simulated_call_ms = "0..0".to_owned();
    settings.simulated_outcomes = "completed=1".to_owned();
    settings
}

pub fn fresh_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

impl Node {
    pub async fn start(settings: &Settings) -> Self {
        let components = Components::from_settings(settings).expect("the components build");
        let app = Application::build(settings, components)
            .await
            .expect("the node builds");
        let app_server = app.server.handle();
        actix_web::rt::spawn(app.server);
        let root = format!("http://127.0.0.1:{}", app.port);
        Self {
            base: format!("{root}/api/public/v1"),
            root,
            client: reqwest::Client::new(),
            app_server,
            directory: app.directory,
            stop_background: app.stop_background,
        }
    }

    /// The node's dispatchers (`drain` is the first half of a graceful shutdown).
    pub fn directory(&self) -> pacer::actors::Directory {
        self.directory.clone()
    }

    /// Stops the node as a crash would leave it: whatever is not in the store is gone.
    pub async fn kill(self) {
        let _ = self.stop_background.send(true);
        self.directory.shutdown();
        self.app_server.stop(false).await;
    }

    pub async fn send(&self, method: Method, path: &str, key: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::from(request.send().await.expect("the node answers")).await
    }

    /// Creates the campaign of `body` and schedules it; its id.
    pub async fn start_campaign(&self, body: &Value) -> String {
        let created = self
            .send(
                Method::POST,
                "/batch-calls",
                crate::helpers::ACME_KEY,
                Some(body),
            )
            .await
            .expect(201);
        let id = created.data()["id"].as_str().unwrap().to_owned();
        let schedule = format!("/batch-calls/{id}/schedule");
        self.send(Method::POST, &schedule, crate::helpers::ACME_KEY, None)
            .await
            .expect(200);
        id
    }

    /// Polls the campaign until `done` holds; the test fails if it does not within `limit`.
    pub async fn wait_for(
        &self,
        id: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let give_up = Instant::now() + limit;
        loop {
            let reply = self
                .send(
                    Method::GET,
                    &format!("/batch-calls/{id}"),
                    crate::helpers::ACME_KEY,
                    None,
                )
                .await;
            let campaign = reply.data().clone();
            if done(&campaign) {
                return campaign;
            }
            assert!(
                Instant::now() < give_up,
                "campaign {id} not as awaited within {limit:?}: {campaign}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The campaign as the node shows it now.
    pub async fn campaign_now(&self, id: &str) -> Value {
        let path = format!("/batch-calls/{id}");
        let reply = self
            .send(Method::GET, &path, crate::helpers::ACME_KEY, None)
            .await;
        reply.data().clone()
    }
}
