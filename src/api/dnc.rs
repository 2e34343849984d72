//! The organisation's do-not-call list: add (one request or a CSV file), list, look a number up,
//! remove. An add is answered once it holds on every node: no dial request to a number it
//! lists starts after the answer (`Directory::settle_suppression`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Org;
use super::campaigns::{page_of, query};
use super::envelope::{self, ok, page};
use super::json::{RawBody, ValidJson};
use super::{ApiError, AppState};
use crate::domain::{
    DncEntry, DncTarget, DomainError, MAX_DNC_ENTRIES, OrgId, PhoneNumber, check_dnc_reason,
};
use crate::store::{DncFilter, NewContact};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/dnc", web::post().to(add))
        .route("/dnc", web::get().to(list))
        .route("/dnc/import", web::post().to(import))
        .route("/dnc/prefix/{prefix}", web::delete().to(remove_prefix))
        .route("/dnc/{phone_number}", web::get().to(lookup))
        .route("/dnc/{phone_number}", web::delete().to(remove));
}

/// Errors listed in an import's answer (the count covers them all).
const MAX_LISTED_ERRORS: usize = 1_000;

/// Numbers looked up in one read when contacts are added.
const LOOKUP_CHUNK: usize = 10_000;

/// One entry to add: a number or a prefix.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DncEntryInput {
    /// An E.164 number, e.g. `+14155550101`.
    #[schema(example = "+14155550101")]
    phone_number: Option<String>,
    /// Every number under this prefix, e.g. `+1201`.
    prefix: Option<String>,
    /// RFC 3339, in the future: the entry applies until then.
    expires_at: Option<String>,
    /// 1–255 characters, e.g. `opt_out`.
    reason: Option<String>,
}

/// The body of `POST /dnc`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DncAddInput {
    /// 1 to 10 000 entries (more is 413, and nothing is added).
    #[schema(min_items = 1, max_items = 10000)]
    entries: Vec<DncEntryInput>,
}

/// An entry of the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncEntryView {
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    reason: Option<String>,
    /// RFC 3339; `null`: never.
    expires_at: Option<String>,
    created_at: String,
}

impl From<DncEntry> for DncEntryView {
    fn from(entry: DncEntry) -> Self {
        let rfc3339 = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (phone_number, prefix) = match entry.target {
            DncTarget::Number(number) => (Some(number.as_str().to_owned()), None),
            DncTarget::Prefix(prefix) => (None, Some(prefix)),
        };
        Self {
            phone_number,
            prefix,
            reason: entry.reason,
            expires_at: entry.expires_at.map(rfc3339),
            created_at: rfc3339(entry.created_at),
        }
    }
}

/// What an add did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncAddedView {
    /// Entries new to the list.
    added_count: u64,
    /// Entries listed already, whose expiry and reason were replaced.
    updated_count: u64,
}

/// A CSV row that was not added.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncRowError {
    /// The row's line in the file (the header is line 1).
    row: u64,
    /// The row's number or prefix, as written.
    value: String,
    reason: String,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncImportedView {
    added_count: u64,
    updated_count: u64,
    failed_count: u64,
    /// The first 1 000 rows not added, with why.
    errors: Vec<DncRowError>,
}

/// How many entries were removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncRemovedView {
    deleted_count: u64,
}

/// The filters and page of `GET /dnc`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DncQuery {
    /// The exact entry of this number.
    phone_number: Option<String>,
    /// The prefix entries that start with this prefix.
    prefix: Option<String>,
    /// 1–100, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Items to skip, default 0.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    offset: Option<String>,
}

/// A number or prefix from a path: its `+` may come raw or still encoded as `%2B`.
fn from_path(text: &str) -> String {
    match text.get(..3) {
        Some(code) if code.eq_ignore_ascii_case("%2B") => format!("+{}", &text[3..]),
        _ => text.to_owned(),
    }
}

/// An entry from its fields as a client sent them, created at `now`.
fn entry_of(
    phone_number: Option<&str>,
    prefix: Option<&str>,
    expires_at: Option<&str>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<DncEntry, DomainError> {
    let target = match (phone_number, prefix) {
        (Some(number), None) => DncTarget::Number(PhoneNumber::parse(number)?),
        (None, Some(prefix)) => DncTarget::parse_prefix(prefix)?,
        _ => {
            return Err(DomainError::new(
                "phone_number",
                "give either `phone_number` or `prefix`",
            ));
        }
    };
    let expires_at = expires_at
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .ok()
                .filter(|&at| at > now)
                .ok_or_else(|| {
                    DomainError::new(
                        "expires_at",
                        format!("`{text}` is not an RFC 3339 instant in the future"),
                    )
                })
        })
        .transpose()?;
    if let Some(reason) = reason {
        check_dnc_reason(reason)?;
    }
    Ok(DncEntry {
        target,
        reason: reason.map(str::to_owned),
        expires_at,
        created_at: now,
    })
}

