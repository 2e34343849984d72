//! The gates that let a do-not-call add settle (the screen itself is `Step::screen`): a step
//! holds its organisation's gate (shared) from before it looks its claimed numbers up
//! until every call it kept is requested, released or reserved; an add, once committed, takes the
//! gate (exclusive) on every node, moves the organisation's screen epoch on and lets the gate go.
//! So when an add is answered, every step that looked up before the add has finished requesting,
//! every later one sees the entry, and a call reserved ahead under an older epoch is looked up
//! again before it is placed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::domain::OrgId;

/// One organisation's gate: the lock, and how many adds have settled through it.
#[derive(Debug, Default)]
struct Gate {
    lock: Arc<RwLock<()>>,
    epoch: AtomicU64,
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

    /// Waits until every step of `org` that entered before this call has left (the gate is
    /// fair: steps entering meanwhile wait behind it, and look up after the change), and moves
    /// the organisation's epoch on, so that calls reserved before it are looked up again.
    pub async fn settle(&self, org: &OrgId) {
        let gate = self.gate(org);
        let _exclusive = gate.lock.clone().write_owned().await;
        gate.epoch.fetch_add(1, Ordering::AcqRel);
    }
}
