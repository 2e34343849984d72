//! [`Outboxes`] on Redis: each campaign's events list, each organisation's outbox (a sorted set
//! by sequence) and dead letters.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::records::{self, ContactRecord, ms};
use super::{RedisStore, unavailable};
use crate::domain::{CampaignId, OrgId};
use crate::store::{
    DeadLetter, Listing, OutboxEntry, OutboxLimits, Outboxes, Page, Relayed, RelayedEvent,
    StoreError, StoredEvent, skip_unreadable,
};
use crate::telemetry::{WEBHOOK_DEAD_LETTERS, WEBHOOK_DEAD_LETTERS_DROPPED};

#[async_trait]
impl Outboxes for RedisStore {
    fn record_events_for(&self, orgs: HashSet<OrgId>) {
        *self.inner.event_orgs.write() = orgs;
    }

    async fn campaign_events(
        &self,
        id: CampaignId,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let texts: Vec<String> = con
                .lrange(keys.events(), 0, limit.max(1) as isize - 1)
                .await
                .map_err(unavailable)?;
            let records = texts
                .iter()
                .map(|text| records::EventRecord::decode(text))
                .collect::<Result<Vec<_>, _>>()?;
            // A started call's event names its number: read from its contact's details, all
            // in one round trip.
            let started: Vec<u32> = records
                .iter()
                .filter_map(records::EventRecord::started_sequence)
                .collect();
            let mut details: Vec<Option<String>> = Vec::new();
            if !started.is_empty() {
                let mut pipe = redis::pipe();
                for &sequence in &started {
                    pipe.hget(keys.contact_bucket(sequence), sequence);
                }
                details = pipe.query_async(&mut con).await.map_err(unavailable)?;
            }
            let mut details = details.into_iter();
            let mut events = Vec::with_capacity(records.len());
            for record in records {
                let phone = match record.started_sequence() {
                    Some(_) => {
                        let text = details.next().flatten().ok_or_else(|| {
                            StoreError::Corrupt("event of a contact that is gone".to_owned())
                        })?;
                        Some(ContactRecord::decode(&text, None)?.phone()?)
                    }
                    None => None,
                };
                events.push(record.into_stored(id, phone)?);
            }
            Ok(events)
        })
        .await
    }

    async fn relay_events(
        &self,
        org: &OrgId,
        id: CampaignId,
        events: Vec<RelayedEvent>,
        limits: OutboxLimits,
        now: DateTime<Utc>,
    ) -> Result<Relayed, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let Some(last) = events.last().map(|event| event.seq) else {
                return Ok(Relayed::default());
            };
            let mut con = inner.connection().await?;
            let keys = inner.keys.outbox(&org);
            let mut invocation = inner.scripts.relay.prepare_invoke();
            for key in [
                &keys.outbox,
                &keys.seq,
                &keys.relayed,
                &keys.dead,
                &keys.dead_letters,
                &keys.dead_seq,
            ] {
                invocation.key(key);
            }
            invocation
                .arg(id.to_string())
                .arg(limits.max_outbox)
                .arg(limits.max_dead_letters)
                .arg(ms(now));
            for event in events {
                invocation
                    .arg(event.seq)
                    .arg(event.id)
                    .arg(ms(event.at))
                    .arg(event.body);
            }
            let overflowed: u64 = invocation
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            // Then dropped from the campaign's outbox: a crash before this repeats the move
            // above, which skips what it moved.
            let left: u64 = inner
                .scripts
                .events_trim
                .key(inner.keys.campaign(id).events())
                .arg(last)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(Relayed { left, overflowed })
        })
        .await
    }

    async fn outbox(&self, org: &OrgId, limit: u32) -> Result<(Vec<OutboxEntry>, u64), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let (members, depth): (Vec<Vec<u8>>, u64) = redis::pipe()
                .zrange(&keys.outbox, 0, limit.max(1) as isize - 1)
                .zcard(&keys.outbox)
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            let entries = members
                .iter()
                .map(|member| records::outbox_entry(member))
                .collect::<Result<_, _>>()?;
            Ok((entries, depth))
        })
        .await
    }

    async fn ack_outbox(&self, org: &OrgId, seq: u64) -> Result<(), StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let _: u64 = con
                .zrembyscore(&keys.outbox, "-inf", seq)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn dead_letter(
        &self,
        org: &OrgId,
        seq: u64,
        reason: &str,
        failed_at: DateTime<Utc>,
        limits: OutboxLimits,
    ) -> Result<(), StoreError> {
        let (org, reason) = (org.clone(), reason.replace('\n', " "));
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let forgotten: u64 = inner
                .scripts
                .dead_letter
                .key(&keys.outbox)
                .key(&keys.seq)
                .key(&keys.dead)
                .key(&keys.dead_letters)
                .key(&keys.dead_seq)
                .arg("bury")
                .arg(seq)
                .arg(reason)
                .arg(ms(failed_at))
                .arg(limits.max_dead_letters)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            metrics::counter!(WEBHOOK_DEAD_LETTERS).increment(1);
            metrics::counter!(WEBHOOK_DEAD_LETTERS_DROPPED).increment(forgotten);
            Ok(())
        })
        .await
    }

    async fn dead_letters(
        &self,
        org: &OrgId,
        page: Page,
    ) -> Result<Listing<DeadLetter>, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let total: u64 = con.zcard(&keys.dead).await.map_err(unavailable)?;
            let first = page.offset.min(total) as isize;
            let ids: Vec<String> = con
                .zrange(&keys.dead, first, first + page.limit as isize - 1)
                .await
                .map_err(unavailable)?;
            if ids.is_empty() {
                return Ok(Listing {
                    items: Vec::new(),
                    total,
                });
            }
            let letters: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
                .arg(&keys.dead_letters)
                .arg(&ids)
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            let mut items = Vec::with_capacity(ids.len());
            for (id, letter) in ids.into_iter().zip(letters) {
                let Some(letter) = letter else { continue };
                match records::dead_letter(id.clone(), &letter) {
                    Ok(letter) => items.push(letter),
                    Err(error) => skip_unreadable("dead letter", id, &error),
                }
            }
            Ok(Listing { items, total })
        })
        .await
    }

    async fn replay_dead_letters(
        &self,
        org: &OrgId,
        ids: Option<Vec<String>>,
    ) -> Result<u64, StoreError> {
        let org = org.clone();
        self.io(move |inner| async move {
            let keys = inner.keys.outbox(&org);
            let mut con = inner.connection().await?;
            let run = |ids: &[String]| {
                let mut invocation = inner.scripts.dead_letter.prepare_invoke();
                invocation
                    .key(&keys.outbox)
                    .key(&keys.seq)
                    .key(&keys.dead)
                    .key(&keys.dead_letters)
                    .key(&keys.dead_seq)
                    .arg("replay");
                for id in ids {
                    invocation.arg(id);
                }
                invocation
            };
            let mut n_replayed = 0u64;
            match ids {
                // A thousand a script, however many are asked for.
                Some(ids) => {
                    for chunk in ids.chunks(1_000) {
                        let moved: u64 = run(chunk)
                            .invoke_async(&mut con)
                            .await
                            .map_err(unavailable)?;
                        n_replayed += moved;
                    }
                }
                None => loop {
                    let moved: u64 = run(&[]).invoke_async(&mut con).await.map_err(unavailable)?;
                    n_replayed += moved;
                    if moved == 0 {
                        break;
                    }
                },
            }
            Ok(n_replayed)
        })
        .await
    }
}
