//! [`Suppression`] on Redis: the organisation's list on its own hash tag, numbers spread over
//! compact bucket hashes (BENCHMARKS.md: bytes per entry), prefixes in one hash; the attempts
//! counted against frequency caps in buckets beside them. A claim's screen is one script.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::connections::Connection;
use super::keys::DncKeys;
use super::{Inner, RedisStore, unavailable};
use crate::domain::{DncEntry, DncTarget, FrequencyCap, OrgId, PhoneNumber, covering, prefixes_of};
use crate::store::{DncAdded, DncFilter, Listing, Page, Screened, StoreError, Suppression};

/// Entries per add script: each is a few commands, so a chunk holds Redis well under a
/// millisecond.
const ADD_CHUNK: usize = 1_000;

fn ms_of(at: DateTime<Utc>) -> String {
    at.timestamp_millis().to_string()
}

/// Where an entry lives: its hash, its bucket (`None` for a prefix) and its field.
fn place_of(keys: &DncKeys, target: &DncTarget) -> (String, Option<u32>, String) {
    let digits = target.as_str()[1..].to_owned();
    match target {
        DncTarget::Prefix(_) => (keys.prefixes.clone(), None, digits),
        DncTarget::Number(_) => {
            let n = DncKeys::bucket_of(&digits);
            (keys.bucket(n), Some(n), digits)
        }
    }
}

/// `<created s>|<expires ms or ''>|<reason>` read back into an entry of `target`.
fn parse_entry(target: DncTarget, value: &str) -> Result<DncEntry, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("do-not-call entry `{value}`"));
    let mut parts = value.splitn(3, '|');
    let created: i64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(corrupt)?;
    let expires = parts.next().ok_or_else(corrupt)?;
    let reason = parts.next().ok_or_else(corrupt)?;
    Ok(DncEntry {
        target,
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
        expires_at: if expires.is_empty() {
            None
        } else {
            let ms: i64 = expires.parse().map_err(|_| corrupt())?;
            Some(DateTime::from_timestamp_millis(ms).ok_or_else(corrupt)?)
        },
        created_at: DateTime::from_timestamp(created, 0).ok_or_else(corrupt)?,
    })
}

fn number_target(digits: &str) -> Result<DncTarget, StoreError> {
    PhoneNumber::parse(&format!("+{digits}"))
        .map(DncTarget::Number)
        .map_err(|_| StoreError::Corrupt(format!("do-not-call number `{digits}`")))
}

fn prefix_target(digits: &str) -> Result<DncTarget, StoreError> {
    DncTarget::parse_prefix(&format!("+{digits}"))
        .map_err(|_| StoreError::Corrupt(format!("do-not-call prefix `{digits}`")))
}

/// Each bucket's count, from the `dnc_sizes` string (missing bytes are 0).
fn bucket_sizes(sizes: &[u8]) -> impl Iterator<Item = (u32, u64)> + '_ {
    sizes
        .chunks(2)
        .enumerate()
        .map(|(n, pair)| {
            let high = u64::from(pair[0]);
            let low = u64::from(pair.get(1).copied().unwrap_or(0));
            (n as u32, high << 8 | low)
        })
        .filter(|&(_, size)| size > 0)
}

