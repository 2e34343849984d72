//! Dispatch: claims, outcomes, releases, deadlines, the live campaigns.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pacer::domain::{
    CallId, CallSafety, CampaignId, CampaignStatus, ContactId, ContactStatus, DailyHours,
    DialOutcome, FloorProfile, HeldReason, LegalFloor, SchedulePatch, SkipReason, WeekHours,
};
use pacer::store::capabilities::*;
use pacer::store::{
    CallResult, CampaignStore, ClaimedCall, Control, Outcome, QueueDepth, Recorded, StoreError,
    unix_hour,
};

use super::*;

pub async fn claims_respect_concurrency_and_activate(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 5, concurrency(2)).await;
    let fence = lease(&*store, id).await;
    let batch = store.claim_due(id, fence, now(), 100).await.unwrap();
    assert_eq!(batch.calls.len(), 2);
    assert_eq!(batch.status, CampaignStatus::Active);
    assert_eq!(batch.in_flight, 2);
    assert_eq!(
        batch.queued,
        QueueDepth { waiting: 3, due: 3 },
        "the three left could be called now but for a free line"
    );
    assert_eq!(
        batch.wake_at,
        Some(now() + Duration::hours(1)),
        "full: no claim before an outcome, only a wake at the calls' deadline"
    );
    assert!(
        store
            .claim_due(id, fence, now(), 100)
            .await
            .unwrap()
            .calls
            .is_empty()
    );
    let call = &batch.calls[0];
    assert_eq!(call.attempt, 1);
    assert_eq!(call.caller_id.as_deref(), Some("+15550009999"));
}

/// What the store keeps of claimed calls, in slot order: contact, call id, attempt, slot.
fn as_stored(calls: &[ClaimedCall]) -> Vec<(ContactId, CallId, u32, DateTime<Utc>)> {
    let mut calls: Vec<_> = calls
        .iter()
        .map(|call| (call.contact_id, call.call_id, call.attempt, call.at))
        .collect();
    calls.sort_by_key(|call| call.3);
    calls
}

/// Claim ahead: the calls whose slots fall within the horizon, each with its slot; the pacing
/// moves past the last one, and a call released before its slot (a pause) goes back to wait.
pub async fn a_claim_ahead_takes_each_slot_of_its_horizon_once(store: Arc<dyn CampaignStore>) {
    // 24 a day on a whole-day window: a slot an hour, 08:00 the first.
    let patch = SchedulePatch {
        max_calls_per_day: Some(Some(24)),
        ..concurrency(5)
    };
    let id = scheduled(&*store, 8, patch).await;
    let fence = lease(&*store, id).await;
    let hour = |h: i64| now() + Duration::hours(h);
    let ahead = Duration::minutes(150);
    let batch = store
        .claim_ahead(id, fence, now(), 10, ahead)
        .await
        .unwrap();
    let slots: Vec<_> = batch.calls.iter().map(|call| call.at).collect();
    assert_eq!(slots, [hour(0), hour(1), hour(2)]);
    assert_eq!(batch.wake_at, Some(hour(3)), "the first slot left");
    assert_eq!(batch.in_flight, 3);
    assert!(
        (store
            .claim_ahead(id, fence, now(), 10, ahead)
            .await
            .unwrap())
        .calls
        .is_empty(),
        "a slot is claimed once"
    );
    // Calls in flight keep their slot and call id (a new owner places them then, under the
    // same idempotency key).
    let in_flight = store.calls_in_flight(id, now()).await.unwrap();
    assert_eq!(as_stored(&in_flight), as_stored(&batch.calls));
    // The concurrency bounds a claim ahead: two lines are left.
    let later = hour(2) + Duration::minutes(30);
    let batch = store
        .claim_ahead(id, fence, later, 10, ahead)
        .await
        .unwrap();
    let slots: Vec<_> = batch.calls.iter().map(|call| call.at).collect();
    assert_eq!(slots, [hour(3), hour(4)]);
    // Released before its slot (a pause), a call waits again; the next claim takes the next
    // slot for it (the day's count is not refunded).
    let last = &batch.calls[1];
    store
        .release_claim(id, last.contact_id, last.attempt)
        .await
        .unwrap();
    let batch = store
        .claim_ahead(id, fence, later, 10, ahead)
        .await
        .unwrap();
    let retaken: Vec<_> = batch
        .calls
        .iter()
        .map(|call| (call.contact_id, call.at))
        .collect();
    assert_eq!(retaken, [(last.contact_id, hour(5))]);
}

pub async fn a_step_records_and_claims_as_the_two_would_one_after_the_other(
    store: Arc<dyn CampaignStore>,
) {
    // Two lines, four contacts: the first claim takes both.
    let id = scheduled(&*store, 4, concurrency(2)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    assert_eq!(calls.len(), 2);
    let ended = |call: &ClaimedCall| Outcome {
        contact: call.contact_id,
        attempt: call.attempt,
        result: CallResult {
            outcome: DialOutcome::Completed,
            duration_secs: 30,
        },
    };
    // The first call's outcome, twice: applied once; the claim takes the line it freed.
    let outcomes = [ended(&calls[0]), ended(&calls[0])];
    let (recorded, claimed) = store
        .record_and_claim(id, &outcomes, fence, now(), 10, Duration::zero())
        .await
        .unwrap();
    assert_eq!(
        recorded,
        [
            Recorded::Applied {
                status: CampaignStatus::Active,
                in_flight: 1
            },
            Recorded::Duplicate
        ]
    );
    let claimed = claimed.unwrap();
    assert_eq!(claimed.calls.len(), 1, "the line the outcome freed");
    assert_eq!(claimed.in_flight, 2);
    let third = claimed.calls[0].clone();
    // Under a lease no longer held, the outcome is still recorded; the claim is refused.
    store.release_lease(id, "conformance", fence).await.unwrap();
    let newer = store
        .acquire_lease(id, "node-b", std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let (recorded, claimed) = store
        .record_and_claim(id, &[ended(&calls[1])], fence, now(), 10, Duration::zero())
        .await
        .unwrap();
    assert!(matches!(
        recorded[..],
        [Recorded::Applied { in_flight: 1, .. }]
    ));
    assert!(matches!(claimed, Err(StoreError::StaleLease)));
    // The last outcomes with nothing left to call: the campaign completes in that step.
    let last = store.claim_due(id, newer, now(), 10).await.unwrap().calls;
    assert_eq!(last.len(), 1);
    let outcomes = [ended(&third), ended(&last[0])];
    let (recorded, claimed) = store
        .record_and_claim(id, &outcomes, newer, now(), 10, Duration::zero())
        .await
        .unwrap();
    assert!(
        recorded
            .iter()
            .all(|r| matches!(r, Recorded::Applied { .. }))
    );
    let claimed = claimed.unwrap();
    assert!(claimed.calls.is_empty());
    assert_eq!(claimed.status, CampaignStatus::Completed);
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Completed), 4);
}

