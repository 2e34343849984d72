//! `POST /batch-calls/{id}/contacts/import`: contacts from a spreadsheet's CSV file, read as it
//! arrives. Rows are parsed chunk by chunk and stored in batches, so a file of a million rows
//! never sits whole in memory; the answer counts every row not added by its reason and lists
//! the first 1 000.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Org;
use super::campaigns::{campaign_id, query};
use super::dto::{ContactInput, MAX_LISTED_ERRORS, checked_contact};
use super::envelope::{self, ok};
use super::{ApiError, AppState, idempotency};
use crate::domain::{
    Command, DomainError, OrgId, PhoneNumber, Region, checked_text, is_unresolvable, partition_key,
    transition,
};
use crate::store::{Campaign, NewContact};

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/batch-calls/{id}/contacts/import", web::post().to(import));
}

/// The largest file accepted.
pub const MAX_IMPORT_BYTES: usize = 50 << 20;
/// Rows stored in one step.
const BATCH_ROWS: usize = 2_000;
/// The first bytes of the file that stand for it in an idempotency fingerprint, with its length.
const FINGERPRINT_BYTES: usize = 64 << 10;
/// How long the client may pause while sending the file.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most columns that become custom fields.
const MAX_CUSTOM_COLUMNS: usize = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// ISO 3166 alpha-2 country (e.g. `US`) whose national formats the file may use, like
    /// `(201) 555-0123`; without it every number must start with `+`.
    default_region: Option<String>,
    /// `true`: check and count every row, store nothing (duplicates are found within the file,
    /// not against the contacts already in the campaign).
    dry_run: Option<bool>,
}

/// The answer of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedView {
    pub added_count: u64,
    pub failed_count: u64,
    /// Every row not added, counted by reason: `invalid_number`, `duplicate`, `dnc` (kept as a
    /// `skipped` contact, never called), `timezone_unresolvable`, `bad_row`.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub failed_by_reason: BTreeMap<&'static str, u64>,
    /// The first 1 000 rows not added, in file order.
    pub errors: Vec<ImportRowError>,
    /// Nothing was stored (`?dry_run=true`).
    pub dry_run: bool,
}

/// One row not added.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRowError {
    /// The row as a spreadsheet numbers it: the header is row 1.
    pub row: u64,
    /// The row's number as written (at most 64 characters).
    pub phone_number: String,
    /// `invalid_number`, `duplicate`, `dnc`, `timezone_unresolvable` or `bad_row`.
    pub reason: &'static str,
    pub detail: String,
}

/// Adds contacts from a CSV file (`text/csv`, UTF-8 with or without BOM, CRLF or LF, at most
/// 50 MB with its `Content-Length`). The phone column is `phone_number`, `phone` or
/// `contact_number`; `first_name`, `last_name`, `email` and `timezone` fill their fields; every
/// other column becomes a custom field. Rows not added are counted by reason.
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/contacts/import", tag = "batch-calls",
    operation_id = "import_contacts",
    params(("id" = String, Path, description = "The campaign id"), ImportQuery,
        ("X-Idempotency-Key" = Option<String>, Header, description = "Replays the stored answer of the same import for 24 h (the same file: its length and first 64 KiB)")),
    request_body(content = String, content_type = "text/csv",
        example = json!("phone_number,first_name,plan\n+12015550123,Ada,gold\n(201) 555-0124,Grace,silver\n")),
    responses((status = 200, body = envelope::Data<ImportedView>),
        (status = 411, description = "No `Content-Length`", body = super::error::ErrorEnvelope),
        (status = 415, description = "Not a CSV file", body = super::error::ErrorEnvelope)))]
