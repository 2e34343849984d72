//! The success envelope `{data, meta}` and the request id that every response carries.

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::telemetry::{HTTP_LATENCY, HTTP_REQUESTS};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request being served, for the `meta` of its body and for its log lines.
    static CURRENT_REQUEST_ID: String;
}

/// `meta` of every answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    request_id: String,
    /// RFC 3339 UTC.
    ts: String,
}

impl Meta {
    /// The `meta` of the request being served.
    pub fn current() -> Self {
        let request_id = CURRENT_REQUEST_ID
            .try_with(Clone::clone)
            .unwrap_or_default();
        Self::of(request_id)
    }

    /// Stamps `request_id`; the wall clock is read for the envelope's `ts` only, which is
    /// metadata, not a decision.
    #[allow(
        clippy::disallowed_methods,
        reason = "the envelope timestamp is metadata, not a decision"
    )]
    pub fn of(request_id: String) -> Self {
        Self {
            request_id,
            ts: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

/// The success envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    data: T,
    meta: Meta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    total: u64,
    limit: u32,
    offset: u64,
    has_more: bool,
}

/// The envelope of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    data: Vec<T>,
    meta: Meta,
    pagination: Pagination,
}

/// Something a request did that the client should know although it succeeded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Warning {
    /// `outside_legal_hours`: the window reaches outside a region's legal calling hours; its
    /// contacts there wait for them.
    pub code: &'static str,
    pub message: String,
}

/// The success envelope with warnings beside the data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Warned<T> {
    data: T,
    warnings: Vec<Warning>,
    meta: Meta,
}

/// `{data, warnings, meta}` with `status`; `{data, meta}` when there is no warning.
pub fn respond_warned(
    status: StatusCode,
    data: impl Serialize,
    warnings: Vec<Warning>,
) -> HttpResponse {
    if warnings.is_empty() {
        return respond(status, data);
    }
    HttpResponse::build(status).json(Warned {
        data,
        warnings,
        meta: Meta::current(),
    })
}

/// `{data, meta}` with `status`.
pub fn respond(status: StatusCode, data: impl Serialize) -> HttpResponse {
    HttpResponse::build(status).json(Data {
        data,
        meta: Meta::current(),
    })
}

pub fn ok(data: impl Serialize) -> HttpResponse {
    respond(StatusCode::OK, data)
}

/// `{data, meta, pagination}`.
pub fn page<T: Serialize>(data: Vec<T>, total: u64, limit: u32, offset: u64) -> HttpResponse {
    HttpResponse::Ok().json(Paged {
        data,
        meta: Meta::current(),
        pagination: Pagination {
            total,
            limit,
            offset,
            has_more: offset.saturating_add(u64::from(limit)) < total,
        },
    })
}

fn valid_client_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let valid = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    valid.then(|| text.to_owned())
}

/// Middleware: takes the client's `X-Request-Id` (when sane) or makes one, serves the request
/// inside a span and scope that carry it, and echoes it on the response.
pub async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(valid_client_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let started = std::time::Instant::now();
    let method = method_label(request.method());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.path());
    let served = CURRENT_REQUEST_ID.scope(
        id.clone(),
        tracing::Instrument::instrument(next.call(request), span.clone()),
    );
    let mut response = served.await?;
    // The route pattern, not the path: ids never become label values.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed();
    // Inside the request's span: the line carries its request id.
    span.in_scope(|| tracing::debug!(%status, latency_us = elapsed.as_micros() as u64, "served"));
    let labels = [
        ("route", route),
        ("method", method.to_owned()),
        ("status", status),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_LATENCY, &labels).record(elapsed);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// The method as a metric label: one of the methods the API knows, or `other` (a client can
/// send any token as a method, and each would be a new series).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
