//! Leases on campaigns with their fencing tokens, and the nodes' heartbeats.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::CampaignId;

/// A fencing token: the number of the lease a node holds on a campaign. Every claim carries
/// it, and a claim with a token older than the campaign's newest lease is refused, so a node
/// that lost its lease (paused, partitioned) can never claim again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fence(pub u64);

/// A node alive, as its last heartbeat said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBeat {
    pub node: String,
    pub n_held: usize,
}

/// Who dispatches each campaign: one lease per campaign, with a fencing token that every claim
/// carries, and the nodes alive.
#[async_trait]
pub trait Leases: Send + Sync + std::fmt::Debug + 'static {
    /// Takes the campaign's lease for `owner`, valid for `ttl`, if it is free: a new token, and
    /// every earlier token becomes stale. If `owner` holds it already, it is renewed and keeps
    /// its token. `None` while another owner holds it.
    async fn acquire_lease(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Fence>, StoreError>;

    /// Extends each of `owner`'s `leases` (campaign, token) by `ttl` from now, in one store
    /// step for many: for each, `false` when it is not theirs any more (it lapsed and another
    /// owner took it, or it was released).
    async fn renew_leases(
        &self,
        owner: &str,
        leases: &[(CampaignId, Fence)],
        ttl: std::time::Duration,
    ) -> Result<Vec<bool>, StoreError>;

    /// Gives `owner`'s lease `fence` up, so that another node can take the campaign at once.
    async fn release_lease(
        &self,
        id: CampaignId,
        owner: &str,
        fence: Fence,
    ) -> Result<(), StoreError>;

    /// The owner holding the campaign's lease now, if any.
    async fn lease_holder(&self, id: CampaignId) -> Result<Option<String>, StoreError>;

    /// Those of `ids` whose lease nobody holds.
    async fn unleased(&self, ids: &[CampaignId]) -> Result<Vec<CampaignId>, StoreError>;

    /// Records that `node` is alive and holds `n_held` leases, for `ttl` from now; returns every
    /// node alive (itself included).
    async fn heartbeat(
        &self,
        node: &str,
        n_held: usize,
        ttl: std::time::Duration,
    ) -> Result<Vec<NodeBeat>, StoreError>;
}
