//! The directory of live campaign actors on this node: finds the actor of a campaign, or starts
//! it on one of the node's arbiters, so that every command for a campaign passes through the one
//! actor that dispatches it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use actix::prelude::*;
use futures_util::future::join_all;
use parking_lot::Mutex;

use super::campaign::{CallFinished, CampaignOp, Dispatch, OpResult, RunOp};
use super::{CampaignActor, DialerPool};
use crate::clock::Clock;
use crate::dialer::{CallReport, CarrierGate, Dialer};
use crate::domain::{CampaignId, OrgId};
use crate::store::{CampaignStore, StoreError};
use crate::webhooks::Webhooks;

/// Finds or starts the actor of a campaign. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn CampaignStore>,
    clock: Arc<dyn Clock>,
    dialers: Arc<DialerPool>,
    gate: Arc<CarrierGate>,
    webhooks: Arc<Webhooks>,
    /// One arbiter (thread) per core: actors started from one place would share one thread.
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
    claim_limit: u32,
    /// This node's name in leases.
    node_id: String,
    live: Mutex<HashMap<CampaignId, Addr<CampaignActor>>>,
    /// Shutting down: actors record outcomes but claim nothing.
    draining: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}

/// A node name for a node that was not given one.
pub fn generated_node_id() -> String {
    format!("node-{}", uuid::Uuid::new_v4().simple())
}

/// How many times a command is retried when it meets an actor that was just stopping.
const SEND_ATTEMPTS: usize = 5;

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
        let webhooks = options
            .webhooks
            .unwrap_or_else(|| Arc::new(Webhooks::new(store.clone(), HashMap::new())));
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                dialers,
                gate,
                webhooks,
                arbiters,
                next_arbiter: AtomicUsize::new(0),
                claim_limit: options.claim_limit.max(1),
                node_id: options.node_id.unwrap_or_else(generated_node_id),
                live: Mutex::new(HashMap::new()),
                draining: AtomicBool::new(false),
            }),
        }
    }

    pub(super) fn store(&self) -> Arc<dyn CampaignStore> {
        self.inner.store.clone()
    }

    pub(super) fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    pub(super) fn dialers(&self) -> Arc<DialerPool> {
        self.inner.dialers.clone()
    }

    pub(super) fn gate(&self) -> Arc<CarrierGate> {
        self.inner.gate.clone()
    }

    pub(super) fn webhooks(&self) -> Arc<Webhooks> {
        self.inner.webhooks.clone()
    }

    pub(super) fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    pub(super) fn claim_limit(&self) -> u32 {
        self.inner.claim_limit
    }

    /// The actor of `id`, started if it is not running.
    fn actor(&self, id: CampaignId) -> Addr<CampaignActor> {
        let mut live = self.inner.live.lock();
        if let Some(address) = live.get(&id).filter(|address| address.connected()) {
            return address.clone();
        }
        let index = self.inner.next_arbiter.fetch_add(1, Ordering::Relaxed);
        let arbiter = self.inner.arbiters[index % self.inner.arbiters.len()].handle();
        let directory = self.clone();
        let address =
            CampaignActor::start_in_arbiter(&arbiter, move |_| CampaignActor::new(id, directory));
        live.insert(id, address.clone());
        address
    }

    /// Called by an actor that stopped: forgets it unless a newer one took its place.
    pub(super) fn forget(&self, id: CampaignId, address: &Addr<CampaignActor>) {
        let mut live = self.inner.live.lock();
        if live.get(&id) == Some(address) {
            live.remove(&id);
        }
    }

    /// Runs an operator's command through the campaign's actor.
    pub async fn run(&self, org: &OrgId, id: CampaignId, op: CampaignOp) -> OpResult {
        // Do not start actors for campaigns that do not exist or belong to someone else; a live
        // actor's store step checks the organisation itself, so the read is skipped then.
        if !self.is_live(id) {
            self.inner.store.campaign(org, id).await?;
        }
        for _ in 0..SEND_ATTEMPTS {
            let message = RunOp {
                org: org.clone(),
                op: op.clone(),
            };
            match self.actor(id).send(message).await {
                Ok(result) => return result,
                Err(_stopped) => self.forget_disconnected(id),
            }
        }
        Err(StoreError::Unavailable(
            "the campaign's dispatcher did not answer".to_owned(),
        ))
    }

    fn is_live(&self, id: CampaignId) -> bool {
        self.inner.live.lock().get(&id).is_some_and(Addr::connected)
    }

    fn forget_disconnected(&self, id: CampaignId) {
        let mut live = self.inner.live.lock();
        if live.get(&id).is_some_and(|address| !address.connected()) {
            live.remove(&id);
        }
    }

    /// Hands an outcome reported outside a dialer (a provider's call event) to the actor of its
    /// campaign, which records it at its next step (a second report of an attempt is a no-op).
    pub fn report(&self, report: CallReport) {
        self.actor(report.campaign_id).do_send(CallFinished(report));
    }

    /// Asks a campaign's actor to look at its queue now (e.g. after contacts were added).
    pub fn wake(&self, id: CampaignId) {
        self.actor(id).do_send(Dispatch);
    }

    /// Starts an actor for every campaign that needs one (at start-up).
    pub async fn start_live(&self) -> Result<usize, StoreError> {
        let ids = self.inner.store.live_campaigns().await?;
        for &id in &ids {
            self.actor(id);
        }
        Ok(ids.len())
    }

    /// Runs one dispatch step in every live actor and waits for all of them.
    pub async fn dispatch_all(&self) {
        let actors: Vec<_> = self.inner.live.lock().values().cloned().collect();
        join_all(actors.iter().map(|actor| actor.send(Dispatch))).await;
    }

    pub(super) fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// Graceful shutdown: no campaign claims again, and the actors stop as soon as the calls
    /// they placed reported; waits up to `patience` of real time. Returns how many actors were
    /// still waiting for outcomes then (their calls stay in flight in the store, reconciled at
    /// their deadline).
    pub async fn drain(&self, patience: std::time::Duration) -> usize {
        self.inner.draining.store(true, Ordering::Relaxed);
        self.dispatch_all().await;
        let give_up = tokio::time::Instant::now() + patience;
        while self.n_live() > 0 && tokio::time::Instant::now() < give_up {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.n_live()
    }

    /// Stops every actor of this node at once (their arbiters stop): what stays is in the store.
    pub fn shutdown(&self) {
        self.inner.live.lock().clear();
        for arbiter in &self.inner.arbiters {
            arbiter.stop();
        }
    }

    pub fn n_live(&self) -> usize {
        self.inner.live.lock().len()
    }
}
