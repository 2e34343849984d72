//! One dispatch step of a campaign: record the outcomes that arrived, claim what is due, place
//! every claimed call (or release it), and relay the events the store steps wrote. The actor
//! runs one at a time and keeps what it reports.

use std::sync::Arc;

use futures_util::future::join_all;

use super::services::NodeServices;
use crate::dialer::{DialError, OutcomeSink};
use crate::domain::{
    CampaignId, CampaignStatus, DialOutcome, FrequencyCap, HeldReason, OrgId, PhoneNumber,
    SkipReason,
};
use crate::faults::{self, FaultPoint};
use crate::store::{
    CallResult, CampaignStore, ClaimBatch, ClaimedCall, Fence, Outcome, Recorded, Screened,
    StoreError,
};
use crate::telemetry::{
    CALLS_IN_FLIGHT, CALLS_PLACED, CALLS_RECONCILED, CLAIM_BATCH, CLAIM_LATENESS, CONTACTS_HELD,
    CONTACTS_SKIPPED, DISPATCH_LATENESS, QUEUE_CONTACTS, STORE_LATENCY,
};

/// How long to wait before trying again after the store failed. Real time, not the campaign
/// clock: it paces retries against an outage, not calls.
pub(super) const STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What one dispatch step needs, apart from the actor.
pub(super) struct Step {
    pub(super) id: CampaignId,
    pub(super) services: Arc<NodeServices>,
    pub(super) sink: OutcomeSink,
    pub(super) now: chrono::DateTime<chrono::Utc>,
    /// The instant the timer that started this step was set for: what it claims was due then.
    pub(super) due: Option<chrono::DateTime<chrono::Utc>>,
    /// The node is shutting down: record outcomes, claim nothing.
    pub(super) draining: bool,
    pub(super) meters: Arc<Meters>,
    /// Calls reserved ahead whose slot has come: placed first.
    pub(super) ready: Vec<Reserved>,
    /// Calls reserved ahead that are not to be placed (a command, a settle, a handover, the
    /// node draining): back to the queue first.
    pub(super) release: Vec<ClaimedCall>,
    /// Whether the step claims (else it only places and releases).
    pub(super) claim: bool,
}

/// A call claimed ahead of its slot, waiting on its actor's timer; screened under its
/// organisation's screen `epoch` (a do-not-call add since then means another look-up).
#[derive(Debug, Clone)]
pub(super) struct Reserved {
    pub(super) call: ClaimedCall,
    pub(super) org: OrgId,
    pub(super) epoch: u64,
}

/// The dispatch path's metrics, registered once per actor: a metric named in a macro is looked
/// up in the recorder's registry at every use (BENCHMARKS.md, *The metrics*).
pub(super) struct Meters {
    pub(super) claim_latency: metrics::Histogram,
    pub(super) record_latency: metrics::Histogram,
    pub(super) claim_lateness: metrics::Histogram,
    pub(super) claim_batch: metrics::Histogram,
    pub(super) dispatch_lateness: metrics::Histogram,
    pub(super) calls_placed: metrics::Counter,
    pub(super) in_flight: metrics::Gauge,
    pub(super) queue_waiting: metrics::Gauge,
    pub(super) queue_due: metrics::Gauge,
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meters").finish_non_exhaustive()
    }
}

impl Meters {
    pub(super) fn new() -> Self {
        Self {
            claim_latency: metrics::histogram!(STORE_LATENCY, "op" => "claim"),
            record_latency: metrics::histogram!(STORE_LATENCY, "op" => "record"),
            claim_lateness: metrics::histogram!(CLAIM_LATENESS),
            claim_batch: metrics::histogram!(CLAIM_BATCH),
            dispatch_lateness: metrics::histogram!(DISPATCH_LATENESS),
            calls_placed: metrics::counter!(CALLS_PLACED),
            in_flight: metrics::gauge!(CALLS_IN_FLIGHT),
            queue_waiting: metrics::gauge!(QUEUE_CONTACTS, "state" => "waiting"),
            queue_due: metrics::gauge!(QUEUE_CONTACTS, "state" => "due"),
        }
    }
}

/// What a claim step came to.
pub(super) enum Stepped {
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
    /// No claim was asked for: reserved calls were placed or released.
    Placed,
}

