//! The carrier gate: the calls-per-second limit that carriers impose on placements, held
//! across every node of the store by one GCRA limiter in the store, shared fairly between the
//! campaigns that want to call, and slowed down when the provider pushes back (429/503).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::domain::{CampaignId, Rate};
use crate::store::CampaignStore;

/// The limiter's name in the store.
const LIMITER: &str = "carrier";
/// A campaign counts as wanting to call for this long after it last asked.
const ACTIVE_WINDOW: Duration = Duration::from_secs(1);
/// Tokens taken but not used are kept this long for the next campaign that asks.
const BANK_LIFETIME: Duration = Duration::from_millis(500);
/// How long to hold placements after a provider's 429/503 without a `Retry-After`.
pub const DEFAULT_BACK_OFF: Duration = Duration::from_secs(1);

/// What a campaign may place now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub granted: u32,
    /// When nothing (or less than asked) was granted: how long until asking again helps.
    pub retry_in: Option<Duration>,
}

/// Gates placements on this node. Cheap to share.
#[derive(Debug)]
pub struct CarrierGate {
    store: Arc<dyn CampaignStore>,
    rate: Option<Rate>,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// No placement before this instant (the provider asked us to slow down).
    hold_until: Option<Instant>,
    /// Campaigns that asked recently, for the fair share.
    asking: HashMap<CampaignId, Instant>,
    /// Tokens taken from the store but not used, and until when they may be used.
    banked: u32,
    banked_until: Option<Instant>,
}

impl CarrierGate {
    /// A gate of `max_cps` calls per second across the store (`None`: no limit).
    pub fn new(store: Arc<dyn CampaignStore>, max_cps: Option<f64>) -> Self {
        let rate = max_cps.filter(|cps| *cps > 0.0).map(|per_second| Rate {
            per_second,
            // A tenth of a second's worth at once, so that calls stay spread out.
            burst: ((per_second / 10.0).ceil() as u32).max(1),
        });
        Self {
            store,
            rate,
            state: Mutex::new(GateState::default()),
        }
    }

    pub fn unlimited(store: Arc<dyn CampaignStore>) -> Self {
        Self::new(store, None)
    }

    /// Asks to place up to `wanted` calls of `campaign` now.
    pub async fn admit(&self, campaign: CampaignId, wanted: u32) -> Admission {
        let now = Instant::now();
        let ask = {
            let mut state = self.state.lock();
            if let Some(until) = state.hold_until.filter(|until| *until > now) {
                return Admission {
                    granted: 0,
                    retry_in: Some(until - now),
                };
            }
            let Some(rate) = self.rate else {
                return Admission {
                    granted: wanted,
                    retry_in: None,
                };
            };
            state.asking.insert(campaign, now);
            state
                .asking
                .retain(|_, asked| now.duration_since(*asked) < ACTIVE_WINDOW);
            // The fair share: the burst split between the campaigns asking, at least one.
            let share = (rate.burst / state.asking.len().max(1) as u32).max(1);
            let ask = wanted.min(share);
            if state.banked_until.is_some_and(|until| until > now) && state.banked > 0 {
                let from_bank = ask.min(state.banked);
                state.banked -= from_bank;
                return Admission {
                    granted: from_bank,
                    retry_in: None,
                };
            }
            (ask, rate)
        };
        let (ask, rate) = ask;
        match self.store.take_tokens(LIMITER, rate, ask).await {
            Ok(tokens) => Admission {
                granted: tokens.granted,
                retry_in: (tokens.granted < ask)
                    .then_some(tokens.wait.max(Duration::from_millis(1))),
            },
            Err(error) => {
                tracing::warn!(%error, "carrier limiter unavailable, holding placements");
                Admission {
                    granted: 0,
                    retry_in: Some(DEFAULT_BACK_OFF),
                }
            }
        }
    }

    /// Gives back tokens that were granted but not used (fewer contacts were due).
    pub fn refund(&self, unused: u32) {
        if self.rate.is_none() || unused == 0 {
            return;
        }
        let mut state = self.state.lock();
        state.banked = state.banked.saturating_add(unused);
        state.banked_until = Some(Instant::now() + BANK_LIFETIME);
    }

    /// The provider pushed back: no placement on this node for `pause`.
    pub fn back_off(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut state = self.state.lock();
        if state.hold_until.is_none_or(|held| held < until) {
            state.hold_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn gate(cps: f64) -> CarrierGate {
        CarrierGate::new(Arc::new(MemoryStore::new()), Some(cps))
    }

    #[tokio::test]
    async fn without_a_limit_everything_is_admitted() {
        let gate = CarrierGate::unlimited(Arc::new(MemoryStore::new()));
        let admission = gate.admit(CampaignId::random(), 500).await;
        assert_eq!(admission.granted, 500);
    }

    #[tokio::test]
    async fn the_burst_is_shared_between_the_campaigns_asking() {
        let gate = gate(100.0); // burst 10
        let (big, small) = (CampaignId::random(), CampaignId::random());
        assert_eq!(gate.admit(big, 100).await.granted, 10);
        // Now two campaigns ask: each gets at most half the burst.
        let small_grant = gate.admit(small, 100).await;
        assert!(small_grant.granted <= 5, "{small_grant:?}");
    }

    #[tokio::test]
    async fn a_back_off_holds_every_placement() {
        let gate = gate(1000.0);
        gate.back_off(Duration::from_secs(5));
        let admission = gate.admit(CampaignId::random(), 10).await;
        assert_eq!(admission.granted, 0);
        assert!(admission.retry_in.unwrap() > Duration::from_secs(4));
    }

    #[tokio::test]
    async fn refunded_tokens_go_to_the_next_campaign() {
        let gate = gate(10.0); // burst 1
        let first = gate.admit(CampaignId::random(), 1).await;
        assert_eq!(first.granted, 1);
        gate.refund(1);
        assert_eq!(gate.admit(CampaignId::random(), 1).await.granted, 1);
    }
}
