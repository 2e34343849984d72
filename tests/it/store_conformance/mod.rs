//! The store conformance suite: written once against the store's capabilities, one file per
//! capability (as `src/store/` has them), each generated for every backend (memory, Redis, a
//! Redis Cluster) by `on_every_backend!`, one named test per check and backend.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pacer::domain::{
    CampaignId, CampaignSpec, OrgId, PhoneNumber, PhoneRotation, Schedule, SchedulePatch,
};
use pacer::store::{CampaignStore, Fence, MemoryStore, NewContact, Page};

pub fn now() -> DateTime<Utc> {
    "2026-11-30T08:00:00Z".parse().unwrap()
}

pub fn org(name: &str) -> OrgId {
    OrgId::parse(name).unwrap()
}

pub fn spec(patch: SchedulePatch) -> CampaignSpec {
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

pub fn contacts(n: usize) -> Vec<NewContact> {
    (0..n)
        .map(|i| NewContact::new(PhoneNumber::parse(&format!("+1555100{i:04}")).unwrap()))
        .collect()
}

pub fn concurrency(n: i64) -> SchedulePatch {
    SchedulePatch {
        max_concurrent_calls: Some(n),
        ..SchedulePatch::default()
    }
}

pub async fn lease(store: &dyn CampaignStore, id: CampaignId) -> Fence {
    store
        .acquire_lease(id, "conformance", std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a free lease")
}

pub const ALL: Page = Page {
    limit: 100,
    offset: 0,
};

/// Creates and schedules a campaign of `n` contacts for `acme`.
pub async fn scheduled(store: &dyn CampaignStore, n: usize, patch: SchedulePatch) -> CampaignId {
    scheduled_with(store, contacts(n), patch).await
}

/// Creates and schedules a campaign of these numbers for `acme`.
pub async fn scheduled_calling(
    store: &dyn CampaignStore,
    numbers: &[&str],
    patch: SchedulePatch,
) -> CampaignId {
    let contacts = numbers
        .iter()
        .map(|number| NewContact::new(PhoneNumber::parse(number).unwrap()))
        .collect();
    scheduled_with(store, contacts, patch).await
}

async fn scheduled_with(
    store: &dyn CampaignStore,
    contacts: Vec<NewContact>,
    patch: SchedulePatch,
) -> CampaignId {
    let (campaign, _) = store
        .create_campaign(&org("acme"), spec(patch), contacts, now())
        .await
        .unwrap();
    store
        .schedule_campaign(&org("acme"), campaign.id, SchedulePatch::default(), now())
        .await
        .unwrap();
    campaign.id
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

pub fn memory() -> Arc<dyn CampaignStore> {
    Arc::new(MemoryStore::new())
}

pub fn redis() -> Arc<dyn CampaignStore> {
    Arc::new(crate::helpers::redis_store())
}

pub fn redis_cluster() -> Arc<dyn CampaignStore> {
    Arc::new(crate::helpers::redis_cluster_store())
}

/// Every check of a capability's file, on every backend.
macro_rules! on_every_backend {
    ($($check:ident),* $(,)?) => {
        conformance!(memory, crate::store_conformance::memory(), [$($check),*]);
        conformance!(redis, crate::store_conformance::redis(), [$($check),*]);
        conformance!(redis_cluster, crate::store_conformance::redis_cluster(), [$($check),*]);
    };
}

mod bus;
mod campaigns;
mod dispatch;
mod expiry;
mod leases;
mod operations;
mod outbox;
mod requeue;
mod suppression;
