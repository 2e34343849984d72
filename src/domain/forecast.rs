//! When a campaign can finish under its current rules: its waiting contacts and the retries the
//! outcomes seen so far imply, placed through its daily cap, its windows, its concurrency and
//! the carrier rate; and how many would still wait at its expiry.

use chrono::{DateTime, Duration, Utc};

use super::{PacingState, Schedule, local_date};

/// What limits a campaign's pace most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitingFactor {
    DailyCap,
    Window,
    Concurrency,
    CarrierRate,
}

impl LimitingFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DailyCap => "daily_cap",
            Self::Window => "window",
            Self::Concurrency => "concurrency",
            Self::CarrierRate => "carrier_rate",
        }
    }
}

/// What a forecast starts from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Contacts not final and not in progress.
    pub waiting: u64,
    /// Expected further attempts per waiting contact (from the outcomes seen and the retry
    /// policy).
    pub retries_per_contact: f64,
    /// Mean length of a call, in seconds.
    pub mean_call_secs: f64,
    /// The carrier's calls per second for the whole cluster, if limited.
    pub carrier_cps: Option<f64>,
}

/// When the campaign can finish, how many contacts would still wait at its expiry, and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    pub completion_at: DateTime<Utc>,
    pub contacts_at_risk: u64,
    pub limiting_factor: LimitingFactor,
}

/// Days walked at most (ten years): a forecast past them says so by its date.
const HORIZON_DAYS: i64 = 3_660;

/// The expected further attempts per contact: each attempt fails with probability
/// `retryable_share` and is retried while `max_retries` allow (a geometric series).
pub fn retries_per_contact(retry_enabled: bool, max_retries: u32, retryable_share: f64) -> f64 {
    if !retry_enabled {
        return 0.0;
    }
    let share = retryable_share.clamp(0.0, 1.0);
    (1..=max_retries).map(|k| share.powi(k as i32)).sum()
}

impl Schedule {
    /// The forecast of `work` from `now` (the campaign starts at `start`, its pacing is
    /// `pacing`).
    pub fn forecast(
        &self,
        start: DateTime<Utc>,
        pacing: &PacingState,
        now: DateTime<Utc>,
        work: &Workload,
    ) -> Forecast {
        let anchor = now.max(start);
        let per_contact = 1.0 + work.retries_per_contact.max(0.0);
        let attempts = (work.waiting as f64 * per_contact).ceil() as u64;
        let call = Duration::milliseconds((work.mean_call_secs.max(0.0) * 1_000.0) as i64);
        let at_risk = |fitting: u64| {
            let contacts = (fitting as f64 / per_contact).floor() as u64;
            work.waiting.saturating_sub(contacts)
        };
        if let Some(cap) = self.max_calls_per_day.filter(|_| attempts > 0) {
            let last = self.projected_due(start, pacing, now, attempts - 1);
            let fitting = self.expires_at.map_or(attempts, |expires| {
                self.attempts_before(start, pacing, now, attempts, expires)
            });
            // The cap binds unless the calls of a day cannot all run in its windows.
            let per_day = self.open_secs_on(anchor) * self.max_concurrent_calls as f64
                / work.mean_call_secs.max(1.0);
            let limiting = if per_day < f64::from(cap) {
                LimitingFactor::Concurrency
            } else {
                LimitingFactor::DailyCap
            };
            return Forecast {
                completion_at: last + call,
                contacts_at_risk: at_risk(fitting),
                limiting_factor: limiting,
            };
        }
        // Without a cap: the windows' open time, at the pace of the concurrency (or the
        // carrier, if slower).
        let by_concurrency = work.mean_call_secs.max(0.0) / f64::from(self.max_concurrent_calls);
        let by_carrier = work.carrier_cps.map_or(0.0, |cps| 1.0 / cps.max(1e-6));
        let secs_per_attempt = by_concurrency.max(by_carrier);
        let needed = attempts as f64 * secs_per_attempt;
        let (completion, n_windows) = self.open_time_until(anchor, needed);
        let fitting = self.expires_at.map_or(attempts, |expires| {
            let open = self.open_secs_between(anchor, expires);
            if secs_per_attempt > 0.0 {
                (open / secs_per_attempt).floor() as u64
            } else if open > 0.0 {
                attempts
            } else {
                0
            }
        });
        let limiting = if by_carrier > by_concurrency {
            LimitingFactor::CarrierRate
        } else if n_windows > 1 {
            LimitingFactor::Window
        } else {
            LimitingFactor::Concurrency
        };
        Forecast {
            completion_at: completion + call,
            contacts_at_risk: at_risk(fitting.min(attempts)),
            limiting_factor: limiting,
        }
    }

