//! The bus between nodes.

use std::sync::Arc;

use pacer::store::CampaignStore;

pub async fn published_messages_reach_every_subscriber_in_order(store: Arc<dyn CampaignStore>) {
    assert_eq!(store.publish("node-a", "lost").await.unwrap(), 0);
    let mut first = store.subscribe("node-a").await.unwrap();
    let mut second = store.subscribe("node-a").await.unwrap();
    let mut other = store.subscribe("node-b").await.unwrap();
    for message in ["one", "two", "three"] {
        assert_eq!(store.publish("node-a", message).await.unwrap(), 2);
    }
    for subscriber in [&mut first, &mut second] {
        let mut got = Vec::new();
        for _ in 0..3 {
            let message =
                tokio::time::timeout(std::time::Duration::from_secs(5), subscriber.recv());
            got.push(message.await.expect("a message in time").unwrap());
        }
        assert_eq!(got, ["one", "two", "three"]);
    }
    assert!(other.try_recv().is_err(), "another channel hears nothing");
    // A dropped subscriber is no longer counted.
    drop(second);
    let receivers = store.publish("node-a", "four").await.unwrap();
    assert_eq!(first.recv().await.as_deref(), Some("four"));
    assert!(receivers >= 1);
}

on_every_backend!(published_messages_reach_every_subscriber_in_order,);