/// Commits `entries` and waits until every node screens with them.
async fn add_entries(
    state: &AppState,
    org: &OrgId,
    entries: &[DncEntry],
) -> Result<crate::store::DncAdded, ApiError> {
    let added = state.store.add_dnc(org, entries).await?;
    state.directory.settle_suppression(org).await?;
    Ok(added)
}

/// Lists `number` (reason `opt_out`): a call event's opt-out. Answered once it holds on every
/// node, like an add.
pub(super) async fn opt_out(
    state: &AppState,
    org: &OrgId,
    number: PhoneNumber,
) -> Result<(), ApiError> {
    let entry = DncEntry {
        target: DncTarget::Number(number),
        reason: Some("opt_out".to_owned()),
        expires_at: None,
        created_at: state.clock.now(),
    };
    add_entries(state, org, &[entry]).await.map(drop)
}

/// Marks the contacts whose numbers are listed now: they are added `skipped` (`dnc`).
pub(super) async fn mark_listed(
    state: &AppState,
    org: &OrgId,
    contacts: &mut [NewContact],
) -> Result<(), ApiError> {
    let now = state.clock.now();
    for chunk in contacts.chunks_mut(LOOKUP_CHUNK) {
        let numbers: Vec<PhoneNumber> = chunk.iter().map(|contact| contact.phone.clone()).collect();
        let listed = state.store.dnc_covering(org, &numbers, now).await?;
        for (contact, entry) in chunk.iter_mut().zip(listed) {
            contact.listed = entry.is_some();
        }
    }
    Ok(())
}

/// Adds numbers and prefixes to the organisation's do-not-call list (a listed one gets the new
/// expiry and reason). Every campaign of the organisation skips them (`skip_reason: dnc`); no
/// dial request to them starts after this answer, on any node.
#[utoipa::path(post, path = "/api/public/v1/dnc", tag = "dnc",
    request_body = DncAddInput,
    responses((status = 200, body = envelope::Data<DncAddedView>)))]
async fn add(
    state: web::Data<AppState>,
    Org(org): Org,
    ValidJson(input): ValidJson<DncAddInput>,
) -> Result<HttpResponse, ApiError> {
    if input.entries.len() > MAX_DNC_ENTRIES {
        return Err(ApiError::TooManyItems {
            field: "entries",
            limit: MAX_DNC_ENTRIES,
        });
    }
    if input.entries.is_empty() {
        return Err(DomainError::new("entries", "must hold 1 to 10000 entries").into());
    }
    let now = state.clock.now();
    let entries = input
        .entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            entry_of(
                entry.phone_number.as_deref(),
                entry.prefix.as_deref(),
                entry.expires_at.as_deref(),
                entry.reason.as_deref(),
                now,
            )
            .map_err(|error| error.within(&format!("entries[{i}]")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let added = add_entries(&state, &org, &entries).await?;
    Ok(ok(DncAddedView {
        added_count: added.added,
        updated_count: added.updated,
    }))
}

/// Adds the rows of a CSV file (`text/csv`, UTF-8, a header naming `phone_number` or `prefix`,
/// and optionally `expires_at` and `reason`; other columns are ignored). Rows that are not
/// valid are listed and the others added, like `POST /dnc`.
#[utoipa::path(post, path = "/api/public/v1/dnc/import", tag = "dnc",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = envelope::Data<DncImportedView>)))]
async fn import(
    state: web::Data<AppState>,
    Org(org): Org,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let header = reader
        .headers()
        .map_err(|_| DomainError::new("body", "the first line must be a CSV header"))?
        .clone();
    let column = |name: &str| header.iter().position(|field| field == name);
    let (number_column, prefix_column) = (column("phone_number"), column("prefix"));
    if number_column.is_none() && prefix_column.is_none() {
        return Err(
            DomainError::new("body", "the header must name `phone_number` or `prefix`").into(),
        );
    }
    let (expires_column, reason_column) = (column("expires_at"), column("reason"));
    let (mut entries, mut errors, mut failed_count) = (Vec::new(), Vec::new(), 0u64);
    let mut record = csv::StringRecord::new();
    loop {
        let read = reader.read_record(&mut record);
        // The reader counts the header's line as 0.
        let line = record.position().map_or(0, |at| at.line() + 1);
        let field = |at: Option<usize>| {
            at.and_then(|at| record.get(at))
                .filter(|text| !text.is_empty())
        };
        let parsed = match read {
            Ok(false) => break,
            Ok(true) => entry_of(
                field(number_column),
                field(prefix_column),
                field(expires_column),
                field(reason_column),
                now,
            ),
            Err(_) => Err(DomainError::new("row", "not valid CSV in UTF-8")),
        };
        match parsed {
            Ok(entry) => entries.push(entry),
            Err(error) => {
                failed_count += 1;
                if errors.len() < MAX_LISTED_ERRORS {
                    let value = field(number_column)
                        .or_else(|| field(prefix_column))
                        .unwrap_or_default();
                    errors.push(DncRowError {
                        row: line,
                        value: value.chars().take(64).collect(),
                        reason: error.to_string(),
                    });
                }
            }
        }
    }
    let added = if entries.is_empty() {
        crate::store::DncAdded::default()
    } else {
        add_entries(&state, &org, &entries).await?
    };
    Ok(ok(DncImportedView {
        added_count: added.added,
        updated_count: added.updated,
        failed_count,
        errors,
    }))
}

/// The organisation's entries: prefixes first, then numbers; expired ones included (they no
/// longer apply).
#[utoipa::path(get, path = "/api/public/v1/dnc", tag = "dnc",
    params(DncQuery),
    responses((status = 200, body = envelope::Paged<DncEntryView>)))]