pub async fn nothing_is_claimed_from_a_paused_or_draft_campaign(store: Arc<dyn CampaignStore>) {
    let (draft, _) = store
        .create_campaign(&org("acme"), spec(concurrency(5)), contacts(2), now())
        .await
        .unwrap();
    assert!(
        store
            .claim_due(draft.id, lease(&*store, draft.id).await, now(), 10)
            .await
            .unwrap()
            .calls
            .is_empty()
    );
    let id = scheduled(&*store, 3, concurrency(5)).await;
    let fence = lease(&*store, id).await;
    store
        .control(&org("acme"), id, Control::Pause, now())
        .await
        .unwrap();
    let batch = store
        .claim_due(id, fence, now() + Duration::days(1), 10)
        .await
        .unwrap();
    assert!(batch.calls.is_empty());
    assert_eq!(batch.status, CampaignStatus::Paused);
}

pub async fn racing_claimers_never_claim_a_contact_twice(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 400, concurrency(100)).await;
    let fence = lease(&*store, id).await;
    let mut claimed = Vec::new();
    for round in 0..8 {
        let at = now() + Duration::seconds(round);
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.claim_due(id, fence, at, 7).await.unwrap().calls })
            })
            .collect();
        for racer in racers {
            claimed.extend(racer.await.unwrap());
        }
        for call in claimed.iter().filter(|call| call.attempt == 1) {
            let result = CallResult {
                outcome: DialOutcome::Completed,
                duration_secs: 1,
            };
            store
                .record_outcome(id, call.contact_id, call.attempt, result, at)
                .await
                .unwrap();
        }
    }
    let unique: HashSet<_> = claimed.iter().map(|call| call.contact_id).collect();
    assert_eq!(unique.len(), claimed.len(), "a contact was claimed twice");
    assert_eq!(claimed.len(), 8 * 4 * 7);
}

pub async fn a_claim_right_after_recording_answers_as_its_script_would(
    store: Arc<dyn CampaignStore>,
) {
    // A cap of 24 a day: one call per slot, the next slot later than any instant used here.
    let patch = SchedulePatch {
        max_calls_per_day: Some(Some(24)),
        ..concurrency(5)
    };
    let id = scheduled(&*store, 4, patch).await;
    let fence = lease(&*store, id).await;
    let done = CallResult {
        outcome: DialOutcome::Completed,
        duration_secs: 5,
    };
    // Twice: after the claim that activated the campaign, and with the campaign read by the
    // claim before (a store may answer that one without a round trip).
    // Claims the one call of `slot` and records its outcome 30 s later: that instant.
    let call_and_record = |slot: DateTime<Utc>| {
        let store = store.clone();
        async move {
            let calls = store.claim_due(id, fence, slot, 10).await.unwrap().calls;
            assert_eq!(calls.len(), 1);
            let t = slot + Duration::seconds(30);
            store
                .record_outcome(id, calls[0].contact_id, 1, done, t)
                .await
                .unwrap();
            t
        }
    };
    let mut slot = now();
    for _ in 0..2 {
        let t = call_and_record(slot).await;
        // The claim of the recording instant, and one a moment later (which runs the full claim).
        let right_after = store.claim_due(id, fence, t, 10).await.unwrap();
        let later = store
            .claim_due(id, fence, t + Duration::milliseconds(1), 10)
            .await
            .unwrap();
        assert!(right_after.calls.is_empty() && later.calls.is_empty());
        assert_eq!(
            (
                right_after.status,
                right_after.in_flight,
                right_after.wake_at,
                right_after.queued
            ),
            (later.status, later.in_flight, later.wake_at, later.queued)
        );
        assert_eq!(right_after.queued.due, 0, "between two slots of the cap");
        slot = right_after.wake_at.expect("the next slot");
        assert!(slot > t);
    }
    // A command between the record and the claim of its instant is seen by that claim.
    let t = call_and_record(slot).await;
    store
        .control(&org("acme"), id, Control::Pause, t)
        .await
        .unwrap();
    let paused = store.claim_due(id, fence, t, 10).await.unwrap();
    assert_eq!(paused.status, CampaignStatus::Paused);
    assert_eq!(paused.wake_at, None);
}

pub async fn an_outcome_reported_twice_counts_once(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 2, concurrency(5)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let result = CallResult {
        outcome: DialOutcome::Completed,
        duration_secs: 30,
    };
    let first = store
        .record_outcome(id, calls[0].contact_id, 1, result, now())
        .await
        .unwrap();
    assert_eq!(
        first,
        Recorded::Applied {
            status: CampaignStatus::Active,
            in_flight: 1
        }
    );
    let second = store
        .record_outcome(id, calls[0].contact_id, 1, result, now())
        .await
        .unwrap();
    assert_eq!(second, Recorded::Duplicate);
    let stale = store
        .record_outcome(id, calls[1].contact_id, 7, result, now())
        .await
        .unwrap();
    assert_eq!(
        stale,
        Recorded::Duplicate,
        "a wrong attempt number changes nothing"
    );
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Completed), 1);
    let last = store
        .record_outcome(id, calls[1].contact_id, 1, result, now())
        .await
        .unwrap();
    assert_eq!(
        last,
        Recorded::Applied {
            status: CampaignStatus::Completed,
            in_flight: 0
        }
    );
}

