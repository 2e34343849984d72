//! [`Outboxes`] in memory: each organisation's outbox and dead letters.

use std::collections::{HashMap, HashSet, VecDeque};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{CampaignId, OrgId};
use crate::store::{
    DeadLetter, Listing, OutboxEntry, OutboxLimits, Outboxes, Page, Relayed, RelayedEvent,
    StoreError, StoredEvent,
};
use crate::telemetry::{WEBHOOK_DEAD_LETTERS, WEBHOOK_DEAD_LETTERS_DROPPED};

#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub(super) next_seq: u64,
    pub(super) entries: VecDeque<OutboxEntry>,
    /// The last event of each campaign moved here: a repeated move skips what it moved before.
    pub(super) relayed: HashMap<CampaignId, u64>,
    pub(super) dead: VecDeque<DeadLetter>,
}

impl Outbox {
    pub(super) fn push(&mut self, id: String, at: DateTime<Utc>, body: Vec<u8>) {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.entries.push_back(OutboxEntry { seq, id, at, body });
    }

    pub(super) fn bury(
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

#[async_trait]
impl Outboxes for MemoryStore {
    fn record_events_for(&self, orgs: HashSet<OrgId>) {
        *self.inner.event_orgs.write() = orgs;
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
}
