//! The decisions every backend shares when an operator changes a campaign: which status it
//! moves to, which timestamps change, where the pacing restarts. Backends apply the result to
//! their own queues in the same atomic step.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::{Campaign, CampaignEdit, Control, StoreError};
use crate::domain::{
    CallSafety, CampaignId, CampaignStatus, Command, ContactId, ContactStatus, DomainError,
    HeldReason, PacingState, SchedulePatch, SkipReason, StartIs, StartRule, Verdict,
    is_unresolvable, transition,
};

/// Contacts a claim puts back to wait at most (their callee's window is closed), so that one
/// claim never walks a long queue of closed ones in one step: the next claim goes on.
pub(crate) const MAX_PARKED_PER_CLAIM: usize = 1000;

/// How long a contact waits whose rules never meet in the fortnight the gate looks ahead (a
/// window wholly outside the legal floor) before it is looked at again: an edit may open it.
const RECHECK_AFTER: Duration = Duration::days(1);

/// What the callee gate says about one partition's contacts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionVerdict {
    /// They may be called; no dial request after that instant (`not_after`).
    Open(DateTime<Utc>),
    /// They wait, for this reason, until that instant.
    Held(HeldReason, DateTime<Utc>),
    /// They end `skipped` (their zone is unknown and the campaign skips those).
    Skip(SkipReason),
}

impl PartitionVerdict {
    /// The instant until which the verdict stands (under the same rules): the `not_after` of
    /// an open partition, the opening of a held one; a skip stands for good.
    pub(crate) fn changes_at(self) -> DateTime<Utc> {
        match self {
            Self::Open(not_after) => not_after,
            Self::Held(_, until) => until,
            Self::Skip(_) => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The `not_after` of its calls, when they may be called.
    pub(crate) fn not_after(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Open(not_after) => Some(not_after),
            _ => None,
        }
    }
}

/// Decides the callee gate of a partition (`domain::CallSafety::verdict`). A window that closes
/// within the safety buffer counts as closed: a call placed then could not start before its
/// `not_after`.
pub(crate) fn partition_verdict(
    safety: &CallSafety,
    campaign: &Campaign,
    key: &str,
    now: DateTime<Utc>,
) -> PartitionVerdict {
    let schedule = &campaign.spec.schedule;
    if schedule.skip_unresolvable && is_unresolvable(key) {
        return PartitionVerdict::Skip(SkipReason::TimezoneUnresolvable);
    }
    let held = |verdict| match verdict {
        Verdict::Held { reason, until } => {
            PartitionVerdict::Held(reason, until.unwrap_or(now + RECHECK_AFTER))
        }
        Verdict::Open { .. } => PartitionVerdict::Held(HeldReason::Window, now + RECHECK_AFTER),
    };
    match safety.verdict(schedule, campaign.org.as_str(), key, now) {
        Verdict::Open { closes_at } => {
            // No dial request after the campaign expires either.
            let not_after = safety
                .not_after(closes_at)
                .min(schedule.expires_at.unwrap_or(closes_at));
            if not_after > now {
                PartitionVerdict::Open(not_after)
            } else {
                held(safety.verdict(schedule, campaign.org.as_str(), key, closes_at))
            }
        }
        verdict => held(verdict),
    }
}

/// When a callback asked for `at` is due: the first instant at or after it that the callee
/// gate of partition `key` allows (a few steps at most: each verdict says when it next opens).
pub(crate) fn callback_due(
    safety: &CallSafety,
    campaign: &Campaign,
    key: &str,
    at: DateTime<Utc>,
) -> DateTime<Utc> {
    let mut due = at;
    for _ in 0..8 {
        match partition_verdict(safety, campaign, key, due) {
            PartitionVerdict::Held(_, until) if until > due => due = until,
            _ => return due,
        }
    }
    due
}

/// Why a contact cannot be called back, if it cannot: it was never called, or it is in a
/// status a callback does not reach, or its callbacks are used.
pub(crate) fn check_callback(
    status: ContactStatus,
    attempts: u32,
    used: u32,
    max_callbacks: u32,
) -> Result<(), StoreError> {
    let reachable = matches!(
        status,
        ContactStatus::Scheduled
            | ContactStatus::Completed
            | ContactStatus::Failed
            | ContactStatus::Unknown
    );
    if attempts == 0 || !reachable {
        return Err(DomainError::new(
            "contact_id",
            format!(
                "a contact that is {} and was called {attempts} times cannot be called back \
                 (only one called before, now waiting, completed, failed or unknown)",
                status.as_str()
            ),
        )
        .into());
    }
    if used >= max_callbacks {
        return Err(DomainError::new(
            "at",
            format!("the contact's callbacks are used ({used} of {max_callbacks})"),
        )
        .into());
    }
    Ok(())
}

/// When the contacts a claim held back for partition `key` are due again after an edit of
/// their campaign: when the new rules next open for them (now, if they are open or the
/// contacts are now to be skipped), and why they wait meanwhile.
pub(crate) fn held_until_after_edit(
    safety: &CallSafety,
    campaign: &Campaign,
    key: &str,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, Option<HeldReason>) {
    match partition_verdict(safety, campaign, key, now) {
        PartitionVerdict::Held(reason, until) => (until, Some(reason)),
        PartitionVerdict::Open(_) | PartitionVerdict::Skip(_) => (now, None),
    }
}

/// The callee gate of one claim, decided once per partition.
pub(crate) struct PartitionGate<'a> {
    safety: &'a CallSafety,
    now: DateTime<Utc>,
    decided: HashMap<u32, PartitionVerdict>,
}

