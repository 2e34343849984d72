//! The node's lease book: which campaigns this node owns, with the fencing token of each lease
//! and until when it is safe to claim under it.
//!
//! A lease is taken when a campaign's actor first dispatches (`SET NX PX` semantics in the
//! store: only a free lease can be taken), renewed for every campaign at once by the node's
//! keeper every third of the TTL, and given up when the actor stops. A lease that could not be
//! renewed in time is not used: the node stops claiming `margin` before it would lapse, so it
//! never claims under a lease another node may already hold (and if it did, the store would
//! refuse the stale token).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use parking_lot::Mutex;

use crate::domain::CampaignId;
use crate::store::{Fence, Leases, StoreError};
use crate::telemetry::{LEASE_CHANGES, LEASES_HELD, STORE_ERRORS};

#[derive(Debug, Clone, Copy)]
struct Held {
    fence: Fence,
    /// Until when claiming under it is safe (the lease's end as of the last renewal sent,
    /// minus the margin).
    safe_until: Instant,
    /// Its campaign is parked (nothing to do for a while): renewed for `PARKED_TTLS` TTLs at a
    /// time, a third of that apart.
    parked: bool,
}

/// A parked campaign's lease lasts this many TTLs (a minute at the default 5 s): renewing
/// 100 000 idle leases every third of a TTL would take a good part of a Redis core. A node that
/// dies holds its parked campaigns this long (they have nothing to do sooner: a campaign parks
/// only when its next claim is further away, `LeaseBook::parked_ttl`).
const PARKED_TTLS: u32 = 12;

/// The leases this node holds.
#[derive(Debug)]
pub struct LeaseBook {
    store: Arc<dyn Leases>,
    /// `<node id>/<instance>`: a restarted process never reuses its predecessor's leases.
    owner: String,
    ttl: Duration,
    held: Mutex<HashMap<CampaignId, Held>>,
    /// Campaigns handed over to other nodes, and until when this node does not take them back.
    cooling: Mutex<HashMap<CampaignId, Instant>>,
    /// Campaigns whose lease this node took and whose calls in flight (placed under an earlier
    /// lease, maybe by a node that died) it has not asked the provider about yet.
    taken: Mutex<std::collections::HashSet<CampaignId>>,
}

