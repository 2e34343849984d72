//! "Why isn't it calling?": what holds a campaign back right now (`GET …/diagnostics`), and why
//! each waiting contact waits (`held_reason` and `next_eligible_at` on the contact).

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Org;
use super::campaigns::campaign_id;
use super::envelope::{self, ok};
use super::{ApiError, AppState};
use crate::domain::{
    CallSafety, CampaignStatus, ContactStatus, HeldReason, PacingState, Verdict, local_date,
    parse_partition_key, partition_key,
};
use crate::store::{Campaign, Contact, Page};

/// Waiting contacts a diagnosis or a `held_reason` filter reads at most (the first ones in
/// insertion order): a bound on the work of one request whatever the campaign's size.
pub(super) const MAX_SCANNED: u64 = 10_000;

/// Why a waiting contact waits, and until when (`None`: until a command or an outcome).
pub(super) fn why_waiting(
    contact: &Contact,
    campaign: &Campaign,
    safety: &CallSafety,
    now: DateTime<Utc>,
) -> Option<(HeldReason, Option<DateTime<Utc>>)> {
    if !matches!(
        contact.status,
        ContactStatus::Scheduled | ContactStatus::Pending
    ) {
        return None;
    }
    match campaign.status {
        CampaignStatus::Paused => return Some((HeldReason::Paused, None)),
        CampaignStatus::Draft => return Some((HeldReason::NotStarted, None)),
        _ => {}
    }
    if let Some(start) = campaign.starts_at.filter(|start| *start > now) {
        return Some((HeldReason::NotStarted, Some(start)));
    }
    // Put back by a claim until its rules open (once that instant passes, it is due again).
    if let Some(reason) = contact.held_reason
        && contact.scheduled_at.is_some_and(|until| until > now)
    {
        return Some((reason, contact.scheduled_at));
    }
    if let Some(held) = campaign_gate(campaign, now) {
        return Some(held);
    }
    let key = partition_key(contact.details.timezone, &contact.details.phone);
    match safety.verdict(&campaign.spec.schedule, campaign.org.as_str(), &key, now) {
        Verdict::Held { reason, until } => Some((reason, until)),
        Verdict::Open { .. } => None,
    }
}

/// The campaign's own window and days, read in its timezone: closed now, why and until when.
fn campaign_gate(
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Option<(HeldReason, Option<DateTime<Utc>>)> {
    let schedule = &campaign.spec.schedule;
    if schedule.is_open_at(now) {
        return None;
    }
    let today = local_date(schedule.timezone, now);
    let reason = if !schedule.windows_on(today.weekday()).is_empty() {
        HeldReason::Window
    } else {
        HeldReason::WorkingDay
    };
    let opens = schedule.slot_at_or_after(&PacingState::default(), now);
    Some((reason, Some(opens)))
}

/// One rule that holds the campaign back now.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockedBy {
    /// A held reason: `paused`, `not_started`, `window`, `working_day`, `daily_cap`,
    /// `concurrency`, `legal_hours`, `holiday`, `quiet_hours`.
    rule: &'static str,
    detail: String,
    /// When the rule next lets calls through; null when a command or an outcome must.
    until: Option<String>,
}

/// What holds a campaign back right now.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiagnosticsView {
    status: &'static str,
    /// A call could start now for at least one waiting contact.
    calling_now: bool,
    /// The earliest instant a rule lets a waiting contact through (null: none waits, or only a
    /// command can).
    next_call_at: Option<String>,
    blocked_by: Vec<BlockedBy>,
    in_flight: u64,
    concurrency_limit: u32,
    /// Calls ended on the campaign's local date, and those in flight.
    calls_today: u64,
    max_calls_per_day: Option<u32>,
    /// Waiting contacts by why they wait (the first 10 000 waiting contacts are read).
    held_by_reason: BTreeMap<&'static str, u64>,
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The waiting contacts of a campaign, the first [`MAX_SCANNED`] of them.
pub(super) async fn waiting_contacts(
    state: &AppState,
    campaign: &Campaign,
) -> Result<Vec<Contact>, ApiError> {
    let status = if campaign.status == CampaignStatus::Draft {
        ContactStatus::Pending
    } else {
        ContactStatus::Scheduled
    };
    contacts_of(state, campaign, status).await
}

/// The contacts of a campaign in `status`, the first [`MAX_SCANNED`] of them.
pub(super) async fn contacts_of(
    state: &AppState,
    campaign: &Campaign,
    status: ContactStatus,
) -> Result<Vec<Contact>, ApiError> {
    let mut contacts = Vec::new();
    let mut offset = 0;
    while offset < MAX_SCANNED {
        let page = Page { limit: 100, offset };
        let listing = state
            .store
            .contacts(
                &campaign.org,
                campaign.id,
                Some(status),
                page,
                state.clock.now(),
            )
            .await?;
        let n_read = listing.items.len() as u64;
        contacts.extend(listing.items);
        offset += 100;
        if n_read < 100 || offset >= listing.total {
            break;
        }
    }
    Ok(contacts)
}