impl<'a> PartitionGate<'a> {
    pub(crate) fn new(safety: &'a CallSafety, now: DateTime<Utc>) -> Self {
        Self {
            safety,
            now,
            decided: HashMap::new(),
        }
    }

    pub(crate) fn decide(
        &mut self,
        campaign: &Campaign,
        partition: u32,
        key: &str,
    ) -> PartitionVerdict {
        *self
            .decided
            .entry(partition)
            .or_insert_with(|| partition_verdict(self.safety, campaign, key, self.now))
    }
}

/// The contacts a claim put back, by reason.
#[derive(Debug, Default)]
pub(crate) struct PutBack {
    pub(crate) held: Vec<(HeldReason, u64)>,
    pub(crate) skipped: Vec<(SkipReason, u64)>,
}

/// The contacts a claim put back, counted by reason from their partitions' verdicts.
pub(crate) fn put_back_by_reason(
    counts: impl IntoIterator<Item = (PartitionVerdict, u64)>,
) -> PutBack {
    let mut held: Vec<(HeldReason, u64)> = Vec::new();
    let mut skipped: Vec<(SkipReason, u64)> = Vec::new();
    for (verdict, n) in counts {
        match verdict {
            PartitionVerdict::Open(_) => {}
            PartitionVerdict::Held(reason, _) => {
                match held.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, total)) => *total += n,
                    None => held.push((reason, n)),
                }
            }
            PartitionVerdict::Skip(reason) => {
                match skipped.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, total)) => *total += n,
                    None => skipped.push((reason, n)),
                }
            }
        }
    }
    PutBack { held, skipped }
}

/// What a change does to the campaign's waiting contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueChange {
    None,
    /// Draft contacts become scheduled.
    Schedule,
    /// Waiting contacts are cancelled.
    Cancel,
    /// Waiting contacts expire.
    Expire,
}

/// Whether `campaign` is due to expire at `now`: its `expires_at` has passed and it may still
/// call (a draft waits for its schedule, which expires it at its first claim).
pub(crate) fn expires_now(campaign: &Campaign, now: DateTime<Utc>) -> bool {
    campaign
        .spec
        .schedule
        .expires_at
        .is_some_and(|at| at <= now)
        && Command::Expire.allowed_from().contains(&campaign.status)
}

/// `→ completed` at the campaign's expiry: every waiting contact expires.
pub(crate) fn expire(
    campaign: &mut Campaign,
    now: DateTime<Utc>,
) -> Result<QueueChange, StoreError> {
    move_status(campaign, Command::Expire, now)?;
    Ok(QueueChange::Expire)
}

/// The instant a campaign's dispatcher next looks at it: `wake_at`, or its expiry if that is
/// sooner (a paused campaign, or one waiting for tomorrow's cap, still expires on time).
pub(crate) fn wake_or_expire(
    wake_at: Option<DateTime<Utc>>,
    campaign: &Campaign,
    status: CampaignStatus,
) -> Option<DateTime<Utc>> {
    let expiry = campaign
        .spec
        .schedule
        .expires_at
        .filter(|_| Command::Expire.allowed_from().contains(&status));
    match (wake_at, expiry) {
        (Some(wake), Some(expiry)) => Some(wake.min(expiry)),
        (wake, expiry) => wake.or(expiry),
    }
}

/// The campaign's queue depth after a step that left `n_fresh` contacts never called (see
/// [`super::QueueDepth`]); the window and the pace are read as the next claim would.
pub(crate) fn queue_depth(
    campaign: &Campaign,
    status: CampaignStatus,
    pacing: &PacingState,
    n_fresh: u64,
    now: DateTime<Utc>,
) -> super::QueueDepth {
    let claimable_now = status.is_dispatching()
        && campaign.starts_at.is_some_and(|start| {
            campaign
                .spec
                .schedule
                .next_claim_at(start, pacing, now, n_fresh > 0, None)
                .is_some_and(|at| at <= now)
        });
    super::QueueDepth {
        waiting: n_fresh,
        due: if claimable_now { n_fresh } else { 0 },
    }
}

/// Moves `campaign` by `command`, stamping the timestamps the move implies.
pub(crate) fn move_status(
    campaign: &mut Campaign,
    command: Command,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let next = transition(campaign.status, command)?;
    if next != campaign.status {
        match next {
            CampaignStatus::Paused => campaign.paused_at = Some(now),
            CampaignStatus::Completed | CampaignStatus::Cancelled => {
                campaign.completed_at = Some(now);
            }
            // Contacts put back in a completed campaign: it is not completed any more.
            CampaignStatus::Active => campaign.completed_at = None,
            _ => {}
        }
    }
    campaign.status = next;
    campaign.updated_at = now;
    Ok(())
}