/// One batch of outcomes may name the same attempt twice (a provider's event and the dialer's
/// answer, for one call): the first is applied, the second is a duplicate, in counters and
/// statistics alike.
pub async fn an_outcome_twice_in_one_batch_counts_once(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 2, concurrency(5)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let outcome = |call: &ClaimedCall, outcome, duration_secs| Outcome {
        contact: call.contact_id,
        attempt: call.attempt,
        result: CallResult {
            outcome,
            duration_secs,
        },
    };
    let recorded = store
        .record_outcomes(
            id,
            &[
                outcome(&calls[0], DialOutcome::Completed, 30),
                outcome(&calls[1], DialOutcome::Busy, 0),
                outcome(&calls[0], DialOutcome::Completed, 30),
            ],
            now(),
        )
        .await
        .unwrap();
    let applied: Vec<bool> = recorded
        .iter()
        .map(|recorded| matches!(recorded, Recorded::Applied { .. }))
        .collect();
    assert_eq!(applied, [true, true, false]);
    assert_eq!(
        recorded[1],
        Recorded::Applied {
            status: CampaignStatus::Completed,
            in_flight: 0
        },
        "after the batch: nothing in flight, nothing left"
    );
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Completed), 1);
    assert_eq!(campaign.counters.of(ContactStatus::Failed), 1);
    assert_eq!(campaign.counters.of(ContactStatus::InProgress), 0);
    let stats = store.call_stats(&org("acme"), id).await.unwrap();
    assert_eq!(
        (
            stats.calls(),
            stats.of(DialOutcome::Completed),
            stats.of(DialOutcome::Busy),
            stats.total_duration_secs
        ),
        (2, 1, 1, 30)
    );
}

/// Statistics add every applied outcome's seconds once, whatever the batch: a lone outcome, an
/// applied outcome beside a duplicate of it, several outcomes, an outcome of one second and one
/// of none.
pub async fn statistics_add_each_batchs_applied_seconds(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 5, concurrency(5)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let outcome = |index: usize, outcome, duration_secs| Outcome {
        contact: calls[index].contact_id,
        attempt: calls[index].attempt,
        result: CallResult {
            outcome,
            duration_secs,
        },
    };
    let batches = [
        vec![outcome(0, DialOutcome::Completed, 1)],
        vec![
            outcome(1, DialOutcome::Completed, 7),
            outcome(1, DialOutcome::Completed, 7),
        ],
        vec![
            outcome(2, DialOutcome::Voicemail, 5),
            outcome(3, DialOutcome::Completed, 9),
            outcome(4, DialOutcome::Busy, 0),
        ],
    ];
    for batch in &batches {
        store.record_outcomes(id, batch, now()).await.unwrap();
    }
    let stats = store.call_stats(&org("acme"), id).await.unwrap();
    assert_eq!(
        (
            stats.calls(),
            stats.of(DialOutcome::Completed),
            stats.of(DialOutcome::Voicemail),
            stats.of(DialOutcome::Busy),
            stats.total_duration_secs
        ),
        (5, 3, 1, 1, 22)
    );
    let hours: Vec<(i64, u64)> = stats.by_hour.into_iter().collect();
    assert_eq!(hours, [(unix_hour(now()), 5)]);
}

pub async fn failed_attempts_are_retried_after_the_delay(store: Arc<dyn CampaignStore>) {
    let retry = SchedulePatch {
        retry_failed: Some(true),
        max_retry_attempts: Some(1),
        retry_delay_minutes: Some(10),
        ..concurrency(5)
    };
    let id = scheduled(&*store, 1, retry).await;
    let fence = lease(&*store, id).await;
    let call = store
        .claim_due(id, fence, now(), 10)
        .await
        .unwrap()
        .calls
        .remove(0);
    let in_flight = store.calls_in_flight(id, now()).await.unwrap();
    assert_eq!(
        as_stored(&in_flight),
        as_stored(std::slice::from_ref(&call))
    );
    let busy = CallResult {
        outcome: DialOutcome::Busy,
        duration_secs: 0,
    };
    store
        .record_outcome(id, call.contact_id, 1, busy, now())
        .await
        .unwrap();
    let batch = store
        .claim_due(id, fence, now() + Duration::minutes(9), 10)
        .await
        .unwrap();
    assert!(batch.calls.is_empty());
    assert_eq!(batch.wake_at, Some(now() + Duration::minutes(10)));
    let retry = store
        .claim_due(id, fence, now() + Duration::minutes(10), 10)
        .await
        .unwrap()
        .calls
        .remove(0);
    assert_eq!((retry.contact_id, retry.attempt), (call.contact_id, 2));
    let in_flight = store.calls_in_flight(id, now()).await.unwrap();
    assert_eq!(
        as_stored(&in_flight),
        as_stored(std::slice::from_ref(&retry))
    );
    store
        .record_outcome(id, call.contact_id, 2, busy, now() + Duration::minutes(11))
        .await
        .unwrap();
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(campaign.status, CampaignStatus::Completed);
    assert_eq!(campaign.counters.of(ContactStatus::Failed), 1);
    assert_eq!(campaign.counters.called, 1);
}

pub async fn a_claim_with_a_stale_fence_is_refused(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 3, concurrency(5)).await;
    let short = std::time::Duration::from_millis(100);
    let old = store
        .acquire_lease(id, "node-a", short)
        .await
        .unwrap()
        .unwrap();
    // node-a stalls past its TTL; node-b takes the campaign.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let new = store
        .acquire_lease(id, "node-b", short)
        .await
        .unwrap()
        .unwrap();
    assert!(new > old);
    assert!(matches!(
        store.claim_due(id, old, now(), 10).await,
        Err(StoreError::StaleLease)
    ));
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(
        campaign.counters.of(ContactStatus::InProgress),
        0,
        "the refused claim changed nothing"
    );
    assert_eq!(
        store
            .claim_due(id, new, now(), 10)
            .await
            .unwrap()
            .calls
            .len(),
        3
    );
}

pub async fn every_live_campaign_is_listed(store: Arc<dyn CampaignStore>) {
    // More than Redis reads in one `SSCAN` page: the set is listed over several.
    let mut ids = HashSet::new();
    for _ in 0..1_100 {
        ids.insert(scheduled(&*store, 1, concurrency(1)).await);
    }
    let listed = store.live_campaigns().await.unwrap();
    assert_eq!(listed.len(), ids.len(), "each once");
    assert_eq!(store.n_live().await.unwrap(), ids.len(), "counted");
    assert_eq!(listed.into_iter().collect::<HashSet<_>>(), ids);
}

