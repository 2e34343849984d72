//! What the scripts answer, read into typed values: one reader per script whose reply has more
//! than one field, each field named after the script's `Returns` comment. A reply that is not
//! what its script returns (a bug, or a script of another version) is an error that names the
//! script and the field, never a default value.

use chrono::{DateTime, Utc};
use redis::Value;

use super::dispatch::Queue;
use super::records::instant;
use crate::domain::CampaignStatus;
use crate::store::StoreError;

/// A reply read field by field, in order.
struct Fields<'a> {
    script: &'static str,
    values: &'a [Value],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(script: &'static str, values: &'a [Value]) -> Self {
        Self {
            script,
            values,
            at: 0,
        }
    }

    fn malformed(&self, field: &str) -> StoreError {
        let found = self.values.get(self.at.saturating_sub(1));
        StoreError::Corrupt(format!(
            "reply of {}.lua: field {} ({field}) is {found:?}",
            self.script, self.at
        ))
    }

    fn next(&mut self) -> Option<&'a Value> {
        let value = self.values.get(self.at);
        self.at += 1;
        value
    }

    fn text(&mut self, field: &str) -> Result<String, StoreError> {
        match self.next() {
            Some(Value::BulkString(bytes)) => String::from_utf8(bytes.clone()).ok(),
            Some(Value::SimpleString(text)) => Some(text.clone()),
            _ => None,
        }
        .ok_or_else(|| self.malformed(field))
    }

    /// A text, or nil.
    fn text_or_nil(&mut self, field: &str) -> Result<Option<String>, StoreError> {
        if let Some(Value::Nil) = self.values.get(self.at) {
            self.at += 1;
            return Ok(None);
        }
        self.text(field).map(Some)
    }

    /// An integer, sent as one or as its digits (a hash field read back).
    fn int(&mut self, field: &str) -> Result<i64, StoreError> {
        match self.next() {
            Some(Value::Int(n)) => Some(*n),
            Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse().ok()),
            _ => None,
        }
        .ok_or_else(|| self.malformed(field))
    }

    fn count(&mut self, field: &str) -> Result<u64, StoreError> {
        let n = self.int(field)?;
        u64::try_from(n).map_err(|_| self.malformed(field))
    }

    fn status(&mut self, field: &str) -> Result<CampaignStatus, StoreError> {
        let text = self.text(field)?;
        CampaignStatus::parse(&text).ok_or_else(|| self.malformed(field))
    }

    /// An instant in milliseconds (a sorted set's score may come as a float's text), or nil.
    fn instant(&mut self, field: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.next() {
            None | Some(Value::Nil) => Ok(None),
            Some(Value::Int(ms)) => Ok(Some(instant(*ms))),
            Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse::<f64>().ok())
                .map(|ms| Some(instant(ms as i64)))
                .ok_or_else(|| self.malformed(field)),
            Some(_) => Err(self.malformed(field)),
        }
    }

    /// The fields not read yet.
    fn rest(&self) -> &'a [Value] {
        self.values.get(self.at..).unwrap_or_default()
    }

    /// The first field, if it is one of `words` (the scripts' one-word answers).
    fn word(&self, words: &[&'static str]) -> Option<&'static str> {
        let first = match self.values.first() {
            Some(Value::BulkString(bytes)) => bytes.as_slice(),
            Some(Value::SimpleString(text)) => text.as_bytes(),
            _ => return None,
        };
        words.iter().copied().find(|word| word.as_bytes() == first)
    }
}

/// The queue fields that the claim and record scripts both report, at the same places.
fn queue(fields: &mut Fields<'_>, in_flight: u32) -> Result<Queue, StoreError> {
    let first_retry = fields.instant("first retry ms")?;
    let n_fresh = u64::try_from(fields.int("n_fresh")?).unwrap_or(0);
    let first_deadline = fields.instant("first in-flight deadline ms")?;
    Ok(Queue {
        in_flight,
        first_retry,
        n_fresh,
        first_deadline,
    })
}

fn in_flight(fields: &mut Fields<'_>) -> Result<u32, StoreError> {
    let n = fields.count("n_in_flight")?;
    u32::try_from(n).map_err(|_| fields.malformed("n_in_flight"))
}

/// What `claim.lua` answered.
pub(super) enum ClaimReply {
    /// The fence is not the campaign's lease (or the campaign is gone).
    Stale,
    /// The campaign's version moved since the gate was decided: read again.
    Retry,
    Claimed(Claimed),
}

/// A claim that ran.
pub(super) struct Claimed {
    pub(super) status: CampaignStatus,
    pub(super) queue: Queue,
    /// Claims of the campaign before this one (the caller id rotation's position).
    pub(super) n_claims_before: u64,
    pub(super) calls_today: u32,
    pub(super) next_slot_at: Option<DateTime<Utc>>,
    /// Webhook events waiting in the campaign's outbox.
    pub(super) events: u64,
    /// Contacts the callee gate put back (held or skipped), by partition.
    pub(super) put_back: Vec<(u32, u64)>,
    pub(super) contacts: Vec<ClaimedContact>,
}

/// A contact the claim moved to in-flight, as stored.
pub(super) struct ClaimedContact {
    pub(super) sequence: u32,
    pub(super) details: String,
    /// Its call state; none for a first attempt (`ContactRecord::first_attempt`).
    pub(super) state: Option<String>,
}

impl ClaimReply {
    pub(super) fn read(values: &[Value]) -> Result<Self, StoreError> {
        let mut fields = Fields::new("claim", values);
        match fields.word(&["STALE", "RETRY"]) {
            Some("STALE") => return Ok(Self::Stale),
            Some(_) => return Ok(Self::Retry),
            None => {}
        }
        let status = fields.status("status")?;
        let in_flight = in_flight(&mut fields)?;
        let n_claims_before = fields.count("n_claims_before")?;
        let queue = queue(&mut fields, in_flight)?;
        let calls_today = fields.count("calls today")?;
        let calls_today = u32::try_from(calls_today).map_err(|_| fields.malformed("calls"))?;
        let next_slot_at = fields.instant("next slot ms")?;
        let events = fields.count("events waiting")?;
        let put_back = fields.text("put back")?;
        let put_back = put_back
            .split_whitespace()
            .map(|pair| {
                let (partition, n) = pair.split_once('=')?;
                Some((partition.parse().ok()?, n.parse().ok()?))
            })
            .collect::<Option<Vec<(u32, u64)>>>()
            .ok_or_else(|| fields.malformed("put back"))?;
        let rest = fields.rest();
        if !rest.len().is_multiple_of(3) {
            return Err(fields.malformed("(seq, details, state) triples"));
        }
        let mut contacts = Vec::with_capacity(rest.len() / 3);
        let mut triples = Fields::new("claim", rest);
        for _ in 0..rest.len() / 3 {
            let sequence = triples.count("seq")?;
            contacts.push(ClaimedContact {
                sequence: u32::try_from(sequence).map_err(|_| triples.malformed("seq"))?,
                details: triples.text("details")?,
                state: triples.text_or_nil("state")?,
            });
        }
        Ok(Self::Claimed(Claimed {
            status,
            queue,
            n_claims_before,
            calls_today,
            next_slot_at,
            events,
            put_back,
            contacts,
        }))
    }
}

/// What `record.lua` answered: the campaign after the outcomes, and which of them applied.
pub(super) struct RecordReply {
    pub(super) status: CampaignStatus,
    pub(super) version: String,
    pub(super) queue: Queue,
    pub(super) events: u64,
    /// One per outcome sent: applied (`true`) or a duplicate.
    pub(super) applied: Vec<bool>,
}

impl RecordReply {
    /// `None` when the campaign is gone.
    pub(super) fn read(values: &[Value]) -> Result<Option<Self>, StoreError> {
        let mut fields = Fields::new("record", values);
        if fields.word(&["NOT_FOUND"]).is_some() {
            return Ok(None);
        }
        let status = fields.status("status")?;
        let in_flight = in_flight(&mut fields)?;
        let version = fields.text("version")?;
        let queue = queue(&mut fields, in_flight)?;
        let events = fields.count("events waiting")?;
        let applied = fields.text("applied")?.bytes().map(|c| c == b'1').collect();
        Ok(Some(Self {
            status,
            version,
            queue,
            events,
            applied,
        }))
    }
}

/// What `add_contacts.lua` answered for one chunk.
pub(super) enum AddContactsReply {
    /// How many were added, and the indexes (in the chunk) of the rows skipped as duplicates.
    Added {
        n_added: u64,
        skipped: Vec<usize>,
    },
    /// The campaign is in a status that takes no contacts.
    State(CampaignStatus),
    NotFound,
}

impl AddContactsReply {
    pub(super) fn read(values: &[Value]) -> Result<Self, StoreError> {
        let mut fields = Fields::new("add_contacts", values);
        match fields.word(&["OK", "STATE", "NOT_FOUND"]) {
            Some("NOT_FOUND") => return Ok(Self::NotFound),
            Some("STATE") => {
                fields.next();
                return Ok(Self::State(fields.status("status")?));
            }
            Some(_) => {
                fields.next();
            }
            None => return Err(fields.malformed("'OK', 'STATE' or 'NOT_FOUND'")),
        }
        let n_added = fields.count("n_added")?;
        let mut skipped = Vec::new();
        for _ in 0..fields.rest().len() {
            let row = fields.count("skipped row index")?;
            skipped.push(usize::try_from(row).map_err(|_| fields.malformed("row"))?);
        }
        Ok(Self::Added { n_added, skipped })
    }
}

/// What `commit.lua` answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CommitReply {
    Committed,
    /// The campaign's version moved since the change was decided: read again.
    Retry,
    NotFound,
}