/// What a dispatch step reports to its actor.
pub(super) struct StepReport {
    pub(super) result: Result<Stepped, StoreError>,
    /// Outcomes the store did not take (it failed): recorded at the next step.
    pub(super) unrecorded: Vec<Outcome>,
    /// Outcomes applied, with the campaign's status and calls in flight after each.
    pub(super) recorded: Vec<(Outcome, CampaignStatus, u32)>,
    /// Calls requested from the provider in this step, and those it rejected.
    pub(super) placed: Vec<ClaimedCall>,
    pub(super) rejected: Vec<(ClaimedCall, String)>,
    /// Calls claimed ahead of their slots, for the actor's timer.
    pub(super) reserved: Vec<Reserved>,
    /// Calls to release that the store did not take back (it failed): released at the next step.
    pub(super) unreleased: Vec<ClaimedCall>,
}

/// Puts `calls` of campaign `id`, claimed ahead and never requested, back to the queue; returns
/// those the store did not take back (released at the next step).
pub(super) async fn release_calls(
    store: &dyn CampaignStore,
    id: CampaignId,
    calls: Vec<ClaimedCall>,
) -> Vec<ClaimedCall> {
    let releases = calls
        .iter()
        .map(|call| store.release_claim(id, call.contact_id, call.attempt));
    let results = join_all(releases).await;
    calls
        .into_iter()
        .zip(results)
        .filter_map(|(call, result)| result.is_err().then_some(call))
        .collect()
}

/// Whether a step claims, and what lets it or what it comes to without.
enum Admission {
    Claim(Admitted),
    Not(Stepped),
}

/// What lets a step claim: the campaign's lease (its fence) and the calls the carrier limit
/// admits, with how far ahead the claim looks.
struct Admitted {
    fence: Fence,
    granted: u32,
    ahead: chrono::Duration,
}

impl Step {
    /// Whether this step claims: the node is not draining, it holds the campaign's lease (a
    /// lease newly taken is reconciled first) and the carrier limit admits calls; else what the
    /// step comes to without claiming.
    async fn admit(&self) -> Result<Admission, StoreError> {
        let services = &*self.services;
        let id = self.id;
        if self.draining {
            return Ok(Admission::Not(Stepped::Draining));
        }
        // The lease this node holds on the campaign, or a new one if it is free.
        let Some(fence) = services.leases.fence(id).await? else {
            return Ok(Admission::Not(Stepped::NotOwner));
        };
        if services.leases.take_newly_taken(id)
            && let Err(error) = self.reconcile().await
        {
            services.leases.mark_newly_taken(id);
            return Err(error);
        }
        let admission = services.gate.admit(id, services.claim_limit).await;
        if admission.granted == 0 {
            let retry_in = admission.retry_in.unwrap_or(STORE_RETRY);
            return Ok(Admission::Not(Stepped::Throttled(retry_in)));
        }
        // A carrier limit counts calls when admitted: with one, a claim takes only what is due.
        let ahead = if services.gate.limits() {
            chrono::Duration::zero()
        } else {
            services.claim_ahead
        };
        Ok(Admission::Claim(Admitted {
            fence,
            granted: admission.granted,
            ahead,
        }))
    }

    /// Records `outcomes` alone (the step does not claim); what the store does not take is
    /// kept in `report` for the next step.
    async fn record(
        &self,
        outcomes: Vec<Outcome>,
        report: &mut StepReport,
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        match (self.services.store)
            .record_outcomes(self.id, &outcomes, self.now)
            .await
        {
            Ok(recorded) => {
                self.meters.record_latency.record(started.elapsed());
                self.took(&outcomes, recorded, report).await;
                Ok(())
            }
            Err(StoreError::NotFound) => Ok(()),
            Err(error) => {
                report.unrecorded = outcomes;
                Err(error)
            }
        }
    }

    /// Notes in `report` the outcomes the store applied (`recorded`, one per outcome), and
    /// starts the cool-down of each refusal.
    async fn took(&self, outcomes: &[Outcome], recorded: Vec<Recorded>, report: &mut StepReport) {
        faults::hit(FaultPoint::AfterRecord, Some(self.id));
        report.recorded = outcomes
            .iter()
            .zip(recorded)
            .filter_map(|(outcome, recorded)| match recorded {
                Recorded::Applied { status, in_flight } => Some((*outcome, status, in_flight)),
                Recorded::Duplicate => None,
            })
            .collect();
        for (outcome, _, _) in &report.recorded {
            if outcome.result.outcome == DialOutcome::Refused {
                self.cool_down(outcome.contact).await;
            }
        }
    }

