//! Suppression: the organisation's do-not-call list, and the campaign steps that apply it (a
//! claimed contact skipped, a contact added while listed).

use std::sync::Arc;

use chrono::Duration;
use pacer::domain::{
    ContactId, ContactStatus, DncEntry, DncTarget, FrequencyCap, HeldReason, PhoneNumber,
    SkipReason,
};
use pacer::store::{CallResult, CampaignStore, DncAdded, DncFilter, NewContact, Page, Screened};

use super::*;

fn number(text: &str) -> DncTarget {
    DncTarget::Number(PhoneNumber::parse(text).unwrap())
}

fn prefix(text: &str) -> DncTarget {
    DncTarget::parse_prefix(text).unwrap()
}

fn entry(target: DncTarget) -> DncEntry {
    DncEntry {
        target,
        reason: None,
        expires_at: None,
        created_at: now(),
    }
}

fn phones(numbers: &[&str]) -> Vec<PhoneNumber> {
    numbers
        .iter()
        .map(|text| PhoneNumber::parse(text).unwrap())
        .collect()
}

async fn covering_targets(
    store: &dyn CampaignStore,
    numbers: &[&str],
    at: DateTime<Utc>,
) -> Vec<Option<String>> {
    store
        .dnc_covering(&org("acme"), &phones(numbers), at)
        .await
        .unwrap()
        .into_iter()
        .map(|found| found.map(|entry| entry.target.as_str().to_owned()))
        .collect()
}

async fn an_organisation_lists_anything_once_an_entry_is_added(store: Arc<dyn CampaignStore>) {
    let (acme, other) = (org("acme"), org("other"));
    assert!(!store.lists_any(&acme).await.unwrap(), "nothing listed yet");
    store
        .add_dnc(&acme, &[entry(number("+14155550101"))])
        .await
        .unwrap();
    assert!(store.lists_any(&acme).await.unwrap());
    assert!(!store.lists_any(&other).await.unwrap(), "per organisation");
    store
        .add_dnc(&other, &[entry(prefix("+1201"))])
        .await
        .unwrap();
    assert!(store.lists_any(&other).await.unwrap(), "a prefix alone");
}

