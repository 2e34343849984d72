//! A campaign's definition apart from its schedule: name, agent and caller ids.

use super::text::checked_text;
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

/// Most caller ids a campaign names.
pub const MAX_CALLER_IDS: usize = 100;

/// Checks `phone_number_ids`: at most [`MAX_CALLER_IDS`], each 1 to 255 characters of text.
pub fn caller_ids(ids: Vec<String>) -> Result<Vec<String>, DomainError> {
    if ids.len() > MAX_CALLER_IDS {
        return Err(DomainError::new(
            "phone_number_ids",
            format!("at most {MAX_CALLER_IDS} ids"),
        ));
    }
    for (index, id) in ids.iter().enumerate() {
        checked_text(&format!("phone_number_ids[{index}]"), id, 1, 255)?;
    }
    Ok(ids)
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