/// `active → completed` in the claim that finds no contact waiting and no call running (here,
/// the last call ended `unknown` at its deadline): the claim script repeats
/// `CampaignStatus::completes`, as the memory store's step calls it.
pub async fn a_campaign_completes_in_the_claim_that_finds_nothing_left(
    store: Arc<dyn CampaignStore>,
) {
    let id = scheduled(&*store, 1, concurrency(1)).await;
    let fence = lease(&*store, id).await;
    let first = store.claim_due(id, fence, now(), 10).await.unwrap();
    assert_eq!(
        (first.calls.len(), first.status),
        (1, CampaignStatus::Active)
    );
    let deadline = store
        .claim_due(id, fence, now() + Duration::minutes(1), 10)
        .await
        .unwrap()
        .wake_at
        .expect("a wake at the call's deadline");
    let last = store.claim_due(id, fence, deadline, 10).await.unwrap();
    assert!(last.calls.is_empty());
    assert_eq!(last.status, CampaignStatus::Completed);
    assert_eq!((last.in_flight, last.wake_at), (0, None));
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(campaign.status, CampaignStatus::Completed);
    assert_eq!(campaign.completed_at, Some(deadline));
    assert_eq!(campaign.counters.of(ContactStatus::Unknown), 1);
}

pub async fn calls_without_an_outcome_by_their_deadline_end_unknown(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 2, concurrency(1)).await;
    let fence = lease(&*store, id).await;
    let lost = store.claim_due(id, fence, now(), 10).await.unwrap();
    assert_eq!(lost.calls.len(), 1);
    // Nothing to claim while the call runs, but a wake at its deadline.
    let waiting = store
        .claim_due(id, fence, now() + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert!(waiting.calls.is_empty());
    let deadline = waiting.wake_at.expect("a wake at the call's deadline");
    assert!(
        deadline > now() && deadline <= now() + Duration::days(1),
        "{deadline}"
    );
    let after = store.claim_due(id, fence, deadline, 10).await.unwrap();
    assert_eq!(
        after.calls.len(),
        1,
        "the next contact is called, the lost one is not"
    );
    assert_ne!(after.calls[0].contact_id, lost.calls[0].contact_id);
    let late = CallResult {
        outcome: DialOutcome::Completed,
        duration_secs: 1,
    };
    let recorded = store
        .record_outcome(id, lost.calls[0].contact_id, 1, late, deadline)
        .await
        .unwrap();
    assert_eq!(
        recorded,
        Recorded::Duplicate,
        "an outcome after reconciliation changes nothing"
    );
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Unknown), 1);
    let unknown = store
        .contacts(
            &org("acme"),
            id,
            Some(ContactStatus::Unknown),
            ALL,
            deadline,
        )
        .await
        .unwrap();
    assert_eq!(unknown.items.len(), 1);
    assert_eq!(unknown.items[0].id, lost.calls[0].contact_id);
}

pub async fn calls_in_flight_end_by_their_own_deadlines_earliest_first(
    store: Arc<dyn CampaignStore>,
) {
    let id = scheduled(&*store, 2, concurrency(2)).await;
    let fence = lease(&*store, id).await;
    let first = store.claim_due(id, fence, now(), 1).await.unwrap();
    let later = now() + Duration::minutes(10);
    let second = store.claim_due(id, fence, later, 1).await.unwrap();
    assert_eq!((first.calls.len(), second.calls.len()), (1, 1));
    // Two calls in flight, claimed ten minutes apart: the wake is the earlier one's deadline.
    let deadline = second.wake_at.expect("a wake at a call's deadline");
    assert_eq!(
        deadline,
        now() + Duration::hours(1),
        "the first call's deadline"
    );
    let after = store.claim_due(id, fence, deadline, 10).await.unwrap();
    assert!(after.calls.is_empty(), "the lost call is not placed again");
    assert_eq!(
        after.in_flight, 1,
        "only the first call passed its deadline"
    );
    assert_eq!(
        after.wake_at,
        Some(later + Duration::hours(1)),
        "then a wake at the second call's deadline"
    );
    let completed = CallResult {
        outcome: DialOutcome::Completed,
        duration_secs: 1,
    };
    let mut recorded = Vec::new();
    for call in [&first.calls[0], &second.calls[0]] {
        recorded.push(
            store
                .record_outcome(id, call.contact_id, 1, completed, deadline)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        recorded[0],
        Recorded::Duplicate,
        "ended 'unknown' at its deadline"
    );
    assert!(
        matches!(recorded[1], Recorded::Applied { .. }),
        "{recorded:?}"
    );
}

pub async fn a_released_claim_goes_back_to_the_queue(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 1, concurrency(1)).await;
    let fence = lease(&*store, id).await;
    let call = store
        .claim_due(id, fence, now(), 10)
        .await
        .unwrap()
        .calls
        .remove(0);
    store
        .release_claim(id, call.contact_id, call.attempt)
        .await
        .unwrap();
    let again = store
        .claim_due(id, fence, now(), 10)
        .await
        .unwrap()
        .calls
        .remove(0);
    assert_eq!((again.contact_id, again.attempt), (call.contact_id, 1));
    assert_ne!(again.call_id, call.call_id);
    // Released after its campaign was cancelled: cancelled, and never called after all.
    store
        .control(&org("acme"), id, Control::Cancel, now())
        .await
        .unwrap();
    store
        .release_claim(id, again.contact_id, again.attempt)
        .await
        .unwrap();
    let counters = store.campaign(&org("acme"), id).await.unwrap().counters;
    assert_eq!(
        (counters.called, counters.of(ContactStatus::Cancelled)),
        (0, 1)
    );
}

