//! The campaign store: the source of truth. One trait, [`CampaignStore`], whose every state
//! change is one atomic step, and its backends (`memory` now; Redis implements the same trait).
//!
//! The claim step is where pacing holds: it checks status, window, working day, daily cap,
//! spacing and concurrency at once and moves due contacts to in-flight, so a pause committed
//! here stops every later claim, whichever caller raced it.

mod memory;
mod redis;
mod rules;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::{
    CallId, CampaignId, CampaignSpec, CampaignStatus, ContactId, ContactStatus, DialOutcome,
    DomainError, InvalidTransition, OrgId, PhoneNumber, PhoneRotation, Rate, SchedulePatch,
};

pub use self::redis::{RedisSettings, RedisStore};
pub use memory::MemoryStore;

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

/// A campaign as the store holds it: definition, status, counters and timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: CampaignId,
    pub org: OrgId,
    pub spec: CampaignSpec,
    pub status: CampaignStatus,
    /// When dispatch may begin: set when the campaign is scheduled.
    pub starts_at: Option<DateTime<Utc>>,
    pub counters: Counters,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paused_at: Option<DateTime<Utc>>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Campaign {
    /// A new campaign in `draft`, without contacts.
    pub(crate) fn draft(
        id: CampaignId,
        org: OrgId,
        spec: CampaignSpec,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            org,
            spec,
            status: CampaignStatus::Draft,
            starts_at: None,
            counters: Counters::default(),
            created_at: now,
            updated_at: now,
            paused_at: None,
            resumed_at: None,
            completed_at: None,
        }
    }
}

/// Contacts by status, kept in the same step as every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub total: u64,
    /// Contacts with at least one attempt.
    pub called: u64,
    by_status: [u64; ContactStatus::ALL.len()],
}

impl Counters {
    pub fn of(&self, status: ContactStatus) -> u64 {
        self.by_status[status as usize]
    }

    /// Not final and not in progress.
    pub fn pending(&self) -> u64 {
        self.of(ContactStatus::Pending) + self.of(ContactStatus::Scheduled)
    }

    pub(crate) fn from_counts(
        total: u64,
        called: u64,
        count_of: impl Fn(ContactStatus) -> u64,
    ) -> Self {
        let mut counters = Self {
            total,
            called,
            ..Self::default()
        };
        for status in ContactStatus::ALL {
            counters.by_status[status as usize] = count_of(status);
        }
        counters
    }

    pub(crate) fn add(&mut self, status: ContactStatus) {
        self.by_status[status as usize] += 1;
    }

    pub(crate) fn moved(&mut self, from: ContactStatus, to: ContactStatus) {
        self.by_status[from as usize] -= 1;
        self.by_status[to as usize] += 1;
    }
}

/// A contact to add, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub phone: PhoneNumber,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub custom_fields: BTreeMap<String, String>,
    pub timezone: Option<Tz>,
}

impl NewContact {
    /// The variables a dialer gets: custom fields and names.
    pub fn variables(&self) -> BTreeMap<String, String> {
        let mut variables = self.custom_fields.clone();
        for (key, value) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
        ] {
            if let Some(value) = value {
                variables.insert(key.to_owned(), value.clone());
            }
        }
        variables
    }

    pub fn new(phone: PhoneNumber) -> Self {
        Self {
            phone,
            first_name: None,
            last_name: None,
            email: None,
            custom_fields: BTreeMap::new(),
            timezone: None,
        }
    }
}

/// A contact as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub details: NewContact,
    pub status: ContactStatus,
    /// When it is due; only for contacts still waiting.
    pub scheduled_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub last_outcome: Option<DialOutcome>,
    pub call_id: Option<CallId>,
    pub called_at: Option<DateTime<Utc>>,
}

/// Changes to a campaign's definition; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignEdit {
    pub name: Option<String>,
    pub agent_id: Option<String>,
    pub phone_number_ids: Option<Vec<String>>,
    pub rotation: Option<PhoneRotation>,
    pub schedule: SchedulePatch,
}

/// Operator commands that change only the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

/// Filters of the campaign list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignFilter {
    pub status: Option<CampaignStatus>,
    pub agent_id: Option<String>,
}

