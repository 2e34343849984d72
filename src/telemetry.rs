//! Logging and metrics: a `tracing` subscriber (text or JSON, levels from `RUST_LOG`), the
//! Prometheus recorder behind `/metrics`, and every metric name as a constant. Labels are
//! bounded: an outcome, a status, a route pattern; never a phone number or an id.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Calls the provider accepted.
pub const CALLS_PLACED: &str = "pacer_calls_placed_total";
/// Outcomes recorded, by `outcome`.
pub const CALLS_FINISHED: &str = "pacer_calls_finished_total";
/// Calls in flight under an earlier lease that a node asked the provider about again when it
/// took their campaign.
pub const CALLS_RECONCILED: &str = "pacer_calls_reconciled_total";
/// Contacts a claim put back to wait because a rule of the callee's time was closed, by reason
/// (`legal_hours`, `window`, `holiday`, …).
pub const CONTACTS_HELD: &str = "pacer_contacts_held_total";
/// Contacts a claim ended `skipped`, by reason.
pub const CONTACTS_SKIPPED: &str = "pacer_contacts_skipped_total";
/// Calls placed and not yet finished, on campaigns this node dispatches.
pub const CALLS_IN_FLIGHT: &str = "pacer_calls_in_flight";
/// How late a timed dispatch step ran after the instant it was due, in seconds.
pub const DISPATCH_LATENESS: &str = "pacer_dispatch_lateness_seconds";
/// How late contacts were claimed: the claim's reply minus the instant its step's timer was set
/// for, once per contact claimed, in seconds.
pub const CLAIM_LATENESS: &str = "pacer_claim_lateness_seconds";
/// Contacts claimed per dispatch step.
pub const CLAIM_BATCH: &str = "pacer_claim_batch_size";
/// Campaigns dispatched by this node, by `status`.
pub const CAMPAIGNS: &str = "pacer_campaigns";
/// Latency of store steps on the dispatch path, by `op` (`claim`, `record`, `command`).
pub const STORE_LATENCY: &str = "pacer_store_duration_seconds";
/// Leases taken and lost, by `change`.
pub const LEASE_CHANGES: &str = "pacer_lease_changes_total";
/// API requests, by `route` (the pattern), `method` and `status`.
pub const HTTP_REQUESTS: &str = "pacer_http_requests_total";
/// API latency, by `route`, `method` and `status`.
pub const HTTP_LATENCY: &str = "pacer_http_request_duration_seconds";
/// Calls the webhook dialer gave up on after its tries (released to the queue).
pub const DIALER_GIVE_UPS: &str = "pacer_dialer_give_ups_total";
/// Outbound webhooks, by `result` (`delivered`, `failed`).
pub const WEBHOOK_DELIVERIES: &str = "pacer_webhook_deliveries_total";
/// Webhooks given up on and moved to their organisation's dead letters.
pub const WEBHOOK_DEAD_LETTERS: &str = "pacer_webhook_dead_letters_total";
/// Dead letters forgotten because their organisation kept the most it may.
pub const WEBHOOK_DEAD_LETTERS_DROPPED: &str = "pacer_webhook_dead_letters_dropped_total";
/// Webhooks waiting in the outbox of each organisation this node delivers, by `org` (the
/// organisations with a webhook target: a bounded, configured set).
pub const WEBHOOK_OUTBOX_DEPTH: &str = "pacer_webhook_outbox_depth";
/// API requests refused by the per-organisation rate limit.
pub const RATE_LIMITED: &str = "pacer_http_rate_limited_total";
/// Idempotent responses forgotten before their 24 h to keep an organisation within its
/// budget, and responses too large to keep, by `reason` (`budget`, `too_large`).
pub const IDEMPOTENCY_DROPPED: &str = "pacer_idempotency_responses_dropped_total";
/// Actors that ended abnormally (a panic) and were started again, by `actor` (`campaign`,
/// `dialer`).
pub const ACTOR_RESTARTS: &str = "pacer_actor_restarts_total";
/// Stored records a list skipped because they could not be read back, by `record`
/// (`campaign`, `contact`).
pub const UNREADABLE_RECORDS: &str = "pacer_store_unreadable_records_total";

