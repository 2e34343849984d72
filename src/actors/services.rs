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
}
