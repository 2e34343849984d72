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
use crate::cluster::LeaseBook;
use crate::dialer::{CallReport, CarrierGate, DialError, OutcomeSink};
use crate::domain::{CampaignId, CampaignStatus, DialOutcome, OrgId, SchedulePatch};
use crate::faults::{self, FaultPoint};
use crate::store::{
    CallResult, Campaign, CampaignEdit, CampaignStore, ClaimBatch, ClaimedCall, Control, Outcome,
    Recorded, StoreError,
};
use crate::telemetry::{
    CALLS_FINISHED, CALLS_IN_FLIGHT, CALLS_PLACED, CALLS_RECONCILED, CAMPAIGNS, CLAIM_BATCH,
    CLAIM_LATENESS, DISPATCH_LATENESS, STORE_LATENCY,
};
use crate::webhooks::Webhooks;

/// Claims what is due now and places it; replies when every claimed call is placed or released.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Dispatch;

/// A dialer reported how a call ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CallFinished(pub CallReport);

/// The node's keeper could not renew this campaign's lease: another node dispatches it now.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct LeaseLost;

/// This node has more than its share: stop after the current step and give the lease up (the
/// calls in flight still report, through the directory).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct HandOver;

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
    gate: Arc<CarrierGate>,
    webhooks: Arc<Webhooks>,
    sink: OutcomeSink,
    clock: Arc<dyn Clock>,
    now: chrono::DateTime<chrono::Utc>,
    /// The instant the timer that started this step was set for: what it claims was due then.
    due: Option<chrono::DateTime<chrono::Utc>>,
    limit: u32,
    leases: Arc<LeaseBook>,
    /// Turns at the store work, shared by the node's steps.
    turns: Arc<tokio::sync::Semaphore>,
    /// The node is shutting down: record outcomes, claim nothing.
    draining: bool,
    meters: Arc<Meters>,
}

/// The dispatch path's metrics, registered once an actor: a metric named in a macro is looked
/// up in the recorder's registry at every use (≈ 4 % of the node's CPU at 10 000 calls/s).
struct Meters {
    claim_latency: metrics::Histogram,
    record_latency: metrics::Histogram,
    claim_lateness: metrics::Histogram,
    claim_batch: metrics::Histogram,
    dispatch_lateness: metrics::Histogram,
    calls_placed: metrics::Counter,
    in_flight: metrics::Gauge,
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meters").finish_non_exhaustive()
    }
}

impl Meters {
    fn new() -> Self {
        Self {
            claim_latency: metrics::histogram!(STORE_LATENCY, "op" => "claim"),
            record_latency: metrics::histogram!(STORE_LATENCY, "op" => "record"),
            claim_lateness: metrics::histogram!(CLAIM_LATENESS),
            claim_batch: metrics::histogram!(CLAIM_BATCH),
            dispatch_lateness: metrics::histogram!(DISPATCH_LATENESS),
            calls_placed: metrics::counter!(CALLS_PLACED),
            in_flight: metrics::gauge!(CALLS_IN_FLIGHT),
        }
    }
}

/// What a claim step came to.
enum Stepped {
    Claimed(ClaimBatch),
    /// Nothing claimed: the node is draining.
    Draining,
    /// Nothing claimed: another node holds the campaign's lease.
    NotOwner,
    /// What was claimed went back to the queue: the lease neared its end during the claim. The
    /// next step renews it, or finds another node holding it.
    LeaseUnsure,
    /// The carrier limit let nothing through; ask again after this long.
    Throttled(std::time::Duration),
}

/// What a dispatch step reports to its actor.
struct StepReport {
    result: Result<Stepped, StoreError>,
    /// Outcomes the store did not take (it failed): recorded at the next step.
    unrecorded: Vec<Outcome>,
    /// Outcomes applied, with the campaign's status and calls in flight after each.
    recorded: Vec<(Outcome, CampaignStatus, u32)>,
    /// Calls requested from the provider in this step, and those it rejected.
    placed: Vec<ClaimedCall>,
    rejected: Vec<(ClaimedCall, String)>,
}

