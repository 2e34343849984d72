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
    // Another channel hears nothing of them: the first message it gets is its own.
    assert_eq!(store.publish("node-b", "mine").await.unwrap(), 1);
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), other.recv());
    assert_eq!(heard.await.expect("in time").as_deref(), Some("mine"));
    // A dropped subscriber is no longer counted (once its unsubscription went through: bounded).
    drop(second);
    let mut receivers = 2;
    for attempt in 0..100 {
        receivers = store.publish("node-a", "four").await.unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), first.recv());
        assert_eq!(
            heard.await.expect("in time").as_deref(),
            Some("four"),
            "{attempt}"
        );
        if receivers == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(receivers, 1);
}

on_every_backend!(published_messages_reach_every_subscriber_in_order,);
