//! A campaign's expiry: whatever waits expires, the campaign completes, nothing is called after.

use std::sync::Arc;

use chrono::Duration;
use pacer::domain::{CampaignStatus, ContactStatus, DialOutcome, SchedulePatch, SkipReason};
use pacer::store::{CallResult, CampaignStore, Control};

use super::*;

fn no_answer() -> CallResult {
    CallResult {
        outcome: DialOutcome::NoAnswer,
        duration_secs: 0,
    }
}

async fn waiting_contacts_expire_at_the_campaign_s_expiry(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    // Before the calls' deadline (an hour), after the retry's due time.
    let expires = now() + Duration::minutes(45);
    let patch = SchedulePatch {
        max_concurrent_calls: Some(2),
        retry_failed: Some(true),
        max_retry_attempts: Some(2),
        retry_delay_minutes: Some(30),
        expires_at: Some(Some(expires.to_rfc3339())),
        ..SchedulePatch::default()
    };
    let id = scheduled(&*store, 5, patch).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert!(
            call.not_after.is_some_and(|at| at <= expires),
            "no dial request after the expiry"
        );
    }
    store
        .record_outcome(id, calls[0].contact_id, 1, no_answer(), now())
        .await
        .unwrap();
    // Woken for the retry, and for the expiry at the latest.
    let batch = store
        .claim_due(id, fence, now() + Duration::minutes(10), 0)
        .await
        .unwrap();
    assert!(batch.wake_at.is_some_and(|at| at <= expires));

    let batch = store.claim_due(id, fence, expires, 10).await.unwrap();
    assert!(batch.calls.is_empty());
    assert_eq!(batch.status, CampaignStatus::Completed);
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Expired), 4);
    assert_eq!(campaign.counters.of(ContactStatus::InProgress), 1);
    assert_eq!(campaign.counters.pending(), 0);
    let contacts = store.contacts(&acme, id, None, ALL, expires).await.unwrap();
    for contact in contacts
        .items
        .iter()
        .filter(|c| c.id != calls[1].contact_id)
    {
        assert_eq!(contact.status, ContactStatus::Expired, "{contact:?}");
        assert_eq!(contact.skip_reason, Some(SkipReason::Expired));
        assert_eq!(contact.scheduled_at, None);
    }
    // The call in flight runs to its end; what would be retried expires.
    store
        .record_outcome(id, calls[1].contact_id, 1, no_answer(), expires)
        .await
        .unwrap();
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Expired), 5);
    assert_eq!(campaign.counters.of(ContactStatus::InProgress), 0);
    let batch = store
        .claim_due(id, fence, expires + Duration::hours(1), 10)
        .await
        .unwrap();
    assert!(batch.calls.is_empty());
    assert_eq!(batch.wake_at, None);
}

async fn a_paused_campaign_expires_too(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let expires = now() + Duration::hours(1);
    let patch = SchedulePatch {
        expires_at: Some(Some(expires.to_rfc3339())),
        ..concurrency(1)
    };
    let id = scheduled(&*store, 3, patch).await;
    store
        .control(&acme, id, Control::Pause, now())
        .await
        .unwrap();
    let fence = lease(&*store, id).await;
    let batch = store.claim_due(id, fence, now(), 10).await.unwrap();
    assert_eq!(
        batch.wake_at,
        Some(expires),
        "a paused campaign still expires on time"
    );
    let batch = store.claim_due(id, fence, expires, 10).await.unwrap();
    assert_eq!(batch.status, CampaignStatus::Completed);
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Expired), 3);
}

on_every_backend!(
    waiting_contacts_expire_at_the_campaign_s_expiry,
    a_paused_campaign_expires_too,
);