impl Step {
    /// Claims what is due and places it: every claimed call is requested from the provider,
    /// failed for good (rejected) or released back to the queue before this returns. The step's
    /// `turn` at the store is given back once the claim is made.
    async fn claim_and_place(
        &self,
        turn: Option<tokio::sync::SemaphorePermit<'_>>,
        placed: &mut Vec<ClaimedCall>,
        rejected: &mut Vec<(ClaimedCall, String)>,
    ) -> Result<Stepped, StoreError> {
        let Self { id, store, now, .. } = self;
        let (id, now) = (*id, *now);
        if self.draining {
            return Ok(Stepped::Draining);
        }
        // The lease this node holds on the campaign, or a new one if it is free.
        let Some(fence) = self.leases.fence(id).await? else {
            return Ok(Stepped::NotOwner);
        };
        if self.leases.take_newly_taken(id)
            && let Err(error) = self.reconcile().await
        {
            self.leases.mark_newly_taken(id);
            return Err(error);
        }
        let admission = self.gate.admit(id, self.limit).await;
        if admission.granted == 0 {
            let retry_in = admission.retry_in.unwrap_or(STORE_RETRY);
            return Ok(Stepped::Throttled(retry_in));
        }
        let started = std::time::Instant::now();
        let batch = store.claim_due(id, fence, now, admission.granted).await?;
        if !batch.calls.is_empty() {
            faults::hit(FaultPoint::AfterClaim, Some(id));
        }
        // Placing calls is the dialers' work: another step may go to the store meanwhile.
        drop(turn);
        self.meters.claim_latency.record(started.elapsed());
        if let Some(due) = self.due.filter(|_| !batch.calls.is_empty()) {
            let late = (self.clock.now() - due).to_std().unwrap_or_default();
            self.meters
                .claim_lateness
                .record_many(late, batch.calls.len());
        }
        self.gate
            .refund(admission.granted - batch.calls.len() as u32);
        if batch.calls.is_empty() {
            return Ok(Stepped::Claimed(batch));
        }
        self.meters.claim_batch.record(batch.calls.len() as f64);
        if !self.leases.safe(id) {
            // The lease neared its end while the claim ran (a stalled process, a slow store):
            // another node may own the campaign now, so nothing claimed here is placed.
            tracing::warn!(campaign = %id, "lease near its end, claimed calls released");
            let releases = batch
                .calls
                .iter()
                .map(|call| store.release_claim(id, call.contact_id, call.attempt));
            for result in join_all(releases).await {
                result?;
            }
            return Ok(Stepped::LeaseUnsure);
        }
        let results = self
            .dialers
            .place_all(batch.calls.clone(), self.sink.clone())
            .await;
        let mut settle = Vec::new();
        for (call, result) in batch.calls.iter().zip(results) {
            match result {
                Ok(()) => placed.push(call.clone()),
                Err(DialError::Rejected(reason)) => {
                    tracing::info!(campaign = %id, %reason, "call rejected by the provider");
                    let failed = CallResult {
                        outcome: DialOutcome::Failed,
                        duration_secs: 0,
                    };
                    let record =
                        store.record_outcome(id, call.contact_id, call.attempt, failed, now);
                    settle.push(Box::pin(async move { record.await.map(drop) })
                        as futures_util::future::BoxFuture<'_, _>);
                    rejected.push((call.clone(), reason));
                }
                Err(DialError::Unavailable(reason)) => {
                    tracing::warn!(campaign = %id, %reason, "call not placed, released");
                    settle.push(Box::pin(store.release_claim(
                        id,
                        call.contact_id,
                        call.attempt,
                    )));
                }
            }
        }
        for result in join_all(settle).await {
            result?;
        }
        Ok(Stepped::Claimed(batch))
    }

    /// Asks the provider again about the calls in flight placed under an earlier lease (by a
    /// node that died, or an actor that panicked), before their deadline: each is re-sent under
    /// its own idempotency key, the provider places nothing new and answers with the outcome
    /// once the call has ended. So a takeover does not wait an hour of deadline for them.
    async fn reconcile(&self) -> Result<(), StoreError> {
        let calls = self.store.calls_in_flight(self.id, self.now).await?;
        if calls.is_empty() {
            return Ok(());
        }
        tracing::info!(campaign = %self.id, n_calls = calls.len(), "reconciling calls in flight");
        metrics::counter!(CALLS_RECONCILED).increment(calls.len() as u64);
        self.dialers.reconcile_all(calls, self.sink.clone()).await;
        Ok(())
    }

    /// Records the outcomes that arrived, then claims and places.
    async fn run(self, outcomes: Vec<Outcome>) -> StepReport {
        let mut report = StepReport {
            result: Err(StoreError::NotFound),
            unrecorded: Vec::new(),
            recorded: Vec::new(),
            placed: Vec::new(),
            rejected: Vec::new(),
        };
        // (Never closed: a step goes on without a turn rather than not at all.)
        let turn = self.turns.acquire().await.ok();
        // Outcomes first, in one store step: they free call slots for the claim. If the
        // store fails, they are kept for the next step (recording is idempotent per attempt).
        if !outcomes.is_empty() {
            let started = std::time::Instant::now();
            match self
                .store
                .record_outcomes(self.id, &outcomes, self.now)
                .await
            {
                Ok(recorded) => {
                    faults::hit(FaultPoint::AfterRecord, Some(self.id));
                    self.meters.record_latency.record(started.elapsed());
                    report.recorded = outcomes
                        .iter()
                        .zip(recorded)
                        .filter_map(|(outcome, recorded)| match recorded {
                            Recorded::Applied { status, in_flight } => {
                                Some((*outcome, status, in_flight))
                            }
                            Recorded::Duplicate => None,
                        })
                        .collect();
                }
                Err(StoreError::NotFound) => {}
                Err(error) => {
                    report.result = Err(error);
                    report.unrecorded = outcomes;
                    return report;
                }
            }
        }
        let (mut placed, mut rejected) = (Vec::new(), Vec::new());
        // Boxed: a step waiting for its turn, or for its record, holds its claim's future
        // (most of a step's size) only once it gets there.
        report.result = Box::pin(self.claim_and_place(turn, &mut placed, &mut rejected)).await;
        // The events the step's store steps wrote (a rejected call's among them) go on to the
        // organisation's outbox now; what the store does not take waits for the next step.
        if let Ok(Stepped::Claimed(batch)) = &mut report.result
            && (batch.events > 0 || !rejected.is_empty())
        {
            match self.webhooks.relay(&batch.org, self.id, self.now).await {
                Ok(left) => batch.events = left,
                Err(error) => {
                    tracing::warn!(campaign = %self.id, %error, "webhook events not relayed yet");
                    batch.events = batch.events.max(1);
                }
            }
        }
        report.placed = placed;
        report.rejected = rejected;
        report
    }
}

/// Whether a dispatch step may stop an actor that has nothing left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retire {
    WhenIdle,
    Never,
}

