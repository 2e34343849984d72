//! [`Bus`] on Redis: PUBLISH, and subscriptions that outlive outages.

use async_trait::async_trait;
use redis::AsyncCommands;

use super::connections::{Connection, forward, subscribe_to};
use super::{RedisStore, unavailable};
use crate::store::{Bus, StoreError, Subscription};

#[async_trait]
impl Bus for RedisStore {
    async fn publish(&self, channel: &str, message: &str) -> Result<usize, StoreError> {
        let (channel, message) = (self.inner.keys.channel(channel), message.to_owned());
        self.io(move |inner| async move {
            let mut con = Connection::Single(inner.control.clone());
            con.publish(channel, message).await.map_err(unavailable)
        })
        .await
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let channel = self.inner.keys.channel(channel);
        let client = self.inner.client.clone();
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let subscribed = {
            let (client, channel) = (client.clone(), channel.clone());
            self.io(move |_| async move { subscribe_to(&client, &channel).await })
                .await?
        };
        self.runtime
            .0
            .as_ref()
            .expect("the runtime lives as long as the store")
            .spawn(forward(subscribed, client, channel, sender));
        Ok(receiver)
    }
}
