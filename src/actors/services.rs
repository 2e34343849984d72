//! What every campaign actor of a node works with, in one value the directory builds once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::DialerPool;
use crate::clock::Clock;
use crate::cluster::LeaseBook;
use crate::dialer::CarrierGate;
use crate::store::CampaignStore;
use crate::webhooks::Webhooks;

/// The node's services, shared by its actors and its directory.
#[derive(Debug)]
pub struct NodeServices {
    pub(super) store: Arc<dyn CampaignStore>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) dialers: Arc<DialerPool>,
    pub(super) gate: Arc<CarrierGate>,
    pub(super) webhooks: Arc<Webhooks>,
    /// The leases this node holds, with their fences.
    pub(super) leases: Arc<LeaseBook>,
    /// Turns of the dispatch steps at their store work (see `STEPS_AT_ONCE`).
    pub(super) turns: tokio::sync::Semaphore,
    /// Most contacts one campaign claims in one step.
    pub(super) claim_limit: u32,
    /// How far ahead a claim reaches (`Dispatch::claim_ahead`), and how long before the first
    /// slot left a claim runs.
    pub(super) claim_ahead: chrono::Duration,
    pub(super) claim_lead: chrono::Duration,
    /// The organisations' do-not-call gates (see `SuppressionGates`).
    pub(super) suppression: Arc<super::SuppressionGates>,
    /// Shutting down: actors record outcomes but claim nothing.
    pub(super) draining: AtomicBool,
}

impl NodeServices {
    pub(super) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub(super) fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// How long before its next claim a parked campaign is woken: over two keeper ticks, so
    /// that the tick that wakes it comes in time.
    pub(super) fn park_margin(&self) -> chrono::Duration {
        let tick = self.leases.renew_every();
        chrono::Duration::from_std(tick * 2).unwrap_or_else(|_| chrono::Duration::zero())
            + chrono::Duration::seconds(1)
    }

    /// How far its next claim must be for a campaign to be parked: a minute, at least twice the
    /// margin (a node with a long lease TTL would otherwise wake it at once), and past a parked
    /// lease's TTL and the margin (if this node dies, the campaign's lease lapses and another
    /// node takes it before its next claim).
    pub(super) fn park_after(&self) -> chrono::Duration {
        let parked_ttl = chrono::Duration::from_std(self.leases.parked_ttl())
            .unwrap_or_else(|_| chrono::Duration::zero());
        (self.park_margin() * 2)
            .max(chrono::Duration::minutes(1))
            .max(parked_ttl + self.park_margin() * 2)
    }
}
