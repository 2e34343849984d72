//! How campaigns and contacts are written in Redis: compact serde records, converted to and
//! from the store's types here only.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    CallId, CampaignId, CampaignSpec, CampaignStatus, ContactStatus, DailyHours, DialOutcome,
    HeldReason, OrgId, PacingState, PhoneNumber, PhoneRotation, Schedule, SchedulePatch,
    SkipReason, StartRule, TimezoneMode,
};
use crate::store::{
    CallResult, Campaign, CampaignEvent, Contact, Counters, DeadLetter, NewContact, OutboxEntry,
    StoreError, StoredEvent,
};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn ms(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

pub(super) fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A campaign's definition as JSON in its meta hash.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SpecRecord {
    name: String,
    agent_id: String,
    phone_number_ids: Vec<String>,
    rotation: String,
    scheduled_at: Option<i64>,
    timezone: String,
    start_time: Option<String>,
    end_time: Option<String>,
    working_days: Vec<u8>,
    max_concurrent_calls: u32,
    max_calls_per_day: Option<u32>,
    retry_failed: bool,
    max_retry_attempts: u32,
    retry_delay_minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timezone_mode: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    skip_unresolvable: bool,
    /// `calling_windows` as (days, start, end), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    windows: Option<Vec<(Vec<u8>, String, String)>>,
    /// `frequency_caps` as (max_calls, window_hours).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    caps: Vec<(i64, i64)>,
    /// `expires_at` in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    strict_expiry: bool,
    #[serde(default = "default_callbacks")]
    max_callbacks: u32,
}

/// `max_callbacks` of a campaign stored before it existed.
fn default_callbacks() -> u32 {
    2
}

impl SpecRecord {
    pub(super) fn new(spec: &CampaignSpec) -> Self {
        let schedule = &spec.schedule;
        Self {
            name: spec.name.clone(),
            agent_id: spec.agent_id.clone(),
            phone_number_ids: spec.phone_number_ids.clone(),
            rotation: spec.rotation.as_str().to_owned(),
            scheduled_at: match schedule.start {
                StartRule::Immediate => None,
                StartRule::At(instant) => Some(ms(instant)),
            },
            timezone: schedule.timezone.name().to_owned(),
            start_time: schedule.window.start().map(|time| time.to_string()),
            end_time: schedule.window.end().map(|time| time.to_string()),
            working_days: schedule.working_days.iso_days(),
            max_concurrent_calls: schedule.max_concurrent_calls,
            max_calls_per_day: schedule.max_calls_per_day,
            retry_failed: schedule.retry.enabled,
            max_retry_attempts: schedule.retry.max_retries,
            retry_delay_minutes: schedule.retry.delay_minutes,
            timezone_mode: (schedule.timezone_mode != TimezoneMode::Campaign)
                .then(|| schedule.timezone_mode.as_str().to_owned()),
            skip_unresolvable: schedule.skip_unresolvable,
            windows: schedule
                .windows
                .as_ref()
                .map(|windows| windows.entries.iter().map(DailyHours::texts).collect()),
            caps: schedule
                .frequency_caps
                .iter()
                .map(|cap| (i64::from(cap.max_calls), cap.window_hours()))
                .collect(),
            expires_at: schedule.expires_at.map(ms),
            strict_expiry: schedule.strict_expiry,
            max_callbacks: schedule.max_callbacks,
        }
    }