impl LeaseBook {
    pub fn new(store: Arc<dyn Leases>, node_id: &str, ttl: Duration) -> Self {
        Self {
            store,
            owner: format!("{node_id}/{}", uuid::Uuid::new_v4().simple()),
            ttl: ttl.max(Duration::from_millis(300)),
            held: Mutex::new(HashMap::new()),
            cooling: Mutex::new(HashMap::new()),
            taken: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Whether `id`'s lease was taken since the last call: its calls in flight are then to be
    /// reconciled (once).
    pub fn take_newly_taken(&self, id: CampaignId) -> bool {
        self.taken.lock().remove(&id)
    }

    /// Marks `id`'s calls in flight as still to be reconciled (the last try failed).
    pub fn mark_newly_taken(&self, id: CampaignId) {
        if self.holds(id) {
            self.taken.lock().insert(id);
        }
    }

    /// Marks `id` as handed over: for two TTLs this node neither adopts nor takes it.
    pub fn cool(&self, id: CampaignId) {
        let now = Instant::now();
        let mut cooling = self.cooling.lock();
        cooling.retain(|_, until| *until > now);
        cooling.insert(id, now + 2 * self.ttl);
    }

    /// Whether `id` was handed over recently.
    pub fn cooling(&self, id: CampaignId) -> bool {
        self.cooling
            .lock()
            .get(&id)
            .is_some_and(|until| *until > Instant::now())
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How often the keeper renews: a third of the TTL, so two renewals can fail in a row.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// Claims stop this long before a lease would lapse without renewal.
    fn margin(&self) -> Duration {
        self.ttl / 5
    }

    fn hold(&self, id: CampaignId, fence: Fence, sent_at: Instant) {
        let safe_until = sent_at + self.ttl - self.margin();
        let mut held = self.held.lock();
        let parked = false;
        held.insert(
            id,
            Held {
                fence,
                safe_until,
                parked,
            },
        );
        metrics::gauge!(LEASES_HELD).set(held.len() as f64);
    }

    /// How long a parked campaign's lease lasts once renewed.
    pub fn parked_ttl(&self) -> Duration {
        self.ttl * PARKED_TTLS
    }

    /// Marks `id`'s lease parked (its campaign has nothing to do for a while) or not (a new
    /// actor dispatches it): renewed with the long TTL from the next renewal on, or the usual.
    pub fn set_parked(&self, id: CampaignId, parked: bool) {
        if let Some(held) = self.held.lock().get_mut(&id) {
            held.parked = parked;
        }
    }

    /// The token to claim `id` with now: the lease held, renewed first if it is close to its
    /// end, or a new one. `None` when another node holds the campaign.
    pub async fn fence(&self, id: CampaignId) -> Result<Option<Fence>, StoreError> {
        let held = self.held.lock().get(&id).copied();
        let now = Instant::now();
        if let Some(held) = held {
            if held.safe_until > now {
                return Ok(Some(held.fence));
            }
            // The keeper has not renewed it in time (a stall, an outage): renew here.
            let renewed = self
                .store
                .renew_leases(&self.owner, &[(id, held.fence)], self.ttl)
                .await?;
            if renewed == [true] {
                self.hold(id, held.fence, now);
                return Ok(Some(held.fence));
            }
            self.forget(id);
        }
        if self.cooling(id) {
            return Ok(None);
        }
        let sent_at = Instant::now();
        match self.store.acquire_lease(id, &self.owner, self.ttl).await? {
            Some(fence) => {
                metrics::counter!(LEASE_CHANGES, "change" => "acquired").increment(1);
                self.hold(id, fence, sent_at);
                self.taken.lock().insert(id);
                Ok(Some(fence))
            }
            None => Ok(None),
        }
    }

    /// Drops `id` from the book without a word to the store (its lease was taken over).
    pub fn forget(&self, id: CampaignId) {
        self.taken.lock().remove(&id);
        let mut held = self.held.lock();
        if held.remove(&id).is_some() {
            metrics::counter!(LEASE_CHANGES, "change" => "lost").increment(1);
            metrics::gauge!(LEASES_HELD).set(held.len() as f64);
        }
    }

    /// Whether calls claimed under `id`'s lease may still be placed: the lease is held and not
    /// near its end (a process stalled past it must not place what it claimed before).
    pub fn safe(&self, id: CampaignId) -> bool {
        self.held
            .lock()
            .get(&id)
            .is_some_and(|held| held.safe_until > Instant::now())
    }

    /// Whether this node holds `id` (as far as it knows).
    pub fn holds(&self, id: CampaignId) -> bool {
        self.held.lock().contains_key(&id)
    }

    pub fn n_held(&self) -> usize {
        self.held.lock().len()
    }

    /// Gives the lease on `id` up (its actor stopped), so another node can take it at once.
    pub async fn release(&self, id: CampaignId) {
        self.taken.lock().remove(&id);
        let removed = {
            let mut held = self.held.lock();
            let removed = held.remove(&id);
            metrics::gauge!(LEASES_HELD).set(held.len() as f64);
            removed
        };
        let Some(held) = removed else {
            return;
        };
        metrics::counter!(LEASE_CHANGES, "change" => "released").increment(1);
        if let Err(error) = self.store.release_lease(id, &self.owner, held.fence).await {
            // It lapses by itself after the TTL.
            tracing::warn!(campaign = %id, %error, "lease not released");
        }
    }

    /// Gives every lease up (the node is leaving), so that other nodes take them at once.
    pub async fn release_all(&self) {
        let ids: Vec<CampaignId> = self.held.lock().keys().copied().collect();
        join_all(ids.into_iter().map(|id| self.release(id))).await;
    }

    /// Renews every lease held, concurrently, except the parked ones that have over two thirds
    /// of their long TTL left; returns the campaigns whose lease was lost.
    pub async fn renew_all(&self) -> Vec<CampaignId> {
        let sent_at = Instant::now();
        let parked_ttl = self.parked_ttl();
        let not_yet = sent_at + parked_ttl * 2 / 3 - self.margin();
        let (active, parked): (Vec<_>, Vec<_>) = self
            .held
            .lock()
            .iter()
            .map(|(&id, &held)| (id, held))
            .filter(|(_, held)| !held.parked || held.safe_until <= not_yet)
            .partition(|(_, held)| !held.parked);
        let (mut lost, lost_parked) = tokio::join!(
            self.renew(active, self.ttl, sent_at),
            self.renew(parked, parked_ttl, sent_at)
        );
        lost.extend(lost_parked);
        lost
    }

    /// Renews `held` for `ttl`; returns the campaigns whose lease was lost.
    async fn renew(
        &self,
        held: Vec<(CampaignId, Held)>,
        ttl: Duration,
        sent_at: Instant,
    ) -> Vec<CampaignId> {
        if held.is_empty() {
            return Vec::new();
        }
        let leases: Vec<(CampaignId, Fence)> =
            held.iter().map(|&(id, held)| (id, held.fence)).collect();
        let renewed = match self.store.renew_leases(&self.owner, &leases, ttl).await {
            Ok(renewed) => renewed,
            // Unknown: they stay until their safe end, and claims stop then.
            Err(error) => {
                metrics::counter!(STORE_ERRORS, "from" => "leases").increment(1);
                tracing::warn!(%error, leases = leases.len(), "leases not renewed");
                return Vec::new();
            }
        };
        let mut lost = Vec::new();
        for ((id, held), renewed) in held.into_iter().zip(renewed) {
            if renewed {
                // Unless it was released or replaced meanwhile.
                let mut book = self.held.lock();
                if let Some(entry) = book.get_mut(&id).filter(|entry| entry.fence == held.fence) {
                    entry.safe_until = sent_at + ttl - self.margin();
                }
            } else {
                self.forget(id);
                lost.push(id);
            }
        }
        lost
    }
}
