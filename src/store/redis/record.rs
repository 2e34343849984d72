//! The record script's side of the dispatch path: outcomes recorded alone, or as the first half
//! of a step's run (`Inner::record_and_claim`), and what its reply says.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::batch::Run;
use super::connections::Connection;
use super::dispatch::AfterRecord;
use super::records::{Meta, ms};
use super::replies::RecordReply;
use super::{Inner, unavailable};
use crate::domain::{CampaignId, PacingState};
use crate::store::rules;
use crate::store::{Outcome, Recorded, StoreError, unix_hour};

impl Inner {
    /// Records outcomes in one script; the retry due time is computed here once (it needs the
    /// tz database) and used by the script for whichever outcome is retried.
    pub(super) async fn record(
        &self,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut con = self.connection().await?;
        let (meta, pacing) = self.read_for_dispatch(&mut con, id, now).await?;
        let (run, known) = self.record_run(&meta, &pacing, id, outcomes, now);
        let reply = self.scripts.record.run(con.clone(), run).await?;
        self.after_record(&mut con, id, &reply, known, now).await
    }

    /// The record script's run for `outcomes`, and which of them name a contact of the campaign
    /// (the others are duplicates, not sent).
    pub(super) fn record_run(
        &self,
        meta: &Meta,
        pacing: &PacingState,
        id: CampaignId,
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> (Run, Vec<bool>) {
        let schedule = &meta.campaign.spec.schedule;
        let not_before = now + chrono::Duration::minutes(i64::from(schedule.retry.delay_minutes));
        let retry_due = schedule.slot_at_or_after(pacing, not_before);
        let keys = self.keys.campaign(id);
        let mut invocation = Run::new(outcomes.len() as u32);
        invocation
            .key(keys.meta())
            .key(keys.calls())
            .key(keys.inflight())
            .key(keys.retry())
            .key(keys.released())
            .key(keys.stats())
            .key(keys.events())
            .arg(ms(now))
            .arg(if !schedule.retry.enabled {
                "0"
            } else if schedule.expires_at.is_some_and(|at| at <= now) {
                // Past the campaign's expiry: what would be retried expires.
                "x"
            } else {
                "1"
            })
            .arg(schedule.retry.max_retries)
            .arg(ms(retry_due))
            .arg(unix_hour(now))
            .arg(u8::from(self.records_events(&meta.campaign.org)));
        let mut known = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            // An id of another campaign names no contact here: a duplicate, by definition.
            let Some(sequence) = rules::contact_sequence(id, outcome.contact) else {
                known.push(false);
                continue;
            };
            known.push(true);
            invocation
                .arg(sequence)
                .arg(outcome.attempt)
                .arg(outcome.result.outcome.as_str())
                .arg(outcome.result.duration_secs);
        }
        (invocation, known)
    }

    /// What the record script's `reply` says of each outcome (`known`: those sent to it); what
    /// it says of the campaign is kept for a claim of the same instant (`answer_from_record`).
    pub(super) async fn after_record(
        &self,
        con: &mut Connection,
        id: CampaignId,
        reply: &[redis::Value],
        known: Vec<bool>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>, StoreError> {
        let Some(reply) = RecordReply::read(reply)? else {
            return Err(StoreError::NotFound);
        };
        let (status, events) = (reply.status, reply.events);
        let in_flight = reply.queue.in_flight;
        if status.is_terminal() && in_flight == 0 && events == 0 {
            let _: () = con
                .srem(self.keys.live(), id.to_string())
                .await
                .map_err(unavailable)?;
        }
        let after = AfterRecord {
            now,
            version: reply.version,
            status,
            queue: reply.queue,
            events,
        };
        self.recorded.lock().insert(id, after);
        let mut applied = reply.applied.into_iter();
        Ok(known
            .into_iter()
            .map(|known| {
                // Only outcomes sent to the script have a flag in its reply.
                if known && applied.next() == Some(true) {
                    Recorded::Applied { status, in_flight }
                } else {
                    Recorded::Duplicate
                }
            })
            .collect())
    }
}