    /// Back to the domain, through the same parser as client input for the texts; the start
    /// is a number of milliseconds and stays one (a text would have to round-trip through
    /// RFC 3339, which cannot show every instant).
    pub(super) fn into_spec(self) -> Result<CampaignSpec, StoreError> {
        let windows = self.windows.map(|windows| {
            windows
                .into_iter()
                .map(|(days, start, end)| (days.into_iter().map(i64::from).collect(), start, end))
                .collect::<Vec<_>>()
        });
        // The seed's fields, or the windows that replace them.
        let seed = windows.is_none();
        let patch = SchedulePatch {
            schedule_type: Some("immediate".to_owned()),
            scheduled_at: None,
            timezone: Some(self.timezone),
            start_time: seed.then_some(self.start_time),
            end_time: seed.then_some(self.end_time),
            working_days: seed.then(|| self.working_days.into_iter().map(i64::from).collect()),
            calling_windows: windows,
            max_concurrent_calls: Some(i64::from(self.max_concurrent_calls)),
            max_calls_per_day: Some(self.max_calls_per_day.map(i64::from)),
            retry_failed: Some(self.retry_failed),
            max_retry_attempts: Some(i64::from(self.max_retry_attempts)),
            retry_delay_minutes: Some(i64::from(self.retry_delay_minutes)),
            timezone_mode: self.timezone_mode,
            timezone_fallback: Some(
                if self.skip_unresolvable {
                    "skip"
                } else {
                    "campaign"
                }
                .to_owned(),
            ),
            frequency_caps: Some(self.caps),
            expires_at: None,
            strict_expiry: Some(self.strict_expiry),
            max_callbacks: Some(i64::from(self.max_callbacks)),
        };
        let mut schedule = Schedule::default()
            .apply(&patch)
            .map_err(|_| corrupt("schedule"))?;
        if let Some(at) = self.scheduled_at {
            let at = DateTime::from_timestamp_millis(at).ok_or_else(|| corrupt("start"))?;
            schedule.start = StartRule::At(at);
        }
        if let Some(at) = self.expires_at {
            let at = DateTime::from_timestamp_millis(at).ok_or_else(|| corrupt("expiry"))?;
            schedule.expires_at = Some(at);
        }
        Ok(CampaignSpec {
            name: self.name,
            agent_id: self.agent_id,
            phone_number_ids: self.phone_number_ids,
            rotation: PhoneRotation::parse(&self.rotation).map_err(|_| corrupt("rotation"))?,
            schedule,
        })
    }
}

/// The meta hash of a campaign, read whole.
#[derive(Debug)]
pub(super) struct Meta {
    pub(super) campaign: Campaign,
    pub(super) version: String,
    /// Contacts `cursor..n_contacts` have never been claimed.
    pub(super) cursor: u32,
    pub(super) n_contacts: u32,
    /// The pacing as the last claim left it: the next slot, its local date and the calls placed
    /// on it (`day` is `None` when no claim counted in the meta hash yet).
    pub(super) pacing: PacingState,
    /// The queue partitions' keys by number (`add_contacts.lua`); partition 0 is the empty key.
    pub(super) partitions: Vec<String>,
    /// The partitions whose never-called contacts a claim held back: until when, and why
    /// (`hr:<partition>`, see `claim.lua`).
    pub(super) held: HashMap<u32, (DateTime<Utc>, HeldReason)>,
}

fn status_name(status: ContactStatus) -> &'static str {
    status.as_str()
}

/// The counter field of a contact status.
pub(super) fn counter_field(status: ContactStatus) -> String {
    format!("st:{}", status_name(status))
}

impl Meta {
    pub(super) fn decode(
        id: CampaignId,
        fields: &HashMap<String, String>,
    ) -> Result<Self, StoreError> {
        let text = |name: &str| fields.get(name).map(String::as_str);
        let number = |name: &str| text(name).and_then(|value| value.parse::<i64>().ok());
        let time = |name: &str| number(name).map(instant);
        let count = |name: &str| number(name).unwrap_or(0).max(0) as u64;
        let spec: SpecRecord = serde_json::from_str(text("spec").ok_or(StoreError::NotFound)?)
            .map_err(|_| corrupt("campaign"))?;
        let status = text("status")
            .and_then(CampaignStatus::parse)
            .ok_or_else(|| corrupt("status"))?;
        let org =
            OrgId::parse(text("org").unwrap_or_default()).map_err(|_| corrupt("organisation"))?;
        let counters = Counters::from_counts(count("n_total"), count("n_called"), |status| {
            count(&counter_field(status))
        });
        Ok(Self {
            campaign: Campaign {
                id,
                org,
                spec: spec.into_spec()?,
                status,
                starts_at: time("starts_at"),
                counters,
                created_at: time("created_at").unwrap_or_default(),
                updated_at: time("updated_at").unwrap_or_default(),
                paused_at: time("paused_at"),
                resumed_at: time("resumed_at"),
                completed_at: time("completed_at"),
            },
            version: text("ver").unwrap_or("0").to_owned(),
            cursor: number("cursor").unwrap_or(0) as u32,
            n_contacts: number("seq").unwrap_or(0) as u32,
            pacing: PacingState {
                day: text("day").and_then(|day| day.parse::<NaiveDate>().ok()),
                used: number("n_day").unwrap_or(0).max(0) as u32,
                next_slot_at: time("p_next"),
            },
            held: fields
                .iter()
                .filter_map(|(name, value)| {
                    let partition = name.strip_prefix("hr:")?.parse().ok()?;
                    let (until, reason) = value.split_once('|')?;
                    let until = instant(until.parse().ok()?);
                    Some((partition, (until, HeldReason::parse(reason)?)))
                })
                .collect(),
            partitions: std::iter::once(String::new())
                .chain(
                    (1..=count("n_parts"))
                        .map(|n| text(&format!("p:{n}")).unwrap_or_default().to_owned()),
                )
                .collect(),
        })
    }