/// Restarts the pacing from `max(now, start)`: due times are projections of queue positions,
/// so no contact is rewritten.
fn restart_pacing(campaign: &Campaign, pacing: &mut PacingState, now: DateTime<Utc>) {
    if let Some(start) = campaign.starts_at {
        pacing.restart(&campaign.spec.schedule, now.max(start));
    }
}

/// `draft → scheduled` with the schedule body applied.
pub(crate) fn schedule(
    campaign: &mut Campaign,
    pacing: &mut PacingState,
    patch: &SchedulePatch,
    now: DateTime<Utc>,
) -> Result<QueueChange, StoreError> {
    transition(campaign.status, Command::Schedule)?;
    let schedule = campaign.spec.schedule.apply(patch)?;
    if campaign.counters.total == 0 {
        return Err(DomainError::new(
            "contacts",
            "a campaign needs at least one contact to be scheduled",
        )
        .into());
    }
    campaign.starts_at = Some(match schedule.start {
        StartRule::At(instant) => instant,
        StartRule::Immediate => now,
    });
    campaign.spec.schedule = schedule;
    move_status(campaign, Command::Schedule, now)?;
    restart_pacing(campaign, pacing, now);
    Ok(QueueChange::Schedule)
}

/// Pause, resume (back to `scheduled` when the start is ahead) or cancel.
pub(crate) fn control(
    campaign: &mut Campaign,
    pacing: &mut PacingState,
    control: Control,
    now: DateTime<Utc>,
) -> Result<QueueChange, StoreError> {
    match control {
        Control::Pause => move_status(campaign, Command::Pause, now)?,
        Control::Resume => {
            let start_ahead = campaign.starts_at.is_some_and(|start| start > now);
            let start = if start_ahead {
                StartIs::Ahead
            } else {
                StartIs::Reached
            };
            move_status(campaign, Command::Resume(start), now)?;
            campaign.resumed_at = Some(now);
            restart_pacing(campaign, pacing, now);
        }
        Control::Cancel => {
            move_status(campaign, Command::Cancel, now)?;
            return Ok(QueueChange::Cancel);
        }
    }
    Ok(QueueChange::None)
}

/// Applies an edit; a scheduling change moves the start and restarts the pacing, and an active
/// campaign whose start moved into the future waits again.
pub(crate) fn edit(
    campaign: &mut Campaign,
    pacing: &mut PacingState,
    edit: CampaignEdit,
    now: DateTime<Utc>,
) -> Result<QueueChange, StoreError> {
    transition(campaign.status, Command::Edit)?;
    let schedule = campaign.spec.schedule.apply(&edit.schedule)?;
    let spec = &mut campaign.spec;
    let rescheduled = schedule != spec.schedule;
    spec.schedule = schedule;
    if let Some(name) = edit.name {
        spec.name = name;
    }
    if let Some(agent_id) = edit.agent_id {
        spec.agent_id = agent_id;
    }
    if let Some(ids) = edit.phone_number_ids {
        spec.phone_number_ids = ids;
    }
    if let Some(rotation) = edit.rotation {
        spec.rotation = rotation;
    }
    campaign.updated_at = now;
    if let (true, Some(start)) = (rescheduled, campaign.starts_at) {
        let start = match campaign.spec.schedule.start {
            StartRule::At(instant) => instant,
            StartRule::Immediate => start.min(now),
        };
        campaign.starts_at = Some(start);
        if start > now && campaign.status == CampaignStatus::Active {
            move_status(campaign, Command::Postpone, now)?;
        }
        restart_pacing(campaign, pacing, now);
    }
    Ok(QueueChange::None)
}

/// The id of contact number `sequence` of a campaign: derived, so that no index maps ids to
/// contacts (the campaign's first twelve bytes, then the sequence).
pub(crate) fn contact_id(campaign: CampaignId, sequence: u32) -> ContactId {
    let mut bytes = campaign.as_uuid().into_bytes();
    bytes[12..].copy_from_slice(&sequence.to_be_bytes());
    ContactId::from_uuid(uuid::Uuid::new_v8(bytes))
}

/// The sequence of a contact id of `campaign`, or `None` for an id of another campaign.
pub(crate) fn contact_sequence(campaign: CampaignId, contact: ContactId) -> Option<u32> {
    let bytes = contact.as_uuid().into_bytes();
    let sequence = u32::from_be_bytes(bytes[12..].try_into().expect("four bytes"));
    (contact_id(campaign, sequence) == contact).then_some(sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_ids_round_trip_and_belong_to_their_campaign() {
        let campaign = CampaignId::random();
        for sequence in [0, 1, 65_535, 4_000_000_000] {
            let id = contact_id(campaign, sequence);
            assert_eq!(contact_sequence(campaign, id), Some(sequence));
            assert_eq!(contact_sequence(CampaignId::random(), id), None);
        }
    }
}
