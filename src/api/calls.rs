//! `POST /calls/{call_id}/events`: call outcomes sent by the dialer provider, signed with the
//! dialer secret (HMAC-SHA256 over `"{timestamp}.{raw body}"`, refused beyond 5 minutes). The
//! outcome goes to the campaign's actor; a second report of the same attempt changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::envelope::respond;
use super::json::{RawBody, parse};
use super::{ApiError, AppState};
use crate::dialer::{CallReport, ReportedOutcome};
use crate::domain::{CallId, DomainError};
use crate::webhooks::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/calls/{call_id}/events", web::post().to(call_event));
}

/// A call event: `{"event": "call.ended"|"call.failed", "outcome": …, "duration_seconds": n}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallEventInput {
    pub event: String,
    pub outcome: String,
    #[serde(default)]
    pub duration_seconds: Option<u32>,
}

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
        json!({ "call_id": call_id.to_string(), "accepted": true }),
    ))
}