async fn dnc_entries_are_added_found_listed_and_removed(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let in_a_day = now() + Duration::days(1);
    let mut entries = vec![
        entry(number("+14155550101")),
        entry(number("+14155550102")),
        entry(prefix("+1201")),
        entry(prefix("+120155")),
        DncEntry {
            reason: Some("customer asked | by phone".to_owned()),
            expires_at: Some(in_a_day),
            ..entry(number("+442071234567"))
        },
    ];
    let added = store.add_dnc(&acme, &entries).await.unwrap();
    assert_eq!(
        added,
        DncAdded {
            added: 5,
            updated: 0
        }
    );
    // A repeat takes the new reason and expiry and keeps its creation time.
    entries[0].reason = Some("opt_out".to_owned());
    entries[0].created_at = in_a_day;
    let added = store.add_dnc(&acme, &entries[..1]).await.unwrap();
    assert_eq!(
        added,
        DncAdded {
            added: 0,
            updated: 1
        }
    );
    let found = store
        .dnc_covering(&acme, &phones(&["+14155550101"]), now())
        .await
        .unwrap();
    let first = found[0].clone().expect("listed");
    assert_eq!(first.reason.as_deref(), Some("opt_out"));
    assert_eq!(first.created_at, now());

    // Exact entries, then the longest prefix; expired entries and other numbers are not listed.
    let targets = covering_targets(
        &*store,
        &[
            "+14155550101",
            "+12014440100",
            "+12015512345",
            "+442071234567",
            "+14155550199",
        ],
        now(),
    )
    .await;
    let expected = ["+14155550101", "+1201", "+120155", "+442071234567"];
    assert_eq!(
        targets,
        expected
            .iter()
            .map(|text| Some((*text).to_owned()))
            .chain([None])
            .collect::<Vec<_>>()
    );
    let later = covering_targets(&*store, &["+442071234567"], in_a_day).await;
    assert_eq!(
        later,
        [None],
        "an entry no longer applies from its expiry on"
    );

    // Pages cover every entry once, prefixes first.
    let mut seen = Vec::new();
    for offset in [0, 2, 4, 6] {
        let page = Page { limit: 2, offset };
        let listing = store
            .dnc_entries(&acme, &DncFilter::All, page)
            .await
            .unwrap();
        assert_eq!(listing.total, 5);
        seen.extend(listing.items.into_iter().map(|entry| entry.target));
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(&seen[..2], [prefix("+1201"), prefix("+120155")]);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "no entry twice");
    let one = DncFilter::Number(PhoneNumber::parse("+442071234567").unwrap());
    let listing = store.dnc_entries(&acme, &one, ALL).await.unwrap();
    assert_eq!(listing.total, 1);
    assert_eq!(listing.items[0].expires_at, Some(in_a_day));
    assert_eq!(
        listing.items[0].reason.as_deref(),
        Some("customer asked | by phone")
    );
    let under = DncFilter::PrefixesUnder("+12015".to_owned());
    let listing = store.dnc_entries(&acme, &under, ALL).await.unwrap();
    assert_eq!(listing.total, 1);
    assert_eq!(listing.items[0].target, prefix("+120155"));

    // Another organisation sees none of it.
    let other = org("other");
    let listing = store
        .dnc_entries(&other, &DncFilter::All, ALL)
        .await
        .unwrap();
    assert_eq!(listing.total, 0);
    let found = store
        .dnc_covering(&other, &phones(&["+14155550101"]), now())
        .await
        .unwrap();
    assert_eq!(found, [None]);
    assert!(
        !store
            .remove_dnc(&other, &number("+14155550101"))
            .await
            .unwrap()
    );

    assert!(
        store
            .remove_dnc(&acme, &number("+14155550101"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_dnc(&acme, &number("+14155550101"))
            .await
            .unwrap()
    );
    assert!(store.remove_dnc(&acme, &prefix("+120155")).await.unwrap());
    let targets = covering_targets(&*store, &["+14155550101", "+12015512345"], now()).await;
    assert_eq!(targets, [None, Some("+1201".to_owned())]);
    let listing = store
        .dnc_entries(&acme, &DncFilter::All, ALL)
        .await
        .unwrap();
    assert_eq!(listing.total, 3);
}

async fn a_claimed_contact_found_listed_ends_skipped_and_the_campaign_completes(
    store: Arc<dyn CampaignStore>,
) {
    let acme = org("acme");
    let id = scheduled(&*store, 2, concurrency(2)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    assert_eq!(calls.len(), 2);
    let (listed, placed) = (&calls[0], &calls[1]);
    store
        .skip_claim(id, listed.contact_id, listed.attempt, SkipReason::Dnc)
        .await
        .unwrap();
    // A second skip of the same attempt changes nothing.
    store
        .skip_claim(id, listed.contact_id, listed.attempt, SkipReason::Dnc)
        .await
        .unwrap();
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Skipped), 1);
    assert_eq!(campaign.counters.of(ContactStatus::InProgress), 1);
    assert_eq!(
        campaign.counters.called, 1,
        "the skipped contact was never called"
    );
    let contacts = store.contacts(&acme, id, None, ALL, now()).await.unwrap();
    let skipped = &contacts.items[0];
    assert_eq!(skipped.status, ContactStatus::Skipped);
    assert_eq!(skipped.skip_reason, Some(SkipReason::Dnc));
    assert_eq!(skipped.attempts, 0);
    let ended = CallResult {
        outcome: pacer::domain::DialOutcome::Completed,
        duration_secs: 5,
    };
    store
        .record_outcome(id, placed.contact_id, placed.attempt, ended, now())
        .await
        .unwrap();
    let batch = store.claim_due(id, fence, now(), 10).await.unwrap();
    assert!(batch.calls.is_empty());
    assert_eq!(batch.status, pacer::domain::CampaignStatus::Completed);
    let (who, phone) = store.call_party(id, placed.contact_id).await.unwrap();
    assert_eq!((who, phone), (acme, placed.phone.clone()));
}

async fn contacts_added_while_listed_are_skipped_at_once(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let mut first = contacts(4);
    first[1].listed = true;
    let (campaign, _) = store
        .create_campaign(&acme, spec(concurrency(10)), first, now())
        .await
        .unwrap();
    let id = campaign.id;
    assert_eq!(campaign.counters.of(ContactStatus::Skipped), 1);
    assert_eq!(campaign.counters.of(ContactStatus::Pending), 3);
    store
        .schedule_campaign(&acme, id, SchedulePatch::default(), now())
        .await
        .unwrap();
    let mut later = vec![
        NewContact::new(PhoneNumber::parse("+15552000001").unwrap()),
        NewContact::new(PhoneNumber::parse("+15552000002").unwrap()),
    ];
    later[0].listed = true;
    store.add_contacts(&acme, id, later, now()).await.unwrap();
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Skipped), 2);
    assert_eq!(campaign.counters.of(ContactStatus::Scheduled), 4);
    let listed = store.contacts(&acme, id, None, ALL, now()).await.unwrap();
    let statuses: Vec<(ContactStatus, Option<SkipReason>)> = listed
        .items
        .iter()
        .map(|contact| (contact.status, contact.skip_reason))
        .collect();
    let (waiting, skipped) = (
        (ContactStatus::Scheduled, None),
        (ContactStatus::Skipped, Some(SkipReason::Dnc)),
    );
    assert_eq!(
        statuses,
        [waiting, skipped, waiting, waiting, skipped, waiting]
    );
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let claimed: Vec<&str> = calls.iter().map(|call| call.phone.as_str()).collect();
    assert_eq!(
        claimed,
        [
            "+15551000000",
            "+15551000002",
            "+15551000003",
            "+15552000002"
        ]
    );
    for call in &calls {
        let ended = CallResult {
            outcome: pacer::domain::DialOutcome::Completed,
            duration_secs: 5,
        };
        store
            .record_outcome(id, call.contact_id, call.attempt, ended, now())
            .await
            .unwrap();
    }
    let batch = store.claim_due(id, fence, now(), 10).await.unwrap();
    assert_eq!(batch.status, pacer::domain::CampaignStatus::Completed);
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.of(ContactStatus::Completed), 4);
    assert_eq!(campaign.counters.of(ContactStatus::Skipped), 2);
    assert_eq!(campaign.counters.called, 4);
}

