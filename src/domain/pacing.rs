//! Pacing: when each queued contact is due, and whether a call may start now.
//!
//! One function of the schedule gives both answers. [`Plan`] lists the slots from an anchor
//! instant: with a daily cap, day *d* has `max_calls_per_day` slots spaced evenly over the window
//! (in local wall time, so DST days keep their wall-clock spacing); without one, every contact is
//! due at the first open instant and only concurrency paces the calls. [`Schedule::gate`] is the
//! claim-time check of the same rules, so an edit governs the very next claim.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::schedule::{DayWindow, Schedule, local_date, resolve_local};

/// How far ahead a plan looks for an open day before it gives up: a validated schedule opens
/// within a week, so this bound is never reached in practice.
const MAX_EMPTY_DAYS: u32 = 400;

/// Calls already placed on the current local day, and the earliest instant of the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacingState {
    pub day: Option<NaiveDate>,
    pub used: u32,
    /// With a daily cap: the next slot; a claim before it would break the even spacing.
    pub next_slot_at: Option<DateTime<Utc>>,
}

impl PacingState {
    /// Calls counted against the cap of local date `day`.
    pub fn used_on(&self, day: NaiveDate) -> u32 {
        if self.day == Some(day) { self.used } else { 0 }
    }

    /// Counts `n_calls` claimed at `now` and moves the next slot past `now`.
    pub fn record_claims(&mut self, schedule: &Schedule, now: DateTime<Utc>, n_calls: u32) {
        let day = local_date(schedule.timezone, now);
        self.used = self.used_on(day) + n_calls;
        self.day = Some(day);
        if schedule.max_calls_per_day.is_some() {
            let after_now = now + Duration::milliseconds(1);
            self.next_slot_at = Some(Plan::new(schedule, after_now, self.used).first());
        }
    }

    /// Restarts the spacing from `anchor`, e.g. after an edit or a resume.
    pub fn restart(&mut self, schedule: &Schedule, anchor: DateTime<Utc>) {
        let used = self.used_on(local_date(schedule.timezone, anchor));
        self.next_slot_at = schedule
            .max_calls_per_day
            .map(|_| Plan::new(schedule, anchor, used).first());
    }
}

/// Whether a claim may happen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Calls may start now; with a cap, at most `max_calls` of them.
    Open { max_calls: Option<u32> },
    /// Nothing may start before this instant.
    Wait(DateTime<Utc>),
}

impl Schedule {
    /// The claim-time check: start reached, window open on a working day, daily cap not spent,
    /// and the even spacing kept. Concurrency is the store's to count.
    pub fn gate(&self, start: DateTime<Utc>, pacing: &PacingState, now: DateTime<Utc>) -> Gate {
        let anchor = now.max(start);
        let used = pacing.used_on(local_date(self.timezone, anchor));
        let next_open = || Gate::Wait(Plan::new(self, anchor, used).first());
        if now < start || !self.is_open_at(now) {
            return next_open();
        }
        match self.max_calls_per_day {
            None => Gate::Open { max_calls: None },
            Some(cap) if used >= cap => next_open(),
            Some(_) => match pacing.next_slot_at {
                Some(next_slot) if now < next_slot => Gate::Wait(next_slot),
                _ => Gate::Open { max_calls: Some(1) },
            },
        }
    }
}

impl Schedule {
    /// Where the contact at position `rank` of the waiting queue is due, seen from `now`: the
    /// projection of a queue position through the pacing function. Nothing stores it, so an
    /// edit or a resume rewrites no due time.
    pub fn projected_due(
        &self,
        start: DateTime<Utc>,
        pacing: &PacingState,
        now: DateTime<Utc>,
        rank: u64,
    ) -> DateTime<Utc> {
        self.projected_dues(start, pacing, now, &[rank])[0]
    }

