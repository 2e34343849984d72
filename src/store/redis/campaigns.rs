//! [`Campaigns`] on Redis: a campaign's definition and contacts, read and changed by the
//! scripts; decisions that need the tz database are made here from a read of the campaign and
//! committed by a script that refuses if its version moved meanwhile.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use redis::{AsyncCommands, Value};

use super::connections::{Connection, query_each};
use super::dispatch::{ATTEMPTS, pacing_at};
use super::keys::CONTACTS_PER_BUCKET;
use super::records::{ContactRecord, Meta, ms};
use super::replies::{AddContactsReply, CommitReply, DeleteReply};
use super::{Inner, RedisStore, unavailable};
use crate::domain::{
    CampaignId, CampaignSpec, CampaignStatus, Command, ContactId, ContactStatus, DialOutcome,
    OrgId, PacingState, SchedulePatch, partition_key, transition,
};
use crate::store::rules::{self, QueueChange};
use crate::store::{
    AddedContacts, CallStats, Campaign, CampaignEdit, CampaignFilter, Campaigns, Contact, Control,
    Listing, NewContact, Page, StoreError, skip_unreadable,
};

/// Contacts per `add_contacts` script call: a few milliseconds of Redis time at most.
pub(super) const CONTACT_CHUNK: usize = 250;

/// Call buckets a requeue script reads (8 192 contacts).
const REQUEUE_BUCKETS: u32 = 64;

/// Chunks of contacts sent ahead of the reply to the first (see `Inner::add_contacts`).
pub(super) const CHUNKS_IN_FLIGHT: usize = 4;

impl Inner {
    /// The campaign's meta hash, or `NotFound` (also for another organisation's campaign).
    pub(super) async fn meta(
        &self,
        con: &mut Connection,
        org: Option<&OrgId>,
        id: CampaignId,
    ) -> Result<Meta, StoreError> {
        let fields: HashMap<String, String> = con
            .hgetall(self.keys.campaign(id).meta())
            .await
            .map_err(unavailable)?;
        if fields.is_empty() {
            return Err(StoreError::NotFound);
        }
        let meta = Meta::decode(id, &fields)?;
        if org.is_some_and(|org| *org != meta.campaign.org) {
            return Err(StoreError::NotFound);
        }
        Ok(meta)
    }

    /// The ids of the page of the organisation's campaigns that match `filter` (newest first),
    /// and how many match in all: the index is read a chunk at a time, each campaign by its
    /// status and agent alone.
    pub(super) async fn matching_campaigns(
        &self,
        con: &mut Connection,
        index: &str,
        filter: &CampaignFilter,
        page: Page,
    ) -> Result<(Vec<String>, u64), StoreError> {
        const CHUNK: isize = 500;
        let (mut page_ids, mut total, mut first) = (Vec::new(), 0u64, 0isize);
        loop {
            let ids: Vec<String> = con
                .zrevrange(index, first, first + CHUNK - 1)
                .await
                .map_err(unavailable)?;
            if ids.is_empty() {
                return Ok((page_ids, total));
            }
            let reads = ids.iter().map(|id| {
                let meta = CampaignId::parse(id)
                    .map_or_else(|_| String::new(), |id| self.keys.campaign(id).meta());
                redis::cmd("HMGET")
                    .arg(meta)
                    .arg("status")
                    .arg("agent")
                    .clone()
            });
            let fields: Vec<(Option<String>, Option<String>)> = query_each(con, reads).await?;
            for (id, (status, agent)) in ids.iter().zip(fields) {
                let status = status.as_deref().and_then(CampaignStatus::parse);
                let wanted = status.is_some()
                    && filter.status.is_none_or(|wanted| status == Some(wanted))
                    && filter
                        .agent_id
                        .as_ref()
                        .is_none_or(|wanted| agent.as_ref() == Some(wanted));
                if wanted {
                    if total >= page.offset && page_ids.len() < page.limit as usize {
                        page_ids.push(id.clone());
                    }
                    total += 1;
                }
            }
            if (ids.len() as isize) < CHUNK {
                return Ok((page_ids, total));
            }
            first += CHUNK;
        }
    }

