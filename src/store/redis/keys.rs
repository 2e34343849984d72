//! The Redis key layout, known nowhere else. Every key of one campaign carries the hash tag
//! `{c:<uuid>}`, so that on a Redis Cluster they share one slot and one script can touch them all.

use sha2::Digest as _;

use crate::domain::{CallId, CampaignId, OrgId};

/// Contacts per bucket hash (the scripts use the same number).
pub(super) const CONTACTS_PER_BUCKET: u32 = 128;

/// Keys under one prefix (one per deployment; one per test in the test suite).
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

/// The keys of one organisation's webhooks (see [`Keys::outbox`]).
#[derive(Debug, Clone)]
pub(super) struct OutboxKeys {
    pub(super) outbox: String,
    pub(super) seq: String,
    pub(super) relayed: String,
    pub(super) dead: String,
    pub(super) dead_letters: String,
    pub(super) dead_seq: String,
}

/// The keys of one organisation's do-not-call list (see [`Keys::dnc`]).
#[derive(Debug, Clone)]
pub(super) struct DncKeys {
    base: String,
    pub(super) prefixes: String,
    pub(super) sizes: String,
}

/// Number buckets of a do-not-call list: 10 M numbers make about 76 a bucket, under Redis'
/// 128 fields of a compact hash.
pub(super) const DNC_BUCKETS: u32 = 1 << 17;

impl DncKeys {
    /// The bucket of `digits` (a number without its `+`): FNV-1a, spread evenly whatever the
    /// numbers' shape.
    pub(super) fn bucket_of(digits: &str) -> u32 {
        let hash = digits.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        hash % DNC_BUCKETS
    }

    pub(super) fn bucket(&self, n: u32) -> String {
        format!("{}:dnc:{n}", self.base)
    }

    /// The bucket of attempts counted against frequency caps for numbers of bucket `n`.
    pub(super) fn attempts(&self, n: u32) -> String {
        format!("{}:fq:{n}", self.base)
    }
}

/// The keys of one campaign.
#[derive(Debug, Clone)]
pub(super) struct CampaignKeys {
    base: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub(super) fn campaign(&self, id: CampaignId) -> CampaignKeys {
        CampaignKeys {
            base: format!("{}{{c:{id}}}", self.prefix),
        }
    }

    /// The organisation's campaigns, scored by creation time.
    pub(super) fn org(&self, org: &OrgId) -> String {
        format!("{}org:{org}", self.prefix)
    }

    /// Counter of campaigns created: their order in the organisation's index.
    pub(super) fn creations(&self) -> String {
        format!("{}creations", self.prefix)
    }

    /// String: `<campaign>:<contact>:<attempt>` of a call id, with a TTL.
    pub(super) fn call(&self, call: CallId) -> String {
        format!("{}call:{call}", self.prefix)
    }

    /// The organisation's webhook keys, one hash tag for all (one script writes several):
    /// the outbox (sorted set of `<seq>|<id>|<at ms>|<body>` by sequence) and its counter,
    /// the last event of each campaign moved to it (hash), and the dead letters (sorted set of
    /// ids in the order they died, hash id → `<at ms>|<died ms>|<reason>\n<body>`, and their
    /// counter).
    pub(super) fn outbox(&self, org: &OrgId) -> OutboxKeys {
        let base = format!("{}{{o:{org}}}", self.prefix);
        OutboxKeys {
            outbox: format!("{base}:outbox"),
            seq: format!("{base}:outbox_seq"),
            relayed: format!("{base}:relayed"),
            dead: format!("{base}:dead"),
            dead_letters: format!("{base}:dead_letters"),
            dead_seq: format!("{base}:dead_seq"),
        }
    }

    /// The organisation's do-not-call list, on the hash tag of its outbox: hashes `dnc:<n>` of
    /// numbers (digits without `+`, in bucket [`DncKeys::bucket_of`]) → `<created s>|<expires
    /// ms or ''>|<reason>`, hash `dnc_prefixes` of prefixes (digits) → the same, and the string
    /// `dnc_sizes`, each bucket's count as a big-endian u16 (what a page skips over); and hashes
    /// `fq:<n>` of the attempts counted against frequency caps: number digits → the Unix
    /// seconds of its attempts still inside the longest cap, comma-separated.
    pub(super) fn dnc(&self, org: &OrgId) -> DncKeys {
        let base = format!("{}{{o:{org}}}", self.prefix);
        DncKeys {
            prefixes: format!("{base}:dnc_prefixes"),
            sizes: format!("{base}:dnc_sizes"),
            base,
        }
    }

