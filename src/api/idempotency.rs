//! `X-Idempotency-Key` on creates: the first request with a key runs and its response is kept
//! for 24 h; a retry with the same key and the same request replays that response; the same key
//! with a different request, or while the first still runs, is `409 idempotency_conflict`. A
//! request that failed keeps nothing, so it can be retried with its key; a reservation whose
//! node died frees itself after 5 minutes.

use std::future::Future;

use actix_web::body::{MessageBody, to_bytes};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderName};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::domain::{DomainError, OrgId};
use crate::store::{Idempotency, StoredResponse};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("x-idempotency-key");
/// Set on a replayed response.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Runs `handle` at most once per idempotency key of the request (when it has one).
pub async fn once<F, Fut>(
    state: &AppState,
    org: &OrgId,
    request: &HttpRequest,
    body: &[u8],
    handle: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<HttpResponse, ApiError>>,
{
    once_by(state, org, request, &[body], handle).await
}

/// Like [`once`], for a request whose body is read while it is handled: `parts` stand for the
/// body in the fingerprint (a streamed upload gives its length and its first bytes).
pub async fn once_by<F, Fut>(
    state: &AppState,
    org: &OrgId,
    request: &HttpRequest,
    parts: &[&[u8]],
    handle: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<HttpResponse, ApiError>>,
{
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY) else {
        return handle().await;
    };
    let key = key
        .to_str()
        .ok()
        .filter(|key| (1..=255).contains(&key.len()))
        .ok_or_else(|| {
            DomainError::new(
                "X-Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    // The same key on another route or campaign is another request.
    let mut fingerprint = Sha256::new();
    fingerprint.update(request.method().as_str());
    fingerprint.update(b" ");
    fingerprint.update(request.path());
    fingerprint.update(b"\n");
    for part in parts {
        fingerprint.update(part);
    }
    let fingerprint: [u8; 32] = fingerprint.finalize().into();
    match state.store.begin_idempotent(org, key, fingerprint).await? {
        Idempotency::Started => {}
        Idempotency::Replay(stored) => return Ok(replay(stored)),
        Idempotency::NotKept => return Err(ApiError::IdempotencyNotKept),
        Idempotency::Conflict => return Err(ApiError::IdempotencyConflict),
        Idempotency::InProgress => return Err(ApiError::IdempotencyInProgress),
    }
    let response = match handle().await {
        Ok(response) if response.status().is_success() => response,
        other => {
            state.store.abandon_idempotent(org, key).await?;
            return other;
        }
    };
    let status = response.status();
    let (response, body) = response.into_parts();
    let body = to_bytes(body)
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let stored = StoredResponse {
        status: status.as_u16(),
        body: body.to_vec(),
    };
    // The request took effect: its answer goes to the client even if it cannot be kept (a retry
    // then meets the reservation, 409, until it expires).
    if let Err(error) = state
        .store
        .finish_idempotent(org, key, fingerprint, stored)
        .await
    {
        tracing::warn!(%error, "idempotent response not stored");
    }
    Ok(response.set_body(body.boxed()))
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((REPLAYED, "true"))
        .body(stored.body)
}
