//! Settings: `config/default.toml` (built in), then an optional file, then `PACER_*` variables,
//! then `PACER_<KEY>_FILE` variables (a secret read from a file, as container platforms mount
//! them). A bad value is reported with its key and the value that was given; an unknown key in
//! a file is an error, an unknown `PACER_*` variable only a warning (platforms inject variables
//! named after a service, such as `PACER_PORT`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use anyhow::Context as _;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::{
    CallSafety, DailyHours, DomainError, FloorProfile, FrequencyCap, LegalFloor,
    MAX_CAP_WINDOW_HOURS, WeekHours,
};

use crate::telemetry::LogFormat;
use crate::webhooks::WebhookTarget;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: SocketAddr,
    /// `org:key,…`; never logged.
    pub api_keys: String,
    pub max_body_bytes: usize,
    pub http_workers: usize,
    /// Connections served at once (capped below the file-descriptor limit).
    pub max_connections: usize,
    /// Connections served at once for one client address (0: no limit of its own).
    pub max_connections_per_address: usize,
    /// How long a client may take to send a request's head, and its body, in ms.
    pub header_timeout_ms: u64,
    pub body_timeout_ms: u64,
    /// Failed authentications allowed per second per client address (and the burst above it).
    pub auth_failures_per_sec: f64,
    pub auth_failures_burst: u32,
    pub actor_threads: usize,
    pub dialers: usize,
    pub claim_batch: u32,
    /// How far ahead a campaign's claim reaches (ms): calls whose slots fall within it are
    /// claimed in one step and placed each at its slot from a local timer (0: only what is due).
    pub claim_ahead_ms: u64,
    /// How long before its first slot a claim runs (ms): the claim's round trip is over by then.
    pub claim_lead_ms: u64,
    pub dialer: DialerKind,
    pub simulated_call_ms: String,
    pub simulated_outcomes: String,
    pub simulated_time_scale: f64,
    pub log_format: LogFormat,
    /// Unset: the embedded store; else the Redis store at this URL.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// `redis_url` lists nodes of a Redis Cluster.
    pub redis_cluster: bool,
    pub redis_prefix: String,
    pub redis_connections: usize,
    pub redis_timeout_ms: u64,
    /// A PEM file of certificate authorities that `rediss://` servers are checked against
    /// (unset: the system's roots).
    #[serde(default)]
    pub redis_ca_file: Option<std::path::PathBuf>,
    /// A placed call without an outcome after this many seconds ends `unknown`.
    pub call_deadline_secs: u64,
    /// This node's name in leases and locks (`PACER_NODE_ID`); unset: generated at start.
    #[serde(default)]
    pub node_id: Option<String>,
    /// How long a campaign lease lasts without renewal, in ms (renewed every third of it); a
    /// dead node's campaigns are taken over within about this long.
    pub lease_ttl_ms: u64,
    /// On SIGTERM, how long calls in flight may take to report before the node exits.
    pub shutdown_grace_secs: u64,
    /// The webhook dialer's provider URL.
    #[serde(default)]
    pub dialer_url: Option<String>,
    /// Signs dial requests and verifies call events; never logged.
    #[serde(default)]
    pub dialer_secret: Option<String>,
    pub dialer_timeout_ms: u64,
    pub dialer_tries: u32,
    pub dialer_backoff_ms: u64,
    /// Calls per second across every node of the store (unset: no limit).
    #[serde(default)]
    pub dialer_max_cps: Option<f64>,
    /// API requests per second per organisation on this node, and the burst allowed.
    pub rate_limit_per_sec: f64,
    pub rate_limit_burst: u32,
    /// Each organisation's webhook URL and secret (`PACER_WEBHOOKS__<ORG>__URL`, `…__SECRET`).
    #[serde(default)]
    pub webhooks: BTreeMap<String, WebhookTarget>,
    /// A webhook is given up to the dead letters after this many sends, or this old.
    pub webhook_max_attempts: u32,
    pub webhook_max_age_secs: u64,
    /// Webhooks waiting per organisation (past it, the oldest go to the dead letters), and dead
    /// letters kept per organisation (past it, the oldest are forgotten).
    pub webhook_outbox_max: u64,
    pub webhook_dead_letters_max: u64,
    /// The call-safety rules: the legal floor and the organisations' quiet hours.
    pub compliance: ComplianceSettings,
    /// `PACER_*` variables that name no setting: warned about at start-up, otherwise ignored.
    #[serde(skip)]
    pub unknown_env: Vec<String>,
}