async fn import(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
    request: HttpRequest,
    params: Result<web::Query<ImportQuery>, actix_web::Error>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let params = query(params)?;
    let region = params
        .default_region
        .as_deref()
        .map(Region::parse)
        .transpose()?;
    let campaign = state.store.campaign(&org, id).await?;
    // A dry run stores nothing, but answers as the import would: 409 on a finished campaign.
    transition(campaign.status, Command::AddContacts).map_err(ApiError::InvalidState)?;
    check_content_type(&request)?;
    let length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
        .ok_or(ApiError::LengthRequired)?;
    if length > MAX_IMPORT_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_IMPORT_BYTES,
        });
    }
    let mut body = Body(payload.into_inner());
    let mut head = Vec::new();
    while head.len() < FINGERPRINT_BYTES {
        match body.next_chunk().await? {
            Some(chunk) => head.extend_from_slice(&chunk),
            None => break,
        }
    }
    let length_text = length.to_string();
    let parts = [
        request.query_string().as_bytes(),
        b"\n",
        length_text.as_bytes(),
        b"\n",
        &head[..head.len().min(FINGERPRINT_BYTES)],
    ];
    let dry_run = params.dry_run.unwrap_or(false);
    idempotency::once_by(&state, &org, &request, &parts, || async {
        let mut import = Import::new(&state, &org, campaign, region, dry_run);
        let mut csv = CsvStream::default();
        let mut records = Vec::new();
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        csv.feed(head, &mut records);
        import.take(&mut records).await?;
        while let Some(chunk) = body.next_chunk().await? {
            csv.feed(&chunk, &mut records);
            import.take(&mut records).await?;
        }
        csv.feed(b"", &mut records);
        import.take(&mut records).await?;
        import.finish().await.map(ok)
    })
    .await
}

/// Refuses a body declared as something else than a CSV file (JSON or a form, most likely a
/// mistake); a missing type, plain text or a spreadsheet export type is read as CSV.
fn check_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let Some(declared) = request.headers().get(CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = declared
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let csv_like = [
        "text/csv",
        "application/csv",
        "text/plain",
        "application/octet-stream",
        "application/vnd.ms-excel",
    ];
    if csv_like.contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(essence))
    }
}

/// The request's body, chunk by chunk, each within [`IDLE_TIMEOUT`] of the one before.
struct Body(actix_web::dev::Payload);

impl Body {
    async fn next_chunk(&mut self) -> Result<Option<web::Bytes>, ApiError> {
        match tokio::time::timeout(IDLE_TIMEOUT, self.0.next()).await {
            Err(_) => Err(ApiError::BodyTimeout),
            Ok(None) => Ok(None),
            Ok(Some(Err(error))) => Err(DomainError::new(
                "body",
                format!("the file could not be read to its end: {error}"),
            )
            .into()),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        }
    }
}

/// A CSV parser fed chunk by chunk (`csv_core`: quoted fields may span chunks and lines). A
/// record whose bytes are not UTF-8 comes out as `None`.
#[derive(Debug)]
struct CsvStream {
    core: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
    fields_len: usize,
    ends_len: usize,
}

type Record = Option<Vec<String>>;

impl Default for CsvStream {
    fn default() -> Self {
        Self {
            // `Reader::default()` has no delimiter; `new()` reads RFC 4180.
            core: csv_core::Reader::new(),
            fields: Vec::new(),
            ends: Vec::new(),
            fields_len: 0,
            ends_len: 0,
        }
    }
}

