//! The schedule of a campaign: timezone, daily window, working days, limits and retries,
//! parsed once from raw input with an error that names the field.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use super::DomainError;
use super::callee::TimezoneMode;
use super::frequency::{FrequencyCap, parse_caps};
use super::hours::{DailyHours, WeekHours};

/// Minutes in a day: the end of a window that runs to midnight (`24:00`).
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// A wall-clock time of day, `HH:MM` from `00:00` to `23:59`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub fn parse(field: &str, text: &str) -> Result<Self, DomainError> {
        let invalid = || {
            DomainError::new(
                field,
                format!("`{text}` is not a time of day in HH:MM (00:00 to 23:59)"),
            )
        };
        let (hours, minutes) = text.split_once(':').ok_or_else(invalid)?;
        // Digits only: Rust's integer parsing takes a sign (`+9` is 9).
        let digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(hours) || !digits(minutes) {
            return Err(invalid());
        }
        let hours: u16 = hours.parse().map_err(|_| invalid())?;
        let minutes: u16 = minutes.parse().map_err(|_| invalid())?;
        if hours > 23 || minutes > 59 {
            return Err(invalid());
        }
        Ok(Self(hours * 60 + minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// The daily calling window `[start, end)` in local wall time; an absent bound is the day's edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalWindow {
    start: Option<TimeOfDay>,
    end: Option<TimeOfDay>,
}

impl LocalWindow {
    pub fn new(start: Option<TimeOfDay>, end: Option<TimeOfDay>) -> Result<Self, DomainError> {
        let window = Self { start, end };
        if window.end_minute() <= window.start_minute() {
            return Err(DomainError::new(
                "end_time",
                "must be later than start_time",
            ));
        }
        Ok(window)
    }

    pub fn start(&self) -> Option<TimeOfDay> {
        self.start
    }

    pub fn end(&self) -> Option<TimeOfDay> {
        self.end
    }

    pub fn start_minute(&self) -> u16 {
        self.start.map_or(0, TimeOfDay::minutes)
    }

    pub fn end_minute(&self) -> u16 {
        self.end.map_or(MINUTES_PER_DAY, TimeOfDay::minutes)
    }

    /// The window's length in wall-clock milliseconds.
    pub fn len_ms(&self) -> i64 {
        i64::from(self.end_minute() - self.start_minute()) * 60_000
    }
}

/// The ISO weekdays on which calls may be placed (1 = Monday … 7 = Sunday); never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingDays(u8);

impl WorkingDays {
    pub fn parse(days: &[i64]) -> Result<Self, DomainError> {
        if days.is_empty() {
            return Err(DomainError::new(
                "working_days",
                "must name at least one day",
            ));
        }
        let mut mask = 0u8;
        for (index, &day) in days.iter().enumerate() {
            if !(1..=7).contains(&day) {
                return Err(DomainError::new(
                    format!("working_days[{index}]"),
                    format!("`{day}` is not a weekday from 1 (Monday) to 7 (Sunday)"),
                ));
            }
            mask |= 1 << (day - 1);
        }
        Ok(Self(mask))
    }

    pub fn all() -> Self {
        Self(0b111_1111)
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// The days as ISO numbers, in order.
    pub fn iso_days(self) -> Vec<u8> {
        (1..=7u8)
            .filter(|day| self.0 & (1 << (day - 1)) != 0)
            .collect()
    }
}

impl Default for WorkingDays {
    fn default() -> Self {
        Self(0b001_1111)
    }
}

/// Whether and how failed calls are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub enabled: bool,
    /// Retries after the first attempt, 0 to 3.
    pub max_retries: u32,
    pub delay_minutes: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            max_retries: 0,
            delay_minutes: 30,
        }
    }
}

/// When dispatch may begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartRule {
    /// As soon as the campaign is scheduled.
    #[default]
    Immediate,
    /// Not before this instant.
    At(DateTime<Utc>),
}

/// The earliest instant the API takes or shows: Pacer's clock starts at the Unix epoch.
pub fn earliest_instant() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest instant the API takes or shows: RFC 3339 years have four digits.
pub fn latest_instant() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(253_402_300_799_999).expect("9999-12-31T23:59:59.999Z")
}

