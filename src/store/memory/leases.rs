//! [`Leases`] in memory: leases and heartbeats by the store's clock.

use std::time::Instant;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::CampaignId;
use crate::store::{Fence, Leases, NodeBeat, StoreError};

/// A campaign's lease: the newest token, its owner, until when it holds (real time: leases
/// pace nodes, not campaigns).
#[derive(Debug)]
pub(super) struct Lease {
    pub(super) fence: Fence,
    pub(super) owner: String,
    pub(super) expires: Instant,
}

#[async_trait]
impl Leases for MemoryStore {
    async fn acquire_lease(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Fence>, StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        let now = Instant::now();
        let lease = &mut state.lease;
        if lease.expires > now {
            if lease.owner != owner {
                return Ok(None);
            }
            lease.expires = now + ttl;
            return Ok(Some(lease.fence));
        }
        *lease = Lease {
            fence: Fence(lease.fence.0 + 1),
            owner: owner.to_owned(),
            expires: now + ttl,
        };
        Ok(Some(lease.fence))
    }

    async fn renew_leases(
        &self,
        owner: &str,
        leases: &[(CampaignId, Fence)],
        ttl: std::time::Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let now = Instant::now();
        let renew = |&(id, fence): &(CampaignId, Fence)| {
            let Ok(state) = self.state(id) else {
                return false;
            };
            let lease = &mut state.lock().lease;
            let ours = lease.fence == fence && lease.owner == owner && lease.expires > now;
            if ours {
                lease.expires = now + ttl;
            }
            ours
        };
        Ok(leases.iter().map(renew).collect())
    }

    async fn release_lease(
        &self,
        id: CampaignId,
        owner: &str,
        fence: Fence,
    ) -> Result<(), StoreError> {
        let state = self.state(id)?;
        let mut state = state.lock();
        if state.lease.fence == fence && state.lease.owner == owner {
            state.lease.expires = Instant::now();
        }
        Ok(())
    }

    async fn heartbeat(
        &self,
        node: &str,
        n_held: usize,
        ttl: std::time::Duration,
    ) -> Result<Vec<NodeBeat>, StoreError> {
        let now = Instant::now();
        let mut ops = self.inner.ops.lock();
        ops.nodes.insert(node.to_owned(), (now + ttl, n_held));
        ops.nodes.retain(|_, (until, _)| *until > now);
        Ok(ops
            .nodes
            .iter()
            .map(|(node, &(_, n_held))| NodeBeat {
                node: node.clone(),
                n_held,
            })
            .collect())
    }

    async fn unleased(&self, ids: &[CampaignId]) -> Result<Vec<CampaignId>, StoreError> {
        let now = Instant::now();
        Ok(ids
            .iter()
            .copied()
            .filter(|&id| {
                self.state(id)
                    .is_ok_and(|state| state.lock().lease.expires <= now)
            })
            .collect())
    }

    async fn lease_holder(&self, id: CampaignId) -> Result<Option<String>, StoreError> {
        let state = self.state(id)?;
        let state = state.lock();
        Ok((state.lease.expires > Instant::now()).then(|| state.lease.owner.clone()))
    }
}
