//! `POST /calls/{call_id}/events`: call outcomes sent by the dialer provider, signed with the
//! dialer secret (HMAC-SHA256 over `"{timestamp}.{raw body}"`, refused beyond 5 minutes). The
//! outcome goes to the campaign's actor; a second report of the same attempt changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::respond;
use super::json::{RawBody, parse};
#[allow(unused_imports, reason = "named only in the OpenAPI annotation")]
use super::openapi::Data;
use super::{ApiError, AppState};
use crate::dialer::{CallReport, ReportedOutcome};
use crate::domain::{CallId, DomainError};
use crate::webhooks::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};

/// The answer to a call event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventAccepted {
    call_id: String,
    accepted: bool,
}

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/calls/{call_id}/events", web::post().to(call_event));
}

/// A call event: `{"event": "call.ended"|"call.failed", "outcome": …, "duration_seconds": n}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventInput {
    /// `call.ended` or `call.failed`.
    #[schema(example = "call.ended")]
    pub event: String,
    /// `completed`, `no_answer`, `busy`, `voicemail` or `failed`.
    #[schema(example = "completed")]
    pub outcome: String,
    #[serde(default)]
    pub duration_seconds: Option<u32>,
}

/// Reports how a placed call ended. Signed by the provider with the dialer secret:
/// `X-Pacer-Signature` is the hex HMAC-SHA256 of `"{X-Pacer-Timestamp}.{raw body}"`; a timestamp
/// more than 5 minutes away is refused. A second report of the same call changes nothing.
#[utoipa::path(post, path = "/api/public/v1/calls/{call_id}/events", tag = "calls",
    params(
        ("call_id" = String, Path, description = "The `call_id` of the dial request"),
        ("X-Pacer-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Pacer-Signature" = String, Header, description = "Hex HMAC-SHA256"),
    ),
    request_body = CallEventInput,
    responses((status = 202, body = Data<EventAccepted>)))]
async fn call_event(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    RawBody(body): RawBody,
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
    verify(
        secret,
        &header(TIMESTAMP_HEADER),
        &header(SIGNATURE_HEADER),
        &body,
        now,
    )
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
            "must be one of completed, no_answer, busy, voicemail, failed",
        )
    })?;
    let call_id = CallId::parse(&path).map_err(|_| ApiError::NotFound)?;
    let call = state
        .store
        .find_call(call_id)
        .await?
        .ok_or(ApiError::NotFound)?;
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
        },
    ))
}
