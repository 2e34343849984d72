//! The campaign actor: owns one campaign's dispatch on this node.
//!
//! It claims due contacts from the store, hands them to dialers, records outcomes and keeps a
//! timer to the next due instant. Every step that claims or commands runs while the actor
//! handles nothing else, so when a pause is answered no claimed contact is still waiting to be
//! requested: it was placed, or released back to the queue.

use std::sync::Arc;

use actix::prelude::*;
use futures_util::future::join_all;

use super::{DialerPool, Directory};
use crate::clock::Clock;
use crate::dialer::{CallReport, DialError, OutcomeSink};
use crate::domain::{CampaignId, CampaignStatus, DialOutcome, OrgId, SchedulePatch};
use crate::store::{
    CallResult, Campaign, CampaignEdit, CampaignStore, ClaimBatch, Control, Fence, Outcome,
    StoreError,
};

/// Claims what is due now and places it; replies when every claimed call is placed or released.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Dispatch;

/// A dialer reported how a call ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CallFinished(pub CallReport);

/// An operator's command for this campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum CampaignOp {
    Schedule(SchedulePatch),
    Control(Control),
    Edit(CampaignEdit),
}

pub type OpResult = Result<Campaign, StoreError>;

/// Runs an operator's command between two dispatch steps.
#[derive(Debug, Message)]
#[rtype(result = "OpResult")]
pub struct RunOp {
    pub org: OrgId,
    pub op: CampaignOp,
}

/// What one dispatch step needs, apart from the actor.
struct Step {
    id: CampaignId,
    store: Arc<dyn CampaignStore>,
    dialers: Arc<DialerPool>,
    sink: OutcomeSink,
    now: chrono::DateTime<chrono::Utc>,
    limit: u32,
    fence: Option<Fence>,
    owner: String,
}

impl Step {
    /// Claims what is due and places it: every claimed call is requested from the provider,
    /// failed for good (rejected) or released back to the queue before this returns.
    async fn claim_and_place(self) -> Result<(Fence, ClaimBatch), StoreError> {
        let Self {
            id,
            store,
            dialers,
            sink,
            now,
            limit,
            fence,
            owner,
        } = self;
        // The first step takes the lease; a failed attempt is tried again on the next step.
        let fence = match fence {
            Some(fence) => fence,
            None => store.acquire_lease(id, &owner, LEASE_TTL).await?,
        };
        let batch = store.claim_due(id, fence, now, limit).await?;
        if batch.calls.is_empty() {
            return Ok((fence, batch));
        }
        let results = dialers.place_all(batch.calls.clone(), sink).await;
        let settle = batch.calls.iter().zip(results).map(|(call, result)| {
            let store = store.clone();
            let (contact, attempt) = (call.contact_id, call.attempt);
            async move {
                match result {
                    Ok(()) => Ok(()),
                    Err(DialError::Rejected(reason)) => {
                        tracing::info!(campaign = %id, %reason, "call rejected by the provider");
                        let failed = CallResult {
                            outcome: DialOutcome::Failed,
                            duration_secs: 0,
                        };
                        store
                            .record_outcome(id, contact, attempt, failed, now)
                            .await
                            .map(drop)
                    }
                    Err(DialError::Unavailable(reason)) => {
                        tracing::warn!(campaign = %id, %reason, "call not placed, released");
                        store.release_claim(id, contact, attempt).await
                    }
                }
            }
        });
        for result in join_all(settle).await {
            result?;
        }
        Ok((fence, batch))
    }
}

/// Whether a dispatch step may stop an actor that has nothing left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retire {
    WhenIdle,
    Never,
}

/// How long a lease lasts. The embedded store never expires one; the Redis store does, and
/// renewal comes with the cluster.
const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// How long to wait before trying again after the store failed. Real time, not the campaign
/// clock: it paces retries against an outage, not calls.
const STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// The dispatcher of one campaign.
#[derive(Debug)]
pub struct CampaignActor {
    id: CampaignId,
    store: Arc<dyn CampaignStore>,
    clock: Arc<dyn Clock>,
    dialers: Arc<DialerPool>,
    directory: Directory,
    claim_limit: u32,
    timer: Option<SpawnHandle>,
    sink: Option<OutcomeSink>,
    /// This actor's lease on the campaign; every claim carries it.
    fence: Option<Fence>,
    /// Outcomes that arrived since the last dispatch step, which records them first.
    outcomes: Vec<Outcome>,
    /// A `Dispatch` is queued behind the outcomes that arrived: one step serves them all.
    dispatch_queued: bool,
}

impl CampaignActor {
    pub fn new(id: CampaignId, directory: Directory) -> Self {
        Self {
            id,
            store: directory.store(),
            clock: directory.clock(),
            dialers: directory.dialers(),
            claim_limit: directory.claim_limit(),
            directory,
            timer: None,
            sink: None,
            fence: None,
            outcomes: Vec::new(),
            dispatch_queued: false,
        }
    }

