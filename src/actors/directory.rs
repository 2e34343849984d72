//! The directory of the campaign actors running on this node: finds the actor of a campaign, or
//! starts it on one of the node's arbiters, so that every command for a campaign passes through
//! the one actor that dispatches it; and routes outcomes and notes to them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use actix::prelude::*;
use futures_util::future::join_all;
use parking_lot::Mutex;
use rand::seq::SliceRandom;

use super::campaign::{
    CallFinished, CampaignOp, Dispatch, HandOver, LeaseLost, OpResult, Routes, RunOp, Settle,
};
use super::services::NodeServices;
use super::{CampaignActor, DialerPool};
use crate::clock::Clock;
use crate::cluster::{ControlBus, LeaseBook, Note};
use crate::dialer::{CallReport, CarrierGate, Dialer};
use crate::domain::{CampaignId, OrgId};
use crate::store::{CampaignStore, OutboxLimits, StoreError};
use crate::telemetry::ACTOR_RESTARTS;
use crate::webhooks::Webhooks;

/// Finds or starts the actor of a campaign. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// What the actors work with (the directory's own work uses them too).
    services: Arc<NodeServices>,
    /// One arbiter (thread) per core: actors started from one place would share one thread.
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
    /// This node's name in leases.
    node_id: String,
    /// Notes to and from the other nodes.
    bus: Arc<ControlBus>,
    /// The campaign actors running on this node.
    running: Mutex<HashMap<CampaignId, Addr<CampaignActor>>>,
    /// Stopped: the keeper renews nothing more.
    stopped: AtomicBool,
    /// Campaigns whose actor panicked lately: how many times, and when last.
    crashes: Mutex<HashMap<CampaignId, (u32, std::time::Instant)>>,
    /// Campaigns with nothing to do for a while, whose actors stopped while this node keeps
    /// their leases: each is woken (a new actor started) a margin before its next claim, or
    /// when a command, a note or an outcome comes for it (`None`: only then, e.g. paused).
    parked: Mutex<HashMap<CampaignId, Option<chrono::DateTime<chrono::Utc>>>>,
    /// What the keeper saw when it last read the whole of `live`: the nodes alive, and the
    /// ticks since.
    last_scan: Mutex<(Vec<String>, u32)>,
}

/// The keeper reads the whole of `live` at least every this many ticks, whatever the counts
/// say (a lease held on a campaign no longer live could hide a free one).
const FULL_SCAN_EVERY: u32 = 6;

/// A campaign whose actor panicked more than this many times within [`CRASH_MEMORY`] is given
/// up by this node (its lease released, not taken back for two TTLs): another node, or this one
/// later, tries it again.
const CRASHES_BEFORE_GIVING_UP: u32 = 3;
/// How long a panic counts against its campaign.
const CRASH_MEMORY: std::time::Duration = std::time::Duration::from_secs(600);

impl Routes for Directory {
    fn report(&self, report: CallReport) {
        Directory::report(self, report);
    }

    fn resend(&self, report: CallReport, n_sent: u32) {
        self.send_report(report, n_sent);
    }

    fn wake_owner(&self, id: CampaignId) {
        let bus = self.inner.bus.clone();
        actix_rt::spawn(async move {
            if let Err(error) = bus.wake(id).await {
                tracing::warn!(campaign = %id, %error, "owner not woken");
            }
        });
    }

    fn park(
        &self,
        id: CampaignId,
        actor: &Addr<CampaignActor>,
        wake_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        // At once, not when the actor has stopped: a command or a wake meanwhile starts a new
        // actor rather than reach the one stopping (the running one's lock first, as `actor`).
        let mut running = self.inner.running.lock();
        if running.get(&id) == Some(actor) {
            running.remove(&id);
            self.inner.parked.lock().insert(id, wake_at);
            self.inner.services.leases.set_parked(id, true);
            self.inner.services.store.evict(id);
        }
    }

