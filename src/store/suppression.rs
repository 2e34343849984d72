//! Suppression: each organisation's do-not-call list and the attempts to each number counted
//! against frequency caps, across all its campaigns. A dispatch step screens the numbers of
//! every claim through both before placing them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Listing, Page, StoreError};
use crate::domain::{DncEntry, DncTarget, FrequencyCap, OrgId, PhoneNumber};

/// What adding entries did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DncAdded {
    /// Entries new to the list.
    pub added: u64,
    /// Entries that were listed already: their expiry and reason are the new ones.
    pub updated: u64,
}

/// What the screen says of one number of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screened {
    /// On the do-not-call list: never called.
    Listed,
    /// May be called now (its attempt is counted against its caps).
    Allowed,
    /// A frequency cap holds it until then.
    CappedUntil(DateTime<Utc>),
}

/// Which entries a list shows: the exact entry of one number, or the prefix entries that start
/// with a prefix; neither is every entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DncFilter {
    #[default]
    All,
    Number(PhoneNumber),
    PrefixesUnder(String),
}

/// An organisation's do-not-call list. Entries are kept after they expire (a list shows them);
/// lookups ignore them from their expiry on.
#[async_trait]
pub trait Suppression: Send + Sync + std::fmt::Debug + 'static {
    /// Adds `entries`; an entry whose number or prefix is listed already replaces its expiry and
    /// reason and keeps its `created_at`.
    async fn add_dnc(&self, org: &OrgId, entries: &[DncEntry]) -> Result<DncAdded, StoreError>;

    /// Removes the entry of exactly `target`; whether there was one.
    async fn remove_dnc(&self, org: &OrgId, target: &DncTarget) -> Result<bool, StoreError>;

    /// A page of the entries `filter` selects: prefixes first, in order, then numbers in the
    /// backend's storage order (stable while the list does not change).
    async fn dnc_entries(
        &self,
        org: &OrgId,
        filter: &DncFilter,
        page: Page,
    ) -> Result<Listing<DncEntry>, StoreError>;

    /// Screens a claim's numbers, in one atomic step for all: for each `(number, caps)` in
    /// order, [`Screened::Listed`] when the do-not-call list covers it at `now`
    /// (`domain::covering`); else, when every cap allows an attempt at `now`, one is recorded
    /// (none without a cap) and it is [`Screened::Allowed`]; else nothing is recorded and it is
    /// [`Screened::CappedUntil`] the first instant they would (`domain::next_allowed`).
    async fn screen(
        &self,
        org: &OrgId,
        calls: &[(PhoneNumber, Vec<FrequencyCap>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Screened>, StoreError>;

    /// Starts a cool-down for `number` after a refusal: until `until` the screen holds it
    /// (`Screened::CappedUntil`) wherever a cap counts it (a profile with a cool-down has
    /// caps).
    async fn start_cooldown(
        &self,
        org: &OrgId,
        number: &PhoneNumber,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// For each of `numbers`, the entry that covers it at `now` (`domain::covering`), in one
    /// read of the list.
    async fn dnc_covering(
        &self,
        org: &OrgId,
        numbers: &[PhoneNumber],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<DncEntry>>, StoreError>;

    /// Whether `org`'s do-not-call list may hold anything (`false`: nothing was ever listed, or
    /// every entry was removed), in one cheap read: a screen with no cap to count is skipped
    /// for an organisation with nothing listed (`actors::screen`).
    async fn lists_any(&self, org: &OrgId) -> Result<bool, StoreError>;
}
