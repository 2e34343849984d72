//! The campaign actor: owns one campaign's dispatch on this node.
//!
//! It claims due contacts from the store, hands them to dialers, records outcomes and keeps a
//! timer to the next due instant. Every step that claims or commands runs while the actor
//! handles nothing else, so when a pause is answered no claimed contact is still waiting to be
//! requested: it was placed, or released back to the queue.

use std::sync::Arc;

use actix::prelude::*;

use super::services::NodeServices;
use super::step::{Meters, Reserved, STORE_RETRY, Step, StepReport, Stepped, release_calls};
use crate::dialer::{CallReport, OutcomeSink};
use crate::domain::{CampaignId, CampaignStatus, DialOutcome, OrgId, SchedulePatch};
use crate::faults::{self, FaultPoint};
use crate::store::{Campaign, CampaignEdit, ClaimedCall, Control, Outcome, QueueDepth, StoreError};
use crate::telemetry::{CALLS_FINISHED, CAMPAIGNS, STORE_ERRORS, STORE_LATENCY};

/// Claims what is due now and places it; replies when every claimed call is placed or released.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Dispatch;

/// A command committed through another node: the calls reserved ahead go back to the queue,
/// then a dispatch step runs on the store's new state. Replies when it is over.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Settle;

/// A dialer reported how a call ended. A report the actor never handles (it stopped first, and
/// its mailbox went with it) goes again to the campaign's next actor as it is dropped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CallFinished {
    /// `None` once handled.
    report: Option<CallReport>,
    /// Where an unhandled report goes again, and how many times it was sent.
    routes: Arc<dyn Routes>,
    n_sent: u32,
}

impl CallFinished {
    pub(super) fn new(report: CallReport, routes: Arc<dyn Routes>, n_sent: u32) -> Self {
        Self {
            report: Some(report),
            routes,
            n_sent,
        }
    }
}

impl Drop for CallFinished {
    fn drop(&mut self) {
        if let Some(report) = self.report.take() {
            self.routes.resend(report, self.n_sent);
        }
    }
}

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

/// What only the node's directory can act on, as a campaign actor tells it: the directory
/// implements it, so that the actor knows nothing of how the node routes.
pub(super) trait Routes: std::fmt::Debug + Send + Sync + 'static {
    /// Routes a call's outcome to the actor of its campaign now (a call may outlive the actor
    /// that placed it: a handover, a retired actor).
    fn report(&self, report: CallReport);
    /// Routes again a report that reached an actor which stopped before handling it (sent
    /// `n_sent` times so far).
    fn resend(&self, report: CallReport, n_sent: u32);
    /// Tells the node dispatching `id`, if it is another one, that outcomes were recorded here.
    fn wake_owner(&self, id: CampaignId);
    /// The actor of `id` is about to stop with nothing in hand until `wake_at` (or until a
    /// command, when `None`): the node keeps the lease and starts a new actor then.
    fn park(
        &self,
        id: CampaignId,
        actor: &Addr<CampaignActor>,
        wake_at: Option<chrono::DateTime<chrono::Utc>>,
    );
    /// The actor of `id` stopped (after a panic of one of its steps, when `panicked`).
    fn stopped(&self, id: CampaignId, actor: &Addr<CampaignActor>, panicked: bool);
}

/// Whether a dispatch step may stop an actor that has nothing left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retire {
    WhenIdle,
    Never,
}

/// How soon a step that left webhook events to relay tries again.
const RELAY_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// How soon a step that met a lease near its end tries again.
const LEASE_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// The dispatcher of one campaign.
#[derive(Debug)]
pub struct CampaignActor {
    id: CampaignId,
    services: Arc<NodeServices>,
    routes: Arc<dyn Routes>,
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
    /// Its share of the node's queue gauges.
    queued: QueueDepth,
    meters: Arc<Meters>,
    /// Calls claimed ahead of their slots, by slot: each is placed when its slot comes.
    reserved: Vec<Reserved>,
    /// When the next claim is wanted (a lead before the first slot left).
    claim_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Reserved calls to put back to the queue that the store did not take yet.
    unreleased: Vec<ClaimedCall>,
    /// How much earlier than its lead a claim runs when the last one found nothing (drawn once
    /// per actor, within the horizon): campaigns that start together then claim at spread-out
    /// instants, each every horizon, rather than all at once.
    spread: chrono::Duration,
}