    /// One dispatch step: record the outcomes that arrived, claim, place every claimed call,
    /// then re-arm the timer. With `Retire::WhenIdle` an actor with nothing left to do (no
    /// dispatching status, no call in flight) stops; the directory starts a new one when a
    /// command comes.
    fn dispatch(&mut self, retire: Retire) -> impl ActorFuture<Self, Output = ()> + use<> {
        self.dispatch_queued = false;
        let step = Step {
            id: self.id,
            store: self.store.clone(),
            dialers: self.dialers.clone(),
            sink: self
                .sink
                .clone()
                .expect("the sink is set when the actor starts"),
            now: self.clock.now(),
            limit: self.claim_limit,
            fence: self.fence,
            owner: self.directory.node_id().to_owned(),
        };
        let outcomes = std::mem::take(&mut self.outcomes);
        async move {
            // Outcomes first, in one store step: they free call slots for the claim. If the
            // store fails, they are kept for the next step (recording is idempotent per attempt).
            if !outcomes.is_empty() {
                match step
                    .store
                    .record_outcomes(step.id, &outcomes, step.now)
                    .await
                {
                    Ok(_) | Err(StoreError::NotFound) => {}
                    Err(error) => return (Err(error), outcomes),
                }
            }
            (step.claim_and_place().await, Vec::new())
        }
        .into_actor(self)
        .map(move |(result, unrecorded), actor, ctx| {
            actor.outcomes.splice(0..0, unrecorded);
            actor.after_dispatch(result, retire, ctx);
        })
    }

    fn after_dispatch(
        &mut self,
        result: Result<(Fence, ClaimBatch), StoreError>,
        retire: Retire,
        ctx: &mut Context<Self>,
    ) {
        match result {
            Ok((fence, batch)) => {
                self.fence = Some(fence);
                let idle = retire == Retire::WhenIdle
                    && batch.in_flight == 0
                    && !batch.status.is_dispatching()
                    && batch.status != CampaignStatus::Paused;
                if idle {
                    ctx.stop();
                } else {
                    self.arm(ctx, batch.wake_at);
                }
            }
            Err(StoreError::NotFound) => ctx.stop(),
            Err(StoreError::StaleLease) => {
                tracing::info!(campaign = %self.id, "lease taken over, dispatcher stops");
                ctx.stop();
            }
            Err(error) => {
                tracing::warn!(campaign = %self.id, %error, "dispatch step failed, retrying");
                if let Some(timer) = self.timer.take() {
                    ctx.cancel_future(timer);
                }
                self.timer = Some(ctx.run_later(STORE_RETRY, |actor, ctx| {
                    actor.timer = None;
                    let step = actor.dispatch(Retire::WhenIdle);
                    ctx.wait(step);
                }));
            }
        }
    }

    /// Sets the timer to `wake_at`, replacing the previous one.
    fn arm(&mut self, ctx: &mut Context<Self>, wake_at: Option<chrono::DateTime<chrono::Utc>>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        if let Some(wake_at) = wake_at {
            let sleep = self.clock.sleep_until(wake_at).into_actor(self);
            self.timer = Some(ctx.spawn(sleep.map(|(), actor, ctx| {
                actor.timer = None;
                let step = actor.dispatch(Retire::WhenIdle);
                ctx.wait(step);
            })));
        }
    }
}

impl Actor for CampaignActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let address = ctx.address();
        self.sink = Some(OutcomeSink::new(move |report| {
            address.do_send(CallFinished(report));
        }));
        // Never retire here: the message that made the directory start this actor is queued.
        let step = self.dispatch(Retire::Never);
        ctx.wait(step);
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        self.directory.forget(self.id, &ctx.address());
    }
}

impl Handler<Dispatch> for CampaignActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Dispatch, _ctx: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(Box::pin(self.dispatch(Retire::WhenIdle)))
    }
}

impl Handler<CallFinished> for CampaignActor {
    type Result = ();

    fn handle(&mut self, CallFinished(report): CallFinished, ctx: &mut Context<Self>) {
        self.outcomes.push(Outcome {
            contact: report.contact_id,
            attempt: report.attempt,
            result: report.result,
        });
        // One dispatch, queued behind the outcomes already waiting, records them all at once
        // and claims for the call slots they freed.
        if !self.dispatch_queued {
            self.dispatch_queued = true;
            ctx.address().do_send(Dispatch);
        }
    }
}

impl Handler<RunOp> for CampaignActor {
    type Result = AtomicResponse<Self, OpResult>;

    fn handle(&mut self, RunOp { org, op }: RunOp, _ctx: &mut Context<Self>) -> Self::Result {
        let (id, store, now) = (self.id, self.store.clone(), self.clock.now());
        let run = async move {
            match op {
                CampaignOp::Schedule(patch) => store.schedule_campaign(&org, id, patch, now).await,
                CampaignOp::Control(control) => store.control(&org, id, control, now).await,
                CampaignOp::Edit(edit) => store.edit_campaign(&org, id, edit, now).await,
            }
        };
        AtomicResponse::new(Box::pin(run.into_actor(self).then(|result, actor, _| {
            actor.dispatch(Retire::WhenIdle).map(move |(), _, _| result)
        })))
    }
}
