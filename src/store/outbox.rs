//! Webhook events: written by the steps into each campaign's outbox, relayed to the
//! organisation's outbox, delivered in order or given up to the dead letters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CallResult, Listing, Page, StoreError};
use crate::domain::{CallId, CampaignId, CampaignStatus, ContactId, OrgId, PhoneNumber};

/// What happened to a campaign, written as a webhook event by the store step that made it
/// happen (so a crash never keeps the step and loses its event), into the campaign's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignEvent {
    StatusChanged {
        from: CampaignStatus,
        to: CampaignStatus,
    },
    /// The campaign completed (after its `StatusChanged` to `completed`).
    Completed,
    CallStarted {
        contact: ContactId,
        attempt: u32,
        call_id: CallId,
        phone: PhoneNumber,
    },
    CallEnded {
        contact: ContactId,
        attempt: u32,
        call_id: Option<CallId>,
        result: CallResult,
    },
}

/// A campaign's event as its outbox holds it: numbered in the campaign's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Increasing within the campaign (never reused): with the campaign id, the event's id.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub event: CampaignEvent,
}

/// An event rendered for delivery, moved from its campaign's outbox to its organisation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayedEvent {
    pub seq: u64,
    /// The event's id: the receiver's key to recognise a repeat.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The exact bytes to send.
    pub body: Vec<u8>,
}

/// How far an organisation's webhooks may pile up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Events waiting in the outbox; past it, the oldest go to the dead letters.
    pub max_outbox: u64,
    /// Dead letters kept; past it, the oldest are forgotten.
    pub max_dead_letters: u64,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        Self {
            max_outbox: 100_000,
            max_dead_letters: 10_000,
        }
    }
}

/// What relaying a campaign's events did: how many events are left in its outbox, and how many
/// old ones its organisation's outbox, full, moved to the dead letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relayed {
    pub left: u64,
    pub overflowed: u64,
}

/// An outbound webhook waiting in an organisation's outbox, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Increasing within the outbox; acknowledge up to it once delivered.
    pub seq: u64,
    pub id: String,
    /// When the event happened (an event older than the operator allows is given up).
    pub at: DateTime<Utc>,
    /// The exact bytes to send.
    pub body: Vec<u8>,
}

/// An event that was given up on: kept, for an operator to look at and send again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
    /// Why it was given up: the last answer, the age, or a full outbox.
    pub reason: String,
    pub body: Vec<u8>,
}

/// The outboxes of webhook events, per campaign and per organisation, and the dead letters.
#[async_trait]
pub trait Outboxes: Send + Sync + std::fmt::Debug + 'static {
    /// The organisations whose campaigns write webhook events from now on (those with a
    /// webhook target; the steps of the others write none).
    fn record_events_for(&self, orgs: std::collections::HashSet<OrgId>);

    /// The oldest `limit` events of the campaign's outbox (written by its steps when its
    /// organisation has webhooks), in order.
    async fn campaign_events(
        &self,
        id: CampaignId,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Moves a campaign's events, rendered, to its organisation's outbox (skipping those moved
    /// before: the move is safe to repeat after a crash halfway), then drops them from the
    /// campaign's outbox. Within `limits`: a full outbox sends its oldest to the dead letters
    /// (failed at `now`).
    async fn relay_events(
        &self,
        org: &OrgId,
        id: CampaignId,
        events: Vec<RelayedEvent>,
        limits: OutboxLimits,
        now: DateTime<Utc>,
    ) -> Result<Relayed, StoreError>;

    /// The oldest `limit` entries of the organisation's outbox, and how many it holds.
    async fn outbox(&self, org: &OrgId, limit: u32) -> Result<(Vec<OutboxEntry>, u64), StoreError>;

    /// Drops every entry up to and including `seq` (delivered).
    async fn ack_outbox(&self, org: &OrgId, seq: u64) -> Result<(), StoreError>;

    /// Gives entry `seq` of the outbox up: it moves to the dead letters with `reason`.
    async fn dead_letter(
        &self,
        org: &OrgId,
        seq: u64,
        reason: &str,
        failed_at: DateTime<Utc>,
        limits: OutboxLimits,
    ) -> Result<(), StoreError>;

    /// The organisation's dead letters, oldest first.
    async fn dead_letters(
        &self,
        org: &OrgId,
        page: Page,
    ) -> Result<Listing<DeadLetter>, StoreError>;

    /// Moves dead letters (those of `ids`, or all when `None`) back to the end of the outbox,
    /// under their own ids; how many moved.
    async fn replay_dead_letters(
        &self,
        org: &OrgId,
        ids: Option<Vec<String>>,
    ) -> Result<u64, StoreError>;
}
