//! Runs of one script for many campaigns, sent together when Redis is busy.
//!
//! Each campaign's claim and record is a script run of its own: two requests per paced call,
//! each a wake-up, a read and a reply write for Redis and a round of the node's connection
//! task. Past a certain load the node fell behind, requests queued, every step cost more and
//! claims came seconds late (BENCHMARKS.md, *Lateness*).
//! Here a run is sent at once while fewer than [`IN_FLIGHT`] requests of its script are out;
//! otherwise it waits for the next one, which takes everything waiting (up to [`MAX_WEIGHT`]) in
//! one request of `batch.lua`. A quiet Redis sees single runs, as before; a busy one sees fewer,
//! larger requests and stays ahead. Each run
//! is still atomic (a batch is one script) and answered as it would be alone; the runs of a
//! batch share nothing but the request.
//!
//! Each thread batches its own runs, on its own connections (see the store's `io`): a thread
//! that stops takes its batches with it, never another thread's runs.
//!
//! One Redis only: a Redis Cluster refuses a script whose keys are in different slots, so there
//! every run goes alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::ThreadId;

use redis::{Script, ToRedisArgs, Value};

use super::connections::Connection;
use super::scripts::{CALL_STATE, with_call_state};
use super::unavailable;
use crate::store::StoreError;

/// Requests of one script out at once from one thread (the store's default number of
/// connections per thread; 2 and 8 did no better: BENCHMARKS.md).
const IN_FLIGHT: usize = 4;
/// The most work in one batch, in [`Run::weight`] units (contacts claimed or outcomes recorded):
/// a batch holds Redis well under a millisecond, and a run waits at most one batch behind the
/// requests out. 8 and 24–48 let more claims come late (BENCHMARKS.md).
const MAX_WEIGHT: u32 = 16;

/// One campaign's run of a script: its keys and arguments.
#[derive(Default)]
pub(super) struct Run {
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
    weight: u32,
}

impl Run {
    /// A run of about `weight` units of work.
    pub(super) fn new(weight: u32) -> Self {
        Self {
            weight: weight.max(1),
            ..Self::default()
        }
    }

    /// `first` and then `second` as one run of `step.lua`: `first`'s keys, then `second`'s;
    /// the counts of `first`'s keys and arguments, its arguments, then `second`'s.
    pub(super) fn then(first: Self, second: Self) -> Self {
        let mut run = Self::new(first.weight + second.weight);
        run.arg(first.keys.len()).arg(first.args.len());
        run.keys = first.keys;
        run.keys.extend(second.keys);
        run.args.extend(first.args);
        run.args.extend(second.args);
        run
    }

    pub(super) fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        self.keys.extend(key.to_redis_args());
        self
    }

    pub(super) fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.args.extend(arg.to_redis_args());
        self
    }
}

type Reply = Result<Vec<Value>, StoreError>;

/// A script that can run alone or batched, and the runs waiting for a batch.
pub(super) struct Batcher {
    alone: Script,
    batched: Script,
    /// Each thread's runs waiting for a batch.
    waiting: parking_lot::Mutex<HashMap<ThreadId, Waiting>>,
}

#[derive(Default)]
struct Waiting {
    runs: Vec<(Run, tokio::sync::oneshot::Sender<Reply>)>,
    in_flight: usize,
}

impl Batcher {
    /// A call-state script (`body`, after the helpers of `call_state.lua`) that runs alone as
    /// [`with_call_state`] makes it; in a batch, the body becomes the function `batch.lua`
    /// calls for each run.
    pub(super) fn new(body: &str) -> Arc<Self> {
        let driver = include_str!("scripts/batch.lua");
        Arc::new(Self {
            alone: with_call_state(body),
            batched: Script::new(&format!(
                "{CALL_STATE}local function run(KEYS, ARGV)\n{body}\nend\n{driver}"
            )),
            waiting: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// The run's reply, as the script alone would have given it. Must be called on a runtime
    /// (a batch is sent by a task of its own), with one of the calling thread's connections.
    pub(super) async fn run(self: &Arc<Self>, con: Connection, run: Run) -> Reply {
        if matches!(con, Connection::Cluster(_)) {
            return self.alone(con, run).await;
        }
        let thread = std::thread::current().id();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let lead = {
            let mut all = self.waiting.lock();
            let waiting = all.entry(thread).or_default();
            waiting.runs.push((run, sender));
            let lead = waiting.in_flight < IN_FLIGHT;
            waiting.in_flight += usize::from(lead);
            lead
        };
        if lead {
            tokio::spawn(self.clone().send(thread, con));
        }
        receiver
            .await
            .unwrap_or_else(|_| Err(unavailable("the batch was dropped")))
    }

    async fn alone(&self, mut con: Connection, run: Run) -> Reply {
        let mut invocation = self.alone.prepare_invoke();
        for key in run.keys {
            invocation.key(key);
        }
        for arg in run.args {
            invocation.arg(arg);
        }
        invocation.invoke_async(&mut con).await.map_err(unavailable)
    }

    /// Sends what `thread` has waiting, batch after batch, until nothing is.
    async fn send(self: Arc<Self>, thread: ThreadId, mut con: Connection) {
        loop {
            let mut runs = {
                let mut all = self.waiting.lock();
                let waiting = all.entry(thread).or_default();
                if waiting.runs.is_empty() {
                    waiting.in_flight -= 1;
                    return;
                }
                let mut weight = 0;
                let n = waiting
                    .runs
                    .iter()
                    .take_while(|(run, _)| {
                        weight += run.weight;
                        weight <= MAX_WEIGHT
                    })
                    .count();
                waiting.runs.drain(..n.max(1)).collect::<Vec<_>>()
            };
            if runs.len() == 1 {
                let (run, sender) = runs.pop().expect("one run");
                let _ = sender.send(self.alone(con.clone(), run).await);
                continue;
            }
            let mut invocation = self.batched.prepare_invoke();
            invocation.arg(runs.len());
            for (run, _) in &runs {
                invocation.arg(run.keys.len()).arg(run.args.len());
            }
            for (run, _) in &runs {
                for key in &run.keys {
                    invocation.key(key);
                }
                for arg in &run.args {
                    invocation.arg(arg);
                }
            }
            let replies = match invocation.invoke_async::<Value>(&mut con).await {
                Ok(Value::Array(replies)) if replies.len() == runs.len() => replies,
                other => {
                    let error = match other {
                        Err(error) => error.to_string(),
                        Ok(reply) => format!("bad batch reply: {reply:?}"),
                    };
                    for (_, sender) in runs {
                        let _ = sender.send(Err(unavailable(&error)));
                    }
                    continue;
                }
            };
            for ((_, sender), reply) in runs.into_iter().zip(replies) {
                let _ = sender.send(match reply {
                    Value::Array(values) if values.first() == Some(&Value::Nil) => {
                        Err(unavailable(super::replies::error_message(values.get(1))))
                    }
                    Value::Array(values) => Ok(values),
                    other => Err(unavailable(format!("bad reply: {other:?}"))),
                });
            }
        }
    }
}
