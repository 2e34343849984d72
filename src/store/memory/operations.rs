//! The operations state in memory: the call-id index, idempotency keys, named locks and GCRA
//! rate limiters.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::{CallId, OrgId, Rate, gcra};
use crate::store::{
    CALL_INDEX_MARGIN, CallIndex, CallRef, IDEMPOTENCY_PENDING_TTL, IDEMPOTENCY_TTL, Idempotency,
    IdempotencyKeys, IdempotencyLimits, Limiters, Locks, StoreError, StoredResponse, Tokens,
};
use crate::telemetry::IDEMPOTENCY_DROPPED;

/// The idempotency keys: each key's reservation or response, and two orders that keep the
/// work per request logarithmic: by expiry (the expired ones leave from the front) and, per
/// organisation, by when a response was kept (the oldest leave first past the budget).
#[derive(Debug, Default)]
pub(super) struct IdempotencyBook {
    pub(super) entries: HashMap<(OrgId, String), Reservation>,
    pub(super) by_expiry: BTreeSet<(Instant, u64)>,
    /// Entry number → its key, for both orders.
    pub(super) numbered: HashMap<u64, (OrgId, String)>,
    /// Per organisation: bytes kept, and the entries kept in the order they were.
    pub(super) kept: HashMap<OrgId, (usize, BTreeSet<u64>)>,
    pub(super) next: u64,
}

#[derive(Debug)]
pub(super) struct Reservation {
    pub(super) number: u64,
    pub(super) fingerprint: [u8; 32],
    pub(super) response: Option<Kept>,
    pub(super) expires: Instant,
}

#[derive(Debug, Clone)]
pub(super) enum Kept {
    Response(StoredResponse),
    TooLarge,
}

impl IdempotencyBook {
    /// Drops the entries whose time is up.
    pub(super) fn sweep(&mut self, now: Instant) {
        while let Some(&(expires, number)) = self.by_expiry.first() {
            if expires > now {
                break;
            }
            self.by_expiry.pop_first();
            self.forget(number);
        }
    }

    pub(super) fn forget(&mut self, number: u64) {
        let Some(slot) = self.numbered.remove(&number) else {
            return;
        };
        if let Some(reservation) = self.entries.remove(&slot) {
            self.by_expiry.remove(&(reservation.expires, number));
            if let Some(Kept::Response(response)) = reservation.response
                && let Some((bytes, order)) = self.kept.get_mut(&slot.0)
            {
                *bytes -= response.body.len();
                order.remove(&number);
            }
        }
    }

    pub(super) fn begin(
        &mut self,
        slot: (OrgId, String),
        fingerprint: [u8; 32],
        now: Instant,
    ) -> Idempotency {
        self.sweep(now);
        match self.entries.get(&slot) {
            None => {
                self.next += 1;
                let number = self.next;
                let expires = now + IDEMPOTENCY_PENDING_TTL;
                self.by_expiry.insert((expires, number));
                self.numbered.insert(number, slot.clone());
                let reservation = Reservation {
                    number,
                    fingerprint,
                    response: None,
                    expires,
                };
                self.entries.insert(slot, reservation);
                Idempotency::Started
            }
            Some(reservation) if reservation.fingerprint != fingerprint => Idempotency::Conflict,
            Some(reservation) => match &reservation.response {
                Some(Kept::Response(response)) => Idempotency::Replay(response.clone()),
                Some(Kept::TooLarge) => Idempotency::NotKept,
                None => Idempotency::InProgress,
            },
        }
    }

