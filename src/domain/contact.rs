//! Contact statuses, call outcomes and the retry decision.

use super::RetryPolicy;

/// Where one contact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactStatus {
    /// In a draft campaign, not yet scheduled.
    Pending,
    /// Waiting for its time.
    Scheduled,
    /// A call is placed and its outcome is not yet known.
    InProgress,
    Completed,
    Failed,
    Cancelled,
    /// A rule held it back for good.
    Skipped,
    /// A placed call whose outcome never came; never redialled blindly.
    Unknown,
    /// Not final when its campaign's `expires_at` passed.
    Expired,
}

impl ContactStatus {
    pub const ALL: [ContactStatus; 9] = [
        Self::Pending,
        Self::Scheduled,
        Self::InProgress,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Skipped,
        Self::Unknown,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Scheduled | Self::InProgress)
    }
}

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialOutcome {
    Completed,
    NoAnswer,
    Busy,
    Voicemail,
    Failed,
    /// The callee answered and declined: final, never retried, and a cool-down for the number
    /// where its region's profile sets one.
    Refused,
}

impl DialOutcome {
    pub const ALL: [DialOutcome; 6] = [
        Self::Completed,
        Self::NoAnswer,
        Self::Busy,
        Self::Voicemail,
        Self::Failed,
        Self::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Voicemail => "voicemail",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }

    /// The call reached someone (or their voicemail): the contact is done.
    pub fn connected(self) -> bool {
        matches!(self, Self::Completed | Self::Voicemail | Self::Refused)
    }
}

/// What happens to a contact after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Call again after the policy's delay.
    Retry,
    /// The contact is done, with this final status.
    Final(ContactStatus),
}

impl RetryPolicy {
    /// Decides after attempt number `attempts` (1-based) ended with `outcome`.
    pub fn decide(&self, outcome: DialOutcome, attempts: u32) -> RetryDecision {
        if outcome.connected() {
            RetryDecision::Final(ContactStatus::Completed)
        } else if self.enabled && attempts <= self.max_retries {
            RetryDecision::Retry
        } else {
            RetryDecision::Final(ContactStatus::Failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: RetryPolicy, outcome: DialOutcome, attempts: u32, expected: RetryDecision) {
        assert_eq!(
            policy.decide(outcome, attempts),
            expected,
            "{outcome:?} after {attempts}"
        );
    }

    #[test]
    fn retries_only_for_retry_outcomes_and_up_to_the_limit() {
        let policy = RetryPolicy {
            enabled: true,
            max_retries: 2,
            delay_minutes: 30,
        };
        let failed = RetryDecision::Final(ContactStatus::Failed);
        let completed = RetryDecision::Final(ContactStatus::Completed);
        check(policy, DialOutcome::NoAnswer, 1, RetryDecision::Retry);
        check(policy, DialOutcome::Busy, 2, RetryDecision::Retry);
        check(policy, DialOutcome::Failed, 3, failed);
        check(policy, DialOutcome::Completed, 1, completed);
        check(policy, DialOutcome::Voicemail, 1, completed);
        check(policy, DialOutcome::Refused, 1, completed);
        let off = RetryPolicy {
            enabled: false,
            ..policy
        };
        check(off, DialOutcome::NoAnswer, 1, failed);
    }
}
