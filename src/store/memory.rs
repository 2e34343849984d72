//! The embedded store: every campaign behind its own lock, so each state change is one locked
//! step. It is the default backend and the reference the conformance suite checks others against.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use parking_lot::{Mutex, RwLock};

use super::{
    AddedContacts, CallResult, Campaign, CampaignEdit, CampaignFilter, CampaignStore, ClaimBatch,
    ClaimedCall, Contact, Control, Counters, Listing, NewContact, Page, Recorded, StoreError,
};
use crate::domain::{
    CallId, CampaignId, CampaignSpec, CampaignStatus, Command, ContactId, ContactStatus, Gate,
    OrgId, PacingState, Plan, RetryDecision, SchedulePatch, StartIs, StartRule, local_date,
    transition,
};

/// How long a claimed call may stay without an outcome before recovery looks at it.
const CLAIM_DEADLINE: Duration = Duration::hours(2);

/// The in-memory store. Cheap to clone; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    campaigns: RwLock<HashMap<CampaignId, Arc<Mutex<CampaignState>>>>,
    /// Each organisation's campaigns in creation order.
    by_org: RwLock<HashMap<OrgId, Vec<CampaignId>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self, id: CampaignId) -> Result<Arc<Mutex<CampaignState>>, StoreError> {
        self.inner
            .campaigns
            .read()
            .get(&id)
            .cloned()
            .ok_or(StoreError::NotFound)
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

#[derive(Debug)]
struct ContactRecord {
    contact: Contact,
    /// A retry may not be placed before this instant.
    not_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    attempt: u32,
    #[allow(
        dead_code,
        reason = "read by in-flight recovery, which comes with the Redis store"
    )]
    deadline: DateTime<Utc>,
}

/// One campaign: its record, its contacts and its queue.
#[derive(Debug)]
struct CampaignState {
    campaign: Campaign,
    pacing: PacingState,
    /// Contacts by their insertion sequence.
    contacts: Vec<ContactRecord>,
    by_id: HashMap<ContactId, u32>,
    phones: HashSet<String>,
    /// Waiting contacts by `(due time in ms, sequence)`: the campaign's queue.
    queue: BTreeSet<(i64, u32)>,
    in_flight: HashMap<u32, InFlight>,
    /// Calls claimed so far, for caller-id rotation.
    n_claims: u64,
}

impl CampaignState {
    fn set_status(&mut self, sequence: u32, status: ContactStatus) {
        let contact = &mut self.contacts[sequence as usize].contact;
        self.campaign.counters.moved(contact.status, status);
        contact.status = status;
    }

    fn transition(&mut self, command: Command, now: DateTime<Utc>) -> Result<(), StoreError> {
        let next = transition(self.campaign.status, command)?;
        if next != self.campaign.status {
            match next {
                CampaignStatus::Paused => self.campaign.paused_at = Some(now),
                CampaignStatus::Completed | CampaignStatus::Cancelled => {
                    self.campaign.completed_at = Some(now);
                }
                _ => {}
            }
        }
        self.campaign.status = next;
        self.campaign.updated_at = now;
        Ok(())
    }

    fn enqueue(&mut self, sequence: u32, due: DateTime<Utc>) {
        let record = &mut self.contacts[sequence as usize];
        record.contact.scheduled_at = Some(due);
        self.queue.insert((due.timestamp_millis(), sequence));
    }

    /// The first open slot for a contact that may not be called before `not_before`.
    fn slot_not_before(&self, not_before: DateTime<Utc>) -> DateTime<Utc> {
        let schedule = &self.campaign.spec.schedule;
        let used = self
            .pacing
            .used_on(local_date(schedule.timezone, not_before));
        Plan::new(schedule, not_before, used).first()
    }

    /// Gives every waiting contact a new due time under the current schedule, from
    /// `max(now, start)` on, in queue order; restarts the spacing of the daily cap.
    fn redistribute(&mut self, now: DateTime<Utc>) {
        let Some(start) = self.campaign.starts_at else {
            return;
        };
        let anchor = now.max(start);
        let schedule = self.campaign.spec.schedule.clone();
        self.pacing.restart(&schedule, anchor);
        let used = self.pacing.used_on(local_date(schedule.timezone, anchor));
        let plan = Plan::new(&schedule, anchor, used);
        let mut slots = plan.slots().peekable();
        let order: Vec<u32> = std::mem::take(&mut self.queue)
            .into_iter()
            .map(|(_, seq)| seq)
            .collect();
        let mut queue = Vec::with_capacity(order.len());
        for sequence in order {
            let next_slot = *slots.peek().expect("plans are endless");
            let due = match self.contacts[sequence as usize].not_before {
                // A retry keeps its delay and leaves the slot to the next contact.
                Some(not_before) if not_before > next_slot => self.slot_not_before(not_before),
                _ => slots.next().expect("plans are endless"),
            };
            self.contacts[sequence as usize].contact.scheduled_at = Some(due);
            queue.push((due.timestamp_millis(), sequence));
        }
        self.queue = queue.into_iter().collect();
    }

