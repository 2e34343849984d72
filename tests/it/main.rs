//! The integration tests: one binary, one module per area.

mod api_auth;
mod api_lifecycle;
mod api_pacing;
mod api_recovery;
mod api_validation;
mod helpers;
mod store_conformance;
