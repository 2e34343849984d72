//! The gates that let a do-not-call add settle (the screen itself is `Step::screen`): a step
//! holds its organisation's gate (shared) from before it looks its claimed numbers up
//! until every call it kept is requested or released; an add, once committed, takes the gate
//! (exclusive) on every node and lets it go at once. So when an add is answered, every step
//! that looked up before the add has finished requesting, and every later one sees the entry.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::domain::OrgId;

/// One gate per organisation, on this node.
#[derive(Debug, Default)]
pub struct SuppressionGates {
    gates: Mutex<HashMap<OrgId, Arc<RwLock<()>>>>,
}

impl SuppressionGates {
    fn gate(&self, org: &OrgId) -> Arc<RwLock<()>> {
        self.gates.lock().entry(org.clone()).or_default().clone()
    }

    /// A step of `org` looks up and places while it holds this (steps share it).
    pub async fn enter(&self, org: &OrgId) -> OwnedRwLockReadGuard<()> {
        self.gate(org).read_owned().await
    }

    /// Waits until every step of `org` that entered before this call has left (the gate is
    /// fair: steps entering meanwhile wait behind it, and look up after the change).
    pub async fn settle(&self, org: &OrgId) {
        drop(self.gate(org).write_owned().await);
    }
}
