//! The pure core: identifiers, the campaign state machine, the schedule and its pacing maths.
//!
//! Nothing here does I/O, reads a clock, spawns a task or knows a wire format: time comes in as
//! an argument, and every decision is a function that tests can call with plain values.

mod callee;
mod campaign;
mod claim;
mod contact;
mod dnc;
mod error;
mod floor;
mod forecast;
mod frequency;
pub mod gcra;
mod hours;
mod ids;
mod pacing;
mod phone_zones;
mod schedule;
mod status;
mod text;

pub use callee::{
    CallSafety, CalleeRules, HeldReason, SkipReason, TimezoneMode, Verdict, is_unresolvable,
    parse_partition_key, partition_key,
};
pub use campaign::{CampaignSpec, MAX_CALLER_IDS, PhoneRotation, caller_ids};
pub use claim::ClaimSlots;
pub use contact::{ContactStatus, DialOutcome, RetryDecision};
pub use dnc::{
    DncEntry, DncTarget, MAX_DNC_ENTRIES, MAX_DNC_REASON_CHARS, check_dnc_reason, covering,
    prefixes_of,
};
pub use error::DomainError;
pub use floor::{FloorProfile, LegalFloor, region_of};
pub use forecast::{Forecast, LimitingFactor, Workload, retries_per_contact};
pub use frequency::{
    FrequencyCap, MAX_CAP_WINDOW_HOURS, MAX_FREQUENCY_CAPS, next_allowed, parse_caps, still_counted,
};
pub use gcra::Rate;
pub use hours::{DailyHours, WeekHours};
pub use ids::{CallId, CampaignId, ContactId, OrgId, PhoneNumber, Region};
pub use pacing::{Gate, PacingState, Plan};
pub use phone_zones::{ContactZones, MAX_CANDIDATES, ZoneSource, contact_zones, zones_of};
pub use schedule::{
    CallingWindows, DayWindow, LocalWindow, MAX_WINDOWS, MINUTES_PER_DAY, RetryPolicy, Schedule,
    SchedulePatch, StartRule, TimeOfDay, WorkingDays, earliest_instant, is_printable,
    latest_instant, local_date, resolve_local,
};
pub use status::{CampaignStatus, Command, InvalidTransition, StartIs, transition};
pub use text::{checked_text, required_text};
