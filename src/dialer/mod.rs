//! Dialers place calls; they decide nothing about when. A [`Dialer`] returns once the provider
//! accepted a call and reports its outcome later through the [`OutcomeSink`] it was given.

mod carrier;
mod simulated;
mod webhook;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::join_all;

use crate::domain::{CampaignId, ContactId};
use crate::store::{CallResult, ClaimedCall};

pub use carrier::{Admission, CarrierGate};
pub use simulated::{OutcomeMix, SimulatedDialer};
pub use webhook::{ReportedOutcome, WebhookDialer, WebhookDialerSettings};

/// The outcome of one attempt, as a dialer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallReport {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub attempt: u32,
    pub result: CallResult,
}

/// The dispatcher's side of a placement: where the outcome of a call goes, and whether the call
/// may still be requested at all: its campaign's lease is still safe (a process stalled past its
/// lease must not send what it claimed before), and the callee's window has not closed (its
/// `not_after`). A dialer asks right before each request, retries included.
#[derive(Clone)]
pub struct OutcomeSink {
    deliver: Arc<dyn Fn(CallReport) + Send + Sync>,
    permit: Option<Arc<Permit>>,
}

/// Says why a call may not be requested now, if it may not.
type Permit = dyn Fn(&ClaimedCall) -> Result<(), &'static str> + Send + Sync;

impl OutcomeSink {
    pub fn new(deliver: impl Fn(CallReport) + Send + Sync + 'static) -> Self {
        Self {
            deliver: Arc::new(deliver),
            permit: None,
        }
    }

    /// Calls may be requested only while `permit` says so.
    pub fn with_permit(
        mut self,
        permit: impl Fn(&ClaimedCall) -> Result<(), &'static str> + Send + Sync + 'static,
    ) -> Self {
        self.permit = Some(Arc::new(permit));
        self
    }

    pub fn report(&self, report: CallReport) {
        (self.deliver)(report);
    }

    /// Whether `call` may be requested now; if not, the call goes back to its queue.
    pub fn may_place(&self, call: &ClaimedCall) -> Result<(), DialError> {
        match &self.permit {
            Some(permit) => permit(call).map_err(|why| DialError::Unavailable(why.to_owned())),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for OutcomeSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutcomeSink")
    }
}

/// Why a call was not placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// The provider refused this call for good: the attempt counts as `failed`.
    #[error("call rejected: {0}")]
    Rejected(String),
    /// The call was not requested at all (no dialer could take it): it goes back to the queue.
    #[error("dialer unavailable: {0}")]
    Unavailable(String),
}

/// Something that can place calls.
#[async_trait]
pub trait Dialer: Send + Sync + fmt::Debug + 'static {
    /// Places one attempt. `Ok` means the provider has it; the outcome goes to `sink`.
    async fn place(&self, call: ClaimedCall, sink: OutcomeSink) -> Result<(), DialError>;

    /// Readies the calls of one claim before any of them is placed, in one step: the webhook
    /// dialer indexes their call ids (a provider may report an outcome before it answers the
    /// dial). A call claimed ahead then leaves at its slot with no store step before it.
    async fn prepare_all(&self, calls: &[ClaimedCall]) -> Result<(), DialError> {
        let _ = calls;
        Ok(())
    }

    /// Places the calls of one claim at once, prepared (`prepare_all`); one result per call,
    /// in order.
    async fn place_all(
        &self,
        calls: Vec<ClaimedCall>,
        sink: OutcomeSink,
    ) -> Vec<Result<(), DialError>> {
        join_all(calls.into_iter().map(|call| self.place(call, sink.clone()))).await
    }

    /// Asks the provider again about calls placed under an earlier lease (maybe by a node that
    /// died), under their own idempotency keys: the provider places nothing new and answers the
    /// first request's result, whose outcome, once known, goes to `sink`. A dialer that cannot
    /// ask leaves them to the provider's events, or to their deadline (the default).
    async fn reconcile_all(&self, calls: Vec<ClaimedCall>, sink: OutcomeSink) {
        let _ = (calls, sink);
    }
}
