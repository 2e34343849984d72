//! The webhook dialer: places each call by an HTTP POST to the provider, with the idempotency
//! key `<campaign>:<contact>:<attempt>` so that a retried request never places an attempt twice.
//!
//! A 2xx places the call (its body may already carry the outcome); a 429 or 503 slows every
//! placement of this node down and is retried; other 5xx, timeouts and connection errors are
//! retried with the same key and an exponential backoff; any other answer fails the attempt.
//! When the tries run out the call is released to the queue: its next claim has the same
//! attempt number, hence the same key, so a provider that did place it will not place it again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use super::{CallReport, CarrierGate, DialError, Dialer, OutcomeSink};
use crate::clock::Clock;
use crate::domain::{CallId, CampaignId, ContactId, DialOutcome};
use crate::store::{CallIndex, CallRef, CallResult, ClaimedCall};
use crate::webhooks::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// How the provider is reached.
#[derive(Clone)]
pub struct WebhookDialerSettings {
    pub url: String,
    /// Signs dial requests, and verifies the call events the provider sends back.
    pub secret: String,
    /// How long one request may take.
    pub timeout: Duration,
    /// Requests per call before it is released to the queue.
    pub tries: u32,
    /// The first wait between tries; it doubles after each.
    pub backoff: Duration,
}

impl std::fmt::Debug for WebhookDialerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDialerSettings")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("tries", &self.tries)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// The longest `Retry-After` honoured: a provider cannot hold placements for longer.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct WebhookDialer {
    meters: Meters,
    client: reqwest::Client,
    /// `settings.url`, parsed once (a request built from text parses it again).
    url: reqwest::Url,
    settings: WebhookDialerSettings,
    store: Arc<dyn CallIndex>,
    gate: Arc<CarrierGate>,
    clock: Arc<dyn Clock>,
}

/// A dial request's body (the OpenAPI document's `DialRequest` webhook), serialized from the
/// claimed call's fields as they are.
#[derive(Serialize)]
struct DialRequest<'a> {
    call_id: CallId,
    idempotency_key: &'a str,
    campaign_id: CampaignId,
    contact_id: ContactId,
    attempt: u32,
    agent_id: &'a str,
    phone_number_id: Option<&'a str>,
    to: &'a str,
    variables: &'a std::collections::BTreeMap<String, String>,
    not_after: Option<String>,
}

/// The outcome a provider may put in its answer, or send later as a call event.
#[derive(Debug, Deserialize)]
pub struct ReportedOutcome {
    pub outcome: String,
    #[serde(default)]
    pub duration_seconds: Option<u32>,
}

impl ReportedOutcome {
    pub fn result(&self) -> Option<CallResult> {
        Some(CallResult {
            outcome: DialOutcome::parse(&self.outcome)?,
            duration_secs: self.duration_seconds.unwrap_or(0),
        })
    }
}

impl WebhookDialer {
    pub fn new(
        settings: WebhookDialerSettings,
        store: Arc<dyn CallIndex>,
        gate: Arc<CarrierGate>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|error| format!("dialer_url: cannot build an HTTP client: {error}"))?;
        let url = reqwest::Url::parse(&settings.url)
            .map_err(|error| format!("dialer_url: `{}` is not a URL: {error}", settings.url))?;
        Ok(Self {
            meters: Meters::new(),
            client,
            url,
            settings,
            store,
            gate,
            clock,
        })
    }

    fn request_body(call: &ClaimedCall, key: &str) -> bytes::Bytes {
        let body = DialRequest {
            call_id: call.call_id,
            idempotency_key: key,
            campaign_id: call.campaign_id,
            contact_id: call.contact_id,
            attempt: call.attempt,
            agent_id: &call.agent_id,
            phone_number_id: call.caller_id.as_deref(),
            to: call.phone.as_str(),
            variables: &call.variables,
            not_after: call
                .not_after
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        };
        serde_json::to_vec(&body)
            .expect("a dial request serializes")
            .into()
    }
}

/// The dial requests' metrics, registered once (a macro looks a metric up at every use).
#[derive(Debug)]
struct Meters {
    latency: metrics::Histogram,
    placed: metrics::Counter,
    slowed: metrics::Counter,
    retried: metrics::Counter,
    refused: metrics::Counter,
}

impl Meters {
    fn new() -> Self {
        use crate::telemetry::{DIALER_LATENCY, DIALER_REQUESTS};
        Self {
            latency: metrics::histogram!(DIALER_LATENCY),
            placed: metrics::counter!(DIALER_REQUESTS, "result" => "placed"),
            slowed: metrics::counter!(DIALER_REQUESTS, "result" => "slowed"),
            retried: metrics::counter!(DIALER_REQUESTS, "result" => "retried"),
            refused: metrics::counter!(DIALER_REQUESTS, "result" => "refused"),
        }
    }
}

/// What one request to the provider came to.
enum Answer {
    Placed(Option<CallResult>),
    SlowDown(Option<Duration>),
    TryAgain(String),
    Refused(StatusCode),
}