async fn list(
    state: web::Data<AppState>,
    Org(org): Org,
    params: Result<web::Query<DncQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let params: DncQuery = query(params)?;
    let wanted = page_of(params.limit.as_deref(), params.offset.as_deref())?;
    let filter = match (params.phone_number.as_deref(), params.prefix.as_deref()) {
        (None, None) => DncFilter::All,
        (Some(number), None) => DncFilter::Number(PhoneNumber::parse(number)?),
        (None, Some(prefix)) => match DncTarget::parse_prefix(prefix)? {
            DncTarget::Prefix(prefix) => DncFilter::PrefixesUnder(prefix),
            DncTarget::Number(_) => unreachable!("a prefix parses as a prefix"),
        },
        (Some(_), Some(_)) => {
            return Err(DomainError::new("prefix", "filter by `phone_number` or `prefix`").into());
        }
    };
    let listing = state.store.dnc_entries(&org, &filter, wanted).await?;
    let views: Vec<DncEntryView> = listing.items.into_iter().map(Into::into).collect();
    Ok(page(views, listing.total, wanted.limit, wanted.offset))
}

/// Whether a number is suppressed now: the entry that covers it (its own, else the longest
/// prefix), or 404.
#[utoipa::path(get, path = "/api/public/v1/dnc/{phone_number}", tag = "dnc",
    params(("phone_number" = String, Path, description = "E.164; the `+` raw or as `%2B`")),
    responses((status = 200, body = envelope::Data<DncEntryView>)))]
async fn lookup(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = PhoneNumber::parse(&from_path(&path))?;
    let mut found = state
        .store
        .dnc_covering(&org, &[number], state.clock.now())
        .await?;
    let entry = found.pop().flatten().ok_or(ApiError::NotFound)?;
    Ok(ok(DncEntryView::from(entry)))
}

/// Removes a number's own entry (a prefix that covers it stays).
#[utoipa::path(delete, path = "/api/public/v1/dnc/{phone_number}", tag = "dnc",
    params(("phone_number" = String, Path, description = "E.164; the `+` raw or as `%2B`")),
    responses((status = 200, body = envelope::Data<DncRemovedView>)))]
async fn remove(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = DncTarget::Number(PhoneNumber::parse(&from_path(&path))?);
    remove_target(&state, &org, &target).await
}

/// Removes a prefix entry.
#[utoipa::path(delete, path = "/api/public/v1/dnc/prefix/{prefix}", tag = "dnc",
    params(("prefix" = String, Path, description = "`+` and 1 to 15 digits; the `+` raw or as `%2B`")),
    responses((status = 200, body = envelope::Data<DncRemovedView>)))]
async fn remove_prefix(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = DncTarget::parse_prefix(&from_path(&path))?;
    remove_target(&state, &org, &target).await
}

async fn remove_target(
    state: &AppState,
    org: &OrgId,
    target: &DncTarget,
) -> Result<HttpResponse, ApiError> {
    if !state.store.remove_dnc(org, target).await? {
        return Err(ApiError::NotFound);
    }
    Ok(ok(DncRemovedView { deleted_count: 1 }))
}
