//! Wiring: store, dialer, actors and the HTTP server, from settings. Tests build the same
//! application with their own clock and dialer, on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::App;
use actix_web::dev::Server;
use anyhow::Context as _;

use std::collections::HashMap;
use std::time::Duration;

use crate::actors::{Directory, DirectoryOptions, generated_node_id};
use crate::api::{self, ApiKeys, AppState, BodyLimit, RateLimiter};
use crate::clock::{Clock, SystemClock};
use crate::config::{DialerKind, Settings};
use crate::dialer::{CarrierGate, Dialer, SimulatedDialer, WebhookDialer, WebhookDialerSettings};
use crate::domain::{DomainError, OrgId};
use crate::store::{
    CallDeadline, CampaignStore, MemoryStore, OutboxLimits, RedisSettings, RedisStore,
};
use crate::webhooks::{DeliverySettings, Webhooks};

/// The parts that tests swap: where state lives, what time it is, how calls are placed.
#[derive(Debug, Clone)]
pub struct Components {
    pub store: Arc<dyn CampaignStore>,
    pub clock: Arc<dyn Clock>,
    pub dialer: Arc<dyn Dialer>,
    /// The carrier limit the dialer reports back-pressure to; `None`: one from the settings.
    pub gate: Option<Arc<CarrierGate>>,
}