/// What the screen said, with the do-not-call list empty: `None` allowed, else until when.
fn capped_until(screened: Vec<Screened>) -> Vec<Option<DateTime<Utc>>> {
    screened
        .into_iter()
        .map(|screened| match screened {
            Screened::Allowed => None,
            Screened::CappedUntil(until) => Some(until),
            Screened::Listed => panic!("nothing is listed here"),
        })
        .collect()
}

async fn a_screen_reports_listed_numbers_and_counts_the_others(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let in_an_hour = now() + Duration::hours(1);
    let entries = [
        entry(number("+15551230001")),
        entry(prefix("+1555124")),
        DncEntry {
            expires_at: Some(in_an_hour),
            ..entry(number("+15551230003"))
        },
    ];
    store.add_dnc(&acme, &entries).await.unwrap();
    let one_a_day = vec![cap(1, 24)];
    let calls: Vec<(PhoneNumber, Vec<FrequencyCap>)> = [
        "+15551230001", // listed
        "+15551240009", // under a listed prefix
        "+15551230003", // listed for an hour
        "+15551230004", // free
    ]
    .iter()
    .map(|text| (PhoneNumber::parse(text).unwrap(), one_a_day.clone()))
    .collect();
    let screened = store.screen(&acme, &calls, now()).await.unwrap();
    use Screened::*;
    assert_eq!(screened, [Listed, Listed, Listed, Allowed]);
    // A listed number was not counted: once its entry expired, it goes; the free one was.
    let screened = store.screen(&acme, &calls, in_an_hour).await.unwrap();
    let tomorrow = now() + Duration::hours(24);
    assert_eq!(screened, [Listed, Listed, Allowed, CappedUntil(tomorrow)]);
}

async fn a_refusal_s_cooldown_holds_the_number(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let refused = PhoneNumber::parse("+33612345678").unwrap();
    let other = PhoneNumber::parse("+33612345679").unwrap();
    let month = vec![cap(4, 720)];
    let calls = vec![(refused.clone(), month.clone()), (other, month.clone())];
    let screened = store.screen(&acme, &calls, now()).await.unwrap();
    assert_eq!(screened, [Screened::Allowed, Screened::Allowed]);
    let until = now() + Duration::days(60);
    store.start_cooldown(&acme, &refused, until).await.unwrap();
    // An earlier cool-down does not shorten it.
    store
        .start_cooldown(&acme, &refused, now() + Duration::days(1))
        .await
        .unwrap();
    let later = now() + Duration::days(2);
    let screened = store.screen(&acme, &calls, later).await.unwrap();
    assert_eq!(screened, [Screened::CappedUntil(until), Screened::Allowed]);
    let screened = store.screen(&acme, &calls[..1], until).await.unwrap();
    assert_eq!(screened, [Screened::Allowed], "the cool-down is over");
}

fn cap(max_calls: u32, hours: i64) -> FrequencyCap {
    FrequencyCap {
        max_calls,
        window: Duration::hours(hours),
    }
}

