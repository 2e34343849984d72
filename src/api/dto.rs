//! Wire types: what clients send and receive. They are converted to domain types here, once,
//! at the edge; nothing past the handlers sees JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::json::from_value;
use crate::domain::{
    CampaignSpec, DailyHours, DialOutcome, DomainError, HeldReason, PhoneNumber, PhoneRotation,
    Schedule, SchedulePatch, SkipReason, StartRule, caller_ids, checked_text, contact_zones,
    is_printable, required_text,
};
use crate::store::{
    AddedContacts, CallStats, Campaign, CampaignEdit, Contact, Counters, NewContact,
};

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A field that may be absent but never `null`: a `null` would read as "unchanged" on a PATCH,
/// and an operator would believe a value was set.
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom("must not be null")),
    }
}

/// The body of `POST /batch-calls` and of `PATCH /batch-calls/{id}`: every field optional here,
/// the required ones are checked on create.
///
/// The schema documents the contract (API.md); the handler checks every rule itself and names
/// the field of the first violation (422). An unknown field is 422, and so is a `null` for a
/// field that cannot be null: either would otherwise change nothing while the client believes
/// it did.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    /// 1–255 characters; required on create.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 255,
        example = "November renewals"
    )]
    pub name: Option<String>,
    /// Opaque, passed to the dialer; required on create.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 255,
        example = "agent_1"
    )]
    pub agent_id: Option<String>,
    /// Caller ids, passed to the dialer: at most 100, each 1–255 characters.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, max_items = 100)]
    pub phone_number_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, value_type = Option<PhoneRotationName>)]
    pub phone_rotation_strategy: Option<String>,
    /// Inline contacts (create only; on PATCH use `POST …/contacts`).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, value_type = Option<Vec<ContactInput>>)]
    pub contacts: Option<Vec<Value>>,
    // The scheduling fields. They are not a flattened struct: serde's `flatten` would hide the
    // field name from the error of a mistyped value (and cannot deny unknown fields).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, value_type = Option<ScheduleTypeName>)]
    pub schedule_type: Option<String>,
    /// RFC 3339, from 1970 to 9999; required when `schedule_type` is `scheduled`; without an
    /// offset it is read in `timezone`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, example = "2026-12-01T09:00:00Z")]
    pub scheduled_at: Option<String>,
    /// IANA name, default `UTC`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, example = "America/New_York")]
    pub timezone: Option<String>,
    /// `HH:MM` in `timezone`; null or absent: the whole day.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "09:00")]
    pub start_time: Option<Option<String>>,
    /// `HH:MM`, after `start_time`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "17:00")]
    pub end_time: Option<Option<String>>,
    /// ISO days, 1 = Monday; default Monday to Friday.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, value_type = Option<Vec<u8>>, min_items = 1, max_items = 7, example = json!([1, 2, 3, 4, 5]))]
    pub working_days: Option<Vec<i64>>,
    /// 1–100, default 10 (alias `concurrency`).
    #[serde(alias = "concurrency", default, deserialize_with = "not_null")]
    #[schema(nullable = false, minimum = 1, maximum = 100)]
    pub max_concurrent_calls: Option<i64>,
    /// 1–1 000 000, or null for no daily cap.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, nullable, minimum = 1, maximum = 1_000_000)]
    pub max_calls_per_day: Option<Option<i64>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub retry_failed: Option<bool>,
    /// 0–3 (alias `retry_attempts`).
    #[serde(alias = "retry_attempts", default, deserialize_with = "not_null")]
    #[schema(nullable = false, minimum = 0, maximum = 3)]
    pub max_retry_attempts: Option<i64>,
    /// 1–10 080 (a week), default 30.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, minimum = 1, maximum = 10_080)]
    pub retry_delay_minutes: Option<i64>,
    /// Several windows a day, replacing `start_time`, `end_time` and `working_days` (not sent
    /// with them): 1–14 entries, windows of one day may not overlap; a daily cap is spread
    /// evenly over the union of the day's windows.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, min_items = 1, max_items = 14)]
    pub calling_windows: Option<Vec<WindowInput>>,
    /// `campaign` (default): the window is read in `timezone`; `contact`: in each contact's
    /// own zone. The legal floor reads the callee's time either way.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, value_type = Option<TimezoneModeName>)]
    pub timezone_mode: Option<String>,
    /// `campaign` (default): a contact whose zone its number does not give is called in the
    /// campaign's timezone; `skip`: it ends `skipped` (`timezone_unresolvable`).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, value_type = Option<TimezoneFallbackName>)]
    pub timezone_fallback: Option<String>,
    /// At most 4 caps on attempts to one number across the organisation's campaigns, on top
    /// of the operator's and the number's region's (a campaign can only add caps); replaces the
    /// campaign's caps.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, max_items = 4)]
    pub frequency_caps: Option<Vec<CapInput>>,
    /// RFC 3339, in the future, or null for none: at that instant every contact not final
    /// becomes `expired` and the campaign `completed`; no call starts after it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub expires_at: Option<Option<String>>,
    /// Refuse (422, with `details.minimum_expires_at`) a plan that cannot finish before
    /// `expires_at`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub strict_expiry: Option<bool>,
    /// Callbacks each contact may get, 0–5, default 2.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, minimum = 0, maximum = 5)]
    pub max_callbacks: Option<i64>,
}