/// The US federal floor only (08:00–21:00 callee-local, every day), with a 60 s buffer.
fn us_floor() -> Arc<CallSafety> {
    let entries = [DailyHours::parse("hours", &[1, 2, 3, 4, 5, 6, 7], "08:00", "21:00").unwrap()];
    let profile = FloorProfile {
        region: "US".to_owned(),
        hours: WeekHours::new("hours", &entries).unwrap(),
        no_holidays: false,
        source: "47 CFR 64.1200(c)(1)".to_owned(),
        frequency_caps: Vec::new(),
        cooldown_after_refusal: None,
    };
    Arc::new(CallSafety {
        floor: LegalFloor::new([profile], []),
        quiet_open: Default::default(),
        end_buffer: Duration::seconds(60),
        org_caps: Default::default(),
    })
}

/// A claim serves only contacts whose callee's window is open; the others go back to wait,
/// with their reason and the instant it opens, without an attempt, and are claimed then.
pub async fn a_contact_whose_callee_window_is_closed_waits_with_its_reason(
    store: Arc<dyn CampaignStore>,
) {
    store.set_call_safety(us_floor());
    let numbers = [
        "+13105550100",
        "+12125550100",
        "+15551000000",
        "+13105550101",
    ];
    let id = scheduled_calling(&*store, &numbers, concurrency(10)).await;
    let fence = lease(&*store, id).await;
    // Monday 14:00Z: 09:00 in New York, 06:00 in Los Angeles (08:00 there is 16:00Z).
    let nine_in_new_york: DateTime<Utc> = "2026-11-30T14:00:00Z".parse().unwrap();
    let eight_in_la: DateTime<Utc> = "2026-11-30T16:00:00Z".parse().unwrap();
    let batch = store
        .claim_due(id, fence, nine_in_new_york, 10)
        .await
        .unwrap();
    let phones: Vec<&str> = batch.calls.iter().map(|call| call.phone.as_str()).collect();
    assert_eq!(phones, ["+12125550100", "+15551000000"]);
    // New York's floor closes at 21:00 EST (02:00Z), less the buffer.
    let new_york = &batch.calls[0];
    assert_eq!(
        new_york.not_after,
        Some("2026-12-01T01:59:00Z".parse().unwrap())
    );
    assert!(
        batch.wake_at.is_some_and(|wake| wake <= eight_in_la),
        "woken by the time the held ones open"
    );
    let listed = store
        .contacts(&org("acme"), id, None, ALL, nine_in_new_york)
        .await
        .unwrap();
    for index in [0, 3] {
        let held = &listed.items[index];
        assert_eq!(held.status, ContactStatus::Scheduled);
        assert_eq!(held.held_reason, Some(HeldReason::LegalHours));
        assert_eq!(held.scheduled_at, Some(eight_in_la));
        assert_eq!(held.attempts, 0);
        assert_eq!(held.called_at, None);
    }
    let counters = store.campaign(&org("acme"), id).await.unwrap().counters;
    assert_eq!(counters.called, 2, "a held contact was never called");
    assert_eq!(counters.of(ContactStatus::Scheduled), 2);
    let before = eight_in_la - Duration::seconds(1);
    let batch = store.claim_due(id, fence, before, 10).await.unwrap();
    assert!(
        batch.calls.is_empty(),
        "nothing opens before 08:00 in Los Angeles"
    );
    let batch = store.claim_due(id, fence, eight_in_la, 10).await.unwrap();
    let claimed: Vec<(&str, u32)> = batch
        .calls
        .iter()
        .map(|call| (call.phone.as_str(), call.attempt))
        .collect();
    assert_eq!(claimed, [("+13105550100", 1), ("+13105550101", 1)]);
    // 21:00 PST is 05:00Z.
    assert_eq!(
        batch.calls[0].not_after,
        Some("2026-12-01T04:59:00Z".parse().unwrap())
    );
    let listed = store
        .contacts(&org("acme"), id, None, ALL, eight_in_la)
        .await
        .unwrap();
    assert!(
        listed
            .items
            .iter()
            .all(|contact| contact.held_reason.is_none())
    );
    // (The first two calls passed their one-hour deadline without an outcome: `unknown`.)
    let counters = store.campaign(&org("acme"), id).await.unwrap().counters;
    let in_progress = counters.of(ContactStatus::InProgress);
    let unknown = counters.of(ContactStatus::Unknown);
    assert_eq!((counters.called, in_progress, unknown), (4, 2, 2));
}

/// Contacts held back by the callee gate end `cancelled` with their campaign, and a deleted
/// campaign takes them along.
pub async fn held_contacts_are_cancelled_with_their_campaign(store: Arc<dyn CampaignStore>) {
    let id = hold_los_angeles(&*store).await;
    store
        .control(&org("acme"), id, Control::Cancel, now())
        .await
        .unwrap();
    let listed = store
        .contacts(&org("acme"), id, None, ALL, now())
        .await
        .unwrap();
    assert!(
        listed
            .items
            .iter()
            .all(|contact| contact.status == ContactStatus::Cancelled)
    );
    let counters = store.campaign(&org("acme"), id).await.unwrap().counters;
    assert_eq!(counters.of(ContactStatus::Cancelled), 3);
    assert_eq!(counters.of(ContactStatus::Scheduled), 0);
    store.delete_campaign(&org("acme"), id).await.unwrap();
}

/// An edit that opens the window of contacts held back makes them due at once: they do not
/// wait for the instant the old rules gave them.
pub async fn an_edit_that_opens_held_contacts_window_releases_them(store: Arc<dyn CampaignStore>) {
    store.set_call_safety(us_floor());
    // Each contact's own window, 10:00–20:00 in its zone.
    let patch = SchedulePatch {
        timezone_mode: Some("contact".to_owned()),
        start_time: Some(Some("10:00".to_owned())),
        end_time: Some(Some("20:00".to_owned())),
        ..concurrency(10)
    };
    let id = scheduled_calling(&*store, &["+13105550100", "+13105550101"], patch).await;
    let fence = lease(&*store, id).await;
    // 17:00Z is 09:00 in Los Angeles: held `window` until 10:00 there (18:00Z).
    let nine_in_la: DateTime<Utc> = "2026-11-30T17:00:00Z".parse().unwrap();
    let batch = store.claim_due(id, fence, nine_in_la, 10).await.unwrap();
    assert_eq!(batch.held, [(HeldReason::Window, 2)]);
    let listed = store
        .contacts(&org("acme"), id, None, ALL, nine_in_la)
        .await
        .unwrap();
    let ten_in_la: DateTime<Utc> = "2026-11-30T18:00:00Z".parse().unwrap();
    assert_eq!(listed.items[0].scheduled_at, Some(ten_in_la));
    let edit = pacer::store::CampaignEdit {
        schedule: SchedulePatch {
            start_time: Some(Some("09:00".to_owned())),
            ..SchedulePatch::default()
        },
        ..pacer::store::CampaignEdit::default()
    };
    store
        .edit_campaign(&org("acme"), id, edit, nine_in_la)
        .await
        .unwrap();
    let batch = store.claim_due(id, fence, nine_in_la, 10).await.unwrap();
    assert_eq!(batch.calls.len(), 2, "due at once under the new window");
}

