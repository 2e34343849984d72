//! Calling contacts again: a requeue by outcome, a callback.

use std::sync::Arc;

use chrono::Duration;
use pacer::domain::{CampaignStatus, ContactStatus, DialOutcome};
use pacer::store::{CallResult, CampaignStore, StoreError};

use super::*;

fn ended(outcome: DialOutcome) -> CallResult {
    CallResult {
        outcome,
        duration_secs: 3,
    }
}

async fn requeued_contacts_are_called_again(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let id = scheduled(&*store, 5, concurrency(5)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    assert_eq!(calls.len(), 5);
    let outcomes = [
        DialOutcome::Completed,
        DialOutcome::NoAnswer,
        DialOutcome::Busy,
        DialOutcome::Voicemail,
    ];
    for (call, outcome) in calls.iter().zip(outcomes) {
        store
            .record_outcome(id, call.contact_id, call.attempt, ended(outcome), now())
            .await
            .unwrap();
    }
    // The fifth never reports: `unknown` past its deadline, and the campaign completes.
    let later = now() + Duration::hours(2);
    let batch = store.claim_due(id, fence, later, 10).await.unwrap();
    assert_eq!(batch.status, CampaignStatus::Completed);

    let wanted = [DialOutcome::NoAnswer, DialOutcome::Busy];
    let (campaign, n) = store
        .requeue(&acme, id, &wanted, false, later)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(campaign.status, CampaignStatus::Active);
    assert_eq!(campaign.completed_at, None);
    assert_eq!(campaign.counters.of(ContactStatus::Scheduled), 2);
    assert_eq!(campaign.counters.of(ContactStatus::Failed), 0);
    assert_eq!(campaign.counters.of(ContactStatus::Completed), 2);
    assert_eq!(campaign.counters.of(ContactStatus::Unknown), 1);
    let contacts = store.contacts(&acme, id, None, ALL, later).await.unwrap();
    let waiting = &contacts.items[1];
    assert_eq!(waiting.status, ContactStatus::Scheduled);
    assert_eq!(waiting.scheduled_at, Some(later));
    assert_eq!(waiting.attempts, 1);
    let batch = store.claim_due(id, fence, later, 10).await.unwrap();
    let again: Vec<_> = batch
        .calls
        .iter()
        .map(|call| (call.contact_id, call.attempt))
        .collect();
    let expected = [(calls[1].contact_id, 2), (calls[2].contact_id, 2)];
    assert_eq!(again, expected, "their attempts go on");
    for call in &batch.calls {
        store
            .record_outcome(
                id,
                call.contact_id,
                call.attempt,
                ended(DialOutcome::Completed),
                later,
            )
            .await
            .unwrap();
    }
    // The unknown one only when asked, from `completed` again.
    let batch = store.claim_due(id, fence, later, 10).await.unwrap();
    assert_eq!(batch.status, CampaignStatus::Completed);
    let (_, n) = store
        .requeue(&acme, id, &wanted, false, later)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(
        store.campaign(&acme, id).await.unwrap().status,
        CampaignStatus::Completed,
        "nothing put back: still completed"
    );
    let (campaign, n) = store.requeue(&acme, id, &[], true, later).await.unwrap();
    assert_eq!((n, campaign.status), (1, CampaignStatus::Active));
    let batch = store.claim_due(id, fence, later, 10).await.unwrap();
    assert_eq!(batch.calls.len(), 1);
    assert_eq!(batch.calls[0].attempt, 2);
    // Another organisation's campaign is not found; a cancelled one refuses.
    assert!(matches!(
        store.requeue(&org("other"), id, &wanted, true, later).await,
        Err(StoreError::NotFound)
    ));
    store
        .control(&acme, id, pacer::store::Control::Cancel, later)
        .await
        .unwrap();
    assert!(matches!(
        store.requeue(&acme, id, &wanted, true, later).await,
        Err(StoreError::InvalidState(_))
    ));
}

async fn a_callback_is_a_new_attempt_at_its_time(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let id = scheduled(&*store, 3, concurrency(3)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let (done, failed, running) = (&calls[0], &calls[1], &calls[2]);
    store
        .record_outcome(id, done.contact_id, 1, ended(DialOutcome::Completed), now())
        .await
        .unwrap();
    store
        .record_outcome(id, failed.contact_id, 1, ended(DialOutcome::Busy), now())
        .await
        .unwrap();
    let later = now() + Duration::hours(2);
    let due = store
        .set_callback(&acme, id, done.contact_id, later, now())
        .await
        .unwrap();
    assert_eq!(due, later, "no rule holds it then");
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Completed), 0);
    assert_eq!(campaign.counters.of(ContactStatus::Scheduled), 1);
    let contacts = store.contacts(&acme, id, None, ALL, now()).await.unwrap();
    let waiting = &contacts.items[0];
    assert_eq!(waiting.status, ContactStatus::Scheduled);
    assert_eq!(
        waiting.held_reason,
        Some(pacer::domain::HeldReason::CallbackPending)
    );
    assert_eq!(waiting.scheduled_at, Some(later));
    // A call in flight has no outcome yet: it cannot be called back.
    assert!(matches!(
        store
            .set_callback(&acme, id, running.contact_id, later, now())
            .await,
        Err(StoreError::Invalid(_))
    ));
    let batch = store
        .claim_due(id, fence, later - Duration::seconds(1), 10)
        .await
        .unwrap();
    assert!(batch.calls.is_empty());
    assert!(batch.wake_at.is_some_and(|at| at <= later));
    let batch = store.claim_due(id, fence, later, 10).await.unwrap();
    let claimed: Vec<_> = batch
        .calls
        .iter()
        .map(|call| (call.contact_id, call.attempt))
        .collect();
    assert_eq!(claimed, [(done.contact_id, 2)]);
    // Two callbacks a contact by default; a moved callback counts.
    for _ in 0..2 {
        store
            .set_callback(&acme, id, failed.contact_id, later, now())
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .set_callback(&acme, id, failed.contact_id, later, now())
            .await,
        Err(StoreError::Invalid(_))
    ));
    // A completed campaign is active again after a callback.
    for (call, attempt) in [(done, 2), (running, 1)] {
        store
            .record_outcome(
                id,
                call.contact_id,
                attempt,
                ended(DialOutcome::Completed),
                later,
            )
            .await
            .unwrap();
    }
    let batch = store.claim_due(id, fence, later, 10).await.unwrap();
    store
        .record_outcome(
            id,
            failed.contact_id,
            2,
            ended(DialOutcome::Completed),
            later,
        )
        .await
        .unwrap();
    assert_eq!(batch.calls.len(), 1);
    let batch = store.claim_due(id, fence, later, 10).await.unwrap();
    assert_eq!(batch.status, CampaignStatus::Completed);
    store
        .set_callback(&acme, id, running.contact_id, later, later)
        .await
        .unwrap();
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.status, CampaignStatus::Active);
    assert_eq!(campaign.completed_at, None);
    assert!(matches!(
        store
            .set_callback(&org("other"), id, running.contact_id, later, later)
            .await,
        Err(StoreError::NotFound)
    ));
}

on_every_backend!(
    requeued_contacts_are_called_again,
    a_callback_is_a_new_attempt_at_its_time,
);