    /// The digest that names a client's idempotency key (the key itself may be anything).
    pub(super) fn idempotency_digest(key: &str) -> String {
        hex::encode(sha2::Sha256::digest(key.as_bytes()))
    }

    /// The base of an organisation's idempotency keys, one hash tag for all of them: string
    /// `<base><digest>`, a key's reservation and response.
    pub(super) fn idempotency_base(&self, org: &OrgId) -> String {
        format!("{}{{i:{org}}}:k:", self.prefix)
    }

    /// Sorted set of the organisation's kept responses (`<digest>|<bytes>` by when each was
    /// kept) and their byte count.
    pub(super) fn idempotency_index(&self, org: &OrgId) -> (String, String) {
        let base = format!("{}{{i:{org}}}", self.prefix);
        (format!("{base}:kept"), format!("{base}:kept_bytes"))
    }

    /// Hash: node → "<expires ms>|<leases held>", the nodes' heartbeats.
    pub(super) fn nodes(&self) -> String {
        format!("{}nodes", self.prefix)
    }

    /// A pub/sub channel (channels are not keys: on a cluster they reach every shard).
    pub(super) fn channel(&self, name: &str) -> String {
        format!("{}bus:{name}", self.prefix)
    }

    /// String: the owner of a named lock, with its TTL.
    pub(super) fn lock(&self, name: &str) -> String {
        format!("{}lock:{name}", self.prefix)
    }

    /// String: a rate limiter's theoretical arrival time.
    pub(super) fn limiter(&self, name: &str) -> String {
        format!("{}rate:{name}", self.prefix)
    }

    /// Campaigns that need a dispatcher.
    pub(super) fn live(&self) -> String {
        format!("{}live", self.prefix)
    }
}

impl CampaignKeys {
    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.base)
    }

    /// Hash: definition, status, version, counters, pacing.
    pub(super) fn meta(&self) -> String {
        self.key("meta")
    }

    /// The base of the contact buckets: hash `contacts:<n>` holds contacts `128·n … 128·n+127`
    /// (sequence → record), small enough for Redis to store compactly.
    pub(super) fn contacts(&self) -> String {
        self.key("contacts")
    }

    /// The bucket of contact `sequence`.
    pub(super) fn contact_bucket(&self, sequence: u32) -> String {
        format!("{}:{}", self.contacts(), sequence / CONTACTS_PER_BUCKET)
    }

    /// Hash: sequence → callbacks set for the contact (against `max_callbacks`).
    pub(super) fn callbacks(&self) -> String {
        self.key("callbacks")
    }

    /// The base of the call-state buckets, `calls:<n>` beside `contacts:<n>`.
    pub(super) fn calls(&self) -> String {
        self.key("calls")
    }

    pub(super) fn calls_bucket(&self, sequence: u32) -> String {
        format!("{}:{}", self.calls(), sequence / CONTACTS_PER_BUCKET)
    }

    /// Set: the campaign's phone numbers, for duplicates.
    pub(super) fn phones(&self) -> String {
        self.key("phones")
    }

    /// Sorted set: contacts never called that went back to the queue after a claim, by
    /// sequence. The other contacts never called are the sequences from the `cursor` on.
    pub(super) fn released(&self) -> String {
        self.key("released")
    }

    /// Sorted set: contacts to call again, by due time in ms; and `p<partition>`, the held
    /// contacts of a partition (see [`CampaignKeys::held`]), by when the partition opens.
    pub(super) fn retry(&self) -> String {
        self.key("retry")
    }

    /// The base of the held lists, `held:<partition>`: contacts never called that a claim put
    /// back because their partition's callee gate was closed, in their order. One member of
    /// `retry` per partition says when it opens; a held contact has no call state.
    pub(super) fn held(&self) -> String {
        self.key("held")
    }

    /// Sorted set: contacts in flight, by claim deadline in ms, negated (see `call_state.lua`).
    pub(super) fn inflight(&self) -> String {
        self.key("inflight")
    }

    /// Hash of call statistics: `o:<outcome>` counts, `dur` total seconds, `h:<Unix hour>` calls.
    pub(super) fn stats(&self) -> String {
        self.key("stats")
    }

    /// List: the campaign's webhook events, written by the steps (see `call_state.lua`), until
    /// they are relayed to the organisation's outbox.
    pub(super) fn events(&self) -> String {
        self.key("events")
    }

    /// String: the lease owner, with the lease's TTL.
    pub(super) fn lease(&self) -> String {
        self.key("lease")
    }
}
