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

pub(super) struct Delivery {
    pub(super) webhooks: Arc<Webhooks>,
    pub(super) org: OrgId,
    pub(super) target: WebhookTarget,
    pub(super) settings: DeliverySettings,
    pub(super) clock: Arc<dyn Clock>,
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
                self.deliver(&client, &entry).await;
                // Acknowledged even if the store is briefly down: the entry is sent again then
                // (at least once), never dropped.
                while let Err(error) = self.webhooks.store.ack_outbox(&self.org, entry.seq).await {
                    tracing::warn!(org = %self.org, %error, "webhook not acknowledged yet");
                    tokio::time::sleep(self.settings.poll).await;
                }
            }
        }
    }

    /// Sends one entry until the receiver accepts it.
    async fn deliver(&self, client: &reqwest::Client, entry: &OutboxEntry) {
        let mut backoff = self.settings.backoff;
        loop {
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
                    return;
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