    /// [`Schedule::projected_due`] of many queue positions (a page of contacts) in one walk of
    /// the calendar: the cost is the days up to the last position, skipped a day at a time by
    /// their number of slots, not the positions.
    pub fn projected_dues(
        &self,
        start: DateTime<Utc>,
        pacing: &PacingState,
        now: DateTime<Utc>,
        ranks: &[u64],
    ) -> Vec<DateTime<Utc>> {
        let anchor = now.max(start);
        let used = pacing.used_on(local_date(self.timezone, anchor));
        let plan = Plan::new(self, anchor, used);
        let mut order: Vec<usize> = (0..ranks.len()).collect();
        order.sort_by_key(|&index| ranks[index]);
        let mut dues = vec![anchor; ranks.len()];
        let mut slots = plan.slots_from(0);
        // The position of the slot `slots` yields next.
        let mut position = 0;
        let mut last: Option<(u64, DateTime<Utc>)> = None;
        for index in order {
            let rank = ranks[index];
            let due = match last {
                Some((last_rank, due)) if last_rank == rank => due,
                _ => {
                    slots.skip_positions(rank - position);
                    position = rank + 1;
                    slots
                        .next()
                        .expect("a validated schedule always has a next slot")
                }
            };
            dues[index] = due;
            last = Some((rank, due));
        }
        dues
    }

    /// The first open slot at or after `instant`: where a retry is due.
    pub fn slot_at_or_after(&self, pacing: &PacingState, instant: DateTime<Utc>) -> DateTime<Utc> {
        let used = pacing.used_on(local_date(self.timezone, instant));
        Plan::new(self, instant, used).first()
    }

    /// When a claim could next take a contact: `None` when nothing waits. Fresh contacts are
    /// due as soon as the gate opens; a retry no earlier than its own due time.
    pub fn next_claim_at(
        &self,
        start: DateTime<Utc>,
        pacing: &PacingState,
        now: DateTime<Utc>,
        has_fresh: bool,
        first_retry: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let gate_opens = match self.gate(start, pacing, now) {
            Gate::Open { .. } => now,
            Gate::Wait(instant) => instant,
        };
        match (has_fresh, first_retry) {
            (true, _) => Some(gate_opens),
            (false, Some(retry)) => Some(gate_opens.max(retry)),
            (false, None) => None,
        }
    }
}

/// The slots of a schedule from `anchor` on: day 1 is the anchor's local date (when it is a
/// working day), slots before the anchor are skipped, and day 1 holds only what is left of its cap.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    schedule: &'a Schedule,
    anchor: DateTime<Utc>,
    used_on_anchor_day: u32,
}

impl<'a> Plan<'a> {
    pub fn new(schedule: &'a Schedule, anchor: DateTime<Utc>, used_on_anchor_day: u32) -> Self {
        Self {
            schedule,
            anchor,
            used_on_anchor_day,
        }
    }

    /// Every slot in order; contact number `k` of the queue is due at slot `k`.
    pub fn slots(&self) -> Slots<'a> {
        self.slots_from(0)
    }

    /// The first slot: the earliest instant at or after the anchor when a call may start.
    pub fn first(&self) -> DateTime<Utc> {
        self.slots()
            .next()
            .expect("a validated schedule always has a next slot")
    }

    /// The slots from queue position `position` on, skipping whole days without walking them:
    /// the projection of a queue position to its due time.
    pub fn slots_from(&self, position: u64) -> Slots<'a> {
        let mut slots = Slots {
            schedule: self.schedule,
            anchor: self.anchor,
            day: local_date(self.schedule.timezone, self.anchor),
            budget: self
                .schedule
                .max_calls_per_day
                .map(|cap| cap.saturating_sub(self.used_on_anchor_day)),
            current: None,
            first_day: true,
        };
        slots.skip_positions(position);
        slots
    }
}

