//! Calling contacts again: `POST /batch-calls/{id}/retry` puts back the final contacts whose
//! last call ended with the given outcomes; a callback (`POST …/contacts/{contact_id}/callback`
//! or a call event's `callback_at`) makes one contact due again at a time of its own.

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
    config
        .route("/batch-calls/{id}/retry", web::post().to(retry))
        .route(
            "/batch-calls/{id}/contacts/{contact_id}/callback",
            web::post().to(callback),
        );
}

/// How far ahead a callback may be.
const MAX_CALLBACK_AHEAD_DAYS: i64 = 30;

/// The body of `POST …/callback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackInput {
    /// RFC 3339, at most 30 days ahead (a time past is now).
    #[schema(example = "2026-12-01T17:30:00Z")]
    at: String,
}

/// A contact called back.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackView {
    contact_id: String,
    status: &'static str,
    /// When the callback is due: the time asked, or the first instant after it that the
    /// callee's rules (window, legal hours, quiet hours) allow.
    pub(super) scheduled_at: String,
    held_reason: &'static str,
}

/// A callback's time from a client: RFC 3339, at most 30 days ahead of `now`.
pub(super) fn callback_at(
    field: &str,
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, DomainError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&chrono::Utc))
        .ok()
        .filter(|&at| at <= now + chrono::Duration::days(MAX_CALLBACK_AHEAD_DAYS))
        .map(|at| at.max(now))
        .ok_or_else(|| {
            DomainError::new(
                field,
                format!("`{text}` is not an RFC 3339 instant at most 30 days ahead"),
            )
        })
}

/// Sets a callback and wakes the campaign's dispatcher; the view of the contact called back.
pub(super) async fn set_callback(
    state: &AppState,
    org: &crate::domain::OrgId,
    id: crate::domain::CampaignId,
    contact: crate::domain::ContactId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<CallbackView, ApiError> {
    let due = state
        .store
        .set_callback(org, id, contact, at, state.clock.now())
        .await?;
    state.directory.wake(id);
    Ok(CallbackView {
        contact_id: contact.to_string(),
        status: "scheduled",
        scheduled_at: due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        held_reason: crate::domain::HeldReason::CallbackPending.as_str(),
    })
}

/// Calls a contact back at `at`, or at the first instant after it that the callee's rules
/// allow (answered as `scheduled_at`): a new attempt, within the campaign's `max_callbacks` for
/// the contact, under every rule (do-not-call, frequency caps) when it is due. Only a contact
/// called before that is waiting or finished (`completed`, `failed`, `unknown`) can be called
/// back; from `scheduled`, `active`, `paused` or `completed` (which goes back to `active`).
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/contacts/{contact_id}/callback", tag = "batch-calls",
    params(
        ("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)"),
        ("contact_id" = String, Path, description = "The contact's `contact_id`"),
    ),
    request_body = CallbackInput,
    responses((status = 200, body = envelope::Data<CallbackView>)))]
async fn callback(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<(String, String)>,
    ValidJson(input): ValidJson<CallbackInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, contact) = path.into_inner();
    let id = crate::domain::CampaignId::parse(&id).map_err(|_| ApiError::NotFound)?;
    let contact = crate::domain::ContactId::parse(&contact).map_err(|_| ApiError::NotFound)?;
    let at = callback_at("at", &input.at, state.clock.now())?;
    Ok(ok(set_callback(&state, &org, id, contact, at).await?))
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
                            "`{name}` is not one of completed, no_answer, busy, voicemail, failed, refused"
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
