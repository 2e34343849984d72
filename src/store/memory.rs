//! The embedded store: every campaign behind its own lock, so each state change is one locked
//! step. It is the default backend and the reference the conformance suite checks others against.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use parking_lot::{Mutex, RwLock};

use super::rules::{self, QueueChange};
use super::{
    AddedContacts, CallDeadline, CallRef, CallResult, CallStats, Campaign, CampaignEdit,
    CampaignFilter, CampaignStore, ClaimBatch, ClaimedCall, Contact, Control, Fence,
    IDEMPOTENCY_PENDING_TTL, IDEMPOTENCY_TTL, Idempotency, IdempotencyLimits, Listing, NewContact,
    NodeBeat, OutboxEntry, Outcome, Page, Recorded, StoreError, StoredResponse, Subscription,
    Tokens,
};
use super::{
    CampaignEvent, ContactsPage, DeadLetter, OutboxLimits, QueueView, Relayed, RelayedEvent,
    StoredEvent,
};
use crate::domain::{
    CallId, CampaignId, CampaignSpec, CampaignStatus, Command, ContactId, ContactStatus, Gate,
    OrgId, PacingState, Rate, RetryDecision, SchedulePatch, gcra, transition,
};
use crate::telemetry::{IDEMPOTENCY_DROPPED, WEBHOOK_DEAD_LETTERS, WEBHOOK_DEAD_LETTERS_DROPPED};

/// How long a claimed call may stay without an outcome before recovery looks at it.
/// The in-memory store. Cheap to clone; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
    call_deadline: CallDeadline,
    idempotency_limits: IdempotencyLimits,
}

#[derive(Debug, Default)]
struct Inner {
    campaigns: RwLock<HashMap<CampaignId, Arc<Mutex<CampaignState>>>>,
    /// Each organisation's campaigns in creation order.
    by_org: RwLock<HashMap<OrgId, Vec<CampaignId>>>,
    ops: Mutex<Ops>,
    /// Organisations whose campaigns write webhook events.
    event_orgs: RwLock<HashSet<OrgId>>,
    /// Subscribers of each channel.
    channels: Mutex<HashMap<String, Vec<tokio::sync::mpsc::UnboundedSender<String>>>>,
}

/// Operations state: call ids, outboxes, idempotency keys, rate limiters. Its expiries run on
/// real time (they pace the process, not campaigns).
#[derive(Debug)]
struct Ops {
    epoch: Instant,
    calls: HashMap<CallId, (CallRef, Instant)>,
    /// Size of `calls` after the last sweep of expired entries.
    calls_swept: usize,
    outboxes: HashMap<OrgId, Outbox>,
    idempotency: IdempotencyKeys,
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
            idempotency: IdempotencyKeys::default(),
            limiters: HashMap::new(),
            locks: HashMap::new(),
            nodes: HashMap::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Outbox {
    next_seq: u64,
    entries: VecDeque<OutboxEntry>,
    /// The last event of each campaign moved here: a repeated move skips what it moved before.
    relayed: HashMap<CampaignId, u64>,
    dead: VecDeque<DeadLetter>,
}

impl Outbox {
    fn push(&mut self, id: String, at: DateTime<Utc>, body: Vec<u8>) {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.entries.push_back(OutboxEntry { seq, id, at, body });
    }

    fn bury(
        &mut self,
        entry: OutboxEntry,
        reason: &str,
        failed_at: DateTime<Utc>,
        limits: OutboxLimits,
    ) {
        self.dead.push_back(DeadLetter {
            id: entry.id,
            at: entry.at,
            failed_at,
            reason: reason.to_owned(),
            body: entry.body,
        });
        metrics::counter!(WEBHOOK_DEAD_LETTERS).increment(1);
        while self.dead.len() as u64 > limits.max_dead_letters {
            self.dead.pop_front();
            metrics::counter!(WEBHOOK_DEAD_LETTERS_DROPPED).increment(1);
        }
    }
}

/// The idempotency keys: each key's reservation or response, and two orders that keep the
/// work per request logarithmic: by expiry (the expired ones leave from the front) and, per
/// organisation, by when a response was kept (the oldest leave first past the budget).
#[derive(Debug, Default)]
struct IdempotencyKeys {
    entries: HashMap<(OrgId, String), Reservation>,
    by_expiry: BTreeSet<(Instant, u64)>,
    /// Entry number → its key, for both orders.
    numbered: HashMap<u64, (OrgId, String)>,
    /// Per organisation: bytes kept, and the entries kept in the order they were.
    kept: HashMap<OrgId, (usize, BTreeSet<u64>)>,
    next: u64,
}

#[derive(Debug)]
struct Reservation {
    number: u64,
    fingerprint: [u8; 32],
    response: Option<Kept>,
    expires: Instant,
}

#[derive(Debug, Clone)]
enum Kept {
    Response(StoredResponse),
    TooLarge,
}

impl IdempotencyKeys {
    /// Drops the entries whose time is up.
    fn sweep(&mut self, now: Instant) {
        while let Some(&(expires, number)) = self.by_expiry.first() {
            if expires > now {
                break;
            }
            self.by_expiry.pop_first();
            self.forget(number);
        }
    }

