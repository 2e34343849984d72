//! Recovery on the Redis store: a node that stops mid-campaign and a new one on the same data.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use pacer::domain::DialOutcome;

use crate::helpers::{monday_8am, redis_store_at, spawn_app_on};

#[actix_web::test]
async fn a_new_node_continues_a_campaign_and_never_redials_a_lost_call() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let first = spawn_app_on(Arc::new(redis_store_at(&prefix)), monday_8am()).await;
    let id = first.start_campaign(6, 2).await;
    first.dialer.finish_all(DialOutcome::Completed);
    first.tick().await;
    assert_eq!(first.dialer.n_placed(), 4);
    assert_eq!(
        first.dialer.running().len(),
        2,
        "two calls are in flight when the node dies"
    );
    let lost: HashSet<String> = first
        .dialer
        .running()
        .iter()
        .map(|call| call.phone.as_str().to_owned())
        .collect();
    first.kill().await;

    // A new node on the same Redis, two hours later: past the calls' one-hour deadline.
    let second = spawn_app_on(
        Arc::new(redis_store_at(&prefix)),
        monday_8am() + Duration::hours(2),
    )
    .await;
    second.tick().await;
    for _ in 0..10 {
        if second.finish_all(DialOutcome::Completed).await == 0 {
            break;
        }
    }
    let campaign = second.campaign(&id).await;
    assert_eq!(campaign["status"], "completed");
    assert_eq!(
        (campaign["completed"].as_u64(), campaign["unknown"].as_u64()),
        (Some(4), Some(2))
    );
    let first_dials: HashSet<String> = first
        .dialer
        .placed()
        .iter()
        .map(|placed| placed.call.phone.as_str().to_owned())
        .collect();
    let second_dials: Vec<String> = second
        .dialer
        .placed()
        .iter()
        .map(|placed| placed.call.phone.as_str().to_owned())
        .collect();
    assert_eq!(second_dials.len(), 2);
    assert!(
        second_dials
            .iter()
            .all(|phone| !first_dials.contains(phone)),
        "no contact is called twice"
    );
    let unknown = second
        .get(&format!("/batch-calls/{id}/contacts?status=unknown"))
        .await
        .expect(200);
    let unknown: HashSet<String> = unknown
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|contact| contact["phone_number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unknown, lost);
}
