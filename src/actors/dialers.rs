//! The dialer pool: supervised actors that hand calls to a [`Dialer`]. A dialer actor that stops
//! is restarted by its `Supervisor`; a call it never requested is released back to the queue by
//! the campaign actor that claimed it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::prelude::*;

use crate::dialer::{DialError, Dialer, OutcomeSink};
use crate::store::ClaimedCall;

/// Requests one call from the provider; replies once it is placed (or was not).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), DialError>")]
pub struct PlaceCall {
    pub call: ClaimedCall,
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

impl Handler<PlaceCall> for DialerActor {
    type Result = ResponseFuture<Result<(), DialError>>;

    fn handle(&mut self, message: PlaceCall, _ctx: &mut Context<Self>) -> Self::Result {
        let dialer = self.dialer.clone();
        Box::pin(async move { dialer.place(message.call, message.sink).await })
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

    /// Places one call through the next dialer actor.
    pub async fn place(&self, call: ClaimedCall, sink: OutcomeSink) -> Result<(), DialError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.actors.len();
        self.actors[index]
            .send(PlaceCall { call, sink })
            .await
            .map_err(|error| DialError::Unavailable(error.to_string()))?
    }
}