/// Whether `instant` lies in the range the API takes and shows as RFC 3339.
pub fn is_printable(instant: DateTime<Utc>) -> bool {
    (earliest_instant()..=latest_instant()).contains(&instant)
}

/// A `scheduled_at` as given: an instant, or a wall time read in the campaign's timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Instant(DateTime<Utc>),
    Local(NaiveDateTime),
}

impl StartAt {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::Instant(instant.with_timezone(&Utc)));
        }
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(Self::Local)
            .ok_or_else(|| {
                DomainError::new(
                    "scheduled_at",
                    format!("`{text}` is not an RFC 3339 date-time"),
                )
            })
    }

    fn resolve(self, timezone: Tz) -> DateTime<Utc> {
        match self {
            Self::Instant(instant) => instant,
            Self::Local(wall) => resolve_local(timezone, wall),
        }
    }
}

/// Everything that decides when a campaign's calls are placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub start: StartRule,
    pub timezone: Tz,
    pub window: LocalWindow,
    pub working_days: WorkingDays,
    pub max_concurrent_calls: u32,
    pub max_calls_per_day: Option<u32>,
    pub retry: RetryPolicy,
    /// Which zone the window is read in.
    pub timezone_mode: TimezoneMode,
    /// A contact whose zone its number does not give is skipped rather than called in the
    /// campaign's timezone.
    pub skip_unresolvable: bool,
    /// `calling_windows`, when given: they replace `window` and `working_days` (which then show
    /// the first window and the union of the days, for clients of the seed vendor).
    pub windows: Option<CallingWindows>,
    /// The campaign's own caps on attempts to one number, across its organisation's campaigns
    /// (on top of the operator's and the region's).
    pub frequency_caps: Vec<FrequencyCap>,
    /// At this instant every contact not final expires and the campaign completes; no dial
    /// request goes after it.
    pub expires_at: Option<DateTime<Utc>>,
    /// A plan that cannot finish before `expires_at` is refused.
    pub strict_expiry: bool,
    /// Callbacks each contact may get (`max_callbacks`, 0–5).
    pub max_callbacks: u32,
}

/// Several windows a day (`calling_windows`), as given and as hours of the week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingWindows {
    pub entries: Vec<DailyHours>,
    pub hours: WeekHours,
}

impl CallingWindows {
    /// 1–14 entries, none overlapping another of the same day (the error names
    /// `calling_windows[i]`).
    pub fn parse(entries: &[(Vec<i64>, String, String)]) -> Result<Self, DomainError> {
        if !(1..=MAX_WINDOWS).contains(&entries.len()) {
            return Err(DomainError::new(
                "calling_windows",
                format!("must list 1 to {MAX_WINDOWS} windows"),
            ));
        }
        let entries = entries
            .iter()
            .enumerate()
            .map(|(index, (days, start, end))| {
                DailyHours::parse(&format!("calling_windows[{index}]"), days, start, end)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hours = WeekHours::new("calling_windows", &entries)?;
        Ok(Self { entries, hours })
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            start: StartRule::Immediate,
            timezone: Tz::UTC,
            window: LocalWindow::default(),
            working_days: WorkingDays::default(),
            max_concurrent_calls: 10,
            max_calls_per_day: None,
            retry: RetryPolicy::default(),
            timezone_mode: TimezoneMode::Campaign,
            skip_unresolvable: false,
            windows: None,
            frequency_caps: Vec::new(),
            expires_at: None,
            strict_expiry: false,
            max_callbacks: 2,
        }
    }
}

/// Raw scheduling input as a client sent it; absent fields keep their value, and a field set to
/// `Some(None)` is cleared. [`Schedule::apply`] parses it, naming the first bad field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchedulePatch {
    pub schedule_type: Option<String>,
    pub scheduled_at: Option<String>,
    pub timezone: Option<String>,
    pub start_time: Option<Option<String>>,
    pub end_time: Option<Option<String>>,
    pub working_days: Option<Vec<i64>>,
    pub max_concurrent_calls: Option<i64>,
    pub max_calls_per_day: Option<Option<i64>>,
    pub retry_failed: Option<bool>,
    pub max_retry_attempts: Option<i64>,
    pub retry_delay_minutes: Option<i64>,
    pub timezone_mode: Option<String>,
    pub timezone_fallback: Option<String>,
    /// `calling_windows`: (days, start, end) each.
    pub calling_windows: Option<Vec<(Vec<i64>, String, String)>>,
    /// `frequency_caps`: (max_calls, window_hours) each; replaces the campaign's caps.
    pub frequency_caps: Option<Vec<(i64, i64)>>,
    /// `expires_at`, RFC 3339 (`Some(None)` clears it).
    pub expires_at: Option<Option<String>>,
    pub strict_expiry: Option<bool>,
    pub max_callbacks: Option<i64>,
}