/// One frequency cap: at most `max_calls` placed attempts to one number in any `window_hours`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapInput {
    /// 1–100.
    #[schema(minimum = 1, maximum = 100, example = 3)]
    pub max_calls: i64,
    /// 1–8 784 (a leap year).
    #[schema(minimum = 1, maximum = 8784, example = 24)]
    pub window_hours: i64,
}

/// One entry of `calling_windows`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    /// ISO days, 1 = Monday.
    #[schema(min_items = 1, max_items = 7, example = json!([1, 2, 3, 4, 5]))]
    pub days: Vec<i64>,
    /// `HH:MM`.
    #[schema(example = "10:00")]
    pub start_time: String,
    /// `HH:MM` after `start_time`; `24:00` for midnight.
    #[schema(example = "13:00")]
    pub end_time: String,
}

/// `timezone_mode` values.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a schema only: the handler parses the text itself"
)]
pub enum TimezoneModeName {
    #[schema(rename = "campaign")]
    Campaign,
    #[schema(rename = "contact")]
    Contact,
}

/// `timezone_fallback` values.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a schema only: the handler parses the text itself"
)]
pub enum TimezoneFallbackName {
    #[schema(rename = "campaign")]
    Campaign,
    #[schema(rename = "skip")]
    Skip,
}

impl CampaignInput {
    /// Moves the scheduling fields out, leaving the definition fields.
    fn take_schedule(&mut self) -> SchedulePatch {
        SchedulePatch {
            schedule_type: self.schedule_type.take(),
            scheduled_at: self.scheduled_at.take(),
            timezone: self.timezone.take(),
            start_time: self.start_time.take(),
            end_time: self.end_time.take(),
            working_days: self.working_days.take(),
            max_concurrent_calls: self.max_concurrent_calls.take(),
            max_calls_per_day: self.max_calls_per_day.take(),
            retry_failed: self.retry_failed.take(),
            max_retry_attempts: self.max_retry_attempts.take(),
            retry_delay_minutes: self.retry_delay_minutes.take(),
            timezone_mode: self.timezone_mode.take(),
            timezone_fallback: self.timezone_fallback.take(),
            calling_windows: self.calling_windows.take().map(|windows| {
                windows
                    .into_iter()
                    .map(|window| (window.days, window.start_time, window.end_time))
                    .collect()
            }),
            frequency_caps: self.frequency_caps.take().map(|caps| {
                caps.into_iter()
                    .map(|cap| (cap.max_calls, cap.window_hours))
                    .collect()
            }),
            expires_at: self.expires_at.take(),
            strict_expiry: self.strict_expiry.take(),
            max_callbacks: self.max_callbacks.take(),
        }
    }
}

