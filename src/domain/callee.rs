//! The callee gate: whether one contact may be called now, read in the callee's own time, and if
//! not, why and until when.
//!
//! A call may start only when every rule is open at once (`COMPLIANCE.md`, *How the rules
//! combine*): the campaign's window (in the campaign's zone, or with `timezone_mode: contact` in
//! the callee's), the legal floor of the callee's region (its country's profile and its state's
//! or province's, with their day rules), and the organisation's quiet hours; each rule that
//! reads the callee's time holds in every candidate zone of the number. Each rule is a list of
//! open intervals of instants; the gate intersects them. The daily cap, concurrency and carrier
//! rate are the claim's to count, not this gate's.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::PhoneNumber;
use super::floor::{FloorProfile, LegalFloor, region_of};
use super::hours::WeekHours;
use super::schedule::{local_date, resolve_local};

/// Why a contact that is not final waits (`held_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeldReason {
    Window,
    WorkingDay,
    LegalHours,
    Holiday,
    QuietHours,
    DailyCap,
    Concurrency,
    CarrierRate,
    FrequencyCap,
    CallbackPending,
    Paused,
    NotStarted,
}

impl HeldReason {
    pub const ALL: [HeldReason; 12] = [
        Self::Window,
        Self::WorkingDay,
        Self::LegalHours,
        Self::Holiday,
        Self::QuietHours,
        Self::DailyCap,
        Self::Concurrency,
        Self::CarrierRate,
        Self::FrequencyCap,
        Self::CallbackPending,
        Self::Paused,
        Self::NotStarted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::WorkingDay => "working_day",
            Self::LegalHours => "legal_hours",
            Self::Holiday => "holiday",
            Self::QuietHours => "quiet_hours",
            Self::DailyCap => "daily_cap",
            Self::Concurrency => "concurrency",
            Self::CarrierRate => "carrier_rate",
            Self::FrequencyCap => "frequency_cap",
            Self::CallbackPending => "callback_pending",
            Self::Paused => "paused",
            Self::NotStarted => "not_started",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == text)
    }
}

/// Why a contact ended `skipped` (`skip_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Its campaign's `timezone_fallback` is `skip` and neither the contact nor its number
    /// gives its zone.
    TimezoneUnresolvable,
    /// Its number is on its organisation's do-not-call list.
    Dnc,
    /// Its campaign's `expires_at` passed before it was done (status `expired`).
    Expired,
}

impl SkipReason {
    pub const ALL: [SkipReason; 3] = [Self::TimezoneUnresolvable, Self::Dnc, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TimezoneUnresolvable => "timezone_unresolvable",
            Self::Dnc => "dnc",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == text)
    }
}

/// Whether a partition's contacts have no zone of their own (neither the contact nor its number
/// gave one): the campaign's `timezone_fallback` decides.
pub fn is_unresolvable(key: &str) -> bool {
    key.is_empty() || key.starts_with(';')
}

/// Which zone a campaign's windows are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimezoneMode {
    /// The campaign's own timezone (the seed vendor's behaviour).
    #[default]
    Campaign,
    /// Each contact's zone.
    Contact,
}

impl TimezoneMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Campaign => "campaign",
            Self::Contact => "contact",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Campaign, Self::Contact]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

/// Everything the callee gate reads for one contact.
#[derive(Debug, Clone, Copy)]
pub struct CalleeRules<'a> {
    /// The campaign's windows, and the zone they are read in when `mode` is `Campaign`.
    pub campaign_hours: &'a WeekHours,
    pub campaign_zone: Tz,
    pub mode: TimezoneMode,
    /// The callee's candidate zones (never empty).
    pub zones: &'a [Tz],
    pub region: Option<&'a str>,
    pub floor: &'a LegalFloor,
    /// The organisation's quiet hours, as the hours they leave open.
    pub quiet_open: Option<&'a WeekHours>,
}

/// What the gate says about a call now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The call may start; its effective window closes at `closes_at`.
    Open { closes_at: DateTime<Utc> },
    /// Not now, for `reason` (the first rule that is closed); every rule is next open at
    /// `until`, or `None` when they never meet in the fortnight ahead (a window that lies
    /// wholly outside the floor).
    Held {
        reason: HeldReason,
        until: Option<DateTime<Utc>>,
    },
}

