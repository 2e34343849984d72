//! Pacer: a dispatcher for outbound call campaigns.
//!
//! Reading order: `domain` (pure rules: state machine, schedule, pacing), `store` (the source of
//! truth, one atomic step per change), `dialer` (placing calls), `actors` (one actor per campaign
//! sequencing claims, dials and commands), `api` (HTTP), then `startup`, `config`, `clock` and
//! `telemetry` that wire and serve it; `faults` holds the fault hooks that only tests compile in.

pub mod actors;
pub mod api;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod dialer;
pub mod domain;
pub mod faults;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;
