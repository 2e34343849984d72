//! Outbound webhooks: events about campaigns and calls, sent to the organisation's URL.
//!
//! The store step that makes something happen writes its event, in the same atomic step, into
//! the campaign's outbox (so a crash keeps both or neither). The campaign's actor relays them
//! after the step, rendered (JSON with an id), to the organisation's outbox (a repeat after a
//! crash halfway moves nothing twice); a delivery task per organisation sends that outbox in
//! order, one at a time, signed, and acknowledges each once the receiver answered 2xx. Delivery
//! is at least once: a failed send is retried with an exponential backoff, and what is still in
//! the outbox when a node stops is sent by the next one. An event still refused after the
//! operator's limits (attempts, age) moves to the organisation's dead letters, so one poisoned
//! event never blocks the ones after it.

mod delivery;
pub mod signature;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{CampaignId, DialOutcome, OrgId};
use crate::store::{
    CampaignEvent, Locks, OutboxLimits, Outboxes, Relayed, RelayedEvent, StoreError, StoredEvent,
};

pub use delivery::DeliverySettings;

/// Where one organisation's webhooks go.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: String,
    /// Signs every webhook; never logged.
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The kinds of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    BatchStatusChanged,
    BatchCompleted,
    CallStarted,
    CallEnded,
    CallFailed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BatchStatusChanged => "batch.status.changed",
            Self::BatchCompleted => "batch.completed",
            Self::CallStarted => "call.started",
            Self::CallEnded => "call.ended",
            Self::CallFailed => "call.failed",
        }
    }
}

/// The id of event `seq` of a campaign: unique, and the same on every delivery of the event,
/// so that a receiver recognises a repeat.
pub fn event_id(campaign: CampaignId, seq: u64) -> String {
    format!("evt_{}_{seq}", campaign.as_uuid().simple())
}

/// An event as the receiver gets it: `{id, event, timestamp, data}`, the exact bytes sent (and
/// signed).
pub fn render(campaign: CampaignId, stored: &StoredEvent) -> RelayedEvent {
    let batch_id = campaign.to_string();
    let (kind, data) = match &stored.event {
        CampaignEvent::StatusChanged { from, to } => (
            EventKind::BatchStatusChanged,
            json!({ "batch_id": batch_id, "previous_status": from.as_str(), "status": to.as_str() }),
        ),
        CampaignEvent::Completed => (
            EventKind::BatchCompleted,
            json!({ "batch_id": batch_id, "status": "completed" }),
        ),
        CampaignEvent::CallStarted {
            contact,
            attempt,
            call_id,
            phone,
        } => (
            EventKind::CallStarted,
            json!({
                "batch_id": batch_id,
                "call_id": call_id.to_string(),
                "contact_id": contact.to_string(),
                "attempt": attempt,
                "to": phone.as_str(),
            }),
        ),
        CampaignEvent::CallEnded {
            contact,
            attempt,
            call_id,
            result,
        } => {
            let kind = if result.outcome == DialOutcome::Failed {
                EventKind::CallFailed
            } else {
                EventKind::CallEnded
            };
            (
                kind,
                json!({
                    "batch_id": batch_id,
                    "call_id": call_id.map(|id| id.to_string()),
                    "contact_id": contact.to_string(),
                    "attempt": attempt,
                    "outcome": result.outcome.as_str(),
                    "duration_seconds": result.duration_secs,
                }),
            )
        }
    };
    let id = event_id(campaign, stored.seq);
    let envelope = json!({
        "id": id,
        "event": kind.as_str(),
        "timestamp": stored.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    RelayedEvent {
        seq: stored.seq,
        id,
        at: stored.at,
        body: serde_json::to_vec(&envelope).expect("a JSON value serializes"),
    }
}

/// Events relayed from a campaign's outbox per store step: a hundred, ten times at most per
/// call of [`Webhooks::relay`] (the rest at the next one).
const RELAY_BATCH: u32 = 100;
const RELAY_ROUNDS: usize = 10;

/// The organisations' webhook targets and their outboxes. Cheap to share.
#[derive(Debug)]
pub struct Webhooks {
    outboxes: Arc<dyn Outboxes>,
    /// Each organisation's outbox lock: one node delivers it at a time.
    locks: Arc<dyn Locks>,
    targets: HashMap<OrgId, WebhookTarget>,
    limits: OutboxLimits,
    /// Wakes the delivery tasks of this node when events were relayed or replayed.
    appended: tokio::sync::Notify,
}

impl Webhooks {
    /// The webhooks of `targets`: the store's steps write events for those organisations only.
    pub fn new(
        outboxes: Arc<dyn Outboxes>,
        locks: Arc<dyn Locks>,
        targets: HashMap<OrgId, WebhookTarget>,
        limits: OutboxLimits,
    ) -> Self {
        outboxes.record_events_for(targets.keys().cloned().collect());
        Self {
            outboxes,
            locks,
            targets,
            limits,
            appended: tokio::sync::Notify::new(),
        }
    }

    /// Whether `org` receives webhooks.
    pub fn enabled(&self, org: &OrgId) -> bool {
        self.targets.contains_key(org)
    }

    /// Moves campaign `id`'s events to its organisation's outbox, rendered: a thousand at most
    /// per call. Returns how many are left in the campaign's outbox.
    pub async fn relay(
        &self,
        org: &OrgId,
        id: CampaignId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut left = 0;
        for _ in 0..RELAY_ROUNDS {
            let events = self.outboxes.campaign_events(id, RELAY_BATCH).await?;
            if events.is_empty() {
                return Ok(0);
            }
            let rendered = events.iter().map(|event| render(id, event)).collect();
            let Relayed {
                left: remaining,
                overflowed,
            } = self
                .outboxes
                .relay_events(org, id, rendered, self.limits, now)
                .await?;
            if overflowed > 0 {
                tracing::warn!(%org, overflowed, "webhook outbox full: oldest events dead-lettered");
            }
            self.appended.notify_waiters();
            left = remaining;
            if left == 0 {
                break;
            }
        }
        Ok(left)
    }

    /// Sends an organisation's dead letters (`ids`, or all) again, after everything waiting.
    pub async fn replay(&self, org: &OrgId, ids: Option<Vec<String>>) -> Result<u64, StoreError> {
        let replayed = self.outboxes.replay_dead_letters(org, ids).await?;
        self.appended.notify_waiters();
        Ok(replayed)
    }

    /// Starts one delivery task per organisation with a target, on the current runtime; they
    /// stop when `stop` turns true (what they did not send stays in the outbox).
    pub fn start_delivery(
        self: &Arc<Self>,
        settings: DeliverySettings,
        clock: Arc<dyn crate::clock::Clock>,
        owner: &str,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) {
        for (org, target) in &self.targets {
            let task = delivery::Delivery {
                webhooks: self.clone(),
                org: org.clone(),
                target: target.clone(),
                settings,
                clock: clock.clone(),
                owner: owner.to_owned(),
            };
            let mut stop = stop.clone();
            actix_rt::spawn(async move {
                tokio::select! {
                    () = task.run() => {}
                    _ = stop.wait_for(|stopped| *stopped) => {}
                }
            });
        }
    }
}