impl SchedulePatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn in_range(field: &str, value: i64, min: i64, max: i64) -> Result<u32, DomainError> {
    if (min..=max).contains(&value) {
        Ok(value as u32)
    } else {
        Err(DomainError::new(
            field,
            format!("`{value}` is out of range {min} to {max}"),
        ))
    }
}

impl Schedule {
    /// The schedule with `patch` applied, or the first field that breaks a rule.
    pub fn apply(&self, patch: &SchedulePatch) -> Result<Schedule, DomainError> {
        let mut next = self.clone();
        if let Some(name) = &patch.timezone {
            next.timezone = name.parse().map_err(|_| {
                DomainError::new("timezone", format!("`{name}` is not an IANA timezone"))
            })?;
        }
        let time =
            |field: &str, value: &Option<Option<String>>, current: Option<TimeOfDay>| match value {
                None => Ok(current),
                Some(None) => Ok(None),
                Some(Some(text)) => TimeOfDay::parse(field, text).map(Some),
            };
        let seed_fields =
            patch.start_time.is_some() || patch.end_time.is_some() || patch.working_days.is_some();
        if let Some(entries) = &patch.calling_windows {
            if seed_fields {
                return Err(DomainError::new(
                    "calling_windows",
                    "cannot be sent with start_time, end_time or working_days",
                ));
            }
            let windows = CallingWindows::parse(entries)?;
            // For clients of the seed vendor: the first window, and every day with one.
            let first = windows.entries[0];
            let minute = |minute: u16| (minute < MINUTES_PER_DAY).then_some(TimeOfDay(minute));
            next.window = LocalWindow {
                start: minute(first.start).filter(|time| time.0 > 0),
                end: minute(first.end),
            };
            let days: Vec<i64> = (1..=7)
                .filter(|&day| {
                    windows
                        .entries
                        .iter()
                        .any(|entry| entry.days.iso_days().contains(&(day as u8)))
                })
                .collect();
            next.working_days = WorkingDays::parse(&days)?;
            next.windows = Some(windows);
        } else {
            let start_time = time("start_time", &patch.start_time, next.window.start)?;
            let end_time = time("end_time", &patch.end_time, next.window.end)?;
            next.window = LocalWindow::new(start_time, end_time)?;
            if let Some(days) = &patch.working_days {
                next.working_days = WorkingDays::parse(days)?;
            }
            if seed_fields {
                // The seed's fields replace the windows.
                next.windows = None;
            }
        }
        if let Some(limit) = patch.max_concurrent_calls {
            next.max_concurrent_calls = in_range("max_concurrent_calls", limit, 1, 100)?;
        }
        if let Some(cap) = patch.max_calls_per_day {
            next.max_calls_per_day = cap
                .map(|cap| in_range("max_calls_per_day", cap, 1, 1_000_000))
                .transpose()?;
        }
        if let Some(enabled) = patch.retry_failed {
            next.retry.enabled = enabled;
        }
        if let Some(retries) = patch.max_retry_attempts {
            next.retry.max_retries = in_range("max_retry_attempts", retries, 0, 3)?;
        }
        if let Some(delay) = patch.retry_delay_minutes {
            next.retry.delay_minutes = in_range("retry_delay_minutes", delay, 1, 7 * 24 * 60)?;
        }
        if let Some(mode) = &patch.timezone_mode {
            next.timezone_mode = TimezoneMode::parse(mode).ok_or_else(|| {
                DomainError::new(
                    "timezone_mode",
                    format!("`{mode}` is not one of campaign, contact"),
                )
            })?;
        }
        if let Some(expires_at) = &patch.expires_at {
            next.expires_at = expires_at
                .as_deref()
                .map(|text| {
                    DateTime::parse_from_rfc3339(text)
                        .map(|at| at.with_timezone(&Utc))
                        .ok()
                        .filter(|&at| is_printable(at))
                        .ok_or_else(|| {
                            DomainError::new(
                                "expires_at",
                                format!("`{text}` is not an RFC 3339 instant"),
                            )
                        })
                })
                .transpose()?;
        }
        if let Some(strict) = patch.strict_expiry {
            next.strict_expiry = strict;
        }
        if let Some(callbacks) = patch.max_callbacks {
            next.max_callbacks = in_range("max_callbacks", callbacks, 0, 5)?;
        }
        if let Some(caps) = &patch.frequency_caps {
            next.frequency_caps = parse_caps(caps)?;
        }
        if let Some(fallback) = &patch.timezone_fallback {
            next.skip_unresolvable = match fallback.as_str() {
                "campaign" => false,
                "skip" => true,
                other => {
                    return Err(DomainError::new(
                        "timezone_fallback",
                        format!("`{other}` is not one of campaign, skip"),
                    ));
                }
            };
        }
        let start_at = patch
            .scheduled_at
            .as_deref()
            .map(StartAt::parse)
            .transpose()?;
        let scheduled = match patch.schedule_type.as_deref() {
            None => start_at.is_some() || matches!(next.start, StartRule::At(_)),
            Some("immediate") => false,
            Some("scheduled") => true,
            Some(other) => {
                return Err(DomainError::new(
                    "schedule_type",
                    format!("`{other}` is not one of immediate, scheduled"),
                ));
            }
        };
        next.start = match (scheduled, start_at, next.start) {
            (false, _, _) => StartRule::Immediate,
            (true, Some(at), _) => {
                let instant = at.resolve(next.timezone);
                if !is_printable(instant) {
                    return Err(DomainError::new(
                        "scheduled_at",
                        "must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
                    ));
                }
                StartRule::At(instant)
            }
            (true, None, StartRule::At(instant)) => StartRule::At(instant),
            (true, None, StartRule::Immediate) => {
                return Err(DomainError::new(
                    "scheduled_at",
                    "is required when schedule_type is scheduled",
                ));
            }
        };
        Ok(next)
    }

