//! The gates that let a do-not-call add settle (the screen itself is `Step::screen`): a step
//! holds its organisation's gate (shared) from before it looks its claimed numbers up
//! until every call it kept is requested, released or reserved; an add, once committed, takes the
//! gate (exclusive) on every node, moves the organisation's screen epoch on and lets the gate go.
//! So when an add is answered, every step that looked up before the add has finished requesting,
//! every later one sees the entry, and a call reserved ahead under an older epoch is looked up
//! again before it is placed. A list read empty under an epoch spares the steps of that epoch
//! (for a second) a screen with nothing to count.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::domain::OrgId;

/// How long a read that found an organisation's list empty stands (under one screen epoch):
/// an add moves the epoch on every node before it is answered, so this only bounds how long a
/// node that missed an add's note could go without screening.
const UNLISTED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// One organisation's gate: the lock, how many adds have settled through it, and when its list
/// was last read empty, under which epoch.
#[derive(Debug, Default)]
struct Gate {
    lock: Arc<RwLock<()>>,
    epoch: AtomicU64,
    unlisted: Mutex<Option<(u64, std::time::Instant)>>,
}

/// One gate per organisation, on this node.
#[derive(Debug, Default)]
pub struct SuppressionGates {
    gates: Mutex<HashMap<OrgId, Arc<Gate>>>,
}

/// A step's hold on its organisation's gate, with the screen epoch it holds under: numbers
/// looked up now stay good while the epoch is unchanged.
#[derive(Debug)]
pub struct Screening {
    _guard: OwnedRwLockReadGuard<()>,
    pub epoch: u64,
}

impl SuppressionGates {
    fn gate(&self, org: &OrgId) -> Arc<Gate> {
        self.gates.lock().entry(org.clone()).or_default().clone()
    }

    /// A step of `org` looks up and places while it holds this (steps share it).
    pub async fn enter(&self, org: &OrgId) -> Screening {
        let gate = self.gate(org);
        let guard = gate.lock.clone().read_owned().await;
        Screening {
            _guard: guard,
            epoch: gate.epoch.load(Ordering::Acquire),
        }
    }

    /// Whether `org`'s list was read empty under screen `epoch` within [`UNLISTED_FOR`]: a step
    /// of that epoch with no cap to count has nothing to screen.
    pub fn known_unlisted(&self, org: &OrgId, epoch: u64) -> bool {
        let unlisted = *self.gate(org).unlisted.lock();
        unlisted.is_some_and(|(read_in, at)| read_in == epoch && at.elapsed() < UNLISTED_FOR)
    }

    /// Notes that `org`'s list was read empty under screen `epoch` (by a step holding its gate
    /// under that epoch, so no add settled meanwhile).
    pub fn note_unlisted(&self, org: &OrgId, epoch: u64) {
        *self.gate(org).unlisted.lock() = Some((epoch, std::time::Instant::now()));
    }

    /// Waits until every step of `org` that entered before this call has left (the gate is
    /// fair: steps entering meanwhile wait behind it, and look up after the change), and moves
    /// the organisation's epoch on, so that calls reserved before it are looked up again.
    pub async fn settle(&self, org: &OrgId) {
        let gate = self.gate(org);
        let _exclusive = gate.lock.clone().write_owned().await;
        gate.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_list_read_empty_stands_for_its_epoch_only() {
        let (gates, acme) = (SuppressionGates::default(), OrgId::parse("acme").unwrap());
        let epoch = gates.enter(&acme).await.epoch;
        assert!(!gates.known_unlisted(&acme, epoch), "never read");
        gates.note_unlisted(&acme, epoch);
        assert!(gates.known_unlisted(&acme, epoch));
        let other = OrgId::parse("other").unwrap();
        assert!(!gates.known_unlisted(&other, epoch), "per organisation");
        // An add settles: the steps after it read the list again.
        gates.settle(&acme).await;
        let later = gates.enter(&acme).await.epoch;
        assert_ne!(later, epoch);
        assert!(!gates.known_unlisted(&acme, later));
    }
}