    /// Appends new contacts (already recorded, not yet queued) after the waiting ones.
    fn queue_new(&mut self, sequences: std::ops::Range<u32>, now: DateTime<Utc>) {
        let Some(start) = self.campaign.starts_at else {
            return;
        };
        let anchor = now.max(start);
        let schedule = self.campaign.spec.schedule.clone();
        let used = self.pacing.used_on(local_date(schedule.timezone, anchor));
        let plan = Plan::new(&schedule, anchor, used);
        let mut slots = plan.slots_from(self.queue.len() as u64);
        for sequence in sequences {
            self.set_status(sequence, ContactStatus::Scheduled);
            self.enqueue(sequence, slots.next().expect("plans are endless"));
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
            let id = ContactId::random();
            self.by_id.insert(id, self.contacts.len() as u32);
            self.contacts.push(ContactRecord {
                contact: Contact {
                    id,
                    details,
                    status: ContactStatus::Pending,
                    scheduled_at: None,
                    attempts: 0,
                    last_outcome: None,
                    call_id: None,
                    called_at: None,
                },
                not_before: None,
            });
            self.campaign.counters.total += 1;
            self.campaign.counters.add(ContactStatus::Pending);
            result.added += 1;
        }
        (first..self.contacts.len() as u32, result)
    }

    fn cancel_waiting(&mut self) {
        for (_, sequence) in std::mem::take(&mut self.queue) {
            self.contacts[sequence as usize].contact.scheduled_at = None;
            self.set_status(sequence, ContactStatus::Cancelled);
        }
        let pending: Vec<u32> = (0..self.contacts.len() as u32)
            .filter(|&seq| self.contacts[seq as usize].contact.status == ContactStatus::Pending)
            .collect();
        for sequence in pending {
            self.set_status(sequence, ContactStatus::Cancelled);
        }
    }

    /// `active → completed` once no contact is waiting and no call is running.
    fn complete_if_done(&mut self, now: DateTime<Utc>) {
        let done = self.queue.is_empty() && self.in_flight.is_empty();
        if done && self.campaign.status == CampaignStatus::Active {
            self.transition(Command::Complete, now)
                .expect("active campaigns can complete");
        }
    }

    fn claim(&mut self, now: DateTime<Utc>, limit: u32) -> Vec<ClaimedCall> {
        let (status, Some(start)) = (self.campaign.status, self.campaign.starts_at) else {
            return Vec::new();
        };
        if !status.is_dispatching() {
            return Vec::new();
        }
        let schedule = &self.campaign.spec.schedule;
        let Gate::Open { max_calls } = schedule.gate(start, &self.pacing, now) else {
            self.carry_over_overdue(now);
            return Vec::new();
        };
        let free = schedule
            .max_concurrent_calls
            .saturating_sub(self.in_flight.len() as u32);
        let n_wanted = limit.min(free).min(max_calls.unwrap_or(u32::MAX));
        let now_ms = now.timestamp_millis();
        let mut calls = Vec::new();
        while calls.len() < n_wanted as usize {
            let Some(&(due_ms, sequence)) = self.queue.first() else {
                break;
            };
            if due_ms > now_ms {
                break;
            }
            self.queue.pop_first();
            calls.push(self.start_call(sequence, now));
        }
        if !calls.is_empty() {
            let schedule = self.campaign.spec.schedule.clone();
            self.pacing
                .record_claims(&schedule, now, calls.len() as u32);
            if self.campaign.status == CampaignStatus::Scheduled {
                self.transition(Command::Activate, now)
                    .expect("scheduled campaigns can activate");
            }
        }
        calls
    }