    /// The campaign's windows as hours of the week (`calling_windows`, or the window on the
    /// working days), read in its `timezone` or, with `timezone_mode: contact`, each callee's.
    pub fn hours(&self) -> WeekHours {
        match &self.windows {
            Some(windows) => windows.hours.clone(),
            None => WeekHours::of_window(&self.window, self.working_days),
        }
    }

    /// The windows the claim gate reads on `day` in the campaign's timezone, in wall minutes: the
    /// campaign's, or with `timezone_mode: contact` the whole day (each contact's own windows
    /// are the callee gate's to read).
    pub fn windows_on(&self, day: Weekday) -> Vec<(u16, u16)> {
        match (self.timezone_mode, &self.windows) {
            (TimezoneMode::Contact, _) => vec![(0, MINUTES_PER_DAY)],
            (TimezoneMode::Campaign, Some(windows)) => windows.hours.on(day).to_vec(),
            (TimezoneMode::Campaign, None) if self.working_days.contains(day) => {
                vec![(self.window.start_minute(), self.window.end_minute())]
            }
            (TimezoneMode::Campaign, None) => Vec::new(),
        }
    }

    /// The windows of local date `date` as instants, or `None` on a day without calls (no
    /// window that day, or windows that a DST gap swallowed whole).
    ///
    /// With `timezone_mode: contact` the windows and days are each contact's (the callee gate
    /// reads them in its zone): the campaign's own day is then whole, every day, and its daily
    /// cap is spread over it.
    pub fn window_on(&self, date: NaiveDate) -> Option<DayWindow> {
        let windows = self.windows_on(date.weekday());
        let (first, last) = (windows.first()?, windows.last()?);
        let midnight = date.and_time(NaiveTime::MIN);
        let wall = |minute: u16| midnight + Duration::minutes(i64::from(minute));
        let open = resolve_local(self.timezone, wall(first.0));
        let close = resolve_local(self.timezone, wall(last.1));
        let len_ms = windows
            .iter()
            .map(|(start, end)| i64::from(end - start) * 60_000)
            .sum();
        let mut parts = [(0, 0); MAX_WINDOWS];
        parts[..windows.len()].copy_from_slice(&windows);
        (open < close).then(|| DayWindow {
            open,
            close,
            wall_open: wall(first.0),
            uniform: windows.len() == 1 && (close - open).num_milliseconds() == len_ms,
            len_ms,
            midnight,
            parts,
            n_parts: windows.len() as u8,
        })
    }

