//! [`Suppression`] in memory: each organisation's list in two ordered maps, and the attempts
//! counted per number.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{
    DncEntry, DncTarget, FrequencyCap, OrgId, PhoneNumber, covering, next_allowed, prefixes_of,
    still_counted,
};
use crate::store::{DncAdded, DncFilter, Listing, Page, Screened, StoreError, Suppression};

/// The attempts to one number that caps count (Unix seconds), and until when a refusal cools
/// it down.
#[derive(Debug, Default)]
pub(super) struct Counted {
    attempts: Vec<i64>,
    cool_until: i64,
}

/// One organisation's list.
#[derive(Debug, Default)]
pub(super) struct DncBook {
    prefixes: BTreeMap<String, DncEntry>,
    numbers: BTreeMap<PhoneNumber, DncEntry>,
}

impl DncBook {
    /// The entry that covers `number` at `now`, if any.
    fn covering(&self, number: &PhoneNumber, now: DateTime<Utc>) -> Option<DncEntry> {
        let prefixes = prefixes_of(number).filter_map(|prefix| self.prefixes.get(prefix));
        covering(self.numbers.get(number).cloned(), prefixes.cloned(), now)
    }

    fn covers(&self, number: &PhoneNumber, now: DateTime<Utc>) -> bool {
        self.covering(number, now).is_some()
    }

    fn add(&mut self, entry: &DncEntry) -> bool {
        let slot = match &entry.target {
            DncTarget::Prefix(prefix) => self.prefixes.entry(prefix.clone()),
            DncTarget::Number(number) => {
                return upsert(self.numbers.entry(number.clone()), entry);
            }
        };
        upsert(slot, entry)
    }
}

/// Inserts `entry`, or updates the expiry and reason of the one there; whether it is new.
fn upsert<K: Ord>(
    slot: std::collections::btree_map::Entry<'_, K, DncEntry>,
    entry: &DncEntry,
) -> bool {
    match slot {
        std::collections::btree_map::Entry::Vacant(vacant) => {
            vacant.insert(entry.clone());
            true
        }
        std::collections::btree_map::Entry::Occupied(mut occupied) => {
            let listed = occupied.get_mut();
            listed.expires_at = entry.expires_at;
            listed.reason.clone_from(&entry.reason);
            false
        }
    }
}

#[async_trait]
impl Suppression for MemoryStore {
    async fn add_dnc(&self, org: &OrgId, entries: &[DncEntry]) -> Result<DncAdded, StoreError> {
        let mut lists = self.inner.dnc.write();
        let book = lists.entry(org.clone()).or_default();
        let mut added = DncAdded::default();
        for entry in entries {
            if book.add(entry) {
                added.added += 1;
            } else {
                added.updated += 1;
            }
        }
        Ok(added)
    }

    async fn remove_dnc(&self, org: &OrgId, target: &DncTarget) -> Result<bool, StoreError> {
        let mut lists = self.inner.dnc.write();
        let Some(book) = lists.get_mut(org) else {
            return Ok(false);
        };
        Ok(match target {
            DncTarget::Number(number) => book.numbers.remove(number).is_some(),
            DncTarget::Prefix(prefix) => book.prefixes.remove(prefix).is_some(),
        })
    }

    async fn dnc_entries(
        &self,
        org: &OrgId,
        filter: &DncFilter,
        page: Page,
    ) -> Result<Listing<DncEntry>, StoreError> {
        let lists = self.inner.dnc.read();
        let Some(book) = lists.get(org) else {
            return Ok(Listing {
                items: Vec::new(),
                total: 0,
            });
        };
        let selected: Vec<&DncEntry> = match filter {
            DncFilter::All => book
                .prefixes
                .values()
                .chain(book.numbers.values())
                .collect(),
            DncFilter::Number(number) => book.numbers.get(number).into_iter().collect(),
            DncFilter::PrefixesUnder(under) => book
                .prefixes
                .range(under.clone()..)
                .take_while(|(prefix, _)| prefix.starts_with(under.as_str()))
                .map(|(_, entry)| entry)
                .collect(),
        };
        Ok(Listing {
            total: selected.len() as u64,
            items: selected
                .into_iter()
                .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
                .take(page.limit as usize)
                .cloned()
                .collect(),
        })
    }

    async fn screen(
        &self,
        org: &OrgId,
        calls: &[(PhoneNumber, Vec<FrequencyCap>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Screened>, StoreError> {
        let lists = self.inner.dnc.read();
        let mut books = self.inner.attempts.lock();
        let book = books.entry(org.clone()).or_default();
        let now_s = now.timestamp();
        Ok(calls
            .iter()
            .map(|(number, caps)| {
                if lists.get(org).is_some_and(|list| list.covers(number, now)) {
                    return Screened::Listed;
                }
                if caps.is_empty() {
                    return Screened::Allowed;
                }
                let counted = book.entry(number.clone()).or_default();
                counted.attempts = still_counted(&counted.attempts, caps, now_s);
                let cooled = Some(counted.cool_until).filter(|&until| until > now_s);
                let allowed_at = next_allowed(&counted.attempts, caps, now_s).max(cooled);
                match allowed_at.and_then(|at| DateTime::from_timestamp(at, 0)) {
                    None => {
                        counted.attempts.push(now_s);
                        Screened::Allowed
                    }
                    Some(until) => Screened::CappedUntil(until),
                }
            })
            .collect())
    }

    async fn start_cooldown(
        &self,
        org: &OrgId,
        number: &PhoneNumber,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut books = self.inner.attempts.lock();
        let counted = books
            .entry(org.clone())
            .or_default()
            .entry(number.clone())
            .or_default();
        counted.cool_until = counted.cool_until.max(until.timestamp());
        Ok(())
    }

    async fn dnc_covering(
        &self,
        org: &OrgId,
        numbers: &[PhoneNumber],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<DncEntry>>, StoreError> {
        let lists = self.inner.dnc.read();
        let Some(book) = lists.get(org) else {
            return Ok(vec![None; numbers.len()]);
        };
        Ok(numbers
            .iter()
            .map(|number| book.covering(number, now))
            .collect())
    }

    async fn lists_any(&self, org: &OrgId) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .dnc
            .read()
            .get(org)
            .is_some_and(|book| !book.prefixes.is_empty() || !book.numbers.is_empty()))
    }
}
