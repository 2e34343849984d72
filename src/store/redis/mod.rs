//! The Redis store: the production source of truth. Every state change is one Lua script
//! (`scripts/*.lua`, sent by SHA and reloaded on `NOSCRIPT` by `redis::Script`); decisions that
//! need the tz database (the gate, slots, projections) are computed here from a read of the
//! campaign and committed by a script that refuses if the campaign's version moved meanwhile.
//! Bulk work (creating many contacts) goes in bounded chunks, so no script stalls Redis.
//!
//! On one Redis, each thread that sends requests has connections of its own, driven by its own
//! runtime: an actor's request and the connection task that writes it meet on the actor's
//! arbiter, with no wake-up across threads (one I/O thread for every arbiter cost the node
//! 110–114 µs of CPU a call at 5 000 calls/s against 68–81 µs; BENCHMARKS.md). A thread that
//! stops takes its connections with it, and nothing of another thread's. The store's own runtime
//! carries the control connection, the subscriptions and a Redis Cluster's connection.

mod batch;
mod keys;
mod records;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use redis::{AsyncCommands, Script, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

use self::batch::{Batcher, Run};
use self::keys::{CONTACTS_PER_BUCKET, Keys};
use self::records::{ContactRecord, Meta, ms};
use super::rules::{self, QueueChange};
use super::{
    AddedContacts, CallDeadline, CallRef, CallStats, Campaign, CampaignEdit, CampaignFilter,
    CampaignStore, ClaimBatch, ClaimedCall, Contact, Control, Fence, IDEMPOTENCY_PENDING_TTL,
    IDEMPOTENCY_TTL, Idempotency, IdempotencyLimits, Listing, NewContact, OutboxEntry, Outcome,
    Page, Recorded, StoreError, StoredResponse, Subscription, Tokens,
};
use super::{DeadLetter, NodeBeat, OutboxLimits, Relayed, RelayedEvent, StoredEvent, unix_hour};
use crate::domain::{
    CallId, CampaignId, CampaignSpec, CampaignStatus, ContactId, ContactStatus, DialOutcome, Gate,
    OrgId, PacingState, Rate, SchedulePatch, local_date,
};
use crate::telemetry::{IDEMPOTENCY_DROPPED, WEBHOOK_DEAD_LETTERS, WEBHOOK_DEAD_LETTERS_DROPPED};

/// Contacts per `add_contacts` script call: a few milliseconds of Redis time at most.
const CONTACT_CHUNK: usize = 250;

/// Chunks of contacts sent ahead of the reply to the first (see `Inner::add_contacts`).
const CHUNKS_IN_FLIGHT: usize = 4;

/// A commit or claim that met a concurrent change is tried again this many times.
const ATTEMPTS: usize = 8;

/// Leases renewed by one script on one Redis: a GET and a PEXPIRE each, ≈ 4 µs a lease under
/// load, so a script holds Redis ≈ 0.5 ms.
const RENEWALS_PER_SCRIPT: usize = 100;
/// Live campaigns read a page at a time (≈ 0.5 ms of Redis a page).
const LIVE_PAGE: usize = 1_000;
/// Renewal scripts on one Redis start spread evenly over the lease's TTL divided by this, each
/// without waiting for the one before. Scripts sent together run back to back and every claim
/// waits behind them all (10 000 leases in scripts of 500 held Redis ≈ 44 ms each renewal: the
/// p99 of dispatch lateness at 5–10 k calls/s); one after another, a loaded Redis' queue delay
/// would add up to past the lease, and so would a fixed spacing with enough leases (1 ms
/// apart, 400 000 leases would take 4 s). A sixth of the TTL is half the renewal period: a
/// lease renewed by the first script one time and by the last the next is renewed within half
/// the TTL, however many leases there are.
const RENEWAL_SPREAD: u32 = 6;

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

struct Scripts {
    add_contacts: Script,
    claim: Arc<Batcher>,
    record: Arc<Batcher>,
    release: Script,
    commit: Script,
    delete: Script,
    lease: Script,
    renew_leases: Script,
    gcra: Script,
    hold: Script,
    heartbeat: Script,
    idempotency_keep: Script,
    relay: Script,
    dead_letter: Script,
    events_trim: Script,
}

/// The helpers of scripts that read or write call states, sent ahead of each (Redis scripts
/// cannot include one another).
const CALL_STATE: &str = include_str!("scripts/call_state.lua");

/// A script that reads or writes call states: the helpers of `call_state.lua` go first.
fn with_call_state(body: &str) -> Script {
    Script::new(&format!("{CALL_STATE}{body}"))
}

impl Scripts {
    fn new() -> Self {
        Self {
            add_contacts: Script::new(include_str!("scripts/add_contacts.lua")),
            claim: Batcher::new(include_str!("scripts/claim.lua")),
            record: Batcher::new(include_str!("scripts/record.lua")),
            release: with_call_state(include_str!("scripts/release.lua")),
            commit: Script::new(include_str!("scripts/commit.lua")),
            delete: Script::new(include_str!("scripts/delete.lua")),
            lease: Script::new(include_str!("scripts/lease.lua")),
            renew_leases: Script::new(include_str!("scripts/renew_leases.lua")),
            gcra: Script::new(include_str!("scripts/gcra.lua")),
            hold: Script::new(include_str!("scripts/hold.lua")),
            heartbeat: Script::new(include_str!("scripts/heartbeat.lua")),
            idempotency_keep: Script::new(include_str!("scripts/idempotency_keep.lua")),
            relay: Script::new(include_str!("scripts/relay.lua")),
            dead_letter: Script::new(include_str!("scripts/dead_letter.lua")),
            events_trim: Script::new(include_str!("scripts/events_trim.lua")),
        }
    }
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
}

/// A campaign as a record script left it (see `Inner::recorded`).
struct AfterRecord {
    now: DateTime<Utc>,
    version: String,
    status: CampaignStatus,
    queue: Queue,
    events: u64,
}

impl AfterRecord {
    /// The claim of the recording instant that may claim nothing, answered from this: when the
    /// outcomes just recorded say all its script would (no call past its deadline, the version
    /// its gate was decided on); `None` when the script must run.
    fn answer(&self, meta: &Meta, pacing: &PacingState, now: DateTime<Utc>) -> Option<ClaimBatch> {
        let campaign = &meta.campaign;
        let answers = self.now == now
            && self.version == meta.version
            && self.status == campaign.status
            && self
                .queue
                .first_deadline
                .is_none_or(|deadline| deadline > now);
        answers.then(|| ClaimBatch {
            org: campaign.org.clone(),
            calls: Vec::new(),
            status: self.status,
            wake_at: self.queue.wake_at(campaign, self.status, pacing, now),
            in_flight: self.queue.in_flight,
            events: self.events,
        })
    }
}

/// How many contacts a claim of up to `limit` asks for now, and the next slot after it (with a
/// cap). The gate needs the tz database, so it is decided here; the claim script re-checks the
/// version it was decided on, the cap, the spacing and the concurrency.
fn wanted(
    meta: &Meta,
    pacing: &PacingState,
    now: DateTime<Utc>,
    limit: u32,
) -> (u32, Option<DateTime<Utc>>) {
    let campaign = &meta.campaign;
    let schedule = &campaign.spec.schedule;
    match (campaign.status.is_dispatching(), campaign.starts_at) {
        (true, Some(start)) => match schedule.gate(start, pacing, now) {
            Gate::Open { max_calls } => {
                let mut after = *pacing;
                after.record_claims(schedule, now, 1);
                (limit.min(max_calls.unwrap_or(u32::MAX)), after.next_slot_at)
            }
            Gate::Wait(_) => (0, None),
        },
        _ => (0, None),
    }
}

/// A campaign's queue as a claim or record script reports it (both put these at the same
/// places of their replies: 1, 3, 4 and 5).
struct Queue {
    in_flight: u32,
    first_retry: Option<DateTime<Utc>>,
    /// Contacts never called or released are waiting.
    fresh: bool,
    first_deadline: Option<DateTime<Utc>>,
}

impl Queue {
    fn from_reply(reply: &[Value]) -> Self {
        let instant = |value: Option<&Value>| {
            text(value)
                .parse::<f64>()
                .ok()
                .map(|ms| records::instant(ms as i64))
        };
        Self {
            in_flight: number(reply.get(1)) as u32,
            first_retry: instant(reply.get(3)),
            fresh: number(reply.get(4)) > 0,
            first_deadline: instant(reply.get(5)),
        }
    }