    pub fn is_open_at(&self, instant: DateTime<Utc>) -> bool {
        self.window_on(local_date(self.timezone, instant))
            .is_some_and(|window| window.contains(self.timezone, instant))
    }
}

/// Most windows a day may have (`calling_windows` takes 1–14 entries).
pub const MAX_WINDOWS: usize = 14;

/// One local day's calling windows as instants: from the first's `open` to the last's `close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    pub open: DateTime<Utc>,
    pub close: DateTime<Utc>,
    /// The first window's start in local wall time, from which slots are counted.
    pub wall_open: NaiveDateTime,
    /// One window and no UTC offset change inside it: slots are plain offsets from `open`.
    pub uniform: bool,
    /// The windows' length in wall-clock milliseconds: what the day's cap is spread over.
    pub len_ms: i64,
    midnight: NaiveDateTime,
    /// The windows, `[start, end)` in wall minutes, in order (`n_parts` of them).
    parts: [(u16, u16); MAX_WINDOWS],
    n_parts: u8,
}

impl DayWindow {
    fn parts(&self) -> &[(u16, u16)] {
        &self.parts[..usize::from(self.n_parts)]
    }

    /// The wall time `offset_ms` into the day's windows, counted over their union.
    pub fn wall_at(&self, offset_ms: i64) -> NaiveDateTime {
        let mut left = offset_ms;
        for &(start, end) in self.parts() {
            let len = i64::from(end - start) * 60_000;
            if left < len {
                return self.midnight
                    + Duration::minutes(i64::from(start))
                    + Duration::milliseconds(left);
            }
            left -= len;
        }
        let (_, end) = self.parts()[self.parts().len() - 1];
        self.midnight + Duration::minutes(i64::from(end)) + Duration::milliseconds(left)
    }

    /// The windows as instants in `timezone`.
    pub fn instants(&self, timezone: Tz) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> {
        let wall = move |minute: u16| self.midnight + Duration::minutes(i64::from(minute));
        self.parts().iter().map(move |&(start, end)| {
            (
                resolve_local(timezone, wall(start)),
                resolve_local(timezone, wall(end)),
            )
        })
    }

    /// Whether `instant` lies in one of the windows.
    pub fn contains(&self, timezone: Tz, instant: DateTime<Utc>) -> bool {
        if self.n_parts == 1 {
            return self.open <= instant && instant < self.close;
        }
        self.instants(timezone)
            .any(|(open, close)| open <= instant && instant < close)
    }

    /// The first instant at or after `instant` inside one of the windows.
    pub fn first_open_at_or_after(
        &self,
        timezone: Tz,
        instant: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.instants(timezone)
            .find(|(_, close)| instant < *close)
            .map(|(open, _)| open.max(instant))
    }
}

/// The calendar date of `instant` in `timezone`: the day of the daily cap.
pub fn local_date(timezone: Tz, instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&timezone).date_naive()
}

/// The instant of a local wall time: in a fall-back overlap the earlier instant, in a
/// spring-forward gap the first valid instant after it (the moment the clocks jump).
pub fn resolve_local(timezone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    match timezone.from_local_datetime(&wall) {
        LocalResult::Single(instant) => instant.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, later) => earlier.min(later).with_timezone(&Utc),
        LocalResult::None => end_of_gap(timezone, wall),
    }
}

