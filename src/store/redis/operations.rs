//! The operations state on Redis: the call-id index, idempotency keys, named locks and GCRA
//! rate limiters.

use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, Value};

use super::connections::query_each;
use super::keys::Keys;
use super::{RedisStore, unavailable};
use crate::domain::{CallId, CampaignId, ContactId, OrgId, Rate};
use crate::store::{
    CallIndex, CallRef, IDEMPOTENCY_PENDING_TTL, IDEMPOTENCY_TTL, Idempotency, IdempotencyKeys,
    Limiters, Locks, StoreError, StoredResponse, Tokens,
};
use crate::telemetry::IDEMPOTENCY_DROPPED;

#[async_trait]
impl CallIndex for RedisStore {
    async fn index_calls(&self, calls: &[(CallId, CallRef)]) -> Result<(), StoreError> {
        let entries: Vec<(CallId, String)> = calls
            .iter()
            .map(|(call, at)| {
                let value = format!("{}:{}:{}", at.campaign_id, at.contact_id, at.attempt);
                (*call, value)
            })
            .collect();
        self.io(move |inner| async move {
            let keep = inner.call_deadline.0.to_std().unwrap_or_default()
                + crate::store::CALL_INDEX_MARGIN;
            let writes = entries.into_iter().map(|(call, value)| {
                redis::cmd("PSETEX")
                    .arg(inner.keys.call(call))
                    .arg(keep.as_millis() as u64)
                    .arg(value)
                    .clone()
            });
            let mut con = inner.connection().await?;
            let _: Vec<Value> = query_each(&mut con, writes).await?;
            Ok(())
        })
        .await
    }

    async fn find_call(&self, call: CallId) -> Result<Option<CallRef>, StoreError> {
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let value: Option<String> =
                con.get(inner.keys.call(call)).await.map_err(unavailable)?;
            let Some(value) = value else {
                return Ok(None);
            };
            let mut parts = value.split(':');
            let parsed = (|| {
                Some(CallRef {
                    campaign_id: CampaignId::parse(parts.next()?).ok()?,
                    contact_id: ContactId::parse(parts.next()?).ok()?,
                    attempt: parts.next()?.parse().ok()?,
                })
            })();
            parsed
                .map(Some)
                .ok_or_else(|| unavailable(format!("malformed call index entry `{value}`")))
        })
        .await
    }
}

#[async_trait]
impl IdempotencyKeys for RedisStore {
    async fn begin_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
    ) -> Result<Idempotency, StoreError> {
        let key = self.inner.keys.idempotency_base(org) + &Keys::idempotency_digest(key);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let pending = format!("{}|", hex::encode(fingerprint));
            let options = redis::SetOptions::default()
                .conditional_set(redis::ExistenceCheck::NX)
                .with_expiration(redis::SetExpiry::PX(
                    IDEMPOTENCY_PENDING_TTL.as_millis() as u64
                ));
            let reserved: Option<String> = con
                .set_options(&key, &pending, options)
                .await
                .map_err(unavailable)?;
            if reserved.is_some() {
                return Ok(Idempotency::Started);
            }
            let stored: Option<Vec<u8>> = con.get(&key).await.map_err(unavailable)?;
            // Expired between the two commands: the caller may simply try again.
            let Some(stored) = stored else {
                return Ok(Idempotency::InProgress);
            };
            Ok(read_reservation(&stored, &fingerprint))
        })
        .await
    }

    async fn finish_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let digest = Keys::idempotency_digest(key);
        let base = self.inner.keys.idempotency_base(org);
        let (index, bytes) = self.inner.keys.idempotency_index(org);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let limits = inner.idempotency;
            let too_large = response.body.len() > limits.max_response_bytes;
            // A response too large to keep leaves its marker, status 0, in its place.
            let status = if too_large { 0 } else { response.status };
            let mut value = format!("{}|{status}|", hex::encode(fingerprint)).into_bytes();
            if !too_large {
                value.extend_from_slice(&response.body);
            }
            let n_forgotten: i64 = inner
                .scripts
                .idempotency_keep
                .key(base.clone() + &digest)
                .key(index)
                .key(bytes)
                .key(base)
                .arg(&digest)
                .arg(value)
                .arg(IDEMPOTENCY_TTL.as_millis() as u64)
                .arg(limits.max_bytes_per_org)
                .arg(u8::from(too_large))
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            if too_large {
                metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "too_large").increment(1);
            }
            if n_forgotten > 0 {
                metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "budget")
                    .increment(n_forgotten as u64);
            }
            Ok(())
        })
        .await
    }

    async fn abandon_idempotent(&self, org: &OrgId, key: &str) -> Result<(), StoreError> {
        let key = self.inner.keys.idempotency_base(org) + &Keys::idempotency_digest(key);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let stored: Option<Vec<u8>> = con.get(&key).await.map_err(unavailable)?;
            // Only a reservation without a response is forgotten.
            if stored.is_some_and(|stored| stored.ends_with(b"|") && stored.len() == 65) {
                let _: u64 = con.del(&key).await.map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }
}

/// Reads a stored idempotency value: `<fingerprint hex>|` while the request runs, then
/// `<fingerprint hex>|<status>|<body>`.
pub(super) fn read_reservation(stored: &[u8], fingerprint: &[u8; 32]) -> Idempotency {
    let expected = hex::encode(fingerprint);
    if stored.get(..64) != Some(expected.as_bytes()) {
        return Idempotency::Conflict;
    }
    let rest = &stored[64..];
    let rest = rest.strip_prefix(b"|").unwrap_or(rest);
    let Some(bar) = rest.iter().position(|&byte| byte == b'|') else {
        return Idempotency::InProgress;
    };
    let status = std::str::from_utf8(&rest[..bar])
        .ok()
        .and_then(|status| status.parse().ok());
    match status {
        Some(0) => Idempotency::NotKept,
        Some(status) => Idempotency::Replay(StoredResponse {
            status,
            body: rest[bar + 1..].to_vec(),
        }),
        None => Idempotency::InProgress,
    }
}

#[async_trait]
impl Locks for RedisStore {
    async fn hold_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (key, owner) = (self.inner.keys.lock(name), owner.to_owned());
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let held: u8 = inner
                .scripts
                .hold
                .key(key)
                .arg(owner)
                .arg(ttl.as_millis() as u64)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(held == 1)
        })
        .await
    }
}

#[async_trait]
impl Limiters for RedisStore {
    async fn take_tokens(&self, name: &str, rate: Rate, wanted: u32) -> Result<Tokens, StoreError> {
        let key = self.inner.keys.limiter(name);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let (granted, wait_us): (u32, u64) = inner
                .scripts
                .gcra
                .key(key)
                .arg(rate.interval_us())
                .arg(rate.burst)
                .arg(wanted)
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(Tokens {
                granted,
                wait: Duration::from_micros(wait_us),
            })
        })
        .await
    }
}
