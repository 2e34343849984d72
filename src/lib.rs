//! Pacer: a dispatcher for outbound call campaigns.
pub mod domain;