impl CampaignActor {
    pub(super) fn new(
        id: CampaignId,
        services: Arc<NodeServices>,
        routes: Arc<dyn Routes>,
    ) -> Self {
        let room = (services.claim_ahead - services.claim_lead).num_milliseconds();
        let spread = chrono::Duration::milliseconds(rand::random_range(0..=room.max(0)));
        Self {
            id,
            services,
            routes,
            timer: None,
            woke_for: None,
            sink: None,
            outcomes: Vec::new(),
            dispatch_queued: false,
            status: None,
            in_flight: 0,
            queued: QueueDepth::default(),
            meters: Arc::new(Meters::new()),
            reserved: Vec::new(),
            claim_at: None,
            unreleased: Vec::new(),
            spread,
        }
    }

    /// Every reserved call, and those whose release failed: none of them is to be placed.
    fn take_reservations(&mut self) -> Vec<ClaimedCall> {
        let mut calls: Vec<ClaimedCall> = self.reserved.drain(..).map(|r| r.call).collect();
        calls.append(&mut self.unreleased);
        calls
    }

    /// One dispatch step: record the outcomes that arrived, claim, place every claimed call,
    /// relay the events its store steps wrote to the organisation's outbox, then re-arm the
    /// timer. With `Retire::WhenIdle` an actor with nothing left to do (no dispatching status,
    /// no call in flight, no event to relay) stops; the directory starts a new one when a
    /// command comes.
    fn dispatch(&mut self, retire: Retire) -> impl ActorFuture<Self, Output = ()> + use<> {
        self.step(retire, Reservations::Keep, true)
    }