impl CampaignFilter {
    pub fn matches(&self, campaign: &Campaign) -> bool {
        self.status.is_none_or(|status| campaign.status == status)
            && self
                .agent_id
                .as_ref()
                .is_none_or(|agent| campaign.spec.agent_id == *agent)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

/// One page of items and the number of items across all pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The result of adding contacts: how many were added and why the others were not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AddedContacts {
    pub added: u64,
    /// `(row index, reason)` of each row that was skipped.
    pub skipped: Vec<(usize, String)>,
}

/// How long a placed call may go without an outcome before its contact ends `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDeadline(pub chrono::Duration);

impl Default for CallDeadline {
    fn default() -> Self {
        Self(chrono::Duration::hours(1))
    }
}

/// A fencing token: the number of the lease a node holds on a campaign. Every claim carries
/// it, and a claim with a token older than the campaign's newest lease is refused, so a node
/// that lost its lease (paused, partitioned) can never claim again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fence(pub u64);

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

/// Which campaign, contact and attempt a call id belongs to: how an outcome reported later by
/// call id (`POST /calls/{call_id}/events`) finds its contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRef {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub attempt: u32,
}

/// A response kept for an idempotency key, replayed to a retry of the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What an idempotency key said about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotency {
    /// First use of the key: the caller runs the request, then stores or abandons its answer.
    Started,
    /// The same request already ran: its response.
    Replay(StoredResponse),
    /// The same request already ran, and its response was larger than a key may keep.
    NotKept,
    /// The key was used for a different request body.
    Conflict,
    /// The same request is still running elsewhere.
    InProgress,
}

/// How much the idempotency keys may keep: per key, and per organisation (beyond it, the
/// responses kept longest are forgotten first: a retry with their key runs again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyLimits {
    pub max_response_bytes: usize,
    pub max_bytes_per_org: usize,
}

impl Default for IdempotencyLimits {
    /// 1 MiB per response (a bounded answer is far smaller: a list of 1 000 row errors is about
    /// 100 KB), 64 MiB per organisation.
    fn default() -> Self {
        Self {
            max_response_bytes: 1 << 20,
            max_bytes_per_org: 64 << 20,
        }
    }
}

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

/// How many tokens a rate limiter gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub granted: u32,
    /// How long until the next token is free.
    pub wait: std::time::Duration,
}

/// What the calls of a campaign came to: every outcome recorded (each attempt once), their
/// total length, and how many ended in each hour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    by_outcome: [u64; DialOutcome::ALL.len()],
    pub total_duration_secs: u64,
    /// Calls ended per hour, keyed by the hour's start in Unix hours (UTC).
    pub by_hour: BTreeMap<i64, u64>,
}

impl CallStats {
    pub fn of(&self, outcome: DialOutcome) -> u64 {
        self.by_outcome[outcome as usize]
    }

    pub fn calls(&self) -> u64 {
        self.by_outcome.iter().sum()
    }

    pub(crate) fn add(&mut self, outcome: DialOutcome, count: u64) {
        self.by_outcome[outcome as usize] += count;
    }

    pub(crate) fn record(&mut self, result: CallResult, at: DateTime<Utc>) {
        self.add(result.outcome, 1);
        self.total_duration_secs += u64::from(result.duration_secs);
        *self.by_hour.entry(unix_hour(at)).or_default() += 1;
    }
}

/// What a queue position is projected from: the campaign's schedule, start and pacing.
#[derive(Debug, Clone)]
pub(crate) struct QueueView {
    pub(crate) schedule: crate::domain::Schedule,
    pub(crate) start: DateTime<Utc>,
    pub(crate) pacing: crate::domain::PacingState,
}

/// A page of contacts read from a backend, and the queue positions of those never called
/// (`(index in items, position)`), whose due times are still to be projected.
#[derive(Debug)]
pub(crate) struct ContactsPage {
    pub(crate) items: Vec<Contact>,
    pub(crate) ranks: Vec<(usize, u64)>,
    pub(crate) queue: Option<QueueView>,
}

