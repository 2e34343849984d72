//! The legal floor: the region of a number, and each region's calling hours and day rules
//! (profiles, holidays), as the operator configures them (`config/compliance.toml`).

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use chrono::NaiveDate;

use super::PhoneNumber;
use super::hours::WeekHours;

/// The region of a number (ISO 3166: `US-FL`, `CA-ON`, `GB`), by the longest listed prefix of
/// its digits; `None` for a prefix the table does not list (an unassigned area code).
pub fn region_of(phone: &PhoneNumber) -> Option<&'static str> {
    static TABLE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        include_str!("phone_regions.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(|line| line.split_once('\t'))
            .collect()
    });
    let digits = phone.as_str().trim_start_matches('+');
    (1..=digits.len().min(4))
        .rev()
        .find_map(|len| table.get(&digits[..len]).copied())
}

/// One region's calling hours and day rules.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorProfile {
    /// `US`, `US-FL`, `CA`, …: a country's profile applies to every number of it, a
    /// subdivision's to its numbers on top of the country's.
    pub region: String,
    pub hours: WeekHours,
    /// No call on the region's public holidays.
    pub no_holidays: bool,
    /// Where the rule comes from (shown in `diagnostics`).
    pub source: String,
    /// Caps on attempts to one number of the region, across an organisation's campaigns.
    pub frequency_caps: Vec<super::FrequencyCap>,
    /// After a refusal, no call to the number for this long.
    pub cooldown_after_refusal: Option<chrono::Duration>,
}

/// The legal floor: the profiles switched on, and the holidays of the regions that ban them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegalFloor {
    profiles: HashMap<String, FloorProfile>,
    holidays: HashMap<String, BTreeSet<NaiveDate>>,
}

impl LegalFloor {
    pub fn new(
        profiles: impl IntoIterator<Item = FloorProfile>,
        holidays: impl IntoIterator<Item = (String, NaiveDate)>,
    ) -> Self {
        let mut floor = Self {
            profiles: profiles
                .into_iter()
                .map(|profile| (profile.region.clone(), profile))
                .collect(),
            holidays: HashMap::new(),
        };
        for (region, date) in holidays {
            floor.holidays.entry(region).or_default().insert(date);
        }
        floor
    }

    /// The profiles that hold for `region`: its country's, then its own when it is a
    /// subdivision.
    pub fn profiles_for<'a>(&'a self, region: &'a str) -> impl Iterator<Item = &'a FloorProfile> {
        let country = region.split('-').next().unwrap_or(region);
        let own = (country != region).then_some(region);
        std::iter::once(country)
            .chain(own)
            .filter_map(|key| self.profiles.get(key))
    }

    /// Every profile switched on.
    pub fn profiles(&self) -> impl Iterator<Item = &FloorProfile> {
        self.profiles.values()
    }

    /// The holidays of `profile`'s region, when the profile bans calls on them.
    pub fn holidays_of(&self, profile: &FloorProfile) -> Option<&BTreeSet<NaiveDate>> {
        profile
            .no_holidays
            .then(|| self.holidays.get(&profile.region))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str) -> PhoneNumber {
        PhoneNumber::parse(text).unwrap()
    }

    #[test]
    fn numbers_have_their_regions() {
        assert_eq!(region_of(&phone("+18505550123")), Some("US-FL"));
        assert_eq!(region_of(&phone("+12035550123")), Some("US-CT"));
        assert_eq!(region_of(&phone("+14165550123")), Some("CA-ON"));
        assert_eq!(region_of(&phone("+18005550123")), Some("US"));
        assert_eq!(region_of(&phone("+18765550123")), Some("JM"));
        assert_eq!(region_of(&phone("+442071234567")), Some("GB"));
        assert_eq!(region_of(&phone("+15550001234")), None);
    }
}
