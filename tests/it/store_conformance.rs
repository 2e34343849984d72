//! The store conformance suite: written once against `dyn CampaignStore`, generated for every
//! backend by `conformance!`, one named test per check.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pacer::domain::{
    CallId, CampaignId, CampaignSpec, CampaignStatus, ContactStatus, DialOutcome, OrgId,
    PhoneNumber, PhoneRotation, Rate, Schedule, SchedulePatch,
};
use pacer::store::{
    CallRef, CallResult, CampaignEdit, CampaignEvent, CampaignFilter, CampaignStore, Control,
    Fence, Idempotency, IdempotencyLimits, MemoryStore, NewContact, OutboxLimits, Outcome, Page,
    Recorded, Relayed, RelayedEvent, StoreError, StoredResponse, unix_hour,
};

pub fn now() -> DateTime<Utc> {
    "2026-11-30T08:00:00Z".parse().unwrap()
}

fn org(name: &str) -> OrgId {
    OrgId::parse(name).unwrap()
}

fn spec(patch: SchedulePatch) -> CampaignSpec {
    CampaignSpec {
        name: "conformance".to_owned(),
        agent_id: "agent".to_owned(),
        phone_number_ids: vec!["+15550009999".to_owned()],
        rotation: PhoneRotation::Random,
        schedule: Schedule::default()
            .apply(&SchedulePatch {
                working_days: Some(vec![1, 2, 3, 4, 5, 6, 7]),
                ..patch
            })
            .unwrap(),
    }
}

fn contacts(n: usize) -> Vec<NewContact> {
    (0..n)
        .map(|i| NewContact::new(PhoneNumber::parse(&format!("+1555100{i:04}")).unwrap()))
        .collect()
}

fn concurrency(n: i64) -> SchedulePatch {
    SchedulePatch {
        max_concurrent_calls: Some(n),
        ..SchedulePatch::default()
    }
}

async fn lease(store: &dyn CampaignStore, id: CampaignId) -> Fence {
    store
        .acquire_lease(id, "conformance", std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a free lease")
}

const ALL: Page = Page {
    limit: 100,
    offset: 0,
};

/// Creates and schedules a campaign of `n` contacts for `acme`.
pub async fn scheduled(store: &dyn CampaignStore, n: usize, patch: SchedulePatch) -> CampaignId {
    let (campaign, _) = store
        .create_campaign(&org("acme"), spec(patch), contacts(n), now())
        .await
        .unwrap();
    store
        .schedule_campaign(&org("acme"), campaign.id, SchedulePatch::default(), now())
        .await
        .unwrap();
    campaign.id
}

pub async fn created_campaigns_read_back_and_skip_duplicates(store: Arc<dyn CampaignStore>) {
    let mut rows = contacts(3);
    rows.push(rows[0].clone());
    let (campaign, added) = store
        .create_campaign(&org("acme"), spec(concurrency(2)), rows, now())
        .await
        .unwrap();
    assert_eq!(added.added, 3);
    assert_eq!(added.skipped.len(), 1);
    assert_eq!(added.skipped[0].0, 3);
    let read = store.campaign(&org("acme"), campaign.id).await.unwrap();
    assert_eq!(read, campaign);
    assert_eq!(read.status, CampaignStatus::Draft);
    assert_eq!(read.counters.total, 3);
    assert_eq!(read.counters.of(ContactStatus::Pending), 3);
    let listed = store
        .list_campaigns(&org("acme"), &CampaignFilter::default(), ALL)
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
}

pub async fn many_contacts_keep_their_order_and_the_first_of_two_equal_phones(
    store: Arc<dyn CampaignStore>,
) {
    // Several store chunks, with a repeat inside one chunk and one across chunks.
    let mut rows = contacts(700);
    rows[300] = rows[260].clone();
    rows[520] = rows[10].clone();
    let (campaign, added) = store
        .create_campaign(&org("acme"), spec(concurrency(2)), rows.clone(), now())
        .await
        .unwrap();
    assert_eq!(added.added, 698);
    let skipped: Vec<usize> = added.skipped.iter().map(|(row, _)| *row).collect();
    assert_eq!(skipped, [300, 520]);
    // More through `add_contacts`, repeating the first row of the campaign.
    let mut more = contacts(1_000).split_off(700);
    more.insert(0, rows[0].clone());
    let added = store
        .add_contacts(&org("acme"), campaign.id, more.clone(), now())
        .await
        .unwrap();
    assert_eq!((added.added, added.skipped.len()), (300, 1));
    assert_eq!(added.skipped[0].0, 0);
    let page = Page {
        limit: 1_000,
        offset: 0,
    };
    let listed: Vec<String> = store
        .contacts(&org("acme"), campaign.id, None, page, now())
        .await
        .unwrap()
        .items
        .iter()
        .map(|contact| contact.details.phone.as_str().to_owned())
        .collect();
    let expected: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(row, _)| ![300, 520].contains(row))
        .map(|(_, contact)| contact)
        .chain(&more[1..])
        .map(|contact| contact.phone.as_str().to_owned())
        .collect();
    assert_eq!(listed, expected);
}

