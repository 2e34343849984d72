//! `GET /batch-calls/{id}/forecast`: when a campaign can finish under its current rules and the
//! outcomes seen so far, how many contacts its expiry would leave, and what limits it; and the
//! same forecast refusing, with `strict_expiry`, a plan that cannot finish in time.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Org;
use super::campaigns::campaign_id;
use super::diagnostics::calls_today;
use super::envelope::{self, ok};
use super::{ApiError, AppState};
use crate::domain::{
    CampaignId, CampaignSpec, ContactStatus, DialOutcome, DomainError, Forecast, OrgId,
    PacingState, Schedule, SchedulePatch, StartRule, Workload, local_date, retries_per_contact,
};
use crate::store::{CallStats, Campaign, NewContact};

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/batch-calls/{id}/forecast", web::get().to(forecast));
}

/// The mean call's length assumed before any call ended, in seconds.
const ASSUMED_CALL_SECS: f64 = 60.0;

/// A campaign's forecast.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastView {
    /// RFC 3339; `null` when nothing is left to call.
    estimated_completion_at: Option<String>,
    /// Contacts that would still wait at `expires_at` (0 without one).
    contacts_at_risk: u64,
    /// `daily_cap`, `window`, `concurrency` or `carrier_rate`; `null` when nothing waits.
    limiting_factor: Option<&'static str>,
    /// Contacts not final and not in progress.
    waiting: u64,
    /// Further attempts expected per waiting contact, from the outcomes seen and the retry
    /// policy.
    retries_per_contact: f64,
}

/// What a forecast of `campaign` under `schedule` starts from: `waiting` contacts, and the
/// retries and call length the calls seen so far (`stats`) imply.
fn workload(state: &AppState, schedule: &Schedule, stats: &CallStats, waiting: u64) -> Workload {
    let calls = stats.calls();
    let retryable: u64 = [
        DialOutcome::NoAnswer,
        DialOutcome::Busy,
        DialOutcome::Failed,
    ]
    .into_iter()
    .map(|outcome| stats.of(outcome))
    .sum();
    let (share, mean_call_secs) = if calls == 0 {
        (0.0, ASSUMED_CALL_SECS)
    } else {
        (
            retryable as f64 / calls as f64,
            stats.total_duration_secs as f64 / calls as f64,
        )
    };
    Workload {
        waiting,
        retries_per_contact: retries_per_contact(
            schedule.retry.enabled,
            schedule.retry.max_retries,
            share,
        ),
        mean_call_secs,
        carrier_cps: state.carrier_cps,
    }
}

/// The forecast of `campaign` under `schedule` (its own, or one an edit would give it) for
/// `work`; `None` when nothing waits.
fn forecast_of(
    campaign: &Campaign,
    schedule: &Schedule,
    stats: &CallStats,
    work: &Workload,
    now: DateTime<Utc>,
) -> Option<Forecast> {
    if work.waiting == 0 {
        return None;
    }
    let start = campaign
        .starts_at
        .or(match schedule.start {
            StartRule::At(at) => Some(at),
            StartRule::Immediate => None,
        })
        .unwrap_or(now);
    let in_flight = campaign.counters.of(ContactStatus::InProgress);
    let pacing = PacingState {
        day: Some(local_date(schedule.timezone, now)),
        used: calls_today(stats, schedule, in_flight, now) as u32,
        next_slot_at: None,
    };
    Some(schedule.forecast(start, &pacing, now, work))
}

/// With `strict_expiry`, refuses a plan that cannot finish before `expires_at` (422 with the
/// earliest expiry that fits); an expiry `sent` in this request must be in the future.
fn check_expiry(
    state: &AppState,
    campaign: &Campaign,
    schedule: &Schedule,
    stats: &CallStats,
    sent: bool,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(expires_at) = schedule.expires_at else {
        return Ok(());
    };
    if sent && expires_at <= now {
        return Err(DomainError::new("expires_at", "must be in the future").into());
    }
    if !schedule.strict_expiry {
        return Ok(());
    }
    let work = workload(state, schedule, stats, campaign.counters.pending());
    match forecast_of(campaign, schedule, stats, &work, now) {
        Some(forecast) if forecast.completion_at > expires_at => Err(ApiError::ExpiryTooSoon {
            minimum: forecast.completion_at,
        }),
        _ => Ok(()),
    }
}

/// [`check_expiry`] of a new campaign of `spec` with `contacts`.
pub(super) fn check_new(
    state: &AppState,
    org: &OrgId,
    spec: &CampaignSpec,
    contacts: &[NewContact],
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let mut draft = Campaign::draft(CampaignId::random(), org.clone(), spec.clone(), now);
    let waiting = contacts.iter().filter(|contact| !contact.listed).count() as u64;
    for _ in 0..waiting {
        draft.counters.add(ContactStatus::Pending);
    }
    let stats = CallStats::default();
    check_expiry(state, &draft, &spec.schedule, &stats, true, now)
}

/// [`check_expiry`] of campaign `id` with `patch` applied to its schedule, for an edit or,
/// when `scheduling`, its schedule command (a field the patch gets wrong is left for the
/// command itself to refuse).
pub(super) async fn check_patch(
    state: &AppState,
    org: &OrgId,
    id: CampaignId,
    patch: &SchedulePatch,
    scheduling: bool,
) -> Result<(), ApiError> {
    if patch.is_empty() && !scheduling {
        return Ok(());
    }
    let campaign = state.store.campaign(org, id).await?;
    let Ok(schedule) = campaign.spec.schedule.apply(patch) else {
        return Ok(());
    };
    let sent = patch.expires_at.is_some();
    if schedule.expires_at.is_none() || !(sent || schedule.strict_expiry) {
        return Ok(());
    }
    let stats = state.store.call_stats(org, id).await?;
    check_expiry(state, &campaign, &schedule, &stats, sent, state.clock.now())
}

/// When the campaign can finish under its current rules (window, daily cap, concurrency, the
/// carrier's rate) and the outcome mix seen so far (the share of calls that end in a retryable
/// outcome, the mean call length; before any call, no retry and a minute a call), and how many
/// contacts would still wait at its `expires_at`.
#[utoipa::path(get, path = "/api/public/v1/batch-calls/{id}/forecast", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")),
    responses((status = 200, body = envelope::Data<ForecastView>)))]
async fn forecast(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let campaign = state.store.campaign(&org, id).await?;
    let stats = state.store.call_stats(&org, id).await?;
    let now = state.clock.now();
    let schedule = &campaign.spec.schedule;
    let waiting = if campaign.status.is_terminal() {
        0
    } else {
        campaign.counters.pending()
    };
    let work = workload(&state, schedule, &stats, waiting);
    let forecast = forecast_of(&campaign, schedule, &stats, &work, now);
    Ok(ok(ForecastView {
        estimated_completion_at: forecast.map(|forecast| {
            forecast
                .completion_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }),
        contacts_at_risk: forecast.map_or(0, |forecast| forecast.contacts_at_risk),
        limiting_factor: forecast.map(|forecast| forecast.limiting_factor.as_str()),
        waiting,
        retries_per_contact: work.retries_per_contact,
    }))
}
