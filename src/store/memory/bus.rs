//! [`Bus`] in memory: a channel per subscriber.

use async_trait::async_trait;

use super::MemoryStore;
use crate::store::{Bus, StoreError, Subscription};

#[async_trait]
impl Bus for MemoryStore {
    async fn publish(&self, channel: &str, message: &str) -> Result<usize, StoreError> {
        let mut channels = self.inner.channels.lock();
        let Some(subscribers) = channels.get_mut(channel) else {
            return Ok(0);
        };
        subscribers.retain(|subscriber| subscriber.send(message.to_owned()).is_ok());
        Ok(subscribers.len())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.inner
            .channels
            .lock()
            .entry(channel.to_owned())
            .or_default()
            .push(sender);
        Ok(receiver)
    }
}
