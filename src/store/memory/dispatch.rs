//! [`Dispatch`] in memory: each step under the campaign's lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{
    CampaignId, CampaignStatus, ContactId, ContactStatus, HeldReason, OrgId, PhoneNumber,
    SkipReason,
};
use crate::store::rules::{self};
use crate::store::{ClaimBatch, ClaimedCall, Dispatch, Fence, Outcome, Recorded, StoreError};

#[async_trait]
impl Dispatch for MemoryStore {
    async fn claim_ahead(
        &self,
        id: CampaignId,
        fence: Fence,
        now: DateTime<Utc>,
        limit: u32,
        ahead: chrono::Duration,
    ) -> Result<ClaimBatch, StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        if state.lease.fence != fence {
            return Err(StoreError::StaleLease);
        }
        self.events_on(&mut state);
        state.reconcile_expired(now);
        if rules::expires_now(&state.campaign, now) {
            let from = state.campaign.status;
            let change = rules::expire(&mut state.campaign, now)?;
            state.apply(change);
            state.events.status(now, from, CampaignStatus::Completed);
        }
        let safety = self.inner.safety.read().clone();
        let deadline = now + ahead + self.call_deadline.0;
        let (calls, put_back) = state.claim(now, ahead, deadline, limit, &safety);
        let rules::PutBack { held, skipped } = rules::put_back_by_reason(put_back);
        state.complete_if_done(now);
        Ok(ClaimBatch {
            org: state.campaign.org.clone(),
            calls,
            status: state.campaign.status,
            wake_at: rules::wake_or_expire(
                state.next_wake(now),
                &state.campaign,
                state.campaign.status,
            ),
            in_flight: state.in_flight.len() as u32,
            events: state.events.waiting.len() as u64,
            held,
            skipped,
            frequency_caps: state.campaign.spec.schedule.frequency_caps.clone(),
            queued: rules::queue_depth(
                &state.campaign,
                state.campaign.status,
                &state.pacing,
                state.fresh.len(),
                now,
            ),
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
        let Some((sequence, first_attempt, due_ms)) = undo_claim(&mut state, contact, attempt)
        else {
            return Ok(());
        };
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

    async fn skip_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        reason: SkipReason,
    ) -> Result<(), StoreError> {
        self.refuse_claim(id, contact, attempt, |state, sequence| {
            state.skip(sequence, reason);
        })
    }

    async fn hold_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        reason: HeldReason,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.refuse_claim(id, contact, attempt, |state, sequence| {
            state.set_status(sequence, ContactStatus::Scheduled);
            state.park(sequence, reason, until);
        })
    }

    async fn call_party(
        &self,
        id: CampaignId,
        contact: ContactId,
    ) -> Result<(OrgId, PhoneNumber), StoreError> {
        let state = self.state(id)?;
        let state = state.lock();
        let record = rules::contact_sequence(id, contact)
            .and_then(|sequence| state.contacts.get(sequence as usize))
            .ok_or(StoreError::NotFound)?;
        Ok((state.campaign.org.clone(), record.details.phone.clone()))
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
                    // Already placed: asked about again, never placed anew.
                    not_after: None,
                    at: contact.called_at.unwrap_or(now),
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

    /// Live campaigns are found from their state here: nothing to drop.
    async fn unlist(&self, _id: CampaignId) -> Result<(), StoreError> {
        Ok(())
    }
}

impl MemoryStore {
    /// Undoes a claimed call the screen refused and ends it as `refuse` says (cancelled if its
    /// campaign was cancelled meanwhile); nothing when that attempt is not in flight.
    fn refuse_claim(
        &self,
        id: CampaignId,
        contact: ContactId,
        attempt: u32,
        refuse: impl FnOnce(&mut super::state::CampaignState, u32),
    ) -> Result<(), StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        let Some((sequence, _, _)) = undo_claim(&mut state, contact, attempt) else {
            return Ok(());
        };
        if state.campaign.status == CampaignStatus::Cancelled {
            state.set_status(sequence, ContactStatus::Cancelled);
        } else {
            refuse(&mut state, sequence);
        }
        Ok(())
    }
}

/// Takes attempt `attempt` of `contact` out of flight as if it had never been claimed: its
/// sequence, whether it was the first attempt, and when its last call was (a retry's due time).
/// `None` when that attempt is not in flight.
fn undo_claim(
    state: &mut super::state::CampaignState,
    contact: ContactId,
    attempt: u32,
) -> Option<(u32, bool, i64)> {
    let sequence = rules::contact_sequence(state.campaign.id, contact)?;
    if state
        .in_flight
        .get(&sequence)
        .is_none_or(|in_flight| in_flight.attempt != attempt)
    {
        return None;
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
    Some((sequence, first_attempt, due_ms))
}
