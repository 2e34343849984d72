//! The dialer pool: supervised actors that hand calls to a [`Dialer`]. A dialer actor that stops
//! is restarted by its `Supervisor`, one that panicked by the pool; a call it never requested is
//! released back to the queue by the campaign actor that claimed it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::prelude::*;

use crate::dialer::{DialError, Dialer, OutcomeSink};
use crate::faults::{self, FaultPoint};
use crate::store::ClaimedCall;
use crate::telemetry::ACTOR_RESTARTS;

/// Requests calls from the provider; replies once each is placed (or was not), in order. One
/// message carries a whole claim so that a batch costs one hop between threads, not one per call.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Result<(), DialError>>")]
pub struct PlaceCalls {
    pub calls: Vec<ClaimedCall>,
    pub sink: OutcomeSink,
}

/// Asks the provider again about calls in flight from an earlier lease (see
/// [`Dialer::reconcile_all`]); replies once every one was asked.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReconcileCalls {
    pub calls: Vec<ClaimedCall>,
    pub sink: OutcomeSink,
}

/// One dialer actor; many calls can be in their placement step at once.
#[derive(Debug)]
pub struct DialerActor {
    dialer: Arc<dyn Dialer>,
}

impl Actor for DialerActor {
    type Context = Context<Self>;

    /// Also reached after a panic: the panic is its own, not a campaign actor's that stops
    /// next on this thread (`telemetry::take_panicked`).
    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let _ = crate::telemetry::take_panicked();
    }
}

impl Supervised for DialerActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        tracing::warn!("dialer actor restarting");
    }
}

impl Handler<PlaceCalls> for DialerActor {
    type Result = ResponseFuture<Vec<Result<(), DialError>>>;

    fn handle(
        &mut self,
        PlaceCalls { calls, sink }: PlaceCalls,
        _ctx: &mut Context<Self>,
    ) -> Self::Result {
        faults::hit(
            FaultPoint::DialerPlace,
            calls.first().map(|call| call.campaign_id),
        );
        let dialer = self.dialer.clone();
        Box::pin(async move { dialer.place_all(calls, sink).await })
    }
}

impl Handler<ReconcileCalls> for DialerActor {
    type Result = ResponseFuture<()>;

    fn handle(
        &mut self,
        ReconcileCalls { calls, sink }: ReconcileCalls,
        _ctx: &mut Context<Self>,
    ) -> Self::Result {
        let dialer = self.dialer.clone();
        Box::pin(async move { dialer.reconcile_all(calls, sink).await })
    }
}

/// Dialer actors spread over the node's arbiters, used in turn. A dialer actor that panicked
/// (its arbiter caught the panic and dropped it, which a `Supervisor` does not see) is replaced
/// the first time it is found gone.
#[derive(Debug)]
pub struct DialerPool {
    dialer: Arc<dyn Dialer>,
    arbiters: Vec<ArbiterHandle>,
    actors: parking_lot::RwLock<Vec<Addr<DialerActor>>>,
    next: AtomicUsize,
}

impl DialerPool {
    /// Starts `n_actors` supervised dialer actors over `arbiters`, in turn.
    pub fn start(dialer: Arc<dyn Dialer>, n_actors: usize, arbiters: &[ArbiterHandle]) -> Self {
        let pool = Self {
            dialer,
            arbiters: arbiters.to_vec(),
            actors: parking_lot::RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
        };
        let actors = (0..n_actors.max(1))
            .map(|index| pool.start_actor(index))
            .collect();
        *pool.actors.write() = actors;
        pool
    }

    fn start_actor(&self, index: usize) -> Addr<DialerActor> {
        let dialer = self.dialer.clone();
        let arbiter = &self.arbiters[index % self.arbiters.len()];
        Supervisor::start_in_arbiter(arbiter, move |_| DialerActor { dialer })
    }

    /// Places a batch of calls through the next dialer actor; one result per call, in order.
    pub async fn place_all(
        &self,
        calls: Vec<ClaimedCall>,
        sink: OutcomeSink,
    ) -> Vec<Result<(), DialError>> {
        let n_calls = calls.len();
        let (index, actor) = self.next_actor();
        match actor.send(PlaceCalls { calls, sink }).await {
            Ok(results) => results,
            // The actor ended before it answered (a panic): none of these calls counts as
            // requested (a retry keeps its attempt, hence its idempotency key), and the actor
            // is replaced.
            Err(error) => {
                self.replace_if_gone(index, &actor);
                vec![Err(DialError::Unavailable(error.to_string())); n_calls]
            }
        }
    }

    /// Asks the provider about calls in flight from an earlier lease, through the next dialer
    /// actor; returns once every one was asked (an actor gone meanwhile leaves them to their
    /// events, or to their deadline).
    /// Readies the calls of one claim (`Dialer::prepare_all`): a store step, on the caller's
    /// task.
    pub async fn prepare_all(&self, calls: &[ClaimedCall]) -> Result<(), DialError> {
        self.dialer.prepare_all(calls).await
    }

    pub async fn reconcile_all(&self, calls: Vec<ClaimedCall>, sink: OutcomeSink) {
        let (index, actor) = self.next_actor();
        if actor.send(ReconcileCalls { calls, sink }).await.is_err() {
            self.replace_if_gone(index, &actor);
        }
    }

    /// The dialer actor whose turn it is, and its place in the pool.
    fn next_actor(&self) -> (usize, Addr<DialerActor>) {
        let actors = self.actors.read();
        let index = self.next.fetch_add(1, Ordering::Relaxed) % actors.len();
        (index, actors[index].clone())
    }

    fn replace_if_gone(&self, index: usize, gone: &Addr<DialerActor>) {
        if gone.connected() {
            return;
        }
        let mut actors = self.actors.write();
        if actors[index] == *gone {
            tracing::error!(
                index,
                "dialer actor ended abnormally (a panic); starting it again"
            );
            metrics::counter!(ACTOR_RESTARTS, "actor" => "dialer").increment(1);
            actors[index] = self.start_actor(index);
        }
    }
}