    /// When the day is over for calls (window closed or cap spent) and contacts are still due
    /// from it, gives the waiting contacts their next slots, so `scheduled_at` stays a promise
    /// rather than a past instant. It runs once per such day: afterwards nothing is overdue.
    fn carry_over_overdue(&mut self, now: DateTime<Utc>) {
        let Some(&(head_ms, _)) = self.queue.first() else {
            return;
        };
        let schedule = &self.campaign.spec.schedule;
        let today = local_date(schedule.timezone, now);
        let cap_spent = schedule
            .max_calls_per_day
            .is_some_and(|cap| self.pacing.used_on(today) >= cap);
        let day_over = !schedule.is_open_at(now) || cap_spent;
        if day_over && head_ms < now.timestamp_millis() {
            self.redistribute(now);
        }
    }

    fn start_call(&mut self, sequence: u32, now: DateTime<Utc>) -> ClaimedCall {
        let call_id = CallId::random();
        let record = &mut self.contacts[sequence as usize];
        record.not_before = None;
        let contact = &mut record.contact;
        if contact.attempts == 0 {
            self.campaign.counters.called += 1;
        }
        contact.attempts += 1;
        contact.call_id = Some(call_id);
        contact.called_at = Some(now);
        contact.scheduled_at = None;
        let attempt = contact.attempts;
        let mut variables = contact.details.custom_fields.clone();
        for (key, value) in [
            ("first_name", &contact.details.first_name),
            ("last_name", &contact.details.last_name),
        ] {
            if let Some(value) = value {
                variables.insert(key.to_owned(), value.clone());
            }
        }
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
        self.in_flight.insert(
            sequence,
            InFlight {
                attempt,
                deadline: now + CLAIM_DEADLINE,
            },
        );
        self.set_status(sequence, ContactStatus::InProgress);
        call
    }