    /// When the campaign, in `status` after a step, wants its next one: its next claim, or the
    /// deadline of a call whose outcome has not come.
    fn wake_at(
        &self,
        campaign: &Campaign,
        status: CampaignStatus,
        pacing: &PacingState,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let schedule = &campaign.spec.schedule;
        let next_claim = match campaign.starts_at {
            Some(start)
                if status.is_dispatching() && self.in_flight < schedule.max_concurrent_calls =>
            {
                schedule.next_claim_at(start, pacing, now, self.fresh, self.first_retry)
            }
            _ => None,
        };
        next_claim.into_iter().chain(self.first_deadline).min()
    }
}

/// The store's own runtime (the control connection, the subscriptions, a cluster's connection);
/// shut down in the background when the store goes.
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
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
        // (two workers cost the node 15 % more CPU at 1 000 calls/s, and added no throughput;
        // BENCHMARKS.md). Held by `IoRuntime` at once: a runtime dropped on a caller's runtime
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
            }),
            runtime: Arc::new(runtime),
        })
    }

    /// Runs `scripts/lease.lua`: takes or releases a lease; the token, or 0.
    async fn lease_op(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: Duration,
        op: &'static str,
        fence: Option<Fence>,
    ) -> Result<u64, StoreError> {
        let owner = owner.to_owned();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            if op == "take" {
                inner.meta(&mut con, None, id).await?;
            }
            let keys = inner.keys.campaign(id);
            inner
                .scripts
                .lease
                .key(keys.meta())
                .key(keys.lease())
                .arg(owner)
                .arg(ttl.as_millis().max(1) as u64)
                .arg(op)
                .arg(fence.map_or(0, |fence| fence.0))
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)
        })
        .await
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

/// Multiplexed connections, each carrying many requests at once and reconnecting by itself
/// after a failure. (No pool: a pooled connection is checked with a PING round trip at every
/// checkout, which cost a third of the dispatch throughput here.)
enum Connections {
    /// To one Redis: a few for each thread, used in turn.
    Single(Box<ThreadConnections>),
    /// To a Redis Cluster: one, which routes each command to the node of its key's slot
    /// (opened at first use).
    Cluster(
        Box<(
            redis::cluster::ClusterClient,
            tokio::sync::OnceCell<redis::cluster_async::ClusterConnection>,
        )>,
    ),
}

/// Connections to one Redis for each thread that sends requests, made at its first request on
/// the thread's runtime, which drives them from then on. A thread that stops leaves its entry
/// behind (its connections closed with its runtime): the threads are few and live as long as the
/// node (its arbiters and HTTP workers).
struct ThreadConnections {
    config: redis::aio::ConnectionManagerConfig,
    per_thread: usize,
    by_thread:
        parking_lot::Mutex<HashMap<std::thread::ThreadId, Vec<redis::aio::ConnectionManager>>>,
}

impl ThreadConnections {
    /// The calling thread's `index`-th connection (modulo their number) to `client`'s Redis.
    /// Must be called on a runtime.
    fn get(
        &self,
        client: &redis::Client,
        index: usize,
    ) -> Result<redis::aio::ConnectionManager, StoreError> {
        let mut by_thread = self.by_thread.lock();
        let managers = match by_thread.entry(std::thread::current().id()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let managers = (0..self.per_thread)
                    .map(|_| {
                        redis::aio::ConnectionManager::new_lazy_with_config(
                            client.clone(),
                            self.config.clone(),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unavailable)?;
                entry.insert(managers)
            }
        };
        Ok(managers[index % managers.len()].clone())
    }
}

/// A connection to one Redis or to a cluster.
#[derive(Clone)]
enum Connection {
    Single(redis::aio::ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// On one Redis, a request refused because the connection could not be made (the manager's
/// last attempt, while Redis was down) was never sent: it is sent once more, over the new
/// connection that the refusal started. Without it, each connection idle through an outage failed
/// its first request after Redis came back.
impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            Self::Single(con) => Box::pin(async move {
                match con.req_packed_command(cmd).await {
                    Err(error) if error.is_connection_refusal() => {
                        con.req_packed_command(cmd).await
                    }
                    result => result,
                }
            }),
            Self::Cluster(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(con) => Box::pin(async move {
                match con.req_packed_commands(pipeline, offset, count).await {
                    Err(error) if error.is_connection_refusal() => {
                        con.req_packed_commands(pipeline, offset, count).await
                    }
                    result => result,
                }
            }),
            Self::Cluster(con) => con.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(con) => con.get_db(),
            Self::Cluster(con) => con.get_db(),
        }
    }
}

/// Runs independent commands in one round trip: one pipeline on one Redis; on a cluster, where
/// a pipeline's keys must share one slot, all at once on the multiplexed connection (which
/// sends each to its slot's node).
async fn query_each<T: redis::FromRedisValue>(
    con: &mut Connection,
    commands: impl Iterator<Item = redis::Cmd>,
) -> Result<Vec<T>, StoreError> {
    match con {
        Connection::Single(_) => {
            let mut pipe = redis::pipe();
            for command in commands {
                pipe.add_command(command);
            }
            pipe.query_async(con).await.map_err(unavailable)
        }
        Connection::Cluster(cluster) => {
            let replies = commands.map(|command| {
                let mut cluster = cluster.clone();
                async move { command.query_async::<T>(&mut cluster).await }
            });
            futures_util::future::try_join_all(replies)
                .await
                .map_err(unavailable)
        }
    }
}

/// A connection subscribed to `channel`.
async fn subscribed(
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSub, StoreError> {
    let mut pubsub = client.get_async_pubsub().await.map_err(unavailable)?;
    pubsub.subscribe(channel).await.map_err(unavailable)?;
    Ok(pubsub)
}

/// Forwards the messages of `channel` to `sender` until its receiver is dropped, subscribing
/// again whenever the connection is lost.
async fn forward(
    mut pubsub: redis::aio::PubSub,
    client: redis::Client,
    channel: String,
    sender: tokio::sync::mpsc::UnboundedSender<String>,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(message) => {
                            let Ok(payload) = message.get_payload::<String>() else { continue };
                            if sender.send(payload).is_err() {
                                return;
                            }
                        }
                        None => break,
                    },
                    () = sender.closed() => return,
                }
            }
        }
        tracing::warn!("subscription lost, subscribing again");
        pubsub = loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if sender.is_closed() {
                return;
            }
            if let Ok(pubsub) = subscribed(&client, &channel).await {
                break pubsub;
            }
        };
    }
}

impl Inner {
    async fn connection(&self) -> Result<Connection, StoreError> {
        match &self.connections {
            Connections::Single(connections) => {
                let index = self.next_connection.fetch_add(1, Ordering::Relaxed);
                connections.get(&self.client, index).map(Connection::Single)
            }
            Connections::Cluster(cluster) => cluster
                .1
                .get_or_try_init(|| cluster.0.get_async_connection())
                .await
                .cloned()
                .map(Connection::Cluster)
                .map_err(unavailable),
        }
    }

