//! Signatures of webhooks, both ways: HMAC-SHA256 over `"{timestamp}.{raw body}"`, hex-encoded,
//! with the timestamp in Unix seconds beside it. Outbound webhooks are signed with the
//! organisation's secret; call events from the dialer provider with the dialer secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the hex signature.
pub const SIGNATURE_HEADER: &str = "X-Pacer-Signature";
/// The header carrying the Unix time (seconds) the signature was made at.
pub const TIMESTAMP_HEADER: &str = "X-Pacer-Timestamp";
/// Signed requests older (or further in the future) than this are refused, so that a captured
/// request cannot be replayed later.
pub const MAX_AGE_SECS: i64 = 300;

/// The hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
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

/// Checks `signature` (hex) over `body` at `timestamp` against `secret`, at `now` (Unix
/// seconds); the comparison takes the same time whatever the signature.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Missing)?;
    let signature = hex::decode(signature.trim()).map_err(|_| SignatureError::Missing)?;
    if (now - timestamp).abs() > MAX_AGE_SECS {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
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
    fn the_signature_is_the_documented_hmac() {
        // HMAC-SHA256("key", "1.{}"), computed independently with Python's hmac module.
        assert_eq!(
            sign("key", 1, b"{}"),
            "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