    /// When a claim could next succeed: `None` when the queue is empty or every call slot is
    /// taken (an outcome will wake the dispatcher then).
    fn wake_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (&(head_ms, _), Some(start)) = (self.queue.first()?, self.campaign.starts_at) else {
            return None;
        };
        let schedule = &self.campaign.spec.schedule;
        if !self.campaign.status.is_dispatching()
            || self.in_flight.len() as u32 >= schedule.max_concurrent_calls
        {
            return None;
        }
        let head = DateTime::from_timestamp_millis(head_ms).expect("due times are valid instants");
        let gate_opens = match schedule.gate(start, &self.pacing, now) {
            Gate::Open { .. } => now,
            Gate::Wait(instant) => instant,
        };
        Some(head.max(gate_opens))
    }

    fn record(
        &mut self,
        contact: ContactId,
        attempt: u32,
        result: CallResult,
        now: DateTime<Utc>,
    ) -> Recorded {
        let Some(&sequence) = self.by_id.get(&contact) else {
            return Recorded::Duplicate;
        };
        match self.in_flight.get(&sequence) {
            Some(in_flight) if in_flight.attempt == attempt => {}
            _ => return Recorded::Duplicate,
        }
        self.in_flight.remove(&sequence);
        let record = &mut self.contacts[sequence as usize];
        record.contact.last_outcome = Some(result.outcome);
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
                let not_before = now + delay;
                self.contacts[sequence as usize].not_before = Some(not_before);
                self.set_status(sequence, ContactStatus::Scheduled);
                let due = self.slot_not_before(not_before);
                self.enqueue(sequence, due);
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

fn page<T>(items: impl Iterator<Item = T>, page: Page) -> Vec<T> {
    items
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .collect()
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
            campaign: Campaign {
                id,
                org: org.clone(),
                spec,
                status: CampaignStatus::Draft,
                starts_at: None,
                counters: Counters::default(),
                created_at: now,
                updated_at: now,
                paused_at: None,
                resumed_at: None,
                completed_at: None,
            },
            pacing: PacingState::default(),
            contacts: Vec::with_capacity(contacts.len()),
            by_id: HashMap::with_capacity(contacts.len()),
            phones: HashSet::with_capacity(contacts.len()),
            queue: BTreeSet::new(),
            in_flight: HashMap::new(),
            n_claims: 0,
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
        let matching: Vec<Campaign> = ids
            .iter()
            .rev()
            .filter_map(|&id| {
                self.with_campaign(org, id, |state| Ok(state.campaign.clone()))
                    .ok()
            })
            .filter(|campaign| filter.status.is_none_or(|status| campaign.status == status))
            .filter(|campaign| {
                filter
                    .agent_id
                    .as_ref()
                    .is_none_or(|agent| campaign.spec.agent_id == *agent)
            })
            .collect();
        let total = matching.len() as u64;
        Ok(Listing {
            items: page(matching.into_iter(), page_of),
            total,
        })
    }

    async fn edit_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        edit: CampaignEdit,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        self.with_campaign(org, id, |state| {
            transition(state.campaign.status, Command::Edit)?;
            let schedule = state.campaign.spec.schedule.apply(&edit.schedule)?;
            let spec = &mut state.campaign.spec;
            let rescheduled = schedule != spec.schedule;
            spec.schedule = schedule;
            if let Some(name) = edit.name {
                spec.name = name;
            }
            if let Some(agent_id) = edit.agent_id {
                spec.agent_id = agent_id;
            }
            if let Some(ids) = edit.phone_number_ids {
                spec.phone_number_ids = ids;
            }
            if let Some(rotation) = edit.rotation {
                spec.rotation = rotation;
            }
            state.campaign.updated_at = now;
            if rescheduled && state.campaign.starts_at.is_some() {
                state.campaign.starts_at = Some(match state.campaign.spec.schedule.start {
                    StartRule::At(instant) => instant,
                    StartRule::Immediate => state.campaign.starts_at.expect("checked").min(now),
                });
                let start_ahead = state.campaign.starts_at.is_some_and(|start| start > now);
                if start_ahead && state.campaign.status == CampaignStatus::Active {
                    state.transition(Command::Postpone, now)?;
                }
                state.redistribute(now);
            }
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
            transition(state.campaign.status, Command::Schedule)?;
            let schedule = state.campaign.spec.schedule.apply(&patch)?;
            if state.contacts.is_empty() {
                return Err(crate::domain::DomainError::new(
                    "contacts",
                    "a campaign needs at least one contact to be scheduled",
                )
                .into());
            }
            state.campaign.starts_at = Some(match schedule.start {
                StartRule::At(instant) => instant,
                StartRule::Immediate => now,
            });
            state.campaign.spec.schedule = schedule;
            state.transition(Command::Schedule, now)?;
            let n_contacts = state.contacts.len() as u32;
            for sequence in 0..n_contacts {
                if state.contacts[sequence as usize].contact.status == ContactStatus::Pending {
                    state.set_status(sequence, ContactStatus::Scheduled);
                    // Placeholder due time: `redistribute` gives the real one in queue order.
                    state.queue.insert((0, sequence));
                }
            }
            state.redistribute(now);
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
            match control {
                Control::Pause => state.transition(Command::Pause, now)?,
                Control::Resume => {
                    let start_ahead = state.campaign.starts_at.is_some_and(|start| start > now);
                    let start = if start_ahead {
                        StartIs::Ahead
                    } else {
                        StartIs::Reached
                    };
                    state.transition(Command::Resume(start), now)?;
                    state.campaign.resumed_at = Some(now);
                    state.redistribute(now);
                    state.complete_if_done(now);
                }
                Control::Cancel => {
                    state.transition(Command::Cancel, now)?;
                    state.cancel_waiting();
                }
            }
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
                state.queue_new(sequences, now);
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
    ) -> Result<Listing<Contact>, StoreError> {
        self.with_campaign(org, id, |state| {
            let total = status.map_or(state.campaign.counters.total, |s| {
                state.campaign.counters.of(s)
            });
            let matching = state
                .contacts
                .iter()
                .map(|record| &record.contact)
                .filter(|contact| status.is_none_or(|s| contact.status == s))
                .cloned();
            Ok(Listing {
                items: page(matching, page_of),
                total,
            })
        })
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

    async fn claim_due(
        &self,
        id: CampaignId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<ClaimBatch, StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        let calls = state.claim(now, limit);
        state.complete_if_done(now);
        Ok(ClaimBatch {
            calls,
            status: state.campaign.status,
            wake_at: state.wake_at(now),
            in_flight: state.in_flight.len() as u32,
        })
    }

    async fn record_outcome(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        result: CallResult,
        now: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let state = self.state(id)?;
        let recorded = state.lock().record(contact, attempt, result, now);
        Ok(recorded)
    }

    async fn release_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
    ) -> Result<(), StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        let Some(&sequence) = state.by_id.get(&contact) else {
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
        let now = state.contacts[sequence as usize]
            .contact
            .called_at
            .expect("claimed contacts have a call time");
        let record = &mut state.contacts[sequence as usize].contact;
        record.attempts -= 1;
        record.call_id = None;
        if record.attempts == 0 {
            record.called_at = None;
            state.campaign.counters.called -= 1;
        }
        if state.campaign.status == CampaignStatus::Cancelled {
            state.set_status(sequence, ContactStatus::Cancelled);
        } else {
            state.set_status(sequence, ContactStatus::Scheduled);
            state.enqueue(sequence, now);
        }
        Ok(())
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
            })
            .map(|(&id, _)| id)
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