    /// Records `outcomes` and claims in one store step, then places what was claimed: every
    /// claimed call is requested from the provider, failed for good (rejected), released back to
    /// the queue or reserved before this returns. The step's `turn` at the store is given back
    /// once the claim is made.
    async fn claim_and_place(
        &self,
        turn: Option<tokio::sync::SemaphorePermit<'_>>,
        admitted: Admitted,
        outcomes: Vec<Outcome>,
        report: &mut StepReport,
        placed: &mut Vec<ClaimedCall>,
        rejected: &mut Vec<(ClaimedCall, String)>,
    ) -> Result<Stepped, StoreError> {
        let (id, now) = (self.id, self.now);
        let services = &*self.services;
        let store = &services.store;
        let Admitted {
            fence,
            granted,
            ahead,
        } = admitted;
        let started = std::time::Instant::now();
        let batch = if outcomes.is_empty() {
            store.claim_ahead(id, fence, now, granted, ahead).await
        } else {
            match store
                .record_and_claim(id, &outcomes, fence, now, granted, ahead)
                .await
            {
                Ok((recorded, claimed)) => {
                    self.took(&outcomes, recorded, report).await;
                    claimed
                }
                Err(error) => {
                    services.gate.refund(granted);
                    if !matches!(error, StoreError::NotFound) {
                        report.unrecorded = outcomes;
                    }
                    return Err(error);
                }
            }
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                services.gate.refund(granted);
                return Err(error);
            }
        };
        if !batch.calls.is_empty() {
            faults::hit(FaultPoint::AfterClaim, Some(id));
        }
        // Placing calls is the dialers' work: another step may go to the store meanwhile.
        drop(turn);
        self.meters.claim_latency.record(started.elapsed());
        if let Some(due) = self.due.filter(|_| !batch.calls.is_empty()) {
            let late = (services.clock.now() - due).to_std().unwrap_or_default();
            self.meters
                .claim_lateness
                .record_many(late, batch.calls.len());
        }
        services.gate.refund(granted - batch.calls.len() as u32);
        for &(reason, n) in &batch.held {
            metrics::counter!(CONTACTS_HELD, "reason" => reason.as_str()).increment(n);
        }
        for &(reason, n) in &batch.skipped {
            metrics::counter!(CONTACTS_SKIPPED, "reason" => reason.as_str()).increment(n);
        }
        if batch.calls.is_empty() {
            return Ok(Stepped::Claimed(batch));
        }
        let mut batch = batch;
        // Held until every call kept is requested, released or reserved: a do-not-call add
        // waits for it.
        let screening = services.suppression.enter(&batch.org).await;
        self.screen(&mut batch, screening.epoch).await?;
        if batch.calls.is_empty() {
            return Ok(Stepped::Claimed(batch));
        }
        self.meters.claim_batch.record(batch.calls.len() as f64);
        if let Err(error) = services.dialers.prepare_all(&batch.calls).await {
            tracing::warn!(campaign = %id, %error, "claimed calls not prepared, released");
            self.release_each(&batch.calls).await?;
            return Err(StoreError::Unavailable(error.to_string()));
        }
        // Calls whose slot is still ahead wait on the actor's timer; the others go now.
        let placed_by = services.clock.now();
        let (due, ahead): (Vec<ClaimedCall>, Vec<ClaimedCall>) = batch
            .calls
            .iter()
            .cloned()
            .partition(|call| call.at <= placed_by);
        if !self.place(due, placed, rejected).await? {
            self.release_each(&ahead).await?;
            return Ok(Stepped::LeaseUnsure);
        }
        report
            .reserved
            .extend(ahead.into_iter().map(|call| Reserved {
                call,
                org: batch.org.clone(),
                epoch: screening.epoch,
            }));
        Ok(Stepped::Claimed(batch))
    }

    /// Puts claimed calls that were never requested back to the queue; the first store error
    /// is returned once every release was tried.
    async fn release_each(&self, calls: &[ClaimedCall]) -> Result<(), StoreError> {
        let store = &self.services.store;
        let releases = calls
            .iter()
            .map(|call| store.release_claim(self.id, call.contact_id, call.attempt));
        join_all(releases).await.into_iter().collect()
    }

    /// Requests `calls` from the provider now, unless the lease is near its end (then every one
    /// goes back to the queue and this is `false`: another node may own the campaign now).
    /// A call the provider rejects fails for good; one it cannot take now goes back to wait.
    async fn place(
        &self,
        calls: Vec<ClaimedCall>,
        placed: &mut Vec<ClaimedCall>,
        rejected: &mut Vec<(ClaimedCall, String)>,
    ) -> Result<bool, StoreError> {
        let (id, now, services) = (self.id, self.now, &*self.services);
        let store = &services.store;
        if calls.is_empty() {
            return Ok(true);
        }
        if !services.leases.safe(id) {
            // The lease neared its end while the claim ran (a stalled process, a slow store):
            // another node may own the campaign now, so nothing claimed here is placed.
            tracing::warn!(campaign = %id, "lease near its end, claimed calls released");
            self.release_each(&calls).await?;
            return Ok(false);
        }
        let results = services
            .dialers
            .place_all(calls.clone(), self.sink.clone())
            .await;
        let mut settle = Vec::new();
        for (call, result) in calls.iter().zip(results) {
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
        Ok(true)
    }

    /// Places the reserved calls whose slot has come, under their organisation's gate: those
    /// screened before a do-not-call add settled here are looked up again first (a listed one
    /// ends `skipped`, `dnc`).
    async fn place_reserved(
        &self,
        ready: Vec<Reserved>,
        placed: &mut Vec<ClaimedCall>,
        rejected: &mut Vec<(ClaimedCall, String)>,
        unreleased: &mut Vec<ClaimedCall>,
    ) -> Result<(), StoreError> {
        let Some(org) = ready.first().map(|reserved| reserved.org.clone()) else {
            return Ok(());
        };
        let (services, now) = (&*self.services, self.services.clock.now());
        for reserved in &ready {
            let late = (now - reserved.call.at).to_std().unwrap_or_default();
            self.meters.dispatch_lateness.record(late);
        }
        let store = &services.store;
        let screening = services.suppression.enter(&org).await;
        let (mut calls, stale): (Vec<Reserved>, Vec<Reserved>) = ready
            .into_iter()
            .partition(|reserved| reserved.epoch == screening.epoch);
        if !stale.is_empty() {
            let numbers: Vec<PhoneNumber> = stale.iter().map(|r| r.call.phone.clone()).collect();
            let listed = match store.dnc_covering(&org, &numbers, self.now).await {
                Ok(listed) => listed,
                Err(error) => {
                    // Not looked up again: none of them is placed; they wait in the queue.
                    let all = calls.into_iter().chain(stale).map(|r| r.call).collect();
                    unreleased.extend(release_calls(&**store, self.id, all).await);
                    return Err(error);
                }
            };
            let mut skips = Vec::new();
            for (reserved, entry) in stale.into_iter().zip(listed) {
                if entry.is_some() {
                    let (contact, attempt) = (reserved.call.contact_id, reserved.call.attempt);
                    skips.push(store.skip_claim(self.id, contact, attempt, SkipReason::Dnc));
                } else {
                    calls.push(reserved);
                }
            }
            if !skips.is_empty() {
                metrics::counter!(CONTACTS_SKIPPED, "reason" => SkipReason::Dnc.as_str())
                    .increment(skips.len() as u64);
                for result in join_all(skips).await {
                    result?;
                }
            }
        }
        let calls = calls.into_iter().map(|reserved| reserved.call).collect();
        self.place(calls, placed, rejected).await.map(drop)
    }

    /// Screens the claimed numbers in one store step on the organisation's state: those on its
    /// do-not-call list end `skipped` (`dnc`); the others are counted against their frequency
    /// caps (the campaign's, the organisation's, the region's), and those a cap refuses go back
    /// to wait until it allows them (`frequency_cap`). Either way they leave the batch, and the
    /// campaign steps again at once (it may be finished, or have more to claim). If the screen
    /// cannot be read, nothing claimed is placed.
    async fn screen(&self, batch: &mut ClaimBatch, epoch: u64) -> Result<(), StoreError> {
        let store = &self.services.store;
        let safety = store.call_safety();
        let screened: Vec<(PhoneNumber, Vec<FrequencyCap>)> = batch
            .calls
            .iter()
            .map(|call| {
                let caps = safety.caps_for(batch.org.as_str(), &call.phone, &batch.frequency_caps);
                (call.phone.clone(), caps)
            })
            .collect();
        // Nothing to count and nothing listed: nothing to screen.
        if screened.iter().all(|(_, caps)| caps.is_empty()) {
            let gates = &self.services.suppression;
            if gates.known_unlisted(&batch.org, epoch) {
                return Ok(());
            }
            match store.lists_any(&batch.org).await {
                Ok(false) => {
                    gates.note_unlisted(&batch.org, epoch);
                    return Ok(());
                }
                Ok(true) => {}
                Err(error) => return Err(self.release_all(batch, error).await),
            }
        }
        let verdicts = match store.screen(&batch.org, &screened, self.now).await {
            Ok(verdicts) => verdicts,
            Err(error) => return Err(self.release_all(batch, error).await),
        };
        let calls = std::mem::take(&mut batch.calls);
        let (mut n_skipped, mut n_held) = (0, 0);
        let mut refusals = Vec::new();
        for (call, verdict) in calls.into_iter().zip(verdicts) {
            let (id, contact, attempt) = (self.id, call.contact_id, call.attempt);
            match verdict {
                Screened::Allowed => batch.calls.push(call),
                Screened::Listed => {
                    n_skipped += 1;
                    refusals.push(store.skip_claim(id, contact, attempt, SkipReason::Dnc));
                }
                Screened::CappedUntil(until) => {
                    n_held += 1;
                    let reason = HeldReason::FrequencyCap;
                    refusals.push(store.hold_claim(id, contact, attempt, reason, until));
                }
            }
        }
        for result in join_all(refusals).await {
            result?;
        }
        if n_skipped > 0 {
            metrics::counter!(CONTACTS_SKIPPED, "reason" => SkipReason::Dnc.as_str())
                .increment(n_skipped);
            batch.skipped.push((SkipReason::Dnc, n_skipped));
        }
        if n_held > 0 {
            metrics::counter!(CONTACTS_HELD, "reason" => HeldReason::FrequencyCap.as_str())
                .increment(n_held);
            batch.held.push((HeldReason::FrequencyCap, n_held));
        }
        let n_out = n_skipped + n_held;
        if n_out > 0 {
            self.services.gate.refund(n_out as u32);
            batch.in_flight = batch.in_flight.saturating_sub(n_out as u32);
            batch.wake_at = Some(self.now);
        }
        Ok(())
    }

    /// A refusal starts its number's cool-down where the number's region sets one (a store
    /// that fails leaves it unstarted, logged: the refused contact itself is final anyway).
    async fn cool_down(&self, contact: crate::domain::ContactId) {
        let store = &self.services.store;
        let started = async {
            let (org, number) = store.call_party(self.id, contact).await?;
            if let Some(cooldown) = store.call_safety().cooldown_after_refusal(&number) {
                store
                    .start_cooldown(&org, &number, self.now + cooldown)
                    .await?;
            }
            Ok::<_, StoreError>(())
        };
        if let Err(error) = started.await {
            tracing::warn!(campaign = %self.id, %error, "a refusal's cool-down not started");
        }
    }

    /// Releases every call of the batch (a screen could not be read); returns `error`.
    async fn release_all(&self, batch: &mut ClaimBatch, error: StoreError) -> StoreError {
        let store = &self.services.store;
        let releases = batch.calls.drain(..).map(|call| async move {
            store
                .release_claim(self.id, call.contact_id, call.attempt)
                .await
        });
        join_all(releases).await;
        error
    }

    /// Asks the provider again about the calls in flight placed under an earlier lease (by a
    /// node that died, or an actor that panicked), before their deadline: each is re-sent under
    /// its own idempotency key, the provider places nothing new and answers with the outcome
    /// once the call has ended. So a takeover does not wait an hour of deadline for them. A
    /// call to a number on the do-not-call list is not asked about again.
    async fn reconcile(&self) -> Result<(), StoreError> {
        let services = &*self.services;
        let store = &services.store;
        let calls = store.calls_in_flight(self.id, self.now).await?;
        // Calls claimed ahead whose slot has not come were never requested (an actor places each
        // at its slot, and that one is gone): they go back to the queue, to be claimed again
        // under today's rules.
        let (calls, unplaced): (Vec<ClaimedCall>, Vec<ClaimedCall>) =
            calls.into_iter().partition(|call| call.at <= self.now);
        self.release_each(&unplaced).await?;
        let Some(first) = calls.first() else {
            return Ok(());
        };
        // A call its first request may never have reached is placed by this one: none to a
        // number listed since (those end `unknown` at their deadline, or by the provider's
        // events), under the organisation's gate like a claim's calls.
        let (org, _) = store.call_party(self.id, first.contact_id).await?;
        let _screening = services.suppression.enter(&org).await;
        let numbers: Vec<PhoneNumber> = calls.iter().map(|call| call.phone.clone()).collect();
        let listed = store.dnc_covering(&org, &numbers, self.now).await?;
        let calls: Vec<ClaimedCall> = calls
            .into_iter()
            .zip(listed)
            .filter_map(|(call, entry)| entry.is_none().then_some(call))
            .collect();
        tracing::info!(campaign = %self.id, n_calls = calls.len(), "reconciling calls in flight");
        metrics::counter!(CALLS_RECONCILED).increment(calls.len() as u64);
        services
            .dialers
            .reconcile_all(calls, self.sink.clone())
            .await;
        Ok(())
    }

    /// Releases what it is asked to, places the reserved calls whose slot came, records the
    /// outcomes that arrived, then claims and places (or reserves).
    pub(super) async fn run(mut self, outcomes: Vec<Outcome>) -> StepReport {
        let mut report = StepReport {
            result: Err(StoreError::NotFound),
            unrecorded: Vec::new(),
            recorded: Vec::new(),
            placed: Vec::new(),
            rejected: Vec::new(),
            reserved: Vec::new(),
            unreleased: Vec::new(),
        };
        let (mut placed, mut rejected) = (Vec::new(), Vec::new());
        let release = std::mem::take(&mut self.release);
        if !release.is_empty() {
            report.unreleased = release_calls(&*self.services.store, self.id, release).await;
        }
        let ready = std::mem::take(&mut self.ready);
        let ready_org = ready.first().map(|reserved| reserved.org.clone());
        let placing =
            self.place_reserved(ready, &mut placed, &mut rejected, &mut report.unreleased);
        if let Err(error) = placing.await {
            report.result = Err(error);
            report.unrecorded = outcomes;
            return report;
        }
        if !self.claim && outcomes.is_empty() {
            report.result = Ok(Stepped::Placed);
            // A rejected call's event goes on now; what the store does not take waits for the
            // next claim (which reports it).
            if let Some(org) = ready_org.filter(|_| !rejected.is_empty()) {
                self.relay_for(&org, &mut 1).await;
            }
            report.placed = placed;
            report.rejected = rejected;
            return report;
        }
        // (Never closed: a step goes on without a turn rather than not at all.)
        let turn = self.services.turns.acquire().await.ok();
        // Outcomes go with the claim, in one store step (they free call slots for it), or
        // alone when the step does not claim. If the store fails, they are kept for the next
        // step (recording is idempotent per attempt).
        report.result = match self.admit().await {
            Ok(Admission::Claim(admitted)) => {
                // Boxed: a step waiting for its turn, or for its record, holds its claim's
                // future (most of a step's size) only once it gets there.
                let claiming = self.claim_and_place(
                    turn,
                    admitted,
                    outcomes,
                    &mut report,
                    &mut placed,
                    &mut rejected,
                );
                Box::pin(claiming).await
            }
            Ok(Admission::Not(stepped)) => {
                self.record(outcomes, &mut report).await.map(|()| stepped)
            }
            Err(error) => self.record(outcomes, &mut report).await.and(Err(error)),
        };
        // The events the step's store steps wrote (a rejected call's among them) go on to the
        // organisation's outbox now; what the store does not take waits for the next step.
        if let Ok(Stepped::Claimed(batch)) = &mut report.result
            && (batch.events > 0 || !rejected.is_empty())
        {
            let org = batch.org.clone();
            self.relay_for(&org, &mut batch.events).await;
        }
        report.placed = placed;
        report.rejected = rejected;
        report
    }

    /// Relays the events of the campaign's store steps to `org`'s outbox; `events` becomes what
    /// is left (at least one when the store did not take them).
    async fn relay_for(&self, org: &OrgId, events: &mut u64) {
        match self.services.webhooks.relay(org, self.id, self.now).await {
            Ok(left) => *events = left,
            Err(error) => {
                tracing::warn!(campaign = %self.id, %error, "webhook events not relayed yet");
                *events = (*events).max(1);
            }
        }
    }
}
