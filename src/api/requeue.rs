//! Calling final contacts again: `POST /batch-calls/{id}/retry` puts back those whose last call
//! ended with the given outcomes.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Org;
use super::campaigns::campaign_id;
use super::envelope::{self, ok};
use super::json::ValidJson;
use super::{ApiError, AppState};
use crate::domain::{DialOutcome, DomainError};

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/batch-calls/{id}/retry", web::post().to(retry));
}

/// The body of `POST …/retry`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryInput {
    /// The outcomes whose contacts are called again (`completed`, `no_answer`, `busy`,
    /// `voicemail`, `failed`); default `["no_answer", "busy", "failed"]`.
    #[schema(max_items = 5, example = json!(["no_answer", "busy", "failed"]))]
    outcomes: Option<Vec<String>>,
    /// Also the `unknown` contacts (a call whose outcome never came: it may have connected).
    include_unknown: Option<bool>,
}

/// What a retry did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequeuedView {
    /// Contacts put back in the queue.
    requeued_count: u64,
    /// The campaign's status after (a `completed` campaign with contacts put back is `active`).
    status: &'static str,
}

/// Puts the final contacts whose last call ended with one of `outcomes` back in the queue, due
/// at once under every rule (window, legal floor, caps, do-not-call); their attempts go on from
/// the last, so each call keeps a new idempotency key. From `active`, `paused` or `completed`.
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/retry", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")),
    request_body = RetryInput,
    responses((status = 200, body = envelope::Data<RequeuedView>)))]
async fn retry(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
    ValidJson(input): ValidJson<RetryInput>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let outcomes = match &input.outcomes {
        None => vec![
            DialOutcome::NoAnswer,
            DialOutcome::Busy,
            DialOutcome::Failed,
        ],
        Some(names) => names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                DialOutcome::parse(name).ok_or_else(|| {
                    DomainError::new(
                        format!("outcomes[{i}]"),
                        format!(
                            "`{name}` is not one of completed, no_answer, busy, voicemail, failed"
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let include_unknown = input.include_unknown.unwrap_or(false);
    if outcomes.is_empty() && !include_unknown {
        return Err(DomainError::new("outcomes", "name at least one outcome").into());
    }
    let (campaign, requeued_count) = state
        .store
        .requeue(&org, id, &outcomes, include_unknown, state.clock.now())
        .await?;
    if requeued_count > 0 {
        state.directory.wake(id);
    }
    Ok(ok(RequeuedView {
        requeued_count,
        status: campaign.status.as_str(),
    }))
}
