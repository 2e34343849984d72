//! `ApiError`: every failure of the API as one enum, mapped to a status and the JSON error
//! envelope. Causes of 5xx errors go to the log once, here; the body stays opaque.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::Meta;
use crate::domain::{DomainError, InvalidTransition};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(DomainError),
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("the request must give its body's length (`Content-Length`)")]
    LengthRequired,
    #[error("the body must be CSV (`text/csv`), not `{0}`")]
    UnsupportedMediaType(String),
    /// A signed request (a call event) whose signature does not hold.
    #[error("invalid signature: {0}")]
    BadSignature(&'static str),
    #[error("rate limit exceeded, retry in {retry_after_secs} s")]
    RateLimited {
        limit: u32,
        reset_at: chrono::DateTime<chrono::Utc>,
        retry_after_secs: u64,
    },
    #[error("this idempotency key was used with a different request body")]
    IdempotencyConflict,
    #[error("a request with this idempotency key is still running")]
    IdempotencyInProgress,
    #[error("the request with this idempotency key ran; its response was too large to keep")]
    IdempotencyNotKept,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    InvalidState(InvalidTransition),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// With `strict_expiry`, a plan that cannot finish before `expires_at`: the earliest
    /// expiry that would do.
    #[error(
        "expires_at: the campaign cannot finish before it; the earliest that fits is {minimum}"
    )]
    ExpiryTooSoon {
        minimum: chrono::DateTime<chrono::Utc>,
    },
    /// A list in the body is longer than its route takes (e.g. do-not-call entries).
    #[error("`{field}` holds more than {limit} items")]
    TooManyItems { field: &'static str, limit: usize },
    #[error("the request's body did not arrive in time")]
    BodyTimeout,
    #[error("the store is unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) | Self::ExpiryTooSoon { .. } => "validation_error",
            Self::MalformedJson(_) => "validation_error",
            Self::LengthRequired => "length_required",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized | Self::BadSignature(_) => "unauthorized",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::IdempotencyConflict | Self::IdempotencyInProgress | Self::IdempotencyNotKept => {
                "idempotency_conflict"
            }
            Self::NotFound => "not_found",
            Self::InvalidState(_) => "invalid_state",
            Self::PayloadTooLarge { .. } | Self::TooManyItems { .. } => "payload_too_large",
            Self::BodyTimeout => "request_timeout",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn details(&self) -> ErrorDetails {
        match self {
            Self::Validation(error) => ErrorDetails::Field {
                field: error.field.clone(),
                reason: error.message.clone(),
            },
            Self::InvalidState(error) => ErrorDetails::Status {
                current_status: error.current.as_str(),
                allowed_from: error
                    .allowed_from()
                    .iter()
                    .map(|status| status.as_str())
                    .collect(),
            },
            Self::PayloadTooLarge { limit } => ErrorDetails::Limit {
                limit_bytes: *limit,
            },
            Self::ExpiryTooSoon { minimum } => ErrorDetails::Expiry {
                field: "expires_at",
                reason: "the campaign cannot finish before it under its rules".to_owned(),
                minimum_expires_at: minimum.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
            Self::TooManyItems { field, limit } => ErrorDetails::Items {
                field,
                limit_items: *limit,
            },
            Self::RateLimited {
                limit, reset_at, ..
            } => ErrorDetails::Rate {
                limit: *limit,
                reset_at: reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
            _ => ErrorDetails::None {},
        }
    }
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    error: ErrorBody,
    meta: Meta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `validation_error`, `unauthorized`, `not_found`, `invalid_state`, `idempotency_conflict`,
    /// `rate_limit_exceeded`, `payload_too_large`, `length_required`, `unsupported_media_type`,
    /// `request_timeout`, `unavailable`, `internal_error`.
    #[schema(value_type = String)]
    code: &'static str,
    message: String,
    /// E.g. `field` and `reason` for a validation error, `current_status` and `allowed_from`
    /// for an invalid state, `limit` and `reset_at` for a rate limit.
    #[schema(value_type = Object)]
    details: ErrorDetails,
}

/// What an error's `details` hold, by its code.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ErrorDetails {
    Field {
        field: String,
        reason: String,
    },
    Status {
        current_status: &'static str,
        allowed_from: Vec<&'static str>,
    },
    Limit {
        limit_bytes: usize,
    },
    Items {
        field: &'static str,
        limit_items: usize,
    },
    Expiry {
        field: &'static str,
        reason: String,
        minimum_expires_at: String,
    },
    Rate {
        limit: u32,
        reset_at: String,
    },
    None {},
}

/// The error envelope of an answer written outside any handler (by the listener): its code
/// follows from the status.
pub fn error_body(status: StatusCode, message: &str, request_id: String) -> Vec<u8> {
    let code = match status {
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE | StatusCode::PAYLOAD_TOO_LARGE => {
            "payload_too_large"
        }
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "validation_error",
    };
    let envelope = ErrorEnvelope {
        error: ErrorBody {
            code,
            message: message.to_owned(),
            details: ErrorDetails::None {},
        },
        meta: Meta::of(request_id),
    };
    serde_json::to_vec(&envelope).expect("the envelope serializes")
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        Self::Validation(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::InvalidState(error) => Self::InvalidState(error),
            StoreError::Invalid(error) => Self::Validation(error),
            StoreError::Unavailable(cause) => {
                metrics::counter!(crate::telemetry::STORE_ERRORS, "from" => "api").increment(1);
                Self::Unavailable(cause)
            }
            StoreError::StaleLease => {
                Self::Unavailable("the campaign moved to another dispatcher".to_owned())
            }
            StoreError::Corrupt(what) => Self::Internal(format!("unreadable {what} in the store")),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::ExpiryTooSoon { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::LengthRequired => StatusCode::LENGTH_REQUIRED,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized | Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::IdempotencyConflict | Self::IdempotencyInProgress | Self::IdempotencyNotKept => {
                StatusCode::CONFLICT
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::InvalidState(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } | Self::TooManyItems { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unavailable(cause) => tracing::warn!(%cause, "store unavailable"),
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Self::RateLimited {
            retry_after_secs, ..
        } = self
        {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        response.json(ErrorEnvelope {
            error: ErrorBody {
                code: self.code(),
                message: self.to_string(),
                details: self.details(),
            },
            meta: Meta::current(),
        })
    }
}

/// The answer to a route that does not exist: 404 in the error envelope.
pub async fn no_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