/// The transition instant of the gap that holds `wall`: the first instant that has the offset in
/// force after the gap. Offsets around the gap are read one day either side, where no other
/// transition lies in any zone of the tz database.
fn end_of_gap(timezone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let offset_at = |instant: DateTime<Utc>| {
        i64::from(
            timezone
                .offset_from_utc_datetime(&instant.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    };
    let as_utc = wall.and_utc();
    let before = offset_at(as_utc - Duration::days(1));
    let after = offset_at(as_utc + Duration::days(1));
    // `wall` read with the later offset lies before the jump, read with the earlier one after it.
    let mut low = (as_utc - Duration::seconds(after)).timestamp();
    let mut high = (as_utc - Duration::seconds(before)).timestamp();
    while low + 1 < high {
        let middle = low + (high - low) / 2;
        let instant = DateTime::from_timestamp(middle, 0).expect("in range");
        if offset_at(instant) == after {
            high = middle;
        } else {
            low = middle;
        }
    }
    DateTime::from_timestamp(high, 0).expect("in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch() -> SchedulePatch {
        SchedulePatch::default()
    }

    fn check_error(patch: SchedulePatch, field: &str) {
        let error = Schedule::default()
            .apply(&patch)
            .expect_err("must be rejected");
        assert_eq!(error.field, field, "{error}");
    }

    #[test]
    fn bad_fields_are_named() {
        check_error(
            SchedulePatch {
                timezone: Some("Mars/Olympus".into()),
                ..patch()
            },
            "timezone",
        );
        check_error(
            SchedulePatch {
                start_time: Some(Some("25:00".into())),
                ..patch()
            },
            "start_time",
        );
        check_error(
            SchedulePatch {
                start_time: Some(Some("9:00".into())),
                ..patch()
            },
            "start_time",
        );
        check_error(
            SchedulePatch {
                start_time: Some(Some("17:00".into())),
                end_time: Some(Some("09:00".into())),
                ..patch()
            },
            "end_time",
        );
        check_error(
            SchedulePatch {
                working_days: Some(vec![1, 8]),
                ..patch()
            },
            "working_days[1]",
        );
        check_error(
            SchedulePatch {
                working_days: Some(vec![]),
                ..patch()
            },
            "working_days",
        );
        check_error(
            SchedulePatch {
                max_concurrent_calls: Some(0),
                ..patch()
            },
            "max_concurrent_calls",
        );
        check_error(
            SchedulePatch {
                max_concurrent_calls: Some(101),
                ..patch()
            },
            "max_concurrent_calls",
        );
        check_error(
            SchedulePatch {
                max_calls_per_day: Some(Some(0)),
                ..patch()
            },
            "max_calls_per_day",
        );
        check_error(
            SchedulePatch {
                max_retry_attempts: Some(4),
                ..patch()
            },
            "max_retry_attempts",
        );
        check_error(
            SchedulePatch {
                retry_delay_minutes: Some(0),
                ..patch()
            },
            "retry_delay_minutes",
        );
        check_error(
            SchedulePatch {
                schedule_type: Some("scheduled".into()),
                ..patch()
            },
            "scheduled_at",
        );
        check_error(
            SchedulePatch {
                scheduled_at: Some("tomorrow".into()),
                ..patch()
            },
            "scheduled_at",
        );
        check_error(
            SchedulePatch {
                start_time: Some(Some("+9:00".into())),
                ..patch()
            },
            "start_time",
        );
        check_error(
            SchedulePatch {
                end_time: Some(Some("17:-0".into())),
                ..patch()
            },
            "end_time",
        );
        // Instants whose UTC lies past year 9999 or before 1970, whatever their offset.
        for (zone, at) in [
            ("UTC", "9999-12-31T23:00:00-05:00"),
            ("Pacific/Apia", "0000-01-01T00:00:00"),
            ("UTC", "1969-12-31T23:59:59Z"),
            ("America/Adak", "9999-12-31T23:00:00"),
        ] {
            check_error(
                SchedulePatch {
                    timezone: Some(zone.into()),
                    scheduled_at: Some(at.into()),
                    ..patch()
                },
                "scheduled_at",
            );
        }
    }

    #[test]
    fn calling_windows_are_checked_and_replace_the_seed_fields() {
        let window = |days: &[i64], start: &str, end: &str| {
            (days.to_vec(), start.to_owned(), end.to_owned())
        };
        let with = |windows: Vec<(Vec<i64>, String, String)>| SchedulePatch {
            calling_windows: Some(windows),
            ..patch()
        };
        check_error(with(Vec::new()), "calling_windows");
        check_error(
            with(vec![window(&[1], "09:00", "10:00"); 15]),
            "calling_windows",
        );
        check_error(
            with(vec![
                window(&[1, 2], "09:00", "12:00"),
                window(&[2], "11:00", "13:00"),
            ]),
            "calling_windows[1]",
        );
        check_error(
            with(vec![window(&[1], "12:00", "11:00")]),
            "calling_windows[0].end_time",
        );
        check_error(
            with(vec![window(&[9], "10:00", "11:00")]),
            "calling_windows[0].working_days[0]",
        );
        check_error(
            SchedulePatch {
                start_time: Some(Some("09:00".into())),
                ..with(vec![window(&[1], "10:00", "24:00")])
            },
            "calling_windows",
        );
        let split = Schedule::default()
            .apply(&with(vec![window(&[6, 7], "00:00", "24:00")]))
            .unwrap();
        assert_eq!(split.window, LocalWindow::default());
        assert!(split.windows.is_some());
        // The seed's fields replace the windows.
        let seed = split
            .apply(&SchedulePatch {
                working_days: Some(vec![1]),
                ..patch()
            })
            .unwrap();
        assert_eq!(seed.windows, None);
        assert_eq!(seed.working_days.iso_days(), [1]);
    }

    #[test]
    fn a_scheduled_at_without_offset_is_read_in_the_timezone() {
        let schedule = Schedule::default()
            .apply(&SchedulePatch {
                timezone: Some("Europe/Paris".into()),
                scheduled_at: Some("2026-07-01T09:00:00".into()),
                ..patch()
            })
            .unwrap();
        let expected = "2026-07-01T07:00:00Z".parse().unwrap();
        assert_eq!(schedule.start, StartRule::At(expected));
    }

    #[test]
    fn cleared_bounds_mean_the_whole_day() {
        let schedule = Schedule::default()
            .apply(&SchedulePatch {
                start_time: Some(Some("09:00".into())),
                ..patch()
            })
            .unwrap()
            .apply(&SchedulePatch {
                start_time: Some(None),
                ..patch()
            })
            .unwrap();
        assert_eq!(schedule.window.len_ms(), 24 * 3_600_000);
    }

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn check_resolve(zone: Tz, local: &str, expected_utc: &str) {
        let got = resolve_local(zone, wall(local));
        assert_eq!(
            got,
            expected_utc.parse::<DateTime<Utc>>().unwrap(),
            "{zone} {local}"
        );
    }

    #[test]
    fn wall_times_in_gaps_move_to_the_jump_and_overlaps_take_the_earlier_instant() {
        use chrono_tz::America::New_York;
        use chrono_tz::Asia::Kathmandu;
        use chrono_tz::Australia::Lord_Howe;
        use chrono_tz::Europe::London;
        // New York springs forward 2026-03-08 02:00 EST → 03:00 EDT (07:00Z).
        check_resolve(New_York, "2026-03-08 02:30", "2026-03-08T07:00:00Z");
        // … and falls back 2026-11-01 02:00 EDT → 01:00 EST: 01:30 happens twice.
        check_resolve(New_York, "2026-11-01 01:30", "2026-11-01T05:30:00Z");
        // London: 2026-03-29 01:00 GMT → 02:00 BST; 2026-10-25 02:00 BST → 01:00 GMT.
        check_resolve(London, "2026-03-29 01:15", "2026-03-29T01:00:00Z");
        check_resolve(London, "2026-10-25 01:30", "2026-10-25T00:30:00Z");
        // Lord Howe shifts by 30 minutes: 2026-10-04 02:00 (+10:30) → 02:30 (+11).
        check_resolve(Lord_Howe, "2026-10-04 02:10", "2026-10-03T15:30:00Z");
        // … and back 2026-04-05 02:00 (+11) → 01:30 (+10:30): 01:45 happens twice.
        check_resolve(Lord_Howe, "2026-04-05 01:45", "2026-04-04T14:45:00Z");
        // Kathmandu is +05:45 all year.
        check_resolve(Kathmandu, "2026-06-01 09:00", "2026-06-01T03:15:00Z");
    }
}
