//! The organisation's webhook dead letters: events the receiver kept refusing past the
//! operator's limits (attempts, age), or pushed out of a full outbox. An operator lists them and
//! sends them again, under their own ids.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use utoipa::IntoParams;

use super::auth::Org;
use super::campaigns::{page_of, query};
use super::envelope::{self, ok, page};
use super::json::ValidJson;
use super::{ApiError, AppState};
use crate::domain::DomainError;
use crate::store::DeadLetter;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/webhooks/dead-letters", web::get().to(dead_letters))
        .route("/webhooks/dead-letters/replay", web::post().to(replay));
}

/// A webhook given up on.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    /// The event's id (its `webhook-id` header when it was sent).
    id: String,
    /// The event's name, e.g. `call.ended`.
    event: Option<String>,
    /// When the event happened, and when it was given up (RFC 3339).
    timestamp: String,
    failed_at: String,
    /// The last answer, the age or the full outbox that gave it up.
    reason: String,
    /// The event as it was sent.
    #[schema(value_type = Object)]
    body: serde_json::Value,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(letter: DeadLetter) -> Self {
        let body: serde_json::Value =
            serde_json::from_slice(&letter.body).unwrap_or(serde_json::Value::Null);
        let rfc3339 = |at: chrono::DateTime<chrono::Utc>| {
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        Self {
            id: letter.id,
            event: body["event"].as_str().map(str::to_owned),
            timestamp: rfc3339(letter.at),
            failed_at: rfc3339(letter.failed_at),
            reason: letter.reason,
            body,
        }
    }
}

/// The page of a list without filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Items to skip, default 0.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    offset: Option<String>,
}

/// The organisation's dead letters, oldest first.
#[utoipa::path(get, path = "/api/public/v1/webhooks/dead-letters", tag = "webhooks",
    params(PageQuery),
    responses((status = 200, body = envelope::Paged<DeadLetterView>)))]
async fn dead_letters(
    state: web::Data<AppState>,
    Org(org): Org,
    params: Result<web::Query<PageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let params: PageQuery = query(params)?;
    let wanted = page_of(params.limit.as_deref(), params.offset.as_deref())?;
    let listing = state.store.dead_letters(&org, wanted).await?;
    let views: Vec<DeadLetterView> = listing.items.into_iter().map(Into::into).collect();
    Ok(page(views, listing.total, wanted.limit, wanted.offset))
}

/// The body of `POST /webhooks/dead-letters/replay`: `{"ids": [...]}` or `{"all": true}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    /// 1 to 1 000 ids of dead letters.
    #[schema(max_items = 1000)]
    ids: Option<Vec<String>>,
    /// Every dead letter of the organisation.
    all: Option<bool>,
}

/// How many dead letters were sent back to the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayedView {
    replayed_count: u64,
}

/// Sends dead letters again: they go to the end of the outbox under their own ids (receivers
/// recognise a repeat by its id).
#[utoipa::path(post, path = "/api/public/v1/webhooks/dead-letters/replay", tag = "webhooks",
    request_body = ReplayInput,
    responses((status = 200, body = envelope::Data<ReplayedView>)))]
async fn replay(
    state: web::Data<AppState>,
    Org(org): Org,
    ValidJson(input): ValidJson<ReplayInput>,
) -> Result<HttpResponse, ApiError> {
    let ids = match (input.ids, input.all) {
        (Some(ids), None | Some(false)) if (1..=1_000).contains(&ids.len()) => Some(ids),
        (Some(_), None | Some(false)) => {
            return Err(DomainError::new("ids", "must name 1 to 1000 dead letters").into());
        }
        (None, Some(true)) => None,
        _ => {
            return Err(DomainError::new("body", "give either `ids` or `\"all\": true`").into());
        }
    };
    let replayed_count = state.webhooks.replay(&org, ids).await?;
    Ok(ok(ReplayedView { replayed_count }))
}
