//! The actor shell: one [`CampaignActor`] per campaign dispatched on this node (its dispatch
//! step in `step.rs`), the [`Directory`] that finds or starts it and routes to it, the
//! [`NodeServices`] every actor works with, and the supervised pool of dialer actors. Decisions
//! live in `domain` and `store`; actors only sequence the I/O and keep timers.

mod campaign;
mod dialers;
mod directory;
mod screen;
mod services;
mod step;

pub use campaign::{CampaignActor, CampaignOp, OpResult};
pub use dialers::{DialerActor, DialerPool};
pub use directory::{Directory, DirectoryOptions, STEPS_AT_ONCE, generated_node_id};
pub use screen::SuppressionGates;
pub use services::NodeServices;
