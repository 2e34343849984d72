//! [`Leases`] on Redis: a campaign's lease and its fencing token, renewals spread over the TTL,
//! and the nodes' heartbeats.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;

use super::connections::{Connection, Connections, query_each};
use super::{RedisStore, unavailable};
use crate::domain::CampaignId;
use crate::store::{Fence, Leases, NodeBeat, StoreError};

/// Leases renewed by one script on one Redis (a GET and a PEXPIRE each): a script holds Redis
/// well under a millisecond.
pub(super) const RENEWALS_PER_SCRIPT: usize = 100;
/// Live campaigns read a page at a time (a page holds Redis well under a millisecond).
pub(super) const LIVE_PAGE: usize = 1_000;
/// Renewal scripts on one Redis start spread evenly over the lease's TTL divided by this, each
/// without waiting for the one before. Scripts sent together run back to back and every claim
/// waits behind them all (BENCHMARKS.md, *Scripts stay short*); one after another, a loaded
/// Redis' queue delay
/// would add up to past the lease, and so would a fixed spacing with enough leases (1 ms
/// apart, 400 000 leases would take 4 s). A sixth of the TTL is half the renewal period: a
/// lease renewed by the first script one time and by the last the next is renewed within half
/// the TTL, however many leases there are.
pub(super) const RENEWAL_SPREAD: u32 = 6;

/// The longest time renewals are spread over: parked campaigns' leases last many TTLs, and a
/// keeper tick must not wait that long for their renewals.
const MAX_RENEWAL_SPREAD: Duration = Duration::from_secs(1);

impl RedisStore {
    /// Runs `scripts/lease.lua`: takes or releases a lease; the token, or 0.
    pub(super) async fn lease_op(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: Duration,
        op: &'static str,
        fence: Option<Fence>,
    ) -> Result<u64, StoreError> {
        let owner = owner.to_owned();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            if op == "take" {
                inner.meta(&mut con, None, id).await?;
            }
            let keys = inner.keys.campaign(id);
            inner
                .scripts
                .lease
                .key(keys.meta())
                .key(keys.lease())
                .arg(owner)
                .arg(ttl.as_millis().max(1) as u64)
                .arg(op)
                .arg(fence.map_or(0, |fence| fence.0))
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl Leases for RedisStore {
    async fn acquire_lease(
        &self,
        id: CampaignId,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Fence>, StoreError> {
        let token = self.lease_op(id, owner, ttl, "take", None).await?;
        Ok((token > 0).then_some(Fence(token)))
    }

    async fn renew_leases(
        &self,
        owner: &str,
        leases: &[(CampaignId, Fence)],
        ttl: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let leases: Vec<(String, String)> = leases
            .iter()
            .map(|&(id, fence)| {
                let key = self.inner.keys.campaign(id).lease();
                (key, format!("{owner}|{}", fence.0))
            })
            .collect();
        self.io(move |inner| async move {
            // One script for many leases on one Redis (on the control connection), spaced so
            // that claims run between them; one per lease on a cluster, where keys live on many
            // slots.
            let (con, chunk, spacing) = match &inner.connections {
                Connections::Single(_) => {
                    let n_scripts = leases.len().div_ceil(RENEWALS_PER_SCRIPT).max(1);
                    let spread = (ttl / RENEWAL_SPREAD).min(MAX_RENEWAL_SPREAD);
                    let spacing = spread / n_scripts as u32;
                    let con = Connection::Single(inner.control.clone());
                    (con, RENEWALS_PER_SCRIPT, spacing)
                }
                Connections::Cluster(_) => (inner.connection().await?, 1, Duration::ZERO),
            };
            let ttl_ms = ttl.as_millis().max(1) as u64;
            let renewals = leases.chunks(chunk).zip(0u32..).map(|(chunk, i)| {
                let mut con = con.clone();
                let mut invocation = inner.scripts.renew_leases.prepare_invoke();
                invocation.arg(ttl_ms);
                for (key, value) in chunk {
                    invocation.key(key).arg(value);
                }
                async move {
                    let wait = spacing * i;
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    invocation.invoke_async::<Vec<i64>>(&mut con).await
                }
            });
            let renewed = futures_util::future::try_join_all(renewals)
                .await
                .map_err(unavailable)?;
            Ok(renewed
                .into_iter()
                .flatten()
                .map(|flag| flag == 1)
                .collect())
        })
        .await
    }

    async fn release_lease(
        &self,
        id: CampaignId,
        owner: &str,
        fence: Fence,
    ) -> Result<(), StoreError> {
        self.lease_op(id, owner, Duration::ZERO, "release", Some(fence))
            .await
            .map(drop)
    }

    async fn heartbeat(
        &self,
        node: &str,
        n_held: usize,
        ttl: Duration,
    ) -> Result<Vec<NodeBeat>, StoreError> {
        let node = node.to_owned();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let alive: Vec<String> = inner
                .scripts
                .heartbeat
                .key(inner.keys.nodes())
                .arg(node)
                .arg(n_held)
                .arg(ttl.as_millis() as u64)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(alive
                .chunks(2)
                .filter_map(|pair| match pair {
                    [node, held] => Some(NodeBeat {
                        node: node.clone(),
                        n_held: held.parse().ok()?,
                    }),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    async fn unleased(&self, ids: &[CampaignId]) -> Result<Vec<CampaignId>, StoreError> {
        let ids = ids.to_vec();
        self.io(move |inner| async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let reads = ids.iter().map(|&id| {
                redis::cmd("EXISTS")
                    .arg(inner.keys.campaign(id).lease())
                    .clone()
            });
            let mut con = inner.connection().await?;
            let leased: Vec<bool> = query_each(&mut con, reads).await?;
            Ok(ids
                .into_iter()
                .zip(leased)
                .filter_map(|(id, leased)| (!leased).then_some(id))
                .collect())
        })
        .await
    }

    async fn lease_holder(&self, id: CampaignId) -> Result<Option<String>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let holder: Option<String> = con
                .get(inner.keys.campaign(id).lease())
                .await
                .map_err(unavailable)?;
            // "<owner>|<token>"
            Ok(holder.and_then(|holder| Some(holder.rsplit_once('|')?.0.to_owned())))
        })
        .await
    }
}
