//! Settings: `config/default.toml` (built in), then an optional file, then `PACER_*` variables.
//! A bad value is reported with its key and the value that was given.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
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
    pub redis_prefix: String,
    pub redis_connections: usize,
    pub redis_timeout_ms: u64,
    /// A placed call without an outcome after this many seconds ends `unknown`.
    pub call_deadline_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialerKind {
    Simulated,
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
        figment
            .merge(Env::prefixed("PACER_"))
            .extract()
            .map_err(Box::new)
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
}
