//! `ValidJson<T>`: the JSON body extractor of the API. It enforces the body limit (413), tells a
//! body that is not JSON (400) from JSON of the wrong shape (422, naming the field), and reads an
//! empty body as `{}` so that commands with an optional body work with a bare `curl -X POST`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::DomainError;

/// The largest request body accepted, in bytes, and how long a client may take to send it (app
/// data; 1 MiB and 30 s when unset). A route may set its own (call events take 64 KiB).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    pub bytes: usize,
    pub timeout: std::time::Duration,
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self {
            bytes: 1 << 20,
            timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Reads the request's body within the route's [`BodyLimit`]: 413 beyond its size (at once
/// when the declared length says so), 408 when it does not arrive in time.
pub fn read_body(
    request: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<web::Bytes, ApiError>> + 'static {
    let rules = request
        .app_data::<web::Data<BodyLimit>>()
        .map_or_else(BodyLimit::default, |rules| *rules.get_ref());
    read_body_within(rules, request, payload)
}

/// Reads the request's body within `rules` (see [`read_body`]).
pub fn read_body_within(
    rules: BodyLimit,
    request: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<web::Bytes, ApiError>> + 'static {
    let limit = rules.bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if declared.is_some_and(|length| length > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let read = async {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| ApiError::MalformedJson(error.to_string()))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body.freeze())
        };
        tokio::time::timeout(rules.timeout, read)
            .await
            .unwrap_or(Err(ApiError::BodyTimeout))
    }
}

#[derive(Debug)]
pub struct ValidJson<T>(pub T);

/// The raw request body, within the body limit (413 beyond, 408 when it comes too slowly): for
/// idempotency fingerprints.
#[derive(Debug)]
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(request, payload);
        Box::pin(async move { body.await.map(RawBody) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = RawBody::from_request(request, payload);
        Box::pin(async move {
            let RawBody(body) = body.await?;
            parse_or_empty(&body).map(ValidJson)
        })
    }
}

/// Like [`parse`], but a blank body reads as `{}` (commands with an optional body).
pub fn parse_or_empty<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    parse(text)
}

/// Deserializes `body`, naming the field of the first error.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(shape_error)?;
    deserializer
        .end()
        .map_err(|error| ApiError::MalformedJson(error.to_string()))?;
    Ok(value)
}

/// Converts a JSON value of the right syntax, naming the field of the first error.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DomainError> {
    serde_path_to_error::deserialize(value).map_err(|error| match shape_error(error) {
        ApiError::Validation(error) => error,
        other => DomainError::new("body", other.to_string()),
    })
}

fn shape_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::MalformedJson(inner.to_string());
    }
    let message = inner.to_string();
    // Drop serde's " at line 1 column 9": the field is named, positions do not help a client.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let field = match (path.as_str(), message.strip_prefix("missing field `")) {
        (".", Some(rest)) => rest.trim_end_matches('`').to_owned(),
        (".", None) => "body".to_owned(),
        (path, Some(rest)) => format!("{path}.{}", rest.trim_end_matches('`')),
        (path, None) => path.to_owned(),
    };
    ApiError::Validation(DomainError::new(field, message))
}