    pub(super) fn finish(
        &mut self,
        slot: &(OrgId, String),
        fingerprint: [u8; 32],
        response: StoredResponse,
        limits: IdempotencyLimits,
        now: Instant,
    ) {
        let Some(reservation) = self
            .entries
            .get_mut(slot)
            .filter(|reservation| reservation.fingerprint == fingerprint)
        else {
            return;
        };
        let number = reservation.number;
        self.by_expiry.remove(&(reservation.expires, number));
        reservation.expires = now + IDEMPOTENCY_TTL;
        self.by_expiry.insert((reservation.expires, number));
        let size = response.body.len();
        if size > limits.max_response_bytes {
            reservation.response = Some(Kept::TooLarge);
            metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "too_large").increment(1);
            return;
        }
        reservation.response = Some(Kept::Response(response));
        let (bytes, order) = self.kept.entry(slot.0.clone()).or_default();
        *bytes += size;
        order.insert(number);
        // The oldest go first; the one just kept stays, whatever its size.
        let mut evicted = Vec::new();
        while *bytes > limits.max_bytes_per_org
            && order.first().is_some_and(|&oldest| oldest != number)
            && let Some(oldest) = order.pop_first()
        {
            evicted.push(oldest);
            if let Some(Some(Kept::Response(response))) = self
                .numbered
                .get(&oldest)
                .and_then(|slot| self.entries.get(slot))
                .map(|reservation| &reservation.response)
            {
                *bytes -= response.body.len();
            }
        }
        for number in evicted {
            metrics::counter!(IDEMPOTENCY_DROPPED, "reason" => "budget").increment(1);
            // Already out of the organisation's order and bytes: only the entry goes.
            if let Some(slot) = self.numbered.remove(&number)
                && let Some(reservation) = self.entries.remove(&slot)
            {
                self.by_expiry.remove(&(reservation.expires, number));
            }
        }
    }

    pub(super) fn abandon(&mut self, slot: &(OrgId, String)) {
        if let Some(reservation) = self
            .entries
            .get(slot)
            .filter(|reservation| reservation.response.is_none())
        {
            let number = reservation.number;
            self.forget(number);
        }
    }
}

#[async_trait]
impl CallIndex for MemoryStore {
    async fn index_calls(&self, calls: &[(CallId, CallRef)]) -> Result<(), StoreError> {
        let keep = self.call_deadline.0.to_std().unwrap_or_default() + CALL_INDEX_MARGIN;
        let now = Instant::now();
        let mut ops = self.inner.ops.lock();
        ops.calls.extend(
            calls
                .iter()
                .map(|&(call, call_ref)| (call, (call_ref, now + keep))),
        );
        // Sweep expired entries whenever the index doubled since the last sweep.
        if ops.calls.len() > 2 * ops.calls_swept.max(1024) {
            ops.calls.retain(|_, (_, expires)| *expires > now);
            ops.calls_swept = ops.calls.len();
        }
        Ok(())
    }

    async fn find_call(&self, call: CallId) -> Result<Option<CallRef>, StoreError> {
        let ops = self.inner.ops.lock();
        Ok(ops
            .calls
            .get(&call)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|&(call_ref, _)| call_ref))
    }
}

#[async_trait]
impl IdempotencyKeys for MemoryStore {
    async fn begin_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
    ) -> Result<Idempotency, StoreError> {
        let mut ops = self.inner.ops.lock();
        let slot = (org.clone(), key.to_owned());
        Ok(ops.idempotency.begin(slot, fingerprint, Instant::now()))
    }

    async fn finish_idempotent(
        &self,
        org: &OrgId,
        key: &str,
        fingerprint: [u8; 32],
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let mut ops = self.inner.ops.lock();
        let slot = (org.clone(), key.to_owned());
        let limits = self.idempotency_limits;
        ops.idempotency
            .finish(&slot, fingerprint, response, limits, Instant::now());
        Ok(())
    }

    async fn abandon_idempotent(&self, org: &OrgId, key: &str) -> Result<(), StoreError> {
        let mut ops = self.inner.ops.lock();
        ops.idempotency.abandon(&(org.clone(), key.to_owned()));
        Ok(())
    }
}

#[async_trait]
impl Locks for MemoryStore {
    async fn hold_lock(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut ops = self.inner.ops.lock();
        let held_by_other = ops
            .locks
            .get(name)
            .is_some_and(|(holder, expires)| holder != owner && *expires > now);
        if held_by_other {
            return Ok(false);
        }
        ops.locks
            .insert(name.to_owned(), (owner.to_owned(), now + ttl));
        Ok(true)
    }
}

#[async_trait]
impl Limiters for MemoryStore {
    async fn take_tokens(&self, name: &str, rate: Rate, wanted: u32) -> Result<Tokens, StoreError> {
        let mut ops = self.inner.ops.lock();
        let now_us = ops.epoch.elapsed().as_micros() as i64;
        let tat = ops.limiters.get(name).copied().unwrap_or(0);
        let grant = gcra::take(rate, tat, now_us, wanted);
        ops.limiters.insert(name.to_owned(), grant.tat_us);
        Ok(Tokens {
            granted: grant.granted,
            wait: std::time::Duration::from_micros(grant.wait_us as u64),
        })
    }
}
