//! Notes between nodes over the store's pub/sub. A node that committed a change to a campaign
//! it does not dispatch asks the owner to *settle* — finish the step it is in (every call it
//! claimed is placed or released), then look at the store again — and waits for the answer, so
//! that "no new call after the response" holds whichever node answered the operator.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::domain::{CampaignId, OrgId};
use crate::store::{Bus, Leases, StoreError, Subscription};

/// A note from one node to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum Note {
    /// Finish the current step on `campaign`, look at the store again, then answer `reply_to`.
    Settle {
        campaign: CampaignId,
        request: u64,
        reply_to: String,
    },
    /// The answer to a `Settle` or a `SettleOrg`.
    Settled { request: u64 },
    /// Let every step of `org` that may have looked its numbers up in the do-not-call list
    /// before an add finish, then answer `reply_to`.
    SettleOrg {
        /// The organisation's id (`OrgId`).
        org: String,
        request: u64,
        reply_to: String,
    },
    /// Look at `campaign` again (outcomes were recorded by another node); no answer.
    Wake { campaign: CampaignId },
}

/// This node's end of the notes.
#[derive(Debug)]
pub struct ControlBus {
    bus: Arc<dyn Bus>,
    /// Who holds each campaign's lease: where a note for it goes.
    leases: Arc<dyn Leases>,
    /// This node's name in leases, which is also its channel.
    node: String,
    next_request: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

/// The notes sent to this node, decoded as they come.
#[derive(Debug)]
pub struct Notes(Subscription);

impl Notes {
    /// The next note (one that cannot be decoded is logged and skipped); `None` once the
    /// subscription ended.
    pub async fn recv(&mut self) -> Option<Note> {
        loop {
            let text = self.0.recv().await?;
            match serde_json::from_str::<Note>(&text) {
                Ok(note) => return Some(note),
                Err(error) => tracing::warn!(%error, "unreadable note ignored"),
            }
        }
    }
}

/// How long a node waits for an owner that keeps its lease but does not answer.
const PATIENCE: Duration = Duration::from_secs(30);

fn channel(node: &str) -> String {
    format!("node:{node}")
}

impl ControlBus {
    pub fn new(bus: Arc<dyn Bus>, leases: Arc<dyn Leases>, node: &str) -> Self {
        Self {
            bus,
            leases,
            node: node.to_owned(),
            next_request: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// The notes sent to this node, from now on.
    pub async fn listen(&self) -> Result<Notes, StoreError> {
        Ok(Notes(self.bus.subscribe(&channel(&self.node)).await?))
    }

    /// Sends `note` to `node`; how many processes heard it (0: none listens any more).
    pub async fn send(&self, node: &str, note: &Note) -> Result<usize, StoreError> {
        let encoded = serde_json::to_string(note).expect("a note encodes");
        self.bus.publish(&channel(node), &encoded).await
    }

    /// An answer arrived.
    pub fn settled(&self, request: u64) {
        if let Some(waiting) = self.waiting.lock().remove(&request) {
            let _ = waiting.send(());
        }
    }

    /// Asks the node holding `id`'s lease, if it is another node, to settle, and waits until it
    /// did — or until it cannot place calls any more: it no longer listens, or its lease lapsed
    /// or moved (a node stops claiming and placing before its lease can lapse). `poll` is how
    /// often the lease is looked at meanwhile.
    pub async fn settle(&self, id: CampaignId, poll: Duration) -> Result<(), StoreError> {
        let Some(owner) = self.leases.lease_holder(id).await? else {
            return Ok(());
        };
        if owner == self.node {
            return Ok(());
        }
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (answer, mut answered) = oneshot::channel();
        self.waiting.lock().insert(request, answer);
        let _forget = Forget(self, request);
        let note = Note::Settle {
            campaign: id,
            request,
            reply_to: self.node.clone(),
        };
        if self.send(&owner, &note).await? == 0 {
            return Ok(());
        }
        let give_up = Instant::now() + PATIENCE;
        loop {
            if tokio::time::timeout(poll, &mut answered).await.is_ok() {
                return Ok(());
            }
            if self.leases.lease_holder(id).await?.as_deref() != Some(owner.as_str()) {
                return Ok(());
            }
            if Instant::now() >= give_up {
                return Err(StoreError::Unavailable(
                    "the change is saved, but the node dispatching the campaign has not \
                     confirmed it yet"
                        .to_owned(),
                ));
            }
        }
    }

    /// Asks each of `nodes` (the other nodes alive) to settle `org`'s do-not-call screen, and
    /// waits until each did or no longer listens (the note is sent again at every `poll`; a
    /// process that stopped listening places no more calls).
    pub async fn settle_org(
        &self,
        org: &OrgId,
        nodes: &[String],
        poll: Duration,
    ) -> Result<(), StoreError> {
        let waits = nodes
            .iter()
            .filter(|node| **node != self.node)
            .map(|node| self.settle_org_on(org, node, poll));
        for result in futures_util::future::join_all(waits).await {
            result?;
        }
        Ok(())
    }

    async fn settle_org_on(
        &self,
        org: &OrgId,
        node: &str,
        poll: Duration,
    ) -> Result<(), StoreError> {
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (answer, mut answered) = oneshot::channel();
        self.waiting.lock().insert(request, answer);
        let _forget = Forget(self, request);
        let note = Note::SettleOrg {
            org: org.as_str().to_owned(),
            request,
            reply_to: self.node.clone(),
        };
        let give_up = Instant::now() + PATIENCE;
        loop {
            if self.send(node, &note).await? == 0 {
                return Ok(());
            }
            if tokio::time::timeout(poll, &mut answered).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= give_up {
                return Err(StoreError::Unavailable(
                    "the do-not-call entries are saved, but a node has not confirmed them yet"
                        .to_owned(),
                ));
            }
        }
    }

    /// Tells the node holding `id`'s lease, if it is another node, to look at it again.
    pub async fn wake(&self, id: CampaignId) -> Result<(), StoreError> {
        match self.leases.lease_holder(id).await? {
            Some(owner) if owner != self.node => {
                self.send(&owner, &Note::Wake { campaign: id }).await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Drops a request's waiting slot however `settle` ends.
struct Forget<'a>(&'a ControlBus, u64);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.0.waiting.lock().remove(&self.1);
    }
}
