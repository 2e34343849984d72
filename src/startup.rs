//! Wiring: store, dialer, actors and the HTTP server, from settings. Tests build the same
//! application with their own clock and dialer, on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use anyhow::Context as _;

use crate::actors::Directory;
use crate::api::{self, ApiKeys, AppState, BodyLimit};
use crate::clock::{Clock, SystemClock};
use crate::config::{DialerKind, Settings};
use crate::dialer::{Dialer, SimulatedDialer};
use crate::domain::OrgId;
use crate::store::{CallDeadline, CampaignStore, MemoryStore, RedisSettings, RedisStore};

/// The parts that tests swap: where state lives, what time it is, how calls are placed.
#[derive(Debug, Clone)]
pub struct Components {
    pub store: Arc<dyn CampaignStore>,
    pub clock: Arc<dyn Clock>,
    pub dialer: Arc<dyn Dialer>,
}

impl Components {
    /// The product's parts as the settings choose them.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let dialer: Arc<dyn Dialer> = match settings.dialer {
            DialerKind::Simulated => Arc::new(
                SimulatedDialer::from_settings(
                    &settings.simulated_call_ms,
                    &settings.simulated_outcomes,
                    settings.simulated_time_scale,
                )
                .map_err(|error| anyhow::anyhow!("simulated dialer settings: {error}"))?,
            ),
        };
        let call_deadline = CallDeadline(chrono::Duration::seconds(
            settings.call_deadline_secs as i64,
        ));
        let store: Arc<dyn CampaignStore> = match &settings.redis_url {
            None => Arc::new(MemoryStore::with_call_deadline(call_deadline)),
            Some(url) => Arc::new(
                RedisStore::connect(&RedisSettings {
                    url: url.clone(),
                    prefix: settings.redis_prefix.clone(),
                    connections: settings.redis_connections,
                    response_timeout: std::time::Duration::from_millis(settings.redis_timeout_ms),
                    call_deadline,
                })
                .context("redis_url: cannot use the Redis store")?,
            ),
        };
        Ok(Self {
            store,
            clock: Arc::new(SystemClock),
            dialer,
        })
    }
}

/// A built application: the server (to be awaited), its port and its directory.
#[allow(
    missing_debug_implementations,
    reason = "actix-web's Server is not Debug"
)]
pub struct Application {
    pub port: u16,
    pub server: Server,
    pub directory: Directory,
    /// The key generated when none was configured, to show the operator once.
    pub generated_key: Option<String>,
}

impl Application {
    pub async fn build(settings: &Settings, components: Components) -> anyhow::Result<Self> {
        let mut keys = ApiKeys::parse(&settings.api_keys).map_err(anyhow::Error::msg)?;
        let generated_key = keys
            .is_empty()
            .then(|| keys.generate(OrgId::parse("default").expect("a valid organisation id")));
        let actor_threads = nonzero_or_cores(settings.actor_threads);
        let directory = Directory::new(
            components.store.clone(),
            components.clock.clone(),
            components.dialer,
            actor_threads,
            settings.dialers,
            settings.claim_batch,
        );
        let n_live = directory
            .start_live()
            .await
            .context("loading live campaigns")?;
        tracing::info!(n_live, "dispatchers started");
        let state = AppState {
            store: components.store,
            directory: directory.clone(),
            clock: components.clock,
        };
        let configure = api::configure(state, keys, BodyLimit(settings.max_body_bytes));
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("listen: cannot bind {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || App::new().configure(configure.clone()))
            .workers(nonzero_or_cores(settings.http_workers))
            .listen(listener)?
            .run();
        Ok(Self {
            port,
            server,
            directory,
            generated_key,
        })
    }
}

fn nonzero_or_cores(n: usize) -> usize {
    if n == 0 { Settings::cores() } else { n }
}
