//! Signatures, both ways: HMAC-SHA256, hex-encoded, with the timestamp in Unix seconds beside
//! it. Outbound webhooks (with the organisation's secret) and dial requests (with the dialer
//! secret) sign `"{timestamp}.{raw body}"`. Call events from the provider sign
//! `"{timestamp}.{call_id}.{raw body}"`: the body need not name the call, so the signature must
//! bind it, or an event captured for one call could be replayed on another.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the hex signature.
pub const SIGNATURE_HEADER: &str = "X-Pacer-Signature";
/// The header carrying the Unix time (seconds) the signature was made at.
pub const TIMESTAMP_HEADER: &str = "X-Pacer-Timestamp";
/// The Standard Webhooks headers (standardwebhooks.com): the event's id, Unix seconds, and
/// `v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`. A stock library checks them
/// with the secret given as `whsec_` followed by the base64 of the organisation's secret.
pub const STANDARD_ID: &str = "webhook-id";
pub const STANDARD_TIMESTAMP: &str = "webhook-timestamp";
pub const STANDARD_SIGNATURE: &str = "webhook-signature";

/// The `webhook-signature` value of a Standard Webhooks message.
pub fn sign_standard(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{signature}")
}

/// Signed requests older (or further in the future) than this are refused, so that a captured
/// request cannot be replayed later.
pub const MAX_AGE_SECS: i64 = 300;

/// The hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, &[body]).finalize().into_bytes())
}

/// The hex HMAC-SHA256 of a call event, `"{timestamp}.{call_id}.{body}"`, under `secret`.
pub fn sign_call_event(secret: &str, timestamp: i64, call_id: &str, body: &[u8]) -> String {
    let parts: [&[u8]; 2] = [call_id.as_bytes(), body];
    hex::encode(mac(secret, timestamp, &parts).finalize().into_bytes())
}

/// The MAC of `"{timestamp}.{part}.{part}…"`.
fn mac(secret: &str, timestamp: i64, parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    for part in parts {
        mac.update(b".");
        mac.update(part);
    }
    mac
}

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed signature headers")]
    Missing,
    #[error("the signature timestamp is more than 5 minutes away from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

impl SignatureError {
    /// The reason, for the error envelope.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "missing or malformed signature headers",
            Self::Stale => "the signature timestamp is more than 5 minutes away from now",
            Self::Mismatch => "the signature does not match",
        }
    }
}

/// A signature as its headers carry it, checked for form and age: what can be checked before
/// the body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    timestamp: i64,
    signature: Vec<u8>,
}

impl Signed {
    /// Reads the headers' values at `now` (Unix seconds): missing or malformed, or more than
    /// five minutes away from now, is refused.
    pub fn from_headers(
        timestamp: &str,
        signature: &str,
        now: i64,
    ) -> Result<Self, SignatureError> {
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::Missing)?;
        let signature = hex::decode(signature.trim()).map_err(|_| SignatureError::Missing)?;
        if signature.len() != 32 {
            return Err(SignatureError::Missing);
        }
        if now.abs_diff(timestamp) > MAX_AGE_SECS.unsigned_abs() {
            return Err(SignatureError::Stale);
        }
        Ok(Self {
            timestamp,
            signature,
        })
    }

    /// Checks it over a call event's `call_id` and `body` under `secret`; the comparison takes
    /// the same time whatever the signature.
    pub fn verify_call_event(
        &self,
        secret: &str,
        call_id: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let parts: [&[u8]; 2] = [call_id.as_bytes(), body];
        mac(secret, self.timestamp, &parts)
            .verify_slice(&self.signature)
            .map_err(|_| SignatureError::Mismatch)
    }

    /// Checks it over `body` alone (`"{timestamp}.{body}"`).
    pub fn verify(&self, secret: &str, body: &[u8]) -> Result<(), SignatureError> {
        mac(secret, self.timestamp, &[body])
            .verify_slice(&self.signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// Checks `signature` (hex) over `body` at `timestamp` against `secret`, at `now` (Unix
/// seconds).
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    Signed::from_headers(timestamp, signature, now)?.verify(secret, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let body = br#"{"event":"call.ended"}"#;
        let signature = sign("s3cret", 1_700_000_000, body);
        assert_eq!(
            verify("s3cret", "1700000000", &signature, body, 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify("other", "1700000000", &signature, body, 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", "1700000000", &signature, b"{}", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", "1700000000", &signature, body, 1_700_000_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("s3cret", "soon", &signature, body, 1_700_000_000),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_call_event_s_signature_binds_its_call() {
        let body = br#"{"event":"call.ended","outcome":"completed"}"#;
        let signature = sign_call_event("s3cret", 1_700_000_000, "call-a", body);
        let signed = Signed::from_headers("1700000000", &signature, 1_700_000_010).unwrap();
        assert_eq!(signed.verify_call_event("s3cret", "call-a", body), Ok(()));
        assert_eq!(
            signed.verify_call_event("s3cret", "call-b", body),
            Err(SignatureError::Mismatch)
        );
        // Nor does a body signature stand for an event's.
        let body_only = Signed::from_headers(
            "1700000000",
            &sign("s3cret", 1_700_000_000, body),
            1_700_000_010,
        )
        .unwrap();
        assert_eq!(
            body_only.verify_call_event("s3cret", "call-a", body),
            Err(SignatureError::Mismatch)
        );
        // HMAC-SHA256("key", "1.c.{}"), computed independently with Python's hmac module.
        assert_eq!(
            sign_call_event("key", 1, "c", b"{}"),
            "2bc4fc5692e39df501d3c2dbf695eadba21e73cb211b382cd0482a5e053e00cb"
        );
    }

    #[test]
    fn the_standard_webhooks_signature_is_the_documented_one() {
        // base64(HMAC-SHA256("key", "msg_1.1.{}")), computed independently with Python's hmac.
        assert_eq!(
            sign_standard("key", "msg_1", 1, b"{}"),
            "v1,jKGHVBDuJf5ZbCMVrrutoMHDN1OlFFCE9iogVIO9MLQ="
        );
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // HMAC-SHA256("key", "1.{}"), computed independently with Python's hmac module.
        assert_eq!(
            sign("key", 1, b"{}"),
            "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