    /// A page of the campaign's contacts in insertion order, optionally of one status, with the
    /// queue position of each one never called (projected by the caller); and how many contacts
    /// the filter matches in all. A contact that cannot be read back is skipped (logged and
    /// counted).
    pub(super) async fn contacts_page(
        &self,
        org: &OrgId,
        id: CampaignId,
        status: Option<ContactStatus>,
        page: Page,
        now: DateTime<Utc>,
    ) -> Result<(crate::store::ContactsPage, u64), StoreError> {
        let mut con = self.connection().await?;
        let meta = self.meta(&mut con, Some(org), id).await?;
        let pacing = pacing_at(&meta, now);
        let campaign = &meta.campaign;
        let keys = self.keys.campaign(id);
        let n_contacts = meta.n_contacts;
        let total = status.map_or(campaign.counters.total, |status| {
            campaign.counters.of(status)
        });
        let mut read = crate::store::ContactsPage {
            items: Vec::new(),
            ranks: Vec::new(),
            queue: campaign.starts_at.map(|start| crate::store::QueueView {
                schedule: campaign.spec.schedule.clone(),
                start,
                pacing,
            }),
        };
        let mut to_skip = page.offset;
        let mut first = 0u32;
        if status.is_none() {
            // Without a filter the page starts at a known sequence.
            first = page.offset.min(u64::from(n_contacts)) as u32;
            to_skip = 0;
        }
        while first < n_contacts && read.items.len() < page.limit as usize {
            // One bucket a read: the rest of the bucket that holds `first`.
            let last = ((first / CONTACTS_PER_BUCKET + 1) * CONTACTS_PER_BUCKET).min(n_contacts);
            let sequences: Vec<u32> = (first..last).collect();
            // The bucket's details and call states, and the released contacts before and in
            // it (for the queue positions of fresh contacts), in one round trip.
            type Bucket = (Vec<Option<String>>, Vec<Option<String>>, u64, Vec<u32>);
            let (records, states, released_before, released_in): Bucket = redis::pipe()
                .cmd("HMGET")
                .arg(keys.contact_bucket(first))
                .arg(&sequences)
                .cmd("HMGET")
                .arg(keys.calls_bucket(first))
                .arg(&sequences)
                .zcount(keys.released(), "-inf", format!("({first}"))
                .zrangebyscore(keys.released(), first, format!("({last}"))
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            for ((sequence, record), state) in sequences.into_iter().zip(records).zip(states) {
                let Some(record) = record else { continue };
                let contact_id = rules::contact_id(id, sequence);
                let decoded = ContactRecord::decode(&record, state.as_deref());
                let record = match decoded {
                    Ok(record) => record,
                    Err(error) => {
                        skip_unreadable("contact", contact_id, &error);
                        continue;
                    }
                };
                if status.is_some_and(|status| record.status(campaign.status) != status) {
                    continue;
                }
                if to_skip > 0 {
                    to_skip -= 1;
                    continue;
                }
                if read.items.len() == page.limit as usize {
                    break;
                }
                let fresh = record.is_fresh();
                let partition = record.partition;
                let mut contact = match record.into_contact(contact_id, campaign.status) {
                    Ok(contact) => contact,
                    Err(error) => {
                        skip_unreadable("contact", contact_id, &error);
                        continue;
                    }
                };
                let held = (fresh && sequence < meta.cursor && !released_in.contains(&sequence))
                    .then(|| meta.held.get(&partition))
                    .flatten();
                if let (Some(&(until, reason)), ContactStatus::Scheduled) = (held, contact.status) {
                    // Passed by the cursor, never called, not released: held back by its
                    // partition's callee gate.
                    contact.held_reason = Some(reason);
                    contact.scheduled_at = Some(until);
                } else if fresh && contact.status == ContactStatus::Scheduled {
                    // Fresh contacts ahead of this one: the unclaimed ones from the cursor, and
                    // the released ones before it.
                    let released_ahead = released_before
                        + released_in
                            .iter()
                            .filter(|&&released| released < sequence)
                            .count() as u64;
                    let rank = u64::from(sequence.saturating_sub(meta.cursor)) + released_ahead;
                    read.ranks.push((read.items.len(), rank));
                }
                read.items.push(contact);
            }
            first = last;
        }
        Ok((read, total))
    }