/// Open intervals `[open, close)` of instants, sorted, disjoint and not touching.
type Intervals = Vec<(DateTime<Utc>, DateTime<Utc>)>;

/// One rule read in one zone.
struct Rule<'a> {
    zone: Tz,
    hours: &'a WeekHours,
    /// Days on which the rule is closed whatever its hours (the region's holidays).
    closed_days: Option<&'a BTreeSet<NaiveDate>>,
    kind: RuleKind,
}

#[derive(Clone, Copy)]
enum RuleKind {
    Campaign,
    Floor,
    Quiet,
}

impl Rule<'_> {
    fn is_closed_day(&self, date: NaiveDate) -> bool {
        self.closed_days.is_some_and(|days| days.contains(&date))
    }

    /// The rule's open intervals over the local dates `first..=last`.
    fn intervals(&self, first: NaiveDate, last: NaiveDate) -> Intervals {
        let mut intervals: Intervals = Vec::new();
        for date in first.iter_days().take_while(|date| *date <= last) {
            if self.is_closed_day(date) {
                continue;
            }
            let midnight = date.and_time(NaiveTime::MIN);
            for &(start, end) in self.hours.on(date.weekday()) {
                let open = resolve_local(self.zone, midnight + Duration::minutes(i64::from(start)));
                let close = resolve_local(self.zone, midnight + Duration::minutes(i64::from(end)));
                if open >= close {
                    continue;
                }
                match intervals.last_mut() {
                    Some(last) if last.1 >= open => last.1 = last.1.max(close),
                    _ => intervals.push((open, close)),
                }
            }
        }
        intervals
    }

    /// Why the rule is closed at `instant` (it is).
    fn reason_at(&self, instant: DateTime<Utc>) -> HeldReason {
        let date = local_date(self.zone, instant);
        match self.kind {
            RuleKind::Campaign if self.hours.on(date.weekday()).is_empty() => {
                HeldReason::WorkingDay
            }
            RuleKind::Campaign => HeldReason::Window,
            RuleKind::Floor if self.is_closed_day(date) => HeldReason::Holiday,
            RuleKind::Floor => HeldReason::LegalHours,
            RuleKind::Quiet => HeldReason::QuietHours,
        }
    }
}

/// The intervals open in both `a` and `b`.
fn intersect(a: &Intervals, b: &Intervals) -> Intervals {
    let (mut i, mut j) = (0, 0);
    let mut both = Vec::new();
    while i < a.len() && j < b.len() {
        let open = a[i].0.max(b[j].0);
        let close = a[i].1.min(b[j].1);
        if open < close {
            both.push((open, close));
        }
        if a[i].1 < b[j].1 { i += 1 } else { j += 1 }
    }
    both
}

/// How far the gate looks first (most calls are decided in it), and at most.
const NEAR_DAYS: i64 = 2;
const FAR_DAYS: i64 = 15;