    fn forget(&mut self, number: u64) {
        let Some(slot) = self.numbered.remove(&number) else {
            return;
        };
        if let Some(reservation) = self.entries.remove(&slot) {
            self.by_expiry.remove(&(reservation.expires, number));
            if let Some(Kept::Response(response)) = reservation.response
                && let Some((bytes, order)) = self.kept.get_mut(&slot.0)
            {
                *bytes -= response.body.len();
                order.remove(&number);
            }
        }
    }

    fn begin(&mut self, slot: (OrgId, String), fingerprint: [u8; 32], now: Instant) -> Idempotency {
        self.sweep(now);
        match self.entries.get(&slot) {
            None => {
                self.next += 1;
                let number = self.next;
                let expires = now + IDEMPOTENCY_PENDING_TTL;
                self.by_expiry.insert((expires, number));
                self.numbered.insert(number, slot.clone());
                let reservation = Reservation {
                    number,
                    fingerprint,
                    response: None,
                    expires,
                };
                self.entries.insert(slot, reservation);
                Idempotency::Started
            }
            Some(reservation) if reservation.fingerprint != fingerprint => Idempotency::Conflict,
            Some(reservation) => match &reservation.response {
                Some(Kept::Response(response)) => Idempotency::Replay(response.clone()),
                Some(Kept::TooLarge) => Idempotency::NotKept,
                None => Idempotency::InProgress,
            },
        }
    }

