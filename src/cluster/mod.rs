//! Many nodes, one store: each campaign is dispatched by the one node that holds its lease.
//! `leases.rs` keeps this node's leases; `control.rs` carries notes between nodes.

mod control;
mod leases;

pub use control::{ControlBus, Note, Notes};
pub use leases::LeaseBook;