    pub(super) async fn add_contacts(
        &self,
        con: &mut Connection,
        id: CampaignId,
        contacts: &[NewContact],
    ) -> Result<AddedContacts, StoreError> {
        let keys = self.keys.campaign(id);
        let mut result = AddedContacts::default();
        // A few chunks in flight on one connection: Redis runs them in the order sent (the
        // first of two equal phones wins), while the next ones are being encoded here.
        let chunks = (0..contacts.len().div_ceil(CONTACT_CHUNK)).map(|n_chunk| {
            let first = n_chunk * CONTACT_CHUNK;
            let chunk = &contacts[first..contacts.len().min(first + CONTACT_CHUNK)];
            let mut invocation = self.scripts.add_contacts.prepare_invoke();
            invocation
                .key(keys.meta())
                .key(keys.contacts())
                .key(keys.phones())
                .key(keys.calls());
            for contact in chunk {
                let record =
                    serde_json::to_string(&ContactRecord::new(contact)).expect("records serialize");
                invocation
                    .arg(contact.phone.as_str())
                    .arg(partition_key(contact.timezone, &contact.phone))
                    .arg(if contact.listed { "dnc" } else { "" })
                    .arg(record);
            }
            let mut con = con.clone();
            async move { invocation.invoke_async::<Vec<Value>>(&mut con).await }
        });
        let mut replies = futures_util::stream::iter(chunks).buffered(CHUNKS_IN_FLIGHT);
        let mut n_chunk = 0;
        while let Some(reply) = replies.next().await {
            let reply = reply.map_err(unavailable)?;
            let (n_added, skipped) = match AddContactsReply::read(&reply)? {
                AddContactsReply::Added { n_added, skipped } => (n_added, skipped),
                AddContactsReply::NotFound => return Err(StoreError::NotFound),
                AddContactsReply::State(current) => {
                    let command = Command::AddContacts;
                    return Err(crate::domain::InvalidTransition { current, command }.into());
                }
            };
            result.added += n_added;
            let offset = n_chunk * CONTACT_CHUNK;
            for index in skipped {
                let row = offset + index;
                result
                    .skipped
                    .push((row, "duplicate phone number in this campaign".to_owned()));
            }
            n_chunk += 1;
        }
        Ok(result)
    }

    /// Reads the campaign, lets `change` decide, and commits it unless the campaign moved
    /// meanwhile (then it reads again).
    pub(super) async fn change(
        &self,
        org: &OrgId,
        id: CampaignId,
        now: DateTime<Utc>,
        change: impl Fn(&mut Campaign, &mut PacingState) -> Result<QueueChange, StoreError>,
    ) -> Result<Campaign, StoreError> {
        let mut con = self.connection().await?;
        let keys = self.keys.campaign(id);
        for _ in 0..ATTEMPTS {
            let meta = self.meta(&mut con, Some(org), id).await?;
            let mut pacing = pacing_at(&meta, now);
            let mut campaign = meta.campaign.clone();
            let queue_change = change(&mut campaign, &mut pacing)?;
            // Listed as needing a dispatcher before the change commits (the live set is a key
            // of its own, in another slot on a cluster): a node that stops between the two
            // steps leaves at most a listed campaign that needs no dispatcher (the claim that
            // finds it finished drops it), never a dispatching one that no node looks for.
            // Likewise a campaign whose change writes an event: its dispatcher relays it.
            let events = status_events(meta.campaign.status, campaign.status)
                .filter(|_| self.records_events(org));
            if campaign.status.is_dispatching() || events.is_some() {
                let _: () = con
                    .sadd(self.keys.live(), id.to_string())
                    .await
                    .map_err(unavailable)?;
            }
            let action = match queue_change {
                QueueChange::None => "none",
                QueueChange::Schedule => "schedule",
                QueueChange::Cancel => "cancel",
                QueueChange::Expire => "expire",
            };
            let mut invocation = self.scripts.commit.prepare_invoke();
            let events = events.unwrap_or_default();
            invocation
                .key(keys.meta())
                .key(keys.released())
                .key(keys.retry())
                .key(keys.events())
                .key(keys.held())
                .arg(&meta.version)
                .arg(action)
                .arg(ms(now))
                .arg(events.len());
            for event in events {
                invocation.arg(event);
            }
            // Contacts held back under the old rules are due when the new ones open for them.
            let mut held_fields = Vec::new();
            let mut rescored = Vec::new();
            if campaign.spec.schedule != meta.campaign.spec.schedule {
                let safety = self.safety.read().clone();
                for (&partition, &(until, reason)) in &meta.held {
                    let key = meta
                        .partitions
                        .get(partition as usize)
                        .map_or("", String::as_str);
                    let (due, why) = rules::held_until_after_edit(&safety, &campaign, key, now);
                    if due != until {
                        let why = why.unwrap_or(reason).as_str();
                        held_fields.push((format!("hr:{partition}"), format!("{}|{why}", ms(due))));
                        rescored.push((format!("p{partition}"), ms(due)));
                    }
                }
            }
            invocation.arg(rescored.len());
            for (member, score) in &rescored {
                invocation.arg(member).arg(score);
            }
            for (field, value) in Meta::changed_fields(&campaign, pacing.next_slot_at)
                .into_iter()
                .chain(held_fields)
            {
                invocation.arg(field).arg(value);
            }
            let reply: String = invocation
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            match CommitReply::read(&reply)? {
                CommitReply::Committed => {
                    self.forget(id);
                    return Ok(self.meta(&mut con, Some(org), id).await?.campaign);
                }
                CommitReply::NotFound => {
                    // Deleted meanwhile: not left listed.
                    let _: () = con
                        .srem(self.keys.live(), id.to_string())
                        .await
                        .map_err(unavailable)?;
                    return Err(StoreError::NotFound);
                }
                CommitReply::Retry => continue,
            }
        }
        Err(unavailable("the campaign kept changing; try again"))
    }
}

