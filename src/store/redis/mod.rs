//! The Redis store: the production source of truth. Every state change is one Lua script
//! (`scripts/*.lua`, sent by SHA and reloaded on `NOSCRIPT` by `redis::Script`); decisions that
//! need the tz database (the gate, slots, projections) are computed here from a read of the
//! campaign and committed by a script that refuses if the campaign's version moved meanwhile.
//! Bulk work (creating many contacts) goes in bounded chunks, so no script stalls Redis.
//!
//! On one Redis, each thread that sends requests has connections of its own, driven by its own
//! runtime: an actor's request and the connection task that writes it meet on the actor's
//! arbiter, with no wake-up across threads (one I/O thread for every arbiter cost the node more
//! CPU per call: BENCHMARKS.md, *The Redis connections*). A thread that
//! stops takes its connections with it, and nothing of another thread's. The store's own runtime
//! carries the control connection, the subscriptions and a Redis Cluster's connection.

mod batch;
mod bus;
mod campaigns;
mod connections;
mod dispatch;
mod keys;
mod leases;
mod operations;
mod outbox;
mod record;
mod records;
mod replies;
mod scripts;
mod suppression;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use async_trait::async_trait;

use self::connections::{Connections, IoRuntime, ThreadConnections};
use self::dispatch::AfterRecord;
use self::keys::Keys;
use self::records::Meta;
use self::scripts::Scripts;
use super::{CallDeadline, CampaignStore, IdempotencyLimits, StoreError};
use crate::domain::{CallSafety, CampaignId, OrgId, PacingState};

/// Settings of the Redis store.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:port/`; for a Redis Cluster, one or more of its nodes' URLs separated by
    /// commas (the others are discovered).
    pub url: String,
    /// Whether `url` names a Redis Cluster.
    pub cluster: bool,
    /// Prefix of every key (one per deployment, one per test).
    pub prefix: String,
    /// Multiplexed connections to open for each thread that sends requests (each carries many
    /// requests at once).
    pub connections: usize,
    /// How long a command may wait for its reply (the redis crate's default is 500 ms).
    pub response_timeout: Duration,
    pub call_deadline: CallDeadline,
    /// Certificate authorities (PEM) for `rediss://` servers; `None`: the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub idempotency: IdempotencyLimits,
}

/// The Redis-backed [`CampaignStore`]. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
    runtime: Arc<IoRuntime>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// Opens the subscribers' connections (a subscribed connection carries nothing else; on a
    /// cluster, one node's subscribers hear what is published on any node).
    client: redis::Client,
    /// A connection of its own for light commands that must not wait behind the dispatch
    /// traffic queued on the others: notes, published to the node the subscribers are on (on
    /// a cluster, PUBLISH counts the receivers of the node it reaches only), and lease renewals
    /// on one Redis (queued behind a backlog of claims, they came back too late: leases lapsed).
    control: redis::aio::ConnectionManager,
    connections: Connections,
    next_connection: AtomicUsize,
    keys: Keys,
    scripts: Scripts,
    call_deadline: CallDeadline,
    idempotency: IdempotencyLimits,
    /// Organisations whose campaigns write webhook events.
    event_orgs: parking_lot::RwLock<HashSet<OrgId>>,
    /// What the dispatch path last read of each campaign. The claim script refuses a stale
    /// version (and re-checks cap, spacing and concurrency itself), so a steady claim costs one
    /// round trip; any commit drops the entry.
    cache: parking_lot::Mutex<HashMap<CampaignId, (Arc<Meta>, PacingState)>>,
    /// What the last record script reported of each campaign: the claim of the same dispatch
    /// step (the same instant), when the gate lets it claim nothing, answers from it instead of
    /// running its script. Taken by the next claim, whatever it is.
    recorded: parking_lot::Mutex<HashMap<CampaignId, AfterRecord>>,
    /// The callee gate's rules (the legal floor, quiet hours), read at every claim.
    safety: parking_lot::RwLock<Arc<CallSafety>>,
    /// The callee gate's verdicts of each campaign's partitions, as the dispatch path last
    /// decided them (see `Inner::partition_verdicts`).
    verdicts: parking_lot::Mutex<HashMap<CampaignId, dispatch::Verdicts>>,
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