/// One day of slots, the indices `next_index..end_index` of the grid `open + i·len/cap`.
#[derive(Debug, Clone, Copy)]
struct DaySlots {
    window: DayWindow,
    cap: Option<u32>,
    next_index: u32,
    end_index: u32,
    /// Without a cap: the one instant every contact of the day is due at.
    first_open: DateTime<Utc>,
}

impl DaySlots {
    fn remaining(&self) -> Option<u64> {
        self.cap
            .map(|_| u64::from(self.end_index - self.next_index))
    }
}

/// The iterator of [`Plan::slots`]; endless for a valid schedule.
#[derive(Debug, Clone)]
pub struct Slots<'a> {
    schedule: &'a Schedule,
    anchor: DateTime<Utc>,
    day: NaiveDate,
    /// What is left of day 1's cap.
    budget: Option<u32>,
    current: Option<DaySlots>,
    first_day: bool,
}

impl Slots<'_> {
    /// Skips the next `n` slots, whole days at a time (a day's slots are counted, not walked).
    pub fn skip_positions(&mut self, n: u64) {
        let mut to_skip = n;
        while to_skip > 0 {
            let Some(day) = self.current_day() else {
                return;
            };
            match day.remaining() {
                None => return, // no cap: every position shares the same instant
                Some(n) if n > to_skip => {
                    self.current.as_mut().expect("current day").next_index += to_skip as u32;
                    return;
                }
                Some(n) => {
                    to_skip -= n;
                    self.current = None;
                }
            }
        }
    }

    /// Slot `index` of a day's grid of `cap`: spread evenly over the union of its windows.
    fn slot_at(&self, window: &DayWindow, cap: u32, index: u32) -> DateTime<Utc> {
        let offset_ms = i64::from(index) * window.len_ms / i64::from(cap);
        if window.uniform {
            return window.open + Duration::milliseconds(offset_ms);
        }
        let zone = self.schedule.timezone;
        let slot = resolve_local(zone, window.wall_at(offset_ms));
        // A wall time in a DST gap moves to the jump, which may lie past its window's end (a
        // window that ends inside the gap): the slot then waits for the next window.
        if window.contains(zone, slot) {
            slot
        } else {
            window.first_open_at_or_after(zone, slot).unwrap_or(slot)
        }
    }

    /// The day being walked, opening the next day with a slot left when the current one is spent.
    fn current_day(&mut self) -> Option<&DaySlots> {
        if self
            .current
            .is_some_and(|day| day.cap.is_some() && day.next_index >= day.end_index)
        {
            self.current = None;
        }
        if self.current.is_none() {
            self.current = self.open_next_day();
        }
        self.current.as_ref()
    }

    fn open_next_day(&mut self) -> Option<DaySlots> {
        for _ in 0..MAX_EMPTY_DAYS {
            let date = self.day;
            let first_day = std::mem::replace(&mut self.first_day, false);
            self.day = date.succ_opt()?;
            let Some(window) = self.schedule.window_on(date) else {
                continue;
            };
            let not_before = if first_day { self.anchor } else { window.open };
            if not_before >= window.close {
                continue;
            }
            let Some(cap) = self.schedule.max_calls_per_day else {
                // Due at the first open instant: at the anchor, or the next window's opening.
                let Some(first_open) =
                    window.first_open_at_or_after(self.schedule.timezone, not_before)
                else {
                    continue;
                };
                return Some(DaySlots {
                    window,
                    cap: None,
                    next_index: 0,
                    end_index: 0,
                    first_open,
                });
            };
            let budget = if first_day {
                self.budget.unwrap_or(cap)
            } else {
                cap
            };
            // Slots are non-decreasing in their index, so the usable ones form one range.
            let first_index = self.first_index_at_or_after(&window, cap, not_before);
            let end_index = self.first_index_at_or_after(&window, cap, window.close);
            let end_index = end_index.min(first_index.saturating_add(budget));
            if first_index < end_index {
                return Some(DaySlots {
                    window,
                    cap: Some(cap),
                    next_index: first_index,
                    end_index,
                    first_open: window.open,
                });
            }
        }
        None
    }

    /// The smallest grid index whose slot is at or after `instant` (or `cap` when none is).
    fn first_index_at_or_after(&self, window: &DayWindow, cap: u32, instant: DateTime<Utc>) -> u32 {
        if instant <= window.open {
            return 0;
        }
        if window.uniform {
            // index ≥ (instant − open)·cap / len, rounded up.
            let elapsed = (instant - window.open).num_milliseconds();
            let len = window.len_ms;
            let scaled = i128::from(elapsed) * i128::from(cap);
            let len = i128::from(len);
            let mut index = ((scaled + len - 1) / len).min(i128::from(cap)) as u32;
            // Integer division in `slot_at` can put a slot a millisecond early: step past it.
            while index < cap && self.slot_at(window, cap, index) < instant {
                index += 1;
            }
            while index > 0 && self.slot_at(window, cap, index - 1) >= instant {
                index -= 1;
            }
            index
        } else {
            let (mut low, mut high) = (0u32, cap);
            while low < high {
                let middle = low + (high - low) / 2;
                if self.slot_at(window, cap, middle) < instant {
                    low = middle + 1;
                } else {
                    high = middle;
                }
            }
            low
        }
    }
}

