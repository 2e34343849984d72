//! One campaign's state behind its lock: its queues, calls in flight, pacing and events, and
//! the steps that change them (each called under the lock, so each is atomic).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::leases::Lease;
use crate::domain::{
    CallId, CallSafety, CampaignStatus, Command, ContactId, ContactStatus, DialOutcome, HeldReason,
    PacingState, RetryDecision, SkipReason, partition_key,
};
use crate::store::rules::{self, QueueChange};
use crate::store::rules::{PartitionGate, PartitionVerdict};
use crate::store::{
    AddedContacts, CallResult, CallStats, Campaign, CampaignEvent, ClaimedCall, Contact,
    ContactsPage, NewContact, Page, QueueView, Recorded, StoreError, StoredEvent,
};

#[derive(Debug, Clone, Copy)]
pub(super) struct InFlight {
    pub(super) attempt: u32,
    pub(super) deadline: DateTime<Utc>,
}

/// The contacts never called, in insertion order: the sequences from `cursor` to `end`, and
/// those before the cursor that went back to the queue after a claim (`released`, served
/// first). A position in the queue is then a count of released ones and a subtraction, never a
/// walk of the queue.
#[derive(Debug, Default)]
pub(super) struct FreshQueue {
    pub(super) cursor: u32,
    pub(super) end: u32,
    pub(super) released: BTreeSet<u32>,
}

impl FreshQueue {
    /// Appends the next new contact (sequences come in order).
    pub(super) fn push(&mut self, sequence: u32) {
        debug_assert_eq!(sequence, self.end);
        self.end = sequence + 1;
    }

    pub(super) fn release(&mut self, sequence: u32) {
        self.released.insert(sequence);
    }

    pub(super) fn pop_first(&mut self) -> Option<u32> {
        if let Some(sequence) = self.released.pop_first() {
            return Some(sequence);
        }
        (self.cursor < self.end).then(|| {
            self.cursor += 1;
            self.cursor - 1
        })
    }

    pub(super) fn clear(&mut self) {
        self.cursor = self.end;
        self.released.clear();
    }

    pub(super) fn is_empty(&self) -> bool {
        self.released.is_empty() && self.cursor == self.end
    }

    pub(super) fn len(&self) -> u64 {
        self.released.len() as u64 + u64::from(self.end - self.cursor)
    }

