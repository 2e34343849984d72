//! [`Dispatch`] on Redis: the claim and record scripts (the record's side in `record.rs`), with
//! what the dispatch path keeps of each campaign between them (the last read, the last
//! record's answer).

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::batch::Run;
use super::connections::Connection;
use super::leases::LIVE_PAGE;
use super::records::{ContactRecord, Meta, ms};
use super::replies::{ClaimReply, Claimed};
use super::{Inner, RedisStore, unavailable};
use crate::domain::{
    CallId, CampaignId, CampaignStatus, ClaimSlots, ContactId, HeldReason, OrgId, PacingState,
    PhoneNumber, SkipReason, local_date,
};
use crate::store::rules::{self, PartitionVerdict};
use crate::store::{
    Campaign, ClaimBatch, ClaimedCall, Dispatch, Fence, Outcome, Recorded, StoreError,
};

/// A commit or claim that met a concurrent change is tried again this many times.
pub(super) const ATTEMPTS: usize = 8;

/// A campaign's partition verdicts under one version.
#[derive(Debug, Default)]
pub(super) struct Verdicts {
    version: String,
    decided: Vec<Option<Decided>>,
}

/// One partition's verdict, the instant it was decided and the instant it may change.
#[derive(Debug, Clone, Copy)]
struct Decided {
    verdict: PartitionVerdict,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// A campaign as a record script left it (see `Inner::recorded`).
pub(super) struct AfterRecord {
    pub(super) now: DateTime<Utc>,
    pub(super) version: String,
    pub(super) status: CampaignStatus,
    pub(super) queue: Queue,
    pub(super) events: u64,
}

impl AfterRecord {
    /// The claim of the recording instant that may claim nothing, answered from this: when the
    /// outcomes just recorded say all its script would (no call past its deadline, the version
    /// its gate was decided on); `None` when the script must run.
    fn answer(&self, meta: &Meta, pacing: &PacingState, now: DateTime<Utc>) -> Option<ClaimBatch> {
        let campaign = &meta.campaign;
        let answers = self.now == now
            && self.version == meta.version
            && self.status == campaign.status
            && self
                .queue
                .first_deadline
                .is_none_or(|deadline| deadline > now);
        answers.then(|| ClaimBatch {
            org: campaign.org.clone(),
            calls: Vec::new(),
            status: self.status,
            wake_at: rules::wake_or_expire(
                self.queue.wake_at(campaign, self.status, pacing, now),
                campaign,
                self.status,
            ),
            in_flight: self.queue.in_flight,
            events: self.events,
            held: Vec::new(),
            skipped: Vec::new(),
            frequency_caps: campaign.spec.schedule.frequency_caps.clone(),
            queued: rules::queue_depth(campaign, self.status, pacing, self.queue.n_fresh, now),
        })
    }
}

/// The slots a claim of up to `limit` looking `ahead` asks for (`Schedule::claim_slots`). The
/// gate needs the tz database, so it is decided here; the claim script re-checks the version it
/// was decided on, the cap, the spacing and the concurrency.
pub(super) fn plan_claim(
    meta: &Meta,
    pacing: &PacingState,
    now: DateTime<Utc>,
    limit: u32,
    ahead: chrono::Duration,
) -> ClaimSlots {
    let campaign = &meta.campaign;
    match (campaign.status.is_dispatching(), campaign.starts_at) {
        (true, Some(start)) => {
            (campaign.spec.schedule).claim_slots(start, pacing, now, ahead, limit)
        }
        _ => ClaimSlots::default(),
    }
}

/// A campaign's queue as a claim or record script reports it (both put these at the same
/// places of their replies: 1, 3, 4 and 5).
pub(super) struct Queue {
    pub(super) in_flight: u32,
    pub(super) first_retry: Option<DateTime<Utc>>,
    /// Contacts never called or released still waiting.
    pub(super) n_fresh: u64,
    pub(super) first_deadline: Option<DateTime<Utc>>,
}

impl Queue {
    /// When the campaign, in `status` after a step, wants its next one: its next claim, or the
    /// deadline of a call whose outcome has not come.
    fn wake_at(
        &self,
        campaign: &Campaign,
        status: CampaignStatus,
        pacing: &PacingState,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let schedule = &campaign.spec.schedule;
        let next_claim = match campaign.starts_at {
            Some(start)
                if status.is_dispatching() && self.in_flight < schedule.max_concurrent_calls =>
            {
                schedule.next_claim_at(start, pacing, now, self.n_fresh > 0, self.first_retry)
            }
            _ => None,
        };
        next_claim.into_iter().chain(self.first_deadline).min()
    }
}

/// A campaign's pacing state as of `now`: calls counted today, and the next slot.
pub(super) fn pacing_at(meta: &Meta, now: DateTime<Utc>) -> PacingState {
    let today = local_date(meta.campaign.spec.schedule.timezone, now);
    PacingState {
        day: Some(today),
        used: meta.pacing.used_on(today),
        next_slot_at: meta.pacing.next_slot_at,
    }
}

impl Inner {
    /// The campaign and its pacing as last seen by the dispatch path, or read now.
    pub(super) async fn read_for_dispatch(
        &self,
        con: &mut Connection,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<(Arc<Meta>, PacingState), StoreError> {
        if let Some(cached) = self.read_cache(id, now) {
            return Ok(cached);
        }
        let meta = Arc::new(self.meta(con, None, id).await?);
        let pacing = pacing_at(&meta, now);
        self.cache.lock().insert(id, (meta.clone(), pacing));
        Ok((meta, pacing))
    }

    /// The campaign and its pacing as the dispatch path last saw them, if that was on the local
    /// date of `now`.
    pub(super) fn read_cache(
        &self,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Option<(Arc<Meta>, PacingState)> {
        let (meta, pacing) = self.cache.lock().get(&id).cloned()?;
        let today = local_date(meta.campaign.spec.schedule.timezone, now);
        (pacing.day == Some(today)).then_some((meta, pacing))
    }

    /// A claim answered at once, with no request and no task: the campaign is cached for today,
    /// its gate lets nothing through now, and the record script of the same instant reported all
    /// its claim script would (`claim`).
    pub(super) fn answer_from_record(
        &self,
        id: CampaignId,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Option<ClaimBatch> {
        let (meta, pacing) = self.read_cache(id, now)?;
        let wanted = !plan_claim(&meta, &pacing, now, limit, ahead).at.is_empty();
        if wanted || rules::expires_now(&meta.campaign, now) {
            return None;
        }
        let mut recorded = self.recorded.lock();
        let batch = recorded.get(&id)?.answer(&meta, &pacing, now)?;
        recorded.remove(&id);
        Some(batch)
    }

    pub(super) fn forget(&self, id: CampaignId) {
        self.cache.lock().remove(&id);
        self.recorded.lock().remove(&id);
        self.verdicts.lock().remove(&id);
    }

    /// The callee gate's verdict of each of the campaign's partitions at `now`. A verdict stays
    /// what it is from the instant it was decided until its own instant (an open window's
    /// `not_after`, a held partition's opening) under one version of the campaign, so each is
    /// decided again only then: a national list's few dozen partitions cost a claim a lookup
    /// each, not a walk of the tz database each.
    pub(super) fn partition_verdicts(
        &self,
        meta: &Meta,
        now: DateTime<Utc>,
    ) -> Vec<PartitionVerdict> {
        let campaign = &meta.campaign;
        let safety = self.safety.read().clone();
        let mut all = self.verdicts.lock();
        let cached = all.entry(campaign.id).or_default();
        if cached.version != meta.version {
            cached.version.clone_from(&meta.version);
            cached.decided.clear();
        }
        cached.decided.resize(meta.partitions.len(), None);
        meta.partitions
            .iter()
            .zip(cached.decided.iter_mut())
            .map(|(key, decided)| match *decided {
                Some(Decided {
                    verdict,
                    from,
                    until,
                }) if from <= now && now < until => verdict,
                _ => {
                    let verdict = rules::partition_verdict(&safety, campaign, key, now);
                    *decided = Some(Decided {
                        verdict,
                        from: now,
                        until: verdict.changes_at(),
                    });
                    verdict
                }
            })
            .collect()
    }

    /// Whether the steps of `org`'s campaigns write webhook events.
    pub(super) fn records_events(&self, org: &OrgId) -> bool {
        self.event_orgs.read().contains(org)
    }

    pub(super) async fn claim(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Result<ClaimBatch, StoreError> {
        let mut con = self.connection().await?;
        let recorded = self.recorded.lock().remove(&id);
        for _ in 0..ATTEMPTS {
            let (meta, pacing) = self.read_for_dispatch(&mut con, id, now).await?;
            if self.expire_if_due(&meta, now).await? {
                continue;
            }
            let slots = plan_claim(&meta, &pacing, now, limit, ahead);
            if let Some(batch) = recorded
                .as_ref()
                .filter(|_| slots.at.is_empty())
                .and_then(|after| after.answer(&meta, &pacing, now))
            {
                return Ok(batch);
            }
            let (prepared, run) = self.prepare_claim(id, fence, meta, slots, now, ahead);
            let reply = self.scripts.claim.run(con.clone(), run).await?;
            if let Some(batch) = self
                .after_claim(&mut con, id, prepared, &reply, now)
                .await?
            {
                return Ok(batch);
            }
        }
        Err(unavailable("the campaign kept changing during the claim"))
    }

    /// Records `outcomes` and claims in one run of `step.lua` when the claim asks for calls;
    /// otherwise (nothing to claim now, or the campaign expires) the record runs alone and the
    /// claim answers from it, as two calls would.
    pub(super) async fn record_and_claim(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Result<(Vec<Recorded>, Result<ClaimBatch, StoreError>), StoreError> {
        let mut con = self.connection().await?;
        let (meta, pacing) = self.read_for_dispatch(&mut con, id, now).await?;
        let slots = plan_claim(&meta, &pacing, now, limit, ahead);
        if slots.at.is_empty() || rules::expires_now(&meta.campaign, now) {
            let recorded = self.record(id, outcomes, now).await?;
            let claimed = match self.answer_from_record(id, now, limit, ahead) {
                Some(batch) => Ok(batch),
                None => self.claim(id, fence, now, limit, ahead).await,
            };
            return Ok((recorded, claimed));
        }
        let (record, known) = self.record_run(&meta, &pacing, id, outcomes, now);
        let (prepared, claim) = self.prepare_claim(id, fence, meta, slots, now, ahead);
        let reply = self
            .scripts
            .step
            .run(con.clone(), Run::then(record, claim))
            .await?;
        let [redis::Value::Array(recorded), redis::Value::Array(claimed)] = reply.as_slice() else {
            return Err(StoreError::Corrupt("step reply".to_owned()));
        };
        let recorded = self
            .after_record(&mut con, id, recorded, known, now)
            .await?;
        let claimed = match self.after_claim(&mut con, id, prepared, claimed, now).await {
            Ok(Some(batch)) => {
                // The claim's own answer stands; the record's is older.
                self.recorded.lock().remove(&id);
                Ok(batch)
            }
            // The campaign changed since it was read (the claim wrote nothing): claimed again,
            // with what the record left.
            Ok(None) => self.claim(id, fence, now, limit, ahead).await,
            Err(error) => Err(error),
        };
        Ok((recorded, claimed))
    }

    /// Whether the campaign's expiry passed and was applied now (whatever waits expires, in one
    /// commit like a cancel): then it is read again, and a claim reads it completed.
    async fn expire_if_due(&self, meta: &Meta, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !rules::expires_now(&meta.campaign, now) {
            return Ok(false);
        }
        let (org, id) = (&meta.campaign.org, meta.campaign.id);
        match self
            .change(org, id, now, |campaign, _| rules::expire(campaign, now))
            .await
        {
            Ok(_) | Err(StoreError::InvalidState(_)) => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// The claim script's run for `slots`, and what reading its reply needs.
    fn prepare_claim(
        &self,
        id: CampaignId,
        fence: Fence,
        meta: Arc<Meta>,
        slots: ClaimSlots,
        now: DateTime<Utc>,
        ahead: chrono::Duration,
    ) -> (PreparedClaim, Run) {
        let keys = self.keys.campaign(id);
        let campaign = &meta.campaign;
        let schedule = &campaign.spec.schedule;
        let n_wanted = slots.at.len() as u32;
        let today = local_date(schedule.timezone, now);
        // The callee gate of each partition (none when nothing is wanted).
        let verdicts = if n_wanted > 0 {
            self.partition_verdicts(&meta, now)
        } else {
            Vec::new()
        };
        let mut invocation = Run::new(n_wanted);
        for key in [
            keys.meta(),
            keys.released(),
            keys.retry(),
            keys.inflight(),
            keys.contacts(),
            keys.calls(),
            keys.events(),
            keys.held(),
        ] {
            invocation.key(key);
        }
        invocation
            .arg(fence.0)
            .arg(&meta.version)
            .arg(ms(now))
            .arg(n_wanted)
            .arg(schedule.max_concurrent_calls)
            .arg(schedule.max_calls_per_day.unwrap_or(0))
            .arg(slots.at.first().copied().map(ms).unwrap_or(0))
            .arg(ms(now + ahead + self.call_deadline.0))
            .arg(today.to_string())
            .arg(u8::from(self.records_events(&campaign.org)))
            .arg(meta.partitions.len() - 1);
        // (partition, until ms or 0 for a skip, reason)
        let closed: Vec<(usize, i64, &str)> = verdicts
            .iter()
            .enumerate()
            .filter_map(|(partition, verdict)| match *verdict {
                PartitionVerdict::Open(_) => None,
                PartitionVerdict::Held(reason, until) => {
                    Some((partition, ms(until), reason.as_str()))
                }
                PartitionVerdict::Skip(reason) => Some((partition, 0, reason.as_str())),
            })
            .collect();
        invocation.arg(closed.len());
        for (partition, until, reason) in &closed {
            invocation.arg(partition).arg(until).arg(reason);
        }
        // Each call's id, and under a cap its slot and the next (without one, every call's
        // slot is the first's).
        let paced = schedule.max_calls_per_day.unwrap_or(0) > 0;
        let mut call_ids = Vec::with_capacity(slots.at.len());
        for (&at, next) in slots.at.iter().zip(&slots.next_slot_at) {
            let call_id = CallId::random();
            invocation.arg(call_id.to_string());
            call_ids.push(call_id);
            if paced {
                invocation.arg(ms(at)).arg(next.map(ms).unwrap_or(0));
            }
        }
        let prepared = PreparedClaim {
            meta,
            slots,
            call_ids,
            verdicts,
            today,
        };
        (prepared, invocation)
    }

    /// The batch the claim script's `reply` gives; `None` when the campaign changed since it
    /// was read (nothing was written: claim again).
    async fn after_claim(
        &self,
        con: &mut Connection,
        id: CampaignId,
        prepared: PreparedClaim,
        reply: &[redis::Value],
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimBatch>, StoreError> {
        let PreparedClaim {
            meta,
            slots,
            call_ids,
            verdicts,
            today,
        } = prepared;
        let campaign = &meta.campaign;
        let claimed = match ClaimReply::read(reply)? {
            ClaimReply::Stale => {
                self.forget(id);
                return Err(StoreError::StaleLease);
            }
            ClaimReply::Retry => {
                self.forget(id);
                return Ok(None);
            }
            ClaimReply::Claimed(claimed) => claimed,
        };
        let Claimed {
            status,
            queue,
            n_claims_before,
            events,
            ..
        } = claimed;
        let in_flight = queue.in_flight;
        let pacing = PacingState {
            day: Some(today),
            used: claimed.calls_today,
            next_slot_at: claimed.next_slot_at,
        };
        if status == campaign.status {
            self.cache.lock().insert(id, (meta.clone(), pacing));
        } else {
            // Activated or completed: the version moved.
            self.forget(id);
        }
        let mut calls = Vec::with_capacity(claimed.contacts.len());
        for stored in &claimed.contacts {
            let index = calls.len();
            let record = match &stored.state {
                Some(state) => ContactRecord::decode(&stored.details, Some(state))?,
                // A first attempt: the state claim.lua wrote from what it was sent.
                None => {
                    let call_id = call_ids
                        .get(index)
                        .ok_or_else(|| unavailable("more calls claimed than call ids sent"))?;
                    ContactRecord::decode(&stored.details, None)?.first_attempt(call_id)
                }
            };
            let not_after = verdicts
                .get(record.partition as usize)
                .and_then(|verdict| verdict.not_after());
            let contact = record.into_contact(rules::contact_id(id, stored.sequence), status)?;
            let rotation = n_claims_before + index as u64;
            calls.push(ClaimedCall {
                campaign_id: id,
                contact_id: contact.id,
                call_id: contact
                    .call_id
                    .ok_or_else(|| unavailable("claimed contact without call id"))?,
                attempt: contact.attempts,
                variables: contact.details.variables(),
                phone: contact.details.phone,
                agent_id: campaign.spec.agent_id.clone(),
                caller_id: campaign
                    .spec
                    .caller_id(rotation, rand::random())
                    .map(str::to_owned),
                not_after,
                at: slots.at[index],
            });
        }
        if status.is_terminal() && in_flight == 0 && events == 0 {
            let _: () = con
                .srem(self.keys.live(), id.to_string())
                .await
                .map_err(unavailable)?;
        }
        let rules::PutBack { held, skipped } = rules::put_back_by_reason(
            claimed
                .put_back
                .iter()
                .filter_map(|&(partition, n)| Some((*verdicts.get(partition as usize)?, n))),
        );
        Ok(Some(ClaimBatch {
            org: campaign.org.clone(),
            calls,
            status,
            wake_at: rules::wake_or_expire(
                queue.wake_at(campaign, status, &pacing, now),
                campaign,
                status,
            ),
            in_flight,
            events,
            held,
            skipped,
            frequency_caps: campaign.spec.schedule.frequency_caps.clone(),
            queued: rules::queue_depth(campaign, status, &pacing, queue.n_fresh, now),
        }))
    }
}

/// A claim script's run as sent: the campaign it was planned on, its slots and call ids, the
/// partitions' verdicts and the local date.
struct PreparedClaim {
    meta: Arc<Meta>,
    slots: ClaimSlots,
    /// The call ids sent, in slot order.
    call_ids: Vec<CallId>,
    verdicts: Vec<PartitionVerdict>,
    today: chrono::NaiveDate,
}

impl RedisStore {
    /// Runs `release.lua` on one claimed call: back to the queue, or with `how` (a skip reason,
    /// or `''`, a held reason and an instant) skipped or held.
    async fn release_as(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        how: Vec<String>,
    ) -> Result<(), StoreError> {
        self.io(move |inner| async move {
            let Some(sequence) = rules::contact_sequence(id, contact) else {
                return Ok(());
            };
            let mut con = inner.connection().await?;
            let keys = inner.keys.campaign(id);
            let mut invocation = inner.scripts.release.prepare_invoke();
            invocation
                .key(keys.meta())
                .key(keys.calls())
                .key(keys.inflight())
                .key(keys.retry())
                .key(keys.released())
                .arg(sequence)
                .arg(attempt);
            for arg in how {
                invocation.arg(arg);
            }
            let _: i64 = invocation
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl Dispatch for RedisStore {
    async fn claim_ahead(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Result<ClaimBatch, StoreError> {
        if let Some(batch) = self.inner.answer_from_record(id, now, limit, ahead) {
            return Ok(batch);
        }
        self.io(move |inner| async move { inner.claim(id, fence, now, limit, ahead).await })
            .await
    }

    async fn record_outcomes(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        let outcomes = outcomes.to_vec();
        self.io(move |inner| async move { inner.record(id, &outcomes, now).await })
            .await
    }

    async fn record_and_claim(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Result<(Vec<Recorded>, Result<ClaimBatch, StoreError>), StoreError> {
        let outcomes = outcomes.to_vec();
        self.io(move |inner| async move {
            (inner.record_and_claim(id, &outcomes, fence, now, limit, ahead)).await
        })
        .await
    }

    async fn release_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
    ) -> Result<(), StoreError> {
        self.release_as(id, contact, attempt, Vec::new()).await
    }

    fn evict(&self, id: CampaignId) {
        self.inner.forget(id);
    }

    async fn skip_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        reason: SkipReason,
    ) -> Result<(), StoreError> {
        self.release_as(id, contact, attempt, vec![reason.as_str().to_owned()])
            .await
    }

    async fn hold_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        reason: HeldReason,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let how = vec![
            String::new(),
            reason.as_str().to_owned(),
            ms(until).to_string(),
        ];
        self.release_as(id, contact, attempt, how).await
    }

    async fn call_party(
        &self,
        id: CampaignId,
        contact: ContactId,
    ) -> Result<(OrgId, PhoneNumber), StoreError> {
        self.io(move |inner| async move {
            let sequence = rules::contact_sequence(id, contact).ok_or(StoreError::NotFound)?;
            let mut con = inner.connection().await?;
            let meta = inner.meta(&mut con, None, id).await?;
            let record: Option<String> = con
                .hget(inner.keys.campaign(id).contact_bucket(sequence), sequence)
                .await
                .map_err(unavailable)?;
            let record = ContactRecord::decode(&record.ok_or(StoreError::NotFound)?, None)?;
            Ok((meta.campaign.org, record.phone()?))
        })
        .await
    }

    async fn calls_in_flight(
        &self,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedCall>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let meta = inner.meta(&mut con, None, id).await?;
            let keys = inner.keys.campaign(id);
            // Scores are negated deadlines: those after now score below -now.
            let sequences: Vec<u32> = con
                .zrangebyscore(keys.inflight(), "-inf", format!("({}", -ms(now)))
                .await
                .map_err(unavailable)?;
            let mut calls = Vec::with_capacity(sequences.len());
            for sequence in sequences {
                let (record, state): (Option<String>, Option<String>) = redis::pipe()
                    .hget(keys.contact_bucket(sequence), sequence)
                    .hget(keys.calls_bucket(sequence), sequence)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                let (Some(record), Some(state)) = (record, state) else {
                    continue;
                };
                let contact_id = rules::contact_id(id, sequence);
                let contact = ContactRecord::decode(&record, Some(&state))
                    .and_then(|record| record.into_contact(contact_id, meta.campaign.status))?;
                let Some(call_id) = contact.call_id else {
                    continue;
                };
                let spec = &meta.campaign.spec;
                calls.push(ClaimedCall {
                    campaign_id: id,
                    contact_id,
                    call_id,
                    attempt: contact.attempts,
                    variables: contact.details.variables(),
                    phone: contact.details.phone,
                    agent_id: spec.agent_id.clone(),
                    caller_id: spec
                        .caller_id(u64::from(sequence), rand::random())
                        .map(str::to_owned),
                    // Already placed: asked about again, never placed anew.
                    not_after: None,
                    at: contact.called_at.unwrap_or(now),
                });
            }
            calls.sort_by_key(|call| call.contact_id);
            Ok(calls)
        })
        .await
    }

    /// Read in `SSCAN` pages between other commands: one `SMEMBERS` of 10 000 campaigns held
    /// Redis 3 ms, every keeper tick, and every claim queued behind it.
    async fn live_campaigns(&self) -> Result<Vec<CampaignId>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let (key, mut cursor) = (inner.keys.live(), 0u64);
            let mut ids = HashSet::new();
            loop {
                let (next, page): (u64, Vec<String>) = redis::cmd("SSCAN")
                    .arg(&key)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(LIVE_PAGE)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                // A member may come twice (the set was resized during the scan).
                ids.extend(page.iter().filter_map(|id| CampaignId::parse(id).ok()));
                if next == 0 {
                    return Ok(ids.into_iter().collect());
                }
                cursor = next;
            }
        })
        .await
    }

    async fn n_live(&self) -> Result<usize, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            con.scard(inner.keys.live()).await.map_err(unavailable)
        })
        .await
    }

    async fn unlist(&self, id: CampaignId) -> Result<(), StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let _: () = con
                .srem(inner.keys.live(), id.to_string())
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }
}
