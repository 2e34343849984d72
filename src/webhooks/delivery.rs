//! The delivery task of one organisation: sends its outbox in order, one webhook at a time,
//! retrying each with an exponential backoff until the receiver answers 2xx.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;

use super::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use super::{WebhookTarget, Webhooks};
use crate::clock::Clock;
use crate::domain::OrgId;
use crate::store::OutboxEntry;
use crate::telemetry::WEBHOOK_DELIVERIES;

/// How deliveries are paced.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// The first wait after a failed send; it doubles up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How long one send may take.
    pub timeout: Duration,
    /// How often the outbox is read when nothing woke the task (events appended by other nodes).
    pub poll: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
        }
    }
}

/// Entries read from the outbox at once.
const BATCH: u32 = 100;
/// One node delivers an organisation's outbox at a time (so webhooks stay in order); it holds
/// this lock, renewed before every send, and another node takes over once it lapses.
const LOCK_TTL: Duration = Duration::from_secs(10);

pub(super) struct Delivery {
    pub(super) webhooks: Arc<Webhooks>,
    pub(super) org: OrgId,
    pub(super) target: WebhookTarget,
    pub(super) settings: DeliverySettings,
    pub(super) clock: Arc<dyn Clock>,
    /// This node's name, as the owner of the delivery lock.
    pub(super) owner: String,
}

impl Delivery {
    pub(super) async fn run(self) {
        let client = match reqwest::Client::builder()
            .timeout(self.settings.timeout)
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(org = %self.org, %error, "webhook delivery cannot start");
                return;
            }
        };
        loop {
            // Registered before the read, so an append made meanwhile is not missed.
            let appended = self.webhooks.appended.notified();
            if !self.hold().await {
                tokio::time::sleep(self.settings.poll).await;
                continue;
            }
            let entries = match self.webhooks.store.outbox(&self.org, BATCH).await {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::warn!(org = %self.org, %error, "webhook outbox unreadable");
                    tokio::time::sleep(self.settings.poll).await;
                    continue;
                }
            };
            if entries.is_empty() {
                let _ = tokio::time::timeout(self.settings.poll, appended).await;
                continue;
            }
            for entry in entries {
                if !self.deliver(&client, &entry).await {
                    break;
                }
                // Acknowledged even if the store is briefly down: the entry is sent again then
                // (at least once), never dropped.
                while let Err(error) = self.webhooks.store.ack_outbox(&self.org, entry.seq).await {
                    tracing::warn!(org = %self.org, %error, "webhook not acknowledged yet");
                    tokio::time::sleep(self.settings.poll).await;
                }
            }
        }
    }

    /// Holds (or renews) this node's lock on the outbox; a store error counts as not held.
    async fn hold(&self) -> bool {
        let lock = format!("outbox:{}", self.org);
        match self
            .webhooks
            .store
            .hold_lock(&lock, &self.owner, LOCK_TTL)
            .await
        {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(org = %self.org, %error, "webhook outbox lock unavailable");
                false
            }
        }
    }

    /// Sends one entry until the receiver accepts it (true), or until another node took the
    /// outbox over (false).
    async fn deliver(&self, client: &reqwest::Client, entry: &OutboxEntry) -> bool {
        let mut backoff = self.settings.backoff;
        loop {
            if !self.hold().await {
                return false;
            }
            let timestamp = self.clock.now().timestamp();
            let sent = client
                .post(&self.target.url)
                .header(CONTENT_TYPE, "application/json")
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    SIGNATURE_HEADER,
                    sign(&self.target.secret, timestamp, &entry.body),
                )
                .body(entry.body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    metrics::counter!(WEBHOOK_DELIVERIES, "result" => "delivered").increment(1);
                    return true;
                }
                Ok(response) => {
                    tracing::info!(org = %self.org, status = %response.status(), "webhook refused, retrying");
                }
                Err(error) => {
                    tracing::info!(org = %self.org, %error, "webhook not delivered, retrying");
                }
            }
            metrics::counter!(WEBHOOK_DELIVERIES, "result" => "failed").increment(1);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.settings.max_backoff);
        }
    }
}
