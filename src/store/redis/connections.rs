//! Connections: per thread on one Redis, one multiplexed connection on a cluster, the control
//! connection, subscriptions, and the store's own runtime.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::Value;

use super::{Inner, unavailable};
use crate::store::StoreError;

/// The store's own runtime (the control connection, the subscriptions, a cluster's connection);
/// shut down in the background when the store goes.
pub(super) struct IoRuntime(pub(super) Option<tokio::runtime::Runtime>);

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Multiplexed connections, each carrying many requests at once and reconnecting by itself
/// after a failure. (No pool: a pooled connection is checked with a PING round trip at every
/// checkout: BENCHMARKS.md, *The Redis connections*.)
pub(super) enum Connections {
    /// To one Redis: a few for each thread, used in turn.
    Single(Box<ThreadConnections>),
    /// To a Redis Cluster: one, which routes each command to the node of its key's slot
    /// (opened at first use).
    Cluster(
        Box<(
            redis::cluster::ClusterClient,
            tokio::sync::OnceCell<redis::cluster_async::ClusterConnection>,
        )>,
    ),
}

/// Connections to one Redis for each thread that sends requests, made at its first request on
/// the thread's runtime, which drives them from then on. A thread that stops leaves its entry
/// behind (its connections closed with its runtime): the threads are few and live as long as the
/// node (its arbiters and HTTP workers).
pub(super) struct ThreadConnections {
    pub(super) config: redis::aio::ConnectionManagerConfig,
    pub(super) per_thread: usize,
    pub(super) by_thread:
        parking_lot::Mutex<HashMap<std::thread::ThreadId, Vec<redis::aio::ConnectionManager>>>,
}

impl ThreadConnections {
    /// The calling thread's `index`-th connection (modulo their number) to `client`'s Redis.
    /// Must be called on a runtime.
    fn get(
        &self,
        client: &redis::Client,
        index: usize,
    ) -> Result<redis::aio::ConnectionManager, StoreError> {
        let mut by_thread = self.by_thread.lock();
        let managers = match by_thread.entry(std::thread::current().id()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let managers = (0..self.per_thread)
                    .map(|_| {
                        redis::aio::ConnectionManager::new_lazy_with_config(
                            client.clone(),
                            self.config.clone(),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unavailable)?;
                entry.insert(managers)
            }
        };
        Ok(managers[index % managers.len()].clone())
    }
}

/// A connection to one Redis or to a cluster.
#[derive(Clone)]
pub(super) enum Connection {
    Single(redis::aio::ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// On one Redis, a request refused because the connection could not be made (the manager's
/// last attempt, while Redis was down) was never sent: it is sent once more, over the new
/// connection that the refusal started. Without it, each connection idle through an outage failed
/// its first request after Redis came back.
impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            Self::Single(con) => Box::pin(async move {
                match con.req_packed_command(cmd).await {
                    Err(error) if error.is_connection_refusal() => {
                        con.req_packed_command(cmd).await
                    }
                    result => result,
                }
            }),
            Self::Cluster(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(con) => Box::pin(async move {
                match con.req_packed_commands(pipeline, offset, count).await {
                    Err(error) if error.is_connection_refusal() => {
                        con.req_packed_commands(pipeline, offset, count).await
                    }
                    result => result,
                }
            }),
            Self::Cluster(con) => con.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(con) => con.get_db(),
            Self::Cluster(con) => con.get_db(),
        }
    }
}

/// Runs independent commands in one round trip: one pipeline on one Redis; on a cluster, where
/// a pipeline's keys must share one slot, all at once on the multiplexed connection (which
/// sends each to its slot's node).
pub(super) async fn query_each<T: redis::FromRedisValue>(
    con: &mut Connection,
    commands: impl Iterator<Item = redis::Cmd>,
) -> Result<Vec<T>, StoreError> {
    match con {
        Connection::Single(_) => {
            let mut pipe = redis::pipe();
            for command in commands {
                pipe.add_command(command);
            }
            pipe.query_async(con).await.map_err(unavailable)
        }
        Connection::Cluster(cluster) => {
            let replies = commands.map(|command| {
                let mut cluster = cluster.clone();
                async move { command.query_async::<T>(&mut cluster).await }
            });
            futures_util::future::try_join_all(replies)
                .await
                .map_err(unavailable)
        }
    }
}

/// A connection subscribed to `channel`.
pub(super) async fn subscribe_to(
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSub, StoreError> {
    let mut pubsub = client.get_async_pubsub().await.map_err(unavailable)?;
    pubsub.subscribe(channel).await.map_err(unavailable)?;
    Ok(pubsub)
}

/// Forwards the messages of `channel` to `sender` until its receiver is dropped, subscribing
/// again whenever the connection is lost.
pub(super) async fn forward(
    mut pubsub: redis::aio::PubSub,
    client: redis::Client,
    channel: String,
    sender: tokio::sync::mpsc::UnboundedSender<String>,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(message) => {
                            let Ok(payload) = message.get_payload::<String>() else { continue };
                            if sender.send(payload).is_err() {
                                return;
                            }
                        }
                        None => break,
                    },
                    () = sender.closed() => return,
                }
            }
        }
        tracing::warn!("subscription lost, subscribing again");
        pubsub = loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if sender.is_closed() {
                return;
            }
            if let Ok(pubsub) = subscribe_to(&client, &channel).await {
                break pubsub;
            }
        };
    }
}

impl Inner {
    pub(super) async fn connection(&self) -> Result<Connection, StoreError> {
        match &self.connections {
            Connections::Single(connections) => {
                let index = self.next_connection.fetch_add(1, Ordering::Relaxed);
                connections.get(&self.client, index).map(Connection::Single)
            }
            Connections::Cluster(cluster) => cluster
                .1
                .get_or_try_init(|| cluster.0.get_async_connection())
                .await
                .cloned()
                .map(Connection::Cluster)
                .map_err(unavailable),
        }
    }
}