    /// The fields an operator's change may touch; `""` deletes a field.
    pub(super) fn changed_fields(
        campaign: &Campaign,
        next_slot_at: Option<DateTime<Utc>>,
    ) -> Vec<(String, String)> {
        let time = |instant: Option<DateTime<Utc>>| {
            instant.map(|at| ms(at).to_string()).unwrap_or_default()
        };
        let spec =
            serde_json::to_string(&SpecRecord::new(&campaign.spec)).expect("specs serialize");
        vec![
            ("spec".to_owned(), spec),
            // Beside the spec, for the list's filter (read without the spec).
            ("agent".to_owned(), campaign.spec.agent_id.clone()),
            ("status".to_owned(), campaign.status.as_str().to_owned()),
            ("starts_at".to_owned(), time(campaign.starts_at)),
            ("updated_at".to_owned(), ms(campaign.updated_at).to_string()),
            ("paused_at".to_owned(), time(campaign.paused_at)),
            ("resumed_at".to_owned(), time(campaign.resumed_at)),
            ("completed_at".to_owned(), time(campaign.completed_at)),
            ("p_next".to_owned(), time(next_slot_at)),
        ]
    }

    /// Every field of a new campaign.
    pub(super) fn new_fields(campaign: &Campaign) -> Vec<(String, String)> {
        let mut fields = Self::changed_fields(campaign, None);
        fields.retain(|(_, value)| !value.is_empty());
        fields.extend([
            ("org".to_owned(), campaign.org.as_str().to_owned()),
            ("created_at".to_owned(), ms(campaign.created_at).to_string()),
            ("ver".to_owned(), "1".to_owned()),
            ("seq".to_owned(), "0".to_owned()),
            ("n_total".to_owned(), "0".to_owned()),
        ]);
        fields
    }
}

/// One contact: its details as JSON in a `contacts:<n>` bucket (written once, after `<partition>|`
/// outside partition 0), and its call state as `attempts|status|call id|called at|due|outcome|
/// duration[|held reason]` in a `calls:<n>` bucket (the Lua
/// scripts change it without a JSON codec). A contact never claimed has no call state: it is
/// pending, scheduled or cancelled with its campaign.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct ContactRecord {
    ph: String,
    #[serde(rename = "fn", default, skip_serializing_if = "Option::is_none")]
    first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ln: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    em: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    cf: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tz: Option<String>,
    #[serde(skip)]
    st: Option<String>,
    #[serde(skip)]
    at: Option<u32>,
    #[serde(skip)]
    o: Option<String>,
    #[serde(skip)]
    call: Option<String>,
    #[serde(skip)]
    ca: Option<i64>,
    #[serde(skip)]
    due: Option<i64>,
    #[serde(skip)]
    held: Option<String>,
    /// The contact's queue partition, from the `<n>|` before its details.
    #[serde(skip)]
    pub(super) partition: u32,
}

impl ContactRecord {
    pub(super) fn new(contact: &NewContact) -> Self {
        Self {
            ph: contact.phone.as_str().to_owned(),
            first_name: contact.first_name.clone(),
            ln: contact.last_name.clone(),
            em: contact.email.clone(),
            cf: contact.custom_fields.clone(),
            tz: contact.timezone.map(|zone| zone.name().to_owned()),
            ..Self::default()
        }
    }