impl RedisStore {
    /// Connects (lazily: the first command opens the first connection).
    pub fn connect(settings: &RedisSettings) -> Result<Self, StoreError> {
        let urls: Vec<&str> = settings.url.split(',').map(str::trim).collect();
        let certificates = || redis::TlsCertificates {
            client_tls: None,
            root_cert: settings.ca_pem.clone(),
        };
        // Nagle's algorithm stays on (the crate's default): TCP_NODELAY cost ≈ 5 % of the
        // dispatch throughput here (fewer requests per read), and no lateness (BENCHMARKS.md).
        // The error names no URL: it may carry a password.
        let client = match settings.ca_pem {
            None => redis::Client::open(urls[0]),
            Some(_) => redis::Client::build_with_tls(urls[0], certificates()),
        }
        .map_err(|error| StoreError::Unavailable(format!("redis_url: {error}")))?;
        // For a cluster's connection, the subscribers and the control connection: one thread
        // (two workers cost the node more CPU and added no throughput; BENCHMARKS.md). Held by `IoRuntime` at once: a runtime dropped on a caller's runtime
        // (an error below, inside `serve`) must shut down in the background, never block.
        let runtime = IoRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("pacer-redis")
                .enable_all()
                .build()
                .map_err(unavailable)?,
        ));
        let handle = runtime.0.as_ref().expect("just built").handle().clone();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(settings.response_timeout))
            .set_connection_timeout(Some(settings.response_timeout))
            // Fail fast while Redis is down (the caller answers 503 and retries later); the
            // manager reconnects in the background on the next command.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50));
        let control = {
            let _on_io_runtime = handle.enter();
            redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                .map_err(unavailable)?
        };
        let connections = if settings.cluster {
            let mut cluster = redis::cluster::ClusterClientBuilder::new(urls)
                .connection_timeout(settings.response_timeout)
                .response_timeout(settings.response_timeout)
                .retries(1);
            if settings.ca_pem.is_some() {
                cluster = cluster.certs(certificates());
            }
            let cluster = cluster
                .build()
                .map_err(|error| StoreError::Unavailable(format!("redis_url: {error}")))?;
            Connections::Cluster(Box::new((cluster, tokio::sync::OnceCell::new())))
        } else {
            Connections::Single(Box::new(ThreadConnections {
                config,
                per_thread: settings.connections.max(1),
                by_thread: parking_lot::Mutex::new(HashMap::new()),
            }))
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                control,
                connections,
                next_connection: AtomicUsize::new(0),
                keys: Keys::new(&settings.prefix),
                scripts: Scripts::new(),
                call_deadline: settings.call_deadline,
                idempotency: settings.idempotency,
                event_orgs: parking_lot::RwLock::new(HashSet::new()),
                cache: parking_lot::Mutex::new(HashMap::new()),
                recorded: parking_lot::Mutex::new(HashMap::new()),
                safety: parking_lot::RwLock::new(Arc::default()),
                verdicts: parking_lot::Mutex::new(HashMap::new()),
            }),
            runtime: Arc::new(runtime),
        })
    }

    /// Runs `work` as a task of its own, which goes to its end even if the caller stops waiting
    /// (an HTTP client that hangs up): with one Redis on the caller's runtime (over its thread's
    /// connections), with a cluster (or for a caller on no runtime) on the store's own.
    async fn io<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let callers = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|_| matches!(self.inner.connections, Connections::Single(_)));
        let runtime = match &callers {
            Some(callers) => callers,
            None => self
                .runtime
                .0
                .as_ref()
                .expect("the runtime lives as long as the store")
                .handle(),
        };
        runtime
            .spawn(work(self.inner.clone()))
            .await
            .map_err(unavailable)?
    }
}

#[async_trait]
impl CampaignStore for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let _: String = redis::cmd("PING")
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    fn set_call_safety(&self, safety: Arc<CallSafety>) {
        *self.inner.safety.write() = safety;
        self.inner.verdicts.lock().clear();
    }

    fn call_safety(&self) -> Arc<CallSafety> {
        self.inner.safety.read().clone()
    }
}
