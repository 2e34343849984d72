//! A campaign's definition apart from its schedule: name, agent and caller ids.

use super::{DomainError, Schedule};

/// How the dialer picks a caller id from `phone_number_ids`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhoneRotation {
    #[default]
    Random,
    Sequential,
    RoundRobin,
}

impl PhoneRotation {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text {
            "random" => Ok(Self::Random),
            "sequential" => Ok(Self::Sequential),
            "round_robin" => Ok(Self::RoundRobin),
            other => Err(DomainError::new(
                "phone_rotation_strategy",
                format!("`{other}` is not one of random, sequential, round_robin"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Sequential => "sequential",
            Self::RoundRobin => "round_robin",
        }
    }
}

/// Checks a required free-text field: 1 to `max_chars` characters, not only blanks.
pub fn required_text(field: &str, text: &str, max_chars: usize) -> Result<String, DomainError> {
    let n_chars = text.chars().count();
    if text.trim().is_empty() || n_chars > max_chars {
        return Err(DomainError::new(
            field,
            format!("must be 1 to {max_chars} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// What an operator defines: who calls, from which numbers, on which schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSpec {
    pub name: String,
    pub agent_id: String,
    pub phone_number_ids: Vec<String>,
    pub rotation: PhoneRotation,
    pub schedule: Schedule,
}

impl CampaignSpec {
    /// The caller id for the `sequence`-th call of the campaign, by the rotation strategy.
    /// `random` is drawn from `entropy` so that this function stays pure.
    pub fn caller_id(&self, sequence: u64, entropy: u64) -> Option<&str> {
        let n_ids = self.phone_number_ids.len() as u64;
        if n_ids == 0 {
            return None;
        }
        let index = match self.rotation {
            PhoneRotation::Random => entropy % n_ids,
            // Sequential uses the first number until an operator changes the list; round robin cycles.
            PhoneRotation::Sequential => 0,
            PhoneRotation::RoundRobin => sequence % n_ids,
        };
        self.phone_number_ids
            .get(index as usize)
            .map(String::as_str)
    }
}
