//! A dialer that places no real call: each one "lasts" a random time and ends with an outcome
//! drawn from a weighted mix. For demos, load tests and the default `cargo run`.

use std::ops::RangeInclusive;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

use super::{CallReport, DialError, Dialer, OutcomeSink};
use crate::domain::DialOutcome;
use crate::store::{CallResult, ClaimedCall};

/// Outcome weights, e.g. `completed=70,no_answer=15,busy=5,voicemail=5,failed=5`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeMix(Vec<(DialOutcome, u32)>);

impl OutcomeMix {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut weights = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not `outcome=weight`"))?;
            let outcome = DialOutcome::parse(name.trim())
                .ok_or_else(|| format!("`{name}` is not an outcome"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("`{weight}` is not a whole number"))?;
            weights.push((outcome, weight));
        }
        if weights.iter().map(|(_, weight)| weight).sum::<u32>() == 0 {
            return Err("the weights add up to zero".to_owned());
        }
        Ok(Self(weights))
    }

    fn draw(&self, rng: &mut impl Rng) -> DialOutcome {
        let total: u32 = self.0.iter().map(|(_, weight)| weight).sum();
        let mut pick = rng.random_range(0..total);
        for &(outcome, weight) in &self.0 {
            if pick < weight {
                return outcome;
            }
            pick -= weight;
        }
        unreachable!("pick is below the total weight")
    }
}

/// Parses a call length range in milliseconds, `500..3000` (`0..0` is instant).
pub fn parse_call_ms(text: &str) -> Result<RangeInclusive<u64>, String> {
    let (low, high) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not `min..max`"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{part}` is not a number of milliseconds"))
    };
    let (low, high) = (number(low)?, number(high)?);
    if high < low {
        return Err(format!("`{text}`: max is below min"));
    }
    Ok(low..=high)
}

/// Calls that end by themselves after a random time.
#[derive(Debug, Clone)]
pub struct SimulatedDialer {
    call_ms: RangeInclusive<u64>,
    outcomes: OutcomeMix,
    /// Calls run this many times faster than their reported length (for demos).
    time_scale: f64,
}

impl SimulatedDialer {
    pub fn new(call_ms: RangeInclusive<u64>, outcomes: OutcomeMix, time_scale: f64) -> Self {
        Self {
            call_ms,
            outcomes,
            time_scale: time_scale.max(f64::MIN_POSITIVE),
        }
    }

    /// Parses the operator's settings (`PACER_SIMULATED_CALL_MS`, `PACER_SIMULATED_OUTCOMES`).
    pub fn from_settings(call_ms: &str, outcomes: &str, time_scale: f64) -> Result<Self, String> {
        Ok(Self::new(
            parse_call_ms(call_ms)?,
            OutcomeMix::parse(outcomes)?,
            time_scale,
        ))
    }
}

#[async_trait]
impl Dialer for SimulatedDialer {
    async fn place(&self, call: ClaimedCall, sink: OutcomeSink) -> Result<(), DialError> {
        sink.may_place(&call)?;
        self.simulate(call, sink);
        Ok(())
    }

    /// A simulated provider keeps no record of the calls another node's simulation placed:
    /// asked again about one, it lets it end as it would have, with an outcome from its mix.
    async fn reconcile_all(&self, calls: Vec<ClaimedCall>, sink: OutcomeSink) {
        for call in calls {
            self.simulate(call, sink.clone());
        }
    }
}

impl SimulatedDialer {
    /// Runs one call: it ends after a random length with an outcome from the mix.
    fn simulate(&self, call: ClaimedCall, sink: OutcomeSink) {
        let (length_ms, outcome) = {
            let mut rng = rand::rng();
            (
                rng.random_range(self.call_ms.clone()),
                self.outcomes.draw(&mut rng),
            )
        };
        let report = CallReport {
            campaign_id: call.campaign_id,
            contact_id: call.contact_id,
            attempt: call.attempt,
            result: CallResult {
                outcome,
                duration_secs: (length_ms / 1000) as u32,
            },
        };
        if length_ms == 0 {
            sink.report(report);
        } else {
            let wait = Duration::from_secs_f64(length_ms as f64 / 1000.0 / self.time_scale);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                sink.report(report);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_or_say_what_is_wrong() {
        assert_eq!(parse_call_ms("500..3000"), Ok(500..=3000));
        assert_eq!(parse_call_ms("0..0"), Ok(0..=0));
        assert!(parse_call_ms("3000..500").is_err());
        assert!(parse_call_ms("fast").is_err());
        assert!(OutcomeMix::parse("completed=70,no_answer=30").is_ok());
        assert!(OutcomeMix::parse("completed=0").is_err());
        assert!(OutcomeMix::parse("hung_up=5").is_err());
    }

    #[test]
    fn a_mix_of_one_outcome_always_draws_it() {
        let mix = OutcomeMix::parse("busy=3").unwrap();
        let mut rng = rand::rng();
        assert!((0..100).all(|_| mix.draw(&mut rng) == DialOutcome::Busy));
    }
}