/// The body of `POST …/schedule`: only when and where (both optional, neither null).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// RFC 3339, from 1970 to 9999; overrides the campaign's planned start.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub scheduled_at: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub timezone: Option<String>,
}

/// `phone_rotation_strategy` values.
#[derive(ToSchema)]
#[schema(as = PhoneRotationName)]
#[allow(
    dead_code,
    reason = "a schema only: the handler parses the text itself"
)]
pub enum PhoneRotationName {
    #[schema(rename = "random")]
    Random,
    #[schema(rename = "sequential")]
    Sequential,
    #[schema(rename = "round_robin")]
    RoundRobin,
}

/// `schedule_type` values.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a schema only: the handler parses the text itself"
)]
pub enum ScheduleTypeName {
    #[schema(rename = "immediate")]
    Immediate,
    #[schema(rename = "scheduled")]
    Scheduled,
}

impl From<ScheduleBody> for SchedulePatch {
    fn from(body: ScheduleBody) -> Self {
        Self {
            scheduled_at: body.scheduled_at,
            timezone: body.timezone,
            ..Self::default()
        }
    }
}

/// One contact of a request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// E.164.
    #[schema(pattern = "^\\+[1-9][0-9]{1,14}$", example = "+15550001234")]
    pub(super) phone_number: String,
    /// At most 255 characters.
    #[schema(max_length = 255)]
    pub(super) first_name: Option<String>,
    /// At most 255 characters.
    #[schema(max_length = 255)]
    pub(super) last_name: Option<String>,
    /// At most 320 characters.
    #[schema(max_length = 320)]
    pub(super) email: Option<String>,
    /// At most 50 fields; names 1–64 characters, values at most 1 000.
    #[serde(default)]
    pub(super) custom_fields: BTreeMap<String, String>,
    /// IANA name (reserved for per-contact calling windows).
    pub(super) timezone: Option<String>,
}

/// Most custom fields on one contact.
const MAX_CUSTOM_FIELDS: usize = 50;

