//! The dialer pool: supervised actors that hand calls to a [`Dialer`]. A dialer actor that stops
//! is restarted by its `Supervisor`; a call it never requested is released back to the queue by
//! the campaign actor that claimed it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::prelude::*;

use crate::dialer::{DialError, Dialer, OutcomeSink};
use crate::store::ClaimedCall;

/// Requests calls from the provider; replies once each is placed (or was not), in order. One
/// message carries a whole claim so that a batch costs one hop between threads, not one a call.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Result<(), DialError>>")]
pub struct PlaceCalls {
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
        let dialer = self.dialer.clone();
        Box::pin(async move { dialer.place_all(calls, sink).await })
    }
}

/// Dialer actors spread over the node's arbiters, used in turn.
#[derive(Debug)]
pub struct DialerPool {
    actors: Vec<Addr<DialerActor>>,
    next: AtomicUsize,
}

impl DialerPool {
    /// Starts `n_actors` supervised dialer actors over `arbiters`, in turn.
    pub fn start(dialer: Arc<dyn Dialer>, n_actors: usize, arbiters: &[ArbiterHandle]) -> Self {
        let actors = (0..n_actors.max(1))
            .map(|index| {
                let dialer = dialer.clone();
                let arbiter = &arbiters[index % arbiters.len()];
                Supervisor::start_in_arbiter(arbiter, move |_| DialerActor { dialer })
            })
            .collect();
        Self {
            actors,
            next: AtomicUsize::new(0),
        }
    }

    /// Places a batch of calls through the next dialer actor; one result per call, in order.
    pub async fn place_all(
        &self,
        calls: Vec<ClaimedCall>,
        sink: OutcomeSink,
    ) -> Vec<Result<(), DialError>> {
        let n_calls = calls.len();
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.actors.len();
        match self.actors[index].send(PlaceCalls { calls, sink }).await {
            Ok(results) => results,
            // The actor stopped before it took the batch: none of these calls was requested.
            Err(error) => vec![Err(DialError::Unavailable(error.to_string())); n_calls],
        }
    }
}