impl CommitReply {
    pub(super) fn read(reply: &str) -> Result<Self, StoreError> {
        match reply {
            "OK" => Ok(Self::Committed),
            "RETRY" => Ok(Self::Retry),
            "NOT_FOUND" => Ok(Self::NotFound),
            other => Err(StoreError::Corrupt(format!(
                "reply of commit.lua: {other:?}"
            ))),
        }
    }
}

/// What `delete.lua` answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DeleteReply {
    Deleted,
    NotFound,
    /// The campaign is in a status that may not be deleted.
    NotDeletable(CampaignStatus),
}

impl DeleteReply {
    pub(super) fn read(reply: &str) -> Result<Self, StoreError> {
        match reply {
            "OK" => Ok(Self::Deleted),
            "NOT_FOUND" => Ok(Self::NotFound),
            status => CampaignStatus::parse(status)
                .map(Self::NotDeletable)
                .ok_or_else(|| StoreError::Corrupt(format!("reply of delete.lua: {status:?}"))),
        }
    }
}

/// The message of a script's error reply (`{nil, message}` in a batch), for the log.
pub(super) fn error_message(value: Option<&Value>) -> String {
    match value {
        Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::SimpleString(text)) => text.clone(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn a_claim_reply_is_read_into_named_fields() {
        let reply = [
            bulk("active"),
            Value::Int(2),
            bulk("7"),
            bulk("1764489600000"),
            Value::Int(3),
            Value::Nil,
            Value::Int(1),
            Value::Nil,
            Value::Int(4),
            bulk("2=3 5=1"),
            Value::Int(12),
            bulk("{}"),
            bulk("2|in_progress|c|1|||"),
            Value::Int(13),
            bulk("{}"),
            Value::Nil,
        ];
        let ClaimReply::Claimed(claimed) = ClaimReply::read(&reply).unwrap() else {
            panic!("a claim");
        };
        assert_eq!(claimed.status, CampaignStatus::Active);
        assert_eq!(claimed.queue.in_flight, 2);
        assert_eq!(claimed.n_claims_before, 7);
        assert_eq!(claimed.queue.first_retry, Some(instant(1_764_489_600_000)));
        assert!(claimed.queue.n_fresh > 0);
        assert_eq!(claimed.queue.first_deadline, None);
        assert_eq!((claimed.calls_today, claimed.next_slot_at), (1, None));
        assert_eq!(claimed.events, 4);
        assert_eq!(claimed.put_back, [(2, 3), (5, 1)]);
        assert_eq!(claimed.contacts.len(), 2);
        assert_eq!(claimed.contacts[0].sequence, 12);
        assert_eq!(
            claimed.contacts[0].state.as_deref(),
            Some("2|in_progress|c|1|||")
        );
        assert_eq!(claimed.contacts[1].sequence, 13);
        assert_eq!(claimed.contacts[1].state, None);
        assert!(matches!(
            ClaimReply::read(&[bulk("STALE")]),
            Ok(ClaimReply::Stale)
        ));
    }

    #[test]
    fn a_malformed_reply_is_an_error_naming_the_script_and_field() {
        // A status that is no status, a count that is no number, a triple cut short.
        let bad_status = [bulk("sleeping"), Value::Int(0)];
        let error = ClaimReply::read(&bad_status).err().expect("refused");
        assert!(error.to_string().contains("claim.lua"), "{error}");
        assert!(error.to_string().contains("status"), "{error}");
        let bad_count = [bulk("active"), bulk("many")];
        let error = RecordReply::read(&bad_count).err().expect("refused");
        assert!(error.to_string().contains("n_in_flight"), "{error}");
        let mut cut = vec![
            bulk("active"),
            Value::Int(0),
            Value::Int(0),
            Value::Nil,
            Value::Int(0),
            Value::Nil,
            Value::Int(0),
            Value::Nil,
            Value::Int(0),
        ];
        cut.extend([Value::Int(1), bulk("{}")]);
        assert!(ClaimReply::read(&cut).is_err());
        assert!(AddContactsReply::read(&[bulk("MAYBE")]).is_err());
        assert!(AddContactsReply::read(&[]).is_err());
        assert_eq!(CommitReply::read("RETRY").unwrap(), CommitReply::Retry);
        assert!(CommitReply::read("").is_err());
        assert_eq!(
            DeleteReply::read("active").unwrap(),
            DeleteReply::NotDeletable(CampaignStatus::Active)
        );
        assert!(DeleteReply::read("gone").is_err());
    }
}
