//! The campaign store: the source of truth, by capability. Each capability is a trait of its
//! own ([`Campaigns`], [`Dispatch`], [`Leases`], [`Bus`], [`Outboxes`], [`CallIndex`],
//! [`IdempotencyKeys`], [`Locks`], [`Limiters`], [`Suppression`]) and each consumer asks for the narrowest it
//! needs; [`CampaignStore`] is every capability at once: what a backend provides. Two backends,
//! `memory` (embedded) and `redis`, pass one conformance suite (`tests/it/store_conformance/`).
//! Every state change is one atomic step of the backend.
//!
//! `use crate::store::capabilities::*` brings every capability's methods into scope.

mod bus;
mod campaigns;
mod dispatch;
mod leases;
mod memory;
mod operations;
mod outbox;
mod redis;
mod rules;
mod suppression;

use async_trait::async_trait;

use crate::domain::{DomainError, InvalidTransition};

pub use self::redis::{RedisSettings, RedisStore};
pub use bus::{Bus, Subscription};
pub use campaigns::{
    AddedContacts, CallStats, Campaign, CampaignEdit, CampaignFilter, Campaigns, Contact, Control,
    Counters, Listing, NewContact, Page, unix_hour,
};
pub(crate) use campaigns::{ContactsPage, QueueView, project_off_thread, skip_unreadable};
pub use dispatch::{
    CallDeadline, CallResult, ClaimBatch, ClaimedCall, Dispatch, Outcome, QueueDepth, Recorded,
};
pub use leases::{Fence, Leases, NodeBeat};
pub use memory::MemoryStore;
pub(crate) use operations::CALL_INDEX_MARGIN;
pub use operations::{
    CallIndex, CallRef, IDEMPOTENCY_PENDING_TTL, IDEMPOTENCY_TTL, Idempotency, IdempotencyKeys,
    IdempotencyLimits, Limiters, Locks, StoredResponse, Tokens,
};
pub use outbox::{
    CampaignEvent, DeadLetter, OutboxEntry, OutboxLimits, Outboxes, Relayed, RelayedEvent,
    StoredEvent,
};
pub use suppression::{DncAdded, DncFilter, Screened, Suppression};

/// Every capability trait, unnamed: `use crate::store::capabilities::*` brings their methods
/// into scope without naming each.
pub mod capabilities {
    pub use super::{
        Bus as _, CallIndex as _, CampaignStore as _, Campaigns as _, Dispatch as _,
        IdempotencyKeys as _, Leases as _, Limiters as _, Locks as _, Outboxes as _,
        Suppression as _,
    };
}

/// Why a store operation did not happen. Backends map their own errors into these; no backend
/// type leaks out.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such campaign for this organisation (another organisation's campaign included).
    #[error("campaign not found")]
    NotFound,
    #[error(transparent)]
    InvalidState(#[from] InvalidTransition),
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The caller's lease on the campaign is no longer the current one: it must stop claiming.
    #[error("the lease on this campaign was taken over")]
    StaleLease,
    /// The backend cannot be reached; nothing was changed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record cannot be read back (a bug, or data written by hand): what it was.
    #[error("unreadable {0} in the store")]
    Corrupt(String),
}

/// The campaign store: every capability, as a backend provides them.
#[async_trait]
pub trait CampaignStore:
    Campaigns
    + Dispatch
    + Leases
    + Bus
    + Outboxes
    + CallIndex
    + IdempotencyKeys
    + Locks
    + Limiters
    + Suppression
{
    /// Succeeds when the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Sets the operator's call-safety rules (the callee gate of every claim from then on).
    fn set_call_safety(&self, safety: std::sync::Arc<crate::domain::CallSafety>);

    /// The operator's call-safety rules in force.
    fn call_safety(&self) -> std::sync::Arc<crate::domain::CallSafety>;
}