    /// How many of the first `attempts` slots fall before `expires` (the slots are in order).
    fn attempts_before(
        &self,
        start: DateTime<Utc>,
        pacing: &PacingState,
        now: DateTime<Utc>,
        attempts: u64,
        expires: DateTime<Utc>,
    ) -> u64 {
        let (mut low, mut high) = (0, attempts);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.projected_due(start, pacing, now, middle) < expires {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The open intervals of the windows from `from` on, day by day, within the horizon.
    fn open_intervals(
        &self,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let first_day = local_date(self.timezone, from);
        (0..HORIZON_DAYS).flat_map(move |n| {
            let date = first_day + Duration::days(n);
            let windows: Vec<_> = self
                .window_on(date)
                .map(|window| window.instants(self.timezone).collect())
                .unwrap_or_default();
            windows
                .into_iter()
                .filter(move |&(_, close)| close > from)
                .map(move |(open, close)| (open.max(from), close))
        })
    }

    /// The instant by which the windows from `from` on have been open `needed` seconds, and how
    /// many windows that took.
    fn open_time_until(&self, from: DateTime<Utc>, needed: f64) -> (DateTime<Utc>, usize) {
        let mut left = needed;
        let mut last = from;
        for (n, (open, close)) in self.open_intervals(from).enumerate() {
            let length = (close - open).num_milliseconds() as f64 / 1_000.0;
            if left <= length {
                let end = open + Duration::milliseconds((left * 1_000.0) as i64);
                return (end, n + 1);
            }
            left -= length;
            last = close;
        }
        (last, usize::MAX)
    }

    /// Seconds the windows are open between `from` and `until`.
    fn open_secs_between(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> f64 {
        self.open_intervals(from)
            .take_while(|&(open, _)| open < until)
            .map(|(open, close)| (close.min(until) - open).num_milliseconds() as f64 / 1_000.0)
            .sum()
    }

    /// Seconds the windows are open on the local day of `instant`.
    fn open_secs_on(&self, instant: DateTime<Utc>) -> f64 {
        self.window_on(local_date(self.timezone, instant))
            .map_or(0.0, |window| window.len_ms as f64 / 1_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SchedulePatch;

    fn schedule(patch: SchedulePatch) -> Schedule {
        Schedule::default().apply(&patch).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn work(waiting: u64) -> Workload {
        Workload {
            waiting,
            retries_per_contact: 0.0,
            mean_call_secs: 60.0,
            carrier_cps: None,
        }
    }

    #[test]
    fn a_daily_cap_spreads_the_contacts_over_days_and_puts_the_rest_at_risk() {
        let every_day = vec![1, 2, 3, 4, 5, 6, 7];
        let start = at("2026-11-30T09:00:00Z");
        let cap = schedule(SchedulePatch {
            start_time: Some(Some("09:00".to_owned())),
            end_time: Some(Some("17:00".to_owned())),
            working_days: Some(every_day),
            max_calls_per_day: Some(Some(100)),
            expires_at: Some(Some("2026-12-05T00:00:00Z".to_owned())),
            ..SchedulePatch::default()
        });
        let forecast = cap.forecast(start, &PacingState::default(), start, &work(1_000));
        assert_eq!(forecast.limiting_factor, LimitingFactor::DailyCap);
        // Ten days of 100: the last slot on day 10, 16:55:12 (8 h / 100 apart).
        assert_eq!(forecast.completion_at, at("2026-12-09T16:56:12Z"));
        assert_eq!(forecast.contacts_at_risk, 500, "five days of 100 fit");
    }

    #[test]
    fn without_a_cap_the_concurrency_fills_the_windows() {
        let start = at("2026-11-30T09:00:00Z");
        let window = schedule(SchedulePatch {
            start_time: Some(Some("09:00".to_owned())),
            end_time: Some(Some("10:00".to_owned())),
            working_days: Some(vec![1, 2, 3, 4, 5, 6, 7]),
            max_concurrent_calls: Some(10),
            ..SchedulePatch::default()
        });
        // 600 calls of a minute, 10 at once: one hour, the whole first window.
        let one = window.forecast(start, &PacingState::default(), start, &work(600));
        assert_eq!(one.completion_at, at("2026-11-30T10:01:00Z"));
        assert_eq!(one.limiting_factor, LimitingFactor::Concurrency);
        assert_eq!(one.contacts_at_risk, 0);
        let two = window.forecast(start, &PacingState::default(), start, &work(900));
        assert_eq!(two.completion_at, at("2026-12-01T09:31:00Z"));
        assert_eq!(two.limiting_factor, LimitingFactor::Window);
        let slow_carrier = Workload {
            carrier_cps: Some(0.1),
            ..work(60)
        };
        let carrier = window.forecast(start, &PacingState::default(), start, &slow_carrier);
        assert_eq!(carrier.limiting_factor, LimitingFactor::CarrierRate);
        assert_eq!(carrier.completion_at, at("2026-11-30T09:11:00Z"));
    }

    #[test]
    fn retries_follow_the_share_of_retryable_outcomes() {
        assert_eq!(retries_per_contact(false, 3, 0.5), 0.0);
        assert_eq!(retries_per_contact(true, 2, 0.5), 0.75);
        assert_eq!(retries_per_contact(true, 3, 0.0), 0.0);
    }
}