/// How long to wait before trying again after the store failed. Real time, not the campaign
/// clock: it paces retries against an outage, not calls.
const STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// How soon a step that left webhook events to relay tries again.
const RELAY_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// How soon a step that met a lease near its end tries again.
const LEASE_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// The dispatcher of one campaign.
#[derive(Debug)]
pub struct CampaignActor {
    id: CampaignId,
    store: Arc<dyn CampaignStore>,
    clock: Arc<dyn Clock>,
    dialers: Arc<DialerPool>,
    gate: Arc<CarrierGate>,
    webhooks: Arc<Webhooks>,
    directory: Directory,
    claim_limit: u32,
    timer: Option<SpawnHandle>,
    /// The instant the timer that fired was set for, until the step it started takes it.
    woke_for: Option<chrono::DateTime<chrono::Utc>>,
    sink: Option<OutcomeSink>,
    /// Outcomes that arrived since the last dispatch step, which records them first.
    outcomes: Vec<Outcome>,
    /// A `Dispatch` is queued behind the outcomes that arrived: one step serves them all.
    dispatch_queued: bool,
    /// The campaign's status as last seen (for the gauges).
    status: Option<CampaignStatus>,
    in_flight: u32,
    meters: Arc<Meters>,
}

impl CampaignActor {
    pub fn new(id: CampaignId, directory: Directory) -> Self {
        Self {
            id,
            store: directory.store(),
            clock: directory.clock(),
            dialers: directory.dialers(),
            gate: directory.gate(),
            webhooks: directory.webhooks(),
            claim_limit: directory.claim_limit(),
            directory,
            timer: None,
            woke_for: None,
            sink: None,
            outcomes: Vec::new(),
            dispatch_queued: false,
            status: None,
            in_flight: 0,
            meters: Arc::new(Meters::new()),
        }
    }