/// Every setting's key: the fields of [`Settings`] (a unit test holds the two together).
pub const KEYS: [&str; 44] = [
    "listen",
    "api_keys",
    "max_body_bytes",
    "http_workers",
    "max_connections",
    "max_connections_per_address",
    "header_timeout_ms",
    "body_timeout_ms",
    "auth_failures_per_sec",
    "auth_failures_burst",
    "actor_threads",
    "dialers",
    "claim_batch",
    "claim_ahead_ms",
    "claim_lead_ms",
    "dialer",
    "simulated_call_ms",
    "simulated_outcomes",
    "simulated_time_scale",
    "log_format",
    "redis_url",
    "redis_cluster",
    "redis_prefix",
    "redis_connections",
    "redis_timeout_ms",
    "call_deadline_secs",
    "node_id",
    "lease_ttl_ms",
    "shutdown_grace_secs",
    "dialer_url",
    "dialer_secret",
    "dialer_timeout_ms",
    "dialer_tries",
    "dialer_backoff_ms",
    "dialer_max_cps",
    "rate_limit_per_sec",
    "rate_limit_burst",
    "webhooks",
    "redis_ca_file",
    "webhook_max_attempts",
    "webhook_max_age_secs",
    "webhook_outbox_max",
    "webhook_dead_letters_max",
    "compliance",
];

/// Settings whose value may come from a file named by `PACER_<KEY>_FILE` (texts: secrets and
/// the addresses that may carry one); for webhooks, `PACER_WEBHOOKS__<ORG>__SECRET_FILE`.
const FILE_KEYS: [&str; 4] = ["api_keys", "dialer_secret", "redis_url", "dialer_url"];

/// What the `PACER_*` variables hold besides settings: values to read from files, and names
/// that are no setting.
#[derive(Debug, Default, PartialEq)]
struct EnvExtras {
    /// (setting key with `.` between levels, variable, path).
    files: Vec<(String, String, String)>,
    unknown: Vec<String>,
}

/// The setting a `PACER_*` variable name (without the prefix) sets, with `.` between levels:
/// `WEBHOOKS__ACME__URL` is `webhooks.acme.url`.
fn env_key(name: &str) -> String {
    name.to_ascii_lowercase().replace("__", ".")
}

fn is_setting(key: &str) -> bool {
    KEYS.contains(&key.split('.').next().unwrap_or_default())
}

/// `PACER_*` variables of the command-line client (`pacer import`, `pacer status`, …): no
/// setting of a node, and no mistake either.
const CLIENT_KEYS: [&str; 2] = ["url", "api_key"];

/// The setting a `…_file` key reads from a file, if it is one of those that may.
fn from_file(key: &str) -> Option<&str> {
    key.strip_suffix("_file").filter(|key| {
        FILE_KEYS.contains(key) || (key.starts_with("webhooks.") && key.ends_with(".secret"))
    })
}

/// Sorts the `PACER_*` variables of `vars` that are no plain setting: `…_FILE` variables of the
/// settings that may come from a file, and unknown names.
fn env_extras(vars: impl Iterator<Item = (String, String)>) -> EnvExtras {
    let mut extras = EnvExtras::default();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("PACER_") else {
            continue;
        };
        let key = env_key(rest);
        if let Some(key) = from_file(&key) {
            extras.files.push((key.to_owned(), name.clone(), value));
        } else if !is_setting(&key) && !CLIENT_KEYS.contains(&key.as_str()) {
            extras.unknown.push(name);
        }
    }
    extras.unknown.sort();
    extras
}