    fn stopped(&self, id: CampaignId, actor: &Addr<CampaignActor>, panicked: bool) {
        self.forget(id, actor);
        if panicked {
            self.recover(id);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}

/// Dispatch steps of this node's campaigns that may be at their store work (record, lease,
/// claim) at once; the others wait for a turn before they start it. When many campaigns fall due
/// together (10 000 at a schedule's start), the store takes them a batch at a time anyway, and
/// a step waiting here holds only itself, not its requests, their tasks and buffers
/// (BENCHMARKS.md, *Footprint*).
pub const STEPS_AT_ONCE: usize = 512;

/// A node name for a node that was not given one.
pub fn generated_node_id() -> String {
    format!("node-{}", uuid::Uuid::new_v4().simple())
}

/// How many times a command or an outcome is sent when it meets an actor that was just stopping.
const SEND_ATTEMPTS: u32 = 5;

/// How a node dispatches: threads, dialer actors, claim size, and the shared services.
#[derive(Debug, Clone)]
pub struct DirectoryOptions {
    /// Arbiters (threads) for campaign and dialer actors.
    pub n_arbiters: usize,
    pub n_dialers: usize,
    /// Most contacts one campaign claims in one step.
    pub claim_limit: u32,
    /// The carrier limit (`None`: no limit).
    pub gate: Option<Arc<CarrierGate>>,
    /// Outbound webhooks (`None`: no organisation has any).
    pub webhooks: Option<Arc<Webhooks>>,
    /// This node's name in leases and locks (`None`: a generated one).
    pub node_id: Option<String>,
    /// How long a campaign lease lasts without renewal.
    pub lease_ttl: std::time::Duration,
    /// How far ahead a claim reaches, and how long before its first slot it runs (claim ahead,
    /// place on time; a zero horizon claims only what is due).
    pub claim_ahead: std::time::Duration,
    pub claim_lead: std::time::Duration,
}

impl Default for DirectoryOptions {
    fn default() -> Self {
        Self {
            n_arbiters: 2,
            n_dialers: 4,
            claim_limit: 100,
            gate: None,
            webhooks: None,
            node_id: None,
            lease_ttl: std::time::Duration::from_secs(5),
            claim_ahead: std::time::Duration::from_secs(6),
            claim_lead: std::time::Duration::from_millis(200),
        }
    }
}

impl Directory {
    pub fn new(
        store: Arc<dyn CampaignStore>,
        clock: Arc<dyn Clock>,
        dialer: Arc<dyn Dialer>,
        options: DirectoryOptions,
    ) -> Self {
        let arbiters: Vec<Arbiter> = (0..options.n_arbiters.max(1))
            .map(|_| Arbiter::new())
            .collect();
        let handles: Vec<ArbiterHandle> = arbiters.iter().map(Arbiter::handle).collect();
        let dialers = Arc::new(DialerPool::start(dialer, options.n_dialers, &handles));
        let gate = options
            .gate
            .unwrap_or_else(|| Arc::new(CarrierGate::unlimited(store.clone())));
        let webhooks = options.webhooks.unwrap_or_else(|| {
            let none = HashMap::new();
            Arc::new(Webhooks::new(
                store.clone(),
                store.clone(),
                none,
                OutboxLimits::default(),
            ))
        });
        let node_id = options.node_id.unwrap_or_else(generated_node_id);
        let leases = Arc::new(LeaseBook::new(store.clone(), &node_id, options.lease_ttl));
        let bus = Arc::new(ControlBus::new(
            store.clone(),
            store.clone(),
            leases.owner(),
        ));
        let services = Arc::new(NodeServices {
            store,
            clock,
            dialers,
            gate,
            webhooks,
            leases,
            turns: tokio::sync::Semaphore::new(STEPS_AT_ONCE),
            suppression: Arc::default(),
            claim_limit: options.claim_limit.max(1),
            claim_ahead: chrono::Duration::from_std(options.claim_ahead)
                .unwrap_or_else(|_| chrono::Duration::zero()),
            claim_lead: chrono::Duration::from_std(options.claim_lead.min(options.claim_ahead))
                .unwrap_or_else(|_| chrono::Duration::zero()),
            draining: AtomicBool::new(false),
        });
        Self {
            inner: Arc::new(Inner {
                services,
                arbiters,
                next_arbiter: AtomicUsize::new(0),
                bus,
                node_id,
                running: Mutex::new(HashMap::new()),
                stopped: AtomicBool::new(false),
                crashes: Mutex::new(HashMap::new()),
                parked: Mutex::new(HashMap::new()),
                last_scan: Mutex::new((Vec::new(), 0)),
            }),
        }
    }

    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// The actor of `id`, started if it is not running.
    fn actor(&self, id: CampaignId) -> Addr<CampaignActor> {
        let mut running = self.inner.running.lock();
        if let Some(address) = running.get(&id).filter(|address| address.connected()) {
            return address.clone();
        }
        // A parked campaign is woken: its new actor reads it from the store.
        if self.inner.parked.lock().remove(&id).is_some() {
            self.inner.services.leases.set_parked(id, false);
        }
        let index = self.inner.next_arbiter.fetch_add(1, Ordering::Relaxed);
        let arbiter = self.inner.arbiters[index % self.inner.arbiters.len()].handle();
        let services = self.inner.services.clone();
        let routes: Arc<dyn Routes> = Arc::new(self.clone());
        let address = CampaignActor::start_in_arbiter(&arbiter, move |_| {
            CampaignActor::new(id, services, routes)
        });
        running.insert(id, address.clone());
        address
    }

    /// Called by an actor that stopped: forgets it unless a newer one took its place, and gives
    /// its lease up so that another node can take the campaign at once.
    fn forget(&self, id: CampaignId, address: &Addr<CampaignActor>) {
        let mut running = self.inner.running.lock();
        if running.get(&id) == Some(address) {
            running.remove(&id);
            let leases = self.inner.services.leases.clone();
            actix_rt::spawn(async move { leases.release(id).await });
        }
        // (A parked campaign's actor left `running` when it parked: its lease stays.)
    }

    /// Called by an actor that stopped because one of its steps panicked (its lease is being
    /// released): counted, then, after a pause that grows with each panic, the campaign gets a
    /// new actor; after [`CRASHES_BEFORE_GIVING_UP`] panics this node leaves it alone for two
    /// TTLs instead, so that another node takes it.
    fn recover(&self, id: CampaignId) {
        if self.inner.stopped.load(Ordering::Relaxed) {
            return;
        }
        metrics::counter!(ACTOR_RESTARTS, "actor" => "campaign").increment(1);
        let n_crashes = {
            let now = std::time::Instant::now();
            let mut crashes = self.inner.crashes.lock();
            crashes.retain(|_, (_, last)| now.duration_since(*last) < CRASH_MEMORY);
            let (count, last) = crashes.entry(id).or_insert((0, now));
            *count += 1;
            *last = now;
            *count
        };
        let give_up = n_crashes > CRASHES_BEFORE_GIVING_UP;
        tracing::error!(
            campaign = %id,
            n_crashes,
            "campaign actor stopped by a panic; {}",
            if give_up {
                "leaving the campaign to other nodes for a while"
            } else {
                "starting it again"
            }
        );
        if give_up {
            self.inner.services.leases.cool(id);
            return;
        }
        let pause = std::time::Duration::from_millis(100 << (n_crashes - 1).min(8));
        let directory = self.clone();
        actix_rt::spawn(async move {
            tokio::time::sleep(pause).await;
            if !directory.inner.stopped.load(Ordering::Relaxed) {
                directory.wake(id);
            }
        });
    }

    /// Every third of the lease TTL until the node stops: renews this node's leases (an actor
    /// whose lease was lost stops), beats the node's heart and balances. Runs on the current
    /// runtime.
    pub fn start_keeper(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let directory = self.clone();
        actix_rt::spawn(async move {
            let mut tick = tokio::time::interval(directory.inner.services.leases.renew_every());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
                if directory.inner.stopped.load(Ordering::Relaxed) {
                    return;
                }
                for id in directory.inner.services.leases.renew_all().await {
                    directory.inner.parked.lock().remove(&id);
                    let actor = directory.inner.running.lock().get(&id).cloned();
                    if let Some(actor) = actor {
                        actor.do_send(LeaseLost);
                    }
                }
                directory.wake_parked();
                if directory.is_draining() {
                    continue;
                }
                if let Err(error) = directory.balance().await {
                    tracing::warn!(%error, "balancing skipped");
                }
            }
        });
    }

    /// Runs an operator's command through the campaign's actor.
    pub async fn run(&self, org: &OrgId, id: CampaignId, op: CampaignOp) -> OpResult {
        // Do not start actors for campaigns that do not exist or belong to someone else; a running
        // actor's store step checks the organisation itself, so the read is skipped then.
        if !self.is_running(id) {
            self.inner.services.store.campaign(org, id).await?;
        }
        for _ in 0..SEND_ATTEMPTS {
            let message = RunOp {
                org: org.clone(),
                op: op.clone(),
            };
            match self.actor(id).send(message).await {
                Ok(result) => {
                    let campaign = result?;
                    // Committed. If another node dispatches the campaign, it settles first.
                    if !self.inner.services.leases.holds(id) {
                        let poll = self.inner.services.leases.renew_every();
                        self.inner.bus.settle(id, poll).await?;
                    }
                    return Ok(campaign);
                }
                Err(_stopped) => {
                    self.forget_disconnected(id);
                    // An actor stops at once when its campaign is gone (deleted since it was
                    // found running): that is a 404, not a dispatcher that does not answer.
                    self.inner.services.store.campaign(org, id).await?;
                }
            }
        }
        Err(StoreError::Unavailable(
            "the campaign's dispatcher did not answer".to_owned(),
        ))
    }

    /// After do-not-call entries of `org` were committed: waits until no step of `org` that may
    /// have looked its numbers up before them is still requesting calls, on this node and on
    /// every other node alive. From then on, no dial request to a listed number starts.
    pub async fn settle_suppression(&self, org: &OrgId) -> Result<(), StoreError> {
        let services = &self.inner.services;
        services.suppression.settle(org).await;
        let leases = &services.leases;
        let nodes: Vec<String> = services
            .store
            .heartbeat(leases.owner(), leases.n_held(), leases.ttl())
            .await?
            .into_iter()
            .map(|beat| beat.node)
            .collect();
        self.inner
            .bus
            .settle_org(org, &nodes, leases.renew_every())
            .await
    }

    /// The nodes alive (this one included) and how many leases each holds, from this node's
    /// heartbeat, sent now.
    pub async fn nodes(&self) -> Result<Vec<crate::store::NodeBeat>, StoreError> {
        let leases = &self.inner.services.leases;
        self.inner
            .services
            .store
            .heartbeat(leases.owner(), leases.n_held(), leases.ttl())
            .await
    }

    fn is_running(&self, id: CampaignId) -> bool {
        self.inner
            .running
            .lock()
            .get(&id)
            .is_some_and(Addr::connected)
    }

    fn forget_disconnected(&self, id: CampaignId) {
        let mut running = self.inner.running.lock();
        if running.get(&id).is_some_and(|address| !address.connected()) {
            running.remove(&id);
        }
    }

    /// Hands an outcome reported outside a dialer (a provider's call event) to the actor of its
    /// campaign, which records it at its next step (a second report of an attempt is a no-op).
    pub fn report(&self, report: CallReport) {
        self.send_report(report, 0);
    }

    /// Sends `report` (sent `n_sent` times before) to the actor of its campaign. One that meets
    /// an actor as it stops comes back here when the actor's mailbox goes (`CallFinished`'s
    /// drop), and goes to the next actor; a stopped node keeps none.
    fn send_report(&self, report: CallReport, n_sent: u32) {
        if self.inner.stopped.load(Ordering::Relaxed) {
            return;
        }
        if n_sent >= SEND_ATTEMPTS {
            tracing::warn!(campaign = %report.campaign_id, "outcome not delivered: no actor took it");
            return;
        }
        let actor = self.actor(report.campaign_id);
        actor.do_send(CallFinished::new(
            report,
            Arc::new(self.clone()),
            n_sent + 1,
        ));
    }

    /// Listens to the notes of other nodes until the node stops: settles a campaign when asked
    /// (its actor's current step finishes, then it steps again on the store's new state) and
    /// passes answers on. Runs on the current runtime.
    pub async fn start_control(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), StoreError> {
        let mut notes = self.inner.bus.listen().await?;
        let directory = self.clone();
        actix_rt::spawn(async move {
            loop {
                let note = tokio::select! {
                    note = notes.recv() => note,
                    _ = stop.wait_for(|stopped| *stopped) => return,
                };
                let Some(note) = note else { return };
                directory.on_note(note);
            }
        });
        Ok(())
    }

    fn on_note(&self, note: Note) {
        match note {
            Note::Settle {
                campaign,
                request,
                reply_to,
            } => {
                let actor = self.running_actor(campaign);
                // A parked campaign has nothing in hand: the answer goes at once, and its new
                // actor steps on the new state (a resume, an edit).
                if actor.is_none() && self.is_parked(campaign) {
                    self.wake(campaign);
                }
                let bus = self.inner.bus.clone();
                actix_rt::spawn(async move {
                    if let Some(actor) = actor {
                        // Queued behind the step under way: answered once it is over, and once
                        // the calls it reserved ahead are back in the queue.
                        let _ = actor.send(Settle).await;
                    }
                    let answer = Note::Settled { request };
                    if let Err(error) = bus.send(&reply_to, &answer).await {
                        tracing::warn!(%error, "settle not confirmed");
                    }
                });
            }
            Note::Settled { request } => self.inner.bus.settled(request),
            Note::SettleOrg {
                org,
                request,
                reply_to,
            } => {
                let (suppression, bus) = (
                    self.inner.services.suppression.clone(),
                    self.inner.bus.clone(),
                );
                actix_rt::spawn(async move {
                    match OrgId::parse(&org) {
                        Ok(org) => suppression.settle(&org).await,
                        Err(_) => tracing::warn!("settle note for an invalid organisation"),
                    }
                    let answer = Note::Settled { request };
                    if let Err(error) = bus.send(&reply_to, &answer).await {
                        tracing::warn!(%error, "do-not-call settle not confirmed");
                    }
                });
            }
            Note::Wake { campaign } => {
                if let Some(actor) = self.running_actor(campaign) {
                    actor.do_send(Dispatch);
                } else if self.is_parked(campaign) {
                    self.wake(campaign);
                }
            }
        }
    }

    fn running_actor(&self, id: CampaignId) -> Option<Addr<CampaignActor>> {
        self.inner
            .running
            .lock()
            .get(&id)
            .filter(|actor| actor.connected())
            .cloned()
    }

    /// Asks a campaign's actor to look at its queue now (e.g. after contacts were added).
    pub fn wake(&self, id: CampaignId) {
        self.actor(id).do_send(Dispatch);
    }

    /// Takes this node's share of the campaigns that need a dispatcher and that no node holds
    /// (at start-up, and on every keeper tick): a dead node's campaigns, those handed over by a
    /// node that left or had more than its share. Returns how many actors it started.
    ///
    /// A node adopts up to its share (the live campaigns over the nodes alive), or every free
    /// campaign when no other node is below its share, so nothing stays unowned. A node over
    /// its share by more than one, while another is below, hands a few campaigns over per tick.
    pub async fn balance(&self) -> Result<usize, StoreError> {
        let leases = &self.inner.services.leases;
        let nodes = self
            .inner
            .services
            .store
            .heartbeat(leases.owner(), leases.n_held(), leases.ttl())
            .await?;
        let store = &self.inner.services.store;
        let n_live = store.n_live().await?;
        let target = n_live.div_ceil(nodes.len().max(1));
        let mine = leases.n_held();
        let others_below = nodes
            .iter()
            .any(|node| node.node != leases.owner() && node.n_held < target);
        let mut free = if self.may_find_free(&nodes, n_live) {
            let candidates: Vec<CampaignId> = (store.live_campaigns().await?)
                .into_iter()
                .filter(|&id| !self.is_running(id) && !leases.holds(id) && !leases.cooling(id))
                .collect();
            store.unleased(&candidates).await?
        } else {
            Vec::new()
        };
        let room = if others_below {
            target.saturating_sub(mine)
        } else {
            free.len()
        };
        // Nodes pick in different orders, so that they rarely race for the same campaign.
        free.shuffle(&mut rand::rng());
        free.truncate(room);
        // Each adopted actor takes the lease in its first step, or stops if another node won.
        for &id in &free {
            self.wake(id);
        }
        let needy = nodes
            .iter()
            .any(|node| node.node != leases.owner() && node.n_held + 1 < target);
        if mine > target + 1 && needy {
            let excess = (mine - target).min((mine / 10).max(1));
            let actors: Vec<(CampaignId, Addr<CampaignActor>)> = self
                .inner
                .running
                .lock()
                .iter()
                .take(excess)
                .map(|(&id, actor)| (id, actor.clone()))
                .collect();
            for (id, actor) in actors {
                leases.cool(id);
                actor.do_send(HandOver);
            }
        }
        Ok(free.len())
    }

    /// Whether a live campaign may have no node holding it, so that the keeper reads the whole
    /// of `live` (100 000 campaigns are ≈ 5 % of a Redis core at every tick): when the nodes
    /// alive hold fewer leases than there are live campaigns, when the nodes alive changed,
    /// and every [`FULL_SCAN_EVERY`] ticks.
    fn may_find_free(&self, nodes: &[crate::store::NodeBeat], n_live: usize) -> bool {
        let held: usize = nodes.iter().map(|node| node.n_held).sum();
        let mut alive: Vec<String> = nodes.iter().map(|node| node.node.clone()).collect();
        alive.sort_unstable();
        let mut last = self.inner.last_scan.lock();
        let (seen, ticks) = &mut *last;
        *ticks += 1;
        let scan = held < n_live || *seen != alive || *ticks >= FULL_SCAN_EVERY;
        if scan {
            *seen = alive;
            *ticks = 0;
        }
        scan
    }

    fn is_parked(&self, id: CampaignId) -> bool {
        self.inner.parked.lock().contains_key(&id)
    }

    /// Wakes the parked campaigns whose next claim comes within the margin.
    fn wake_parked(&self) {
        let services = &self.inner.services;
        let until = services.clock.now() + services.park_margin();
        let due: Vec<CampaignId> = self
            .inner
            .parked
            .lock()
            .iter()
            .filter(|(_, wake_at)| wake_at.is_some_and(|at| at <= until))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.wake(id);
        }
    }

