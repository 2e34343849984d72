//! Operations state beside the campaigns: the call-id index, idempotency keys, named locks and
//! rate limiters. Each method is one atomic step on one key.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{CallId, CampaignId, ContactId, OrgId, Rate};

/// Which campaign, contact and attempt a call id belongs to: how an outcome reported later by
/// call id (`POST /calls/{call_id}/events`) finds its contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRef {
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub attempt: u32,
}

/// A response kept for an idempotency key, replayed to a retry of the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What an idempotency key said about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotency {
    /// First use of the key: the caller runs the request, then stores or abandons its answer.
    Started,
    /// The same request already ran: its response.
    Replay(StoredResponse),
    /// The same request already ran, and its response was larger than a key may keep.
    NotKept,
    /// The key was used for a different request body.
    Conflict,
    /// The same request is still running elsewhere.
    InProgress,
}

/// How much the idempotency keys may keep: per key, and per organisation (beyond it, the
/// responses kept longest are forgotten first: a retry with their key runs again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyLimits {
    pub max_response_bytes: usize,
    pub max_bytes_per_org: usize,
}

impl Default for IdempotencyLimits {
    /// 1 MiB per response (a bounded answer is far smaller: a list of 1 000 row errors is about
    /// 100 KB), 64 MiB per organisation.
    fn default() -> Self {
        Self {
            max_response_bytes: 1 << 20,
            max_bytes_per_org: 64 << 20,
        }
    }
}

/// How long an idempotency key is remembered with its response.
pub const IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// How long a key stays reserved by a request that never finished (its node died): long past
/// any request, short enough that the client can retry with the same key.
pub const IDEMPOTENCY_PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// How long a call id stays findable after its call deadline (both backends).
pub(crate) const CALL_INDEX_MARGIN: std::time::Duration = std::time::Duration::from_secs(3600);

/// How many tokens a rate limiter gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub granted: u32,
    /// How long until the next token is free.
    pub wait: std::time::Duration,
}

/// Which contact and attempt each call id belongs to, while its outcome may still come.
#[async_trait]
pub trait CallIndex: Send + Sync + std::fmt::Debug + 'static {
    /// Remembers which contact and attempt each call id belongs to, until the call deadline
    /// has passed (with a margin).
    async fn index_calls(&self, calls: &[(CallId, CallRef)]) -> Result<(), StoreError>;

    /// The contact and attempt of a call id, while it is remembered.
    async fn find_call(&self, call: CallId) -> Result<Option<CallRef>, StoreError>;
}

/// `X-Idempotency-Key`: a request's response kept under its key, replayed to a retry.
#[async_trait]
pub trait IdempotencyKeys: Send + Sync + std::fmt::Debug + 'static {
    /// Looks up an idempotency key of `org`; on first use, reserves it for a request whose body
    /// has `fingerprint`.
    async fn begin_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
    ) -> Result<Idempotency, StoreError>;

    /// Stores the response of a request started with [`IdempotencyKeys::begin_idempotent`], within
    /// the store's [`IdempotencyLimits`]: a response too large is not kept (a retry learns so);
    /// past the organisation's budget, its oldest responses are forgotten.
    async fn finish_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
        response: StoredResponse,
    ) -> Result<(), StoreError>;

    /// Forgets a reserved key whose request failed, so that it can be tried again.
    async fn abandon_idempotent(&self, org: &OrgId, key: &str) -> Result<(), StoreError>;
}

/// Named locks with an owner and a time to live (one webhook sender per organisation).
#[async_trait]
pub trait Locks: Send + Sync + std::fmt::Debug + 'static {
    /// Takes the lock `name` for `owner` for `ttl`, or keeps it if `owner` holds it already;
    /// `false` while another owner holds it.
    async fn hold_lock(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;
}

/// Rate limiters shared by every node of the store (the carrier's calls per second).
#[async_trait]
pub trait Limiters: Send + Sync + std::fmt::Debug + 'static {
    /// Takes up to `wanted` tokens from the limiter `name` (created on first use): one limit
    /// shared by every node of the store, by the store's clock.
    async fn take_tokens(&self, name: &str, rate: Rate, wanted: u32) -> Result<Tokens, StoreError>;
}
