//! The campaign state machine: every transition of the API contract, as one pure function.

use std::fmt;

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Active,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 7] = [
        Self::Draft,
        Self::Scheduled,
        Self::Active,
        Self::Paused,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a status name; `running` is the vendor's word for `active`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(Self::Active),
            _ => Self::ALL.into_iter().find(|status| status.as_str() == text),
        }
    }

    /// Only a requeue (contacts put back by an operator) leaves a terminal status: `completed`
    /// goes back to `active`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Whether a campaign in this status completes now: it is `active` (a campaign still
    /// `scheduled` has placed no call) and no contact waits and no call runs. The Lua scripts
    /// `claim.lua` and `record.lua` repeat this rule (see their comments).
    pub fn completes(self, has_waiting: bool, n_in_flight: usize) -> bool {
        self == Self::Active && !has_waiting && n_in_flight == 0
    }

    /// Only these statuses let the dispatcher claim contacts.
    pub fn is_dispatching(self) -> bool {
        matches!(self, Self::Scheduled | Self::Active)
    }

    /// Statuses from which a campaign may be deleted.
    pub fn is_deletable(self) -> bool {
        matches!(
            self,
            Self::Draft | Self::Failed | Self::Cancelled | Self::Completed
        )
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the schedule's start is still ahead at the moment of a resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartIs {
    Ahead,
    Reached,
}

/// What can happen to a campaign. The first four come from operators, the others from dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Schedule,
    Pause,
    Resume(StartIs),
    Cancel,
    /// The first contact fell due.
    Activate,
    /// No contact is left that can still be called.
    Complete,
    /// A scheduling edit moved the start into the future (ours: an active campaign waits again).
    Postpone,
    /// An operator changed the campaign's definition.
    Edit,
    /// An operator added contacts.
    AddContacts,
    Delete,
    /// An operator put final contacts back in the queue (a retry by outcome, a callback).
    Requeue,
    /// The campaign's `expires_at` passed: whatever waits expires.
    Expire,
}

impl Command {
    /// The statuses this command is allowed from.
    pub fn allowed_from(self) -> &'static [CampaignStatus] {
        use CampaignStatus::*;
        match self {
            Self::Schedule => &[Draft],
            Self::Pause => &[Scheduled, Active],
            Self::Resume(_) => &[Paused],
            Self::Cancel | Self::Edit | Self::AddContacts => &[Draft, Scheduled, Active, Paused],
            Self::Activate => &[Scheduled],
            Self::Complete => &[Active],
            Self::Postpone => &[Active, Scheduled],
            Self::Delete => &[Draft, Failed, Cancelled, Completed],
            Self::Requeue => &[Active, Paused, Completed],
            Self::Expire => &[Scheduled, Active, Paused],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Pause => "pause",
            Self::Resume(_) => "resume",
            Self::Cancel => "cancel",
            Self::Activate => "activate",
            Self::Complete => "complete",
            Self::Postpone => "postpone",
            Self::Edit => "edit",
            Self::AddContacts => "add contacts",
            Self::Delete => "delete",
            Self::Requeue => "requeue contacts of",
            Self::Expire => "expire",
        }
    }
}

/// A command that the current status does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a campaign that is {current}", command.name())]
pub struct InvalidTransition {
    pub current: CampaignStatus,
    pub command: Command,
}

impl InvalidTransition {
    pub fn allowed_from(&self) -> &'static [CampaignStatus] {
        self.command.allowed_from()
    }
}

/// The status after `command`, or why it is not allowed. Commands that do not change the
/// status (edit, add contacts, delete) return the current one when allowed.
pub fn transition(
    current: CampaignStatus,
    command: Command,
) -> Result<CampaignStatus, InvalidTransition> {
    use CampaignStatus::*;
    if !command.allowed_from().contains(&current) {
        return Err(InvalidTransition { current, command });
    }
    Ok(match command {
        Command::Schedule => Scheduled,
        Command::Pause => Paused,
        Command::Resume(StartIs::Ahead) | Command::Postpone => Scheduled,
        Command::Resume(StartIs::Reached) | Command::Activate => Active,
        // A completed campaign with contacts to call again is active again.
        Command::Requeue if current == Completed => Active,
        Command::Requeue => current,
        Command::Cancel => Cancelled,
        Command::Complete | Command::Expire => Completed,
        Command::Edit | Command::AddContacts | Command::Delete => current,
    })
}

#[cfg(test)]
mod tests {
    use super::CampaignStatus::*;
    use super::*;

    fn check(current: CampaignStatus, command: Command, expected: Option<CampaignStatus>) {
        assert_eq!(
            transition(current, command).ok(),
            expected,
            "{current} + {command:?}"
        );
    }

    #[test]
    fn the_lifecycle_follows_the_contract() {
        check(Draft, Command::Schedule, Some(Scheduled));
        check(Scheduled, Command::Schedule, None);
        check(Scheduled, Command::Activate, Some(Active));
        check(Active, Command::Complete, Some(Completed));
        check(Scheduled, Command::Pause, Some(Paused));
        check(Active, Command::Pause, Some(Paused));
        check(Paused, Command::Pause, None);
        check(Draft, Command::Pause, None);
        check(Paused, Command::Resume(StartIs::Ahead), Some(Scheduled));
        check(Paused, Command::Resume(StartIs::Reached), Some(Active));
        check(Active, Command::Resume(StartIs::Reached), None);
        check(Active, Command::Postpone, Some(Scheduled));
        check(Paused, Command::Postpone, None);
        check(Completed, Command::Requeue, Some(Active));
        check(Paused, Command::Requeue, Some(Paused));
        check(Active, Command::Requeue, Some(Active));
        check(Cancelled, Command::Requeue, None);
        check(Draft, Command::Requeue, None);
        check(Paused, Command::Expire, Some(Completed));
        check(Scheduled, Command::Expire, Some(Completed));
        check(Draft, Command::Expire, None);
    }

    #[test]
    fn cancel_and_edits_need_a_live_campaign() {
        for status in CampaignStatus::ALL {
            let live = !status.is_terminal();
            check(status, Command::Cancel, live.then_some(Cancelled));
            check(status, Command::Edit, live.then_some(status));
            check(
                status,
                Command::Delete,
                status.is_deletable().then_some(status),
            );
        }
    }

    #[test]
    fn running_is_read_as_active() {
        assert_eq!(CampaignStatus::parse("running"), Some(Active));
        assert_eq!(CampaignStatus::parse("paused"), Some(Paused));
        assert_eq!(CampaignStatus::parse("bogus"), None);
    }
}