/// Checks an optional free-text field of a contact.
fn optional_text(
    parent: &str,
    field: &str,
    text: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, DomainError> {
    if let Some(text) = &text {
        checked_text(&format!("{parent}.{field}"), text, 0, max_chars)?;
    }
    Ok(text)
}

/// One contact row, its errors named under `contacts[index]`.
pub fn contact(index: usize, row: Value) -> Result<NewContact, DomainError> {
    let parent = format!("contacts[{index}]");
    let input: ContactInput = from_value(row).map_err(|error| {
        if error.field == "body" {
            DomainError::new(&parent, error.message)
        } else {
            error.within(&parent)
        }
    })?;
    let phone = PhoneNumber::parse(&input.phone_number).map_err(|error| error.within(&parent))?;
    checked_contact(&parent, phone, input)
}

/// Checks the fields of a contact besides its number (already read), naming `parent` in errors.
pub(super) fn checked_contact(
    parent: &str,
    phone: PhoneNumber,
    input: ContactInput,
) -> Result<NewContact, DomainError> {
    let first_name = optional_text(parent, "first_name", input.first_name, 255)?;
    let last_name = optional_text(parent, "last_name", input.last_name, 255)?;
    let email = optional_text(parent, "email", input.email, 320)?;
    if input.custom_fields.len() > MAX_CUSTOM_FIELDS {
        return Err(DomainError::new(
            format!("{parent}.custom_fields"),
            format!("at most {MAX_CUSTOM_FIELDS} fields"),
        ));
    }
    for (name, value) in &input.custom_fields {
        let field = format!("{parent}.custom_fields.{}", name.escape_debug());
        checked_text(&field, name, 1, 64)?;
        checked_text(&field, value, 0, 1_000)?;
    }
    let timezone = input
        .timezone
        .map(|name| {
            name.parse().map_err(|_| {
                DomainError::new(
                    format!("{parent}.timezone"),
                    format!("`{name}` is not an IANA timezone"),
                )
            })
        })
        .transpose()?;
    Ok(NewContact {
        phone,
        first_name,
        last_name,
        email,
        custom_fields: input.custom_fields,
        timezone,
        listed: false,
    })
}

fn rotation(text: Option<&str>) -> Result<Option<PhoneRotation>, DomainError> {
    text.map(PhoneRotation::parse).transpose()
}

impl CampaignInput {
    /// A new campaign: its definition and its contacts, or the first invalid field.
    pub fn into_new(mut self) -> Result<(CampaignSpec, Vec<NewContact>), DomainError> {
        let schedule = Schedule::default().apply(&self.take_schedule())?;
        let name = self
            .name
            .ok_or_else(|| DomainError::new("name", "is required"))?;
        let agent_id = self
            .agent_id
            .ok_or_else(|| DomainError::new("agent_id", "is required"))?;
        let spec = CampaignSpec {
            name: required_text("name", &name, 255)?,
            agent_id: required_text("agent_id", &agent_id, 255)?,
            phone_number_ids: caller_ids(self.phone_number_ids.unwrap_or_default())?,
            rotation: rotation(self.phone_rotation_strategy.as_deref())?.unwrap_or_default(),
            schedule,
        };
        let contacts = self
            .contacts
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(index, row)| contact(index, row))
            .collect::<Result<_, _>>()?;
        Ok((spec, contacts))
    }

    /// An edit of an existing campaign; the schedule is checked against the current one by
    /// the store, in the same step that applies it.
    pub fn into_edit(mut self) -> Result<CampaignEdit, DomainError> {
        let schedule = self.take_schedule();
        if self.contacts.is_some() {
            return Err(DomainError::new(
                "contacts",
                "add contacts with POST /batch-calls/{id}/contacts",
            ));
        }
        Ok(CampaignEdit {
            name: self
                .name
                .map(|name| required_text("name", &name, 255))
                .transpose()?,
            agent_id: self
                .agent_id
                .map(|agent| required_text("agent_id", &agent, 255))
                .transpose()?,
            phone_number_ids: self.phone_number_ids.map(caller_ids).transpose()?,
            rotation: rotation(self.phone_rotation_strategy.as_deref())?,
            schedule,
        })
    }
}

/// The body of `POST …/contacts`: invalid and duplicate rows are skipped and listed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsInput {
    #[schema(value_type = Vec<ContactInput>)]
    pub contacts: Vec<Value>,
}

/// The body of `POST /batch-calls/bulk-delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDeleteInput {
    /// At most 100 (alias `batch_call_ids`).
    #[serde(alias = "batch_call_ids")]
    #[schema(max_items = 100)]
    pub ids: Vec<String>,
}

/// The answer of `DELETE /batch-calls/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedView {
    pub id: String,
    pub deleted: bool,
}

/// The answer of `POST /batch-calls/bulk-delete`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDeletedView {
    pub deleted_count: usize,
    pub failed_count: usize,
    pub deleted_ids: Vec<String>,
    /// Unknown, not deletable in their status, or of another organisation.
    pub failed_ids: Vec<String>,
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An instant to show, or `null` outside the range RFC 3339 can show (a projection of a queue
/// position thousands of years ahead: never `+10000-…`).
fn opt_rfc3339(instant: Option<DateTime<Utc>>) -> Option<String> {
    instant
        .filter(|&instant| is_printable(instant))
        .map(rfc3339)
}

/// A campaign on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    id: String,
    name: String,
    agent_id: String,
    phone_number_ids: Vec<String>,
    phone_rotation_strategy: &'static str,
    status: &'static str,
    schedule_type: &'static str,
    scheduled_at: Option<String>,
    timezone: String,
    start_time: Option<String>,
    end_time: Option<String>,
    working_days: Vec<u8>,
    /// The windows of each day: the `calling_windows` given, or the window on the working days.
    calling_windows: Vec<WindowInput>,
    max_concurrent_calls: u32,
    concurrency: u32,
    max_calls_per_day: Option<u32>,
    retry_failed: bool,
    max_retry_attempts: u32,
    retry_attempts: u32,
    retry_delay_minutes: u32,
    timezone_mode: &'static str,
    timezone_fallback: &'static str,
    /// The campaign's own caps (the operator's and the regions' apply too).
    frequency_caps: Vec<CapInput>,
    expires_at: Option<String>,
    strict_expiry: bool,
    max_callbacks: u32,
    total_contacts: u64,
    #[serde(flatten)]
    counts: StatusCounts,
    created_at: String,
    updated_at: String,
    paused_at: Option<String>,
    resumed_at: Option<String>,
    completed_at: Option<String>,
}

