//! Frequency caps: at most so many placed attempts to one number in a rolling window, counted
//! across all of an organisation's campaigns. Caps come from the operator (per organisation),
//! from the legal floor's profiles (per region) and from the campaign, which may only add
//! stricter ones: every cap that applies must allow an attempt.

use chrono::Duration;

use super::DomainError;

/// Caps one campaign may set.
pub const MAX_FREQUENCY_CAPS: usize = 4;
/// The longest window a cap may have: a year.
pub const MAX_CAP_WINDOW_HOURS: i64 = 24 * 366;

/// At most `max_calls` placed attempts to one number within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrequencyCap {
    pub max_calls: u32,
    pub window: Duration,
}

impl FrequencyCap {
    /// `max_calls` 1–100 in `window_hours` 1–8784; `field` names the cap in errors.
    pub fn parse(field: &str, max_calls: i64, window_hours: i64) -> Result<Self, DomainError> {
        if !(1..=100).contains(&max_calls) {
            return Err(DomainError::new(
                format!("{field}.max_calls"),
                "must be from 1 to 100",
            ));
        }
        if !(1..=MAX_CAP_WINDOW_HOURS).contains(&window_hours) {
            return Err(DomainError::new(
                format!("{field}.window_hours"),
                format!("must be from 1 to {MAX_CAP_WINDOW_HOURS}"),
            ));
        }
        Ok(Self {
            max_calls: max_calls as u32,
            window: Duration::hours(window_hours),
        })
    }

    pub fn window_hours(&self) -> i64 {
        self.window.num_hours()
    }
}

/// Checks a campaign's caps: at most [`MAX_FREQUENCY_CAPS`], each valid.
pub fn parse_caps(pairs: &[(i64, i64)]) -> Result<Vec<FrequencyCap>, DomainError> {
    if pairs.len() > MAX_FREQUENCY_CAPS {
        return Err(DomainError::new(
            "frequency_caps",
            format!("at most {MAX_FREQUENCY_CAPS} caps"),
        ));
    }
    pairs
        .iter()
        .enumerate()
        .map(|(i, &(max_calls, hours))| {
            FrequencyCap::parse(&format!("frequency_caps[{i}]"), max_calls, hours)
        })
        .collect()
}

/// When a new attempt to a number may go, given the Unix seconds of its attempts counted so
/// far and every cap that applies: `None` when it may go at `now`, else the first second every
/// cap allows it (a cap of `n` in `w` holding `k ≥ n` attempts in the window lets one more go
/// once the `k − n + 1` oldest of them are `w` old). Mirrored by `scripts/screen.lua`.
pub fn next_allowed(attempts: &[i64], caps: &[FrequencyCap], now: i64) -> Option<i64> {
    let mut sorted = attempts.to_vec();
    sorted.sort_unstable();
    caps.iter()
        .filter_map(|cap| {
            let window = cap.window.num_seconds();
            let inside: Vec<i64> = sorted
                .iter()
                .copied()
                .filter(|&at| at > now - window)
                .collect();
            let over = inside.len().checked_sub(cap.max_calls as usize)?;
            Some(inside[over] + window)
        })
        .max()
}

/// The attempts still worth keeping at `now`: those inside the longest window.
pub fn still_counted(attempts: &[i64], caps: &[FrequencyCap], now: i64) -> Vec<i64> {
    let longest = caps
        .iter()
        .map(|cap| cap.window.num_seconds())
        .max()
        .unwrap_or(0);
    attempts
        .iter()
        .copied()
        .filter(|&at| at > now - longest)
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cap(max_calls: u32, hours: i64) -> FrequencyCap {
        FrequencyCap {
            max_calls,
            window: Duration::hours(hours),
        }
    }

    #[test]
    fn the_fourth_attempt_in_a_day_waits_for_the_first_to_age_out() {
        let caps = [cap(3, 24)];
        let hour = 3_600;
        assert_eq!(next_allowed(&[0, hour], &caps, 2 * hour), None);
        assert_eq!(
            next_allowed(&[0, hour, 2 * hour], &caps, 3 * hour),
            Some(24 * hour)
        );
        assert_eq!(next_allowed(&[0, hour, 2 * hour], &caps, 24 * hour), None);
    }

    #[test]
    fn every_cap_must_allow_an_attempt() {
        let caps = [cap(3, 24), cap(1, 1)];
        assert_eq!(next_allowed(&[0], &caps, 600), Some(3_600));
        assert_eq!(next_allowed(&[], &caps, 600), None);
    }

    #[test]
    fn caps_are_checked() {
        assert!(FrequencyCap::parse("c", 0, 24).is_err());
        assert!(FrequencyCap::parse("c", 3, 0).is_err());
        assert!(FrequencyCap::parse("c", 3, MAX_CAP_WINDOW_HOURS + 1).is_err());
        assert_eq!(
            parse_caps(&[(3, 24), (101, 1)]).unwrap_err().field,
            "frequency_caps[1].max_calls"
        );
    }

    proptest! {
        /// Placing at the instant `next_allowed` gives never breaks a cap, and one second
        /// earlier would have.
        #[test]
        fn the_next_allowed_instant_is_the_first_that_keeps_every_cap(
            attempts in proptest::collection::vec(0i64..200_000, 0..12),
            caps in proptest::collection::vec((1u32..5, 1i64..30), 1..4),
            now in 0i64..200_000,
        ) {
            let caps: Vec<FrequencyCap> = caps.into_iter().map(|(n, h)| cap(n, h)).collect();
            let attempts: Vec<i64> = attempts.into_iter().filter(|&at| at <= now).collect();
            let fits = |at: i64| caps.iter().all(|cap| {
                let inside = attempts.iter().filter(|&&t| t > at - cap.window.num_seconds()).count();
                inside < cap.max_calls as usize
            });
            match next_allowed(&attempts, &caps, now) {
                None => prop_assert!(fits(now)),
                Some(at) => {
                    prop_assert!(at > now);
                    prop_assert!(fits(at));
                    prop_assert!(!fits(at - 1));
                }
            }
        }
    }
}