/// Secrets (`api_keys`, `dialer_secret`, webhook secrets) never reach a log through `Debug`.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("api_keys", &"<redacted>")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("http_workers", &self.http_workers)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("header_timeout_ms", &self.header_timeout_ms)
            .field("body_timeout_ms", &self.body_timeout_ms)
            .field("auth_failures_per_sec", &self.auth_failures_per_sec)
            .field("auth_failures_burst", &self.auth_failures_burst)
            .field("actor_threads", &self.actor_threads)
            .field("dialers", &self.dialers)
            .field("claim_batch", &self.claim_batch)
            .field("claim_ahead_ms", &self.claim_ahead_ms)
            .field("claim_lead_ms", &self.claim_lead_ms)
            .field("dialer", &self.dialer)
            .field("simulated_call_ms", &self.simulated_call_ms)
            .field("simulated_outcomes", &self.simulated_outcomes)
            .field("simulated_time_scale", &self.simulated_time_scale)
            .field("log_format", &self.log_format)
            // A Redis URL may carry a password.
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("redis_cluster", &self.redis_cluster)
            .field("redis_prefix", &self.redis_prefix)
            .field("redis_connections", &self.redis_connections)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .field("call_deadline_secs", &self.call_deadline_secs)
            .field("node_id", &self.node_id)
            .field("lease_ttl_ms", &self.lease_ttl_ms)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("dialer_url", &self.dialer_url)
            .field("dialer_secret", &"<redacted>")
            .field("dialer_timeout_ms", &self.dialer_timeout_ms)
            .field("dialer_tries", &self.dialer_tries)
            .field("dialer_backoff_ms", &self.dialer_backoff_ms)
            .field("dialer_max_cps", &self.dialer_max_cps)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("webhooks", &self.webhooks)
            .field("redis_ca_file", &self.redis_ca_file)
            .field("webhook_max_attempts", &self.webhook_max_attempts)
            .field("webhook_max_age_secs", &self.webhook_max_age_secs)
            .field("webhook_outbox_max", &self.webhook_outbox_max)
            .field("webhook_dead_letters_max", &self.webhook_dead_letters_max)
            .field("compliance", &self.compliance)
            .finish()
    }
}

/// `[compliance]`: the legal floor's profiles and holidays (shipped in `config/`, replaced or
/// extended by files), which of them are on, the organisations' quiet hours, and the margin
/// before a window's end after which no dial request goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceSettings {
    /// `false` switches every profile of the legal floor off.
    pub enabled: bool,
    /// Profiles replacing the shipped `config/compliance.toml`.
    #[serde(default)]
    pub profiles_file: Option<std::path::PathBuf>,
    /// Holidays added to the shipped `config/holidays.tsv` (`region<TAB>YYYY-MM-DD<TAB>name`).
    #[serde(default)]
    pub holidays_file: Option<std::path::PathBuf>,
    /// Regions whose profile ships switched off, switched on (`["FR"]`).
    #[serde(default)]
    pub enable: Vec<String>,
    /// Regions whose profile is switched off (`["US-MI"]`).
    #[serde(default)]
    pub disable: Vec<String>,
    pub window_end_buffer_secs: u64,
    /// Per organisation, hours in the callee's time when none of its calls starts.
    #[serde(default)]
    pub quiet_hours: BTreeMap<String, Vec<HoursEntry>>,
    /// Per organisation, caps on attempts to one number across its campaigns.
    #[serde(default)]
    pub frequency_caps: BTreeMap<String, Vec<CapEntry>>,
}

/// One frequency cap: at most `max_calls` attempts to one number within `window_hours`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapEntry {
    pub max_calls: i64,
    pub window_hours: i64,
}

fn caps(field: &str, entries: &[CapEntry]) -> Result<Vec<FrequencyCap>, DomainError> {
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            FrequencyCap::parse(
                &format!("{field}[{index}]"),
                entry.max_calls,
                entry.window_hours,
            )
        })
        .collect()
}

