//! Campaigns and their contacts: create, read, list, edit, schedule, control, add contacts,
//! list contacts (their due times projected), delete, call statistics.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{CallResult, StoreError};
use crate::domain::{
    CallId, CampaignId, CampaignSpec, CampaignStatus, ContactId, ContactStatus, DialOutcome,
    HeldReason, OrgId, PhoneNumber, PhoneRotation, SchedulePatch, SkipReason,
};

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
    /// Its number was on the organisation's do-not-call list when it was added: it is added
    /// `skipped` (`dnc`), never queued.
    pub listed: bool,
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
            listed: false,
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
    /// Why it waits, when a rule put it back (its `scheduled_at` is then when every rule is
    /// next open).
    pub held_reason: Option<HeldReason>,
    /// Why it ended `skipped`.
    pub skip_reason: Option<SkipReason>,
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

/// The Unix hour (hours since the epoch, UTC) of an instant.
pub fn unix_hour(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
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

/// Campaigns and their contacts, per organisation: every method that changes state is one atomic
/// step that checks what it needs (status, membership) and writes, or changes nothing and says
/// why.
#[async_trait]
pub trait Campaigns: Send + Sync + std::fmt::Debug + 'static {
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

    /// Puts the campaign's final contacts whose last call ended with one of `outcomes` (and,
    /// with `include_unknown`, those `unknown`) back in the queue, due at `now`; their attempts
    /// go on from the last. A `completed` campaign with contacts put back is `active` again.
    /// How many were put back, and the campaign after.
    async fn requeue(
        &self,
        org: &OrgId,
        id: CampaignId,
        outcomes: &[DialOutcome],
        include_unknown: bool,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, u64), StoreError>;

    /// Calls `contact` back: a new attempt due at the first instant at or after `at` that its
    /// callee gate allows (`rules::callback_due`), held meanwhile as `callback_pending`, within
    /// the campaign's `max_callbacks` for it. Only a contact called before and now waiting or
    /// finished (`completed`, `failed`, `unknown`) can be; a `completed` campaign is `active`
    /// again. When it is due.
    async fn set_callback(
        &self,
        org: &OrgId,
        id: CampaignId,
        contact: ContactId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError>;

    async fn delete_campaign(&self, org: &OrgId, id: CampaignId) -> Result<(), StoreError>;

    /// The campaign's call statistics (outcomes, durations, calls per hour).
    async fn call_stats(&self, org: &OrgId, id: CampaignId) -> Result<CallStats, StoreError>;
}
