//! Settings: `config/default.toml` (built in), then an optional file, then `PACER_*` variables.
//! A bad value is reported with its key and the value that was given.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use std::collections::BTreeMap;

use serde::Deserialize;

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
    pub actor_threads: usize,
    pub dialers: usize,
    pub claim_batch: u32,
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
}

/// Secrets (`api_keys`, `dialer_secret`, webhook secrets) never reach a log through `Debug`.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("api_keys", &"<redacted>")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("http_workers", &self.http_workers)
            .field("actor_threads", &self.actor_threads)
            .field("dialers", &self.dialers)
            .field("claim_batch", &self.claim_batch)
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
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialerKind {
    Simulated,
    Webhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Loads the layers; `file` is the operator's optional `--config`.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // `__` nests: PACER_WEBHOOKS__ACME__URL is `webhooks.acme.url`.
        let settings: Self = figment
            .merge(Env::prefixed("PACER_").split("__"))
            .extract()
            .map_err(Box::new)?;
        settings
            .check()
            .map_err(|message| Box::new(figment::Error::from(message)))?;
        Ok(settings)
    }

    /// Checks what types alone cannot: values that must go together, ranges.
    pub fn check(&self) -> Result<(), String> {
        if self.dialer == DialerKind::Webhook {
            if self.dialer_url.as_deref().is_none_or(str::is_empty) {
                return Err("dialer_url: required when dialer = \"webhook\"".to_owned());
            }
            if self
                .dialer_secret
                .as_deref()
                .is_none_or(|secret| secret.len() < 16)
            {
                return Err(
                    "dialer_secret: required when dialer = \"webhook\", at least 16 characters"
                        .to_owned(),
                );
            }
        }
        if let Some(cps) = self.dialer_max_cps
            && !(cps.is_finite() && cps > 0.0)
        {
            return Err(format!("dialer_max_cps: `{cps}` must be a positive number"));
        }
        if self.lease_ttl_ms < 300 {
            return Err(format!(
                "lease_ttl_ms: `{}` is below 300 (renewals need a few round trips)",
                self.lease_ttl_ms
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

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
        settings.dialer_secret = Some("0123456789abcdef".to_owned());
        assert_eq!(settings.check(), Ok(()));
        assert!(!format!("{settings:?}").contains("0123456789abcdef"));
        settings.dialer_max_cps = Some(-1.0);
        assert!(settings.check().unwrap_err().contains("`-1`"));
    }
}
