//! The embedded store: every campaign behind its own lock, so each state change is one locked
//! step. It is the default backend and the reference the conformance suite checks others against.

mod bus;
mod campaigns;
mod dispatch;
mod leases;
mod operations;
mod outbox;
mod state;
mod suppression;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};

use self::operations::IdempotencyBook;
use self::outbox::Outbox;
use self::state::CampaignState;
use crate::domain::{CallId, CallSafety, CampaignId, OrgId};
use crate::store::{CallDeadline, CallRef, CampaignStore, IdempotencyLimits, StoreError};

/// The in-memory store. Cheap to clone; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
    call_deadline: CallDeadline,
    idempotency_limits: IdempotencyLimits,
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    campaigns: RwLock<HashMap<CampaignId, Arc<Mutex<CampaignState>>>>,
    /// Each organisation's campaigns in creation order.
    by_org: RwLock<HashMap<OrgId, Vec<CampaignId>>>,
    ops: Mutex<Ops>,
    /// Organisations whose campaigns write webhook events.
    event_orgs: RwLock<HashSet<OrgId>>,
    /// Subscribers of each channel.
    channels: Mutex<HashMap<String, Vec<tokio::sync::mpsc::UnboundedSender<String>>>>,
    /// The callee gate's rules (the legal floor, quiet hours), read at every claim.
    safety: RwLock<Arc<CallSafety>>,
    /// Each organisation's do-not-call list.
    dnc: RwLock<HashMap<OrgId, suppression::DncBook>>,
    /// Per organisation, the attempts to each number that caps count, and its cool-down.
    attempts: Mutex<HashMap<OrgId, HashMap<crate::domain::PhoneNumber, suppression::Counted>>>,
}

/// Operations state: call ids, outboxes, idempotency keys, rate limiters. Its expiries run on
/// real time (they pace the process, not campaigns).
#[derive(Debug)]
pub(super) struct Ops {
    epoch: Instant,
    calls: HashMap<CallId, (CallRef, Instant)>,
    /// Size of `calls` after the last sweep of expired entries.
    calls_swept: usize,
    outboxes: HashMap<OrgId, Outbox>,
    idempotency: IdempotencyBook,
    /// Theoretical arrival time of each limiter, in µs since `epoch`.
    limiters: HashMap<String, i64>,
    /// Named locks: owner and expiry.
    locks: HashMap<String, (String, Instant)>,
    /// Nodes alive: until when, and how many leases they hold.
    nodes: HashMap<String, (Instant, usize)>,
}

impl Default for Ops {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            calls: HashMap::new(),
            calls_swept: 0,
            outboxes: HashMap::new(),
            idempotency: IdempotencyBook::default(),
            limiters: HashMap::new(),
            locks: HashMap::new(),
            nodes: HashMap::new(),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose calls without an outcome after `deadline` end `unknown`.
    pub fn with_call_deadline(deadline: CallDeadline) -> Self {
        Self {
            call_deadline: deadline,
            ..Self::default()
        }
    }

    /// The same store keeping idempotent responses within `limits`.
    #[must_use]
    pub fn with_idempotency_limits(mut self, limits: IdempotencyLimits) -> Self {
        self.idempotency_limits = limits;
        self
    }

    fn state(&self, id: CampaignId) -> Result<Arc<Mutex<CampaignState>>, StoreError> {
        self.inner
            .campaigns
            .read()
            .get(&id)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    /// Whether a step of `state` writes webhook events (its organisation has webhooks): set
    /// at the start of each step that may write some.
    fn events_on(&self, state: &mut CampaignState) {
        state.events.on = self.inner.event_orgs.read().contains(&state.campaign.org);
    }

    /// Runs `step` under the campaign's lock, after checking that `org` owns it.
    fn with_campaign<T>(
        &self,
        org: &OrgId,
        id: CampaignId,
        step: impl FnOnce(&mut CampaignState) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        if state.campaign.org != *org {
            return Err(StoreError::NotFound);
        }
        step(&mut state)
    }
}

#[async_trait]
impl CampaignStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn set_call_safety(&self, safety: Arc<CallSafety>) {
        *self.inner.safety.write() = safety;
    }

    fn call_safety(&self) -> Arc<CallSafety> {
        self.inner.safety.read().clone()
    }
}