async fn frequency_caps_count_attempts_across_campaigns(store: Arc<dyn CampaignStore>) {
    let acme = org("acme");
    let capped = PhoneNumber::parse("+15551230001").unwrap();
    let free = PhoneNumber::parse("+15551230002").unwrap();
    let day = vec![cap(3, 24)];
    let count = |at: DateTime<Utc>, calls: Vec<(PhoneNumber, Vec<FrequencyCap>)>| {
        let store = store.clone();
        let acme = acme.clone();
        async move { capped_until(store.screen(&acme, &calls, at).await.unwrap()) }
    };
    // Three attempts in a day go, in one batch or several; the fourth waits for the first to
    // be a day old. A number with no cap is not counted.
    let two = count(
        now(),
        vec![(capped.clone(), day.clone()), (capped.clone(), day.clone())],
    )
    .await;
    assert_eq!(two, [None, None]);
    let later = now() + Duration::hours(1);
    let batch = count(
        later,
        vec![
            (capped.clone(), day.clone()),
            (capped.clone(), day.clone()),
            (free.clone(), Vec::new()),
        ],
    )
    .await;
    assert_eq!(batch, [None, Some(now() + Duration::hours(24)), None]);
    // A stricter cap of another campaign holds it longer.
    let stricter = vec![cap(3, 24), cap(1, 30)];
    let held = count(later, vec![(capped.clone(), stricter)]).await;
    assert_eq!(held, [Some(later + Duration::hours(30))]);
    // Another organisation counts its own.
    let theirs = store
        .screen(&org("other"), &[(capped.clone(), day.clone())], later)
        .await
        .unwrap();
    assert_eq!(theirs, [Screened::Allowed]);
    let next_day = now() + Duration::hours(24);
    let again = count(
        next_day,
        vec![(capped.clone(), day.clone()), (capped.clone(), day.clone())],
    )
    .await;
    assert_eq!(again, [None, None], "the first two are a day old");
    let full = count(next_day, vec![(capped.clone(), day.clone())]).await;
    assert_eq!(full, [Some(later + Duration::hours(24))]);
    // `free` was never counted: a cap on it now sees no attempt.
    let first = count(next_day, vec![(free, vec![cap(1, 24)])]).await;
    assert_eq!(first, [None]);
}

async fn a_claimed_contact_held_by_a_cap_waits_with_its_reason_and_is_claimed_then(
    store: Arc<dyn CampaignStore>,
) {
    let acme = org("acme");
    let id = scheduled(&*store, 2, concurrency(2)).await;
    let fence = lease(&*store, id).await;
    let calls = store.claim_due(id, fence, now(), 10).await.unwrap().calls;
    let held = &calls[0];
    let until = now() + Duration::hours(5);
    store
        .hold_claim(
            id,
            held.contact_id,
            held.attempt,
            HeldReason::FrequencyCap,
            until,
        )
        .await
        .unwrap();
    let contacts = store.contacts(&acme, id, None, ALL, now()).await.unwrap();
    let waiting = &contacts.items[0];
    assert_eq!(waiting.status, ContactStatus::Scheduled);
    assert_eq!(waiting.held_reason, Some(HeldReason::FrequencyCap));
    assert_eq!(waiting.scheduled_at, Some(until));
    assert_eq!(waiting.attempts, 0);
    let campaign = store.campaign(&acme, id).await.unwrap();
    assert_eq!(campaign.counters.called, 1);
    assert_eq!(campaign.counters.of(ContactStatus::Scheduled), 1);
    let early = until - Duration::seconds(1);
    let batch = store.claim_due(id, fence, early, 10).await.unwrap();
    assert!(batch.calls.is_empty());
    assert_eq!(batch.wake_at, Some(until));
    // An edit does not move it: its number's cap holds it, not the campaign's rules.
    let edit = pacer::store::CampaignEdit {
        schedule: concurrency(3),
        ..Default::default()
    };
    store.edit_campaign(&acme, id, edit, early).await.unwrap();
    let batch = store.claim_due(id, fence, until, 10).await.unwrap();
    let claimed: Vec<(ContactId, u32)> = batch
        .calls
        .iter()
        .map(|call| (call.contact_id, call.attempt))
        .collect();
    assert_eq!(claimed, [(held.contact_id, 1)]);
}

on_every_backend!(
    an_organisation_lists_anything_once_an_entry_is_added,
    dnc_entries_are_added_found_listed_and_removed,
    a_claimed_contact_found_listed_ends_skipped_and_the_campaign_completes,
    contacts_added_while_listed_are_skipped_at_once,
    frequency_caps_count_attempts_across_campaigns,
    a_screen_reports_listed_numbers_and_counts_the_others,
    a_refusal_s_cooldown_holds_the_number,
    a_claimed_contact_held_by_a_cap_waits_with_its_reason_and_is_claimed_then,
);
