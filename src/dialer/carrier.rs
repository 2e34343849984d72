//! The carrier gate: the calls-per-second limit that carriers impose on placements, held
//! across every node of the store by one GCRA limiter in the store, shared fairly between the
//! campaigns that want to call, and slowed down when the provider pushes back (429/503).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::domain::{CampaignId, Rate};
use crate::store::Limiters;

/// The limiter's name in the store.
const LIMITER: &str = "carrier";
/// A campaign counts as wanting to call for this long after it last asked.
const ACTIVE_WINDOW: Duration = Duration::from_secs(1);
/// Tokens taken but not used are kept this long for the next campaign that asks.
const BANK_LIFETIME: Duration = Duration::from_millis(500);
/// A campaign owed a turn keeps it at least this long after its last ask (three token
/// intervals at high rates), so that one that stopped asking holds nobody up for long.
const MIN_PATIENCE: Duration = Duration::from_millis(100);
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
    store: Arc<dyn Limiters>,
    rate: Option<Rate>,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// No placement before this instant (the provider asked us to slow down).
    hold_until: Option<Instant>,
    /// Campaigns that asked recently, for the fair share and the turns.
    asking: HashMap<CampaignId, Asker>,
    /// Tokens taken from the store but not used, and until when they may be used.
    banked: u32,
    banked_until: Option<Instant>,
}

/// A campaign that asked for tokens recently.
#[derive(Debug, Clone, Copy)]
struct Asker {
    last_ask: Instant,
    /// When it was last granted a token (`None`: not since it started asking).
    last_granted: Option<Instant>,
    /// Its last ask got nothing: it is owed a turn.
    waiting: bool,
}

impl GateState {
    /// Notes what `campaign` was granted: a grant ends its wait and moves it to the back of
    /// the turns; a grant of nothing makes it owed a turn.
    fn note_grant(&mut self, campaign: CampaignId, granted: u32, now: Instant) {
        if let Some(asker) = self.asking.get_mut(&campaign) {
            asker.waiting = granted == 0;
            if granted > 0 {
                asker.last_granted = Some(now);
            }
        }
    }
}

impl Asker {
    /// Whether `self`, still waiting at `now`, goes before a campaign last granted at
    /// `granted`: it was served less recently (or never).
    fn goes_before(&self, granted: Option<Instant>, now: Instant, patience: Duration) -> bool {
        self.waiting && now.duration_since(self.last_ask) < patience && self.last_granted < granted
    }
}

impl CarrierGate {
    /// A gate of `max_cps` calls per second across the store (`None`: no limit).
    pub fn new(store: Arc<dyn Limiters>, max_cps: Option<f64>) -> Self {
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

    pub fn unlimited(store: Arc<dyn Limiters>) -> Self {
        Self::new(store, None)
    }

    /// Whether calls are limited per second (then a claim does not look ahead: the limit counts
    /// calls when they are admitted, and a call claimed ahead is placed later).
    pub fn limits(&self) -> bool {
        self.rate.is_some()
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
            state
                .asking
                .retain(|_, asker| now.duration_since(asker.last_ask) < ACTIVE_WINDOW);
            let asker = state.asking.entry(campaign).or_insert(Asker {
                last_ask: now,
                last_granted: None,
                waiting: false,
            });
            asker.last_ask = now;
            let granted_before = asker.last_granted;
            // Turns: while a campaign that got nothing at its last ask waits, one served more
            // recently lets it go first, so a campaign asking more often (after every outcome)
            // cannot take every token. A waiting campaign that stops asking loses its turn
            // after `patience`.
            let interval = Duration::from_secs_f64(1.0 / rate.per_second);
            let patience = (interval * 3).max(MIN_PATIENCE);
            let owed = state.asking.len() > 1
                && state.asking.iter().any(|(&other, asker)| {
                    other != campaign && asker.goes_before(granted_before, now, patience)
                });
            if owed {
                // Owed a turn itself now, after the one it yields to.
                state.note_grant(campaign, 0, now);
                return Admission {
                    granted: 0,
                    retry_in: Some(interval),
                };
            }
            // The fair share: the burst split between the campaigns asking, at least one.
            let share = (rate.burst / state.asking.len().max(1) as u32).max(1);
            let ask = wanted.min(share);
            if state.banked_until.is_some_and(|until| until > now) && state.banked > 0 {
                let from_bank = ask.min(state.banked);
                state.banked -= from_bank;
                state.note_grant(campaign, from_bank, now);
                return Admission {
                    granted: from_bank,
                    retry_in: None,
                };
            }
            (ask, rate)
        };
        let (ask, rate) = ask;
        match self.store.take_tokens(LIMITER, rate, ask).await {
            Ok(tokens) => {
                self.state
                    .lock()
                    .note_grant(campaign, tokens.granted, Instant::now());
                Admission {
                    granted: tokens.granted,
                    retry_in: (tokens.granted < ask)
                        .then_some(tokens.wait.max(Duration::from_millis(1))),
                }
            }
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
    async fn a_campaign_that_got_nothing_goes_before_one_served_since() {
        let gate = gate(20.0); // burst 2, a token every 50 ms
        let (big, small) = (CampaignId::random(), CampaignId::random());
        assert_eq!(gate.admit(big, 100).await.granted, 2);
        // The burst is spent: the small campaign gets nothing and is owed a turn.
        assert_eq!(gate.admit(small, 100).await.granted, 0);
        tokio::time::sleep(Duration::from_millis(60)).await;
        // A token is free, but the big campaign (served since) lets the small one go first,
        // however often it asks.
        for _ in 0..3 {
            let yielded = gate.admit(big, 100).await;
            assert_eq!(yielded.granted, 0);
            assert_eq!(yielded.retry_in, Some(Duration::from_millis(50)));
        }
        assert_eq!(gate.admit(small, 100).await.granted, 1);
        // Now the big campaign is owed a turn in its place: they alternate.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(gate.admit(small, 100).await.granted, 0);
        assert_eq!(gate.admit(big, 100).await.granted, 1);
    }

    #[tokio::test]
    async fn a_campaign_owed_a_turn_that_stops_asking_holds_nobody_up_for_long() {
        let gate = gate(20.0);
        let (big, gone) = (CampaignId::random(), CampaignId::random());
        assert_eq!(gate.admit(big, 100).await.granted, 2);
        assert_eq!(gate.admit(gone, 100).await.granted, 0);
        // `gone` never asks again (paused, handed over): after three token intervals the big
        // campaign takes the tokens again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(gate.admit(big, 100).await.granted > 0);
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