impl Components {
    /// The product's parts as the settings choose them.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let call_deadline = CallDeadline(chrono::Duration::seconds(
            settings.call_deadline_secs as i64,
        ));
        let store: Arc<dyn CampaignStore> = match &settings.redis_url {
            None => Arc::new(MemoryStore::with_call_deadline(call_deadline)),
            Some(url) => {
                let ca_pem = settings
                    .redis_ca_file
                    .as_ref()
                    .map(|path| {
                        std::fs::read(path).with_context(|| {
                            format!("redis_ca_file: cannot read `{}`", path.display())
                        })
                    })
                    .transpose()?;
                Arc::new(
                    RedisStore::connect(&RedisSettings {
                        url: url.clone(),
                        cluster: settings.redis_cluster,
                        prefix: settings.redis_prefix.clone(),
                        connections: settings.redis_connections,
                        response_timeout: Duration::from_millis(settings.redis_timeout_ms),
                        call_deadline,
                        ca_pem,
                        idempotency: Default::default(),
                    })
                    .context("cannot use the Redis store")?,
                )
            }
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let gate = Arc::new(CarrierGate::new(store.clone(), settings.dialer_max_cps));
        let dialer: Arc<dyn Dialer> = match settings.dialer {
            DialerKind::Simulated => Arc::new(
                SimulatedDialer::from_settings(
                    &settings.simulated_call_ms,
                    &settings.simulated_outcomes,
                    settings.simulated_time_scale,
                )
                .map_err(|error| anyhow::anyhow!("simulated dialer settings: {error}"))?,
            ),
            DialerKind::Webhook => Arc::new(
                WebhookDialer::new(
                    WebhookDialerSettings {
                        url: settings.dialer_url.clone().unwrap_or_default(),
                        secret: settings.dialer_secret.clone().unwrap_or_default(),
                        timeout: Duration::from_millis(settings.dialer_timeout_ms),
                        tries: settings.dialer_tries,
                        backoff: Duration::from_millis(settings.dialer_backoff_ms),
                    },
                    store.clone(),
                    gate.clone(),
                    clock.clone(),
                )
                .map_err(anyhow::Error::msg)?,
            ),
        };
        Ok(Self {
            store,
            clock,
            dialer,
            gate: Some(gate),
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
    /// Stops the node's background tasks (webhook delivery) when set to true.
    pub stop_background: tokio::sync::watch::Sender<bool>,
}

impl Application {
    pub async fn build(settings: &Settings, components: Components) -> anyhow::Result<Self> {
        let mut keys = ApiKeys::parse(&settings.api_keys).map_err(anyhow::Error::msg)?;
        let generated_key = keys
            .is_empty()
            .then(|| keys.generate(OrgId::parse("default").expect("a valid organisation id")));
        // The recorder first: actors register their metrics when they start.
        let metrics = crate::telemetry::metrics();
        let store = components.store;
        let safety = Arc::new(settings.compliance.call_safety()?);
        store.set_call_safety(safety.clone());
        let gate = components
            .gate
            .unwrap_or_else(|| Arc::new(CarrierGate::new(store.clone(), settings.dialer_max_cps)));
        let targets = settings
            .webhooks
            .iter()
            .map(|(org, target)| Ok((OrgId::parse(org)?, target.clone())))
            .collect::<Result<HashMap<_, _>, DomainError>>()
            .map_err(|error| anyhow::anyhow!("webhooks: {error}"))?;
        let limits = OutboxLimits {
            max_outbox: settings.webhook_outbox_max,
            max_dead_letters: settings.webhook_dead_letters_max,
        };
        let webhooks = Arc::new(Webhooks::new(store.clone(), store.clone(), targets, limits));
        let node_id = settings.node_id.clone().unwrap_or_else(generated_node_id);
        let (stop_background, stopped) = tokio::sync::watch::channel(false);
        webhooks.start_delivery(
            DeliverySettings {
                max_attempts: settings.webhook_max_attempts,
                max_age: Duration::from_secs(settings.webhook_max_age_secs),
                ..DeliverySettings::default()
            },
            components.clock.clone(),
            &node_id,
            &stopped,
        );
        let directory = Directory::new(
            store.clone(),
            components.clock.clone(),
            components.dialer,
            DirectoryOptions {
                n_arbiters: actor_threads(settings),
                n_dialers: settings.dialers,
                claim_limit: settings.claim_batch,
                gate: Some(gate),
                webhooks: Some(webhooks.clone()),
                node_id: Some(node_id),
                lease_ttl: Duration::from_millis(settings.lease_ttl_ms),
                claim_ahead: Duration::from_millis(settings.claim_ahead_ms),
                claim_lead: Duration::from_millis(settings.claim_lead_ms),
            },
        );
        directory.start_keeper(stopped.clone());
        directory
            .start_control(stopped.clone())
            .await
            .context("subscribing to the other nodes' notes")?;
        let n_adopted = directory
            .balance()
            .await
            .context("loading live campaigns")?;
        tracing::info!(n_adopted, "dispatchers started");
        let state = AppState {
            store,
            directory: directory.clone(),
            clock: components.clock,
            call_events_secret: settings.dialer_secret.as_deref().map(Arc::from),
            rate_limiter: Arc::new(RateLimiter::new(
                settings.rate_limit_per_sec,
                settings.rate_limit_burst,
            )),
            auth_failures: Arc::new(RateLimiter::new(
                settings.auth_failures_per_sec,
                settings.auth_failures_burst,
            )),
            webhooks: webhooks.clone(),
            metrics,
            safety,
            carrier_cps: settings.dialer_max_cps,
        };
        let body_limit = BodyLimit {
            bytes: settings.max_body_bytes,
            timeout: Duration::from_millis(settings.body_timeout_ms),
        };
        let configure = api::configure(state, keys, body_limit);
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("listen: cannot bind {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let (max_connections, descriptors) = api::fitting_connections(settings.max_connections);
        if max_connections < settings.max_connections {
            tracing::warn!(
                max_connections,
                descriptors,
                "max_connections lowered to fit the file-descriptor limit"
            );
        }
        let limits = api::Limits {
            workers: nonzero_or_cores(settings.http_workers),
            max_connections,
            max_connections_per_address: settings.max_connections_per_address,
            header_timeout: Duration::from_millis(settings.header_timeout_ms),
            // actix-web closes an idle connection after 5 s; clients pool theirs longer (reqwest
            // 90 s) and a request sent as the server closes fails. 75 s, as nginx.
            keep_alive: Duration::from_secs(75),
        };
        // Signals are handled by `serve` (main), which drains dispatch before the API stops
        // (call events must still reach the node while its calls finish).
        let server = api::serve(listener, limits, move || {
            App::new().configure(configure.clone())
        })?;
        Ok(Self {
            port,
            server,
            directory,
            generated_key,
            stop_background,
        })
    }
}

/// Arbiters for campaign and dialer actors: `actor_threads`, or when it is 0 one per core, less
/// one with the Redis store. On two cores shared with Redis, one arbiter (which drives its own
/// Redis connections) costs the node less CPU per call than two, for the same lateness
/// (BENCHMARKS.md, *The Redis connections*).
fn actor_threads(settings: &Settings) -> usize {
    match settings.actor_threads {
        0 if settings.redis_url.is_some() => Settings::cores().saturating_sub(1).max(1),
        n => nonzero_or_cores(n),
    }
}

fn nonzero_or_cores(n: usize) -> usize {
    if n == 0 { Settings::cores() } else { n }
}
