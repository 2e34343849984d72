//! `POST /calls/{call_id}/events`: call outcomes sent by the dialer provider, signed with the
//! dialer secret (HMAC-SHA256 over `"{timestamp}.{call_id}.{raw body}"`, refused beyond 5
//! minutes). What can be checked without the body is checked first (the signature's headers and
//! age, the call id known), so an unsigned flood never makes the node read a body; the body
//! itself is small ([`EVENT_BODY_LIMIT`]). The outcome goes to the campaign's actor; a second
//! report of the same attempt changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::{self, respond};
use super::json::{BodyLimit, parse, read_body_within};
use super::{ApiError, AppState};
use crate::dialer::{CallReport, ReportedOutcome};
use crate::domain::{CallId, DomainError};
use crate::webhooks::signature::{SIGNATURE_HEADER, Signed, TIMESTAMP_HEADER};

/// The largest call event taken, in bytes: an event is a few fields.
pub const EVENT_BODY_LIMIT: usize = 64 * 1024;

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/calls/{call_id}/events", web::post().to(call_event));
}

/// A call event: `{"event": "call.ended"|"call.failed", "outcome": …, "duration_seconds": n,
/// "opt_out": bool}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventInput {
    /// `call.ended` or `call.failed`.
    #[schema(example = "call.ended")]
    pub event: String,
    /// `completed`, `no_answer`, `busy`, `voicemail`, `failed` or `refused` (the callee
    /// declined: final, never retried).
    #[schema(example = "completed")]
    pub outcome: String,
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    /// The callee asked not to be called again: the number goes on the organisation's
    /// do-not-call list (reason `opt_out`) before this event is answered.
    #[serde(default)]
    pub opt_out: Option<bool>,
    /// RFC 3339, at most 30 days ahead: the callee asked to be called back then (a new
    /// attempt, within the campaign's `max_callbacks`).
    #[serde(default)]
    pub callback_at: Option<String>,
}

/// The answer to a call event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventAccepted {
    call_id: String,
    accepted: bool,
    /// When the callback the event asked for is due, if it was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_scheduled_at: Option<String>,
    /// Why the callback the event asked for was not set (the outcome is recorded anyway).
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_refused: Option<String>,
}

/// Reports how a placed call ended. Signed by the provider with the dialer secret:
/// `X-Pacer-Signature` is the hex HMAC-SHA256 of `"{X-Pacer-Timestamp}.{call_id}.{raw body}"`
/// (the call id as in the path); a timestamp more than 5 minutes away is refused. The body is at
/// most 64 KiB. A second report of the same call changes nothing.
#[utoipa::path(post, path = "/api/public/v1/calls/{call_id}/events", tag = "calls",
    params(
        ("call_id" = String, Path, description = "The `call_id` of the dial request"),
        ("X-Pacer-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Pacer-Signature" = String, Header, description = "Hex HMAC-SHA256 of `{timestamp}.{call_id}.{raw body}`"),
    ),
    request_body = CallEventInput,
    responses((status = 202, body = envelope::Data<EventAccepted>)))]
async fn call_event(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let secret = state
        .call_events_secret
        .as_deref()
        .ok_or(ApiError::BadSignature(
            "call events are not enabled on this node",
        ))?;
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let now = state.clock.now().timestamp();
    let signed = Signed::from_headers(&header(TIMESTAMP_HEADER), &header(SIGNATURE_HEADER), now)
        .map_err(|error| ApiError::BadSignature(error.message()))?;
    let call_id = CallId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let call = state
        .store
        .find_call(call_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let limit = request
        .app_data::<web::Data<BodyLimit>>()
        .map_or_else(BodyLimit::default, |rules| *rules.get_ref());
    let body = read_body_within(
        BodyLimit {
            bytes: EVENT_BODY_LIMIT,
            ..limit
        },
        &request,
        &mut payload.into_inner(),
    )
    .await?;
    signed
        .verify_call_event(secret, &call_id.to_string(), &body)
        .map_err(|error| ApiError::BadSignature(error.message()))?;
    let input: CallEventInput = parse(&body)?;
    if !matches!(input.event.as_str(), "call.ended" | "call.failed") {
        return Err(DomainError::new("event", "must be `call.ended` or `call.failed`").into());
    }
    let reported = ReportedOutcome {
        outcome: input.outcome,
        duration_seconds: input.duration_seconds,
    };
    let result = reported.result().ok_or_else(|| {
        DomainError::new(
            "outcome",
            "must be one of completed, no_answer, busy, voicemail, failed, refused",
        )
    })?;
    let now = state.clock.now();
    let callback_at = input
        .callback_at
        .as_deref()
        .map(|text| super::requeue::callback_at("callback_at", text, now))
        .transpose()?;
    if input.opt_out == Some(true) {
        let (org, number) = state
            .store
            .call_party(call.campaign_id, call.contact_id)
            .await?;
        super::dnc::opt_out(&state, &org, number).await?;
    }
    let (mut callback_scheduled_at, mut callback_refused) = (None, None);
    if let Some(at) = callback_at {
        // The outcome first (a second report of it changes nothing), so that the contact is
        // finished or waiting when its callback is set.
        state
            .store
            .record_outcome(call.campaign_id, call.contact_id, call.attempt, result, now)
            .await?;
        let org = state
            .store
            .call_party(call.campaign_id, call.contact_id)
            .await?
            .0;
        match super::requeue::set_callback(&state, &org, call.campaign_id, call.contact_id, at)
            .await
        {
            Ok(view) => callback_scheduled_at = Some(view.scheduled_at),
            Err(ApiError::Validation(error)) => callback_refused = Some(error.to_string()),
            Err(ApiError::InvalidState(error)) => callback_refused = Some(error.to_string()),
            Err(error) => return Err(error),
        }
    }
    state.directory.report(CallReport {
        campaign_id: call.campaign_id,
        contact_id: call.contact_id,
        attempt: call.attempt,
        result,
    });
    Ok(respond(
        StatusCode::ACCEPTED,
        EventAccepted {
            call_id: call_id.to_string(),
            accepted: true,
            callback_scheduled_at,
            callback_refused,
        },
    ))
}