pub async fn another_organisation_gets_not_found(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 1, concurrency(1)).await;
    let other = org("globex");
    assert!(matches!(
        store.campaign(&other, id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.control(&other, id, Control::Pause, now()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_campaign(&other, id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.contacts(&other, id, None, ALL, now()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .list_campaigns(&other, &CampaignFilter::default(), ALL)
            .await
            .unwrap()
            .total,
        0
    );
}

pub async fn claims_respect_concurrency_and_activate(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 5, concurrency(2)).await;
    let fence = lease(&*store, id).await;
    let batch = store.claim_due(id, fence, now(), 100).await.unwrap();
    assert_eq!(batch.calls.len(), 2);
    assert_eq!(batch.status, CampaignStatus::Active);
    assert_eq!(batch.in_flight, 2);
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
    // A cap of 24 a day: one call a slot, the next slot later than any instant used here.
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
                right_after.wake_at
            ),
            (later.status, later.in_flight, later.wake_at)
        );
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
    let outcome = |call: &pacer::store::ClaimedCall, outcome, duration_secs| Outcome {
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
    store
        .record_outcome(id, call.contact_id, 2, busy, now() + Duration::minutes(11))
        .await
        .unwrap();
    let campaign = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(campaign.status, CampaignStatus::Completed);
    assert_eq!(campaign.counters.of(ContactStatus::Failed), 1);
    assert_eq!(campaign.counters.called, 1);
}

pub async fn cancel_cancels_waiting_contacts_only(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 4, concurrency(1)).await;
    let fence = lease(&*store, id).await;
    let call = store
        .claim_due(id, fence, now(), 10)
        .await
        .unwrap()
        .calls
        .remove(0);
    let campaign = store
        .control(&org("acme"), id, Control::Cancel, now())
        .await
        .unwrap();
    assert_eq!(campaign.status, CampaignStatus::Cancelled);
    assert_eq!(campaign.counters.of(ContactStatus::Cancelled), 3);
    assert_eq!(campaign.counters.of(ContactStatus::InProgress), 1);
    assert_eq!(
        store.live_campaigns().await.unwrap(),
        vec![id],
        "a call is still running"
    );
    let no_answer = CallResult {
        outcome: DialOutcome::NoAnswer,
        duration_secs: 0,
    };
    store
        .record_outcome(id, call.contact_id, 1, no_answer, now())
        .await
        .unwrap();
    assert!(store.live_campaigns().await.unwrap().is_empty());
    assert!(matches!(
        store
            .control(&org("acme"), id, Control::Resume, now())
            .await,
        Err(StoreError::InvalidState(_))
    ));
}

pub async fn an_edit_redistributes_waiting_contacts_only(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 3, concurrency(1)).await;
    let fence = lease(&*store, id).await;
    let call = store
        .claim_due(id, fence, now(), 10)
        .await
        .unwrap()
        .calls
        .remove(0);
    let done = CallResult {
        outcome: DialOutcome::Completed,
        duration_secs: 5,
    };
    store
        .record_outcome(id, call.contact_id, 1, done, now())
        .await
        .unwrap();
    let edit = CampaignEdit {
        name: Some("renamed".to_owned()),
        schedule: SchedulePatch {
            start_time: Some(Some("10:00".to_owned())),
            end_time: Some(Some("11:00".to_owned())),
            max_calls_per_day: Some(Some(2)),
            ..SchedulePatch::default()
        },
        ..CampaignEdit::default()
    };
    let campaign = store
        .edit_campaign(&org("acme"), id, edit, now())
        .await
        .unwrap();
    assert_eq!(campaign.spec.name, "renamed");
    let listed = store
        .contacts(&org("acme"), id, None, ALL, now())
        .await
        .unwrap()
        .items;
    assert_eq!(listed[0].status, ContactStatus::Completed);
    assert_eq!(listed[0].scheduled_at, None);
    let due: Vec<_> = listed[1..]
        .iter()
        .map(|contact| contact.scheduled_at.unwrap())
        .collect();
    // The call at 08:00 counts against Monday's cap of 2: one slot is left that day.
    assert_eq!(
        due,
        [at("2026-11-30T10:00:00Z"), at("2026-12-01T10:00:00Z")]
    );
    // The very next claim obeys the new window.
    assert!(
        store
            .claim_due(id, fence, now() + Duration::minutes(30), 10)
            .await
            .unwrap()
            .calls
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due(id, fence, at("2026-11-30T10:00:00Z"), 10)
            .await
            .unwrap()
            .calls
            .len(),
        1
    );
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

pub async fn only_finished_or_draft_campaigns_can_be_deleted(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 1, concurrency(1)).await;
    assert!(matches!(
        store.delete_campaign(&org("acme"), id).await,
        Err(StoreError::InvalidState(_))
    ));
    store
        .control(&org("acme"), id, Control::Cancel, now())
        .await
        .unwrap();
    store.delete_campaign(&org("acme"), id).await.unwrap();
    assert!(matches!(
        store.campaign(&org("acme"), id).await,
        Err(StoreError::NotFound)
    ));
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

pub async fn a_lease_has_one_owner_until_it_lapses_or_is_released(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 1, concurrency(1)).await;
    let ttl = std::time::Duration::from_millis(300);
    let a = store
        .acquire_lease(id, "node-a", ttl)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.acquire_lease(id, "node-b", ttl).await.unwrap(), None);
    // The owner taking it again renews it under the same token.
    assert_eq!(
        store.acquire_lease(id, "node-a", ttl).await.unwrap(),
        Some(a)
    );
    assert_eq!(
        store.renew_leases("node-a", &[(id, a)], ttl).await.unwrap(),
        [true]
    );
    assert_eq!(
        store.renew_leases("node-b", &[(id, a)], ttl).await.unwrap(),
        [false]
    );
    // Released: another node takes it at once, with a newer token; the old one cannot renew.
    store.release_lease(id, "node-a", a).await.unwrap();
    let b = store
        .acquire_lease(id, "node-b", ttl)
        .await
        .unwrap()
        .unwrap();
    assert!(b > a);
    assert_eq!(
        store.renew_leases("node-a", &[(id, a)], ttl).await.unwrap(),
        [false]
    );
    // A stale owner's release changes nothing.
    store.release_lease(id, "node-a", a).await.unwrap();
    assert_eq!(store.acquire_lease(id, "node-c", ttl).await.unwrap(), None);
    // Lapsed: free again.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        store.renew_leases("node-b", &[(id, b)], ttl).await.unwrap(),
        [false]
    );
    let c = store
        .acquire_lease(id, "node-c", ttl)
        .await
        .unwrap()
        .unwrap();
    assert!(c > b);
    assert_eq!(
        store.lease_holder(id).await.unwrap().as_deref(),
        Some("node-c")
    );
    store.release_lease(id, "node-c", c).await.unwrap();
    assert_eq!(store.lease_holder(id).await.unwrap(), None);
}