impl CsvStream {
    /// Parses `input` (empty: the end of the file), appending each complete record to `records`;
    /// a record cut by the end of `input` is completed by the next call.
    fn feed(&mut self, mut input: &[u8], records: &mut Vec<Record>) {
        use csv_core::ReadRecordResult::{End, InputEmpty, OutputEndsFull, OutputFull, Record};
        let at_end = input.is_empty();
        loop {
            // An empty input tells the parser the file has ended.
            if input.is_empty() && !at_end {
                return;
            }
            let (result, read, written, ended) = self.core.read_record(
                input,
                &mut self.fields[self.fields_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[read..];
            self.fields_len += written;
            self.ends_len += ended;
            match result {
                InputEmpty => {}
                OutputFull => self.fields.resize((self.fields.len() * 2).max(1024), 0),
                OutputEndsFull => self.ends.resize((self.ends.len() * 2).max(16), 0),
                Record => {
                    records.push(self.record());
                    self.fields_len = 0;
                    self.ends_len = 0;
                }
                End => return,
            }
        }
    }

    fn record(&self) -> Record {
        let mut start = 0;
        self.ends[..self.ends_len]
            .iter()
            .map(|&end| {
                let field = std::str::from_utf8(&self.fields[start..end]).ok()?;
                start = end;
                Some(field.trim().to_owned())
            })
            .collect()
    }
}

/// Where each known field sits in a row; the other named columns become custom fields.
#[derive(Debug)]
struct Columns {
    width: usize,
    phone: usize,
    first_name: Option<usize>,
    last_name: Option<usize>,
    email: Option<usize>,
    timezone: Option<usize>,
    custom: Vec<(usize, String)>,
}

impl Columns {
    /// Reads the header: names are matched without case, spaces or dashes (`Phone Number`).
    fn of(header: &[String]) -> Result<Self, DomainError> {
        let refuse = |reason: String| DomainError::new("header", reason);
        let mut known: BTreeMap<&str, usize> = BTreeMap::new();
        let mut custom = Vec::new();
        for (at, name) in header.iter().enumerate() {
            let plain = name.to_ascii_lowercase().replace([' ', '-'], "_");
            let field = match plain.as_str() {
                "phone_number" | "phone" | "contact_number" => "phone_number",
                "first_name" | "last_name" | "email" => ["first_name", "last_name", "email"]
                    .into_iter()
                    .find(|known| *known == plain)
                    .unwrap_or_default(),
                "timezone" | "time_zone" => "timezone",
                _ => {
                    checked_text(&format!("header[{at}]"), name, 1, 64)?;
                    custom.push((at, name.clone()));
                    continue;
                }
            };
            if known.insert(field, at).is_some() {
                return Err(refuse(format!("two columns give `{field}`")));
            }
        }
        if custom.len() > MAX_CUSTOM_COLUMNS {
            return Err(refuse(format!(
                "at most {MAX_CUSTOM_COLUMNS} columns besides the contact's own fields"
            )));
        }
        let phone = known.get("phone_number").copied().ok_or_else(|| {
            refuse("no column `phone_number` (or `phone`, `contact_number`)".to_owned())
        })?;
        Ok(Self {
            width: header.len(),
            phone,
            first_name: known.get("first_name").copied(),
            last_name: known.get("last_name").copied(),
            email: known.get("email").copied(),
            timezone: known.get("timezone").copied(),
            custom,
        })
    }

    /// The contact of one row, or the reason it is not one.
    fn contact(
        &self,
        row: &[String],
        region: Option<Region>,
    ) -> Result<NewContact, (&'static str, DomainError)> {
        let cell = |at: Option<usize>| {
            at.and_then(|at| row.get(at))
                .filter(|text| !text.is_empty())
                .cloned()
        };
        if row[self.width.min(row.len())..]
            .iter()
            .any(|extra| !extra.is_empty())
        {
            let reason = format!("{} fields, the header has {}", row.len(), self.width);
            return Err(("bad_row", DomainError::new("row", reason)));
        }
        let written = cell(Some(self.phone)).unwrap_or_default();
        let phone =
            PhoneNumber::read(&written, region).map_err(|error| ("invalid_number", error))?;
        let input = ContactInput {
            phone_number: written,
            first_name: cell(self.first_name),
            last_name: cell(self.last_name),
            email: cell(self.email),
            custom_fields: self
                .custom
                .iter()
                .filter_map(|(at, name)| Some((name.clone(), cell(Some(*at))?)))
                .collect(),
            timezone: cell(self.timezone),
        };
        checked_contact("row", phone, input).map_err(|error| ("bad_row", error))
    }
}

/// One import under way: the rows read so far, stored a batch at a time.
struct Import<'a> {
    state: &'a AppState,
    org: &'a OrgId,
    campaign: Campaign,
    region: Option<Region>,
    dry_run: bool,
    columns: Option<Columns>,
    /// The spreadsheet row of the next record (the header is row 1).
    next_row: u64,
    batch: Vec<(u64, NewContact)>,
    /// Numbers seen in a dry run, where the store does not find duplicates.
    seen: HashSet<String>,
    answer: ImportedView,
}

impl<'a> Import<'a> {
    fn new(
        state: &'a AppState,
        org: &'a OrgId,
        campaign: Campaign,
        region: Option<Region>,
        dry_run: bool,
    ) -> Self {
        Self {
            state,
            org,
            campaign,
            region,
            dry_run,
            columns: None,
            next_row: 1,
            batch: Vec::with_capacity(BATCH_ROWS),
            seen: HashSet::new(),
            answer: ImportedView {
                added_count: 0,
                failed_count: 0,
                failed_by_reason: BTreeMap::new(),
                errors: Vec::new(),
                dry_run,
            },
        }
    }