    /// The record from its details and, once claimed, its call state.
    pub(super) fn decode(details: &str, state: Option<&str>) -> Result<Self, StoreError> {
        // A contact added while its number was listed: `skipped` from the start (its state).
        let details = details.strip_prefix('!').unwrap_or(details);
        let (partition, json) = match details.split_once('|') {
            Some((number, json)) if !details.starts_with('{') => {
                (number.parse().map_err(|_| corrupt("contact"))?, json)
            }
            _ => (0, details),
        };
        let mut record: Self = serde_json::from_str(json).map_err(|_| corrupt("contact"))?;
        record.partition = partition;
        if let Some(state) = state {
            let fields: Vec<&str> = state.split('|').collect();
            let (at, st, call, ca, due, o, held) = match fields[..] {
                [at, st, call, ca, due, o, _duration] => (at, st, call, ca, due, o, ""),
                [at, st, call, ca, due, o, _duration, held] => (at, st, call, ca, due, o, held),
                _ => return Err(corrupt("call state")),
            };
            record.held = (!held.is_empty()).then(|| held.to_owned());
            let text = |value: &str| (!value.is_empty()).then(|| value.to_owned());
            record.at = at.parse().ok();
            record.st = text(st);
            record.call = text(call);
            record.ca = ca.parse().ok();
            record.due = due.parse().ok();
            record.o = text(o);
        }
        Ok(record)
    }

    /// The record of a contact just claimed for its first attempt as call `call`: the state
    /// `claim.lua` wrote and did not send back, the caller knowing it (its called-at is the
    /// call's slot, which the claim carries).
    pub(super) fn first_attempt(mut self, call: &CallId) -> Self {
        self.at = Some(1);
        self.st = Some(ContactStatus::InProgress.as_str().to_owned());
        self.call = Some(call.to_string());
        self
    }

    /// The contact's status: its own once it has been called, else its campaign's.
    pub(super) fn status(&self, campaign: CampaignStatus) -> ContactStatus {
        match (self.st.as_deref().and_then(ContactStatus::parse), campaign) {
            (Some(ContactStatus::Scheduled) | None, CampaignStatus::Cancelled) => {
                ContactStatus::Cancelled
            }
            // Only an expiry completes a campaign while contacts wait (commit.lua).
            (Some(ContactStatus::Scheduled) | None, CampaignStatus::Completed) => {
                ContactStatus::Expired
            }
            (Some(status), _) => status,
            (None, CampaignStatus::Draft) => ContactStatus::Pending,
            (None, _) => ContactStatus::Scheduled,
        }
    }

    /// Waits for its first call (its due time is a projection of its queue position).
    pub(super) fn is_fresh(&self) -> bool {
        self.st.is_none()
    }

    /// The contact's number, read from its details alone.
    pub(super) fn phone(&self) -> Result<PhoneNumber, StoreError> {
        PhoneNumber::parse(&self.ph).map_err(|_| corrupt("phone number"))
    }

    fn call_id(&self) -> Option<CallId> {
        self.call.as_deref().and_then(|id| CallId::parse(id).ok())
    }

    pub(super) fn into_contact(
        self,
        id: crate::domain::ContactId,
        campaign: CampaignStatus,
    ) -> Result<Contact, StoreError> {
        let status = self.status(campaign);
        Ok(Contact {
            id,
            status,
            scheduled_at: (status == ContactStatus::Scheduled)
                .then(|| self.due.map(instant))
                .flatten(),
            attempts: self.at.unwrap_or(0),
            last_outcome: self.o.as_deref().and_then(DialOutcome::parse),
            call_id: self.call_id(),
            called_at: self.ca.map(instant),
            held_reason: (status == ContactStatus::Scheduled)
                .then(|| self.held.as_deref().and_then(HeldReason::parse))
                .flatten(),
            skip_reason: match status {
                ContactStatus::Skipped => self.held.as_deref().and_then(SkipReason::parse),
                ContactStatus::Expired => Some(SkipReason::Expired),
                _ => None,
            },
            details: NewContact {
                phone: PhoneNumber::parse(&self.ph).map_err(|_| corrupt("phone number"))?,
                first_name: self.first_name,
                last_name: self.ln,
                email: self.em,
                custom_fields: self.cf,
                timezone: self.tz.and_then(|zone| zone.parse().ok()),
                listed: false,
            },
        })
    }
}

/// One event as `call_state.lua` writes it in a campaign's outbox:
/// `<number>|<at ms>|<kind>|<fields…>` (kinds `s`, `d`, `c`, `e`; see the script).
#[derive(Debug)]
pub(super) struct EventRecord {
    seq: u64,
    at: i64,
    fields: Vec<String>,
}