/// The calls of the campaign's local day so far: those ended (by the hour they ended in) and
/// those in flight.
pub(super) fn calls_today(
    stats: &crate::store::CallStats,
    schedule: &crate::domain::Schedule,
    in_flight: u64,
    now: DateTime<Utc>,
) -> u64 {
    let today = local_date(schedule.timezone, now);
    let ended_today: u64 = stats
        .by_hour
        .iter()
        .filter(|(hour, _)| {
            DateTime::from_timestamp(**hour * 3600, 0)
                .is_some_and(|start| local_date(schedule.timezone, start) == today)
        })
        .map(|(_, n)| n)
        .sum();
    ended_today + in_flight
}

/// What holds the campaign back right now: its status, its own window, its limits, and the
/// rules of the callee's time (the legal floor, quiet hours) for each group of its contacts.
#[utoipa::path(get, path = "/api/public/v1/batch-calls/{id}/diagnostics", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")),
    responses((status = 200, body = envelope::Data<DiagnosticsView>)))]
pub(super) async fn diagnostics(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let campaign = state.store.campaign(&org, id).await?;
    let stats = state.store.call_stats(&org, id).await?;
    let now = state.clock.now();
    let schedule = &campaign.spec.schedule;
    let in_flight = campaign.counters.of(ContactStatus::InProgress);
    let calls_today = calls_today(&stats, schedule, in_flight, now);
    let waiting = waiting_contacts(&state, &campaign).await?;
    let mut held_by_reason: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut blocked_by = Vec::new();
    let mut next_call_at: Option<DateTime<Utc>> = None;
    let mut calling_now = false;
    // Each group of contacts that share every callee rule is described once.
    let mut described = BTreeSet::new();
    for contact in &waiting {
        let held = why_waiting(contact, &campaign, &state.safety, now);
        match held {
            Some((reason, until)) => {
                *held_by_reason.entry(reason.as_str()).or_default() += 1;
                if let Some(until) = until {
                    next_call_at = Some(next_call_at.map_or(until, |next| next.min(until)));
                }
                let key = partition_key(contact.details.timezone, &contact.details.phone);
                if described.insert(format!("{}|{key}", reason.as_str())) {
                    blocked_by.push(BlockedBy {
                        rule: reason.as_str(),
                        detail: describe(reason, &key, &campaign),
                        until: until.map(rfc3339),
                    });
                }
            }
            None => calling_now = true,
        }
    }
    if in_flight >= u64::from(schedule.max_concurrent_calls) && !waiting.is_empty() {
        calling_now = false;
        blocked_by.push(BlockedBy {
            rule: HeldReason::Concurrency.as_str(),
            detail: format!(
                "{in_flight} calls in flight, the limit is {}",
                schedule.max_concurrent_calls
            ),
            until: None,
        });
    }
    if let Some(cap) = schedule
        .max_calls_per_day
        .filter(|cap| calls_today >= u64::from(*cap))
    {
        calling_now = false;
        blocked_by.push(BlockedBy {
            rule: HeldReason::DailyCap.as_str(),
            detail: format!("{calls_today} calls today, the cap is {cap}"),
            until: None,
        });
    }
    if calling_now {
        next_call_at = Some(now);
    }
    Ok(ok(DiagnosticsView {
        status: campaign.status.as_str(),
        calling_now,
        next_call_at: next_call_at.map(rfc3339),
        blocked_by,
        in_flight,
        concurrency_limit: schedule.max_concurrent_calls,
        calls_today,
        max_calls_per_day: schedule.max_calls_per_day,
        held_by_reason,
    }))
}

/// A rule's detail for a group of contacts: its zones and region.
fn describe(reason: HeldReason, key: &str, campaign: &Campaign) -> String {
    let (zones, region) = parse_partition_key(key);
    let zones: Vec<&str> = if zones.is_empty() {
        vec![campaign.spec.schedule.timezone.name()]
    } else {
        zones.iter().map(|zone| zone.name()).collect()
    };
    let place = match region {
        Some(region) => format!("{region} ({})", zones.join(", ")),
        None => zones.join(", "),
    };
    match reason {
        HeldReason::LegalHours => format!("outside the legal calling hours of {place}"),
        HeldReason::Holiday => format!("a public holiday in {place}"),
        HeldReason::QuietHours => format!("the organisation's quiet hours in {place}"),
        HeldReason::Window => format!("outside the campaign's window, read in {place}"),
        HeldReason::WorkingDay => format!("not a working day of the campaign in {place}"),
        HeldReason::Paused => "the campaign is paused".to_owned(),
        HeldReason::NotStarted => "the campaign's start has not come".to_owned(),
        other => other.as_str().replace('_', " "),
    }
}