/// Panics anywhere in the process (a caught one included: an arbiter catches its actors').
pub const PANICS: &str = "pacer_panics_total";
/// Gauge, 1, labelled with the version: which build each node runs.
pub const BUILD_INFO: &str = "pacer_build_info";
/// Gauge by `state` (`waiting`, `due`): contacts never called queued in the campaigns this node
/// dispatches, and those of them a claim could take now but for a free line.
pub const QUEUE_CONTACTS: &str = "pacer_queue_contacts";
/// Counter by `result` (`placed`, `slowed`, `retried`, `refused`): requests to the dialer
/// provider (webhook dialer).
pub const DIALER_REQUESTS: &str = "pacer_dialer_requests_total";
/// Histogram: how long the provider took to answer a dial request.
pub const DIALER_LATENCY: &str = "pacer_dialer_request_duration_seconds";
/// Gauge: 1 when the node reached its store at the last scrape (what `/readyz` answers), else 0.
pub const READY: &str = "pacer_ready";
/// Gauge: campaign leases this node holds.
pub const LEASES_HELD: &str = "pacer_leases_held";
/// Counter by `from` (`api`, `dispatch`, `leases`): store operations that failed (Redis
/// unreachable, a timeout).
pub const STORE_ERRORS: &str = "pacer_store_errors_total";

thread_local! {
    /// A panic happened on this thread and nobody has looked at it yet (see [`take_panicked`]).
    static PANICKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic happened on this thread since the last call: an actor's `stopped`, run on
/// its arbiter right after the arbiter caught the panic of one of its steps, learns so here.
pub fn take_panicked() -> bool {
    PANICKED.with(|panicked| panicked.replace(false))
}

/// Every panic goes to the log (with its place and thread) and to [`PANICS`], and is noted for
/// [`take_panicked`]; then the default hook prints it as before.
fn hook_panics() {
    static HOOKED: std::sync::Once = std::sync::Once::new();
    HOOKED.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.with(|panicked| panicked.set(true));
            metrics::counter!(PANICS).increment(1);
            let thread = std::thread::current();
            tracing::error!(
                thread = thread.name().unwrap_or("unnamed"),
                location = info.location().map(ToString::to_string),
                "panic: {}",
                info.payload_as_str().unwrap_or("(no message)")
            );
            default(info);
        }));
    });
}

/// How log lines are written (`log_format` in the settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        // Spans go on every line, so the request span's `request_id` is on each of them.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use (a process has one recorder;
/// every application built in it shares it).
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            // Lateness in millisecond steps up to 5 ms, its target (full names match first).
            let lateness = [
                0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
                0.5, 1.0, 2.5, 5.0,
            ];
            let sizes = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &seconds)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(Matcher::Full(CLAIM_BATCH.to_owned()), &sizes)
                })
                .and_then(|builder| {
                    [DISPATCH_LATENESS, CLAIM_LATENESS].into_iter().try_fold(
                        builder,
                        |builder, name| {
                            builder
                                .set_buckets_for_metric(Matcher::Full(name.to_owned()), &lateness)
                        },
                    )
                })
                .and_then(PrometheusBuilder::install_recorder)
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "metrics recorder not installed");
                    PrometheusBuilder::new().build_recorder().handle()
                });
            describe();
            register_at_zero();
            hook_panics();
            // The recorder does not schedule its own upkeep (histogram buckets drain there).
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("pacer-metrics".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread can be spawned");
            handle
        })
        .clone()
}