pub async fn every_live_campaign_is_listed(store: Arc<dyn CampaignStore>) {
    // More than Redis reads in one `SSCAN` page: the set is listed over several.
    let mut ids = HashSet::new();
    for _ in 0..1_100 {
        ids.insert(scheduled(&*store, 1, concurrency(1)).await);
    }
    let listed = store.live_campaigns().await.unwrap();
    assert_eq!(listed.len(), ids.len(), "each once");
    assert_eq!(listed.into_iter().collect::<HashSet<_>>(), ids);
}

pub async fn many_leases_renew_in_one_step_each_answered(store: Arc<dyn CampaignStore>) {
    // More than one Redis script's worth, with one lease lost among them.
    let ttl = std::time::Duration::from_secs(30);
    let mut leases = Vec::new();
    for _ in 0..520 {
        let id = scheduled(&*store, 1, concurrency(1)).await;
        let fence = store
            .acquire_lease(id, "node-a", ttl)
            .await
            .unwrap()
            .unwrap();
        leases.push((id, fence));
    }
    let (lost, lost_fence) = leases[510];
    store
        .release_lease(lost, "node-a", lost_fence)
        .await
        .unwrap();
    store
        .acquire_lease(lost, "node-b", ttl)
        .await
        .unwrap()
        .unwrap();
    let renewed = store.renew_leases("node-a", &leases, ttl).await.unwrap();
    let expected: Vec<bool> = leases.iter().map(|&(id, _)| id != lost).collect();
    assert_eq!(renewed, expected);
    let none: &[(CampaignId, Fence)] = &[];
    assert!(
        store
            .renew_leases("node-a", none, ttl)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn published_messages_reach_every_subscriber_in_order(store: Arc<dyn CampaignStore>) {
    assert_eq!(store.publish("node-a", "lost").await.unwrap(), 0);
    let mut first = store.subscribe("node-a").await.unwrap();
    let mut second = store.subscribe("node-a").await.unwrap();
    let mut other = store.subscribe("node-b").await.unwrap();
    for message in ["one", "two", "three"] {
        assert_eq!(store.publish("node-a", message).await.unwrap(), 2);
    }
    for subscriber in [&mut first, &mut second] {
        let mut got = Vec::new();
        for _ in 0..3 {
            let message =
                tokio::time::timeout(std::time::Duration::from_secs(5), subscriber.recv());
            got.push(message.await.expect("a message in time").unwrap());
        }
        assert_eq!(got, ["one", "two", "three"]);
    }
    assert!(other.try_recv().is_err(), "another channel hears nothing");
    // A dropped subscriber is no longer counted.
    drop(second);
    let receivers = store.publish("node-a", "four").await.unwrap();
    assert_eq!(first.recv().await.as_deref(), Some("four"));
    assert!(receivers >= 1);
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
}

async fn call_ids_are_found_through_their_index(store: Arc<dyn CampaignStore>) {
    let id = scheduled(store.as_ref(), 2, concurrency(2)).await;
    let fence = lease(store.as_ref(), id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let index: Vec<_> = calls
        .iter()
        .map(|call| {
            let at = CallRef {
                campaign_id: id,
                contact_id: call.contact_id,
                attempt: call.attempt,
            };
            (call.call_id, at)
        })
        .collect();
    store.index_calls(&index).await.unwrap();
    for (call, at) in &index {
        assert_eq!(store.find_call(*call).await.unwrap(), Some(*at));
    }
    assert_eq!(store.find_call(CallId::random()).await.unwrap(), None);
}

/// Rendered events `range` of a campaign, as a relay hands them over (bodies `{i}`).
fn relayed(campaign: CampaignId, range: std::ops::Range<u8>) -> Vec<RelayedEvent> {
    range
        .map(|i| RelayedEvent {
            seq: u64::from(i) + 1,
            id: format!("{campaign}-{i}"),
            at: now(),
            body: vec![b'{', i, b'}'],
        })
        .collect()
}

async fn the_outbox_keeps_order_and_forgets_what_was_acknowledged(store: Arc<dyn CampaignStore>) {
    let (acme, globex) = (org("acme"), org("globex"));
    let (one, other) = (CampaignId::random(), CampaignId::random());
    let limits = OutboxLimits::default();
    for (org, campaign, range) in [
        (&acme, one, 0..3),
        (&acme, one, 3..5),
        (&globex, other, 9..10),
    ] {
        let events = relayed(campaign, range);
        store
            .relay_events(org, campaign, events, limits, now())
            .await
            .unwrap();
    }
    let (entries, depth) = store.outbox(&acme, 10).await.unwrap();
    let seen: Vec<u8> = entries.iter().map(|entry| entry.body[1]).collect();
    assert_eq!((seen, depth), (vec![0, 1, 2, 3, 4], 5));
    assert_eq!(entries[1].id, format!("{one}-1"));
    assert_eq!(entries[1].at, now());
    assert!(entries.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    store.ack_outbox(&acme, entries[1].seq).await.unwrap();
    let (rest, depth) = store.outbox(&acme, 2).await.unwrap();
    assert_eq!(
        (
            rest.iter().map(|entry| entry.body[1]).collect::<Vec<_>>(),
            depth
        ),
        (vec![2, 3], 3)
    );
    // A relay repeated (a node that died between its two steps) moves nothing twice.
    let again = relayed(one, 3..6);
    store
        .relay_events(&acme, one, again, limits, now())
        .await
        .unwrap();
    let (entries, _) = store.outbox(&acme, 10).await.unwrap();
    let seen: Vec<u8> = entries.iter().map(|entry| entry.body[1]).collect();
    assert_eq!(seen, [2, 3, 4, 5]);
    assert_eq!(store.outbox(&globex, 10).await.unwrap().1, 1);
}

/// Every step of a campaign of an organisation with webhooks writes what happened, in order, in
/// the same atomic step; a campaign of another organisation writes nothing.
async fn steps_write_their_events_in_the_same_step(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    store.record_events_for([acme.clone()].into_iter().collect());
    let (campaign, _) = store
        .create_campaign(&acme, spec(concurrency(2)), contacts(2), now())
        .await
        .unwrap();
    let id = campaign.id;
    store
        .schedule_campaign(&acme, id, SchedulePatch::default(), now())
        .await
        .unwrap();
    let fence = lease(&*store, id).await;
    let batch = store.claim_due(id, fence, now(), 10).await.unwrap();
    assert_eq!(batch.events, 4, "scheduled, active, two calls started");
    for call in &batch.calls {
        let result = CallResult {
            outcome: DialOutcome::Completed,
            duration_secs: 7,
        };
        store
            .record_outcome(id, call.contact_id, call.attempt, result, now())
            .await
            .unwrap();
    }
    let events = store.campaign_events(id, 100).await.unwrap();
    let kinds: Vec<String> = events
        .iter()
        .map(|stored| match &stored.event {
            CampaignEvent::StatusChanged { from, to } => {
                format!("{}>{}", from.as_str(), to.as_str())
            }
            CampaignEvent::Completed => "completed".to_owned(),
            CampaignEvent::CallStarted { .. } => "started".to_owned(),
            CampaignEvent::CallEnded { .. } => "ended".to_owned(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "draft>scheduled",
            "scheduled>active",
            "started",
            "started",
            "ended",
            "ended",
            "active>completed",
            "completed"
        ]
    );
    assert!(events.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    let CampaignEvent::CallStarted {
        contact,
        attempt,
        call_id,
        phone,
    } = &events[2].event
    else {
        unreachable!()
    };
    let first = &batch.calls[0];
    assert_eq!(
        (contact, *attempt, call_id, phone),
        (&first.contact_id, 1, &first.call_id, &first.phone)
    );
    // Relayed: gone from the campaign's outbox, in the organisation's.
    let rendered: Vec<RelayedEvent> = events
        .iter()
        .map(|event| RelayedEvent {
            seq: event.seq,
            id: format!("{id}-{}", event.seq),
            at: event.at,
            body: b"{}".to_vec(),
        })
        .collect();
    let relayed = store
        .relay_events(&acme, id, rendered, OutboxLimits::default(), now())
        .await
        .unwrap();
    assert_eq!(
        relayed,
        Relayed {
            left: 0,
            overflowed: 0
        }
    );
    assert!(store.campaign_events(id, 100).await.unwrap().is_empty());
    assert_eq!(store.outbox(&acme, 100).await.unwrap().1, 8);
    // Another organisation's campaign writes none.
    let globex = org("globex");
    let (quiet, _) = store
        .create_campaign(&globex, spec(concurrency(1)), contacts(1), now())
        .await
        .unwrap();
    store
        .schedule_campaign(&globex, quiet.id, SchedulePatch::default(), now())
        .await
        .unwrap();
    let fence = lease(&*store, quiet.id).await;
    let batch = store.claim_due(quiet.id, fence, now(), 10).await.unwrap();
    assert_eq!((batch.calls.len(), batch.events), (1, 0));
    assert!(
        store
            .campaign_events(quiet.id, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A full outbox sends its oldest to the dead letters; an event given up goes there too; both
/// come back, under their ids, on replay.
async fn given_up_webhooks_go_to_the_dead_letters_and_come_back_on_replay(
    store: Arc<dyn CampaignStore>,
) {
    let acme = org("acme");
    let campaign = CampaignId::random();
    let limits = OutboxLimits {
        max_outbox: 3,
        max_dead_letters: 2,
    };
    let relayed_now = store
        .relay_events(&acme, campaign, relayed(campaign, 0..5), limits, now())
        .await
        .unwrap();
    assert_eq!(relayed_now.overflowed, 2);
    let (entries, depth) = store.outbox(&acme, 10).await.unwrap();
    assert_eq!(depth, 3);
    let dead = store.dead_letters(&acme, ALL).await.unwrap();
    assert_eq!(dead.total, 2);
    assert_eq!(dead.items[0].id, format!("{campaign}-0"));
    assert_eq!(dead.items[0].body, b"{\x00}".to_vec());
    assert_eq!(dead.items[0].reason, "the outbox was full");
    // The head given up: the one after it is next; the oldest dead letter is forgotten.
    let later = now() + Duration::minutes(1);
    store
        .dead_letter(
            &acme,
            entries[0].seq,
            "the receiver answered 400",
            later,
            limits,
        )
        .await
        .unwrap();
    assert_eq!(store.outbox(&acme, 10).await.unwrap().0[0].body[1], 3);
    let dead = store.dead_letters(&acme, ALL).await.unwrap();
    let ids: Vec<&str> = dead.items.iter().map(|letter| letter.id.as_str()).collect();
    assert_eq!(ids, [format!("{campaign}-1"), format!("{campaign}-2")]);
    assert_eq!(dead.items[1].failed_at, later);
    assert_eq!(dead.items[1].at, now());
    // Replayed by id, then all: to the end of the outbox, under their own ids.
    let one = vec![format!("{campaign}-2")];
    assert_eq!(
        store.replay_dead_letters(&acme, Some(one)).await.unwrap(),
        1
    );
    assert_eq!(store.replay_dead_letters(&acme, None).await.unwrap(), 1);
    assert_eq!(store.dead_letters(&acme, ALL).await.unwrap().total, 0);
    let (entries, _) = store.outbox(&acme, 10).await.unwrap();
    let ids: Vec<&str> = entries.iter().map(|entry| entry.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("{campaign}-3"),
            format!("{campaign}-4"),
            format!("{campaign}-2"),
            format!("{campaign}-1")
        ]
    );
    // Another organisation has none.
    assert_eq!(
        store.dead_letters(&org("globex"), ALL).await.unwrap().total,
        0
    );
}

async fn idempotency_keys_replay_refuse_other_bodies_and_can_be_abandoned(
    store: Arc<dyn CampaignStore>,
) {
    let acme = org("acme");
    let (body, other) = ([1; 32], [2; 32]);
    assert_eq!(
        store.begin_idempotent(&acme, "k1", body).await.unwrap(),
        Idempotency::Started
    );
    assert_eq!(
        store.begin_idempotent(&acme, "k1", body).await.unwrap(),
        Idempotency::InProgress
    );
    let response = StoredResponse {
        status: 201,
        body: b"{\"data\":1}".to_vec(),
    };
    store
        .finish_idempotent(&acme, "k1", body, response.clone())
        .await
        .unwrap();
    assert_eq!(
        store.begin_idempotent(&acme, "k1", body).await.unwrap(),
        Idempotency::Replay(response)
    );
    assert_eq!(
        store.begin_idempotent(&acme, "k1", other).await.unwrap(),
        Idempotency::Conflict
    );
    // Keys belong to one organisation.
    assert_eq!(
        store
            .begin_idempotent(&org("globex"), "k1", other)
            .await
            .unwrap(),
        Idempotency::Started
    );
    // A request that failed gives its key back.
    store.begin_idempotent(&acme, "k2", body).await.unwrap();
    store.abandon_idempotent(&acme, "k2").await.unwrap();
    assert_eq!(
        store.begin_idempotent(&acme, "k2", other).await.unwrap(),
        Idempotency::Started
    );
}

/// A store whose idempotency keys keep at most 100 bytes a response and 1 000 an organisation.
async fn idempotent_responses_are_bounded_per_key_and_per_organisation(
    store: Arc<dyn CampaignStore>,
) {
    let (acme, globex) = (org("acme"), org("globex"));
    let response = |i: u8| StoredResponse {
        status: 200,
        body: vec![i; 60],
    };
    // Thirty responses of 60 bytes, more than 1 000 in all: the oldest are forgotten first.
    for i in 0..30u8 {
        let key = format!("k{i}");
        assert_eq!(
            store.begin_idempotent(&acme, &key, [i; 32]).await.unwrap(),
            Idempotency::Started
        );
        store
            .finish_idempotent(&acme, &key, [i; 32], response(i))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .begin_idempotent(&acme, "k29", [29; 32])
            .await
            .unwrap(),
        Idempotency::Replay(response(29))
    );
    assert_eq!(
        store.begin_idempotent(&acme, "k0", [0; 32]).await.unwrap(),
        Idempotency::Started,
        "the oldest response was forgotten"
    );
    // Another organisation's budget is its own.
    store.begin_idempotent(&globex, "g", [7; 32]).await.unwrap();
    store
        .finish_idempotent(&globex, "g", [7; 32], response(7))
        .await
        .unwrap();
    assert_eq!(
        store.begin_idempotent(&globex, "g", [7; 32]).await.unwrap(),
        Idempotency::Replay(response(7))
    );
    // A response larger than a key may keep is not kept, and its retry is told so.
    store.begin_idempotent(&acme, "big", [9; 32]).await.unwrap();
    let big = StoredResponse {
        status: 200,
        body: vec![0; 500],
    };
    store
        .finish_idempotent(&acme, "big", [9; 32], big)
        .await
        .unwrap();
    assert_eq!(
        store.begin_idempotent(&acme, "big", [9; 32]).await.unwrap(),
        Idempotency::NotKept
    );
}

/// The limits of `idempotent_responses_are_bounded_per_key_and_per_organisation`.
fn small_idempotency() -> IdempotencyLimits {
    IdempotencyLimits {
        max_response_bytes: 100,
        max_bytes_per_org: 1_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_responses_are_bounded_in_memory() {
    let store = MemoryStore::new().with_idempotency_limits(small_idempotency());
    idempotent_responses_are_bounded_per_key_and_per_organisation(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_responses_are_bounded_on_redis() {
    let store = crate::helpers::redis_store_with(|settings| {
        settings.idempotency = small_idempotency();
    });
    idempotent_responses_are_bounded_per_key_and_per_organisation(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_responses_are_bounded_on_a_redis_cluster() {
    let store = crate::helpers::redis_cluster_store_with(|settings| {
        settings.idempotency = small_idempotency();
    });
    idempotent_responses_are_bounded_per_key_and_per_organisation(Arc::new(store)).await;
}

async fn a_rate_limiter_grants_its_burst_then_makes_callers_wait(store: Arc<dyn CampaignStore>) {
    let rate = Rate {
        per_second: 1.0,
        burst: 3,
    };
    let name = format!("test-{}", CallId::random());
    let first = store.take_tokens(&name, rate, 10).await.unwrap();
    assert_eq!(first.granted, 3);
    let second = store.take_tokens(&name, rate, 10).await.unwrap();
    assert_eq!(second.granted, 0);
    assert!(
        second.wait > std::time::Duration::from_millis(500)
            && second.wait <= std::time::Duration::from_secs(1),
        "{:?}",
        second.wait
    );
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

async fn call_stats_count_each_attempt_once(store: Arc<dyn CampaignStore>) {
    let id = scheduled(store.as_ref(), 3, concurrency(5)).await;
    let fence = lease(store.as_ref(), id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let ended = |outcome, duration_secs| CallResult {
        outcome,
        duration_secs,
    };
    let later = now() + Duration::hours(2);
    let reports = [
        (0, ended(DialOutcome::Completed, 30), now()),
        (0, ended(DialOutcome::Completed, 30), now()),
        (1, ended(DialOutcome::Voicemail, 12), now()),
        (2, ended(DialOutcome::NoAnswer, 0), later),
    ];
    for (index, result, at) in reports {
        store
            .record_outcome(id, calls[index].contact_id, 1, result, at)
            .await
            .unwrap();
    }
    let stats = store.call_stats(&org("acme"), id).await.unwrap();
    assert_eq!(stats.calls(), 3);
    assert_eq!(stats.of(DialOutcome::Completed), 1);
    assert_eq!(stats.of(DialOutcome::Voicemail), 1);
    assert_eq!(stats.of(DialOutcome::NoAnswer), 1);
    assert_eq!(stats.total_duration_secs, 42);
    let hours: Vec<(i64, u64)> = stats.by_hour.into_iter().collect();
    assert_eq!(hours, [(unix_hour(now()), 2), (unix_hour(later), 1)]);
    assert!(matches!(
        store.call_stats(&org("globex"), id).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_named_lock_has_one_owner_until_it_expires(store: Arc<dyn CampaignStore>) {
    let name = format!("test-{}", CallId::random());
    let ttl = std::time::Duration::from_millis(200);
    assert!(store.hold_lock(&name, "node-a", ttl).await.unwrap());
    assert!(!store.hold_lock(&name, "node-b", ttl).await.unwrap());
    // The owner keeps it.
    assert!(store.hold_lock(&name, "node-a", ttl).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(store.hold_lock(&name, "node-b", ttl).await.unwrap());
    assert!(!store.hold_lock(&name, "node-a", ttl).await.unwrap());
}

/// A store step goes to its end even when its caller stops waiting after the first poll, as an
/// HTTP handler does when its client hangs up: the change is made whole, never half.
async fn a_step_whose_caller_stops_waiting_still_happens(store: Arc<dyn CampaignStore>) {
    let (campaign, _) = store
        .create_campaign(&org("acme"), spec(concurrency(1)), contacts(3), now())
        .await
        .unwrap();
    let acme = org("acme");
    let scheduling = store.schedule_campaign(&acme, campaign.id, SchedulePatch::default(), now());
    // Polled once, then dropped.
    let _ = futures_util::FutureExt::now_or_never(scheduling);
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let read = store.campaign(&org("acme"), campaign.id).await.unwrap();
        if read.status != CampaignStatus::Draft {
            assert!(read.status.is_dispatching(), "{:?}", read.status);
            break;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "the step its caller dropped never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

macro_rules! conformance {
    ($backend:ident, $make:expr, [$($check:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check($make).await;
                }
            )*
        }
    };
}

fn memory() -> Arc<dyn CampaignStore> {
    Arc::new(MemoryStore::new())
}

fn redis() -> Arc<dyn CampaignStore> {
    Arc::new(crate::helpers::redis_store())
}

fn redis_cluster() -> Arc<dyn CampaignStore> {
    Arc::new(crate::helpers::redis_cluster_store())
}

/// Every check, on every backend.
macro_rules! on_every_backend {
    ($($check:ident),* $(,)?) => {
        conformance!(memory, super::memory(), [$($check),*]);
        conformance!(redis, super::redis(), [$($check),*]);
        conformance!(redis_cluster, super::redis_cluster(), [$($check),*]);
    };
}

on_every_backend!(
    created_campaigns_read_back_and_skip_duplicates,
    many_contacts_keep_their_order_and_the_first_of_two_equal_phones,
    another_organisation_gets_not_found,
    claims_respect_concurrency_and_activate,
    nothing_is_claimed_from_a_paused_or_draft_campaign,
    racing_claimers_never_claim_a_contact_twice,
    an_outcome_reported_twice_counts_once,
    an_outcome_twice_in_one_batch_counts_once,
    statistics_add_each_batchs_applied_seconds,
    a_claim_right_after_recording_answers_as_its_script_would,
    failed_attempts_are_retried_after_the_delay,
    cancel_cancels_waiting_contacts_only,
    an_edit_redistributes_waiting_contacts_only,
    only_finished_or_draft_campaigns_can_be_deleted,
    a_released_claim_goes_back_to_the_queue,
    a_claim_with_a_stale_fence_is_refused,
    a_lease_has_one_owner_until_it_lapses_or_is_released,
    many_leases_renew_in_one_step_each_answered,
    every_live_campaign_is_listed,
    published_messages_reach_every_subscriber_in_order,
    calls_without_an_outcome_by_their_deadline_end_unknown,
    calls_in_flight_end_by_their_own_deadlines_earliest_first,
    call_ids_are_found_through_their_index,
    the_outbox_keeps_order_and_forgets_what_was_acknowledged,
    steps_write_their_events_in_the_same_step,
    given_up_webhooks_go_to_the_dead_letters_and_come_back_on_replay,
    idempotency_keys_replay_refuse_other_bodies_and_can_be_abandoned,
    a_rate_limiter_grants_its_burst_then_makes_callers_wait,
    call_stats_count_each_attempt_once,
    many_campaigns_claiming_at_once_each_get_their_own,
    a_named_lock_has_one_owner_until_it_expires,
    a_step_whose_caller_stops_waiting_still_happens,
);

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

/// Redis only: the live set is a key of its own (on a cluster, in another slot than the
/// campaign's), written beside the commit script. A scheduling that could not be listed is not
/// committed: a node that stops between the two steps never leaves a dispatching campaign that
/// no node looks for.
#[tokio::test]
async fn a_scheduling_that_could_not_be_listed_is_not_committed() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = crate::helpers::redis_store_at(&prefix);
    let (campaign, _) = store
        .create_campaign(&org("acme"), spec(concurrency(1)), contacts(2), now())
        .await
        .unwrap();
    // The live set's key holds a string: adding to it fails, as it would with the node gone.
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let live = format!("{prefix}live");
    let () = ::redis::cmd("SET")
        .arg(&live)
        .arg("not a set")
        .query_async(&mut con)
        .await
        .unwrap();
    let acme = org("acme");
    let schedule = || store.schedule_campaign(&acme, campaign.id, SchedulePatch::default(), now());
    assert!(schedule().await.is_err());
    let read = store.campaign(&acme, campaign.id).await.unwrap();
    assert_eq!(read.status, CampaignStatus::Draft);
    let () = ::redis::cmd("DEL")
        .arg(&live)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(schedule().await.unwrap().status, CampaignStatus::Scheduled);
    assert_eq!(store.live_campaigns().await.unwrap(), vec![campaign.id]);
}

/// Redis only: claims sent together in one batch are still each a script of their own; one that
/// fails (its in-flight set's key holds a string) fails alone, and the others are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_fails_in_a_batch_fails_alone() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = Arc::new(crate::helpers::redis_store_at(&prefix));
    let mut campaigns = Vec::new();
    for _ in 0..40 {
        let id = scheduled(&*store, 2, concurrency(1)).await;
        campaigns.push((id, lease(&*store, id).await));
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
}