impl ContactsPage {
    /// The contacts with the due time of each one never called projected from `now` (one walk
    /// of the calendar for the whole page).
    pub(crate) fn project(mut self, now: DateTime<Utc>) -> Vec<Contact> {
        if let (Some(queue), false) = (&self.queue, self.ranks.is_empty()) {
            let ranks: Vec<u64> = self.ranks.iter().map(|&(_, rank)| rank).collect();
            let dues = queue
                .schedule
                .projected_dues(queue.start, &queue.pacing, now, &ranks);
            for (&(index, _), due) in self.ranks.iter().zip(dues) {
                self.items[index].scheduled_at = Some(due);
            }
        }
        self.items
    }
}

/// Runs `work` (CPU work a request waits for, such as projecting due times) on the runtime's
/// blocking threads, never on the thread that serves other requests or dispatches.
pub(crate) async fn project_off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(work)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string())),
        Err(_) => Ok(work()),
    }
}

/// Logs and counts a record that a list skipped because it could not be read back: one bad
/// record never stops a list.
pub(crate) fn skip_unreadable(
    record: &'static str,
    id: impl std::fmt::Display,
    error: &StoreError,
) {
    tracing::error!(record, %id, %error, "unreadable record skipped");
    metrics::counter!(crate::telemetry::UNREADABLE_RECORDS, "record" => record).increment(1);
}

/// The Unix hour (hours since the epoch, UTC) of an instant.
pub fn unix_hour(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// Messages of a channel, in the order they were published.
pub type Subscription = tokio::sync::mpsc::UnboundedReceiver<String>;

/// A node alive, as its last heartbeat said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBeat {
    pub node: String,
    pub n_held: usize,
}