    /// Reads the records parsed so far, storing each full batch.
    async fn take(&mut self, records: &mut Vec<Record>) -> Result<(), ApiError> {
        for record in records.drain(..) {
            let row = self.next_row;
            self.next_row += 1;
            let Some(columns) = &self.columns else {
                let header = record.ok_or_else(|| DomainError::new("header", "is not UTF-8"))?;
                self.columns = Some(Columns::of(&header)?);
                continue;
            };
            let Some(fields) = record else {
                self.fail(row, "", "bad_row", "not UTF-8".to_owned());
                continue;
            };
            // A spreadsheet's trailing rows with every cell empty are no rows.
            if fields.iter().all(String::is_empty) {
                continue;
            }
            match columns.contact(&fields, self.region) {
                Ok(contact) if self.unresolvable(&contact) => self.fail(
                    row,
                    contact.phone.as_str(),
                    "timezone_unresolvable",
                    "neither the row nor the number gives a timezone, and the campaign skips \
                     such contacts"
                        .to_owned(),
                ),
                Ok(contact) => self.batch.push((row, contact)),
                Err((code, error)) => {
                    let written = fields.get(columns.phone).map_or("", String::as_str);
                    self.fail(row, written, code, error.message);
                }
            }
        }
        if self.batch.len() >= BATCH_ROWS {
            self.store_batch().await?;
        }
        Ok(())
    }

    /// The campaign ends such a contact `skipped` at its claim (`timezone_fallback: skip`).
    fn unresolvable(&self, contact: &NewContact) -> bool {
        self.campaign.spec.schedule.skip_unresolvable
            && is_unresolvable(&partition_key(contact.timezone, &contact.phone))
    }

    fn fail(&mut self, row: u64, phone: &str, reason: &'static str, detail: String) {
        let answer = &mut self.answer;
        answer.failed_count += 1;
        *answer.failed_by_reason.entry(reason).or_default() += 1;
        if answer.errors.len() < MAX_LISTED_ERRORS {
            answer.errors.push(ImportRowError {
                row,
                phone_number: phone.chars().take(64).collect(),
                reason,
                detail,
            });
        }
    }