/// A campaign of three Los Angeles contacts, scheduled, whose one claim at 09:00 in New York
/// (06:00 in Los Angeles) held every one back under the US floor.
async fn hold_los_angeles(store: &dyn CampaignStore) -> CampaignId {
    store.set_call_safety(us_floor());
    let numbers = ["+13105550100", "+13105550101", "+13105550102"];
    let id = scheduled_calling(store, &numbers, concurrency(10)).await;
    let fence = lease(store, id).await;
    let nine_in_new_york: DateTime<Utc> = "2026-11-30T14:00:00Z".parse().unwrap();
    let batch = store
        .claim_due(id, fence, nine_in_new_york, 10)
        .await
        .unwrap();
    assert!(batch.calls.is_empty());
    assert_eq!(batch.held, [(HeldReason::LegalHours, 3)]);
    id
}

/// With `timezone_fallback: skip`, a contact whose zone neither it nor its number gives ends
/// `skipped` at its claim, with its reason, and the campaign completes without it.
pub async fn an_unresolvable_contact_is_skipped_when_its_campaign_says_so(
    store: Arc<dyn CampaignStore>,
) {
    let patch = SchedulePatch {
        timezone_fallback: Some("skip".to_owned()),
        ..concurrency(10)
    };
    let id = scheduled_calling(&*store, &["+15551000000", "+12125550100"], patch).await;
    let fence = lease(&*store, id).await;
    let batch = store.claim_due(id, fence, now(), 10).await.unwrap();
    let phones: Vec<&str> = batch.calls.iter().map(|call| call.phone.as_str()).collect();
    assert_eq!(phones, ["+12125550100"]);
    let listed = store
        .contacts(&org("acme"), id, None, ALL, now())
        .await
        .unwrap();
    assert_eq!(listed.items[0].status, ContactStatus::Skipped);
    assert_eq!(
        listed.items[0].skip_reason,
        Some(SkipReason::TimezoneUnresolvable)
    );
    let counters = store.campaign(&org("acme"), id).await.unwrap().counters;
    assert_eq!(
        (
            counters.of(ContactStatus::Skipped),
            counters.of(ContactStatus::Scheduled)
        ),
        (1, 0)
    );
    let done = CallResult {
        outcome: DialOutcome::Completed,
        duration_secs: 5,
    };
    let call = &batch.calls[0];
    store
        .record_outcome(id, call.contact_id, call.attempt, done, now())
        .await
        .unwrap();
    let batch = store.claim_due(id, fence, now(), 10).await.unwrap();
    assert_eq!(batch.status, CampaignStatus::Completed);
}

/// Claims and outcomes of many campaigns at once (on one Redis, sent together in batches):
/// each campaign gets its own contacts and counts, in order, as it would alone.
async fn many_campaigns_claiming_at_once_each_get_their_own(store: Arc<dyn CampaignStore>) {
    let mut campaigns = Vec::new();
    for _ in 0..40 {
        let id = scheduled(store.as_ref(), 3, concurrency(1)).await;
        campaigns.push((id, lease(store.as_ref(), id).await));
    }
    let claim_all = |at: DateTime<Utc>| {
        let claims = campaigns.iter().map(|&(id, fence)| {
            let store = store.clone();
            tokio::spawn(async move { (id, store.claim_due(id, fence, at, 1).await.unwrap()) })
        });
        futures_util::future::join_all(claims)
    };
    let mut first = Vec::new();
    for claimed in claim_all(now()).await {
        let (id, batch) = claimed.unwrap();
        assert_eq!(batch.calls.len(), 1);
        assert_eq!(batch.calls[0].campaign_id, id);
        assert_eq!(batch.calls[0].phone.as_str(), "+15551000000");
        assert_eq!((batch.status, batch.in_flight), (CampaignStatus::Active, 1));
        first.push(batch.calls[0].clone());
    }
    let later = now() + Duration::minutes(1);
    let records = first.iter().map(|call| {
        let store = store.clone();
        let (id, contact) = (call.campaign_id, call.contact_id);
        tokio::spawn(async move {
            let result = CallResult {
                outcome: DialOutcome::Completed,
                duration_secs: 7,
            };
            store.record_outcome(id, contact, 1, result, later).await
        })
    });
    for recorded in futures_util::future::join_all(records).await {
        assert!(matches!(
            recorded.unwrap().unwrap(),
            Recorded::Applied { in_flight: 0, .. }
        ));
    }
    for claimed in claim_all(later).await {
        let (id, batch) = claimed.unwrap();
        assert_eq!(batch.calls.len(), 1);
        assert_eq!(batch.calls[0].campaign_id, id);
        assert_eq!(batch.calls[0].phone.as_str(), "+15551000001");
    }
    for &(id, _) in &campaigns {
        let stats = store.call_stats(&org("acme"), id).await.unwrap();
        assert_eq!((stats.calls(), stats.total_duration_secs), (1, 7));
    }
}