impl EventRecord {
    pub(super) fn decode(text: &str) -> Result<Self, StoreError> {
        let mut parts = text.split('|');
        let number = |part: Option<&str>| part.and_then(|part| part.parse::<i64>().ok());
        let seq = number(parts.next()).ok_or_else(|| corrupt("event"))?;
        let at = number(parts.next()).ok_or_else(|| corrupt("event"))?;
        Ok(Self {
            seq: seq.max(0) as u64,
            at,
            fields: parts.map(str::to_owned).collect(),
        })
    }

    /// The contact sequence of a call that started (its number is read apart).
    pub(super) fn started_sequence(&self) -> Option<u32> {
        match self.fields.first().map(String::as_str) {
            Some("c") => self.fields.get(1)?.parse().ok(),
            _ => None,
        }
    }

    /// The event; `phone` is the number of a started call's contact.
    pub(super) fn into_stored(
        self,
        campaign: CampaignId,
        phone: Option<PhoneNumber>,
    ) -> Result<StoredEvent, StoreError> {
        let bad = || corrupt("event");
        let field = |i: usize| self.fields.get(i).map(String::as_str).ok_or_else(bad);
        let contact = |i: usize| -> Result<_, StoreError> {
            let sequence: u32 = field(i)?.parse().map_err(|_| bad())?;
            Ok(crate::store::rules::contact_id(campaign, sequence))
        };
        let number = |i: usize| -> Result<u32, StoreError> { field(i)?.parse().map_err(|_| bad()) };
        let status = |i: usize| CampaignStatus::parse(field(i)?).ok_or_else(bad);
        let event = match field(0)? {
            "s" => CampaignEvent::StatusChanged {
                from: status(1)?,
                to: status(2)?,
            },
            "d" => CampaignEvent::Completed,
            "c" => CampaignEvent::CallStarted {
                contact: contact(1)?,
                attempt: number(2)?,
                call_id: CallId::parse(field(3)?).map_err(|_| bad())?,
                phone: phone.ok_or_else(bad)?,
            },
            "e" => CampaignEvent::CallEnded {
                contact: contact(1)?,
                attempt: number(2)?,
                call_id: CallId::parse(field(3)?).ok(),
                result: CallResult {
                    outcome: DialOutcome::parse(field(4)?).ok_or_else(bad)?,
                    duration_secs: number(5)?,
                },
            },
            _ => return Err(bad()),
        };
        Ok(StoredEvent {
            seq: self.seq,
            at: DateTime::from_timestamp_millis(self.at).ok_or_else(bad)?,
            event,
        })
    }
}

/// An entry of an organisation's outbox: `<seq>|<id>|<at ms>|<body>`.
pub(super) fn outbox_entry(member: &[u8]) -> Result<OutboxEntry, StoreError> {
    let mut parts = member.splitn(4, |&byte| byte == b'|');
    let mut text = || {
        parts
            .next()
            .and_then(|part| std::str::from_utf8(part).ok())
            .ok_or_else(|| corrupt("outbox entry"))
    };
    let seq = text()?.parse().map_err(|_| corrupt("outbox entry"))?;
    let id = text()?.to_owned();
    let at = text()?.parse().map_err(|_| corrupt("outbox entry"))?;
    let body = parts
        .next()
        .ok_or_else(|| corrupt("outbox entry"))?
        .to_vec();
    Ok(OutboxEntry {
        seq,
        id,
        at: DateTime::from_timestamp_millis(at).ok_or_else(|| corrupt("outbox entry"))?,
        body,
    })
}

/// A dead letter: `<at ms>|<died ms>|<reason>\n<body>`.
pub(super) fn dead_letter(id: String, letter: &[u8]) -> Result<DeadLetter, StoreError> {
    let bad = || corrupt("dead letter");
    let newline = letter
        .iter()
        .position(|&byte| byte == b'\n')
        .ok_or_else(bad)?;
    let head = std::str::from_utf8(&letter[..newline]).map_err(|_| bad())?;
    let mut parts = head.splitn(3, '|');
    let mut instant = || {
        parts
            .next()
            .and_then(|part| part.parse().ok())
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(bad)
    };
    let (at, failed_at) = (instant()?, instant()?);
    Ok(DeadLetter {
        id,
        at,
        failed_at,
        reason: parts.next().ok_or_else(bad)?.to_owned(),
        body: letter[newline + 1..].to_vec(),
    })
}
