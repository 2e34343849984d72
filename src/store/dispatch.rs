//! Dispatch: the claim step (where pacing holds), outcomes recorded, claims released, the calls
//! in flight, and the campaigns that need a dispatcher.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Fence, StoreError};
use crate::domain::{
    CallId, CampaignId, CampaignStatus, ContactId, DialOutcome, FrequencyCap, HeldReason, OrgId,
    PhoneNumber, SkipReason,
};

/// How long a placed call may go without an outcome before its contact ends `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDeadline(pub chrono::Duration);

impl Default for CallDeadline {
    fn default() -> Self {
        Self(chrono::Duration::hours(1))
    }
}

/// A contact moved to in-flight by a claim: everything the dialer needs for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedCall {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub call_id: CallId,
    /// 1 for the first call, 2 for the first retry, …
    pub attempt: u32,
    pub phone: PhoneNumber,
    pub agent_id: String,
    pub caller_id: Option<String>,
    pub variables: BTreeMap<String, String>,
    /// No dial request after this instant: the callee's window closes then (less the
    /// operator's buffer). `None` for calls asked about again after a takeover.
    pub not_after: Option<DateTime<Utc>>,
    /// When the call starts: its slot. A claim that looks ahead takes calls before their slot,
    /// and the dispatcher holds each until then (at most the claim's horizon).
    pub at: DateTime<Utc>,
}

/// What one claim step did, and when the campaign wants its next one.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimBatch {
    /// The campaign's organisation (its webhooks go there).
    pub org: OrgId,
    pub calls: Vec<ClaimedCall>,
    /// The status after the step (a claim can activate or complete a campaign).
    pub status: CampaignStatus,
    /// When a claim could next succeed; `None` when only an outcome or a command can help.
    pub wake_at: Option<DateTime<Utc>>,
    pub in_flight: u32,
    /// Webhook events waiting in the campaign's outbox (its organisation has webhooks).
    pub events: u64,
    /// Contacts the callee gate put back to wait in this step, by reason.
    pub held: Vec<(HeldReason, u64)>,
    /// Contacts the callee gate ended `skipped` in this step, by reason.
    pub skipped: Vec<(SkipReason, u64)>,
    /// The campaign's own frequency caps (what its calls are counted against, with the
    /// operator's and the regions').
    pub frequency_caps: Vec<FrequencyCap>,
    /// The campaign's queue after the step (the node's queue-depth gauges add them up).
    pub queued: QueueDepth,
}

/// Contacts never called (or released) that a campaign still queues: all of them `waiting`,
/// and `due` those a claim could take now but for a free line (the campaign dispatches, and its
/// window and pace allow a call now).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub waiting: u64,
    pub due: u64,
}

/// How a placed call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallResult {
    pub outcome: DialOutcome,
    pub duration_secs: u32,
}

/// How one attempt of one contact ended, as a dialer reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub contact: ContactId,
    pub attempt: u32,
    pub result: CallResult,
}

/// What recording an outcome did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The outcome was applied; the campaign is now in `status` with `in_flight` calls running.
    Applied {
        status: CampaignStatus,
        in_flight: u32,
    },
    /// That attempt was already recorded or released: nothing changed.
    Duplicate,
}

/// The dispatch steps of a campaign. The claim checks status, window, working day, daily cap,
/// spacing and concurrency at once and moves due contacts to in-flight, so a pause committed
/// by `Campaigns::control` stops every later claim, whichever caller raced it.
#[async_trait]
pub trait Dispatch: Send + Sync + std::fmt::Debug + 'static {
    /// Moves up to `limit` due contacts to in-flight, if the campaign's rules allow it now and
    /// `fence` is the campaign's current lease (else [`StoreError::StaleLease`]).
    async fn claim_due(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<ClaimBatch, StoreError> {
        self.claim_ahead(id, fence, now, limit, chrono::Duration::zero())
            .await
    }

    /// [`Dispatch::claim_due`] looking `ahead`: also the contacts whose slots fall within
    /// `now + ahead` (`Schedule::claim_slots`), each with its slot as [`ClaimedCall::at`] and
    /// its call state written as claimed then. The pacing moves past the last slot claimed;
    /// `wake_at` is the first slot left.
    async fn claim_ahead(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Result<ClaimBatch, StoreError>;

    /// Records how attempts ended, in one step; a second report of an attempt is a no-op.
    /// One [`Recorded`] per outcome, in order.
    async fn record_outcomes(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError>;

    /// Records `outcomes` as [`Dispatch::record_outcomes`] does, then claims as
    /// [`Dispatch::claim_ahead`] does, in one store step where the backend can (a dispatch step
    /// with outcomes to record and calls to claim): the claim sees the lines the outcomes freed.
    /// An error of the whole is the record's (nothing recorded); the claim's own result comes
    /// beside what was recorded.
    async fn record_and_claim(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Result<(Vec<Recorded>, Result<ClaimBatch, StoreError>), StoreError> {
        let recorded = self.record_outcomes(id, outcomes, now).await?;
        let claimed = self.claim_ahead(id, fence, now, limit, ahead).await;
        Ok((recorded, claimed))
    }

    /// Records how attempt `attempt` of one contact ended.
    async fn record_outcome(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        result: CallResult,
        now: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let outcome = Outcome {
            contact,
            attempt,
            result,
        };
        let mut recorded = self.record_outcomes(id, &[outcome], now).await?;
        Ok(recorded.pop().unwrap_or(Recorded::Duplicate))
    }

    /// Returns a claimed contact whose call was never requested to its queue; the attempt is
    /// undone (the daily cap is not refunded, so it can never be exceeded).
    async fn release_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
    ) -> Result<(), StoreError>;

    /// Ends a claimed contact whose call was never requested `skipped` for `reason` (its number
    /// was found on the do-not-call list after the claim); the attempt is undone.
    async fn skip_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        reason: SkipReason,
    ) -> Result<(), StoreError>;

    /// Puts a claimed contact whose call was never requested back to wait until `until`, held
    /// for `reason` (a frequency cap); the attempt is undone.
    async fn hold_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        reason: HeldReason,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Who a campaign's contact is: the campaign's organisation and the contact's number (what a
    /// call event's opt-out lists).
    async fn call_party(
        &self,
        id: CampaignId,
        contact: ContactId,
    ) -> Result<(OrgId, PhoneNumber), StoreError>;

    /// The campaign's calls in flight whose deadline is after `now`, as they were claimed (the
    /// same call id and attempt, hence the same idempotency key): what a node that takes a
    /// campaign over asks the provider about again.
    async fn calls_in_flight(
        &self,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedCall>, StoreError>;

    /// Campaigns that need a dispatcher: scheduled, active, paused, with calls in flight, or
    /// with webhook events to relay.
    async fn live_campaigns(&self) -> Result<Vec<CampaignId>, StoreError>;

    /// How many campaigns are live, counted without listing them (the keeper's every tick).
    async fn n_live(&self) -> Result<usize, StoreError> {
        Ok(self.live_campaigns().await?.len())
    }

    /// Drops `id` from the live campaigns: its dispatcher saw it finished, with no call in
    /// flight and no event left to relay.
    async fn unlist(&self, id: CampaignId) -> Result<(), StoreError>;

    /// Forgets what the store keeps of `id` for its dispatcher between steps (a parked
    /// campaign's: it is read again when it wakes).
    fn evict(&self, id: CampaignId) {
        let _ = id;
    }
}