    /// A dispatch step that places the reserved calls whose slot came, releases the others when
    /// `reservations` says so (and always while the node drains), and claims when `claim`.
    fn step(
        &mut self,
        retire: Retire,
        reservations: Reservations,
        claim: bool,
    ) -> impl ActorFuture<Self, Output = ()> + use<> {
        faults::hit(FaultPoint::ActorStep, Some(self.id));
        self.dispatch_queued = false;
        let now = self.services.clock.now();
        let draining = self.services.is_draining();
        let (release, ready) = if draining || reservations == Reservations::Release {
            (self.take_reservations(), Vec::new())
        } else {
            let n_ready = self.reserved.partition_point(|r| r.call.at <= now);
            let ready: Vec<Reserved> = self.reserved.drain(..n_ready).collect();
            (std::mem::take(&mut self.unreleased), ready)
        };
        let step = Step {
            id: self.id,
            services: self.services.clone(),
            sink: self
                .sink
                .clone()
                .expect("the sink is set when the actor starts"),
            now,
            due: self.woke_for.take(),
            draining,
            meters: self.meters.clone(),
            ready,
            release,
            claim,
        };
        // A step that only places leaves the outcomes for the next claim (recorded together).
        let outcomes = if claim {
            std::mem::take(&mut self.outcomes)
        } else {
            Vec::new()
        };
        step.run(outcomes)
            .into_actor(self)
            .map(move |mut report, actor, ctx| {
                actor
                    .outcomes
                    .splice(0..0, std::mem::take(&mut report.unrecorded));
                actor.unreleased.append(&mut report.unreleased);
                actor.reserved.append(&mut report.reserved);
                actor.reserved.sort_by_key(|reserved| reserved.call.at);
                actor.observe(&report);
                let asked = retire == Retire::WhenIdle || !report.recorded.is_empty();
                if matches!(report.result, Ok(Stepped::NotOwner)) && asked {
                    // Something happened here to a campaign another node dispatches (outcomes
                    // recorded, contacts added): that node looks at it now, not at its next timer.
                    actor.routes.wake_owner(actor.id);
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
            self.track_queue(batch.queued);
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

    /// Moves the node's queue gauges by the change of this campaign's queue.
    fn track_queue(&mut self, queued: QueueDepth) {
        let before = std::mem::replace(&mut self.queued, queued);
        let delta = |now: u64, then: u64| now as f64 - then as f64;
        self.meters
            .queue_waiting
            .increment(delta(queued.waiting, before.waiting));
        self.meters
            .queue_due
            .increment(delta(queued.due, before.due));
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
                    && self.reserved.is_empty()
                    && !batch.status.is_dispatching()
                    && batch.status != CampaignStatus::Paused;
                if idle {
                    if batch.status.is_terminal() {
                        // Finished: no node needs to look at it again (its claim could not drop
                        // it while events waited to be relayed).
                        let (store, id) = (self.services.store.clone(), self.id);
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
                } else if let Some(wake_at) = self.parks(retire, &batch) {
                    // Nothing to do for a while: the actor's memory goes, the lease stays.
                    self.routes.park(self.id, &ctx.address(), wake_at);
                    ctx.stop();
                } else {
                    self.claim_at = self.claim_time(batch.wake_at, !batch.calls.is_empty());
                    self.arm(ctx);
                }
            }
            Ok(Stepped::Placed) => self.arm(ctx),
            // Another node dispatches it; a starting actor first serves its message. What this
            // actor reserved is that node's to settle (it asks the provider again, or releases).
            Ok(Stepped::NotOwner) => {
                self.reserved.clear();
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
                self.services.leases.forget(self.id);
                ctx.stop();
            }
            Err(error) => {
                metrics::counter!(STORE_ERRORS, "from" => "dispatch").increment(1);
                tracing::warn!(campaign = %self.id, %error, "dispatch step failed, retrying");
                self.retry_after(ctx, STORE_RETRY);
            }
        }
    }

    /// Whether the actor, after a step that left `batch`, has nothing in hand and nothing to do
    /// before a far instant (a start tomorrow, a window that opens in hours), or only a command
    /// can move it (paused): then it parks, and wakes at the instant returned (`None`: on a
    /// command, a note or an outcome).
    fn parks(
        &self,
        retire: Retire,
        batch: &crate::store::ClaimBatch,
    ) -> Option<Option<chrono::DateTime<chrono::Utc>>> {
        let empty_handed = retire == Retire::WhenIdle
            && batch.in_flight == 0
            && batch.events == 0
            && self.reserved.is_empty()
            && self.outcomes.is_empty()
            && self.unreleased.is_empty();
        if !empty_handed {
            return None;
        }
        let far = self.services.clock.now() + self.services.park_after();
        match (batch.status, batch.wake_at) {
            (CampaignStatus::Paused, _) => Some(batch.wake_at),
            (status, Some(wake_at)) if status.is_dispatching() && wake_at >= far => {
                Some(Some(wake_at))
            }
            _ => None,
        }
    }

    /// When to claim next, for a claim that could next succeed at `wake_at`: a lead before it,
    /// so that its calls are reserved by their slots (and the actor's spread more when this claim
    /// found nothing: the claim that starts a run of claims sets their phase); but at `wake_at`
    /// itself when this claim found nothing and the lead would put the next one in the past (a
    /// retry not yet due, a deadline: a claim ahead of those finds nothing either).
    fn claim_time(
        &self,
        wake_at: Option<chrono::DateTime<chrono::Utc>>,
        claimed: bool,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let wake_at = wake_at?;
        let now = self.services.clock.now();
        let lead = self.services.claim_lead;
        if claimed {
            return Some(wake_at - lead);
        }
        let early = wake_at - lead - self.spread;
        Some(if early > now {
            early
        } else if wake_at - lead > now {
            wake_at - lead
        } else {
            wake_at
        })
    }

    /// Stops once `calls` (reserved, never requested) are back in the queue; the outcomes that
    /// waited for a claim are recorded as it stops.
    fn leave(&mut self, calls: Vec<ClaimedCall>, ctx: &mut Context<Self>) {
        let (store, id) = (self.services.store.clone(), self.id);
        let leave = async move {
            release_calls(&*store, id, calls).await;
        };
        ctx.wait(leave.into_actor(self).map(|(), _, ctx| ctx.stop()));
    }

    /// Records, without the lease, the outcomes still in hand as the actor stops (its lease was
    /// taken over, a step panicked, an outcome came as it stopped): an outcome needs no lease,
    /// and a second report of an attempt is a no-op. Those the store refuses, the next owner
    /// learns from the provider, or at their deadline.
    fn record_outcomes_left(&mut self) {
        let outcomes = std::mem::take(&mut self.outcomes);
        if outcomes.is_empty() {
            return;
        }
        let (store, id, now) = (
            self.services.store.clone(),
            self.id,
            self.services.clock.now(),
        );
        actix_rt::spawn(async move {
            if let Err(error) = store.record_outcomes(id, &outcomes, now).await {
                tracing::warn!(campaign = %id, %error, "outcomes not recorded as the actor left");
            }
        });
    }

    /// Runs the next step after `pause` of real time (a store outage, the carrier limit).
    fn retry_after(&mut self, ctx: &mut Context<Self>, pause: std::time::Duration) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        // (Reserved calls due meanwhile go with that step: at most `pause` late.)
        self.claim_at = None;
        self.timer = Some(ctx.run_later(pause, |actor, ctx| {
            actor.timer = None;
            let step = actor.step(Retire::WhenIdle, Reservations::Keep, true);
            ctx.wait(step);
        }));
    }

    /// Sets the timer to the first reserved slot or the next claim, whichever comes first,
    /// replacing the previous one.
    fn arm(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let first_slot = self.reserved.first().map(|reserved| reserved.call.at);
        let Some(wake_at) = first_slot.into_iter().chain(self.claim_at).min() else {
            return;
        };
        let sleep = self.services.clock.sleep_until(wake_at).into_actor(self);
        self.timer = Some(ctx.spawn(sleep.map(move |(), actor, ctx| {
            actor.timer = None;
            let now = actor.services.clock.now();
            let claim = actor.claim_at.is_some_and(|at| at <= now);
            if claim {
                actor.claim_at = None;
                let lateness = (now - wake_at).to_std().unwrap_or_default();
                actor.meters.dispatch_lateness.record(lateness);
                actor.woke_for = Some(wake_at);
            }
            // The step that places the last reserved call records the outcomes that waited
            // for it (and claims what is due then, as any recording step).
            let last =
                !actor.outcomes.is_empty() && actor.reserved.iter().all(|r| r.call.at <= now);
            let step = actor.step(Retire::WhenIdle, Reservations::Keep, claim || last);
            ctx.wait(step);
        })));
    }
}

/// Whether a step keeps the calls reserved ahead (placing those whose slot came) or releases
/// them all before anything else (a command, a settle, a handover).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reservations {
    Keep,
    Release,
}

impl Actor for CampaignActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Outcomes go through the directory, not to this actor's address: a call may outlive
        // its actor (a handover, a retired actor), and its outcome must still be recorded.
        let routes = self.routes.clone();
        let leases = self.services.leases.clone();
        let clock = self.services.clock.clone();
        self.sink = Some(
            OutcomeSink::new(move |report| routes.report(report)).with_permit(move |call| {
                if !leases.safe(call.campaign_id) {
                    Err("the campaign's lease lapsed")
                } else if call
                    .not_after
                    .is_some_and(|not_after| clock.now() >= not_after)
                {
                    Err("the callee's window closed")
                } else {
                    Ok(())
                }
            }),
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
        self.track_queue(QueueDepth::default());
        self.record_outcomes_left();
        let panicked = crate::telemetry::take_panicked();
        self.routes.stopped(self.id, &ctx.address(), panicked);
    }
}