/// One window of a profile's hours or of quiet hours.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursEntry {
    pub days: Vec<i64>,
    pub start_time: String,
    pub end_time: String,
}

/// A profiles file (`config/compliance.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    profile: Vec<ProfileEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileEntry {
    region: String,
    source: String,
    hours: Vec<HoursEntry>,
    #[serde(default)]
    no_holidays: bool,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    frequency_caps: Vec<CapEntry>,
    /// After a refusal, no call to the number for this many hours.
    #[serde(default)]
    cooldown_after_refusal_hours: Option<i64>,
}

fn enabled_by_default() -> bool {
    true
}

const PROFILES: &str = include_str!("../config/compliance.toml");
const HOLIDAYS: &str = include_str!("../config/holidays.tsv");

fn week_hours(field: &str, entries: &[HoursEntry]) -> Result<WeekHours, DomainError> {
    let entries = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            DailyHours::parse(
                &format!("{field}[{index}]"),
                &entry.days,
                &entry.start_time,
                &entry.end_time,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    WeekHours::new(field, &entries)
}

/// `region<TAB>date<TAB>name` lines (`#` comments); `origin` names the file in errors.
fn holiday_lines(origin: &str, text: &str) -> anyhow::Result<Vec<(String, NaiveDate)>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#') && !line.trim().is_empty())
        .map(|(index, line)| {
            let mut fields = line.split('\t');
            let (Some(region), Some(date)) = (fields.next(), fields.next()) else {
                anyhow::bail!("{origin}:{}: expected region<TAB>date<TAB>name", index + 1);
            };
            let date = date.parse().with_context(|| {
                format!("{origin}:{}: `{date}` is not a YYYY-MM-DD date", index + 1)
            })?;
            Ok((region.to_owned(), date))
        })
        .collect()
}

