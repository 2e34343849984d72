//! Campaigns and their contacts: create, read, list, edit, schedule, control, delete, statistics.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pacer::domain::{CampaignStatus, ContactStatus, DialOutcome, SchedulePatch};
use pacer::store::capabilities::*;
use pacer::store::{
    CallResult, CampaignEdit, CampaignFilter, CampaignStore, Control, Page, StoreError, unix_hour,
};

use super::*;

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

/// A finished campaign takes no contacts, and its counters do not move (the add script repeats
/// `CampaignStatus::is_terminal`).
pub async fn no_contact_is_added_to_a_finished_campaign(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 2, concurrency(1)).await;
    let cancelled = store
        .control(&org("acme"), id, Control::Cancel, now())
        .await
        .unwrap();
    let added = store
        .add_contacts(&org("acme"), id, contacts(5)[2..].to_vec(), now())
        .await;
    match added {
        Err(StoreError::InvalidState(refused)) => {
            assert_eq!(refused.current, CampaignStatus::Cancelled);
        }
        other => panic!("contacts added to a cancelled campaign: {other:?}"),
    }
    let read = store.campaign(&org("acme"), id).await.unwrap();
    assert_eq!(read.counters, cancelled.counters);
    assert_eq!(read.counters.total, 2);
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

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
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

on_every_backend!(
    created_campaigns_read_back_and_skip_duplicates,
    many_contacts_keep_their_order_and_the_first_of_two_equal_phones,
    another_organisation_gets_not_found,
    cancel_cancels_waiting_contacts_only,
    no_contact_is_added_to_a_finished_campaign,
    an_edit_redistributes_waiting_contacts_only,
    only_finished_or_draft_campaigns_can_be_deleted,
    call_stats_count_each_attempt_once,
    a_step_whose_caller_stops_waiting_still_happens,
);

/// Redis only: the live set is a key of its own (on a cluster, in another slot than the
/// campaign's), written beside the commit script. A scheduling that could not be listed is not
/// committed: a node that stops between the two steps never leaves a dispatching campaign that
/// no node looks for.
async fn a_scheduling_that_could_not_be_listed_is_not_committed(
    store: pacer::store::RedisStore,
    prefix: &str,
    mut con: impl ::redis::aio::ConnectionLike,
) {
    let (campaign, _) = store
        .create_campaign(&org("acme"), spec(concurrency(1)), contacts(2), now())
        .await
        .unwrap();
    // The live set's key holds a string: adding to it fails, as it would with the node gone.
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

#[tokio::test]
async fn a_scheduling_that_could_not_be_listed_is_not_committed_on_redis() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = crate::helpers::redis_store_at(&prefix);
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let con = client.get_multiplexed_async_connection().await.unwrap();
    a_scheduling_that_could_not_be_listed_is_not_committed(store, &prefix, con).await;
}

#[tokio::test]
async fn a_scheduling_that_could_not_be_listed_is_not_committed_on_a_redis_cluster() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store = crate::helpers::redis_cluster_store_with(|settings| {
        settings.prefix = prefix.clone();
    });
    let seeds: Vec<String> = crate::helpers::redis_cluster_url()
        .split(',')
        .map(str::to_owned)
        .collect();
    let client = ::redis::cluster::ClusterClient::new(seeds).unwrap();
    let con = client.get_async_connection().await.unwrap();
    a_scheduling_that_could_not_be_listed_is_not_committed(store, &prefix, con).await;
}
