//! The generic cell rate algorithm (GCRA): a rate limit kept as one number, the theoretical
//! arrival time (TAT) of the next request. The carrier's calls-per-second limit and the API's
//! per-organisation rate limit both use it; the Redis store runs the same arithmetic in Lua.
//!
//! Times are integer microseconds on any monotonic scale the caller chooses.

/// A rate: `per_second` requests per second on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// The spacing between two requests at the steady rate, in microseconds (at least 1).
    pub fn interval_us(&self) -> i64 {
        ((1_000_000.0 / self.per_second.max(1e-6)).round() as i64).max(1)
    }
}

/// What a request for `wanted` tokens got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub granted: u32,
    /// The new theoretical arrival time to keep.
    pub tat_us: i64,
    /// When the next token is free, relative to now (0 when one is free now).
    pub wait_us: i64,
}

/// Takes up to `wanted` tokens at `now_us` from a limiter whose state is `tat_us` (0 for a
/// fresh one).
pub fn take(rate: Rate, tat_us: i64, now_us: i64, wanted: u32) -> Grant {
    let interval = rate.interval_us();
    let burst = i64::from(rate.burst.max(1));
    let start = tat_us.max(now_us);
    // Tokens fit while the TAT stays within `burst` intervals of now.
    let room = (now_us + burst * interval - start) / interval;
    let granted = room.clamp(0, i64::from(wanted));
    let tat_us = start + granted * interval;
    let wait_us = (tat_us - (burst - 1) * interval - now_us).max(0);
    Grant {
        granted: granted as u32,
        tat_us,
        wait_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_A_SECOND: Rate = Rate {
        per_second: 10.0,
        burst: 5,
    };

    #[test]
    fn a_fresh_limiter_grants_its_burst_then_one_per_interval() {
        let first = take(TEN_A_SECOND, 0, 1_000_000, 100);
        assert_eq!(first.granted, 5);
        assert_eq!(first.wait_us, 100_000);
        let too_soon = take(TEN_A_SECOND, first.tat_us, 1_050_000, 100);
        assert_eq!(too_soon.granted, 0);
        assert_eq!(too_soon.wait_us, 50_000);
        let later = take(TEN_A_SECOND, first.tat_us, 1_100_000, 100);
        assert_eq!(later.granted, 1);
    }

    #[test]
    fn over_any_span_the_grants_stay_within_rate_times_span_plus_burst() {
        let mut tat = 0;
        let mut total = 0;
        for step in 0..10_000 {
            let grant = take(TEN_A_SECOND, tat, step * 1_000, 3);
            tat = grant.tat_us;
            total += grant.granted;
        }
        // 10 seconds at 10 a second, plus the burst.
        assert!(total <= 105, "{total}");
        assert!(total >= 99, "{total}");
    }

    #[test]
    fn asking_for_nothing_changes_nothing() {
        let grant = take(TEN_A_SECOND, 0, 5, 0);
        assert_eq!((grant.granted, grant.tat_us), (0, 5));
    }
}