    /// One dispatch step: record the outcomes that arrived, claim, place every claimed call,
    /// relay the events its store steps wrote to the organisation's outbox, then re-arm the
    /// timer. With `Retire::WhenIdle` an actor with nothing left to do (no dispatching status,
    /// no call in flight, no event to relay) stops; the directory starts a new one when a
    /// command comes.
    fn dispatch(&mut self, retire: Retire) -> impl ActorFuture<Self, Output = ()> + use<> {
        faults::hit(FaultPoint::ActorStep, Some(self.id));
        self.dispatch_queued = false;
        let step = Step {
            id: self.id,
            store: self.store.clone(),
            dialers: self.dialers.clone(),
            gate: self.gate.clone(),
            webhooks: self.webhooks.clone(),
            sink: self
                .sink
                .clone()
                .expect("the sink is set when the actor starts"),
            clock: self.clock.clone(),
            now: self.clock.now(),
            due: self.woke_for.take(),
            limit: self.claim_limit,
            leases: self.directory.leases(),
            turns: self.directory.turns(),
            draining: self.directory.is_draining(),
            meters: self.meters.clone(),
        };
        let outcomes = std::mem::take(&mut self.outcomes);
        step.run(outcomes)
            .into_actor(self)
            .map(move |mut report, actor, ctx| {
                actor
                    .outcomes
                    .splice(0..0, std::mem::take(&mut report.unrecorded));
                actor.observe(&report);
                let asked = retire == Retire::WhenIdle || !report.recorded.is_empty();
                if matches!(report.result, Ok(Stepped::NotOwner)) && asked {
                    // Something happened here to a campaign another node dispatches (outcomes
                    // recorded, contacts added): that node looks at it now, not at its next timer.
                    actor.directory.wake_owner(actor.id);
                }
                actor.after_dispatch(report.result, retire, ctx);
            })
    }

    /// Updates metrics, the status seen and the in-flight count from a step.
    fn observe(&mut self, report: &StepReport) {
        for (outcome, _, _) in &report.recorded {
            let name = outcome.result.outcome.as_str();
            metrics::counter!(CALLS_FINISHED, "outcome" => name).increment(1);
        }
        // The status after the whole batch of outcomes.
        if let Some(&(_, status, in_flight)) = report.recorded.last() {
            self.track_in_flight(in_flight);
            self.set_status(status);
        }
        if let Ok(Stepped::Claimed(batch)) = &report.result {
            self.set_status(batch.status);
            self.track_in_flight(batch.in_flight.saturating_sub(report.rejected.len() as u32));
        }
        self.meters
            .calls_placed
            .increment(report.placed.len() as u64);
        for _ in &report.rejected {
            metrics::counter!(CALLS_FINISHED, "outcome" => DialOutcome::Failed.as_str())
                .increment(1);
        }
    }

    fn track_in_flight(&mut self, in_flight: u32) {
        self.meters
            .in_flight
            .increment(f64::from(in_flight) - f64::from(self.in_flight));
        self.in_flight = in_flight;
    }

    /// Notes the campaign's status; a change moves the status gauge.
    fn set_status(&mut self, status: CampaignStatus) {
        match self.status {
            Some(previous) if previous == status => return,
            Some(previous) => {
                metrics::gauge!(CAMPAIGNS, "status" => previous.as_str()).decrement(1.0);
            }
            None => {}
        }
        metrics::gauge!(CAMPAIGNS, "status" => status.as_str()).increment(1.0);
        self.status = Some(status);
    }

    fn after_dispatch(
        &mut self,
        result: Result<Stepped, StoreError>,
        retire: Retire,
        ctx: &mut Context<Self>,
    ) {
        match result {
            Ok(Stepped::Claimed(batch)) => {
                let idle = retire == Retire::WhenIdle
                    && batch.in_flight == 0
                    && batch.events == 0
                    && !batch.status.is_dispatching()
                    && batch.status != CampaignStatus::Paused;
                if idle {
                    if batch.status.is_terminal() {
                        // Finished: no node needs to look at it again (its claim could not drop
                        // it while events waited to be relayed).
                        let (store, id) = (self.store.clone(), self.id);
                        actix_rt::spawn(async move {
                            if let Err(error) = store.unlist(id).await {
                                tracing::warn!(campaign = %id, %error, "finished campaign not unlisted");
                            }
                        });
                    }
                    ctx.stop();
                } else if batch.events > 0 {
                    // Events are left to relay (the store failed, or there were many).
                    self.retry_after(ctx, RELAY_RETRY);
                } else {
                    self.arm(ctx, batch.wake_at);
                }
            }
            // Another node dispatches it; a starting actor first serves its message.
            Ok(Stepped::NotOwner) => {
                if retire == Retire::WhenIdle {
                    ctx.stop();
                }
            }
            Ok(Stepped::Draining) => {
                // Wait for the outcomes of the calls in flight (each queues a step), then stop;
                // a starting actor first serves the message it was started for.
                if let Some(timer) = self.timer.take() {
                    ctx.cancel_future(timer);
                }
                if self.in_flight == 0 && retire == Retire::WhenIdle {
                    ctx.stop();
                }
            }
            Ok(Stepped::Throttled(retry_in)) => self.retry_after(ctx, retry_in),
            Ok(Stepped::LeaseUnsure) => self.retry_after(ctx, LEASE_RETRY),
            Err(StoreError::NotFound) => ctx.stop(),
            Err(StoreError::StaleLease) => {
                tracing::info!(campaign = %self.id, "lease taken over, dispatcher stops");
                self.directory.leases().forget(self.id);
                ctx.stop();
            }
            Err(error) => {
                tracing::warn!(campaign = %self.id, %error, "dispatch step failed, retrying");
                self.retry_after(ctx, STORE_RETRY);
            }
        }
    }