impl From<&Campaign> for CampaignView {
    fn from(campaign: &Campaign) -> Self {
        let schedule = &campaign.spec.schedule;
        let counters = &campaign.counters;
        let (schedule_type, planned_start) = match schedule.start {
            StartRule::Immediate => ("immediate", None),
            StartRule::At(instant) => ("scheduled", Some(instant)),
        };
        Self {
            id: campaign.id.to_string(),
            name: campaign.spec.name.clone(),
            agent_id: campaign.spec.agent_id.clone(),
            phone_number_ids: campaign.spec.phone_number_ids.clone(),
            phone_rotation_strategy: campaign.spec.rotation.as_str(),
            status: campaign.status.as_str(),
            schedule_type,
            scheduled_at: opt_rfc3339(campaign.starts_at.or(planned_start)),
            timezone: schedule.timezone.name().to_owned(),
            start_time: schedule.window.start().map(|time| time.to_string()),
            end_time: schedule.window.end().map(|time| time.to_string()),
            working_days: schedule.working_days.iso_days(),
            calling_windows: calling_windows(schedule),
            max_concurrent_calls: schedule.max_concurrent_calls,
            concurrency: schedule.max_concurrent_calls,
            max_calls_per_day: schedule.max_calls_per_day,
            retry_failed: schedule.retry.enabled,
            max_retry_attempts: schedule.retry.max_retries,
            retry_attempts: schedule.retry.max_retries,
            retry_delay_minutes: schedule.retry.delay_minutes,
            timezone_mode: schedule.timezone_mode.as_str(),
            timezone_fallback: if schedule.skip_unresolvable {
                "skip"
            } else {
                "campaign"
            },
            frequency_caps: schedule
                .frequency_caps
                .iter()
                .map(|cap| CapInput {
                    max_calls: i64::from(cap.max_calls),
                    window_hours: cap.window_hours(),
                })
                .collect(),
            expires_at: opt_rfc3339(schedule.expires_at),
            strict_expiry: schedule.strict_expiry,
            max_callbacks: schedule.max_callbacks,
            total_contacts: counters.total,
            counts: StatusCounts::from(counters),
            created_at: rfc3339(campaign.created_at),
            updated_at: rfc3339(campaign.updated_at),
            paused_at: opt_rfc3339(campaign.paused_at),
            resumed_at: opt_rfc3339(campaign.resumed_at),
            completed_at: opt_rfc3339(campaign.completed_at),
        }
    }
}

/// A campaign's windows as `calling_windows` shows them.
fn calling_windows(schedule: &Schedule) -> Vec<WindowInput> {
    let entries = match &schedule.windows {
        Some(windows) => windows.entries.iter().map(DailyHours::texts).collect(),
        None => {
            let text = |minute: u16| format!("{:02}:{:02}", minute / 60, minute % 60);
            vec![(
                schedule.working_days.iso_days(),
                text(schedule.window.start_minute()),
                text(schedule.window.end_minute()),
            )]
        }
    };
    entries
        .into_iter()
        .map(|(days, start_time, end_time)| WindowInput {
            days: days.into_iter().map(i64::from).collect(),
            start_time,
            end_time,
        })
        .collect()
}

