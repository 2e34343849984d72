//! Fault hooks for tests: named points in the product where a test makes the process panic or
//! exit, to prove what a crash at that point loses (nothing) and repeats (nothing).
//!
//! They exist only with the `fault-injection` feature, which only the tests turn on (the
//! package is its own dev-dependency with that feature): `cargo run` and release builds have
//! none, and every [`hit`] is an empty inline function there. A test arms a point for one
//! campaign in its own process ([`arm`]), or for a node process through `PACER_FAULT`
//! (`<point>:<action>`, e.g. `after_claim:exit`), read once at start.

use crate::domain::CampaignId;

/// Where a fault can strike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultPoint {
    /// A campaign actor's dispatch step, before it goes to the store.
    ActorStep,
    /// A dialer actor, as it takes a batch of calls.
    DialerPlace,
    /// Right after a claim that claimed calls committed, before they are placed.
    AfterClaim,
    /// Right after outcomes were recorded, before anything else of the step.
    AfterRecord,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    Panic,
    /// The process ends at once, as `kill -9` would end it.
    Exit,
}

#[cfg(feature = "fault-injection")]
mod armed {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};

    use parking_lot::Mutex;

    use super::{CampaignId, FaultAction, FaultPoint};

    /// Armed faults: (point, campaign or any) → action and hits left.
    type Armed = HashMap<(FaultPoint, Option<CampaignId>), (FaultAction, u32)>;

    /// Some fault was ever armed: until then a hit costs one load, not a lock.
    pub(super) static EVER_ARMED: AtomicBool = AtomicBool::new(false);

    pub(super) fn armed() -> &'static Mutex<Armed> {
        static ARMED: OnceLock<Mutex<Armed>> = OnceLock::new();
        ARMED.get_or_init(|| {
            let mut armed = HashMap::new();
            if let Ok(text) = std::env::var("PACER_FAULT")
                && let Some((point, action)) = parse(&text)
            {
                armed.insert((point, None), (action, 1));
                EVER_ARMED.store(true, Ordering::Relaxed);
            }
            Mutex::new(armed)
        })
    }

    fn parse(text: &str) -> Option<(FaultPoint, FaultAction)> {
        let (point, action) = text.split_once(':')?;
        let point = match point {
            "actor_step" => FaultPoint::ActorStep,
            "dialer_place" => FaultPoint::DialerPlace,
            "after_claim" => FaultPoint::AfterClaim,
            "after_record" => FaultPoint::AfterRecord,
            _ => return None,
        };
        let action = match action {
            "panic" => FaultAction::Panic,
            "exit" => FaultAction::Exit,
            _ => return None,
        };
        Some((point, action))
    }
}

/// Arms `point` for `campaign` (or every campaign) to do `action` the next `times` times it is
/// hit.
#[cfg(feature = "fault-injection")]
pub fn arm(point: FaultPoint, campaign: Option<CampaignId>, action: FaultAction, times: u32) {
    armed::armed()
        .lock()
        .insert((point, campaign), (action, times));
    armed::EVER_ARMED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The product passes `point` for `campaign`: an armed fault strikes here.
#[cfg(feature = "fault-injection")]
pub fn hit(point: FaultPoint, campaign: Option<CampaignId>) {
    // Read once: a fault armed through the environment is armed here.
    let armed = armed::armed();
    if !armed::EVER_ARMED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let action = {
        let mut armed = armed.lock();
        let key = [(point, campaign), (point, None)]
            .into_iter()
            .find(|key| armed.get(key).is_some_and(|(_, left)| *left > 0));
        key.and_then(|key| {
            let (action, left) = armed.get_mut(&key)?;
            *left -= 1;
            Some(*action)
        })
    };
    match action {
        Some(FaultAction::Panic) => panic!("fault injected at {point:?}"),
        Some(FaultAction::Exit) => {
            tracing::warn!(?point, "fault injected: the process exits");
            std::process::exit(137)
        }
        None => {}
    }
}

/// Without the `fault-injection` feature no fault exists: nothing happens here.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn hit(_point: FaultPoint, _campaign: Option<CampaignId>) {}