on_every_backend!(
    claims_respect_concurrency_and_activate,
    a_claim_ahead_takes_each_slot_of_its_horizon_once,
    a_step_records_and_claims_as_the_two_would_one_after_the_other,
    nothing_is_claimed_from_a_paused_or_draft_campaign,
    racing_claimers_never_claim_a_contact_twice,
    a_claim_right_after_recording_answers_as_its_script_would,
    an_outcome_reported_twice_counts_once,
    an_outcome_twice_in_one_batch_counts_once,
    statistics_add_each_batchs_applied_seconds,
    failed_attempts_are_retried_after_the_delay,
    a_claim_with_a_stale_fence_is_refused,
    every_live_campaign_is_listed,
    calls_without_an_outcome_by_their_deadline_end_unknown,
    a_campaign_completes_in_the_claim_that_finds_nothing_left,
    calls_in_flight_end_by_their_own_deadlines_earliest_first,
    a_released_claim_goes_back_to_the_queue,
    a_contact_whose_callee_window_is_closed_waits_with_its_reason,
    an_unresolvable_contact_is_skipped_when_its_campaign_says_so,
    held_contacts_are_cancelled_with_their_campaign,
    an_edit_that_opens_held_contacts_window_releases_them,
    many_campaigns_claiming_at_once_each_get_their_own,
);

/// Every command Redis runs from now on, as `MONITOR` shows them, until it has been quiet for
/// 300 ms.
async fn watch_commands(client: &::redis::Client) -> tokio::task::JoinHandle<Vec<String>> {
    let monitor = client.get_async_monitor().await.unwrap();
    tokio::spawn(async move {
        use futures_util::StreamExt as _;
        let mut lines = Vec::new();
        let mut stream = std::pin::pin!(monitor.into_on_message::<String>());
        while let Ok(Some(line)) =
            tokio::time::timeout(std::time::Duration::from_millis(300), stream.next()).await
        {
            lines.push(line);
        }
        lines
    })
}

/// Whether one request carried the runs of two or more of `campaigns`: a batch.
fn batched(lines: &[String], campaigns: &[(CampaignId, Fence)]) -> bool {
    lines.iter().any(|line| {
        let runs = campaigns
            .iter()
            .filter(|(id, _)| line.contains(&id.to_string()));
        runs.count() > 1
    })
}

/// Redis only: each thread batches its own runs over its own connections, so a thread whose
/// runtime stops with batches out (an arbiter of a node that is killed) strands nothing of
/// another thread's: this thread's claims all come back.
#[tokio::test]
async fn a_thread_that_stops_mid_batch_strands_no_other_threads_runs() {
    let store: Arc<dyn CampaignStore> = Arc::new(crate::helpers::redis_store());
    let mut campaigns = Vec::new();
    for _ in 0..40 {
        let id = scheduled(&*store, 1, concurrency(1)).await;
        campaigns.push((id, lease(&*store, id).await));
    }
    let ours = campaigns.split_off(20);
    let other = store.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for (id, fence) in campaigns {
                let store = other.clone();
                tokio::spawn(async move { store.claim_due(id, fence, now(), 1).await });
            }
            // Their batches go out, and the runtime stops before the replies come.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        });
        runtime.shutdown_background();
    })
    .join()
    .unwrap();
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let watched = watch_commands(&client).await;
    let claims = ours
        .iter()
        .map(|&(id, fence)| store.claim_due(id, fence, now(), 1));
    let claimed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        futures_util::future::join_all(claims),
    )
    .await
    .expect("every claim of this thread came back");
    for batch in claimed {
        assert_eq!(batch.unwrap().calls.len(), 1);
    }
    // This thread's claims went out batched too (more at once than its requests in flight).
    assert!(
        batched(&watched.await.unwrap(), &ours),
        "no batch of this thread's claims"
    );
}

/// Redis only: a caller on no runtime (a plain thread that polls the future itself) is served on
/// the store's own runtime.
#[test]
fn a_caller_on_no_runtime_is_served_on_the_stores_own() {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    fn block_on<F: Future>(future: F) -> F::Output {
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut context = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
            assert!(std::time::Instant::now() < give_up, "never answered");
            std::thread::park_timeout(std::time::Duration::from_millis(100));
        }
    }
    let store = crate::helpers::redis_store();
    let acme = org("acme");
    let (campaign, _) =
        block_on(store.create_campaign(&acme, spec(concurrency(1)), contacts(3), now())).unwrap();
    let read = block_on(store.campaign(&acme, campaign.id)).unwrap();
    assert_eq!(read.counters.total, 3);
}

/// Redis only: claims sent together in one batch are still each a script of their own; one that
/// fails (its in-flight set's key holds a string) fails alone, and the others are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_fails_in_a_batch_fails_alone() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = Arc::new(crate::helpers::redis_store_at(&prefix));
    let mut campaigns = Vec::new();
    for _ in 0..40 {
        let id = scheduled(&*store, 10, concurrency(10)).await;
        let fence = lease(&*store, id).await;
        // Two claims first (the first activates the campaign): the store then has the campaign
        // read, and every claim below goes straight to its script, all at once.
        for _ in 0..2 {
            assert_eq!(
                store
                    .claim_due(id, fence, now(), 1)
                    .await
                    .unwrap()
                    .calls
                    .len(),
                1
            );
        }
        campaigns.push((id, fence));
    }
    let broken = campaigns[20].0;
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let () = ::redis::cmd("SET")
        .arg(format!("{prefix}{{c:{broken}}}:inflight"))
        .arg("not a sorted set")
        .query_async(&mut con)
        .await
        .unwrap();
    // Rounds of claims at once, until one shows (in every command Redis ran) a request that
    // carried the broken claim with others: each round, it fails and they do not.
    let mut batched_with_others = false;
    for _ in 0..5 {
        let watched = watch_commands(&client).await;
        let claims = campaigns.iter().map(|&(id, fence)| {
            let store = store.clone();
            tokio::spawn(async move { (id, store.claim_due(id, fence, now(), 1).await) })
        });
        for claimed in futures_util::future::join_all(claims).await {
            let (id, claimed) = claimed.unwrap();
            if id == broken {
                let error = claimed.unwrap_err().to_string();
                assert!(error.contains("WRONGTYPE"), "{error}");
            } else {
                let batch = claimed.unwrap();
                assert_eq!(batch.calls.len(), 1);
                assert_eq!(batch.calls[0].campaign_id, id);
            }
        }
        let lines = watched.await.unwrap();
        batched_with_others = lines.iter().any(|line| {
            let ours = campaigns
                .iter()
                .filter(|(id, _)| line.contains(&id.to_string()));
            line.contains(&broken.to_string()) && ours.count() > 1
        });
        if batched_with_others {
            break;
        }
    }
    assert!(
        batched_with_others,
        "no request carried the broken claim with others"
    );
}

