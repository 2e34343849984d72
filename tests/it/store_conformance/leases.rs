//! Leases and their fencing tokens.

use std::sync::Arc;

use pacer::domain::CampaignId;
use pacer::store::{CampaignStore, Fence};

use super::*;

pub async fn a_lease_has_one_owner_until_it_lapses_or_is_released(store: Arc<dyn CampaignStore>) {
    let id = scheduled(&*store, 1, concurrency(1)).await;
    // Long enough for the eight round trips below to land within it on a loaded machine.
    let ttl = std::time::Duration::from_secs(2);
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
    tokio::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
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

on_every_backend!(
    a_lease_has_one_owner_until_it_lapses_or_is_released,
    many_leases_renew_in_one_step_each_answered,
);
