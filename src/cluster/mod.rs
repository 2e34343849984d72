//! Many nodes, one store: each campaign is dispatched by the one node that holds its lease.
//! `leases.rs` keeps this node's leases.

mod leases;

pub use leases::LeaseBook;