/// A contact on the wire.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    contact_id: String,
    phone_number: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    /// The contact's zone: its own `timezone`, else its number's (several candidates joined by
    /// `|`), else its campaign's timezone.
    timezone: String,
    /// `contact`, `number` or `fallback`.
    timezone_source: &'static str,
    status: &'static str,
    /// Why it waits (`scheduled` or `pending`): `window`, `working_day`, `legal_hours`,
    /// `holiday`, `quiet_hours`, `paused`, `not_started`, …; null when it may be called now.
    held_reason: Option<&'static str>,
    /// When every rule that holds it is next open (null: a command must come first).
    next_eligible_at: Option<String>,
    /// Why it ended `skipped`: `timezone_unresolvable`.
    skip_reason: Option<&'static str>,
    scheduled_at: Option<String>,
    attempts: u32,
    call_status: Option<&'static str>,
    call_id: Option<String>,
    called_at: Option<String>,
    custom_fields: BTreeMap<String, String>,
}

impl ContactView {
    /// The contact on the wire; `fallback` is its campaign's timezone, `held` why it waits.
    pub fn new(
        contact: &Contact,
        fallback: Tz,
        held: Option<(HeldReason, Option<DateTime<Utc>>)>,
    ) -> Self {
        let details = &contact.details;
        let zones = contact_zones(details.timezone, &details.phone, fallback);
        let timezone: Vec<&str> = zones.zones.iter().map(|zone| zone.name()).collect();
        Self {
            contact_id: contact.id.to_string(),
            phone_number: details.phone.as_str().to_owned(),
            first_name: details.first_name.clone(),
            last_name: details.last_name.clone(),
            email: details.email.clone(),
            timezone: timezone.join("|"),
            timezone_source: zones.source.as_str(),
            status: contact.status.as_str(),
            held_reason: held.map(|(reason, _)| reason.as_str()),
            next_eligible_at: opt_rfc3339(held.and_then(|(_, until)| until)),
            skip_reason: contact.skip_reason.map(SkipReason::as_str),
            scheduled_at: opt_rfc3339(contact.scheduled_at),
            attempts: contact.attempts,
            call_status: contact.last_outcome.map(DialOutcome::as_str),
            call_id: contact.call_id.map(|id| id.to_string()),
            called_at: opt_rfc3339(contact.called_at),
            custom_fields: details.custom_fields.clone(),
        }
    }
}

/// One row that `POST …/contacts` did not add.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowError {
    pub index: usize,
    pub field: String,
    /// `invalid_number`, `duplicate` or `bad_row`.
    pub code: &'static str,
    pub reason: String,
}

impl RowError {
    /// A row the API rejected: its number, or another of its fields.
    pub fn invalid(index: usize, error: DomainError) -> Self {
        let code = if error.field.ends_with(".phone_number") {
            "invalid_number"
        } else {
            "bad_row"
        };
        Self {
            index,
            field: error.field,
            code,
            reason: error.message,
        }
    }
}

/// Most rows an answer lists; `failed_by_reason` counts them all.
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// The answer of `POST …/contacts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddedView {
    pub added_count: u64,
    pub failed_count: u64,
    /// Every row not added, counted by `code`.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub failed_by_reason: BTreeMap<&'static str, u64>,
    /// The first 1 000 rows not added, in request order.
    pub errors: Vec<RowError>,
}

impl AddedView {
    /// Merges the rows the API rejected (invalid) with those the store skipped (duplicates);
    /// `store_rows[i]` is the request index of the i-th row handed to the store. The answer
    /// stays small however many rows failed: it lists the first [`MAX_LISTED_ERRORS`].
    pub fn new(added: AddedContacts, mut errors: Vec<RowError>, store_rows: &[usize]) -> Self {
        errors.extend(added.skipped.into_iter().map(|(index, reason)| RowError {
            index: store_rows[index],
            field: format!("contacts[{}].phone_number", store_rows[index]),
            code: "duplicate",
            reason,
        }));
        let mut failed_by_reason = BTreeMap::new();
        for error in &errors {
            *failed_by_reason.entry(error.code).or_default() += 1;
        }
        let failed_count = errors.len() as u64;
        errors.sort_by_key(|error| error.index);
        errors.truncate(MAX_LISTED_ERRORS);
        Self {
            added_count: added.added,
            failed_count,
            failed_by_reason,
            errors,
        }
    }
}

