//! Do-not-call: an organisation's numbers and prefixes that none of its campaigns may call, each
//! until its optional expiry.

use chrono::{DateTime, Utc};

use super::{DomainError, PhoneNumber, checked_text};

/// Entries one request may add (a larger list goes through the CSV import).
pub const MAX_DNC_ENTRIES: usize = 10_000;
/// Characters of an entry's reason.
pub const MAX_DNC_REASON_CHARS: usize = 255;

/// What an entry covers: one number, or every number under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DncTarget {
    Number(PhoneNumber),
    /// `+` and 1 to 15 digits, the first not 0 (a country code, an area code, …).
    Prefix(String),
}

impl DncTarget {
    pub fn parse_prefix(text: &str) -> Result<Self, DomainError> {
        let digits = text.strip_prefix('+').unwrap_or("");
        let valid = (1..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self::Prefix(text.to_owned()))
        } else {
            Err(DomainError::new(
                "prefix",
                format!("`{text}` is not a number prefix (`+` and 1 to 15 digits, like +1201)"),
            ))
        }
    }

    /// The number or prefix, with its `+`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Number(number) => number.as_str(),
            Self::Prefix(prefix) => prefix,
        }
    }
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncEntry {
    pub target: DncTarget,
    pub reason: Option<String>,
    /// From this instant on the entry no longer applies.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl DncEntry {
    /// Whether the entry still applies at `now`.
    pub fn applies_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

/// Checks an entry's reason.
pub fn check_dnc_reason(reason: &str) -> Result<(), DomainError> {
    checked_text("reason", reason, 1, MAX_DNC_REASON_CHARS)
}

/// Every prefix entry that could cover `number`: `+1`, `+14`, … up to the whole number, shortest
/// first.
pub fn prefixes_of(number: &PhoneNumber) -> impl Iterator<Item = &str> {
    let text = number.as_str();
    (2..=text.len()).map(move |end| &text[..end])
}

/// Of the entries found for a number (its exact entry, the prefixes' entries), the one that
/// covers it at `now`: the exact one first, then the longest prefix.
pub fn covering(
    exact: Option<DncEntry>,
    prefixes: impl IntoIterator<Item = DncEntry>,
    now: DateTime<Utc>,
) -> Option<DncEntry> {
    if let Some(entry) = exact.filter(|entry| entry.applies_at(now)) {
        return Some(entry);
    }
    prefixes
        .into_iter()
        .filter(|entry| entry.applies_at(now))
        .max_by_key(|entry| entry.target.as_str().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: DncTarget, expires_at: Option<DateTime<Utc>>) -> DncEntry {
        DncEntry {
            target,
            reason: None,
            expires_at,
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn prefixes_follow_the_e164_shape() {
        assert!(DncTarget::parse_prefix("+1").is_ok());
        assert!(DncTarget::parse_prefix("+1201").is_ok());
        assert!(DncTarget::parse_prefix("+123456789012345").is_ok());
        for bad in ["", "+", "1201", "+0", "+1234567890123456", "+12a", " +1"] {
            assert!(DncTarget::parse_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_number_s_prefixes_run_from_its_country_code_to_itself() {
        let number = PhoneNumber::parse("+14155").unwrap();
        let all: Vec<&str> = prefixes_of(&number).collect();
        assert_eq!(all, ["+1", "+14", "+141", "+1415", "+14155"]);
    }

    #[test]
    fn the_exact_entry_then_the_longest_prefix_covers_until_they_expire() {
        let now = DateTime::UNIX_EPOCH + chrono::Duration::days(10);
        let number = DncTarget::Number(PhoneNumber::parse("+14155550101").unwrap());
        let short = entry(DncTarget::parse_prefix("+1").unwrap(), None);
        let long = entry(DncTarget::parse_prefix("+1415").unwrap(), None);
        let found = covering(None, [short.clone(), long.clone()], now);
        assert_eq!(found, Some(long.clone()));
        let exact = entry(number.clone(), None);
        assert_eq!(
            covering(Some(exact.clone()), [long.clone()], now),
            Some(exact)
        );
        let lapsed = entry(number, Some(now));
        assert_eq!(
            covering(Some(lapsed), [short.clone()], now),
            Some(short.clone())
        );
        let expired = entry(DncTarget::parse_prefix("+1").unwrap(), Some(now));
        assert_eq!(covering(None, [expired], now), None);
    }
}
