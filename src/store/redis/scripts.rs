//! The Lua scripts (`scripts/*.lua`), loaded once and sent by SHA (`redis::Script` loads a
//! script again on `NOSCRIPT`).

use std::sync::Arc;

use redis::Script;

use super::batch::Batcher;

pub(super) struct Scripts {
    pub(super) add_contacts: Script,
    pub(super) claim: Arc<Batcher>,
    pub(super) record: Arc<Batcher>,
    /// A step's record and claim in one run: `step.lua` over both as functions.
    pub(super) step: Arc<Batcher>,
    pub(super) release: Script,
    pub(super) commit: Script,
    pub(super) delete: Script,
    pub(super) lease: Script,
    pub(super) renew_leases: Script,
    pub(super) gcra: Script,
    pub(super) hold: Script,
    pub(super) heartbeat: Script,
    pub(super) idempotency_keep: Script,
    pub(super) relay: Script,
    pub(super) dead_letter: Script,
    pub(super) events_trim: Script,
    pub(super) dnc_add: Script,
    pub(super) dnc_remove: Script,
    pub(super) screen: Script,
    pub(super) cooldown: Script,
    pub(super) requeue: Script,
    pub(super) callback: Script,
}

/// The helpers of scripts that read or write call states, sent ahead of each (Redis scripts
/// cannot include one another).
pub(super) const CALL_STATE: &str = include_str!("scripts/call_state.lua");

const CLAIM: &str = include_str!("scripts/claim.lua");
const RECORD: &str = include_str!("scripts/record.lua");

/// A script that reads or writes call states: the helpers of `call_state.lua` go first.
pub(super) fn with_call_state(body: &str) -> Script {
    Script::new(&format!("{CALL_STATE}{body}"))
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            add_contacts: Script::new(include_str!("scripts/add_contacts.lua")),
            claim: Batcher::new(CLAIM),
            record: Batcher::new(RECORD),
            step: Batcher::new(&format!(
                "local function record(KEYS, ARGV)\n{RECORD}\nend\n\
                 local function claim(KEYS, ARGV)\n{CLAIM}\nend\n{}",
                include_str!("scripts/step.lua")
            )),
            release: with_call_state(include_str!("scripts/release.lua")),
            commit: Script::new(include_str!("scripts/commit.lua")),
            delete: Script::new(include_str!("scripts/delete.lua")),
            lease: Script::new(include_str!("scripts/lease.lua")),
            renew_leases: Script::new(include_str!("scripts/renew_leases.lua")),
            gcra: Script::new(include_str!("scripts/gcra.lua")),
            hold: Script::new(include_str!("scripts/hold.lua")),
            heartbeat: Script::new(include_str!("scripts/heartbeat.lua")),
            idempotency_keep: Script::new(include_str!("scripts/idempotency_keep.lua")),
            relay: Script::new(include_str!("scripts/relay.lua")),
            dead_letter: Script::new(include_str!("scripts/dead_letter.lua")),
            events_trim: Script::new(include_str!("scripts/events_trim.lua")),
            dnc_add: Script::new(include_str!("scripts/dnc_add.lua")),
            dnc_remove: Script::new(include_str!("scripts/dnc_remove.lua")),
            screen: Script::new(include_str!("scripts/screen.lua")),
            cooldown: Script::new(include_str!("scripts/cooldown.lua")),
            requeue: with_call_state(include_str!("scripts/requeue.lua")),
            callback: with_call_state(include_str!("scripts/callback.lua")),
        }
    }
}