    /// Stores the batch: listed numbers are added `skipped` (`dnc`), repeats are left out.
    async fn store_batch(&mut self) -> Result<(), ApiError> {
        let (rows, mut contacts): (Vec<u64>, Vec<NewContact>) = self.batch.drain(..).unzip();
        if contacts.is_empty() {
            return Ok(());
        }
        super::dnc::mark_listed(self.state, self.org, &mut contacts).await?;
        let mut outcomes: Vec<Option<&'static str>> = contacts
            .iter()
            .map(|contact| contact.listed.then_some("dnc"))
            .collect();
        let phones: Vec<String> = contacts
            .iter()
            .map(|contact| contact.phone.as_str().to_owned())
            .collect();
        if self.dry_run {
            for (outcome, phone) in outcomes.iter_mut().zip(&phones) {
                if !self.seen.insert(phone.clone()) {
                    *outcome = Some("duplicate");
                }
            }
        } else {
            let added = self
                .state
                .store
                .add_contacts(self.org, self.campaign.id, contacts, self.state.clock.now())
                .await?;
            for (index, _) in added.skipped {
                outcomes[index] = Some("duplicate");
            }
            if added.added > 0 {
                self.state.directory.wake(self.campaign.id);
            }
        }
        for ((row, phone), outcome) in rows.into_iter().zip(phones).zip(outcomes) {
            match outcome {
                None => self.answer.added_count += 1,
                Some("dnc") => self.fail(row, &phone, "dnc", "on the do-not-call list".into()),
                Some(reason) => self.fail(
                    row,
                    &phone,
                    reason,
                    "the campaign already has this number".into(),
                ),
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<ImportedView, ApiError> {
        if self.columns.is_none() {
            return Err(DomainError::new("header", "the file is empty").into());
        }
        self.store_batch().await?;
        self.answer.errors.sort_by_key(|error| error.row);
        Ok(self.answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<Record> {
        let mut csv = CsvStream::default();
        let mut records = Vec::new();
        for chunk in chunks {
            csv.feed(chunk, &mut records);
        }
        csv.feed(b"", &mut records);
        records
    }

    fn row(fields: &[&str]) -> Record {
        Some(fields.iter().map(|field| (*field).to_owned()).collect())
    }

    #[test]
    fn records_may_span_chunks_quotes_and_line_ends() {
        let whole: &[u8] =
            b"phone,name\r\n+15550000001,\"Ada, \"\"the\"\" first\"\r\n\r\n+15550000002,\"two\nlines\"\n+15550000003";
        let expected = vec![
            row(&["phone", "name"]),
            row(&["+15550000001", "Ada, \"the\" first"]),
            row(&["+15550000002", "two\nlines"]),
            row(&["+15550000003"]),
        ];
        assert_eq!(parse(&[whole]), expected);
        for cut in 1..whole.len() {
            let (left, right) = whole.split_at(cut);
            assert_eq!(parse(&[left, right]), expected, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(parse(&bytes), expected);
    }

    #[test]
    fn a_record_that_is_not_utf8_comes_out_as_none() {
        assert_eq!(
            parse(&[b"a,b\n\xff,c\nd,e\n"]),
            vec![row(&["a", "b"]), None, row(&["d", "e"])]
        );
    }

    #[test]
    fn the_header_names_fields_with_aliases_and_the_rest_are_custom() {
        let header: Vec<String> = ["Phone Number", "First-Name", "plan", "Email", "region code"]
            .map(String::from)
            .to_vec();
        let columns = Columns::of(&header).unwrap();
        assert_eq!(
            (columns.phone, columns.first_name, columns.email),
            (0, Some(1), Some(3))
        );
        let names: Vec<&str> = columns
            .custom
            .iter()
            .map(|(_, name)| name.as_str())
            .collect();
        assert_eq!(names, ["plan", "region code"]);
        let contact = columns
            .contact(
                &["(201) 555-0123", "Ada", "gold", "", "NJ"].map(String::from),
                Some(Region::parse("US").unwrap()),
            )
            .unwrap();
        assert_eq!(contact.phone.as_str(), "+12015550123");
        assert_eq!(contact.first_name.as_deref(), Some("Ada"));
        assert_eq!(contact.email, None, "an empty cell is no value");
        assert_eq!(contact.custom_fields.len(), 2);
        let refused = |names: &[&str]| {
            let header: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
            Columns::of(&header).unwrap_err().field
        };
        assert_eq!(refused(&["name"]), "header");
        assert_eq!(refused(&["phone", "contact_number"]), "header");
        assert_eq!(refused(&["phone", ""]), "header[1]");
    }
}
