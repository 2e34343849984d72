//! Bearer keys: each belongs to one organisation, and only its SHA-256 hash is kept.

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::domain::{OrgId, Rate, gcra};
use crate::telemetry::RATE_LIMITED;

/// The configured keys, by hash.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    by_hash: HashMap<[u8; 32], OrgId>,
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Parses `org_a:key_a,org_b:key_b`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Self::default();
        for pair in text
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (org, key) = pair
                .split_once(':')
                .ok_or_else(|| "api_keys: each entry must be `organisation:key`".to_owned())?;
            let org = OrgId::parse(org.trim()).map_err(|error| format!("api_keys: {error}"))?;
            if key.trim().len() < 16 {
                return Err(format!(
                    "api_keys: the key of `{org}` is shorter than 16 characters"
                ));
            }
            // One key, one organisation: otherwise the last one would silently win.
            if let Some(other) = keys.organisation(key.trim()).filter(|other| **other != org) {
                return Err(format!(
                    "api_keys: `{other}` and `{org}` are given the same key"
                ));
            }
            keys.insert(org, key.trim());
        }
        Ok(keys)
    }

    pub fn insert(&mut self, org: OrgId, key: &str) {
        self.by_hash.insert(hash(key), org);
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// A new random key for `org`, returned once so it can be shown to the operator.
    pub fn generate(&mut self, org: OrgId) -> String {
        let key = format!(
            "pk_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.insert(org, &key);
        key
    }

    fn organisation(&self, key: &str) -> Option<&OrgId> {
        self.by_hash.get(&hash(key))
    }
}

/// A rate limit of this node per key (GCRA, one number per key): requests per organisation,
/// failed authentications per client address.
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: Rate,
    epoch: Instant,
    tats: Mutex<HashMap<K, i64>>,
}

/// Keys a limiter remembers before it forgets those whose limit has recovered in full (an
/// attack from many addresses must not grow the map without bound).
const REMEMBERED_KEYS: usize = 10_000;

impl<K: std::hash::Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            rate: Rate { per_second, burst },
            epoch: Instant::now(),
            tats: Mutex::new(HashMap::new()),
        }
    }

    /// Lets one request of `key` through, or says how long until one may pass.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let now_us = self.epoch.elapsed().as_micros() as i64;
        let mut tats = self.tats.lock();
        let tat = tats.get(key).copied().unwrap_or(0);
        let grant = gcra::take(self.rate, tat, now_us, 1);
        if grant.granted == 0 {
            return Err(Duration::from_micros(grant.wait_us as u64));
        }
        if tats.len() >= REMEMBERED_KEYS {
            tats.retain(|_, tat| *tat > now_us);
        }
        tats.insert(key.clone(), grant.tat_us);
        Ok(())
    }

    fn per_second(&self) -> u32 {
        self.rate.per_second.ceil() as u32
    }
}

/// The organisation of the request's key: every campaign route takes it. Extracting it also
/// applies the organisation's rate limit.
#[derive(Debug, Clone)]
pub struct Org(pub OrgId);

impl FromRequest for Org {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let keys = request.app_data::<web::Data<ApiKeys>>();
        let key = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        let org = keys
            .zip(key)
            .and_then(|(keys, key)| keys.organisation(key).cloned());
        let state = request.app_data::<web::Data<AppState>>();
        let Some(org) = org else {
            // Each failure costs the client's address a token: guessing keys from one address
            // soon meets 429s (a valid key is never held back by this).
            let address = request.peer_addr().map(|peer| peer.ip());
            if let (Some(state), Some(address)) = (state, address)
                && let Err(wait) = state.auth_failures.check(&address)
            {
                return ready(Err(rate_limited(
                    state,
                    state.auth_failures.per_second(),
                    wait,
                )));
            }
            return ready(Err(ApiError::Unauthorized));
        };
        if let Some(state) = state
            && let Err(wait) = state.rate_limiter.check(&org)
        {
            return ready(Err(rate_limited(
                state,
                state.rate_limiter.per_second(),
                wait,
            )));
        }
        ready(Ok(Org(org)))
    }
}

/// A 429 for a limit of `limit` requests per second that lets the next one through after `wait`.
fn rate_limited(state: &AppState, limit: u32, wait: Duration) -> ApiError {
    metrics::counter!(RATE_LIMITED).increment(1);
    ApiError::RateLimited {
        limit,
        reset_at: state.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default(),
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_resolve_to_their_organisation() {
        let keys = ApiKeys::parse("acme:0123456789abcdef, globex:fedcba9876543210").unwrap();
        assert_eq!(
            keys.organisation("0123456789abcdef").map(OrgId::as_str),
            Some("acme")
        );
        assert_eq!(
            keys.organisation("fedcba9876543210").map(OrgId::as_str),
            Some("globex")
        );
        assert!(keys.organisation("nope").is_none());
        assert!(ApiKeys::parse("acme").is_err());
        assert!(ApiKeys::parse("acme:short").is_err());
        let shared = ApiKeys::parse("acme:0123456789abcdef,globex:0123456789abcdef").unwrap_err();
        assert_eq!(
            shared,
            "api_keys: `acme` and `globex` are given the same key"
        );
        assert!(ApiKeys::parse("acme:0123456789abcdef,acme:0123456789abcdef").is_ok());
    }
}