    /// The campaign's meta hash, or `NotFound` (also for another organisation's campaign).
    async fn meta(
        &self,
        con: &mut Connection,
        org: Option<&OrgId>,
        id: CampaignId,
    ) -> Result<Meta, StoreError> {
        let fields: HashMap<String, String> = con
            .hgetall(self.keys.campaign(id).meta())
            .await
            .map_err(unavailable)?;
        if fields.is_empty() {
            return Err(StoreError::NotFound);
        }
        let meta = Meta::decode(id, &fields)?;
        if org.is_some_and(|org| *org != meta.campaign.org) {
            return Err(StoreError::NotFound);
        }
        Ok(meta)
    }

    /// The ids of the page of the organisation's campaigns that match `filter` (newest first),
    /// and how many match in all: the index is read a chunk at a time, each campaign by its
    /// status and agent alone.
    async fn matching_campaigns(
        &self,
        con: &mut Connection,
        index: &str,
        filter: &CampaignFilter,
        page: Page,
    ) -> Result<(Vec<String>, u64), StoreError> {
        const CHUNK: isize = 500;
        let (mut page_ids, mut total, mut first) = (Vec::new(), 0u64, 0isize);
        loop {
            let ids: Vec<String> = con
                .zrevrange(index, first, first + CHUNK - 1)
                .await
                .map_err(unavailable)?;
            if ids.is_empty() {
                return Ok((page_ids, total));
            }
            let reads = ids.iter().map(|id| {
                let meta = CampaignId::parse(id)
                    .map_or_else(|_| String::new(), |id| self.keys.campaign(id).meta());
                redis::cmd("HMGET")
                    .arg(meta)
                    .arg("status")
                    .arg("agent")
                    .clone()
            });
            let fields: Vec<(Option<String>, Option<String>)> = query_each(con, reads).await?;
            for (id, (status, agent)) in ids.iter().zip(fields) {
                let status = status.as_deref().and_then(CampaignStatus::parse);
                let wanted = status.is_some()
                    && filter.status.is_none_or(|wanted| status == Some(wanted))
                    && filter
                        .agent_id
                        .as_ref()
                        .is_none_or(|wanted| agent.as_ref() == Some(wanted));
                if wanted {
                    if total >= page.offset && page_ids.len() < page.limit as usize {
                        page_ids.push(id.clone());
                    }
                    total += 1;
                }
            }
            if (ids.len() as isize) < CHUNK {
                return Ok((page_ids, total));
            }
            first += CHUNK;
        }
    }

    /// A page of the campaign's contacts in insertion order, optionally of one status, with the
    /// queue position of each one never called (projected by the caller); and how many contacts
    /// the filter matches in all. A contact that cannot be read back is skipped (logged and
    /// counted).
    async fn contacts_page(
        &self,
        org: &OrgId,
        id: CampaignId,
        status: Option<ContactStatus>,
        page: Page,
        now: DateTime<Utc>,
    ) -> Result<(super::ContactsPage, u64), StoreError> {
        let mut con = self.connection().await?;
        let meta = self.meta(&mut con, Some(org), id).await?;
        let pacing = pacing_at(&meta, now);
        let campaign = &meta.campaign;
        let keys = self.keys.campaign(id);
        let n_contacts = meta.n_contacts;
        let total = status.map_or(campaign.counters.total, |status| {
            campaign.counters.of(status)
        });
        let mut read = super::ContactsPage {
            items: Vec::new(),
            ranks: Vec::new(),
            queue: campaign.starts_at.map(|start| super::QueueView {
                schedule: campaign.spec.schedule.clone(),
                start,
                pacing,
            }),
        };
        let mut to_skip = page.offset;
        let mut first = 0u32;
        if status.is_none() {
            // Without a filter the page starts at a known sequence.
            first = page.offset.min(u64::from(n_contacts)) as u32;
            to_skip = 0;
        }
        while first < n_contacts && read.items.len() < page.limit as usize {
            // One bucket a read: the rest of the bucket that holds `first`.
            let last = ((first / CONTACTS_PER_BUCKET + 1) * CONTACTS_PER_BUCKET).min(n_contacts);
            let sequences: Vec<u32> = (first..last).collect();
            // The bucket's details and call states, and the released contacts before and in
            // it (for the queue positions of fresh contacts), in one round trip.
            type Bucket = (Vec<Option<String>>, Vec<Option<String>>, u64, Vec<u32>);
            let (records, states, released_before, released_in): Bucket = redis::pipe()
                .cmd("HMGET")
                .arg(keys.contact_bucket(first))
                .arg(&sequences)
                .cmd("HMGET")
                .arg(keys.calls_bucket(first))
                .arg(&sequences)
                .zcount(keys.released(), "-inf", format!("({first}"))
                .zrangebyscore(keys.released(), first, format!("({last}"))
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            for ((sequence, record), state) in sequences.into_iter().zip(records).zip(states) {
                let Some(record) = record else { continue };
                let contact_id = rules::contact_id(id, sequence);
                let decoded = ContactRecord::decode(&record, state.as_deref());
                let record = match decoded {
                    Ok(record) => record,
                    Err(error) => {
                        super::skip_unreadable("contact", contact_id, &error);
                        continue;
                    }
                };
                if status.is_some_and(|status| record.status(campaign.status) != status) {
                    continue;
                }
                if to_skip > 0 {
                    to_skip -= 1;
                    continue;
                }
                if read.items.len() == page.limit as usize {
                    break;
                }
                let fresh = record.is_fresh();
                let contact = match record.into_contact(contact_id, campaign.status) {
                    Ok(contact) => contact,
                    Err(error) => {
                        super::skip_unreadable("contact", contact_id, &error);
                        continue;
                    }
                };
                if fresh && contact.status == ContactStatus::Scheduled {
                    // Fresh contacts ahead of this one: the unclaimed ones from the cursor, and
                    // the released ones before it.
                    let released_ahead = released_before
                        + released_in
                            .iter()
                            .filter(|&&released| released < sequence)
                            .count() as u64;
                    let rank = u64::from(sequence.saturating_sub(meta.cursor)) + released_ahead;
                    read.ranks.push((read.items.len(), rank));
                }
                read.items.push(contact);
            }
            first = last;
        }
        Ok((read, total))
    }

