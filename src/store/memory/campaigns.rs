//! [`Campaigns`] in memory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::MemoryStore;
use super::leases::Lease;
use super::state::{CampaignEvents, CampaignState, FreshQueue};
use crate::domain::{
    CampaignId, CampaignSpec, CampaignStatus, Command, ContactId, ContactStatus, DialOutcome,
    OrgId, PacingState, SchedulePatch, transition,
};
use crate::store::rules::{self, QueueChange};
use crate::store::{
    AddedContacts, CallStats, Campaign, CampaignEdit, CampaignFilter, Campaigns, Contact, Control,
    Fence, Listing, NewContact, Page, StoreError,
};

#[async_trait]
impl Campaigns for MemoryStore {
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
            partition_of: Vec::with_capacity(contacts.len()),
            partitions: vec![String::new()],
            n_claims: 0,
            lease: Lease {
                fence: Fence(0),
                owner: String::new(),
                expires: Instant::now(),
            },
            stats: CallStats::default(),
            events: CampaignEvents::default(),
            callbacks: HashMap::new(),
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
        let safety = self.inner.safety.read().clone();
        self.with_campaign(org, id, |state| {
            self.events_on(state);
            let before = state.campaign.status;
            let schedule = state.campaign.spec.schedule.clone();
            rules::edit(&mut state.campaign, &mut state.pacing, edit, now)?;
            if state.campaign.spec.schedule != schedule {
                state.reschedule_held(&safety, now);
            }
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
                    if state.contacts[sequence as usize].status == ContactStatus::Pending {
                        state.set_status(sequence, ContactStatus::Scheduled);
                    }
                }
            }
            state.campaign.updated_at = now;
            Ok(added)
        })
    }

    async fn requeue(
        &self,
        org: &OrgId,
        id: CampaignId,
        outcomes: &[DialOutcome],
        include_unknown: bool,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, u64), StoreError> {
        self.with_campaign(org, id, |state| {
            let from = state.campaign.status;
            transition(from, Command::Requeue)?;
            self.events_on(state);
            let n = state.requeue(outcomes, include_unknown, now);
            if n > 0 && from == CampaignStatus::Completed {
                state.transition(Command::Requeue, now)?;
                state.events.status(now, from, CampaignStatus::Active);
            }
            Ok((state.campaign.clone(), n))
        })
    }

    async fn set_callback(
        &self,
        org: &OrgId,
        id: CampaignId,
        contact: ContactId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let safety = self.inner.safety.read().clone();
        self.with_campaign(org, id, |state| {
            let from = state.campaign.status;
            transition(from, Command::Requeue)?;
            let sequence = rules::contact_sequence(id, contact)
                .filter(|&sequence| (sequence as usize) < state.contacts.len())
                .ok_or(StoreError::NotFound)?;
            let record = &state.contacts[sequence as usize];
            let used = state.callbacks.get(&sequence).copied().unwrap_or(0);
            let max = state.campaign.spec.schedule.max_callbacks;
            rules::check_callback(record.status, record.attempts, used, max)?;
            let key = &state.partitions[state.partition_of[sequence as usize] as usize];
            let due = rules::callback_due(&safety, &state.campaign, key, at);
            self.events_on(state);
            state.callbacks.insert(sequence, used + 1);
            state.call_back(sequence, due);
            if from == CampaignStatus::Completed {
                state.transition(Command::Requeue, now)?;
                state.events.status(now, from, CampaignStatus::Active);
            }
            Ok(due)
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
        let items = crate::store::project_off_thread(move || page.project(now)).await?;
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

    async fn call_stats(&self, org: &OrgId, id: CampaignId) -> Result<CallStats, StoreError> {
        self.with_campaign(org, id, |state| Ok(state.stats.clone()))
    }
}
