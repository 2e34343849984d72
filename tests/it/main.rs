//! The integration tests: one binary, one module per area.

mod api_auth;
mod api_call_safety;
mod api_dialer;
mod api_dnc;
mod api_expiry;
mod api_hardening;
mod api_import;
mod api_lifecycle;
mod api_operations;
mod api_pacing;
mod api_recovery;
mod api_requeue;
mod api_security;
mod api_validation;
mod cli;
mod cluster;
mod fakes;
mod helpers;
mod node_process;
mod store_conformance;
