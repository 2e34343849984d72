//! Outbound webhooks: events about campaigns and calls, sent to the organisation's URL.
//!
//! The campaign actor builds the events of each step and appends them to the organisation's
//! outbox in the store, in order, before its next step; a delivery task per organisation sends
//! them one at a time, signed, and acknowledges each once the receiver answered 2xx. Delivery is
//! at least once: a failed send is retried with an exponential backoff, and what is still in the
//! outbox when a node stops is sent by the next one.

mod delivery;
pub mod signature;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::{CampaignId, CampaignStatus, OrgId};
use crate::store::{CampaignStore, StoreError};

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

/// One event, as the receiver gets it: `{event, timestamp, data}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub data: Value,
}

impl Event {
    /// The exact bytes sent (and signed).
    pub fn encode(&self) -> Vec<u8> {
        let envelope = json!({
            "event": self.kind.as_str(),
            "timestamp": self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        });
        serde_json::to_vec(&envelope).expect("a JSON value serializes")
    }

    /// The campaign's status changed (and, when it is now `completed`, `batch.completed`).
    pub fn status_changed(
        campaign: CampaignId,
        from: CampaignStatus,
        to: CampaignStatus,
        at: DateTime<Utc>,
    ) -> Vec<Self> {
        let mut events = vec![Self {
            kind: EventKind::BatchStatusChanged,
            at,
            data: json!({
                "batch_id": campaign.to_string(),
                "previous_status": from.as_str(),
                "status": to.as_str(),
            }),
        }];
        if to == CampaignStatus::Completed {
            events.push(Self {
                kind: EventKind::BatchCompleted,
                at,
                data: json!({ "batch_id": campaign.to_string(), "status": to.as_str() }),
            });
        }
        events
    }
}

/// The organisations' webhook targets and their outboxes. Cheap to share.
#[derive(Debug)]
pub struct Webhooks {
    store: Arc<dyn CampaignStore>,
    targets: HashMap<OrgId, WebhookTarget>,
    /// Wakes the delivery tasks of this node when events were appended.
    appended: tokio::sync::Notify,
}

impl Webhooks {
    pub fn new(store: Arc<dyn CampaignStore>, targets: HashMap<OrgId, WebhookTarget>) -> Self {
        Self {
            store,
            targets,
            appended: tokio::sync::Notify::new(),
        }
    }

    /// Whether `org` receives webhooks (events of other organisations are not even built).
    pub fn enabled(&self, org: &OrgId) -> bool {
        self.targets.contains_key(org)
    }

    /// Appends events to the organisation's outbox, in order.
    pub async fn emit(&self, org: &OrgId, events: Vec<Event>) -> Result<(), StoreError> {
        if events.is_empty() || !self.enabled(org) {
            return Ok(());
        }
        let bodies = events.iter().map(Event::encode).collect();
        self.store.push_outbox(org, bodies).await?;
        self.appended.notify_waiters();
        Ok(())
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