impl CalleeRules<'_> {
    fn rules(&self) -> Vec<Rule<'_>> {
        let mut rules = Vec::new();
        let campaign_zones = match self.mode {
            TimezoneMode::Campaign => std::slice::from_ref(&self.campaign_zone),
            TimezoneMode::Contact => self.zones,
        };
        for &zone in campaign_zones {
            rules.push(Rule {
                zone,
                hours: self.campaign_hours,
                closed_days: None,
                kind: RuleKind::Campaign,
            });
        }
        if let Some(region) = self.region {
            for profile in self.floor.profiles_for(region) {
                let closed_days = self.floor.holidays_of(profile);
                for &zone in self.zones {
                    rules.push(Rule {
                        zone,
                        hours: &profile.hours,
                        closed_days,
                        kind: RuleKind::Floor,
                    });
                }
            }
        }
        if let Some(open) = self.quiet_open {
            for &zone in self.zones {
                rules.push(Rule {
                    zone,
                    hours: open,
                    closed_days: None,
                    kind: RuleKind::Quiet,
                });
            }
        }
        rules
    }

    /// Every rule's open intervals from the day before `now` to `days` after it, intersected.
    fn open_intervals(rules: &[Rule<'_>], now: DateTime<Utc>, days: i64) -> Vec<Intervals> {
        rules
            .iter()
            .map(|rule| {
                let today = local_date(rule.zone, now);
                rule.intervals(today - Duration::days(1), today + Duration::days(days))
            })
            .collect()
    }

    /// Whether a call may start at `now`, and if not, why and until when.
    pub fn verdict(&self, now: DateTime<Utc>) -> Verdict {
        let rules = self.rules();
        let near = Self::open_intervals(&rules, now, NEAR_DAYS);
        let all = near
            .iter()
            .skip(1)
            .fold(near[0].clone(), |both, next| intersect(&both, next));
        if let Some(&(_, close)) = all
            .iter()
            .find(|(open, close)| *open <= now && now < *close)
        {
            return Verdict::Open { closes_at: close };
        }
        let reason = rules
            .iter()
            .zip(&near)
            .find(|(_, intervals)| {
                !intervals
                    .iter()
                    .any(|(open, close)| *open <= now && now < *close)
            })
            .map_or(HeldReason::Window, |(rule, _)| rule.reason_at(now));
        let next = |intervals: &Intervals| {
            intervals
                .iter()
                .map(|(open, _)| *open)
                .find(|open| *open > now)
        };
        let until = next(&all).or_else(|| {
            let far = Self::open_intervals(&rules, now, FAR_DAYS);
            let all = far
                .iter()
                .skip(1)
                .fold(far[0].clone(), |both, next| intersect(&both, next));
            next(&all)
        });
        Verdict::Held { reason, until }
    }
}

/// The queue partition of a contact: its candidate zones and region, as text (`America/Chicago
/// America/Denver;US-SD`); the zones are left out when the campaign's fallback gives them, and
/// the key is empty when neither zones nor region are known (the campaign's own rules only).
/// Contacts of one partition share every callee rule, so the gate is decided once per
/// partition, not per contact.
pub fn partition_key(own_zone: Option<Tz>, phone: &PhoneNumber) -> String {
    let zones = super::contact_zones(own_zone, phone, Tz::UTC);
    let region = region_of(phone).unwrap_or_default();
    if zones.source == super::ZoneSource::Campaign && region.is_empty() {
        return String::new();
    }
    let mut key = String::new();
    if zones.source != super::ZoneSource::Campaign {
        for (index, zone) in zones.zones.iter().enumerate() {
            if index > 0 {
                key.push(' ');
            }
            key.push_str(zone.name());
        }
    }
    key.push(';');
    key.push_str(region);
    key
}

/// A partition key read back: its zones (empty: the campaign's) and region.
pub fn parse_partition_key(key: &str) -> (Vec<Tz>, Option<&str>) {
    let (zones, region) = key.split_once(';').unwrap_or((key, ""));
    let zones = zones
        .split(' ')
        .filter(|zone| !zone.is_empty())
        .filter_map(|zone| zone.parse().ok())
        .collect();
    (zones, (!region.is_empty()).then_some(region))
}

/// The operator's call-safety rules for every campaign: the legal floor, each organisation's
/// quiet hours (as the hours they leave open), and how long before a window closes the last
/// dial request may go.
#[derive(Debug, Clone, Default)]
pub struct CallSafety {
    pub floor: LegalFloor,
    pub quiet_open: HashMap<String, WeekHours>,
    pub end_buffer: Duration,
    /// Per organisation, caps on attempts to one number across its campaigns.
    pub org_caps: HashMap<String, Vec<super::FrequencyCap>>,
}

impl CallSafety {
    /// How long after a refusal no call goes to `number`: the longest of its region's profiles'.
    pub fn cooldown_after_refusal(&self, number: &PhoneNumber) -> Option<Duration> {
        let region = region_of(number)?;
        self.floor
            .profiles_for(region)
            .filter_map(|profile| profile.cooldown_after_refusal)
            .max()
    }