    /// Runs the next step after `pause` of real time (a store outage, the carrier limit).
    fn retry_after(&mut self, ctx: &mut Context<Self>, pause: std::time::Duration) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.timer = Some(ctx.run_later(pause, |actor, ctx| {
            actor.timer = None;
            let step = actor.dispatch(Retire::WhenIdle);
            ctx.wait(step);
        }));
    }

    /// Sets the timer to `wake_at`, replacing the previous one.
    fn arm(&mut self, ctx: &mut Context<Self>, wake_at: Option<chrono::DateTime<chrono::Utc>>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        if let Some(wake_at) = wake_at {
            let sleep = self.clock.sleep_until(wake_at).into_actor(self);
            self.timer = Some(ctx.spawn(sleep.map(move |(), actor, ctx| {
                actor.timer = None;
                let lateness = (actor.clock.now() - wake_at).to_std().unwrap_or_default();
                actor.meters.dispatch_lateness.record(lateness);
                actor.woke_for = Some(wake_at);
                let step = actor.dispatch(Retire::WhenIdle);
                ctx.wait(step);
            })));
        }
    }
}

impl Actor for CampaignActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Outcomes go through the directory, not to this actor's address: a call may outlive
        // its actor (a handover, a retired actor), and its outcome must still be recorded.
        let directory = self.directory.clone();
        let leases = self.directory.leases();
        self.sink = Some(
            OutcomeSink::new(move |report| directory.report(report))
                .with_permit(move |id| leases.safe(id)),
        );
        // Never retire here: the message that made the directory start this actor is queued.
        let step = self.dispatch(Retire::Never);
        ctx.wait(step);
    }

    /// Also reached after a panic in one of the actor's steps: its arbiter caught the panic,
    /// and dropping the actor's context stops it. Its lease goes either way; after a panic the
    /// directory starts another actor, or gives the campaign up for a while.
    fn stopped(&mut self, ctx: &mut Context<Self>) {
        if let Some(status) = self.status {
            metrics::gauge!(CAMPAIGNS, "status" => status.as_str()).decrement(1.0);
        }
        self.meters.in_flight.decrement(f64::from(self.in_flight));
        self.directory.forget(self.id, &ctx.address());
        if crate::telemetry::take_panicked() {
            self.directory.recover(self.id);
        }
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

impl Handler<LeaseLost> for CampaignActor {
    type Result = ();

    fn handle(&mut self, _: LeaseLost, ctx: &mut Context<Self>) {
        tracing::info!(campaign = %self.id, "lease lost, dispatcher stops");
        ctx.stop();
    }
}

impl Handler<HandOver> for CampaignActor {
    type Result = ();

    fn handle(&mut self, _: HandOver, ctx: &mut Context<Self>) {
        tracing::info!(campaign = %self.id, "handing the campaign over to another node");
        ctx.stop();
    }
}

impl Handler<RunOp> for CampaignActor {
    type Result = AtomicResponse<Self, OpResult>;

    fn handle(&mut self, RunOp { org, op }: RunOp, _ctx: &mut Context<Self>) -> Self::Result {
        let (id, store, now) = (self.id, self.store.clone(), self.clock.now());
        let run = async move {
            let started = std::time::Instant::now();
            let result = match op {
                CampaignOp::Schedule(patch) => store.schedule_campaign(&org, id, patch, now).await,
                CampaignOp::Control(control) => store.control(&org, id, control, now).await,
                CampaignOp::Edit(edit) => store.edit_campaign(&org, id, edit, now).await,
            };
            metrics::histogram!(STORE_LATENCY, "op" => "command").record(started.elapsed());
            result
        };
        AtomicResponse::new(Box::pin(run.into_actor(self).then(|result, actor, _| {
            if let Ok(campaign) = &result {
                actor.set_status(campaign.status);
            }
            // The step after the command relays the events it wrote, and claims what it allows.
            actor.dispatch(Retire::WhenIdle).map(move |(), _, _| result)
        })))
    }
}