    /// The queue position of `sequence`, if it waits for its first call.
    pub(super) fn rank(&self, sequence: u32) -> Option<u64> {
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
pub(super) struct CampaignState {
    pub(super) campaign: Campaign,
    pub(super) pacing: PacingState,
    /// Contacts by their insertion sequence.
    pub(super) contacts: Vec<Contact>,
    pub(super) phones: HashSet<String>,
    /// Contacts never called, in insertion order: due as soon as the gate opens.
    pub(super) fresh: FreshQueue,
    /// Contacts to call again, by `(due time in ms, sequence)`.
    pub(super) retries: BTreeSet<(i64, u32)>,
    pub(super) in_flight: HashMap<u32, InFlight>,
    /// Each contact's queue partition (an index into `partitions`).
    pub(super) partition_of: Vec<u32>,
    /// The partition keys (`domain::partition_key`); partition 0 is the empty key.
    pub(super) partitions: Vec<String>,
    /// Calls claimed so far, for caller-id rotation.
    pub(super) n_claims: u64,
    /// The newest lease.
    pub(super) lease: Lease,
    pub(super) stats: CallStats,
    /// Webhook events written by the steps, until they are relayed to the organisation's
    /// outbox (only while the organisation has webhooks).
    pub(super) events: CampaignEvents,
    /// Callbacks set per contact (by sequence), against `max_callbacks`.
    pub(super) callbacks: HashMap<u32, u32>,
}

#[derive(Debug, Default)]
pub(super) struct CampaignEvents {
    /// This step writes events.
    pub(super) on: bool,
    pub(super) last_seq: u64,
    pub(super) waiting: VecDeque<StoredEvent>,
}

impl CampaignEvents {
    pub(super) fn push(&mut self, at: DateTime<Utc>, event: CampaignEvent) {
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
    pub(super) fn status(&mut self, at: DateTime<Utc>, from: CampaignStatus, to: CampaignStatus) {
        if from != to {
            self.push(at, CampaignEvent::StatusChanged { from, to });
            if to == CampaignStatus::Completed {
                self.push(at, CampaignEvent::Completed);
            }
        }
    }
}

impl CampaignState {
    pub(super) fn set_status(&mut self, sequence: u32, status: ContactStatus) {
        let contact = &mut self.contacts[sequence as usize];
        self.campaign.counters.moved(contact.status, status);
        contact.status = status;
    }

    pub(super) fn transition(
        &mut self,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        rules::move_status(&mut self.campaign, command, now)
    }

    /// Applies a change's effect on the waiting contacts.
    pub(super) fn apply(&mut self, change: QueueChange) {
        let (from, to) = match change {
            QueueChange::None => return,
            QueueChange::Schedule => (ContactStatus::Pending, ContactStatus::Scheduled),
            QueueChange::Cancel => (ContactStatus::Scheduled, ContactStatus::Cancelled),
            QueueChange::Expire => (ContactStatus::Scheduled, ContactStatus::Expired),
        };
        let ends_all = matches!(change, QueueChange::Cancel | QueueChange::Expire);
        if ends_all {
            self.fresh.clear();
            self.retries.clear();
        }
        for sequence in 0..self.contacts.len() as u32 {
            let status = self.contacts[sequence as usize].status;
            if status == from || (ends_all && status == ContactStatus::Pending) {
                let contact = &mut self.contacts[sequence as usize];
                contact.scheduled_at = None;
                contact.held_reason = None;
                if to == ContactStatus::Expired {
                    contact.skip_reason = Some(SkipReason::Expired);
                }
                self.set_status(sequence, to);
            }
        }
    }

    pub(super) fn add_contacts(
        &mut self,
        contacts: Vec<NewContact>,
    ) -> (std::ops::Range<u32>, AddedContacts) {
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
            let key = partition_key(details.timezone, &details.phone);
            let partition = match self.partitions.iter().position(|known| *known == key) {
                Some(index) => index as u32,
                None => {
                    self.partitions.push(key);
                    self.partitions.len() as u32 - 1
                }
            };
            self.partition_of.push(partition);
            let listed = details.listed;
            let status = if listed {
                ContactStatus::Skipped
            } else {
                ContactStatus::Pending
            };
            self.contacts.push(Contact {
                id,
                details,
                status,
                scheduled_at: None,
                attempts: 0,
                last_outcome: None,
                call_id: None,
                called_at: None,
                held_reason: None,
                skip_reason: listed.then_some(SkipReason::Dnc),
            });
            // In the queue like every new contact (a claim passes over it), as on Redis.
            self.fresh.push(self.contacts.len() as u32 - 1);
            self.campaign.counters.total += 1;
            self.campaign.counters.add(status);
            result.added += 1;
        }
        (first..self.contacts.len() as u32, result)
    }

    pub(super) fn has_waiting(&self) -> bool {
        !self.fresh.is_empty() || !self.retries.is_empty()
    }

    /// `active → completed` once no contact is waiting and no call is running.
    pub(super) fn complete_if_done(&mut self, now: DateTime<Utc>) {
        let status = self.campaign.status;
        if status.completes(self.has_waiting(), self.in_flight.len()) {
            self.transition(Command::Complete, now)
                .expect("active campaigns can complete");
            let completed = CampaignStatus::Completed;
            self.events.status(now, CampaignStatus::Active, completed);
        }
    }

    /// Ends the calls whose outcome never came by their deadline as `unknown`: whether the
    /// contact was reached cannot be known, so it is never dialled again blindly.
    pub(super) fn reconcile_expired(&mut self, now: DateTime<Utc>) {
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

    /// Claims contact `sequence` when its callee gate is open; else puts it back (held until
    /// its partition opens, or skipped) and returns the verdict that did.
    fn take(
        &mut self,
        gate: &mut PartitionGate<'_>,
        sequence: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> Result<ClaimedCall, PartitionVerdict> {
        let partition = self.partition_of[sequence as usize];
        let key = &self.partitions[partition as usize];
        match gate.decide(&self.campaign, partition, key) {
            PartitionVerdict::Open(not_after) => {
                Ok(self.start_call(sequence, now, deadline, Some(not_after)))
            }
            verdict @ PartitionVerdict::Held(reason, until) => {
                self.park(sequence, reason, until);
                Err(verdict)
            }
            verdict @ PartitionVerdict::Skip(reason) => {
                self.skip(sequence, reason);
                Err(verdict)
            }
        }
    }

    /// Puts a contact whose callee gate is closed back to wait until `until`, with its reason;
    /// nothing about its calls changes.
    pub(super) fn park(&mut self, sequence: u32, reason: HeldReason, until: DateTime<Utc>) {
        let contact = &mut self.contacts[sequence as usize];
        contact.held_reason = Some(reason);
        contact.scheduled_at = Some(until);
        self.retries.insert((until.timestamp_millis(), sequence));
    }

    /// After an edit: the contacts never called that a claim held back are due when the new
    /// rules next open for them (as the Redis store moves its held lists' due members).
    pub(super) fn reschedule_held(&mut self, safety: &CallSafety, now: DateTime<Utc>) {
        let held: Vec<(i64, u32)> = self
            .retries
            .iter()
            .filter(|&&(_, sequence)| {
                // Held by the callee gate (a frequency cap's hold is its number's, not the rules').
                let contact = &self.contacts[sequence as usize];
                contact.attempts == 0
                    && contact
                        .held_reason
                        .is_some_and(|reason| reason != HeldReason::FrequencyCap)
            })
            .copied()
            .collect();
        let mut by_partition = HashMap::new();
        for (due_ms, sequence) in held {
            let partition = self.partition_of[sequence as usize];
            let (due, why) = *by_partition.entry(partition).or_insert_with(|| {
                let key = &self.partitions[partition as usize];
                rules::held_until_after_edit(safety, &self.campaign, key, now)
            });
            self.retries.remove(&(due_ms, sequence));
            self.retries.insert((due.timestamp_millis(), sequence));
            let contact = &mut self.contacts[sequence as usize];
            contact.scheduled_at = Some(due);
            if let Some(why) = why {
                contact.held_reason = Some(why);
            }
        }
    }

    /// Puts the final contacts whose last outcome is one of `outcomes` (and the `unknown` ones,
    /// with `include_unknown`) back in the queue, due at `now`; how many.
    pub(super) fn requeue(
        &mut self,
        outcomes: &[DialOutcome],
        include_unknown: bool,
        now: DateTime<Utc>,
    ) -> u64 {
        let mut n = 0;
        for sequence in 0..self.contacts.len() as u32 {
            let contact = &self.contacts[sequence as usize];
            let wanted = match contact.status {
                ContactStatus::Completed | ContactStatus::Failed => contact
                    .last_outcome
                    .is_some_and(|outcome| outcomes.contains(&outcome)),
                ContactStatus::Unknown => include_unknown,
                _ => false,
            };
            if wanted {
                self.set_status(sequence, ContactStatus::Scheduled);
                let contact = &mut self.contacts[sequence as usize];
                contact.held_reason = None;
                contact.scheduled_at = Some(now);
                self.retries.insert((now.timestamp_millis(), sequence));
                n += 1;
            }
        }
        n
    }

    /// Makes contact `sequence` (called before) due again at `due`, held meanwhile as a
    /// callback.
    pub(super) fn call_back(&mut self, sequence: u32, due: DateTime<Utc>) {
        let contact = &self.contacts[sequence as usize];
        if contact.status == ContactStatus::Scheduled {
            let old = contact.scheduled_at.map_or(0, |at| at.timestamp_millis());
            self.retries.remove(&(old, sequence));
        }
        self.set_status(sequence, ContactStatus::Scheduled);
        self.park(sequence, HeldReason::CallbackPending, due);
    }

    /// Ends a waiting contact `skipped`, for `reason`.
    pub(super) fn skip(&mut self, sequence: u32, reason: SkipReason) {
        let contact = &mut self.contacts[sequence as usize];
        contact.skip_reason = Some(reason);
        contact.held_reason = None;
        contact.scheduled_at = None;
        self.set_status(sequence, ContactStatus::Skipped);
    }

    /// Claims up to `limit` contacts; returns the calls, and the contacts the callee gate put
    /// back (one entry each, with its partition's verdict).
    pub(super) fn claim(
        &mut self,
        now: DateTime<Utc>,
        ahead: Duration,
        deadline: DateTime<Utc>,
        limit: u32,
        safety: &CallSafety,
    ) -> (Vec<ClaimedCall>, Vec<(PartitionVerdict, u64)>) {
        let (status, Some(start)) = (self.campaign.status, self.campaign.starts_at) else {
            return (Vec::new(), Vec::new());
        };
        if !status.is_dispatching() {
            return (Vec::new(), Vec::new());
        }
        let schedule = &self.campaign.spec.schedule;
        let free = schedule
            .max_concurrent_calls
            .saturating_sub(self.in_flight.len() as u32);
        let slots = schedule.claim_slots(start, &self.pacing, now, ahead, limit.min(free));
        let n_wanted = slots.at.len() as u32;
        let now_ms = now.timestamp_millis();
        let mut calls = Vec::new();
        let mut gate = PartitionGate::new(safety, now);
        let mut put_back = Vec::new();
        // Retries that are due go first: they have waited their delay already.
        while calls.len() < n_wanted as usize && put_back.len() < rules::MAX_PARKED_PER_CLAIM {
            let Some(&(due_ms, sequence)) = self.retries.first() else {
                break;
            };
            if due_ms > now_ms {
                break;
            }
            self.retries.pop_first();
            let at = slots.at[calls.len()];
            match self.take(&mut gate, sequence, at, deadline) {
                Ok(call) => calls.push(call),
                Err(verdict) => put_back.push((verdict, 1)),
            }
        }
        let mut passed = 0;
        while calls.len() < n_wanted as usize
            && put_back.len() + passed < rules::MAX_PARKED_PER_CLAIM
        {
            let Some(sequence) = self.fresh.pop_first() else {
                break;
            };
            if self.contacts[sequence as usize].status == ContactStatus::Skipped {
                // Added while its number was listed: final already, passed over.
                passed += 1;
                continue;
            }
            let at = slots.at[calls.len()];
            match self.take(&mut gate, sequence, at, deadline) {
                Ok(call) => calls.push(call),
                Err(verdict) => put_back.push((verdict, 1)),
            }
        }
        if let Some(&next_slot_at) = slots.next_slot_at.get(calls.len().wrapping_sub(1)) {
            let schedule = self.campaign.spec.schedule.clone();
            self.pacing
                .record_claims(&schedule, now, calls.len() as u32);
            self.pacing.next_slot_at = next_slot_at;
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
        (calls, put_back)
    }

    pub(super) fn start_call(
        &mut self,
        sequence: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        not_after: Option<DateTime<Utc>>,
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
        contact.held_reason = None;
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
            not_after,
            at: now,
        };
        self.n_claims += 1;
        self.in_flight
            .insert(sequence, InFlight { attempt, deadline });
        self.set_status(sequence, ContactStatus::InProgress);
        call
    }

    /// When a claim could next succeed: `None` when nothing waits or every call slot is taken
    /// (an outcome will wake the dispatcher then).
    pub(super) fn wake_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
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
    pub(super) fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let first_deadline = self
            .in_flight
            .values()
            .map(|in_flight| in_flight.deadline)
            .min();
        self.wake_at(now).into_iter().chain(first_deadline).min()
    }

    /// The page of contacts as they are, with the queue position of each one never called:
    /// a copy, so that their due times are projected outside the campaign's lock.
    pub(super) fn contacts_page(
        &self,
        status: Option<ContactStatus>,
        page_of: Page,
    ) -> ContactsPage {
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

    pub(super) fn record(
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
            // Nothing is called after the campaign's expiry.
            (RetryDecision::Retry, _)
                if self
                    .campaign
                    .spec
                    .schedule
                    .expires_at
                    .is_some_and(|at| at <= now) =>
            {
                RetryDecision::Final(ContactStatus::Expired)
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
            RetryDecision::Final(status) => {
                self.set_status(sequence, status);
                if status == ContactStatus::Expired {
                    self.contacts[sequence as usize].skip_reason = Some(SkipReason::Expired);
                }
            }
        }
        self.campaign.updated_at = now;
        self.complete_if_done(now);
        Recorded::Applied {
            status: self.campaign.status,
            in_flight: self.in_flight.len() as u32,
        }
    }
}
