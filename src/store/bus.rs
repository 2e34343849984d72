//! The bus: messages between nodes (pub/sub), for the notes of `cluster::control`.

use async_trait::async_trait;

use super::StoreError;

/// Messages of a channel, in the order they were published.
pub type Subscription = tokio::sync::mpsc::UnboundedReceiver<String>;

/// Messages to every node of the store, as they are published (nothing is kept).
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `message` to every subscriber of `channel`, on every node; how many there were.
    async fn publish(&self, channel: &str, message: &str) -> Result<usize, StoreError>;

    /// The messages published on `channel` from the moment this returns, until the receiver is
    /// dropped. The subscription outlives store outages; what is published meanwhile is lost.
    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError>;
}
