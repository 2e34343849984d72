//! Hours of a week: open intervals of wall-clock minutes per weekday, the shape of the legal
//! floor's calling hours and of an organisation's quiet hours (and, read in one zone, of a
//! campaign's windows).

use chrono::Weekday;

use super::DomainError;
use super::schedule::{LocalWindow, MINUTES_PER_DAY, WorkingDays};

/// One entry of a week's hours: `[start, end)` in wall minutes on each of `days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyHours {
    pub days: WorkingDays,
    pub start: u16,
    pub end: u16,
}

impl DailyHours {
    /// Parses `"HH:MM"` bounds (`end` may be `"24:00"`); `field` names the entry in errors.
    pub fn parse(field: &str, days: &[i64], start: &str, end: &str) -> Result<Self, DomainError> {
        let days = WorkingDays::parse(days).map_err(|error| error.within(field))?;
        let start = minute_of_day(&format!("{field}.start_time"), start, false)?;
        let end = minute_of_day(&format!("{field}.end_time"), end, true)?;
        if end <= start {
            return Err(DomainError::new(
                format!("{field}.end_time"),
                "must be later than start_time",
            ));
        }
        Ok(Self { days, start, end })
    }
}

impl DailyHours {
    /// The entry as a client sends it: ISO days, `HH:MM` start and end (`24:00` for midnight).
    pub fn texts(&self) -> (Vec<u8>, String, String) {
        let text = |minute: u16| format!("{:02}:{:02}", minute / 60, minute % 60);
        (self.days.iso_days(), text(self.start), text(self.end))
    }
}

/// `HH:MM` as minutes of the day; `24:00` only where `may_be_midnight` (an end).
fn minute_of_day(field: &str, text: &str, may_be_midnight: bool) -> Result<u16, DomainError> {
    if may_be_midnight && text == "24:00" {
        return Ok(MINUTES_PER_DAY);
    }
    super::TimeOfDay::parse(field, text).map(super::TimeOfDay::minutes)
}

/// Open intervals `[start, end)` of wall minutes for each ISO weekday, sorted and disjoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeekHours {
    days: [Vec<(u16, u16)>; 7],
}

impl WeekHours {
    /// Every minute of every day.
    pub fn always() -> Self {
        Self {
            days: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
        }
    }

    /// The hours of `entries`; entries of one day may touch but not overlap (the error names
    /// `<field>[i]`, the later of two).
    pub fn new(field: &str, entries: &[DailyHours]) -> Result<Self, DomainError> {
        let mut days: [Vec<(u16, u16, usize)>; 7] = Default::default();
        for (index, entry) in entries.iter().enumerate() {
            for day in entry.days.iso_days() {
                days[usize::from(day) - 1].push((entry.start, entry.end, index));
            }
        }
        let mut hours = Self::default();
        for (day, intervals) in days.iter_mut().enumerate() {
            intervals.sort_unstable();
            for pair in intervals.windows(2) {
                if pair[1].0 < pair[0].1 {
                    let later = pair[0].2.max(pair[1].2);
                    return Err(DomainError::new(
                        format!("{field}[{later}]"),
                        "overlaps another window of the same day",
                    ));
                }
            }
            hours.days[day] = intervals
                .iter()
                .map(|&(start, end, _)| (start, end))
                .collect();
        }
        Ok(hours)
    }

    /// A campaign's single daily window on its working days.
    pub fn of_window(window: &LocalWindow, days: WorkingDays) -> Self {
        let interval = (window.start_minute(), window.end_minute());
        Self {
            days: std::array::from_fn(|index| {
                let day = Weekday::try_from(index as u8).expect("0 to 6 are weekdays");
                if days.contains(day) {
                    vec![interval]
                } else {
                    Vec::new()
                }
            }),
        }
    }

    /// The open intervals of `day`.
    pub fn on(&self, day: Weekday) -> &[(u16, u16)] {
        &self.days[day.num_days_from_monday() as usize]
    }

    /// The closed intervals of each day: what quiet hours leave open.
    pub fn complement(&self) -> Self {
        Self {
            days: std::array::from_fn(|index| {
                let mut open = Vec::new();
                let mut from = 0;
                for &(start, end) in &self.days[index] {
                    if start > from {
                        open.push((from, start));
                    }
                    from = from.max(end);
                }
                if from < MINUTES_PER_DAY {
                    open.push((from, MINUTES_PER_DAY));
                }
                open
            }),
        }
    }

    /// Whether `minute` of `day` is open.
    pub fn contains(&self, day: Weekday, minute: u16) -> bool {
        self.on(day)
            .iter()
            .any(|&(start, end)| start <= minute && minute < end)
    }

    /// Whether every open minute of `self` is open in `other`, on every day.
    pub fn within(&self, other: &Self) -> bool {
        self.days.iter().zip(&other.days).all(|(mine, theirs)| {
            mine.iter().all(|&(start, end)| {
                theirs
                    .iter()
                    .any(|&(open, close)| open <= start && end <= close)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(entries: &[(&[i64], &str, &str)]) -> Result<WeekHours, DomainError> {
        let entries: Vec<DailyHours> = entries
            .iter()
            .enumerate()
            .map(|(index, (days, start, end))| {
                DailyHours::parse(&format!("w[{index}]"), days, start, end).unwrap()
            })
            .collect();
        WeekHours::new("w", &entries)
    }

    #[test]
    fn windows_of_one_day_may_touch_but_not_overlap() {
        let split = hours(&[(&[1, 2], "10:00", "13:00"), (&[1], "13:00", "24:00")]).unwrap();
        assert_eq!(split.on(Weekday::Mon), &[(600, 780), (780, 1440)]);
        assert_eq!(split.on(Weekday::Tue), &[(600, 780)]);
        assert!(split.on(Weekday::Sun).is_empty());
        let error = hours(&[(&[3], "10:00", "13:00"), (&[2, 3], "12:00", "14:00")]).unwrap_err();
        assert_eq!(error.field, "w[1]");
    }

    #[test]
    fn bounds_are_checked() {
        assert!(DailyHours::parse("w", &[1], "24:00", "24:00").is_err());
        assert!(DailyHours::parse("w", &[1], "10:00", "09:00").is_err());
        assert!(DailyHours::parse("w", &[8], "10:00", "11:00").is_err());
    }

    #[test]
    fn the_complement_is_what_quiet_hours_leave_open() {
        let quiet = hours(&[(&[1], "12:00", "13:00")]).unwrap();
        let open = quiet.complement();
        assert_eq!(open.on(Weekday::Mon), &[(0, 720), (780, 1440)]);
        assert_eq!(open.on(Weekday::Tue), &[(0, 1440)]);
        assert!(quiet.within(&WeekHours::always()));
        assert!(!WeekHours::always().within(&open));
    }
}