/// The events (as `call_state.lua` writes them, without number and time) of a change from
/// status `from` to `to`; `None` when the status did not change.
impl Inner {
    /// Before contacts of campaign `id` are put back in its queue (a requeue, a callback): lists
    /// it as needing a dispatcher, and gives the status events its scripts write if it goes from
    /// `completed` back to `active`.
    async fn before_requeue(
        &self,
        con: &mut Connection,
        org: &OrgId,
        id: CampaignId,
    ) -> Result<Vec<String>, StoreError> {
        let _: () = con
            .sadd(self.keys.live(), id.to_string())
            .await
            .map_err(unavailable)?;
        Ok(
            status_events(CampaignStatus::Completed, CampaignStatus::Active)
                .filter(|_| self.records_events(org))
                .unwrap_or_default(),
        )
    }
}

pub(super) fn status_events(from: CampaignStatus, to: CampaignStatus) -> Option<Vec<String>> {
    (from != to).then(|| {
        let mut events = vec![format!("s|{}|{}", from.as_str(), to.as_str())];
        if to == CampaignStatus::Completed {
            events.push("d".to_owned());
        }
        events
    })
}

#[async_trait]
impl Campaigns for RedisStore {
    async fn create_campaign(
        &self,
        org: &OrgId,
        spec: CampaignSpec,
        contacts: Vec<NewContact>,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, AddedContacts), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let id = CampaignId::random();
            let campaign = Campaign::draft(id, org.clone(), spec, now);
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let _: () = con
                .hset_multiple(keys.meta(), &Meta::new_fields(&campaign))
                .await
                .map_err(unavailable)?;
            let added = inner.add_contacts(&mut con, id, &contacts).await?;
            // Listed only once every contact is in, in creation order (a counter, not the clock,
            // so that campaigns created in the same millisecond keep their order).
            let order: i64 = con
                .incr(inner.keys.creations(), 1)
                .await
                .map_err(unavailable)?;
            let _: () = con
                .zadd(inner.keys.org(&org), id.to_string(), order)
                .await
                .map_err(unavailable)?;
            Ok((inner.meta(&mut con, None, id).await?.campaign, added))
        })
        .await
    }

    async fn campaign(&self, org: &OrgId, id: CampaignId) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            Ok(inner.meta(&mut con, Some(&org), id).await?.campaign)
        })
        .await
    }

    /// Newest first. Without a filter, the page's campaigns only are read; with one, the
    /// organisation's campaigns are scanned a chunk at a time by their status and agent fields
    /// alone, and the page's are then read whole. A campaign that cannot be read back is skipped
    /// (logged and counted), never the end of the list.
    async fn list_campaigns(
        &self,
        org: &OrgId,
        filter: &CampaignFilter,
        page: Page,
    ) -> Result<Listing<Campaign>, StoreError> {
        let (org, filter) = (org.clone(), filter.clone());
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let index = inner.keys.org(&org);
            let (ids, total) = if filter == CampaignFilter::default() {
                let total: u64 = con.zcard(&index).await.map_err(unavailable)?;
                let first = page.offset.min(total) as isize;
                let last = first + page.limit as isize - 1;
                let ids: Vec<String> = con
                    .zrevrange(&index, first, last)
                    .await
                    .map_err(unavailable)?;
                (ids, total)
            } else {
                inner
                    .matching_campaigns(&mut con, &index, &filter, page)
                    .await?
            };
            let ids: Vec<CampaignId> = ids
                .iter()
                .filter_map(|id| CampaignId::parse(id).ok())
                .collect();
            if ids.is_empty() {
                return Ok(Listing {
                    items: Vec::new(),
                    total,
                });
            }
            let reads = ids.iter().map(|&id| {
                redis::cmd("HGETALL")
                    .arg(inner.keys.campaign(id).meta())
                    .clone()
            });
            let metas: Vec<HashMap<String, String>> = query_each(&mut con, reads).await?;
            let mut items = Vec::with_capacity(ids.len());
            for (id, fields) in ids.into_iter().zip(metas) {
                if fields.is_empty() {
                    continue; // deleted meanwhile
                }
                match Meta::decode(id, &fields) {
                    Ok(meta) if meta.campaign.org == org => items.push(meta.campaign),
                    Ok(_) => {}
                    Err(error) => skip_unreadable("campaign", id, &error),
                }
            }
            Ok(Listing { items, total })
        })
        .await
    }

    async fn edit_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        edit: CampaignEdit,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            inner
                .change(&org, id, now, |campaign, pacing| {
                    rules::edit(campaign, pacing, edit.clone(), now)
                })
                .await
        })
        .await
    }

    async fn schedule_campaign(
        &self,
        org: &OrgId,
        id: CampaignId,
        patch: SchedulePatch,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            inner
                .change(&org, id, now, |campaign, pacing| {
                    rules::schedule(campaign, pacing, &patch, now)
                })
                .await
        })
        .await
    }

    async fn control(
        &self,
        org: &OrgId,
        id: CampaignId,
        control: Control,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            inner
                .change(&org, id, now, |campaign, pacing| {
                    rules::control(campaign, pacing, control, now)
                })
                .await
        })
        .await
    }

    async fn add_contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        contacts: Vec<NewContact>,
        _now: DateTime<Utc>,
    ) -> Result<AddedContacts, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            inner.meta(&mut con, Some(&org), id).await?;
            inner.add_contacts(&mut con, id, &contacts).await
        })
        .await
    }

    async fn contacts(
        &self,
        org: &OrgId,
        id: CampaignId,
        status: Option<ContactStatus>,
        page: Page,
        now: DateTime<Utc>,
    ) -> Result<Listing<Contact>, StoreError> {
        let org = org.clone();
        let (read, total) = self
            .io(move |inner| async move { inner.contacts_page(&org, id, status, page, now).await })
            .await?;
        let items = crate::store::project_off_thread(move || read.project(now)).await?;
        Ok(Listing { items, total })
    }

    async fn requeue(
        &self,
        org: &OrgId,
        id: CampaignId,
        outcomes: &[DialOutcome],
        include_unknown: bool,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, u64), StoreError> {
        let (org, outcomes) = (org.clone(), outcomes.to_vec());
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let meta = inner.meta(&mut con, Some(&org), id).await?;
            transition(meta.campaign.status, Command::Requeue)?;
            let events = inner.before_requeue(&mut con, &org, id).await?;
            let keys = inner.keys.campaign(id);
            let n_buckets = meta.n_contacts.div_ceil(CONTACTS_PER_BUCKET);
            let mut n = 0;
            // A range of buckets per script: Redis is never held long, however many contacts.
            for first in (0..n_buckets).step_by(REQUEUE_BUCKETS as usize) {
                let mut invocation = inner.scripts.requeue.prepare_invoke();
                invocation
                    .key(keys.meta())
                    .key(keys.calls())
                    .key(keys.retry())
                    .key(keys.events())
                    .arg(first)
                    .arg((first + REQUEUE_BUCKETS).min(n_buckets))
                    .arg(ms(now))
                    .arg(if include_unknown { "1" } else { "0" })
                    .arg(events.len());
                for event in &events {
                    invocation.arg(event);
                }
                for outcome in &outcomes {
                    invocation.arg(outcome.as_str());
                }
                let put_back: i64 = invocation
                    .invoke_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                if put_back < 0 {
                    // Cancelled meanwhile: what was put back before stays (the cancel cancelled
                    // it); the answer says why no more.
                    let current = inner.meta(&mut con, Some(&org), id).await?.campaign.status;
                    transition(current, Command::Requeue)?;
                }
                n += put_back.max(0) as u64;
            }
            inner.forget(id);
            let campaign = inner.meta(&mut con, Some(&org), id).await?.campaign;
            Ok((campaign, n))
        })
        .await
    }

    async fn set_callback(
        &self,
        org: &OrgId,
        id: CampaignId,
        contact: ContactId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let meta = inner.meta(&mut con, Some(&org), id).await?;
            transition(meta.campaign.status, Command::Requeue)?;
            let sequence = rules::contact_sequence(id, contact)
                .filter(|&sequence| sequence < meta.n_contacts)
                .ok_or(StoreError::NotFound)?;
            let keys = inner.keys.campaign(id);
            let details: Option<String> = con
                .hget(keys.contact_bucket(sequence), sequence)
                .await
                .map_err(unavailable)?;
            let record = ContactRecord::decode(&details.ok_or(StoreError::NotFound)?, None)?;
            let key = meta
                .partitions
                .get(record.partition as usize)
                .map_or("", String::as_str);
            let safety = inner.safety.read().clone();
            let due = rules::callback_due(&safety, &meta.campaign, key, at);
            let events = inner.before_requeue(&mut con, &org, id).await?;
            let max = meta.campaign.spec.schedule.max_callbacks;
            let mut invocation = inner.scripts.callback.prepare_invoke();
            invocation
                .key(keys.meta())
                .key(keys.calls())
                .key(keys.retry())
                .key(keys.callbacks())
                .key(keys.events())
                .arg(sequence)
                .arg(ms(due))
                .arg(max)
                .arg(ms(now))
                .arg(events.len());
            for event in &events {
                invocation.arg(event);
            }
            let reply: Vec<String> = invocation
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            let field = |n: usize| reply.get(n).map_or("", String::as_str);
            match field(0) {
                "OK" => {
                    inner.forget(id);
                    Ok(due)
                }
                "NOT_FOUND" => Err(StoreError::NotFound),
                "CAMPAIGN" => {
                    let current = CampaignStatus::parse(field(1))
                        .ok_or_else(|| StoreError::Corrupt("campaign status".to_owned()))?;
                    transition(current, Command::Requeue)?;
                    Err(StoreError::Corrupt("callback reply".to_owned()))
                }
                "CONTACT" => {
                    let status = ContactStatus::parse(field(1)).unwrap_or(ContactStatus::Scheduled);
                    let attempts = field(2).parse().unwrap_or(0);
                    rules::check_callback(status, attempts, 0, max)?;
                    Err(StoreError::Corrupt("callback reply".to_owned()))
                }
                "BUDGET" => {
                    let used = field(1).parse().unwrap_or(max);
                    rules::check_callback(ContactStatus::Scheduled, 1, used, max)?;
                    Err(StoreError::Corrupt("callback reply".to_owned()))
                }
                _ => Err(StoreError::Corrupt("callback reply".to_owned())),
            }
        })
        .await
    }

    async fn delete_campaign(&self, org: &OrgId, id: CampaignId) -> Result<(), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let mut invocation = inner.scripts.delete.prepare_invoke();
            for key in [
                keys.meta(),
                keys.contacts(),
                keys.phones(),
                keys.released(),
                keys.retry(),
                keys.inflight(),
                keys.lease(),
                keys.calls(),
                keys.stats(),
                keys.events(),
                keys.held(),
                keys.callbacks(),
            ] {
                invocation.key(key);
            }
            let reply: String = invocation
                .arg(org.as_str())
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            match DeleteReply::read(&reply)? {
                DeleteReply::Deleted => {
                    inner.forget(id);
                    let _: () = con
                        .zrem(inner.keys.org(&org), id.to_string())
                        .await
                        .map_err(unavailable)?;
                    let _: () = con
                        .srem(inner.keys.live(), id.to_string())
                        .await
                        .map_err(unavailable)?;
                    Ok(())
                }
                DeleteReply::NotFound => Err(StoreError::NotFound),
                DeleteReply::NotDeletable(current) => Err(crate::domain::InvalidTransition {
                    current,
                    command: Command::Delete,
                }
                .into()),
            }
        })
        .await
    }

    async fn call_stats(&self, org: &OrgId, id: CampaignId) -> Result<CallStats, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            inner.meta(&mut con, Some(&org), id).await?;
            let fields: HashMap<String, i64> = con
                .hgetall(inner.keys.campaign(id).stats())
                .await
                .map_err(unavailable)?;
            let mut stats = CallStats::default();
            for (field, value) in fields {
                let value = value.max(0) as u64;
                if field == "dur" {
                    stats.total_duration_secs = value;
                } else if let Some(outcome) = field.strip_prefix("o:").and_then(DialOutcome::parse)
                {
                    stats.add(outcome, value);
                } else if let Some(hour) =
                    field.strip_prefix("h:").and_then(|hour| hour.parse().ok())
                {
                    stats.by_hour.insert(hour, value);
                }
            }
            Ok(stats)
        })
        .await
    }
}