/// Redis only: a node claims with what it last read of a campaign (its gate needs the tz
/// database, so it is decided in Rust); the claim script refuses it when the campaign's version
/// moved since, and the claim is decided again on a new read. Here node B lowers the
/// concurrency to 2 after node A read it as 5: A's next claim takes nothing more.
#[tokio::test]
async fn a_claim_decided_on_a_stale_read_is_refused_and_decided_again() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let (a, b) = (
        crate::helpers::redis_store_at(&prefix),
        crate::helpers::redis_store_at(&prefix),
    );
    let id = scheduled(&a, 10, concurrency(5)).await;
    let fence = lease(&a, id).await;
    // The first claim activates the campaign (a new version); the second is decided on A's
    // read of the active campaign, which A keeps.
    for _ in 0..2 {
        let claimed = a.claim_due(id, fence, now(), 1).await.unwrap();
        assert_eq!(claimed.calls.len(), 1, "5 at once");
    }
    let edit = pacer::store::CampaignEdit {
        schedule: concurrency(2),
        ..pacer::store::CampaignEdit::default()
    };
    b.edit_campaign(&org("acme"), id, edit, now())
        .await
        .unwrap();
    let second = a.claim_due(id, fence, now(), 10).await.unwrap();
    assert!(
        second.calls.is_empty(),
        "claimed {} more under the old concurrency",
        second.calls.len()
    );
    assert_eq!(second.in_flight, 2);
}

/// A held contact costs one entry in its partition's list, no call state and no member of the
/// retry set of its own; cancelling and deleting its campaign leaves no key behind.
#[actix_web::test]
async fn held_contacts_are_listed_per_partition_and_leave_no_key() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = crate::helpers::redis_store_at(&prefix);
    let id = hold_los_angeles(&store).await;
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await
        .unwrap();
    let named = |suffix: &str| {
        keys.iter()
            .find(|key| key.ends_with(suffix))
            .unwrap_or_else(|| panic!("no key `…{suffix}` among {keys:?}"))
            .clone()
    };
    let held: Vec<String> = ::redis::cmd("LRANGE")
        .arg(named(":held:1"))
        .arg(0)
        .arg(-1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(held, ["0", "1", "2"]);
    let retry: Vec<String> = ::redis::cmd("ZRANGE")
        .arg(named(":retry"))
        .arg(0)
        .arg(-1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(retry, ["p1"]);
    assert!(
        !keys.iter().any(|key| key.contains(":calls:")),
        "no call state: {keys:?}"
    );
    store
        .control(&org("acme"), id, Control::Cancel, now())
        .await
        .unwrap();
    store.delete_campaign(&org("acme"), id).await.unwrap();
    let left: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async::<Vec<String>>(&mut con)
        .await
        .unwrap()
        .into_iter()
        .filter(|key| key.contains(&format!("{{c:{id}}}")))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Redis only: a claim of many calls keeps the campaign's in-flight set in Redis' hashed form
/// (its compact form scans the set for each member added or removed), one of a few calls
/// leaves it compact, and a read of many fields of one bucket reads it whole; what is claimed
/// and recorded is as with few: the set holds exactly the calls claimed, each outcome is
/// applied once, and one for a contact never called (no state in the bucket read whole)
/// changes nothing.
#[tokio::test]
async fn claims_and_records_of_many_calls_on_redis() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = crate::helpers::redis_store_at(&prefix);
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let in_flight = async |id: CampaignId, con: &mut ::redis::aio::MultiplexedConnection| {
        let key = format!("{prefix}{{c:{id}}}:inflight");
        let encoding: String = ::redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(&key)
            .query_async(con)
            .await
            .unwrap();
        let members: Vec<String> = ::redis::cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query_async(con)
            .await
            .unwrap();
        (encoding, members.len())
    };
    let many = scheduled(&store, 50, concurrency(50)).await;
    let few = scheduled(&store, 50, concurrency(50)).await;
    let (many_fence, few_fence) = (lease(&store, many).await, lease(&store, few).await);
    let calls = store
        .claim_due(many, many_fence, now(), 40)
        .await
        .unwrap()
        .calls;
    assert_eq!(calls.len(), 40);
    let phones: HashSet<_> = calls.iter().map(|call| call.phone.clone()).collect();
    assert_eq!(phones.len(), 40, "each call has its own contact's details");
    assert_eq!(in_flight(many, &mut con).await, ("skiplist".to_owned(), 40));
    let two = store
        .claim_due(few, few_fence, now(), 2)
        .await
        .unwrap()
        .calls;
    assert_eq!(two.len(), 2);
    assert_eq!(in_flight(few, &mut con).await, ("listpack".to_owned(), 2));
    let ended = |contact, attempt| Outcome {
        contact,
        attempt,
        result: CallResult {
            outcome: DialOutcome::Completed,
            duration_secs: 30,
        },
    };
    let mut outcomes: Vec<Outcome> = calls
        .iter()
        .map(|call| ended(call.contact_id, call.attempt))
        .collect();
    outcomes.push(ended(calls[0].contact_id, calls[0].attempt));
    let waiting = store
        .contacts(
            &org("acme"),
            many,
            Some(ContactStatus::Scheduled),
            ALL,
            now(),
        )
        .await
        .unwrap()
        .items;
    outcomes.push(ended(waiting[0].id, 1));
    let recorded = store.record_outcomes(many, &outcomes, now()).await.unwrap();
    let n_applied = recorded
        .iter()
        .filter(|recorded| matches!(recorded, Recorded::Applied { .. }))
        .count();
    assert_eq!((n_applied, recorded.len()), (40, 42));
    assert_eq!(recorded[40..], [Recorded::Duplicate, Recorded::Duplicate]);
    let campaign = store.campaign(&org("acme"), many).await.unwrap();
    assert_eq!(
        (
            campaign.counters.of(ContactStatus::Completed),
            campaign.counters.of(ContactStatus::InProgress),
            campaign.counters.of(ContactStatus::Scheduled)
        ),
        (40, 0, 10)
    );
}