    /// How many campaigns this node keeps parked (leased, no actor).
    pub fn n_parked(&self) -> usize {
        self.inner.parked.lock().len()
    }

    /// Runs one dispatch step in every actor running here and waits for all of them (the
    /// parked campaigns due by now are woken first).
    pub async fn dispatch_all(&self) {
        self.wake_parked();
        let actors: Vec<_> = self.inner.running.lock().values().cloned().collect();
        join_all(actors.iter().map(|actor| actor.send(Dispatch))).await;
    }

    fn is_draining(&self) -> bool {
        self.inner.services.is_draining()
    }

    /// Graceful shutdown: no campaign claims again, the actors stop as soon as the calls they
    /// placed reported (waiting up to `patience` of real time), then every lease is given up.
    /// Returns how many actors were still waiting for outcomes then (their calls stay in flight
    /// in the store; an outcome reaching another node is recorded there, else at the deadline).
    pub async fn drain(&self, patience: std::time::Duration) -> usize {
        self.inner.services.start_draining();
        self.dispatch_all().await;
        let give_up = tokio::time::Instant::now() + patience;
        while self.n_running() > 0 && tokio::time::Instant::now() < give_up {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Every lease goes, so that the other nodes take the campaigns at their next tick
        // rather than after the TTL (calls still in flight report to whichever node they reach).
        self.inner.stopped.store(true, Ordering::Relaxed);
        self.inner.services.leases.release_all().await;
        self.n_running()
    }

    /// Stops every actor of this node at once (their arbiters stop): what stays is in the store.
    pub fn shutdown(&self) {
        self.inner.stopped.store(true, Ordering::Relaxed);
        self.inner.running.lock().clear();
        for arbiter in &self.inner.arbiters {
            arbiter.stop();
        }
    }

    /// How many campaign actors run on this node.
    pub fn n_running(&self) -> usize {
        self.inner.running.lock().len()
    }
}