impl Handler<Dispatch> for CampaignActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Dispatch, _ctx: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(Box::pin(self.dispatch(Retire::WhenIdle)))
    }
}

impl Handler<Settle> for CampaignActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Settle, _ctx: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(Box::pin(self.step(
            Retire::WhenIdle,
            Reservations::Release,
            true,
        )))
    }
}

impl Handler<CallFinished> for CampaignActor {
    type Result = ();

    fn handle(&mut self, mut message: CallFinished, ctx: &mut Context<Self>) {
        let Some(report) = message.report.take() else {
            return;
        };
        self.outcomes.push(Outcome {
            contact: report.contact_id,
            attempt: report.attempt,
            result: report.result,
        });
        // Contacts that waited only for a line are due from the moment one frees: the next
        // claim's lateness counts from here (for campaigns without a daily cap, whose claims
        // follow outcomes rather than timers). Between two slots of a cap none is due.
        if self.woke_for.is_none() && self.queued.due > 0 {
            self.woke_for = Some(self.services.clock.now());
        }
        // A paced campaign whose next claim comes within the claim horizon records the outcome
        // with that claim (outcomes in batches): no contact waits for the line it frees. So
        // does one with calls still reserved (all within the horizon): the step that places the
        // last of them records (`arm`).
        let ahead = self.services.claim_ahead;
        let claim_soon = self
            .claim_at
            .is_some_and(|at| at <= self.services.clock.now() + ahead);
        let waits = self.timer.is_some() && (claim_soon || !self.reserved.is_empty());
        if ahead > chrono::Duration::zero() && self.queued.due == 0 && waits {
            return;
        }
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
        // What it reserved is the new owner's to settle; the outcomes that waited for a claim
        // are recorded (no lease needed).
        self.reserved.clear();
        self.leave(Vec::new(), ctx);
    }
}

