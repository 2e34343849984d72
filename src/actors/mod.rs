//! The actor shell: one [`CampaignActor`] per live campaign, the [`Directory`] that finds or
//! starts it, and the supervised pool of dialer actors. Decisions live in `domain` and `store`;
//! actors only sequence the I/O and keep timers.

mod campaign;
mod dialers;
mod directory;

pub use campaign::{CampaignActor, CampaignOp, OpResult};
pub use dialers::{DialerActor, DialerPool};
pub use directory::{Directory, DirectoryOptions, STEPS_AT_ONCE, generated_node_id};