    /// The campaign and its pacing as last seen by the dispatch path, or read now.
    async fn cached(
        &self,
        con: &mut Connection,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<(Arc<Meta>, PacingState), StoreError> {
        if let Some(cached) = self.cached_today(id, now) {
            return Ok(cached);
        }
        let meta = Arc::new(self.meta(con, None, id).await?);
        let pacing = pacing_at(&meta, now);
        self.cache.lock().insert(id, (meta.clone(), pacing));
        Ok((meta, pacing))
    }

    /// The campaign and its pacing as the dispatch path last saw them, if that was on the local
    /// date of `now`.
    fn cached_today(&self, id: CampaignId, now: DateTime<Utc>) -> Option<(Arc<Meta>, PacingState)> {
        let (meta, pacing) = self.cache.lock().get(&id).cloned()?;
        let today = local_date(meta.campaign.spec.schedule.timezone, now);
        (pacing.day == Some(today)).then_some((meta, pacing))
    }

    /// A claim answered at once, with no request and no task: the campaign is cached for today,
    /// its gate lets nothing through now, and the record script of the same instant reported all
    /// its claim script would (`claim`).
    fn answered(&self, id: CampaignId, now: DateTime<Utc>, limit: u32) -> Option<ClaimBatch> {
        let (meta, pacing) = self.cached_today(id, now)?;
        if wanted(&meta, &pacing, now, limit).0 > 0 {
            return None;
        }
        let mut recorded = self.recorded.lock();
        let batch = recorded.get(&id)?.answer(&meta, &pacing, now)?;
        recorded.remove(&id);
        Some(batch)
    }

    fn forget(&self, id: CampaignId) {
        self.cache.lock().remove(&id);
        self.recorded.lock().remove(&id);
    }

    /// Whether the steps of `org`'s campaigns write webhook events.
    fn records_events(&self, org: &OrgId) -> bool {
        self.event_orgs.read().contains(org)
    }



    async fn add_contacts(
        &self,
        con: &mut Connection,
        id: CampaignId,
        contacts: &[NewContact],
    ) -> Result<AddedContacts, StoreError> {
        let keys = self.keys.campaign(id);
        let mut result = AddedContacts::default();
        // A few chunks in flight on one connection: Redis runs them in the order sent (the
        // first of two equal phones wins), while the next ones are being encoded here.
        let chunks = (0..contacts.len().div_ceil(CONTACT_CHUNK)).map(|n_chunk| {
            let first = n_chunk * CONTACT_CHUNK;
            let chunk = &contacts[first..contacts.len().min(first + CONTACT_CHUNK)];
            let mut invocation = self.scripts.add_contacts.prepare_invoke();
            invocation
                .key(keys.meta())
                .key(keys.contacts())
                .key(keys.phones());
            for contact in chunk {
                let record =
                    serde_json::to_string(&ContactRecord::new(contact)).expect("records serialize");
                invocation.arg(contact.phone.as_str()).arg(record);
            }
            let mut con = con.clone();
            async move { invocation.invoke_async::<Vec<Value>>(&mut con).await }
        });
        let mut replies = futures_util::stream::iter(chunks).buffered(CHUNKS_IN_FLIGHT);
        let mut n_chunk = 0;
        while let Some(reply) = replies.next().await {
            let reply = reply.map_err(unavailable)?;
            match text(reply.first()).as_str() {
                "OK" => {}
                "NOT_FOUND" => return Err(StoreError::NotFound),
                _ => {
                    let current = CampaignStatus::parse(&text(reply.get(1)))
                        .ok_or_else(|| unavailable("bad reply"))?;
                    let command = crate::domain::Command::AddContacts;
                    return Err(crate::domain::InvalidTransition { current, command }.into());
                }
            }
            result.added += number(reply.get(1)) as u64;
            let offset = n_chunk * CONTACT_CHUNK;
            for index in reply.iter().skip(2) {
                let row = offset + number(Some(index)) as usize;
                result
                    .skipped
                    .push((row, "duplicate phone number in this campaign".to_owned()));
            }
            n_chunk += 1;
        }
        Ok(result)
    }

    /// Reads the campaign, lets `change` decide, and commits it unless the campaign moved
    /// meanwhile (then it reads again).
    async fn change(
        &self,
        org: &OrgId,
        id: CampaignId,
        now: DateTime<Utc>,
        change: impl Fn(&mut Campaign, &mut PacingState) -> Result<QueueChange, StoreError>,
    ) -> Result<Campaign, StoreError> {
        let mut con = self.connection().await?;
        let keys = self.keys.campaign(id);
        for _ in 0..ATTEMPTS {
            let meta = self.meta(&mut con, Some(org), id).await?;
            let mut pacing = pacing_at(&meta, now);
            let mut campaign = meta.campaign.clone();
            let queue_change = change(&mut campaign, &mut pacing)?;
            // Listed as needing a dispatcher before the change commits (the live set is a key
            // of its own, in another slot on a cluster): a node that stops between the two
            // steps leaves at most a listed campaign that needs no dispatcher (the claim that
            // finds it finished drops it), never a dispatching one that no node looks for.
            // Likewise a campaign whose change writes an event: its dispatcher relays it.
            let events = status_events(meta.campaign.status, campaign.status)
                .filter(|_| self.records_events(org));
            if campaign.status.is_dispatching() || events.is_some() {
                let _: () = con
                    .sadd(self.keys.live(), id.to_string())
                    .await
                    .map_err(unavailable)?;
            }
            let action = match queue_change {
                QueueChange::None => "none",
                QueueChange::Schedule => "schedule",
                QueueChange::Cancel => "cancel",
            };
            let mut invocation = self.scripts.commit.prepare_invoke();
            let events = events.unwrap_or_default();
            invocation
                .key(keys.meta())
                .key(keys.released())
                .key(keys.retry())
                .key(keys.events())
                .arg(&meta.version)
                .arg(action)
                .arg(ms(now))
                .arg(events.len());
            for event in events {
                invocation.arg(event);
            }
            for (field, value) in Meta::changed_fields(&campaign, pacing.next_slot_at) {
                invocation.arg(field).arg(value);
            }
            let reply: String = invocation
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            match reply.as_str() {
                "OK" => {
                    self.forget(id);
                    return Ok(self.meta(&mut con, Some(org), id).await?.campaign);
                }
                "NOT_FOUND" => {
                    // Deleted meanwhile: not left listed.
                    let _: () = con
                        .srem(self.keys.live(), id.to_string())
                        .await
                        .map_err(unavailable)?;
                    return Err(StoreError::NotFound);
                }
                _ => continue,
            }
        }
        Err(unavailable("the campaign kept changing; try again"))
    }
}

/// A campaign's pacing state as of `now`: calls counted today, and the next slot.
fn pacing_at(meta: &Meta, now: DateTime<Utc>) -> PacingState {
    let today = local_date(meta.campaign.spec.schedule.timezone, now);
    PacingState {
        day: Some(today),
        used: meta.pacing.used_on(today),
        next_slot_at: meta.pacing.next_slot_at,
    }
}

/// The events (as `call_state.lua` writes them, without number and time) of a change from
/// status `from` to `to`; `None` when the status did not change.
fn status_events(from: CampaignStatus, to: CampaignStatus) -> Option<Vec<String>> {
    (from != to).then(|| {
        let mut events = vec![format!("s|{}|{}", from.as_str(), to.as_str())];
        if to == CampaignStatus::Completed {
            events.push("d".to_owned());
        }
        events
    })
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::SimpleString(text)) => text.clone(),
        Some(Value::Int(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn number(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::Int(n)) => *n,
        other => text(other).parse().unwrap_or(0),
    }
}

#[async_trait]
impl CampaignStore for RedisStore {
    async fn create_campaign(
        &self,
        org: &OrgId,
        spec: CampaignSpec,
        contacts: Vec<NewContact>,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, AddedContacts), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let id = CampaignId::random();
            let campaign = Campaign::draft(id, org.clone(), spec, now);
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let _: () = con
                .hset_multiple(keys.meta(), &Meta::new_fields(&campaign))
                .await
                .map_err(unavailable)?;
            let added = inner.add_contacts(&mut con, id, &contacts).await?;
            // Listed only once every contact is in, in creation order (a counter, not the clock,
            // so that campaigns created in the same millisecond keep their order).
            let order: i64 = con
                .incr(inner.keys.creations(), 1)
                .await
                .map_err(unavailable)?;
            let _: () = con
                .zadd(inner.keys.org(&org), id.to_string(), order)
                .await
                .map_err(unavailable)?;
            Ok((inner.meta(&mut con, None, id).await?.campaign, added))
        })
        .await
    }

    async fn campaign(&self, org: &OrgId, id: CampaignId) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            Ok(inner.meta(&mut con, Some(&org), id).await?.campaign)
        })
        .await
    }

    /// Newest first. Without a filter, the page's campaigns only are read; with one, the
    /// organisation's campaigns are scanned a chunk at a time by their status and agent fields
    /// alone, and the page's are then read whole. A campaign that cannot be read back is skipped
    /// (logged and counted), never the end of the list.
    async fn list_campaigns(
        &self,
        org: &OrgId,
        filter: &CampaignFilter,
        page: Page,
    ) -> Result<Listing<Campaign>, StoreError> {
        let (org, filter) = (org.clone(), filter.clone());
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let index = inner.keys.org(&org);
            let (ids, total) = if filter == CampaignFilter::default() {
                let total: u64 = con.zcard(&index).await.map_err(unavailable)?;
                let first = page.offset.min(total) as isize;
                let last = first + page.limit as isize - 1;
                let ids: Vec<String> = con
                    .zrevrange(&index, first, last)
                    .await
                    .map_err(unavailable)?;
                (ids, total)
            } else {
                inner
                    .matching_campaigns(&mut con, &index, &filter, page)
                    .await?
            };
            let ids: Vec<CampaignId> = ids
                .iter()
                .filter_map(|id| CampaignId::parse(id).ok())
                .collect();
            if ids.is_empty() {
                return Ok(Listing {
                    items: Vec::new(),
                    total,
                });
            }
            let reads = ids.iter().map(|&id| {
                redis::cmd("HGETALL")
                    .arg(inner.keys.campaign(id).meta())
                    .clone()
            });
            let metas: Vec<HashMap<String, String>> = query_each(&mut con, reads).await?;
            let mut items = Vec::with_capacity(ids.len());
            for (id, fields) in ids.into_iter().zip(metas) {
                if fields.is_empty() {
                    continue; // deleted meanwhile
                }
                match Meta::decode(id, &fields) {
                    Ok(meta) if meta.campaign.org == org => items.push(meta.campaign),
                    Ok(_) => {}
                    Err(error) => super::skip_unreadable("campaign", id, &error),
                }
            }
            Ok(Listing { items, total })
        })
        .await
    }

    async fn edit_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        edit: CampaignEdit,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            inner
                .change(&org, id, now, |campaign, pacing| {
                    rules::edit(campaign, pacing, edit.clone(), now)
                })
                .await
        })
        .await
    }

    async fn schedule_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        patch: SchedulePatch,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            inner
                .change(&org, id, now, |campaign, pacing| {
                    rules::schedule(campaign, pacing, &patch, now)
                })
                .await
        })
        .await
    }

    async fn control(
        &self,
        org: &OrgId,
        id: CampaignId,
        control: Control,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            inner
                .change(&org, id, now, |campaign, pacing| {
                    rules::control(campaign, pacing, control, now)
                })
                .await
        })
        .await
    }

    async fn add_contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        contacts: Vec<NewContact>,
        _now: DateTime<Utc>,
    ) -> Result<AddedContacts, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            inner.meta(&mut con, Some(&org), id).await?;
            inner.add_contacts(&mut con, id, &contacts).await
        })
        .await
    }

    async fn contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        status: Option<ContactStatus>,
        page: Page,
        now: DateTime<Utc>,
    ) -> Result<Listing<Contact>, StoreError> {
        let org = org.clone();
        let (read, total) = self
            .io(move |inner| async move { inner.contacts_page(&org, id, status, page, now).await })
            .await?;
        let items = super::project_off_thread(move || read.project(now)).await?;
        Ok(Listing { items, total })
    }

    async fn delete_campaign(&self, org: &OrgId, id: CampaignId) -> Result<(), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let mut invocation = inner.scripts.delete.prepare_invoke();
            for key in [
                keys.meta(),
                keys.contacts(),
                keys.phones(),
                keys.released(),
                keys.retry(),
                keys.inflight(),
                keys.lease(),
                keys.calls(),
                keys.stats(),
                keys.events(),
            ] {
                invocation.key(key);
            }
            let reply: String = invocation
                .arg(org.as_str())
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            match reply.as_str() {
                "OK" => {
                    inner.forget(id);
                    let _: () = con
                        .zrem(inner.keys.org(&org), id.to_string())
                        .await
                        .map_err(unavailable)?;
                    let _: () = con
                        .srem(inner.keys.live(), id.to_string())
                        .await
                        .map_err(unavailable)?;
                    Ok(())
                }
                "NOT_FOUND" => Err(StoreError::NotFound),
                status => {
                    let current =
                        CampaignStatus::parse(status).ok_or_else(|| unavailable("bad reply"))?;
                    Err(crate::domain::InvalidTransition {
                        current,
                        command: crate::domain::Command::Delete,
                    }
                    .into())
                }
            }
        })
        .await
    }

    async fn acquire_lease(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Fence>, StoreError> {
        let token = self.lease_op(id, owner, ttl, "take", None).await?;
        Ok((token > 0).then_some(Fence(token)))
    }

    async fn renew_leases(
        &self,
        owner: &str,
        leases: &[(CampaignId, Fence)],
        ttl: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let leases: Vec<(String, String)> = leases
            .iter()
            .map(|&(id, fence)| {
                let key = self.inner.keys.campaign(id).lease();
                (key, format!("{owner}|{}", fence.0))
            })
            .collect();
        self.io(move |inner| async move {
            // One script for many leases on one Redis (on the control connection), spaced so
            // that claims run between them; one a lease on a cluster, where keys live on many
            // slots.
            let (con, chunk, spacing) = match &inner.connections {
                Connections::Single(_) => {
                    let n_scripts = leases.len().div_ceil(RENEWALS_PER_SCRIPT).max(1);
                    let spacing = ttl / RENEWAL_SPREAD / n_scripts as u32;
                    let con = Connection::Single(inner.control.clone());
                    (con, RENEWALS_PER_SCRIPT, spacing)
                }
                Connections::Cluster(_) => (inner.connection().await?, 1, Duration::ZERO),
            };
            let ttl_ms = ttl.as_millis().max(1) as u64;
            let renewals = leases.chunks(chunk).zip(0u32..).map(|(chunk, i)| {
                let mut con = con.clone();
                let mut invocation = inner.scripts.renew_leases.prepare_invoke();
                invocation.arg(ttl_ms);
                for (key, value) in chunk {
                    invocation.key(key).arg(value);
                }
                async move {
                    let wait = spacing * i;
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    invocation.invoke_async::<Vec<i64>>(&mut con).await
                }
            });
            let renewed = futures_util::future::try_join_all(renewals)
                .await
                .map_err(unavailable)?;
            Ok(renewed
                .into_iter()
                .flatten()
                .map(|flag| flag == 1)
                .collect())
        })
        .await
    }

    async fn release_lease(
        &self,
        id: CampaignId,
        owner: &str,
        fence: Fence,
    ) -> Result<(), StoreError> {
        self.lease_op(id, owner, Duration::ZERO, "release", Some(fence))
            .await
            .map(drop)
    }

    async fn claim_due(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<ClaimBatch, StoreError> {
        if let Some(batch) = self.inner.answered(id, now, limit) {
            return Ok(batch);
        }
        self.io(move |inner| async move { inner.claim(id, fence, now, limit).await })
            .await
    }

    async fn record_outcomes(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        let outcomes = outcomes.to_vec();
        self.io(move |inner| async move { inner.record(id, &outcomes, now).await })
            .await
    }

    async fn release_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
    ) -> Result<(), StoreError> {
        self.io(move |inner| async move {
            let Some(sequence) = rules::contact_sequence(id, contact) else {
                return Ok(());
            };
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let _: i64 = inner
                .scripts
                .release
                .key(keys.meta())
                .key(keys.calls())
                .key(keys.inflight())
                .key(keys.retry())
                .key(keys.released())
                .arg(sequence)
                .arg(attempt)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn calls_in_flight(
        &self,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedCall>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let meta = inner.meta(&mut con, None, id).await?;
            let keys = inner.keys.campaign(id);
            // Scores are negated deadlines: those after now score below -now.
            let sequences: Vec<u32> = con
                .zrangebyscore(keys.inflight(), "-inf", format!("({}", -ms(now)))
                .await
                .map_err(unavailable)?;
            let mut calls = Vec::with_capacity(sequences.len());
            for sequence in sequences {
                let (record, state): (Option<String>, Option<String>) = redis::pipe()
                    .hget(keys.contact_bucket(sequence), sequence)
                    .hget(keys.calls_bucket(sequence), sequence)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                let (Some(record), Some(state)) = (record, state) else {
                    continue;
                };
                let contact_id = rules::contact_id(id, sequence);
                let contact = ContactRecord::decode(&record, Some(&state))
                    .and_then(|record| record.into_contact(contact_id, meta.campaign.status))?;
                let Some(call_id) = contact.call_id else {
                    continue;
                };
                let spec = &meta.campaign.spec;
                calls.push(ClaimedCall {
                    campaign_id: id,
                    contact_id,
                    call_id,
                    attempt: contact.attempts,
                    variables: contact.details.variables(),
                    phone: contact.details.phone,
                    agent_id: spec.agent_id.clone(),
                    caller_id: spec
                        .caller_id(u64::from(sequence), rand::random())
                        .map(str::to_owned),
                });
            }
            calls.sort_by_key(|call| call.contact_id);
            Ok(calls)
        })
        .await
    }

    /// Read in `SSCAN` pages between other commands: one `SMEMBERS` of 10 000 campaigns held
    /// Redis 3 ms, every keeper tick, and every claim queued behind it.
    async fn live_campaigns(&self) -> Result<Vec<CampaignId>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let (key, mut cursor) = (inner.keys.live(), 0u64);
            let mut ids = HashSet::new();
            loop {
                let (next, page): (u64, Vec<String>) = redis::cmd("SSCAN")
                    .arg(&key)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(LIVE_PAGE)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                // A member may come twice (the set was resized during the scan).
                ids.extend(page.iter().filter_map(|id| CampaignId::parse(id).ok()));
                if next == 0 {
                    return Ok(ids.into_iter().collect());
                }
                cursor = next;
            }
        })
        .await
    }

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

    async fn call_stats(&self, org: &OrgId, id: CampaignId) -> Result<CallStats, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            inner.meta(&mut con, Some(&org), id).await?;
            let fields: HashMap<String, i64> = con
                .hgetall(inner.keys.campaign(id).stats())
                .await
                .map_err(unavailable)?;
            let mut stats = CallStats::default();
            for (field, value) in fields {
                let value = value.max(0) as u64;
                if field == "dur" {
                    stats.total_duration_secs = value;
                } else if let Some(outcome) = field.strip_prefix("o:").and_then(DialOutcome::parse)
                {
                    stats.add(outcome, value);
                } else if let Some(hour) =
                    field.strip_prefix("h:").and_then(|hour| hour.parse().ok())
                {
                    stats.by_hour.insert(hour, value);
                }
            }
            Ok(stats)
        })
        .await
    }

    async fn index_calls(&self, calls: &[(CallId, CallRef)]) -> Result<(), StoreError> {
        let entries: Vec<(CallId, String)> = calls
            .iter()
            .map(|(call, at)| {
                let value = format!("{}:{}:{}", at.campaign_id, at.contact_id, at.attempt);
                (*call, value)
            })
            .collect();
        self.io(move |inner| async move {
            let keep = inner.call_deadline.0.to_std().unwrap_or_default()
                + super::memory::CALL_INDEX_MARGIN;
            let writes = entries.into_iter().map(|(call, value)| {
                redis::cmd("PSETEX")
                    .arg(inner.keys.call(call))
                    .arg(keep.as_millis() as u64)
                    .arg(value)
                    .clone()
            });
            let mut con = inner.connection().await?;
            let _: Vec<Value> = query_each(&mut con, writes).await?;
            Ok(())
        })
        .await
    }

    async fn find_call(&self, call: CallId) -> Result<Option<CallRef>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let value: Option<String> =
                con.get(inner.keys.call(call)).await.map_err(unavailable)?;
            let Some(value) = value else {
                return Ok(None);
            };
            let mut parts = value.split(':');
            let parsed = (|| {
                Some(CallRef {
                    campaign_id: CampaignId::parse(parts.next()?).ok()?,
                    contact_id: ContactId::parse(parts.next()?).ok()?,
                    attempt: parts.next()?.parse().ok()?,
                })
            })();
            parsed
                .map(Some)
                .ok_or_else(|| unavailable(format!("malformed call index entry `{value}`")))
        })
        .await
    }

    async fn campaign_events(
        &self,
        id: CampaignId,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let texts: Vec<String> = con
                .lrange(keys.events(), 0, limit.max(1) as isize - 1)
                .await
                .map_err(unavailable)?;
            let records = texts
                .iter()
                .map(|text| records::EventRecord::decode(text))
                .collect::<Result<Vec<_>, _>>()?;
            // A started call's event names its number: read from its contact's details, all
            // in one round trip.
            let started: Vec<u32> = records
                .iter()
                .filter_map(records::EventRecord::started_sequence)
                .collect();
            let mut details: Vec<Option<String>> = Vec::new();
            if !started.is_empty() {
                let mut pipe = redis::pipe();
                for &sequence in &started {
                    pipe.hget(keys.contact_bucket(sequence), sequence);
                }
                details = pipe.query_async(&mut con).await.map_err(unavailable)?;
            }
            let mut details = details.into_iter();
            let mut events = Vec::with_capacity(records.len());
            for record in records {
                let phone = match record.started_sequence() {
                    Some(_) => {
                        let text = details.next().flatten().ok_or_else(|| {
                            StoreError::Corrupt("event of a contact that is gone".to_owned())
                        })?;
                        Some(ContactRecord::decode(&text, None)?.phone()?)
                    }
                    None => None,
                };
                events.push(record.into_stored(id, phone)?);
            }
            Ok(events)
        })
        .await
    }

    async fn relay_events(
        &self,
        org: &OrgId,
        id: CampaignId,
        events: Vec<RelayedEvent>,
        limits: OutboxLimits,
        now: DateTime<Utc>,
    ) -> Result<Relayed, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let Some(last) = events.last().map(|event| event.seq) else {
                return Ok(Relayed::default());
            };
            let mut con = inner.connection().await?;
            let keys = inner.keys.outbox(&org);
            let mut invocation = inner.scripts.relay.prepare_invoke();
            for key in [
                &keys.outbox,
                &keys.seq,
                &keys.relayed,
                &keys.dead,
                &keys.dead_letters,
                &keys.dead_seq,
            ] {
                invocation.key(key);
            }
            invocation
                .arg(id.to_string())
                .arg(limits.max_outbox)
                .arg(limits.max_dead_letters)
                .arg(ms(now));
            for event in events {
                invocation
                    .arg(event.seq)
                    .arg(event.id)
                    .arg(ms(event.at))
                    .arg(event.body);
            }
            let overflowed: u64 = invocation
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            // Then dropped from the campaign's outbox: a crash before this repeats the move
            // above, which skips what it moved.
            let left: u64 = inner
                .scripts
                .events_trim
                .key(inner.keys.campaign(id).events())
                .arg(last)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(Relayed { left, overflowed })
        })
        .await
    }

    async fn outbox(&self, org: &OrgId, limit: u32) -> Result<(Vec<OutboxEntry>, u64), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let (members, depth): (Vec<Vec<u8>>, u64) = redis::pipe()
                .zrange(&keys.outbox, 0, limit.max(1) as isize - 1)
                .zcard(&keys.outbox)
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            let entries = members
                .iter()
                .map(|member| records::outbox_entry(member))
                .collect::<Result<_, _>>()?;
            Ok((entries, depth))
        })
        .await
    }

    async fn ack_outbox(&self, org: &OrgId, seq: u64) -> Result<(), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let _: u64 = con
                .zrembyscore(&keys.outbox, "-inf", seq)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn dead_letter(
        &self,
        org: &OrgId,
        seq: u64,
        reason: &str,
        failed_at: DateTime<Utc>,
        limits: OutboxLimits,
    ) -> Result<(), StoreError> {
        let (org, reason) = (org.clone(), reason.replace('\n', " "));
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let forgotten: u64 = inner
                .scripts
                .dead_letter
                .key(&keys.outbox)
                .key(&keys.seq)
                .key(&keys.dead)
                .key(&keys.dead_letters)
                .key(&keys.dead_seq)
                .arg("bury")
                .arg(seq)
                .arg(reason)
                .arg(ms(failed_at))
                .arg(limits.max_dead_letters)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            metrics::counter!(WEBHOOK_DEAD_LETTERS).increment(1);
            metrics::counter!(WEBHOOK_DEAD_LETTERS_DROPPED).increment(forgotten);
            Ok(())
        })
        .await
    }

    async fn dead_letters(
        &self,
        org: &OrgId,
        page: Page,
    ) -> Result<Listing<DeadLetter>, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let total: u64 = con.zcard(&keys.dead).await.map_err(unavailable)?;
            let first = page.offset.min(total) as isize;
            let ids: Vec<String> = con
                .zrange(&keys.dead, first, first + page.limit as isize - 1)
                .await
                .map_err(unavailable)?;
            if ids.is_empty() {
                return Ok(Listing {
                    items: Vec::new(),
                    total,
                });
            }
            let letters: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
                .arg(&keys.dead_letters)
                .arg(&ids)
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            let mut items = Vec::with_capacity(ids.len());
            for (id, letter) in ids.into_iter().zip(letters) {
                let Some(letter) = letter else { continue };
                match records::dead_letter(id.clone(), &letter) {
                    Ok(letter) => items.push(letter),
                    Err(error) => super::skip_unreadable("dead letter", id, &error),
                }
            }
            Ok(Listing { items, total })
        })
        .await
    }

    async fn replay_dead_letters(
        &self,
        org: &OrgId,
        ids: Option<Vec<String>>,
    ) -> Result<u64, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let run = |ids: &[String]| {
                let mut invocation = inner.scripts.dead_letter.prepare_invoke();
                invocation
                    .key(&keys.outbox)
                    .key(&keys.seq)
                    .key(&keys.dead)
                    .key(&keys.dead_letters)
                    .key(&keys.dead_seq)
                    .arg("replay");
                for id in ids {
                    invocation.arg(id);
                }
                invocation
            };
            let mut n_replayed = 0u64;
            match ids {
                // A thousand a script, however many are asked for.
                Some(ids) => {
                    for chunk in ids.chunks(1_000) {
                        let moved: u64 = run(chunk)
                            .invoke_async(&mut con)
                            .await
                            .map_err(unavailable)?;
                        n_replayed += moved;
                    }
                }
                None => loop {
                    let moved: u64 = run(&[]).invoke_async(&mut con).await.map_err(unavailable)?;
                    n_replayed += moved;
                    if moved == 0 {
                        break;
                    }
                },
            }
            Ok(n_replayed)
        })
        .await
    }

    async fn unlist(&self, id: CampaignId) -> Result<(), StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let _: () = con
                .srem(inner.keys.live(), id.to_string())
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    fn record_events_for(&self, orgs: HashSet<OrgId>) {
        *self.inner.event_orgs.write() = orgs;
    }

    async fn begin_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
    ) -> Result<Idempotency, StoreError> {
        let key = self.inner.keys.idempotency_base(org) + &Keys::idempotency_digest(key);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let pending = format!("{}|", hex::encode(fingerprint));
            let options = redis::SetOptions::default()
                .conditional_set(redis::ExistenceCheck::NX)
                .with_expiration(redis::SetExpiry::PX(
                    IDEMPOTENCY_PENDING_TTL.as_millis() as u64
                ));
            let reserved: Option<String> = con
                .set_options(&key, &pending, options)
                .await
                .map_err(unavailable)?;
            if reserved.is_some() {
                return Ok(Idempotency::Started);
            }
            let stored: Option<Vec<u8>> = con.get(&key).await.map_err(unavailable)?;
            // Expired between the two commands: the caller may simply try again.
            let Some(stored) = stored else {
                return Ok(Idempotency::InProgress);
            };
            Ok(read_reservation(&stored, &fingerprint))
        })
        .await
    }

    async fn finish_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let digest = Keys::idempotency_digest(key);
        let base = self.inner.keys.idempotency_base(org);
        let (index, bytes) = self.inner.keys.idempotency_index(org);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let limits = inner.idempotency;
            let too_large = response.body.len() > limits.max_response_bytes;
            // A response too large to keep leaves its marker, status 0, in its place.
            let status = if too_large { 0 } else { response.status };
            let mut value = format!("{}|{status}|", hex::encode(fingerprint)).into_bytes();
            if !too_large {
                value.extend_from_slice(&response.body);
            }
            let n_forgotten: i64 = inner
                .scripts
                .idempotency_keep
                .key(base.clone() + &digest)
                .key(index)
                .key(bytes)
                .key(base)
                .arg(&digest)
                .arg(value)
                .arg(IDEMPOTENCY_TTL.as_millis() as u64)
                .arg(limits.max_bytes_per_org)
                .arg(u8::from(too_large))
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            if too_large {
                metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "too_large").increment(1);
            }
            if n_forgotten > 0 {
                metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "budget")
                    .increment(n_forgotten as u64);
            }
            Ok(())
        })
        .await
    }

    async fn abandon_idempotent(&self, org: &OrgId, key: &str) -> Result<(), StoreError> {
        let key = self.inner.keys.idempotency_base(org) + &Keys::idempotency_digest(key);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let stored: Option<Vec<u8>> = con.get(&key).await.map_err(unavailable)?;
            // Only a reservation without a response is forgotten.
            if stored.is_some_and(|stored| stored.ends_with(b"|") && stored.len() == 65) {
                let _: u64 = con.del(&key).await.map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn hold_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (key, owner) = (self.inner.keys.lock(name), owner.to_owned());
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let held: u8 = inner
                .scripts
                .hold
                .key(key)
                .arg(owner)
                .arg(ttl.as_millis() as u64)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(held == 1)
        })
        .await
    }

    async fn heartbeat(
        &self,
        node: &str,
        n_held: usize,
        ttl: Duration,
    ) -> Result<Vec<NodeBeat>, StoreError> {
        let node = node.to_owned();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let alive: Vec<String> = inner
                .scripts
                .heartbeat
                .key(inner.keys.nodes())
                .arg(node)
                .arg(n_held)
                .arg(ttl.as_millis() as u64)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(alive
                .chunks(2)
                .filter_map(|pair| match pair {
                    [node, held] => Some(NodeBeat {
                        node: node.clone(),
                        n_held: held.parse().ok()?,
                    }),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    async fn unleased(&self, ids: &[CampaignId]) -> Result<Vec<CampaignId>, StoreError> {
        let ids = ids.to_vec();
        self.io(move |inner| async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let reads = ids.iter().map(|&id| {
                redis::cmd("EXISTS")
                    .arg(inner.keys.campaign(id).lease())
                    .clone()
            });
            let mut con = inner.connection().await?;
            let leased: Vec<bool> = query_each(&mut con, reads).await?;
            Ok(ids
                .into_iter()
                .zip(leased)
                .filter_map(|(id, leased)| (!leased).then_some(id))
                .collect())
        })
        .await
    }

    async fn lease_holder(&self, id: CampaignId) -> Result<Option<String>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let holder: Option<String> = con
                .get(inner.keys.campaign(id).lease())
                .await
                .map_err(unavailable)?;
            // "<owner>|<token>"
            Ok(holder.and_then(|holder| Some(holder.rsplit_once('|')?.0.to_owned())))
        })
        .await
    }

    async fn publish(&self, channel: &str, message: &str) -> Result<usize, StoreError> {
        let (channel, message) = (self.inner.keys.channel(channel), message.to_owned());
        self.io(move |inner| async move {
            let mut con = Connection::Single(inner.control.clone());
            con.publish(channel, message).await.map_err(unavailable)
        })
        .await
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let channel = self.inner.keys.channel(channel);
        let client = self.inner.client.clone();
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let subscribed = {
            let (client, channel) = (client.clone(), channel.clone());
            self.io(move |_| async move { subscribed(&client, &channel).await })
                .await?
        };
        self.runtime
            .0
            .as_ref()
            .expect("the runtime lives as long as the store")
            .spawn(forward(subscribed, client, channel, sender));
        Ok(receiver)
    }

    async fn take_tokens(&self, name: &str, rate: Rate, wanted: u32) -> Result<Tokens, StoreError> {
        let key = self.inner.keys.limiter(name);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let (granted, wait_us): (u32, u64) = inner
                .scripts
                .gcra
                .key(key)
                .arg(rate.interval_us())
                .arg(rate.burst)
                .arg(wanted)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(Tokens {
                granted,
                wait: Duration::from_micros(wait_us),
            })
        })
        .await
    }
}

