//! The operations state: call-id index, idempotency keys, locks, rate limiters.

use std::sync::Arc;

use pacer::domain::{CallId, Rate};
use pacer::store::{
    CallRef, CampaignStore, Idempotency, IdempotencyLimits, MemoryStore, StoredResponse,
};

use super::*;

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

async fn a_named_lock_has_one_owner_until_it_expires(store: Arc<dyn CampaignStore>) {
    let name = format!("test-{}", CallId::random());
    // Long enough for the three round trips below to land within it on a loaded machine.
    let ttl = std::time::Duration::from_secs(1);
    assert!(store.hold_lock(&name, "node-a", ttl).await.unwrap());
    assert!(!store.hold_lock(&name, "node-b", ttl).await.unwrap());
    // The owner keeps it.
    assert!(store.hold_lock(&name, "node-a", ttl).await.unwrap());
    tokio::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
    assert!(store.hold_lock(&name, "node-b", ttl).await.unwrap());
    assert!(!store.hold_lock(&name, "node-a", ttl).await.unwrap());
}

on_every_backend!(
    call_ids_are_found_through_their_index,
    idempotency_keys_replay_refuse_other_bodies_and_can_be_abandoned,
    a_rate_limiter_grants_its_burst_then_makes_callers_wait,
    a_named_lock_has_one_owner_until_it_expires,
);