impl ComplianceSettings {
    /// The rules these settings describe, files read; an error names the file and entry.
    pub fn call_safety(&self) -> anyhow::Result<CallSafety> {
        let (origin, text) = match &self.profiles_file {
            Some(path) => (
                path.display().to_string(),
                std::fs::read_to_string(path).with_context(|| {
                    format!("compliance.profiles_file: cannot read `{}`", path.display())
                })?,
            ),
            None => ("config/compliance.toml".to_owned(), PROFILES.to_owned()),
        };
        let file: ProfilesFile = Figment::from(Toml::string(&text))
            .extract()
            .with_context(|| format!("{origin}: not a profiles file"))?;
        let mut profiles = Vec::new();
        for (index, entry) in file.profile.into_iter().enumerate() {
            let on = self.enabled
                && !self.disable.contains(&entry.region)
                && (entry.enabled || self.enable.contains(&entry.region));
            let hours = week_hours(&format!("profile[{index}].hours"), &entry.hours)
                .map_err(|error| anyhow::anyhow!("{origin}: {error}"))?;
            let frequency_caps = caps(
                &format!("profile[{index}].frequency_caps"),
                &entry.frequency_caps,
            )
            .map_err(|error| anyhow::anyhow!("{origin}: {error}"))?;
            if entry.cooldown_after_refusal_hours.is_some() && frequency_caps.is_empty() {
                anyhow::bail!(
                    "{origin}: profile[{index}]: a cooldown_after_refusal_hours needs frequency_caps \
                     in the same profile (the caps count the region's numbers)"
                );
            }
            let cooldown_after_refusal = match entry.cooldown_after_refusal_hours {
                None => None,
                Some(hours) if (1..=MAX_CAP_WINDOW_HOURS).contains(&hours) => {
                    Some(chrono::Duration::hours(hours))
                }
                Some(hours) => anyhow::bail!(
                    "{origin}: profile[{index}].cooldown_after_refusal_hours: `{hours}` is not \
                     from 1 to {MAX_CAP_WINDOW_HOURS}"
                ),
            };
            if on {
                profiles.push(FloorProfile {
                    region: entry.region,
                    hours,
                    no_holidays: entry.no_holidays,
                    source: entry.source,
                    frequency_caps,
                    cooldown_after_refusal,
                });
            }
        }
        let mut holidays = holiday_lines("config/holidays.tsv", HOLIDAYS)?;
        if let Some(path) = &self.holidays_file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("compliance.holidays_file: cannot read `{}`", path.display())
            })?;
            holidays.extend(holiday_lines(&path.display().to_string(), &text)?);
        }
        let quiet_open = self
            .quiet_hours
            .iter()
            .map(|(org, entries)| {
                let field = format!("compliance.quiet_hours.{org}");
                week_hours(&field, entries)
                    .map(|quiet| (org.clone(), quiet.complement()))
                    .map_err(|error| anyhow::anyhow!("{error}"))
            })
            .collect::<anyhow::Result<_>>()?;
        let org_caps = self
            .frequency_caps
            .iter()
            .map(|(org, entries)| {
                caps(&format!("compliance.frequency_caps.{org}"), entries)
                    .map(|caps| (org.clone(), caps))
                    .map_err(|error| anyhow::anyhow!("{error}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(CallSafety {
            floor: LegalFloor::new(profiles, holidays),
            quiet_open,
            end_buffer: chrono::Duration::seconds(self.window_end_buffer_secs as i64),
            org_caps,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialerKind {
    Simulated,
    Webhook,
}

impl Settings {
    /// Loads the layers; `file` is the operator's optional `--config`.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // `__` nests: PACER_WEBHOOKS__ACME__URL is `webhooks.acme.url`. Variables that name no
        // setting are left out here and warned about by the caller.
        figment = figment.merge(Env::prefixed("PACER_").split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            is_setting(&key) && from_file(&key).is_none()
        }));
        let extras = env_extras(std::env::vars());
        for (key, variable, path) in &extras.files {
            let plain = variable.trim_end_matches("_FILE");
            if std::env::var_os(plain).is_some() {
                return Err(Box::new(figment::Error::from(format!(
                    "{variable}: set either {plain} or {variable}, not both"
                ))));
            }
            let text = std::fs::read_to_string(path).map_err(|error| {
                Box::new(figment::Error::from(format!(
                    "{variable}: cannot read `{path}`: {error}"
                )))
            })?;
            let value = text.trim_end_matches(['\n', '\r']).to_owned();
            figment = figment.merge(Serialized::default(key, value));
        }
        let mut settings: Self = figment.extract().map_err(Box::new)?;
        settings
            .check()
            .map_err(|message| Box::new(figment::Error::from(message)))?;
        settings.unknown_env = extras.unknown;
        Ok(settings)
    }

    /// Checks what types alone cannot: values that must go together, ranges.
    pub fn check(&self) -> Result<(), String> {
        if self.dialer == DialerKind::Webhook {
            if self.dialer_url.as_deref().is_none_or(str::is_empty) {
                return Err("dialer_url: required when dialer = \"webhook\"".to_owned());
            }
            if self.dialer_secret.is_none() {
                return Err("dialer_secret: required when dialer = \"webhook\"".to_owned());
            }
        }
        // The secret also verifies call events, whatever the dialer: never a short one.
        if self
            .dialer_secret
            .as_deref()
            .is_some_and(|secret| secret.len() < 16)
        {
            return Err("dialer_secret: at least 16 characters".to_owned());
        }
        if let Some(url) = &self.redis_url {
            check_redis_url(url, self.redis_cluster)?;
        }
        if let Some(cps) = self.dialer_max_cps
            && !(cps.is_finite() && cps > 0.0)
        {
            return Err(format!("dialer_max_cps: `{cps}` must be a positive number"));
        }
        if self.claim_ahead_ms > 60_000 || self.claim_lead_ms > self.claim_ahead_ms {
            return Err(format!(
                "claim_ahead_ms, claim_lead_ms: `{}`, `{}`: the horizon is at most 60000 and the lead at most the horizon",
                self.claim_ahead_ms, self.claim_lead_ms
            ));
        }
        if self.lease_ttl_ms < 300 {
            return Err(format!(
                "lease_ttl_ms: `{}` is below 300 (renewals need a few round trips)",
                self.lease_ttl_ms
            ));
        }
        if !(self.auth_failures_per_sec.is_finite() && self.auth_failures_per_sec > 0.0) {
            return Err(format!(
                "auth_failures_per_sec: `{}` must be a positive number",
                self.auth_failures_per_sec
            ));
        }
        if self.webhook_max_attempts == 0 || self.webhook_outbox_max == 0 {
            return Err("webhook_max_attempts and webhook_outbox_max: must be above 0".to_owned());
        }
        if self.max_connections == 0 || self.header_timeout_ms == 0 || self.body_timeout_ms == 0 {
            return Err(
                "max_connections, header_timeout_ms and body_timeout_ms: must be above 0"
                    .to_owned(),
            );
        }
        if !(self.rate_limit_per_sec.is_finite() && self.rate_limit_per_sec > 0.0) {
            return Err(format!(
                "rate_limit_per_sec: `{}` must be a positive number",
                self.rate_limit_per_sec
            ));
        }
        for (org, target) in &self.webhooks {
            crate::domain::OrgId::parse(org).map_err(|error| format!("webhooks.{org}: {error}"))?;
            reqwest::Url::parse(&target.url).map_err(|error| {
                format!("webhooks.{org}.url: `{}` is not a URL: {error}", target.url)
            })?;
            if target.secret.len() < 16 {
                return Err(format!("webhooks.{org}.secret: at least 16 characters"));
            }
        }
        Ok(())
    }

    /// What the log says of the store, without secrets: `memory`, or Redis' scheme and
    /// addresses (a URL may carry a password).
    pub fn store_description(&self) -> String {
        let Some(url) = &self.redis_url else {
            return "memory".to_owned();
        };
        let addresses: Vec<String> = url
            .split(',')
            .filter_map(|url| {
                let url = reqwest::Url::parse(url.trim()).ok()?;
                Some(format!(
                    "{}://{}:{}",
                    url.scheme(),
                    url.host_str()?,
                    url.port().unwrap_or(6379)
                ))
            })
            .collect();
        let kind = if self.redis_cluster {
            "redis cluster"
        } else {
            "redis"
        };
        format!("{kind} {}", addresses.join(","))
    }

    /// The built-in defaults alone (tests start from these).
    pub fn defaults() -> Self {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .expect("the built-in defaults are valid")
    }

    pub fn cores() -> usize {
        std::thread::available_parallelism().map_or(2, usize::from)
    }
}

/// Checks each URL of `redis_url` (a comma list for a cluster): `redis://` or `rediss://`, with a
/// host; a password and an ACL user may be given in it.
fn check_redis_url(urls: &str, cluster: bool) -> Result<(), String> {
    let urls: Vec<&str> = urls.split(',').map(str::trim).collect();
    if urls.len() > 1 && !cluster {
        return Err(
            "redis_url: several URLs are for a Redis Cluster (set redis_cluster = true)".to_owned(),
        );
    }
    for url in urls {
        // The URL is not repeated: it may carry a password.
        let parsed =
            reqwest::Url::parse(url).map_err(|error| format!("redis_url: not a URL ({error})"))?;
        if !matches!(parsed.scheme(), "redis" | "rediss") {
            return Err(format!(
                "redis_url: the scheme must be redis:// or rediss://, not {}://",
                parsed.scheme()
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("redis_url: the URL names no host".to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_are_the_fields_of_the_settings() {
        // serde lists the fields it expects when it meets an unknown one.
        let error = Figment::from(Toml::string(DEFAULTS))
            .merge(Toml::string("not_a_setting = 1"))
            .extract::<Settings>()
            .unwrap_err()
            .to_string();
        // "… expected `one of `listen`, `api_keys`, …, `webhooks`` for key …"
        let expected = error.split("one of ").nth(1).unwrap_or_default();
        let expected = expected.split("` for key").next().unwrap_or_default();
        let mut fields: Vec<&str> = expected
            .split(", ")
            .map(|field| field.trim_matches('`'))
            .collect();
        fields.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(fields, keys, "{error}");
    }

    fn vars(names: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        names
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn pacer_variables_that_are_no_setting_are_listed_and_file_variables_found() {
        let extras = env_extras(vars(&[
            ("PACER_LISTEN", "127.0.0.1:1"),
            ("PACER_KEY", "pk_…"),
            // The command-line client's own.
            ("PACER_API_KEY", "pk_…"),
            ("PACER_URL", "http://127.0.0.1:8080"),
            ("PACER_PORT", "tcp://10.0.0.1:8080"),
            ("PACER_SERVICE_HOST", "10.0.0.1"),
            ("PACER_WEBHOOKS__ACME__URL", "https://acme.example"),
            ("PACER_DIALER_SECRET_FILE", "/run/secrets/dialer"),
            ("PACER_WEBHOOKS__ACME__SECRET_FILE", "/run/secrets/acme"),
            ("PACER_LISTEN_FILE", "/run/secrets/listen"),
            ("HOME", "/root"),
        ]));
        assert_eq!(
            extras.unknown,
            [
                "PACER_KEY",
                "PACER_LISTEN_FILE",
                "PACER_PORT",
                "PACER_SERVICE_HOST"
            ]
        );
        assert_eq!(
            extras.files,
            [
                (
                    "dialer_secret".to_owned(),
                    "PACER_DIALER_SECRET_FILE".to_owned(),
                    "/run/secrets/dialer".to_owned()
                ),
                (
                    "webhooks.acme.secret".to_owned(),
                    "PACER_WEBHOOKS__ACME__SECRET_FILE".to_owned(),
                    "/run/secrets/acme".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_redis_url_is_checked_and_never_repeated_in_the_error() {
        let mut settings = Settings::defaults();
        for bad in [
            "http://x",
            "not a url",
            "redis://",
            "redis://:s3cret@x:6379/,redis://y/",
        ] {
            settings.redis_url = Some(bad.to_owned());
            let error = settings.check().unwrap_err();
            assert!(error.starts_with("redis_url: "), "{bad}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        for good in [
            "redis://127.0.0.1:6379/",
            "rediss://user:pass@cache.example:6380/0",
        ] {
            settings.redis_url = Some(good.to_owned());
            assert_eq!(settings.check(), Ok(()), "{good}");
        }
        settings.redis_url = Some("rediss://user:s3cret@cache.example:6380/0".to_owned());
        assert_eq!(
            settings.store_description(),
            "redis rediss://cache.example:6380"
        );
    }

    #[test]
    fn the_built_in_defaults_load() {
        let settings = Settings::defaults();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.dialer, DialerKind::Simulated);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let error = Figment::from(Toml::string(DEFAULTS))
            .merge(Toml::string("listen = \"not an address\""))
            .extract::<Settings>()
            .unwrap_err();
        assert!(error.to_string().contains("listen"), "{error}");
    }

    #[test]
    fn the_webhook_dialer_needs_its_url_and_secret() {
        let mut settings = Settings::defaults();
        settings.dialer = DialerKind::Webhook;
        assert!(settings.check().unwrap_err().starts_with("dialer_url"));
        settings.dialer_url = Some("http://127.0.0.1:9/dial".to_owned());
        assert!(settings.check().unwrap_err().starts_with("dialer_secret"));
        settings.dialer_secret = Some("short".to_owned());
        assert!(settings.check().unwrap_err().starts_with("dialer_secret"));
        settings.dialer = DialerKind::Simulated;
        // Call events are verified with it whatever the dialer.
        assert!(settings.check().unwrap_err().starts_with("dialer_secret"));
        settings.dialer = DialerKind::Webhook;
        settings.dialer_secret = Some("0123456789abcdef".to_owned());
        assert_eq!(settings.check(), Ok(()));
        assert!(!format!("{settings:?}").contains("0123456789abcdef"));
        settings.dialer_max_cps = Some(-1.0);
        assert!(settings.check().unwrap_err().contains("`-1`"));
    }
}