#[async_trait]
impl Suppression for RedisStore {
    async fn add_dnc(&self, org: &OrgId, entries: &[DncEntry]) -> Result<DncAdded, StoreError> {
        let keys = self.inner.keys.dnc(org);
        // Each chunk: KEYS = prefixes, sizes, then its buckets; ARGV = quads.
        let mut chunks = Vec::new();
        for chunk in entries.chunks(ADD_CHUNK) {
            let mut chunk_keys = vec![keys.prefixes.clone(), keys.sizes.clone()];
            let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
            let mut args = Vec::with_capacity(chunk.len() * 4 + 1);
            let created = chunk
                .first()
                .map_or(0, |entry| entry.created_at.timestamp());
            args.push(created.to_string());
            for entry in chunk {
                let (key, bucket, field) = place_of(&keys, &entry.target);
                let index = if bucket.is_none() {
                    1
                } else {
                    *index_of.entry(key.clone()).or_insert_with(|| {
                        chunk_keys.push(key);
                        chunk_keys.len()
                    })
                };
                args.push(index.to_string());
                args.push(bucket.map_or_else(String::new, |n| n.to_string()));
                args.push(field);
                args.push(format!(
                    "{}|{}",
                    entry
                        .expires_at
                        .map_or_else(String::new, |at| at.timestamp_millis().to_string()),
                    entry.reason.as_deref().unwrap_or("")
                ));
            }
            chunks.push((chunk_keys, args));
        }
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let mut total = DncAdded::default();
            for (keys, args) in chunks {
                let mut invocation = inner.scripts.dnc_add.prepare_invoke();
                for key in keys {
                    invocation.key(key);
                }
                for arg in args {
                    invocation.arg(arg);
                }
                let (added, updated): (u64, u64) = invocation
                    .invoke_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                total.added += added;
                total.updated += updated;
            }
            Ok(total)
        })
        .await
    }

    async fn remove_dnc(&self, org: &OrgId, target: &DncTarget) -> Result<bool, StoreError> {
        let keys = self.inner.keys.dnc(org);
        let (key, bucket, field) = place_of(&keys, target);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let removed: u8 = inner
                .scripts
                .dnc_remove
                .key(key)
                .key(keys.sizes)
                .arg(field)
                .arg(bucket.map_or_else(String::new, |n| n.to_string()))
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(removed == 1)
        })
        .await
    }

    async fn dnc_entries(
        &self,
        org: &OrgId,
        filter: &DncFilter,
        page: Page,
    ) -> Result<Listing<DncEntry>, StoreError> {
        let keys = self.inner.keys.dnc(org);
        let filter = filter.clone();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            if let DncFilter::Number(number) = &filter {
                let target = DncTarget::Number(number.clone());
                let (key, _, field) = place_of(&keys, &target);
                let value: Option<String> = con.hget(key, field).await.map_err(unavailable)?;
                let total = u64::from(value.is_some());
                let items = match value {
                    Some(value) if page.offset == 0 => vec![parse_entry(target, &value)?],
                    _ => Vec::new(),
                };
                return Ok(Listing { items, total });
            }
            let (prefixes, sizes): (BTreeMap<String, String>, Vec<u8>) = redis::pipe()
                .hgetall(&keys.prefixes)
                .get(&keys.sizes)
                .query_async(&mut con)
                .await
                .map_err(unavailable)?;
            let under = match &filter {
                DncFilter::PrefixesUnder(under) => Some(under[1..].to_owned()),
                _ => None,
            };
            let prefixes: Vec<(String, String)> = prefixes
                .into_iter()
                .filter(|(digits, _)| under.as_ref().is_none_or(|under| digits.starts_with(under)))
                .collect();
            let n_prefixes = prefixes.len() as u64;
            let sizes: Vec<(u32, u64)> = if under.is_some() {
                Vec::new()
            } else {
                bucket_sizes(&sizes).collect()
            };
            let total = n_prefixes + sizes.iter().map(|&(_, size)| size).sum::<u64>();
            let (start, end) = (
                page.offset,
                page.offset.saturating_add(u64::from(page.limit)),
            );
            let mut items = Vec::new();
            for (digits, value) in prefixes.iter().skip(start.min(n_prefixes) as usize) {
                if items.len() as u64 >= end.saturating_sub(start) {
                    break;
                }
                items.push(parse_entry(prefix_target(digits)?, value)?);
            }
            // The number buckets that hold the rest of the page, with how many of each to skip.
            let mut at = n_prefixes;
            let mut wanted = Vec::new();
            for (n, size) in sizes {
                if at >= end {
                    break;
                }
                if at + size > start {
                    wanted.push((n, start.saturating_sub(at)));
                }
                at += size;
            }
            if !wanted.is_empty() {
                let mut pipe = redis::pipe();
                for &(n, _) in &wanted {
                    pipe.cmd("HGETALL").arg(keys.bucket(n));
                }
                let buckets: Vec<Vec<(String, String)>> =
                    pipe.query_async(&mut con).await.map_err(unavailable)?;
                let room = end.saturating_sub(start) as usize;
                for ((_, skip), bucket) in wanted.iter().zip(buckets) {
                    for (digits, value) in bucket.into_iter().skip(*skip as usize) {
                        if items.len() >= room {
                            break;
                        }
                        items.push(parse_entry(number_target(&digits)?, &value)?);
                    }
                }
            }
            Ok(Listing { items, total })
        })
        .await
    }

    async fn screen(
        &self,
        org: &OrgId,
        calls: &[(PhoneNumber, Vec<FrequencyCap>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Screened>, StoreError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.inner.keys.dnc(org);
        let mut buckets: Vec<String> = vec![keys.prefixes.clone()];
        let mut index_of = |key: String| match buckets.iter().position(|known| *known == key) {
            Some(index) => index + 1,
            None => {
                buckets.push(key);
                buckets.len()
            }
        };
        let mut args = vec![now.timestamp().to_string(), ms_of(now)];
        for (number, caps) in calls {
            let digits = &number.as_str()[1..];
            let n = DncKeys::bucket_of(digits);
            let dnc_at = index_of(keys.bucket(n));
            let fq_at = if caps.is_empty() {
                0
            } else {
                index_of(keys.attempts(n))
            };
            args.extend([
                dnc_at.to_string(),
                digits.to_owned(),
                fq_at.to_string(),
                caps.len().to_string(),
            ]);
            for cap in caps {
                args.push(cap.max_calls.to_string());
                args.push(cap.window.num_seconds().to_string());
            }
        }
        let answers: Vec<i64> = self
            .io(move |inner| async move {
                let mut invocation = inner.scripts.screen.prepare_invoke();
                for bucket in buckets {
                    invocation.key(bucket);
                }
                for arg in args {
                    invocation.arg(arg);
                }
                let mut con = inner.connection().await?;
                invocation.invoke_async(&mut con).await.map_err(unavailable)
            })
            .await?;
        if answers.len() != calls.len() {
            return Err(StoreError::Corrupt("screen reply".to_owned()));
        }
        answers
            .into_iter()
            .map(|answer| match answer {
                -1 => Ok(Screened::Listed),
                0 => Ok(Screened::Allowed),
                at => DateTime::from_timestamp(at, 0)
                    .map(Screened::CappedUntil)
                    .ok_or_else(|| StoreError::Corrupt("screen reply".to_owned())),
            })
            .collect()
    }

    async fn start_cooldown(
        &self,
        org: &OrgId,
        number: &PhoneNumber,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let keys = self.inner.keys.dnc(org);
        let digits = number.as_str()[1..].to_owned();
        let bucket = keys.attempts(DncKeys::bucket_of(&digits));
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            let _: i64 = inner
                .scripts
                .cooldown
                .key(bucket)
                .arg(digits)
                .arg(until.timestamp())
                .invoke_async(&mut con)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn dnc_covering(
        &self,
        org: &OrgId,
        numbers: &[PhoneNumber],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<DncEntry>>, StoreError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.inner.keys.dnc(org);
        let numbers = numbers.to_vec();
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            // An organisation without a list (most) answers from one command.
            if !inner.lists_any(&mut con, &keys).await? {
                return Ok(vec![None; numbers.len()]);
            }
            // One pipeline: each number's field in its bucket, and every prefix of every number.
            let mut prefixes: Vec<&str> = numbers
                .iter()
                .flat_map(|number| prefixes_of(number).map(|prefix| &prefix[1..]))
                .collect();
            prefixes.sort_unstable();
            prefixes.dedup();
            let mut pipe = redis::pipe();
            pipe.cmd("HMGET").arg(&keys.prefixes).arg(&prefixes);
            for number in &numbers {
                let digits = &number.as_str()[1..];
                pipe.hget(keys.bucket(DncKeys::bucket_of(digits)), digits);
            }
            let mut replies: Vec<redis::Value> =
                pipe.query_async(&mut con).await.map_err(unavailable)?;
            let exact = replies.split_off(1);
            let listed: Vec<Option<String>> =
                redis::from_redis_value(replies.pop().unwrap_or(redis::Value::Nil))
                    .map_err(unavailable)?;
            let mut by_prefix = BTreeMap::new();
            for (digits, value) in prefixes.iter().zip(listed) {
                if let Some(value) = value {
                    by_prefix.insert(*digits, parse_entry(prefix_target(digits)?, &value)?);
                }
            }
            numbers
                .iter()
                .zip(exact)
                .map(|(number, value)| {
                    let value: Option<String> =
                        redis::from_redis_value(value).map_err(unavailable)?;
                    let exact = value
                        .map(|value| parse_entry(DncTarget::Number(number.clone()), &value))
                        .transpose()?;
                    let prefixes = prefixes_of(number)
                        .filter_map(|prefix| by_prefix.get(&prefix[1..]).cloned());
                    Ok(covering(exact, prefixes, now))
                })
                .collect()
        })
        .await
    }

    async fn lists_any(&self, org: &OrgId) -> Result<bool, StoreError> {
        let keys = self.inner.keys.dnc(org);
        self.io(move |inner| async move {
            let mut con = inner.connection().await?;
            inner.lists_any(&mut con, &keys).await
        })
        .await
    }
}

impl Inner {
    /// Whether the list of `keys` holds anything: its bucket sizes (kept, zeroed, once an entry
    /// was added: an emptied list still says yes) or a prefix.
    async fn lists_any(&self, con: &mut Connection, keys: &DncKeys) -> Result<bool, StoreError> {
        let n_keys: u32 = redis::cmd("EXISTS")
            .arg(&keys.sizes)
            .arg(&keys.prefixes)
            .query_async(con)
            .await
            .map_err(unavailable)?;
        Ok(n_keys > 0)
    }
}