    fn finish(
        &mut self,
        slot: &(OrgId, String),
        fingerprint: [u8; 32],
        response: StoredResponse,
        limits: IdempotencyLimits,
        now: Instant,
    ) {
        let Some(reservation) = self
            .entries
            .get_mut(slot)
            .filter(|reservation| reservation.fingerprint == fingerprint)
        else {
            return;
        };
        let number = reservation.number;
        self.by_expiry.remove(&(reservation.expires, number));
        reservation.expires = now + IDEMPOTENCY_TTL;
        self.by_expiry.insert((reservation.expires, number));
        let size = response.body.len();
        if size > limits.max_response_bytes {
            reservation.response = Some(Kept::TooLarge);
            metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "too_large").increment(1);
            return;
        }
        reservation.response = Some(Kept::Response(response));
        let (bytes, order) = self.kept.entry(slot.0.clone()).or_default();
        *bytes += size;
        order.insert(number);
        // The oldest go first; the one just kept stays, whatever its size.
        let mut evicted = Vec::new();
        while *bytes > limits.max_bytes_per_org
            && order.first().is_some_and(|&oldest| oldest != number)
            && let Some(oldest) = order.pop_first()
        {
            evicted.push(oldest);
            if let Some(Some(Kept::Response(response))) = self
                .numbered
                .get(&oldest)
                .and_then(|slot| self.entries.get(slot))
                .map(|reservation| &reservation.response)
            {
                *bytes -= response.body.len();
            }
        }
        for number in evicted {
            metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "budget").increment(1);
            // Already out of the organisation's order and bytes: only the entry goes.
            if let Some(slot) = self.numbered.remove(&number)
                && let Some(reservation) = self.entries.remove(&slot)
            {
                self.by_expiry.remove(&(reservation.expires, number));
            }
        }
    }

    fn abandon(&mut self, slot: &(OrgId, String)) {
        if let Some(reservation) = self
            .entries
            .get(slot)
            .filter(|reservation| reservation.response.is_none())
        {
            let number = reservation.number;
            self.forget(number);
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

/// A campaign's lease: the newest token, its owner, until when it holds (real time: leases
/// pace nodes, not campaigns).
#[derive(Debug)]
struct Lease {
    fence: Fence,
    owner: String,
    expires: Instant,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    attempt: u32,
    deadline: DateTime<Utc>,
}

/// The contacts never called, in insertion order: the sequences from `cursor` to `end`, and
/// those before the cursor that went back to the queue after a claim (`released`, served
/// first). A position in the queue is then a count of released ones and a subtraction, never a
/// walk of the queue.
#[derive(Debug, Default)]
struct FreshQueue {
    cursor: u32,
    end: u32,
    released: BTreeSet<u32>,
}

impl FreshQueue {
    /// Appends the next new contact (sequences come in order).
    fn push(&mut self, sequence: u32) {
        debug_assert_eq!(sequence, self.end);
        self.end = sequence + 1;
    }

    fn release(&mut self, sequence: u32) {
        self.released.insert(sequence);
    }

    fn pop_first(&mut self) -> Option<u32> {
        if let Some(sequence) = self.released.pop_first() {
            return Some(sequence);
        }
        (self.cursor < self.end).then(|| {
            self.cursor += 1;
            self.cursor - 1
        })
    }

    fn clear(&mut self) {
        self.cursor = self.end;
        self.released.clear();
    }

    fn is_empty(&self) -> bool {
        self.released.is_empty() && self.cursor == self.end
    }

    /// The queue position of `sequence`, if it waits for its first call.
    fn rank(&self, sequence: u32) -> Option<u64> {
        let released_ahead = self.released.range(..sequence).count() as u64;
        if self.released.contains(&sequence) {
            Some(released_ahead)
        } else if (self.cursor..self.end).contains(&sequence) {
            Some(self.released.len() as u64 + u64::from(sequence - self.cursor))
        } else {
            None
        }
    }
}

/// One campaign: its record, its contacts and its queue.
#[derive(Debug)]
struct CampaignState {
    campaign: Campaign,
    pacing: PacingState,
    /// Contacts by their insertion sequence.
    contacts: Vec<Contact>,
    phones: HashSet<String>,
    /// Contacts never called, in insertion order: due as soon as the gate opens.
    fresh: FreshQueue,
    /// Contacts to call again, by `(due time in ms, sequence)`.
    retries: BTreeSet<(i64, u32)>,
    in_flight: HashMap<u32, InFlight>,
    /// Calls claimed so far, for caller-id rotation.
    n_claims: u64,
    /// The newest lease.
    lease: Lease,
    stats: CallStats,
    /// Webhook events written by the steps, until they are relayed to the organisation's
    /// outbox (only while the organisation has webhooks).
    events: CampaignEvents,
}

#[derive(Debug, Default)]
struct CampaignEvents {
    /// This step writes events.
    on: bool,
    last_seq: u64,
    waiting: VecDeque<StoredEvent>,
}

impl CampaignEvents {
    fn push(&mut self, at: DateTime<Utc>, event: CampaignEvent) {
        if self.on {
            self.last_seq += 1;
            self.waiting.push_back(StoredEvent {
                seq: self.last_seq,
                at,
                event,
            });
        }
    }

    /// The status events of a step that moved the campaign from `from` to `to`.
    fn status(&mut self, at: DateTime<Utc>, from: CampaignStatus, to: CampaignStatus) {
        if from != to {
            self.push(at, CampaignEvent::StatusChanged { from, to });
            if to == CampaignStatus::Completed {
                self.push(at, CampaignEvent::Completed);
            }
        }
    }
}

impl CampaignState {
    fn set_status(&mut self, sequence: u32, status: ContactStatus) {
        let contact = &mut self.contacts[sequence as usize];
        self.campaign.counters.moved(contact.status, status);
        contact.status = status;
    }

    fn transition(&mut self, command: Command, now: DateTime<Utc>) -> Result<(), StoreError> {
        rules::move_status(&mut self.campaign, command, now)
    }

    /// Applies a change's effect on the waiting contacts.
    fn apply(&mut self, change: QueueChange) {
        let (from, to) = match change {
            QueueChange::None => return,
            QueueChange::Schedule => (ContactStatus::Pending, ContactStatus::Scheduled),
            QueueChange::Cancel => (ContactStatus::Scheduled, ContactStatus::Cancelled),
        };
        if change == QueueChange::Cancel {
            self.fresh.clear();
            self.retries.clear();
        }
        for sequence in 0..self.contacts.len() as u32 {
            let status = self.contacts[sequence as usize].status;
            if status == from || (change == QueueChange::Cancel && status == ContactStatus::Pending)
            {
                self.contacts[sequence as usize].scheduled_at = None;
                self.set_status(sequence, to);
            }
        }
    }

    fn add_contacts(&mut self, contacts: Vec<NewContact>) -> (std::ops::Range<u32>, AddedContacts) {
        let first = self.contacts.len() as u32;
        let mut result = AddedContacts::default();
        for (index, details) in contacts.into_iter().enumerate() {
            if !self.phones.insert(details.phone.as_str().to_owned()) {
                result
                    .skipped
                    .push((index, "duplicate phone number in this campaign".to_owned()));
                continue;
            }
            let id = rules::contact_id(self.campaign.id, self.contacts.len() as u32);
            self.contacts.push(Contact {
                id,
                details,
                status: ContactStatus::Pending,
                scheduled_at: None,
                attempts: 0,
                last_outcome: None,
                call_id: None,
                called_at: None,
            });
            self.fresh.push(self.contacts.len() as u32 - 1);
            self.campaign.counters.total += 1;
            self.campaign.counters.add(ContactStatus::Pending);
            result.added += 1;
        }
        (first..self.contacts.len() as u32, result)
    }

    fn has_waiting(&self) -> bool {
        !self.fresh.is_empty() || !self.retries.is_empty()
    }

    /// `active → completed` once no contact is waiting and no call is running.
    fn complete_if_done(&mut self, now: DateTime<Utc>) {
        let done = !self.has_waiting() && self.in_flight.is_empty();
        if done && self.campaign.status == CampaignStatus::Active {
            self.transition(Command::Complete, now)
                .expect("active campaigns can complete");
            let completed = CampaignStatus::Completed;
            self.events.status(now, CampaignStatus::Active, completed);
        }
    }

    /// Ends the calls whose outcome never came by their deadline as `unknown`: whether the
    /// contact was reached cannot be known, so it is never dialled again blindly.
    fn reconcile_expired(&mut self, now: DateTime<Utc>) {
        let expired: Vec<u32> = self
            .in_flight
            .iter()
            .filter(|(_, in_flight)| in_flight.deadline <= now)
            .map(|(&sequence, _)| sequence)
            .collect();
        for sequence in expired {
            self.in_flight.remove(&sequence);
            self.set_status(sequence, ContactStatus::Unknown);
        }
    }

    fn claim(
        &mut self,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        limit: u32,
    ) -> Vec<ClaimedCall> {
        let (status, Some(start)) = (self.campaign.status, self.campaign.starts_at) else {
            return Vec::new();
        };
        if !status.is_dispatching() {
            return Vec::new();
        }
        let schedule = &self.campaign.spec.schedule;
        let Gate::Open { max_calls } = schedule.gate(start, &self.pacing, now) else {
            return Vec::new();
        };
        let free = schedule
            .max_concurrent_calls
            .saturating_sub(self.in_flight.len() as u32);
        let n_wanted = limit.min(free).min(max_calls.unwrap_or(u32::MAX));
        let now_ms = now.timestamp_millis();
        let mut calls = Vec::new();
        // Retries that are due go first: they have waited their delay already.
        while calls.len() < n_wanted as usize {
            let Some(&(due_ms, sequence)) = self.retries.first() else {
                break;
            };
            if due_ms > now_ms {
                break;
            }
            self.retries.pop_first();
            calls.push(self.start_call(sequence, now, deadline));
        }
        while calls.len() < n_wanted as usize {
            let Some(sequence) = self.fresh.pop_first() else {
                break;
            };
            calls.push(self.start_call(sequence, now, deadline));
        }
        if !calls.is_empty() {
            let schedule = self.campaign.spec.schedule.clone();
            self.pacing
                .record_claims(&schedule, now, calls.len() as u32);
            if self.campaign.status == CampaignStatus::Scheduled {
                self.transition(Command::Activate, now)
                    .expect("scheduled campaigns can activate");
                let active = CampaignStatus::Active;
                self.events.status(now, CampaignStatus::Scheduled, active);
            }
            for call in &calls {
                self.events.push(
                    now,
                    CampaignEvent::CallStarted {
                        contact: call.contact_id,
                        attempt: call.attempt,
                        call_id: call.call_id,
                        phone: call.phone.clone(),
                    },
                );
            }
        }
        calls
    }

    fn start_call(
        &mut self,
        sequence: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> ClaimedCall {
        let call_id = CallId::random();
        let contact = &mut self.contacts[sequence as usize];
        if contact.attempts == 0 {
            self.campaign.counters.called += 1;
        }
        contact.attempts += 1;
        contact.call_id = Some(call_id);
        contact.called_at = Some(now);
        contact.scheduled_at = None;
        let attempt = contact.attempts;
        let variables = contact.details.variables();
        let call = ClaimedCall {
            campaign_id: self.campaign.id,
            contact_id: contact.id,
            call_id,
            attempt,
            phone: contact.details.phone.clone(),
            agent_id: self.campaign.spec.agent_id.clone(),
            caller_id: self
                .campaign
                .spec
                .caller_id(self.n_claims, rand::random())
                .map(str::to_owned),
            variables,
        };
        self.n_claims += 1;
        self.in_flight
            .insert(sequence, InFlight { attempt, deadline });
        self.set_status(sequence, ContactStatus::InProgress);
        call
    }

    /// When a claim could next succeed: `None` when nothing waits or every call slot is taken
    /// (an outcome will wake the dispatcher then).
    fn wake_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = self.campaign.starts_at?;
        let schedule = &self.campaign.spec.schedule;
        if !self.campaign.status.is_dispatching()
            || self.in_flight.len() as u32 >= schedule.max_concurrent_calls
        {
            return None;
        }
        let first_retry = self
            .retries
            .first()
            .map(|&(due_ms, _)| DateTime::from_timestamp_millis(due_ms).expect("a valid instant"));
        schedule.next_claim_at(
            start,
            &self.pacing,
            now,
            !self.fresh.is_empty(),
            first_retry,
        )
    }

    /// The next wake: a claim, or the deadline of a call whose outcome has not come.
    fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let first_deadline = self
            .in_flight
            .values()
            .map(|in_flight| in_flight.deadline)
            .min();
        self.wake_at(now).into_iter().chain(first_deadline).min()
    }

    /// The page of contacts as they are, with the queue position of each one never called:
    /// a copy, so that their due times are projected outside the campaign's lock.
    fn contacts_page(&self, status: Option<ContactStatus>, page_of: Page) -> ContactsPage {
        let limit = page_of.limit as usize;
        let matching: Box<dyn Iterator<Item = (usize, &Contact)>> = match status {
            // Without a filter the page starts at a known sequence.
            None => Box::new(
                self.contacts
                    .iter()
                    .enumerate()
                    .skip(page_of.offset.min(self.contacts.len() as u64) as usize),
            ),
            Some(status) => Box::new(
                self.contacts
                    .iter()
                    .enumerate()
                    .filter(move |(_, record)| record.status == status)
                    .skip(page_of.offset as usize),
            ),
        };
        let mut page = ContactsPage {
            items: Vec::new(),
            ranks: Vec::new(),
            queue: self.campaign.starts_at.map(|start| QueueView {
                schedule: self.campaign.spec.schedule.clone(),
                start,
                pacing: self.pacing,
            }),
        };
        for (sequence, record) in matching.take(limit) {
            let sequence = sequence as u32;
            if record.status == ContactStatus::Scheduled
                && let Some(rank) = self.fresh.rank(sequence)
            {
                page.ranks.push((page.items.len(), rank));
            }
            page.items.push(record.clone());
        }
        page
    }

    fn record(
        &mut self,
        contact: ContactId,
        attempt: u32,
        result: CallResult,
        now: DateTime<Utc>,
    ) -> Recorded {
        let Some(sequence) = rules::contact_sequence(self.campaign.id, contact) else {
            return Recorded::Duplicate;
        };
        match self.in_flight.get(&sequence) {
            Some(in_flight) if in_flight.attempt == attempt => {}
            _ => return Recorded::Duplicate,
        }
        self.in_flight.remove(&sequence);
        self.stats.record(result, now);
        let record = &mut self.contacts[sequence as usize];
        record.last_outcome = Some(result.outcome);
        let call_id = record.call_id;
        self.events.push(
            now,
            CampaignEvent::CallEnded {
                contact,
                attempt,
                call_id,
                result,
            },
        );
        let decision = self
            .campaign
            .spec
            .schedule
            .retry
            .decide(result.outcome, attempt);
        let decision = match (decision, self.campaign.status) {
            // Cancel ends the contacts that would have been called again.
            (RetryDecision::Retry, CampaignStatus::Cancelled) => {
                RetryDecision::Final(ContactStatus::Cancelled)
            }
            (decision, _) => decision,
        };
        match decision {
            RetryDecision::Retry => {
                let delay =
                    Duration::minutes(i64::from(self.campaign.spec.schedule.retry.delay_minutes));
                let schedule = &self.campaign.spec.schedule;
                let due = schedule.slot_at_or_after(&self.pacing, now + delay);
                self.set_status(sequence, ContactStatus::Scheduled);
                self.contacts[sequence as usize].scheduled_at = Some(due);
                self.retries.insert((due.timestamp_millis(), sequence));
            }
            RetryDecision::Final(status) => self.set_status(sequence, status),
        }
        self.campaign.updated_at = now;
        self.complete_if_done(now);
        Recorded::Applied {
            status: self.campaign.status,
            in_flight: self.in_flight.len() as u32,
        }
    }
}

#[async_trait]
impl CampaignStore for MemoryStore {
    async fn create_campaign(
        &self,
        org: &OrgId,
        spec: CampaignSpec,
        contacts: Vec<NewContact>,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, AddedContacts), StoreError> {
        let id = CampaignId::random();
        let mut state = CampaignState {
            campaign: Campaign::draft(id, org.clone(), spec, now),
            pacing: PacingState::default(),
            contacts: Vec::with_capacity(contacts.len()),
            phones: HashSet::with_capacity(contacts.len()),
            fresh: FreshQueue::default(),
            retries: BTreeSet::new(),
            in_flight: HashMap::new(),
            n_claims: 0,
            lease: Lease {
                fence: Fence(0),
                owner: String::new(),
                expires: Instant::now(),
            },
            stats: CallStats::default(),
            events: CampaignEvents::default(),
        };
        let (_, added) = state.add_contacts(contacts);
        let campaign = state.campaign.clone();
        self.inner
            .campaigns
            .write()
            .insert(id, Arc::new(Mutex::new(state)));
        self.inner
            .by_org
            .write()
            .entry(org.clone())
            .or_default()
            .push(id);
        Ok((campaign, added))
    }

    async fn campaign(&self, org: &OrgId, id: CampaignId) -> Result<Campaign, StoreError> {
        self.with_campaign(org, id, |state| Ok(state.campaign.clone()))
    }

    async fn list_campaigns(
        &self,
        org: &OrgId,
        filter: &CampaignFilter,
        page_of: Page,
    ) -> Result<Listing<Campaign>, StoreError> {
        let ids = self
            .inner
            .by_org
            .read()
            .get(org)
            .cloned()
            .unwrap_or_default();
        // Every campaign is looked at (for the total), only the page's are copied.
        let (mut total, mut items) = (0u64, Vec::new());
        for &id in ids.iter().rev() {
            let campaign = self.with_campaign(org, id, |state| {
                let wanted = filter.matches(&state.campaign);
                let in_page =
                    wanted && total >= page_of.offset && items.len() < page_of.limit as usize;
                Ok((wanted, in_page.then(|| state.campaign.clone())))
            });
            if let Ok((wanted, copy)) = campaign {
                total += u64::from(wanted);
                items.extend(copy);
            }
        }
        Ok(Listing { items, total })
    }

    async fn edit_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        edit: CampaignEdit,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        self.with_campaign(org, id, |state| {
            self.events_on(state);
            let before = state.campaign.status;
            rules::edit(&mut state.campaign, &mut state.pacing, edit, now)?;
            state.events.status(now, before, state.campaign.status);
            Ok(state.campaign.clone())
        })
    }

    async fn schedule_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        patch: SchedulePatch,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        self.with_campaign(org, id, |state| {
            self.events_on(state);
            let before = state.campaign.status;
            rules::schedule(&mut state.campaign, &mut state.pacing, &patch, now)?;
            state.apply(QueueChange::Schedule);
            state.events.status(now, before, state.campaign.status);
            Ok(state.campaign.clone())
        })
    }

    async fn control(
        &self,
        org: &OrgId,
        id: CampaignId,
        control: Control,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        self.with_campaign(org, id, |state| {
            self.events_on(state);
            let before = state.campaign.status;
            let change = rules::control(&mut state.campaign, &mut state.pacing, control, now)?;
            state.apply(change);
            state.events.status(now, before, state.campaign.status);
            state.complete_if_done(now);
            Ok(state.campaign.clone())
        })
    }

    async fn add_contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        contacts: Vec<NewContact>,
        now: DateTime<Utc>,
    ) -> Result<AddedContacts, StoreError> {
        self.with_campaign(org, id, |state| {
            transition(state.campaign.status, Command::AddContacts)?;
            let (sequences, added) = state.add_contacts(contacts);
            if state.campaign.status != CampaignStatus::Draft {
                for sequence in sequences {
                    state.set_status(sequence, ContactStatus::Scheduled);
                }
            }
            state.campaign.updated_at = now;
            Ok(added)
        })
    }

    async fn contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        status: Option<ContactStatus>,
        page_of: Page,
        now: DateTime<Utc>,
    ) -> Result<Listing<Contact>, StoreError> {
        let (page, total) = self.with_campaign(org, id, |state| {
            let total = status.map_or(state.campaign.counters.total, |s| {
                state.campaign.counters.of(s)
            });
            Ok((state.contacts_page(status, page_of), total))
        })?;
        let items = super::project_off_thread(move || page.project(now)).await?;
        Ok(Listing { items, total })
    }

    async fn delete_campaign(&self, org: &OrgId, id: CampaignId) -> Result<(), StoreError> {
        // Hold the campaign map's write lock across the check so no step can slip in between.
        let mut campaigns = self.inner.campaigns.write();
        let state = campaigns.get(&id).ok_or(StoreError::NotFound)?.clone();
        let state = state.lock();
        if state.campaign.org != *org {
            return Err(StoreError::NotFound);
        }
        transition(state.campaign.status, Command::Delete)?;
        campaigns.remove(&id);
        if let Some(ids) = self.inner.by_org.write().get_mut(org) {
            ids.retain(|other| *other != id);
        }
        Ok(())
    }

    async fn acquire_lease(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Fence>, StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        let now = Instant::now();
        let lease = &mut state.lease;
        if lease.expires > now {
            if lease.owner != owner {
                return Ok(None);
            }
            lease.expires = now + ttl;
            return Ok(Some(lease.fence));
        }
        *lease = Lease {
            fence: Fence(lease.fence.0 + 1),
            owner: owner.to_owned(),
            expires: now + ttl,
        };
        Ok(Some(lease.fence))
    }

    async fn renew_leases(
        &self,
        owner: &str,
        leases: &[(CampaignId, Fence)],
        ttl: std::time::Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let now = Instant::now();
        let renew = |&(id, fence): &(CampaignId, Fence)| {
            let Ok(state) = self.state(id) else {
                return false;
            };
            let lease = &mut state.lock().lease;
            let ours = lease.fence == fence && lease.owner == owner && lease.expires > now;
            if ours {
                lease.expires = now + ttl;
            }
            ours
        };
        Ok(leases.iter().map(renew).collect())
    }

    async fn release_lease(
        &self,
        id: CampaignId,
        owner: &str,
        fence: Fence,
    ) -> Result<(), StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        if state.lease.fence == fence && state.lease.owner == owner {
            state.lease.expires = Instant::now();
        }
        Ok(())
    }

    async fn claim_due(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<ClaimBatch, StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        if state.lease.fence != fence {
            return Err(StoreError::StaleLease);
        }
        self.events_on(&mut state);
        state.reconcile_expired(now);
        let calls = state.claim(now, now + self.call_deadline.0, limit);
        state.complete_if_done(now);
        Ok(ClaimBatch {
            org: state.campaign.org.clone(),
            calls,
            status: state.campaign.status,
            wake_at: state.next_wake(now),
            in_flight: state.in_flight.len() as u32,
            events: state.events.waiting.len() as u64,
        })
    }

    async fn record_outcomes(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        self.events_on(&mut state);
        Ok(outcomes
            .iter()
            .map(|outcome| state.record(outcome.contact, outcome.attempt, outcome.result, now))
            .collect())
    }

    async fn release_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
    ) -> Result<(), StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        let Some(sequence) = rules::contact_sequence(state.campaign.id, contact) else {
            return Ok(());
        };
        if state
            .in_flight
            .get(&sequence)
            .is_none_or(|in_flight| in_flight.attempt != attempt)
        {
            return Ok(());
        }
        state.in_flight.remove(&sequence);
        let record = &mut state.contacts[sequence as usize];
        record.attempts -= 1;
        record.call_id = None;
        let first_attempt = record.attempts == 0;
        let due_ms = record
            .called_at
            .map_or(0, |called_at| called_at.timestamp_millis());
        if first_attempt {
            record.called_at = None;
            state.campaign.counters.called -= 1;
        }
        if state.campaign.status == CampaignStatus::Cancelled {
            state.set_status(sequence, ContactStatus::Cancelled);
        } else {
            state.set_status(sequence, ContactStatus::Scheduled);
            if first_attempt {
                state.fresh.release(sequence);
            } else {
                state.retries.insert((due_ms, sequence));
            }
        }
        Ok(())
    }

    async fn calls_in_flight(
        &self,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedCall>, StoreError> {
        let state = self.state(id)?;
        let state = state.lock();
        let mut calls: Vec<ClaimedCall> = state
            .in_flight
            .iter()
            .filter(|(_, in_flight)| in_flight.deadline > now)
            .filter_map(|(&sequence, in_flight)| {
                let contact = &state.contacts[sequence as usize];
                Some(ClaimedCall {
                    campaign_id: id,
                    contact_id: contact.id,
                    call_id: contact.call_id?,
                    attempt: in_flight.attempt,
                    phone: contact.details.phone.clone(),
                    agent_id: state.campaign.spec.agent_id.clone(),
                    caller_id: state
                        .campaign
                        .spec
                        .caller_id(u64::from(sequence), rand::random())
                        .map(str::to_owned),
                    variables: contact.details.variables(),
                })
            })
            .collect();
        calls.sort_by_key(|call| call.contact_id);
        Ok(calls)
    }

    async fn live_campaigns(&self) -> Result<Vec<CampaignId>, StoreError> {
        let campaigns = self.inner.campaigns.read();
        Ok(campaigns
            .iter()
            .filter(|(_, state)| {
                let state = state.lock();
                !state.campaign.status.is_terminal()
                    && state.campaign.status != CampaignStatus::Draft
                    || !state.in_flight.is_empty()
                    || !state.events.waiting.is_empty()
            })
            .map(|(&id, _)| id)
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Live campaigns are found from their state here: nothing to drop.
    async fn unlist(&self, _id: CampaignId) -> Result<(), StoreError> {
        Ok(())
    }

    fn record_events_for(&self, orgs: HashSet<OrgId>) {
        *self.inner.event_orgs.write() = orgs;
    }

    async fn call_stats(&self, org: &OrgId, id: CampaignId) -> Result<CallStats, StoreError> {
        self.with_campaign(org, id, |state| Ok(state.stats.clone()))
    }

    async fn index_calls(&self, calls: &[(CallId, CallRef)]) -> Result<(), StoreError> {
        let keep = self.call_deadline.0.to_std().unwrap_or_default() + CALL_INDEX_MARGIN;
        let now = Instant::now();
        let mut ops = self.inner.ops.lock();
        ops.calls.extend(
            calls
                .iter()
                .map(|&(call, call_ref)| (call, (call_ref, now + keep))),
        );
        // Sweep expired entries whenever the index doubled since the last sweep.
        if ops.calls.len() > 2 * ops.calls_swept.max(1024) {
            ops.calls.retain(|_, (_, expires)| *expires > now);
            ops.calls_swept = ops.calls.len();
        }
        Ok(())
    }

    async fn find_call(&self, call: CallId) -> Result<Option<CallRef>, StoreError> {
        let ops = self.inner.ops.lock();
        Ok(ops
            .calls
            .get(&call)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|&(call_ref, _)| call_ref))
    }

    async fn campaign_events(
        &self,
        id: CampaignId,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let state = self.state(id)?;
        let state = state.lock();
        Ok(state
            .events
            .waiting
            .iter()
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn relay_events(
        &self,
        org: &OrgId,
        id: CampaignId,
        events: Vec<RelayedEvent>,
        limits: OutboxLimits,
        now: DateTime<Utc>,
    ) -> Result<Relayed, StoreError> {
        let Some(last) = events.last().map(|event| event.seq) else {
            return Ok(Relayed::default());
        };
        let mut relayed = Relayed::default();
        {
            let mut ops = self.inner.ops.lock();
            let outbox = ops.outboxes.entry(org.clone()).or_default();
            let moved = outbox.relayed.get(&id).copied().unwrap_or(0);
            for event in events.into_iter().filter(|event| event.seq > moved) {
                outbox.push(event.id, event.at, event.body);
            }
            outbox.relayed.insert(id, moved.max(last));
            while outbox.entries.len() as u64 > limits.max_outbox {
                let oldest = outbox.entries.pop_front().expect("a full outbox");
                outbox.bury(oldest, "the outbox was full", now, limits);
                relayed.overflowed += 1;
            }
        }
        if let Ok(state) = self.state(id) {
            let mut state = state.lock();
            while state
                .events
                .waiting
                .front()
                .is_some_and(|event| event.seq <= last)
            {
                state.events.waiting.pop_front();
            }
            relayed.left = state.events.waiting.len() as u64;
        }
        Ok(relayed)
    }

    async fn outbox(&self, org: &OrgId, limit: u32) -> Result<(Vec<OutboxEntry>, u64), StoreError> {
        let ops = self.inner.ops.lock();
        Ok(ops.outboxes.get(org).map_or_else(
            || (Vec::new(), 0),
            |outbox| {
                let entries = outbox
                    .entries
                    .iter()
                    .take(limit as usize)
                    .cloned()
                    .collect();
                (entries, outbox.entries.len() as u64)
            },
        ))
    }

    async fn ack_outbox(&self, org: &OrgId, seq: u64) -> Result<(), StoreError> {
        let mut ops = self.inner.ops.lock();
        if let Some(outbox) = ops.outboxes.get_mut(org) {
            while outbox.entries.front().is_some_and(|entry| entry.seq <= seq) {
                outbox.entries.pop_front();
            }
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        org: &OrgId,
        seq: u64,
        reason: &str,
        failed_at: DateTime<Utc>,
        limits: OutboxLimits,
    ) -> Result<(), StoreError> {
        let mut ops = self.inner.ops.lock();
        if let Some(outbox) = ops.outboxes.get_mut(org)
            && let Some(at) = outbox.entries.iter().position(|entry| entry.seq == seq)
        {
            let entry = outbox.entries.remove(at).expect("found");
            outbox.bury(entry, reason, failed_at, limits);
        }
        Ok(())
    }

    async fn dead_letters(
        &self,
        org: &OrgId,
        page: Page,
    ) -> Result<Listing<DeadLetter>, StoreError> {
        let ops = self.inner.ops.lock();
        Ok(ops.outboxes.get(org).map_or_else(
            || Listing {
                items: Vec::new(),
                total: 0,
            },
            |outbox| Listing {
                items: outbox
                    .dead
                    .iter()
                    .skip(page.offset.min(usize::MAX as u64) as usize)
                    .take(page.limit as usize)
                    .cloned()
                    .collect(),
                total: outbox.dead.len() as u64,
            },
        ))
    }

    async fn replay_dead_letters(
        &self,
        org: &OrgId,
        ids: Option<Vec<String>>,
    ) -> Result<u64, StoreError> {
        let mut ops = self.inner.ops.lock();
        let Some(outbox) = ops.outboxes.get_mut(org) else {
            return Ok(0);
        };
        let wanted: Option<HashSet<String>> = ids.map(|ids| ids.into_iter().collect());
        let (replayed, kept): (Vec<DeadLetter>, Vec<DeadLetter>) = outbox
            .dead
            .drain(..)
            .partition(|letter| wanted.as_ref().is_none_or(|ids| ids.contains(&letter.id)));
        outbox.dead = kept.into();
        let n_replayed = replayed.len() as u64;
        for letter in replayed {
            outbox.push(letter.id, letter.at, letter.body);
        }
        Ok(n_replayed)
    }

    async fn begin_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
    ) -> Result<Idempotency, StoreError> {
        let mut ops = self.inner.ops.lock();
        let slot = (org.clone(), key.to_owned());
        Ok(ops.idempotency.begin(slot, fingerprint, Instant::now()))
    }

    async fn finish_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let mut ops = self.inner.ops.lock();
        let slot = (org.clone(), key.to_owned());
        let limits = self.idempotency_limits;
        ops.idempotency
            .finish(&slot, fingerprint, response, limits, Instant::now());
        Ok(())
    }

    async fn abandon_idempotent(&self, org: &OrgId, key: &str) -> Result<(), StoreError> {
        let mut ops = self.inner.ops.lock();
        ops.idempotency.abandon(&(org.clone(), key.to_owned()));
        Ok(())
    }

    async fn hold_lock(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut ops = self.inner.ops.lock();
        let held_by_other = ops
            .locks
            .get(name)
            .is_some_and(|(holder, expires)| holder != owner && *expires > now);
        if held_by_other {
            return Ok(false);
        }
        ops.locks
            .insert(name.to_owned(), (owner.to_owned(), now + ttl));
        Ok(true)
    }

    async fn heartbeat(
        &self,
        node: &str,
        n_held: usize,
        ttl: std::time::Duration,
    ) -> Result<Vec<NodeBeat>, StoreError> {
        let now = Instant::now();
        let mut ops = self.inner.ops.lock();
        ops.nodes.insert(node.to_owned(), (now + ttl, n_held));
        ops.nodes.retain(|_, (until, _)| *until > now);
        Ok(ops
            .nodes
            .iter()
            .map(|(node, &(_, n_held))| NodeBeat {
                node: node.clone(),
                n_held,
            })
            .collect())
    }

    async fn unleased(&self, ids: &[CampaignId]) -> Result<Vec<CampaignId>, StoreError> {
        let now = Instant::now();
        Ok(ids
            .iter()
            .copied()
            .filter(|&id| {
                self.state(id)
                    .is_ok_and(|state| state.lock().lease.expires <= now)
            })
            .collect())
    }

    async fn lease_holder(&self, id: CampaignId) -> Result<Option<String>, StoreError> {
        let state = self.state(id)?;
        let state = state.lock();
        Ok((state.lease.expires > Instant::now()).then(|| state.lease.owner.clone()))
    }

    async fn publish(&self, channel: &str, message: &str) -> Result<usize, StoreError> {
        let mut channels = self.inner.channels.lock();
        let Some(subscribers) = channels.get_mut(channel) else {
            return Ok(0);
        };
        subscribers.retain(|subscriber| subscriber.send(message.to_owned()).is_ok());
        Ok(subscribers.len())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.inner
            .channels
            .lock()
            .entry(channel.to_owned())
            .or_default()
            .push(sender);
        Ok(receiver)
    }

    async fn take_tokens(&self, name: &str, rate: Rate, wanted: u32) -> Result<Tokens, StoreError> {
        let mut ops = self.inner.ops.lock();
        let now_us = ops.epoch.elapsed().as_micros() as i64;
        let tat = ops.limiters.get(name).copied().unwrap_or(0);
        let grant = gcra::take(rate, tat, now_us, wanted);
        ops.limiters.insert(name.to_owned(), grant.tat_us);
        Ok(Tokens {
            granted: grant.granted,
            wait: std::time::Duration::from_micros(grant.wait_us as u64),
        })
    }
}

/// How long a call id stays findable after its call deadline.
pub(super) const CALL_INDEX_MARGIN: std::time::Duration = std::time::Duration::from_secs(3600);
