//! Webhook events: written by the steps, relayed, delivered in order, dead letters.

use std::sync::Arc;

use chrono::Duration;
use pacer::domain::{CampaignId, DialOutcome, SchedulePatch};
use pacer::store::{CallResult, CampaignEvent, CampaignStore, OutboxLimits, Relayed, RelayedEvent};

use super::*;

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

on_every_backend!(
    the_outbox_keeps_order_and_forgets_what_was_acknowledged,
    steps_write_their_events_in_the_same_step,
    given_up_webhooks_go_to_the_dead_letters_and_come_back_on_replay,
);

/// Redis only: while the organisation's outbox cannot take a campaign's events (here its key
/// holds a value of another type), they stay in the campaign's outbox; the next relay moves
/// them all, in order, once.
#[tokio::test]
async fn events_stay_in_the_campaign_outbox_while_the_organisation_s_cannot_take_them() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let store: Arc<dyn CampaignStore> = Arc::new(crate::helpers::redis_store_at(&prefix));
    let target = pacer::webhooks::WebhookTarget {
        url: "http://127.0.0.1:9/".to_owned(),
        secret: "a-webhook-secret-0123456789".to_owned(),
    };
    let webhooks = pacer::webhooks::Webhooks::new(
        store.clone(),
        store.clone(),
        std::collections::HashMap::from([(org("acme"), target)]),
        OutboxLimits::default(),
    );
    let id = scheduled(&*store, 2, concurrency(1)).await;
    let fence = lease(&*store, id).await;
    store.claim_due(id, fence, now(), 10).await.unwrap();
    let written = store.campaign_events(id, 100).await.unwrap();
    assert!(written.len() >= 2, "{written:?}");
    let client = ::redis::Client::open(crate::helpers::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let outbox = format!("{prefix}{{o:acme}}:outbox");
    let () = ::redis::cmd("SET")
        .arg(&outbox)
        .arg("not a sorted set")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(webhooks.relay(&org("acme"), id, now()).await.is_err());
    assert_eq!(store.campaign_events(id, 100).await.unwrap(), written);
    let () = ::redis::cmd("DEL")
        .arg(&outbox)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(webhooks.relay(&org("acme"), id, now()).await.unwrap(), 0);
    assert!(store.campaign_events(id, 100).await.unwrap().is_empty());
    let (entries, depth) = store.outbox(&org("acme"), 100).await.unwrap();
    assert_eq!(depth, written.len() as u64);
    let seqs: Vec<u64> = entries.iter().map(|entry| entry.seq).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    // A second relay moves nothing twice.
    webhooks.relay(&org("acme"), id, now()).await.unwrap();
    assert_eq!(store.outbox(&org("acme"), 100).await.unwrap().1, depth);
}
