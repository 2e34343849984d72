//! The delivery task of one organisation: sends its outbox in order, one webhook at a time,
//! retrying each with an exponential backoff until the receiver answers 2xx, or until the
//! operator's limits (attempts, age) give it up to the dead letters.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;

use super::signature::{
    SIGNATURE_HEADER, STANDARD_ID, STANDARD_SIGNATURE, STANDARD_TIMESTAMP, TIMESTAMP_HEADER, sign,
    sign_standard,
};
use super::{WebhookTarget, Webhooks};
use crate::clock::Clock;
use crate::domain::OrgId;
use crate::store::OutboxEntry;
use crate::telemetry::{WEBHOOK_DELIVERIES, WEBHOOK_OUTBOX_DEPTH};

/// How deliveries are paced, and when one is given up.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// The first wait after a failed send; it doubles up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How long one send may take.
    pub timeout: Duration,
    /// How often the outbox is read when nothing woke the task (events appended by other nodes).
    pub poll: Duration,
    /// Sends of one event before it is given up to the dead letters.
    pub max_attempts: u32,
    /// How old an event may grow (from when it happened) before it is given up.
    pub max_age: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            max_attempts: 25,
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// What became of one event.
enum Sent {
    Delivered,
    /// Given up after the operator's limits: why.
    GivenUp(String),
    /// Another node delivers the outbox now.
    NotOurs,
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
            let (entries, depth) = match self.webhooks.outboxes.outbox(&self.org, BATCH).await {
                Ok(read) => read,
                Err(error) => {
                    tracing::warn!(org = %self.org, %error, "webhook outbox unreadable");
                    tokio::time::sleep(self.settings.poll).await;
                    continue;
                }
            };
            metrics::gauge!(WEBHOOK_OUTBOX_DEPTH, "org" => self.org.to_string()).set(depth as f64);
            if entries.is_empty() {
                let _ = tokio::time::timeout(self.settings.poll, appended).await;
                continue;
            }
            for entry in entries {
                match self.deliver(&client, &entry).await {
                    Sent::NotOurs => break,
                    Sent::Delivered => {
                        // Acknowledged even if the store is briefly down: the entry is sent
                        // again then (at least once), never dropped.
                        while let Err(error) = self
                            .webhooks
                            .outboxes
                            .ack_outbox(&self.org, entry.seq)
                            .await
                        {
                            tracing::warn!(org = %self.org, %error, "webhook not acknowledged yet");
                            tokio::time::sleep(self.settings.poll).await;
                        }
                    }
                    Sent::GivenUp(reason) => {
                        tracing::warn!(org = %self.org, id = %entry.id, %reason, "webhook given up: dead letter");
                        let limits = self.webhooks.limits;
                        let now = self.clock.now();
                        while let Err(error) = self
                            .webhooks
                            .outboxes
                            .dead_letter(&self.org, entry.seq, &reason, now, limits)
                            .await
                        {
                            tracing::warn!(org = %self.org, %error, "webhook not moved to the dead letters yet");
                            tokio::time::sleep(self.settings.poll).await;
                        }
                    }
                }
            }
        }
    }

    /// Holds (or renews) this node's lock on the outbox; a store error counts as not held.
    async fn hold(&self) -> bool {
        let lock = format!("outbox:{}", self.org);
        match self
            .webhooks
            .locks
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

    /// Sends one entry until the receiver accepts it, another node takes the outbox over, or
    /// the operator's limits give it up. Each send carries the event's id and two signatures:
    /// Pacer's (`X-Pacer-Timestamp`, `X-Pacer-Signature` over `"{timestamp}.{body}"`) and the
    /// Standard Webhooks one (`webhook-id`, `webhook-timestamp`, `webhook-signature`), which
    /// receivers can check with a stock library.
    async fn deliver(&self, client: &reqwest::Client, entry: &OutboxEntry) -> Sent {
        let mut backoff = self.settings.backoff;
        let mut attempts = 0;
        loop {
            if !self.hold().await {
                return Sent::NotOurs;
            }
            let now = self.clock.now();
            let age = (now - entry.at).to_std().unwrap_or_default();
            if age > self.settings.max_age {
                return Sent::GivenUp(format!(
                    "older than {} s, last tried {attempts} times",
                    self.settings.max_age.as_secs()
                ));
            }
            let timestamp = now.timestamp();
            attempts += 1;
            let sent = client
                .post(&self.target.url)
                .header(CONTENT_TYPE, "application/json")
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    SIGNATURE_HEADER,
                    sign(&self.target.secret, timestamp, &entry.body),
                )
                .header(STANDARD_ID, &entry.id)
                .header(STANDARD_TIMESTAMP, timestamp.to_string())
                .header(
                    STANDARD_SIGNATURE,
                    sign_standard(&self.target.secret, &entry.id, timestamp, &entry.body),
                )
                .body(entry.body.clone())
                .send()
                .await;
            let last = match sent {
                Ok(response) if response.status().is_success() => {
                    metrics::counter!(WEBHOOK_DELIVERIES, "result" => "delivered").increment(1);
                    return Sent::Delivered;
                }
                Ok(response) => {
                    tracing::info!(org = %self.org, status = %response.status(), "webhook refused, retrying");
                    format!("the receiver answered {}", response.status())
                }
                Err(error) => {
                    tracing::info!(org = %self.org, %error, "webhook not delivered, retrying");
                    "the receiver could not be reached".to_owned()
                }
            };
            metrics::counter!(WEBHOOK_DELIVERIES, "result" => "failed").increment(1);
            if attempts >= self.settings.max_attempts {
                return Sent::GivenUp(format!("{last}, {attempts} times"));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.settings.max_backoff);
        }
    }
}
