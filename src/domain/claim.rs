//! Claim ahead: the slots one claim takes within its horizon (`Schedule::claim_slots`), each
//! one the gate lets through once the ones before it are claimed.

use chrono::{DateTime, Duration, Utc};

use super::pacing::{Gate, PacingState};
use super::schedule::{Schedule, local_date};

/// The calls a claim at `now` may start within `ahead` of it: the instant of each (its slot), and
/// the pacing's next slot once that call and those before it are claimed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClaimSlots {
    pub at: Vec<DateTime<Utc>>,
    /// `next_slot_at[j]`: the next slot after claiming calls `0..=j` (`None` without a cap).
    pub next_slot_at: Vec<Option<DateTime<Utc>>>,
}

impl Schedule {
    /// The slots a claim at `now` takes when it looks `ahead` (claim ahead, place on time): up
    /// to `limit` instants at or after `now` and no later than `now + ahead`, each one the gate
    /// lets through once the ones before it are claimed. Without a cap every call is due when the
    /// gate opens; with one, one call a slot. Slots stay on the local date of `now` (the day's
    /// count is kept for that date). With `ahead` zero this is the gate itself: one call now
    /// under a cap, `limit` without.
    pub fn claim_slots(
        &self,
        start: DateTime<Utc>,
        pacing: &PacingState,
        now: DateTime<Utc>,
        ahead: Duration,
        limit: u32,
    ) -> ClaimSlots {
        let (horizon, today) = (now + ahead, local_date(self.timezone, now));
        let mut pacing = *pacing;
        let mut slots = ClaimSlots::default();
        let mut instant = now;
        while (slots.at.len() as u32) < limit {
            match self.gate(start, &pacing, instant) {
                Gate::Open { max_calls: None } => {
                    let n = limit as usize - slots.at.len();
                    slots.at.extend(std::iter::repeat_n(instant, n));
                    slots.next_slot_at.extend(std::iter::repeat_n(None, n));
                }
                Gate::Open { max_calls: Some(_) } => {
                    pacing.record_claims(self, instant, 1);
                    slots.at.push(instant);
                    slots.next_slot_at.push(pacing.next_slot_at);
                }
                Gate::Wait(opens)
                    if opens > instant
                        && opens <= horizon
                        && local_date(self.timezone, opens) == today =>
                {
                    instant = opens;
                    continue;
                }
                Gate::Wait(_) => break,
            }
            if self.max_calls_per_day.is_none() {
                break;
            }
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pacing::tests::{at, nine_to_five};

    #[test]
    fn a_claim_ahead_takes_the_slots_within_its_horizon_and_no_further() {
        // 2026-11-30 is a Monday; cap 4 over 8 hours: 09:00, 11:00, 13:00, 15:00.
        let schedule = nine_to_five("UTC", Some(4));
        let start = at("2026-11-30T00:00:00Z");
        let fresh = PacingState::default();
        let now = at("2026-11-30T08:59:00Z");
        let ahead = |minutes| Duration::minutes(minutes);
        // Within 4 h 30 of 08:59: three slots, each claim moving the next slot on.
        let slots = schedule.claim_slots(start, &fresh, now, ahead(270), 10);
        assert_eq!(
            slots.at,
            [
                "2026-11-30T09:00:00Z",
                "2026-11-30T11:00:00Z",
                "2026-11-30T13:00:00Z"
            ]
            .map(at)
        );
        assert_eq!(
            slots.next_slot_at,
            [
                "2026-11-30T11:00:00Z",
                "2026-11-30T13:00:00Z",
                "2026-11-30T15:00:00Z"
            ]
            .map(|t| Some(at(t)))
        );
        // The limit (free lines, the carrier) bounds it; a horizon short of the slot takes none.
        assert_eq!(
            schedule
                .claim_slots(start, &fresh, now, ahead(270), 2)
                .at
                .len(),
            2
        );
        assert!(
            schedule
                .claim_slots(start, &fresh, now, ahead(0), 10)
                .at
                .is_empty()
        );
        // Looking no ahead is the gate: one call now, once the slot is reached (even late).
        let late = at("2026-11-30T09:30:00Z");
        let slots = schedule.claim_slots(start, &fresh, late, ahead(0), 10);
        assert_eq!(slots.at, [late]);
        assert_eq!(slots.next_slot_at, [Some(at("2026-11-30T11:00:00Z"))]);
        // The next day's slots, and the day's once its cap is spent, stay out of a claim of
        // today (with no slot set, the gate is open now).
        let evening = at("2026-11-30T14:00:00Z");
        let slots = schedule.claim_slots(start, &fresh, evening, ahead(24 * 60), 10);
        assert_eq!(slots.at, [evening, at("2026-11-30T15:00:00Z")]);
        let spent = PacingState {
            day: Some(local_date(schedule.timezone, evening)),
            used: 4,
            next_slot_at: None,
        };
        assert!(
            schedule
                .claim_slots(start, &spent, evening, ahead(24 * 60), 10)
                .at
                .is_empty()
        );
        // Without a cap: every call when the window opens, if it opens within the horizon.
        let open = nine_to_five("UTC", None);
        let slots = open.claim_slots(start, &fresh, now, ahead(2), 3);
        assert_eq!(slots.at, [at("2026-11-30T09:00:00Z"); 3]);
        assert_eq!(slots.next_slot_at, [None; 3]);
        assert!(
            open.claim_slots(start, &fresh, now, ahead(0), 3)
                .at
                .is_empty()
        );
        // Not before the campaign's start: its first slot on the grid.
        let later_start = at("2026-11-30T12:00:00Z");
        let slots = schedule.claim_slots(later_start, &fresh, now, ahead(270), 10);
        assert_eq!(slots.at, [at("2026-11-30T13:00:00Z")]);
    }
}