impl Handler<HandOver> for CampaignActor {
    type Result = ();

    fn handle(&mut self, _: HandOver, ctx: &mut Context<Self>) {
        tracing::info!(campaign = %self.id, "handing the campaign over to another node");
        // What it reserved goes back to the queue first, for the next owner to claim (one it
        // could not put back, that owner asks the provider about).
        let calls = self.take_reservations();
        self.leave(calls, ctx);
    }
}

impl Handler<RunOp> for CampaignActor {
    type Result = AtomicResponse<Self, OpResult>;

    fn handle(&mut self, RunOp { org, op }: RunOp, _ctx: &mut Context<Self>) -> Self::Result {
        let (id, store, now) = (
            self.id,
            self.services.store.clone(),
            self.services.clock.now(),
        );
        // The calls reserved ahead go back to the queue before the command commits: a pause or
        // a cancel places none of them after its answer, and an edit's rules govern them.
        let reserved = self.take_reservations();
        let run = async move {
            let unreleased = release_calls(&*store, id, reserved).await;
            let started = std::time::Instant::now();
            let result = match op {
                CampaignOp::Schedule(patch) => store.schedule_campaign(&org, id, patch, now).await,
                CampaignOp::Control(control) => store.control(&org, id, control, now).await,
                CampaignOp::Edit(edit) => store.edit_campaign(&org, id, edit, now).await,
            };
            metrics::histogram!(STORE_LATENCY, "op" => "command").record(started.elapsed());
            (result, unreleased)
        };
        AtomicResponse::new(Box::pin(run.into_actor(self).then(
            |(result, unreleased), actor, _| {
                actor.unreleased.extend(unreleased);
                if let Ok(campaign) = &result {
                    actor.set_status(campaign.status);
                }
                // The step after the command relays the events it wrote, and claims what it allows.
                actor.dispatch(Retire::WhenIdle).map(move |(), _, _| result)
            },
        )))
    }
}