/// How long an idempotency key is remembered with its response.
pub const IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// How long a key stays reserved by a request that never finished (its node died): long past
/// any request, short enough that the client can retry with the same key.
pub const IDEMPOTENCY_PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// The campaign store. Every method that changes state is one atomic step: it checks what it
/// needs (status, membership, limits) and writes, or changes nothing and says why.
#[async_trait]
pub trait CampaignStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates a `draft` campaign with its first contacts (duplicates are skipped).
    async fn create_campaign(
        &self,
        org: &OrgId,
        spec: CampaignSpec,
        contacts: Vec<NewContact>,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, AddedContacts), StoreError>;

    async fn campaign(&self, org: &OrgId, id: CampaignId) -> Result<Campaign, StoreError>;

    /// The organisation's campaigns, newest first.
    async fn list_campaigns(
        &self,
        org: &OrgId,
        filter: &CampaignFilter,
        page: Page,
    ) -> Result<Listing<Campaign>, StoreError>;

    /// Applies an edit to a non-terminal campaign; scheduling changes redistribute every
    /// contact that is still waiting, from `now` on.
    async fn edit_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        edit: CampaignEdit,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError>;

    /// `draft → scheduled`: applies the schedule body, then gives every contact its due time.
    async fn schedule_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        patch: SchedulePatch,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError>;

    /// Pause, resume (redistributing from `now`) or cancel (cancelling every waiting contact).
    async fn control(
        &self,
        org: &OrgId,
        id: CampaignId,
        control: Control,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError>;

    /// Adds contacts to a non-terminal campaign; outside `draft` they are queued after the
    /// contacts already waiting.
    async fn add_contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        contacts: Vec<NewContact>,
        now: DateTime<Utc>,
    ) -> Result<AddedContacts, StoreError>;

    /// The campaign's contacts in insertion order, optionally of one status; the `scheduled_at`
    /// of waiting contacts is projected from `now`.
    async fn contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        status: Option<ContactStatus>,
        page: Page,
        now: DateTime<Utc>,
    ) -> Result<Listing<Contact>, StoreError>;

    async fn delete_campaign(&self, org: &OrgId, id: CampaignId) -> Result<(), StoreError>;

    /// The campaign's call statistics (outcomes, durations, calls per hour).
    async fn call_stats(&self, org: &OrgId, id: CampaignId) -> Result<CallStats, StoreError>;

    /// Takes the campaign's lease for `owner`, valid for `ttl`, if it is free: a new token, and
    /// every earlier token becomes stale. If `owner` holds it already, it is renewed and keeps
    /// its token. `None` while another owner holds it.
    async fn acquire_lease(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Fence>, StoreError>;

    /// Extends each of `owner`'s `leases` (campaign, token) by `ttl` from now, in one store
    /// step for many: for each, `false` when it is not theirs any more (it lapsed and another
    /// owner took it, or it was released).
    async fn renew_leases(
        &self,
        owner: &str,
        leases: &[(CampaignId, Fence)],
        ttl: std::time::Duration,
    ) -> Result<Vec<bool>, StoreError>;

    /// Gives `owner`'s lease `fence` up, so that another node can take the campaign at once.
    async fn release_lease(
        &self,
        id: CampaignId,
        owner: &str,
        fence: Fence,
    ) -> Result<(), StoreError>;

    /// Moves up to `limit` due contacts to in-flight, if the campaign's rules allow it now and
    /// `fence` is the campaign's current lease (else [`StoreError::StaleLease`]).
    async fn claim_due(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<ClaimBatch, StoreError>;

    /// Records how attempts ended, in one step; a second report of an attempt is a no-op.
    /// One [`Recorded`] per outcome, in order.
    async fn record_outcomes(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError>;

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

    /// Drops `id` from the live campaigns: its dispatcher saw it finished, with no call in
    /// flight and no event left to relay.
    async fn unlist(&self, id: CampaignId) -> Result<(), StoreError>;

    /// The organisations whose campaigns write webhook events from now on (those with a
    /// webhook target; the steps of the others write none).
    fn record_events_for(&self, orgs: std::collections::HashSet<OrgId>);

    /// Succeeds when the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;

    // Operations state beside the campaigns: call ids, outbound webhooks, idempotency keys,
    // rate limiters. Each method is one atomic step on one key.

    /// Remembers which contact and attempt each call id belongs to, until the call deadline
    /// has passed (with a margin).
    async fn index_calls(&self, calls: &[(CallId, CallRef)]) -> Result<(), StoreError>;

    /// The contact and attempt of a call id, while it is remembered.
    async fn find_call(&self, call: CallId) -> Result<Option<CallRef>, StoreError>;

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

    /// Looks up an idempotency key of `org`; on first use, reserves it for a request whose body
    /// has `fingerprint`.
    async fn begin_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
    ) -> Result<Idempotency, StoreError>;

    /// Stores the response of a request started with [`CampaignStore::begin_idempotent`], within
    /// the store's [`IdempotencyLimits`]: a response too large is not kept (a retry learns so);
    /// past the organisation's budget, its oldest responses are forgotten.
    async fn finish_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
        response: StoredResponse,
    ) -> Result<(), StoreError>;

    /// Forgets a reserved key whose request failed, so that it can be tried again.
    async fn abandon_idempotent(&self, org: &OrgId, key: &str) -> Result<(), StoreError>;

    /// Takes the lock `name` for `owner` for `ttl`, or keeps it if `owner` holds it already;
    /// `false` while another owner holds it.
    async fn hold_lock(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;

    /// Records that `node` is alive and holds `n_held` leases, for `ttl` from now; returns every
    /// node alive (itself included).
    async fn heartbeat(
        &self,
        node: &str,
        n_held: usize,
        ttl: std::time::Duration,
    ) -> Result<Vec<NodeBeat>, StoreError>;

    /// Those of `ids` whose lease nobody holds.
    async fn unleased(&self, ids: &[CampaignId]) -> Result<Vec<CampaignId>, StoreError>;

    /// The owner holding the campaign's lease now, if any.
    async fn lease_holder(&self, id: CampaignId) -> Result<Option<String>, StoreError>;

    /// Sends `message` to every subscriber of `channel`, on every node; how many there were.
    async fn publish(&self, channel: &str, message: &str) -> Result<usize, StoreError>;

    /// The messages published on `channel` from the moment this returns, until the receiver is
    /// dropped. The subscription outlives store outages; what is published meanwhile is lost.
    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError>;

    /// Takes up to `wanted` tokens from the limiter `name` (created on first use): one limit
    /// shared by every node of the store, by the store's clock.
    async fn take_tokens(&self, name: &str, rate: Rate, wanted: u32) -> Result<Tokens, StoreError>;
}