    /// Every frequency cap on a call of a campaign of `org` (whose own caps are `campaign`) to
    /// `number`: the campaign's, the organisation's and its region's profiles'.
    pub fn caps_for(
        &self,
        org: &str,
        number: &PhoneNumber,
        campaign: &[super::FrequencyCap],
    ) -> Vec<super::FrequencyCap> {
        let mut caps = campaign.to_vec();
        caps.extend(self.org_caps.get(org).into_iter().flatten());
        if let Some(region) = region_of(number) {
            for profile in self.floor.profiles_for(region) {
                caps.extend(&profile.frequency_caps);
            }
        }
        caps.sort_unstable_by_key(|cap| (cap.window, cap.max_calls));
        caps.dedup();
        caps
    }

    /// The gate's verdict for the contacts of partition `key` of a campaign of `org`.
    pub fn verdict(
        &self,
        schedule: &super::Schedule,
        org: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Verdict {
        let (zones, region) = parse_partition_key(key);
        let zones = if zones.is_empty() {
            vec![schedule.timezone]
        } else {
            zones
        };
        let campaign_hours = schedule.hours();
        CalleeRules {
            campaign_hours: &campaign_hours,
            campaign_zone: schedule.timezone,
            mode: schedule.timezone_mode,
            zones: &zones,
            region,
            floor: &self.floor,
            quiet_open: self.quiet_open.get(org),
        }
        .verdict(now)
    }

    /// The countries whose legal calling hours a campaign's window reaches outside of, read as
    /// wall-clock hours (in the campaign's zone, or each callee's with `timezone_mode: contact`):
    /// their contacts wait for the floor. A window in the campaign's zone reaches other zones'
    /// hours shifted; this compares the hours as written.
    pub fn regions_outside(&self, schedule: &super::Schedule) -> Vec<&FloorProfile> {
        let hours = schedule.hours();
        let mut outside: Vec<&FloorProfile> = self
            .floor
            .profiles()
            .filter(|profile| !profile.region.contains('-') && !hours.within(&profile.hours))
            .collect();
        outside.sort_by(|a, b| a.region.cmp(&b.region));
        outside
    }

    /// The instant after which no dial request of a call whose window closes at `closes_at`
    /// may go.
    pub fn not_after(&self, closes_at: DateTime<Utc>) -> DateTime<Utc> {
        closes_at - self.end_buffer
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;
    use crate::domain::{DailyHours, Schedule, SchedulePatch};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn phone(text: &str) -> PhoneNumber {
        PhoneNumber::parse(text).unwrap()
    }

    fn hours(entries: &[(&[i64], &str, &str)]) -> WeekHours {
        let entries: Vec<DailyHours> = entries
            .iter()
            .map(|(days, start, end)| DailyHours::parse("hours", days, start, end).unwrap())
            .collect();
        WeekHours::new("hours", &entries).unwrap()
    }

    const EVERY_DAY: &[i64] = &[1, 2, 3, 4, 5, 6, 7];

    /// The shipped profiles that matter here: US federal, Florida, Alabama, Canada.
    fn safety() -> CallSafety {
        let profile = |region: &str, hours: WeekHours, no_holidays: bool| FloorProfile {
            region: region.to_owned(),
            hours,
            no_holidays,
            source: "test".to_owned(),
            frequency_caps: Vec::new(),
            cooldown_after_refusal: None,
        };
        let floor = LegalFloor::new(
            [
                profile("US", hours(&[(EVERY_DAY, "08:00", "21:00")]), false),
                profile("US-FL", hours(&[(EVERY_DAY, "08:00", "20:00")]), false),
                profile(
                    "US-AL",
                    hours(&[(&[1, 2, 3, 4, 5, 6], "08:00", "20:00")]),
                    true,
                ),
                profile(
                    "CA",
                    hours(&[
                        (&[1, 2, 3, 4, 5], "09:00", "21:30"),
                        (&[6, 7], "10:00", "18:00"),
                    ]),
                    false,
                ),
            ],
            [("US-AL".to_owned(), "2026-12-25".parse().unwrap())],
        );
        CallSafety {
            floor,
            quiet_open: HashMap::new(),
            end_buffer: Duration::seconds(60),
            org_caps: HashMap::new(),
        }
    }

    /// A campaign in New York, 09:00–20:00 every day, in `mode`.
    fn new_york(mode: &str) -> Schedule {
        Schedule::default()
            .apply(&SchedulePatch {
                timezone: Some("America/New_York".into()),
                start_time: Some(Some("09:00".into())),
                end_time: Some(Some("20:00".into())),
                working_days: Some(EVERY_DAY.to_vec()),
                timezone_mode: Some(mode.into()),
                ..SchedulePatch::default()
            })
            .unwrap()
    }

    fn verdict(schedule: &Schedule, number: &str, now: &str) -> Verdict {
        let key = partition_key(None, &phone(number));
        safety().verdict(schedule, "acme", &key, at(now))
    }

    #[test]
    fn partition_keys_name_zones_and_region() {
        let key = |number: &str| partition_key(None, &phone(number));
        assert_eq!(key("+13105550123"), "America/Los_Angeles;US-CA");
        assert_eq!(key("+19075550123"), "America/Adak America/Anchorage;US-AK");
        // Toll-free: too many zones, the campaign's; the federal floor still holds.
        assert_eq!(key("+18005550123"), ";US");
        assert_eq!(key("+15550001234"), "");
        let own = partition_key(Some(chrono_tz::Asia::Tokyo), &phone("+13105550123"));
        assert_eq!(own, "Asia/Tokyo;US-CA");
        assert_eq!(
            parse_partition_key("America/Adak America/Anchorage;US-AK"),
            (
                vec![chrono_tz::America::Adak, chrono_tz::America::Anchorage],
                Some("US-AK")
            )
        );
    }

    #[test]
    fn the_west_coast_waits_for_its_own_eight_o_clock() {
        let schedule = new_york("campaign");
        // Monday 2026-12-07 14:00Z: 09:00 in New York, 06:00 in Los Angeles.
        assert_eq!(
            verdict(&schedule, "+13105550123", "2026-12-07T14:00:00Z"),
            Verdict::Held {
                reason: HeldReason::LegalHours,
                until: Some(at("2026-12-07T16:00:00Z")),
            }
        );
        // New York itself is open until the campaign's 20:00 (01:00Z).
        assert_eq!(
            verdict(&schedule, "+12125550123", "2026-12-07T14:00:00Z"),
            Verdict::Open {
                closes_at: at("2026-12-08T01:00:00Z")
            }
        );
        // At 17:00Z Los Angeles is at 09:00: open until New York's 20:00.
        assert_eq!(
            verdict(&schedule, "+13105550123", "2026-12-07T17:00:00Z"),
            Verdict::Open {
                closes_at: at("2026-12-08T01:00:00Z")
            }
        );
    }

    #[test]
    fn in_contact_mode_the_window_is_read_in_the_callee_s_zone() {
        let schedule = new_york("contact");
        // 02:00Z is 21:00 in New York (closed) and 18:00 in Los Angeles (open until 20:00 PT).
        assert_eq!(
            verdict(&schedule, "+13105550123", "2026-12-08T02:00:00Z"),
            Verdict::Open {
                closes_at: at("2026-12-08T04:00:00Z")
            }
        );
        assert_eq!(
            verdict(&schedule, "+12125550123", "2026-12-08T02:00:00Z"),
            Verdict::Held {
                reason: HeldReason::Window,
                until: Some(at("2026-12-08T14:00:00Z")),
            }
        );
    }

    #[test]
    fn a_state_s_hours_narrow_the_federal_ones() {
        let schedule = new_york("contact");
        // Florida (Eastern): 20:00 local is past its 20:00 floor and the window's end.
        // 00:30Z on Tuesday is 19:30 in Miami: open until 20:00 (01:00Z).
        assert_eq!(
            verdict(&schedule, "+13055550123", "2026-12-08T00:30:00Z"),
            Verdict::Open {
                closes_at: at("2026-12-08T01:00:00Z")
            }
        );
        // A campaign of 06:00–23:00 never opens before 08:00 or after 20:00 in Florida.
        let wide = Schedule::default()
            .apply(&SchedulePatch {
                timezone: Some("America/New_York".into()),
                start_time: Some(Some("06:00".into())),
                end_time: Some(Some("23:00".into())),
                working_days: Some(EVERY_DAY.to_vec()),
                ..SchedulePatch::default()
            })
            .unwrap();
        assert_eq!(
            verdict(&wide, "+13055550123", "2026-12-08T11:30:00Z"),
            Verdict::Held {
                reason: HeldReason::LegalHours,
                until: Some(at("2026-12-08T13:00:00Z")),
            }
        );
        assert!(matches!(
            verdict(&wide, "+13055550123", "2026-12-08T01:30:00Z"),
            Verdict::Held {
                reason: HeldReason::LegalHours,
                ..
            }
        ));
    }

    #[test]
    fn alabama_rests_on_sundays_and_holidays() {
        let schedule = new_york("contact");
        // Sunday 2026-12-06 16:00Z is 10:00 in Birmingham (Central): no call on a Sunday.
        assert_eq!(
            verdict(&schedule, "+12055550123", "2026-12-06T16:00:00Z"),
            Verdict::Held {
                reason: HeldReason::LegalHours,
                until: Some(at("2026-12-07T15:00:00Z")),
            }
        );
        // Christmas Day 2026 is a Friday: held until Saturday 09:00 (the window's start).
        assert_eq!(
            verdict(&schedule, "+12055550123", "2026-12-25T16:00:00Z"),
            Verdict::Held {
                reason: HeldReason::Holiday,
                until: Some(at("2026-12-26T15:00:00Z")),
            }
        );
    }

    #[test]
    fn a_number_spanning_two_zones_is_open_only_where_both_are() {
        let schedule = new_york("contact");
        // Alaska: Anchorage is UTC−9, Adak UTC−10 in December. 18:30Z is 09:30 in Anchorage
        // but 08:30 in Adak: closed until 09:00 in Adak (19:00Z).
        assert_eq!(
            verdict(&schedule, "+19075550123", "2026-12-07T18:30:00Z"),
            Verdict::Held {
                reason: HeldReason::Window,
                until: Some(at("2026-12-07T19:00:00Z")),
            }
        );
        // Open from 19:00Z until Anchorage's 20:00 (05:00Z).
        assert_eq!(
            verdict(&schedule, "+19075550123", "2026-12-07T19:00:00Z"),
            Verdict::Open {
                closes_at: at("2026-12-08T05:00:00Z")
            }
        );
    }

    #[test]
    fn quiet_hours_close_the_organisation_s_calls() {
        let schedule = new_york("campaign");
        let mut safety = safety();
        let quiet = hours(&[(EVERY_DAY, "12:00", "13:00")]);
        safety
            .quiet_open
            .insert("acme".to_owned(), quiet.complement());
        let key = partition_key(None, &phone("+12125550123"));
        // 17:30Z is 12:30 in New York.
        assert_eq!(
            safety.verdict(&schedule, "acme", &key, at("2026-12-07T17:30:00Z")),
            Verdict::Held {
                reason: HeldReason::QuietHours,
                until: Some(at("2026-12-07T18:00:00Z")),
            }
        );
        assert!(matches!(
            safety.verdict(&schedule, "globex", &key, at("2026-12-07T17:30:00Z")),
            Verdict::Open { .. }
        ));
    }

    #[test]
    fn a_window_wholly_outside_the_floor_never_opens() {
        let night = Schedule::default()
            .apply(&SchedulePatch {
                start_time: Some(Some("02:00".into())),
                end_time: Some(Some("05:00".into())),
                working_days: Some(EVERY_DAY.to_vec()),
                timezone_mode: Some("contact".into()),
                ..SchedulePatch::default()
            })
            .unwrap();
        // 08:00Z is 03:00 in New York: inside the window, outside the floor, for good.
        assert_eq!(
            verdict(&night, "+12125550123", "2026-12-07T08:00:00Z"),
            Verdict::Held {
                reason: HeldReason::LegalHours,
                until: None,
            }
        );
        let safety = safety();
        let outside: Vec<&str> = safety
            .regions_outside(&night)
            .iter()
            .map(|profile| profile.region.as_str())
            .collect();
        assert_eq!(outside, ["CA", "US"]);
        assert!(safety.regions_outside(&new_york("campaign")).len() == 1); // CA's weekends
    }

    /// The gate read directly: at `now`, every candidate zone's wall clock is inside each rule's
    /// hours (no intervals, no instants resolved from wall times).
    fn directly_open(
        safety: &CallSafety,
        schedule: &Schedule,
        number: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let phone = phone(number);
        let key = partition_key(None, &phone);
        let (zones, region) = parse_partition_key(&key);
        let zones = if zones.is_empty() {
            vec![schedule.timezone]
        } else {
            zones
        };
        let campaign_hours = schedule.hours();
        let open_in = |hours: &WeekHours, zone: Tz| {
            let local = now.with_timezone(&zone);
            let minute = (local.hour() * 60 + local.minute()) as u16;
            hours.contains(local.weekday(), minute)
        };
        let campaign_zones = match schedule.timezone_mode {
            TimezoneMode::Campaign => vec![schedule.timezone],
            TimezoneMode::Contact => zones.clone(),
        };
        let campaign_open = campaign_zones
            .iter()
            .all(|zone| open_in(&campaign_hours, *zone));
        let floor_open = region.is_none_or(|region| {
            safety.floor.profiles_for(region).all(|profile| {
                zones.iter().all(|zone| {
                    let date = now.with_timezone(zone).date_naive();
                    let holiday = safety
                        .floor
                        .holidays_of(profile)
                        .is_some_and(|days| days.contains(&date));
                    !holiday && open_in(&profile.hours, *zone)
                })
            })
        });
        campaign_open && floor_open
    }

    const NUMBERS: &[&str] = &[
        "+12125550123",  // New York
        "+13125550123",  // Chicago
        "+13035550123",  // Denver
        "+16025550123",  // Phoenix
        "+13105550123",  // Los Angeles
        "+18085550123",  // Honolulu
        "+19075550123",  // Alaska: two zones
        "+16055550123",  // South Dakota: two zones
        "+13055550123",  // Florida
        "+12055550123",  // Alabama
        "+14165550123",  // Toronto
        "+442071234567", // London: no profile
        "+15550001234",  // unassigned: the campaign's zone, no floor
    ];
    const CAMPAIGN_ZONES: &[&str] = &[
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
        "UTC",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// Across the year's DST days (2026: US 03-08 and 11-01, Europe 03-29 and 10-25): when
        /// the gate says open, every rule is open in every candidate zone; when it says held
        /// until an instant, nothing opens before it and it is open then.
        #[test]
        fn the_gate_opens_only_inside_every_rule(
            number in proptest::sample::select(NUMBERS),
            zone in proptest::sample::select(CAMPAIGN_ZONES),
            contact_mode in proptest::bool::ANY,
            start_hour in 6u32..12,
            end_hour in 14u32..23,
            days in proptest::collection::btree_set(1i64..=7, 1..=7),
            minute_of_year in 0i64..(365 * 24 * 60),
        ) {
            let schedule = Schedule::default()
                .apply(&SchedulePatch {
                    timezone: Some(zone.into()),
                    start_time: Some(Some(format!("{start_hour:02}:00"))),
                    end_time: Some(Some(format!("{end_hour:02}:30"))),
                    working_days: Some(days.into_iter().collect()),
                    timezone_mode: Some(if contact_mode { "contact" } else { "campaign" }.into()),
                    ..SchedulePatch::default()
                })
                .unwrap();
            let safety = safety();
            let now = at("2026-01-01T00:00:00Z") + Duration::minutes(minute_of_year);
            let key = partition_key(None, &phone(number));
            match safety.verdict(&schedule, "acme", &key, now) {
                Verdict::Open { closes_at } => {
                    proptest::prop_assert!(directly_open(&safety, &schedule, number, now));
                    proptest::prop_assert!(closes_at > now);
                    let last = closes_at - Duration::seconds(1);
                    proptest::prop_assert!(directly_open(&safety, &schedule, number, last));
                }
                Verdict::Held { until, .. } => {
                    proptest::prop_assert!(!directly_open(&safety, &schedule, number, now));
                    if let Some(until) = until {
                        proptest::prop_assert!(until > now);
                        proptest::prop_assert!(directly_open(&safety, &schedule, number, until));
                        for step in 1..16 {
                            let between = now + (until - now) * step / 16;
                            if between < until {
                                proptest::prop_assert!(
                                    !directly_open(&safety, &schedule, number, between),
                                    "open at {between} before {until}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