impl Iterator for Slots<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let day = *self.current_day()?;
        match day.cap {
            None => Some(day.first_open),
            Some(cap) => {
                self.current.as_mut().expect("current day").next_index += 1;
                Some(self.slot_at(&day.window, cap, day.next_index))
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::{Datelike, Timelike};
    use chrono_tz::Tz;
    use proptest::prelude::*;

    use super::*;
    use crate::domain::SchedulePatch;

    pub(in crate::domain) fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn schedule(patch: SchedulePatch) -> Schedule {
        Schedule::default().apply(&patch).unwrap()
    }

    pub(in crate::domain) fn nine_to_five(zone: &str, cap: Option<i64>) -> Schedule {
        schedule(SchedulePatch {
            timezone: Some(zone.into()),
            start_time: Some(Some("09:00".into())),
            end_time: Some(Some("17:00".into())),
            max_calls_per_day: Some(cap),
            ..SchedulePatch::default()
        })
    }

    fn check_slots(schedule: &Schedule, anchor: &str, used: u32, expected: &[&str]) {
        let got: Vec<_> = Plan::new(schedule, at(anchor), used)
            .slots()
            .take(expected.len())
            .collect();
        let expected: Vec<_> = expected.iter().map(|text| at(text)).collect();
        assert_eq!(got, expected);
    }

    /// 10:00–13:00 and 14:00–20:00 on weekdays, 10:00–18:00 on Saturday (API.md's example).
    fn split_windows(cap: Option<i64>) -> Schedule {
        let window = |days: &[i64], start: &str, end: &str| {
            (days.to_vec(), start.to_owned(), end.to_owned())
        };
        schedule(SchedulePatch {
            calling_windows: Some(vec![
                window(&[1, 2, 3, 4, 5], "10:00", "13:00"),
                window(&[1, 2, 3, 4, 5], "14:00", "20:00"),
                window(&[6], "10:00", "18:00"),
            ]),
            max_calls_per_day: Some(cap),
            ..SchedulePatch::default()
        })
    }

    #[test]
    fn a_cap_is_spread_over_the_union_of_the_day_s_windows() {
        // Nine hours of windows on a weekday: one slot an hour, none in the gap.
        check_slots(
            &split_windows(Some(9)),
            "2026-11-27T08:00:00Z",
            0,
            &[
                "2026-11-27T10:00:00Z",
                "2026-11-27T11:00:00Z",
                "2026-11-27T12:00:00Z",
                "2026-11-27T14:00:00Z",
                "2026-11-27T15:00:00Z",
                "2026-11-27T16:00:00Z",
                "2026-11-27T17:00:00Z",
                "2026-11-27T18:00:00Z",
                "2026-11-27T19:00:00Z",
                // Saturday: eight hours, nine slots.
                "2026-11-28T10:00:00Z",
                "2026-11-28T10:53:20Z",
            ],
        );
        // From inside the gap, the next slot is the second window's first.
        check_slots(
            &split_windows(Some(9)),
            "2026-11-27T13:30:00Z",
            0,
            &["2026-11-27T14:00:00Z"],
        );
        // Without a cap: due when a window opens.
        check_slots(
            &split_windows(None),
            "2026-11-27T13:30:00Z",
            0,
            &["2026-11-27T14:00:00Z"],
        );
        let split = split_windows(None);
        assert!(split.is_open_at(at("2026-11-27T12:59:00Z")));
        assert!(!split.is_open_at(at("2026-11-27T13:00:00Z")));
        assert!(split.is_open_at(at("2026-11-28T17:59:00Z")));
        assert!(
            !split.is_open_at(at("2026-11-29T12:00:00Z")),
            "no window on Sunday"
        );
        // For clients of the seed vendor: the first window and the union of the days.
        assert_eq!(
            split.window.start().map(|t| t.to_string()).as_deref(),
            Some("10:00")
        );
        assert_eq!(
            split.window.end().map(|t| t.to_string()).as_deref(),
            Some("13:00")
        );
        assert_eq!(split.working_days.iso_days(), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn slots_are_spaced_evenly_over_the_window_day_by_day() {
        // 2026-11-30 is a Monday; cap 4 over 8 hours gives a call every 2 hours.
        let schedule = nine_to_five("UTC", Some(4));
        check_slots(
            &schedule,
            "2026-11-30T00:00:00Z",
            0,
            &[
                "2026-11-30T09:00:00Z",
                "2026-11-30T11:00:00Z",
                "2026-11-30T13:00:00Z",
                "2026-11-30T15:00:00Z",
                "2026-12-01T09:00:00Z",
            ],
        );
    }

    #[test]
    fn slots_before_the_anchor_and_spent_cap_are_skipped() {
        let schedule = nine_to_five("UTC", Some(4));
        // From 12:00 with one call already placed today: 13:00 and 15:00 are left.
        check_slots(
            &schedule,
            "2026-11-30T12:00:00Z",
            1,
            &[
                "2026-11-30T13:00:00Z",
                "2026-11-30T15:00:00Z",
                "2026-12-01T09:00:00Z",
            ],
        );
        // Three already placed: only 13:00 is left today.
        check_slots(
            &schedule,
            "2026-11-30T12:00:00Z",
            3,
            &["2026-11-30T13:00:00Z", "2026-12-01T09:00:00Z"],
        );
    }

    #[test]
    fn weekends_are_skipped_and_without_a_cap_everyone_is_due_at_the_opening() {
        let schedule = nine_to_five("UTC", None);
        // Saturday 2026-11-28 → Monday 09:00 for every contact.
        check_slots(
            &schedule,
            "2026-11-28T10:00:00Z",
            0,
            &["2026-11-30T09:00:00Z", "2026-11-30T09:00:00Z"],
        );
        // Inside the window: now.
        check_slots(
            &schedule,
            "2026-11-30T10:30:00Z",
            0,
            &["2026-11-30T10:30:00Z"],
        );
    }

    #[test]
    fn the_projection_of_a_position_matches_walking_the_slots() {
        let schedule = nine_to_five("America/New_York", Some(7));
        let plan = Plan::new(&schedule, at("2026-03-01T15:00:00Z"), 2);
        let walked: Vec<_> = plan.slots().take(400).collect();
        for position in [0, 1, 4, 5, 6, 12, 99, 399] {
            assert_eq!(
                plan.slots_from(position).next(),
                Some(walked[position as usize]),
                "{position}"
            );
        }
    }

    /// Against instants worked out by hand, not by another function of this module: 09:00–17:00
    /// New York with 8 a day is a slot on every local hour from 09:00 to 16:00, weekdays; the
    /// clocks go forward on Sunday 2026-03-08 (EST, UTC−5, to EDT, UTC−4).
    #[test]
    fn due_times_across_a_dst_change_are_the_hand_worked_instants() {
        let schedule = nine_to_five("America/New_York", Some(8));
        let start = at("2026-03-06T15:00:00Z"); // Friday 10:00 EST
        let ranks = [0, 1, 6, 7, 8, 14, 15];
        let expected = [
            "2026-03-06T15:00:00Z", // Friday 10:00 EST
            "2026-03-06T16:00:00Z", // 11:00 EST
            "2026-03-06T21:00:00Z", // 16:00 EST, the day's last slot
            "2026-03-09T13:00:00Z", // Monday 09:00 EDT
            "2026-03-09T14:00:00Z", // 10:00 EDT
            "2026-03-09T20:00:00Z", // 16:00 EDT
            "2026-03-10T13:00:00Z", // Tuesday 09:00 EDT
        ];
        let dues = schedule.projected_dues(start, &PacingState::default(), start, &ranks);
        let expected: Vec<_> = expected.iter().map(|text| at(text)).collect();
        assert_eq!(dues, expected);
    }

    #[test]
    fn a_page_of_positions_is_projected_in_one_walk_as_each_alone() {
        let start = at("2026-03-01T15:00:00Z");
        let pacing = PacingState::default();
        for schedule in [
            nine_to_five("America/New_York", Some(7)),
            nine_to_five("Europe/London", Some(1)),
            nine_to_five("UTC", None),
        ] {
            let ranks = [5, 0, 399, 12, 12, 100, 1];
            let dues = schedule.projected_dues(start, &pacing, start, &ranks);
            for (rank, due) in ranks.iter().zip(&dues) {
                let walked = Plan::new(&schedule, start, 0)
                    .slots()
                    .nth(*rank as usize)
                    .unwrap();
                assert_eq!(*due, walked, "{} rank {rank}", schedule.timezone);
            }
        }
    }

    #[test]
    fn the_gate_keeps_window_cap_and_spacing() {
        let schedule = nine_to_five("UTC", Some(4));
        let start = at("2026-11-30T00:00:00Z");
        let mut pacing = PacingState::default();
        let gate = |pacing: &PacingState, now: &str| schedule.gate(start, pacing, at(now));
        assert_eq!(
            gate(&pacing, "2026-11-30T08:00:00Z"),
            Gate::Wait(at("2026-11-30T09:00:00Z"))
        );
        assert_eq!(
            gate(&pacing, "2026-11-30T09:00:00Z"),
            Gate::Open { max_calls: Some(1) }
        );
        pacing.record_claims(&schedule, at("2026-11-30T09:00:00Z"), 1);
        assert_eq!(
            gate(&pacing, "2026-11-30T09:30:00Z"),
            Gate::Wait(at("2026-11-30T11:00:00Z"))
        );
        for slot in ["11:00", "13:00", "15:00"] {
            let now = format!("2026-11-30T{slot}:00Z");
            assert_eq!(gate(&pacing, &now), Gate::Open { max_calls: Some(1) });
            pacing.record_claims(&schedule, at(&now), 1);
        }
        assert_eq!(
            gate(&pacing, "2026-11-30T16:00:00Z"),
            Gate::Wait(at("2026-12-01T09:00:00Z"))
        );
        assert_eq!(
            gate(&pacing, "2026-12-01T09:00:00Z"),
            Gate::Open { max_calls: Some(1) }
        );
    }

    fn check_dst_slots(
        zone: &str,
        anchor: &str,
        window: (&str, &str),
        cap: i64,
        expected: &[&str],
    ) {
        let schedule = schedule(SchedulePatch {
            timezone: Some(zone.into()),
            start_time: Some(Some(window.0.into())),
            end_time: Some(Some(window.1.into())),
            max_calls_per_day: Some(Some(cap)),
            working_days: Some(vec![1, 2, 3, 4, 5, 6, 7]),
            ..SchedulePatch::default()
        });
        check_slots(&schedule, anchor, 0, expected);
    }

    #[test]
    fn dst_days_keep_wall_clock_spacing_with_gap_slots_moved_to_the_jump() {
        // New York 2026-03-08: 02:00 → 03:00. Window 01:00–04:00, cap 6: a slot every 30 wall minutes.
        check_dst_slots(
            "America/New_York",
            "2026-03-08T05:00:00Z",
            ("01:00", "04:00"),
            6,
            &[
                "2026-03-08T06:00:00Z", // 01:00 EST
                "2026-03-08T06:30:00Z", // 01:30 EST
                "2026-03-08T07:00:00Z", // 02:00 is in the gap → 03:00 EDT
                "2026-03-08T07:00:00Z", // 02:30 is in the gap → 03:00 EDT
                "2026-03-08T07:00:00Z", // 03:00 EDT
                "2026-03-08T07:30:00Z", // 03:30 EDT
            ],
        );
        // New York 2026-11-01: 02:00 EDT → 01:00 EST; 01:00 and 01:30 take the earlier (EDT) instant.
        check_dst_slots(
            "America/New_York",
            "2026-11-01T04:00:00Z",
            ("00:30", "02:30"),
            4,
            &[
                "2026-11-01T04:30:00Z", // 00:30 EDT
                "2026-11-01T05:00:00Z", // 01:00 EDT
                "2026-11-01T05:30:00Z", // 01:30 EDT
                "2026-11-01T07:00:00Z", // 02:00 EST
            ],
        );
        // London 2026-03-29: 01:00 GMT → 02:00 BST.
        check_dst_slots(
            "Europe/London",
            "2026-03-29T00:00:00Z",
            ("00:30", "02:30"),
            4,
            &[
                "2026-03-29T00:30:00Z", // 00:30 GMT
                "2026-03-29T01:00:00Z", // 01:00 is in the gap → 02:00 BST
                "2026-03-29T01:00:00Z", // 01:30 is in the gap → 02:00 BST
                "2026-03-29T01:00:00Z", // 02:00 BST
            ],
        );
        // Lord Howe 2026-10-04: 02:00 (+10:30) → 02:30 (+11), a 30-minute gap.
        check_dst_slots(
            "Australia/Lord_Howe",
            "2026-10-03T14:00:00Z",
            ("01:45", "03:00"),
            5,
            &[
                "2026-10-03T15:15:00Z", // 01:45 +10:30
                "2026-10-03T15:30:00Z", // 02:00 is in the gap → 02:30 +11
                "2026-10-03T15:30:00Z", // 02:15 is in the gap → 02:30 +11
                "2026-10-03T15:30:00Z", // 02:30 +11
                "2026-10-03T15:45:00Z", // 02:45 +11
            ],
        );
        // Kathmandu (+05:45) has no DST: slots are plain wall times.
        check_dst_slots(
            "Asia/Kathmandu",
            "2026-06-01T00:00:00Z",
            ("09:00", "10:00"),
            2,
            &["2026-06-01T03:15:00Z", "2026-06-01T03:45:00Z"],
        );
    }

    fn arbitrary_schedule() -> impl Strategy<Value = Schedule> {
        let zones = prop::sample::select(vec![
            "UTC",
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
            "Pacific/Chatham",
        ]);
        (
            zones,
            0u16..1439,
            1u16..1440,
            prop::collection::vec(1i64..=7, 1..7),
            1i64..50,
        )
            .prop_map(|(zone, start, length, days, cap)| {
                let end = (start + length).min(1439).max(start + 1);
                let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
                schedule(SchedulePatch {
                    timezone: Some(zone.into()),
                    start_time: Some(Some(hhmm(start))),
                    end_time: Some(Some(hhmm(end))),
                    working_days: Some(days),
                    max_calls_per_day: Some(Some(cap)),
                    ..SchedulePatch::default()
                })
            })
    }

    proptest! {
        #[test]
        fn slots_respect_window_working_days_cap_order_and_anchor(
            schedule in arbitrary_schedule(),
            anchor_secs in 1_700_000_000i64..1_900_000_000,
            used in 0u32..60,
        ) {
            let anchor = DateTime::from_timestamp(anchor_secs, 0).unwrap();
            let zone: Tz = schedule.timezone;
            let cap = schedule.max_calls_per_day.unwrap();
            let mut per_day = std::collections::HashMap::<NaiveDate, u32>::new();
            let mut previous = anchor;
            for slot in Plan::new(&schedule, anchor, used).slots().take(300) {
                prop_assert!(slot >= previous, "order: {slot} after {previous}");
                previous = slot;
                let local = slot.with_timezone(&zone);
                let day = local.date_naive();
                prop_assert!(schedule.working_days.contains(day.weekday()), "{local} is not a working day");
                let window = schedule.window_on(day).unwrap();
                prop_assert!(window.open <= slot && slot < window.close, "{local} outside the window");
                if window.uniform {
                    let minutes = local.time().num_seconds_from_midnight() / 60;
                    let open = schedule.window.start().map_or(0, |t| u32::from(t.minutes()));
                    prop_assert!(minutes >= open, "{local} before the window opens");
                }
                let count = per_day.entry(day).or_insert(if day == local_date(zone, anchor) { used } else { 0 });
                *count += 1;
                // The calls `used` on the anchor's day count against its cap: a day whose cap is
                // used up has no slot, and no day holds more than the cap.
                prop_assert!(*count <= cap, "{day} holds {count} slots and calls, over {cap}");
            }
        }
    }

    proptest! {
        /// With two windows a day (a gap between them) and a cap, every slot falls inside one
        /// of its day's windows, in order, and no day holds more than the cap.
        #[test]
        fn slots_fall_inside_the_day_s_calling_windows(
            zone in prop::sample::select(vec!["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe"]),
            first_start in 0u16..600,
            first_len in 30u16..300,
            gap in 1u16..240,
            second_len in 30u16..300,
            days in prop::collection::btree_set(1i64..=7, 1..=7),
            cap in 1i64..50,
            anchor_secs in 1_700_000_000i64..1_900_000_000,
        ) {
            let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
            let first_end = first_start + first_len;
            let second_start = first_end + gap;
            let second_end = (second_start + second_len).min(1439);
            prop_assume!(second_start < second_end);
            let days: Vec<i64> = days.into_iter().collect();
            let schedule = schedule(SchedulePatch {
                timezone: Some(zone.into()),
                calling_windows: Some(vec![
                    (days.clone(), hhmm(first_start), hhmm(first_end)),
                    (days, hhmm(second_start), hhmm(second_end)),
                ]),
                max_calls_per_day: Some(Some(cap)),
                ..SchedulePatch::default()
            });
            let anchor = DateTime::from_timestamp(anchor_secs, 0).unwrap();
            let mut per_day = std::collections::HashMap::<NaiveDate, i64>::new();
            let mut previous = anchor;
            for slot in Plan::new(&schedule, anchor, 0).slots().take(200) {
                prop_assert!(slot >= previous, "order: {slot} after {previous}");
                previous = slot;
                prop_assert!(schedule.is_open_at(slot), "{slot} outside every window of its day");
                let day = local_date(schedule.timezone, slot);
                let count = per_day.entry(day).or_insert(0);
                *count += 1;
                prop_assert!(*count <= cap, "{day} holds {count} slots, over {cap}");
            }
        }
    }
}