/// Every counter with each of its known labels, at 0 from start-up (a rate over a series that
/// appears only at its first increment misses that increment), and the build's version.
fn register_at_zero() {
    use crate::domain::{DialOutcome, HeldReason, SkipReason};
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    for name in [
        CALLS_PLACED,
        CALLS_RECONCILED,
        DIALER_GIVE_UPS,
        WEBHOOK_DEAD_LETTERS,
        WEBHOOK_DEAD_LETTERS_DROPPED,
        RATE_LIMITED,
        PANICS,
    ] {
        metrics::counter!(name).absolute(0);
    }
    for outcome in DialOutcome::ALL {
        metrics::counter!(CALLS_FINISHED, "outcome" => outcome.as_str()).absolute(0);
    }
    for reason in HeldReason::ALL {
        metrics::counter!(CONTACTS_HELD, "reason" => reason.as_str()).absolute(0);
    }
    for reason in SkipReason::ALL {
        metrics::counter!(CONTACTS_SKIPPED, "reason" => reason.as_str()).absolute(0);
    }
    let labelled: [(&'static str, &'static str, &[&'static str]); 6] = [
        (IDEMPOTENCY_DROPPED, "reason", &["too_large", "budget"]),
        (LEASE_CHANGES, "change", &["acquired", "lost", "released"]),
        (WEBHOOK_DELIVERIES, "result", &["delivered", "failed"]),
        (ACTOR_RESTARTS, "actor", &["campaign", "dialer"]),
        (
            DIALER_REQUESTS,
            "result",
            &["placed", "slowed", "retried", "refused"],
        ),
        (STORE_ERRORS, "from", &["api", "dispatch", "leases"]),
    ];
    for (name, label, values) in labelled {
        for &value in values {
            metrics::counter!(name, label => value).absolute(0);
        }
    }
    for state in ["waiting", "due"] {
        metrics::gauge!(QUEUE_CONTACTS, "state" => state).set(0.0);
    }
    metrics::gauge!(LEASES_HELD).set(0.0);
    metrics::gauge!(CALLS_IN_FLIGHT).set(0.0);
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(CALLS_PLACED, "Calls the provider accepted.");
    describe_gauge!(BUILD_INFO, "1, labelled with the version this node runs.");
    describe_gauge!(
        QUEUE_CONTACTS,
        "Contacts never called queued in this node's campaigns (waiting), and those a claim could take now but for a free line (due)."
    );
    describe_counter!(
        DIALER_REQUESTS,
        "Requests to the dialer provider, by result."
    );
    describe_histogram!(
        DIALER_LATENCY,
        metrics::Unit::Seconds,
        "How long the dialer provider took to answer a dial request."
    );
    describe_gauge!(LEASES_HELD, "Campaign leases this node holds.");
    describe_gauge!(
        READY,
        "1 when this node reached its store at this scrape (as /readyz), else 0."
    );
    describe_counter!(
        STORE_ERRORS,
        "Store operations that failed (unreachable, timed out), by where."
    );
    describe_counter!(CALLS_FINISHED, "Call outcomes recorded, by outcome.");
    describe_counter!(
        CALLS_RECONCILED,
        "Calls in flight under an earlier lease asked about again by the node that took their campaign."
    );
    describe_counter!(
        CONTACTS_HELD,
        "Contacts put back to wait by a closed rule of the callee's time, by reason."
    );
    describe_counter!(
        CONTACTS_SKIPPED,
        "Contacts ended skipped by a claim, by reason."
    );
    describe_gauge!(
        CALLS_IN_FLIGHT,
        "Calls placed and not yet finished on campaigns this node dispatches."
    );
    describe_histogram!(
        DISPATCH_LATENESS,
        metrics::Unit::Seconds,
        "How late a timed dispatch step ran after its due instant."
    );
    describe_histogram!(
        CLAIM_LATENESS,
        metrics::Unit::Seconds,
        "How late contacts were claimed after the instant their step's timer was set for."
    );
    describe_histogram!(CLAIM_BATCH, "Contacts claimed per dispatch step.");
    describe_gauge!(CAMPAIGNS, "Campaigns dispatched by this node, by status.");
    describe_histogram!(
        STORE_LATENCY,
        metrics::Unit::Seconds,
        "Store steps on the dispatch path, by op."
    );
    describe_counter!(LEASE_CHANGES, "Campaign leases taken and lost, by change.");
    describe_counter!(HTTP_REQUESTS, "API requests, by route, method and status.");
    describe_histogram!(
        HTTP_LATENCY,
        metrics::Unit::Seconds,
        "API latency, by route, method and status."
    );
    describe_counter!(
        DIALER_GIVE_UPS,
        "Calls the webhook dialer released after its tries."
    );
    describe_counter!(WEBHOOK_DELIVERIES, "Outbound webhook attempts, by result.");
    describe_counter!(
        WEBHOOK_DEAD_LETTERS,
        "Webhooks given up on and moved to the dead letters."
    );
    describe_counter!(
        WEBHOOK_DEAD_LETTERS_DROPPED,
        "Dead letters forgotten because their organisation kept the most it may."
    );
    describe_gauge!(
        WEBHOOK_OUTBOX_DEPTH,
        "Webhooks waiting in the outbox of each organisation this node delivers, by org."
    );
    describe_counter!(RATE_LIMITED, "API requests refused by the rate limit.");
    describe_counter!(
        PANICS,
        "Panics anywhere in the process, caught ones included."
    );
    describe_counter!(
        ACTOR_RESTARTS,
        "Actors that ended abnormally (a panic) and were started again, by actor."
    );
    describe_counter!(
        IDEMPOTENCY_DROPPED,
        "Idempotent responses not kept or forgotten early, by reason."
    );
    describe_counter!(
        UNREADABLE_RECORDS,
        "Stored records a list skipped because they could not be read back, by record."
    );
}