/// Reads a stored idempotency value: `<fingerprint hex>|` while the request runs, then
/// `<fingerprint hex>|<status>|<body>`.
fn read_reservation(stored: &[u8], fingerprint: &[u8; 32]) -> Idempotency {
    let expected = hex::encode(fingerprint);
    if stored.get(..64) != Some(expected.as_bytes()) {
        return Idempotency::Conflict;
    }
    let rest = &stored[64..];
    let rest = rest.strip_prefix(b"|").unwrap_or(rest);
    let Some(bar) = rest.iter().position(|&byte| byte == b'|') else {
        return Idempotency::InProgress;
    };
    let status = std::str::from_utf8(&rest[..bar])
        .ok()
        .and_then(|status| status.parse().ok());
    match status {
        Some(0) => Idempotency::NotKept,
        Some(status) => Idempotency::Replay(StoredResponse {
            status,
            body: rest[bar + 1..].to_vec(),
        }),
        None => Idempotency::InProgress,
    }
}

impl Inner {
    /// Records outcomes in one script; the retry due time is computed here once (it needs the
    /// tz database) and used by the script for whichever outcome is retried.
    async fn record(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut con = self.connection().await?;
        let (meta, pacing) = self.cached(&mut con, id, now).await?;
        let schedule = &meta.campaign.spec.schedule;
        let not_before = now + chrono::Duration::minutes(i64::from(schedule.retry.delay_minutes));
        let retry_due = schedule.slot_at_or_after(&pacing, not_before);
        let keys = self.keys.campaign(id);
        let mut invocation = Run::new(outcomes.len() as u32);
        invocation
            .key(keys.meta())
            .key(keys.calls())
            .key(keys.inflight())
            .key(keys.retry())
            .key(keys.released())
            .key(keys.stats())
            .key(keys.events())
            .arg(ms(now))
            .arg(u8::from(schedule.retry.enabled))
            .arg(schedule.retry.max_retries)
            .arg(ms(retry_due))
            .arg(unix_hour(now))
            .arg(u8::from(self.records_events(&meta.campaign.org)));
        let mut known = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            // An id of another campaign names no contact here: a duplicate, by definition.
            let Some(sequence) = rules::contact_sequence(id, outcome.contact) else {
                known.push(false);
                continue;
            };
            known.push(true);
            invocation
                .arg(sequence)
                .arg(outcome.attempt)
                .arg(outcome.result.outcome.as_str())
                .arg(outcome.result.duration_secs);
        }
        let reply = self.scripts.record.run(con.clone(), invocation).await?;
        if text(reply.first()) == "NOT_FOUND" {
            return Err(StoreError::NotFound);
        }
        let status =
            CampaignStatus::parse(&text(reply.first())).ok_or_else(|| unavailable("bad reply"))?;
        let in_flight = number(reply.get(1)) as u32;
        let events = number(reply.get(6)).max(0) as u64;
        if status.is_terminal() && in_flight == 0 && events == 0 {
            let _: () = con
                .srem(self.keys.live(), id.to_string())
                .await
                .map_err(unavailable)?;
        }
        let after = AfterRecord {
            now,
            version: text(reply.get(2)),
            status,
            queue: Queue::from_reply(&reply),
            events,
        };
        self.recorded.lock().insert(id, after);
        let mut flags = reply.iter().skip(7);
        Ok(known
            .into_iter()
            .map(|known| match known.then(|| number(flags.next())) {
                Some(1) => Recorded::Applied { status, in_flight },
                _ => Recorded::Duplicate,
            })
            .collect())
    }

    async fn claim(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<ClaimBatch, StoreError> {
        let mut con = self.connection().await?;
        let keys = self.keys.campaign(id);
        let recorded = self.recorded.lock().remove(&id);
        for _ in 0..ATTEMPTS {
            let (meta, mut pacing) = self.cached(&mut con, id, now).await?;
            let campaign = &meta.campaign;
            let schedule = &campaign.spec.schedule;
            let (n_wanted, next_slot) = wanted(&meta, &pacing, now, limit);
            if let Some(batch) = recorded
                .as_ref()
                .filter(|_| n_wanted == 0)
                .and_then(|after| after.answer(&meta, &pacing, now))
            {
                return Ok(batch);
            }
            let today = local_date(schedule.timezone, now);
            let call_ids: Vec<CallId> = (0..n_wanted).map(|_| CallId::random()).collect();
            let mut invocation = Run::new(n_wanted);
            for key in [
                keys.meta(),
                keys.released(),
                keys.retry(),
                keys.inflight(),
                keys.contacts(),
                keys.calls(),
                keys.events(),
            ] {
                invocation.key(key);
            }
            invocation
                .arg(fence.0)
                .arg(&meta.version)
                .arg(ms(now))
                .arg(n_wanted)
                .arg(schedule.max_concurrent_calls)
                .arg(schedule.max_calls_per_day.unwrap_or(0))
                .arg(next_slot.map(ms).unwrap_or(0))
                .arg(ms(now + self.call_deadline.0))
                .arg(today.to_string())
                .arg(u8::from(self.records_events(&campaign.org)));
            for call_id in &call_ids {
                invocation.arg(call_id.to_string());
            }
            let reply = self.scripts.claim.run(con.clone(), invocation).await?;
            match text(reply.first()).as_str() {
                "STALE" => {
                    self.forget(id);
                    return Err(StoreError::StaleLease);
                }
                "RETRY" => {
                    self.forget(id);
                    continue;
                }
                _ => {}
            }
            let status = CampaignStatus::parse(&text(reply.first()))
                .ok_or_else(|| unavailable("bad reply"))?;
            let queue = Queue::from_reply(&reply);
            let in_flight = queue.in_flight;
            let n_claims_before = number(reply.get(2)) as u64;
            pacing = PacingState {
                day: Some(today),
                used: number(reply.get(6)) as u32,
                next_slot_at: text(reply.get(7)).parse::<i64>().ok().map(records::instant),
            };
            if status == campaign.status {
                self.cache.lock().insert(id, (meta.clone(), pacing));
            } else {
                // Activated or completed: the version moved.
                self.forget(id);
            }
            let events = number(reply.get(8)).max(0) as u64;
            let mut calls = Vec::new();
            for triple in reply[9..].chunks(3) {
                let sequence = number(triple.first()) as u32;
                let record =
                    ContactRecord::decode(&text(triple.get(1)), Some(&text(triple.get(2))))?;
                let contact = record.into_contact(rules::contact_id(id, sequence), status)?;
                let index = n_claims_before + calls.len() as u64;
                calls.push(ClaimedCall {
                    campaign_id: id,
                    contact_id: contact.id,
                    call_id: contact
                        .call_id
                        .ok_or_else(|| unavailable("claimed contact without call id"))?,
                    attempt: contact.attempts,
                    variables: contact.details.variables(),
                    phone: contact.details.phone,
                    agent_id: campaign.spec.agent_id.clone(),
                    caller_id: campaign
                        .spec
                        .caller_id(index, rand::random())
                        .map(str::to_owned),
                });
            }
            if status.is_terminal() && in_flight == 0 && events == 0 {
                let _: () = con
                    .srem(self.keys.live(), id.to_string())
                    .await
                    .map_err(unavailable)?;
            }
            return Ok(ClaimBatch {
                org: campaign.org.clone(),
                calls,
                status,
                wake_at: queue.wake_at(campaign, status, &pacing, now),
                in_flight,
                events,
            });
        }
        Err(unavailable("the campaign kept changing during the claim"))
    }
}