impl WebhookDialer {
    /// Sends one dial request, counting its result and timing the provider's answer.
    async fn request(&self, key: &str, body: &bytes::Bytes) -> Answer {
        let started = std::time::Instant::now();
        let answer = self.send(key, body).await;
        let meters = &self.meters;
        meters.latency.record(started.elapsed());
        match answer {
            Answer::Placed(_) => &meters.placed,
            Answer::SlowDown(_) => &meters.slowed,
            Answer::TryAgain(_) => &meters.retried,
            Answer::Refused(_) => &meters.refused,
        }
        .increment(1);
        answer
    }

    async fn send(&self, key: &str, body: &bytes::Bytes) -> Answer {
        let timestamp = self.clock.now().timestamp();
        let sent = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", key)
            .header(CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(&self.settings.secret, timestamp, body),
            )
            .body(body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Answer::TryAgain(error.to_string()),
        };
        let status = response.status();
        if status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            let reported = serde_json::from_slice::<ReportedOutcome>(&body).ok();
            return Answer::Placed(reported.and_then(|reported| reported.result()));
        }
        match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                Answer::SlowDown(retry_after(response.headers()))
            }
            status if status.is_server_error() => Answer::TryAgain(status.to_string()),
            status => Answer::Refused(status),
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

#[async_trait]
impl Dialer for WebhookDialer {
    async fn place(&self, call: ClaimedCall, sink: OutcomeSink) -> Result<(), DialError> {
        self.place_all(vec![call], sink)
            .await
            .pop()
            .unwrap_or_else(|| Err(DialError::Unavailable("no result".to_owned())))
    }

    /// The same request again, under the same key: a provider answers the first request's
    /// result (and an outcome when the call has ended), placing nothing new. A provider that
    /// refuses or does not answer leaves the call to its events, or to its deadline.
    async fn reconcile_all(&self, calls: Vec<ClaimedCall>, sink: OutcomeSink) {
        let asked = calls.into_iter().map(|call| {
            let sink = sink.clone();
            async move {
                let (campaign, contact) = (call.campaign_id, call.contact_id);
                if let Err(error) = self.dial(call, sink).await {
                    tracing::info!(
                        %campaign, %contact, %error,
                        "a call in flight could not be reconciled; it waits for its events"
                    );
                }
            }
        });
        join_all(asked).await;
    }

    /// Indexed first, in one store step: the provider may report an outcome before it answers
    /// the dial.
    async fn prepare_all(&self, calls: &[ClaimedCall]) -> Result<(), DialError> {
        let index: Vec<_> = calls
            .iter()
            .map(|call| {
                let call_ref = CallRef {
                    campaign_id: call.campaign_id,
                    contact_id: call.contact_id,
                    attempt: call.attempt,
                };
                (call.call_id, call_ref)
            })
            .collect();
        (self.store.index_calls(&index).await)
            .map_err(|error| DialError::Unavailable(error.to_string()))
    }

    async fn place_all(
        &self,
        calls: Vec<ClaimedCall>,
        sink: OutcomeSink,
    ) -> Vec<Result<(), DialError>> {
        join_all(calls.into_iter().map(|call| self.dial(call, sink.clone()))).await
    }
}

impl WebhookDialer {
    /// Requests one call from the provider, retrying with the same key.
    async fn dial(&self, call: ClaimedCall, sink: OutcomeSink) -> Result<(), DialError> {
        let key = format!("{}:{}:{}", call.campaign_id, call.contact_id, call.attempt);
        let body = Self::request_body(&call, &key);
        let mut backoff = self.settings.backoff;
        let mut last_error = String::new();
        for _ in 0..self.settings.tries.max(1) {
            // Refused: the call goes back to its queue (the node that owns the campaign now
            // places it under the same key, or the next claim holds it for the callee's window).
            sink.may_place(&call)?;
            match self.request(&key, &body).await {
                Answer::Placed(outcome) => {
                    if let Some(result) = outcome {
                        sink.report(CallReport {
                            campaign_id: call.campaign_id,
                            contact_id: call.contact_id,
                            attempt: call.attempt,
                            result,
                        });
                    }
                    return Ok(());
                }
                Answer::Refused(status) => {
                    return Err(DialError::Rejected(format!(
                        "the provider answered {status}"
                    )));
                }
                Answer::SlowDown(asked) => {
                    let pause = asked.unwrap_or(backoff);
                    self.gate.back_off(pause);
                    last_error = "the provider asked to slow down".to_owned();
                    tokio::time::sleep(pause).await;
                }
                Answer::TryAgain(error) => {
                    last_error = error;
                    tokio::time::sleep(backoff).await;
                }
            }
            backoff = backoff.saturating_mul(2);
        }
        metrics::counter!(crate::telemetry::DIALER_GIVE_UPS).increment(1);
        Err(DialError::Unavailable(format!(
            "the provider did not take the call after {} tries: {last_error}",
            self.settings.tries
        )))
    }
}