/// `GET /batch-calls/{id}/analytics`: the campaign's counters and what its calls came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsView {
    batch_id: String,
    status: &'static str,
    timezone: String,
    contacts: ContactCounters,
    calls: CallTotals,
    /// Calls ended per local calendar day of the campaign's timezone.
    calls_per_day: Vec<DayCount>,
    /// Calls ended per hour, each hour's start in the campaign's timezone.
    calls_per_hour: Vec<HourCount>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ContactCounters {
    total: u64,
    #[serde(flatten)]
    counts: StatusCounts,
}

/// The campaign's contacts by status (and those ever called), as both the campaign and its
/// analytics show them.
#[derive(Debug, Serialize, ToSchema)]
struct StatusCounts {
    called: u64,
    completed: u64,
    failed: u64,
    pending: u64,
    in_progress: u64,
    cancelled: u64,
    skipped: u64,
    unknown: u64,
    expired: u64,
}

impl From<&Counters> for StatusCounts {
    fn from(counters: &Counters) -> Self {
        use crate::domain::ContactStatus as S;
        Self {
            called: counters.called,
            completed: counters.of(S::Completed),
            failed: counters.of(S::Failed),
            pending: counters.pending(),
            in_progress: counters.of(S::InProgress),
            cancelled: counters.of(S::Cancelled),
            skipped: counters.of(S::Skipped),
            unknown: counters.of(S::Unknown),
            expired: counters.of(S::Expired),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct CallTotals {
    /// Attempts whose outcome was recorded.
    total: u64,
    #[schema(value_type = BTreeMap<String, u64>)]
    by_outcome: BTreeMap<&'static str, u64>,
    /// `completed` calls over all calls (voicemail is not an answer); null before any call.
    answer_rate: Option<f64>,
    /// Mean reported length of a call, in seconds; null before any call.
    mean_duration_seconds: Option<f64>,
    total_duration_seconds: u64,
}

#[derive(Debug, Serialize, ToSchema)]
struct DayCount {
    date: String,
    calls: u64,
}

#[derive(Debug, Serialize, ToSchema)]
struct HourCount {
    hour: String,
    calls: u64,
}

impl AnalyticsView {
    pub fn new(campaign: &Campaign, stats: &CallStats) -> Self {
        let counters = &campaign.counters;
        let zone = campaign.spec.schedule.timezone;
        let calls = stats.calls();
        let ratio = |part: u64| (calls > 0).then(|| part as f64 / calls as f64);
        let mut per_day: BTreeMap<String, u64> = BTreeMap::new();
        let mut per_hour = Vec::with_capacity(stats.by_hour.len());
        for (&hour, &count) in &stats.by_hour {
            let Some(start) = DateTime::<Utc>::from_timestamp(hour * 3600, 0) else {
                continue;
            };
            let local = start.with_timezone(&zone);
            *per_day.entry(local.date_naive().to_string()).or_default() += count;
            per_hour.push(HourCount {
                hour: local.to_rfc3339_opts(SecondsFormat::Secs, true),
                calls: count,
            });
        }
        Self {
            batch_id: campaign.id.to_string(),
            status: campaign.status.as_str(),
            timezone: zone.name().to_owned(),
            contacts: ContactCounters {
                total: counters.total,
                counts: StatusCounts::from(counters),
            },
            calls: CallTotals {
                total: calls,
                by_outcome: DialOutcome::ALL
                    .into_iter()
                    .map(|outcome| (outcome.as_str(), stats.of(outcome)))
                    .collect(),
                answer_rate: ratio(stats.of(DialOutcome::Completed)),
                mean_duration_seconds: ratio(stats.total_duration_secs),
                total_duration_seconds: stats.total_duration_secs,
            },
            calls_per_day: per_day
                .into_iter()
                .map(|(date, calls)| DayCount { date, calls })
                .collect(),
            calls_per_hour: per_hour,
        }
    }
}
