//! The batch-calls routes. Handlers parse the request into domain values, hand commands to the
//! campaign's actor through the directory (reads go to the store), and wrap the answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Org;
use super::diagnostics;
use super::dto::{
    self, AddedView, AnalyticsView, BulkDeleteInput, BulkDeletedView, CampaignInput, CampaignView,
    ContactView, ContactsInput, DeletedView, RowError, ScheduleBody,
};
use super::envelope::{self, ok, page, respond_warned};
use super::idempotency;
use super::json::{RawBody, ValidJson, parse_or_empty};
use super::{ApiError, AppState};
use crate::actors::CampaignOp;
use crate::domain::{
    CampaignId, CampaignStatus, ContactStatus, DomainError, HeldReason, OrgId, SkipReason,
};
use crate::store::{Campaign, CampaignFilter, Contact, Control, Page};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/batch-calls", web::post().to(create))
        .route("/batch-calls", web::get().to(list))
        .route("/batch-calls/bulk-delete", web::post().to(bulk_delete))
        .route("/batch-calls/{id}", web::get().to(get))
        .route("/batch-calls/{id}", web::patch().to(edit))
        .route("/batch-calls/{id}", web::delete().to(delete))
        .route("/batch-calls/{id}/schedule", web::post().to(schedule))
        .route("/batch-calls/{id}/pause", web::post().to(pause))
        .route("/batch-calls/{id}/resume", web::post().to(resume))
        .route("/batch-calls/{id}/cancel", web::post().to(cancel))
        .route("/batch-calls/{id}/contacts", web::post().to(add_contacts))
        .route("/batch-calls/{id}/contacts", web::get().to(list_contacts))
        .route("/batch-calls/{id}/analytics", web::get().to(analytics))
        .route(
            "/batch-calls/{id}/diagnostics",
            web::get().to(diagnostics::diagnostics),
        );
}

/// A malformed id names no campaign: 404, like any campaign that is not yours.
pub(super) fn campaign_id(path: &web::Path<String>) -> Result<CampaignId, ApiError> {
    CampaignId::parse(path).map_err(|_| ApiError::NotFound)
}

/// Query parameters, read as text and parsed here so that errors name the parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1–100, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Items to skip, default 0.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    offset: Option<String>,
    /// Only items of this status.
    status: Option<String>,
    /// Campaigns only: only those of this agent.
    agent_id: Option<String>,
    /// Contacts only: only waiting contacts held for this reason (`legal_hours`, `window`, …;
    /// the first 10 000 waiting contacts are read).
    held_reason: Option<String>,
    /// Contacts only: only contacts skipped for this reason (`timezone_unresolvable`; the first
    /// 10 000 skipped contacts are read).
    skip_reason: Option<String>,
}

impl ListQuery {
    /// The `status` filter, parsed by `parse`; `what` names the kind of status in the error.
    fn status<T>(
        &self,
        parse: fn(&str) -> Option<T>,
        what: &str,
    ) -> Result<Option<T>, DomainError> {
        let Some(text) = self.status.as_deref() else {
            return Ok(None);
        };
        parse(text)
            .map(Some)
            .ok_or_else(|| DomainError::new("status", format!("`{text}` is not a {what} status")))
    }

    fn page(&self) -> Result<Page, DomainError> {
        page_of(self.limit.as_deref(), self.offset.as_deref())
    }
}

/// The page that `limit` (1–100, default 50) and `offset` (default 0) name.
pub(super) fn page_of(limit: Option<&str>, offset: Option<&str>) -> Result<Page, DomainError> {
    let limit = match limit {
        None => 50,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=100).contains(limit))
            .ok_or_else(|| {
                DomainError::new("limit", format!("`{text}` is not a number from 1 to 100"))
            })?,
    };
    let offset = match offset {
        None => 0,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|&offset| offset <= MAX_OFFSET)
            .ok_or_else(|| {
                DomainError::new(
                    "offset",
                    format!("`{text}` is not a number from 0 to {MAX_OFFSET}"),
                )
            })?,
    };
    Ok(Page { limit, offset })
}

/// The largest `offset` taken: far past any list, and small enough that `offset + limit`
/// never overflows.
const MAX_OFFSET: u64 = i64::MAX as u64;

pub(super) fn query<T>(query: Result<web::Query<T>, actix_web::Error>) -> Result<T, ApiError> {
    query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::Validation(DomainError::new("query", error.to_string())))
}

/// Creates a campaign in `draft`, with its first contacts.
#[utoipa::path(post, path = "/api/public/v1/batch-calls", tag = "batch-calls",
    request_body = dto::CampaignInput,
    params(("X-Idempotency-Key" = Option<String>, Header, description = "Replays the stored response of the same request for 24 h")),
    responses((status = 201, body = envelope::Data<dto::CampaignView>)))]
async fn create(
    state: web::Data<AppState>,
    Org(org): Org,
    request: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    idempotency::once(&state, &org, &request, &body, || async {
        let input: CampaignInput = parse_or_empty(&body)?;
        let (spec, mut contacts) = input.into_new()?;
        super::dnc::mark_listed(&state, &org, &mut contacts).await?;
        super::forecast::check_new(&state, &org, &spec, &contacts)?;
        let (campaign, _) = state
            .store
            .create_campaign(&org, spec, contacts, state.clock.now())
            .await?;
        Ok(respond_warned(
            StatusCode::CREATED,
            CampaignView::from(&campaign),
            warnings(&state, &campaign),
        ))
    })
    .await
}

/// The organisation's campaigns, newest first.
#[utoipa::path(get, path = "/api/public/v1/batch-calls", tag = "batch-calls",
    params(ListQuery),
    responses((status = 200, body = envelope::Paged<dto::CampaignView>)))]
async fn list(
    state: web::Data<AppState>,
    Org(org): Org,
    params: Result<web::Query<ListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let params = query(params)?;
    let page_of = params.page()?;
    let status = params.status(CampaignStatus::parse, "campaign")?;
    let filter = CampaignFilter {
        status,
        agent_id: params.agent_id,
    };
    let listing = state.store.list_campaigns(&org, &filter, page_of).await?;
    let views: Vec<CampaignView> = listing.items.iter().map(CampaignView::from).collect();
    Ok(page(views, listing.total, page_of.limit, page_of.offset))
}

/// One campaign with its counters.
#[utoipa::path(get, path = "/api/public/v1/batch-calls/{id}", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")),
    responses((status = 200, body = envelope::Data<dto::CampaignView>)))]
async fn get(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let campaign = state.store.campaign(&org, campaign_id(&path)?).await?;
    Ok(ok(CampaignView::from(&campaign)))
}

/// Runs a command through the campaign's actor and answers with the campaign.
async fn run(
    state: &AppState,
    org: &OrgId,
    path: &web::Path<String>,
    op: CampaignOp,
) -> Result<HttpResponse, ApiError> {
    let campaign = state.directory.run(org, campaign_id(path)?, op).await?;
    Ok(ok(CampaignView::from(&campaign)))
}

/// Edits a campaign that is not finished; every contact still waiting is redistributed.
#[utoipa::path(patch, path = "/api/public/v1/batch-calls/{id}", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")), request_body = dto::CampaignInput,
    responses((status = 200, body = envelope::Data<dto::CampaignView>)))]
async fn edit(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
    ValidJson(input): ValidJson<CampaignInput>,
) -> Result<HttpResponse, ApiError> {
    let edit = input.into_edit()?;
    let id = campaign_id(&path)?;
    super::forecast::check_patch(&state, &org, id, &edit.schedule, false).await?;
    let campaign = state
        .directory
        .run(&org, id, CampaignOp::Edit(edit))
        .await?;
    Ok(respond_warned(
        StatusCode::OK,
        CampaignView::from(&campaign),
        warnings(&state, &campaign),
    ))
}

/// The warnings a campaign's definition deserves: a window that reaches outside the legal
/// calling hours of a country of the floor.
fn warnings(state: &AppState, campaign: &Campaign) -> Vec<envelope::Warning> {
    state
        .safety
        .regions_outside(&campaign.spec.schedule)
        .into_iter()
        .map(|profile| envelope::Warning {
            code: "outside_legal_hours",
            message: format!(
                "the calling window reaches outside the legal calling hours of {} ({}); \
                 contacts there wait for them",
                profile.region, profile.source
            ),
        })
        .collect()
}

/// `draft → scheduled` (or `active` when the start has come).
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/schedule", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")), request_body(content = Option<dto::ScheduleBody>, description = "Optional"),
    responses((status = 200, body = envelope::Data<dto::CampaignView>)))]
async fn schedule(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
    ValidJson(body): ValidJson<ScheduleBody>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into();
    let id = campaign_id(&path)?;
    super::forecast::check_patch(&state, &org, id, &patch, true).await?;
    run(&state, &org, &path, CampaignOp::Schedule(patch)).await
}

/// Pauses: no new call is placed once this answers; calls already placed run to their end.
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/pause", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")), responses((status = 200, body = envelope::Data<dto::CampaignView>)))]
async fn pause(
    state: web::Data<AppState>,
    org: Org,
    path: web::Path<String>,
    _body: RawBody,
) -> Result<HttpResponse, ApiError> {
    control(state, org, path, Control::Pause).await
}

/// Resumes: `scheduled` if the start is still ahead, else `active`; nothing pending is lost.
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/resume", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")), responses((status = 200, body = envelope::Data<dto::CampaignView>)))]
async fn resume(
    state: web::Data<AppState>,
    org: Org,
    path: web::Path<String>,
    _body: RawBody,
) -> Result<HttpResponse, ApiError> {
    control(state, org, path, Control::Resume).await
}

/// Cancels: every waiting contact ends `cancelled`; calls in flight run to their end.
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/cancel", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")), responses((status = 200, body = envelope::Data<dto::CampaignView>)))]
async fn cancel(
    state: web::Data<AppState>,
    org: Org,
    path: web::Path<String>,
    _body: RawBody,
) -> Result<HttpResponse, ApiError> {
    control(state, org, path, Control::Cancel).await
}

/// Pause, resume and cancel: the same shape, one command each. Their body says nothing, but it
/// is read within the body limit like any other (`RawBody`): a larger one is 413 and commands
/// nothing.
async fn control(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
    control: Control,
) -> Result<HttpResponse, ApiError> {
    run(&state, &org, &path, CampaignOp::Control(control)).await
}

/// Adds contacts; invalid and duplicate rows are skipped and listed with their reason.
#[utoipa::path(post, path = "/api/public/v1/batch-calls/{id}/contacts", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)"), ("X-Idempotency-Key" = Option<String>, Header, description = "Replays the stored response of the same request for 24 h")),
    request_body = dto::ContactsInput,
    responses((status = 200, body = envelope::Data<dto::AddedView>)))]
async fn add_contacts(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
    request: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    idempotency::once(&state, &org, &request, &body, || async {
        let input: ContactsInput = parse_or_empty(&body)?;
        add_valid_contacts(&state, &org, id, input).await
    })
    .await
}

/// Adds the valid rows and lists the others with their reason.
async fn add_valid_contacts(
    state: &AppState,
    org: &OrgId,
    id: CampaignId,
    input: ContactsInput,
) -> Result<HttpResponse, ApiError> {
    let mut valid = Vec::with_capacity(input.contacts.len());
    let mut store_rows = Vec::with_capacity(input.contacts.len());
    let mut errors = Vec::new();
    for (index, row) in input.contacts.into_iter().enumerate() {
        match dto::contact(index, row) {
            Ok(contact) => {
                valid.push(contact);
                store_rows.push(index);
            }
            Err(error) => errors.push(RowError::invalid(index, error)),
        }
    }
    super::dnc::mark_listed(state, org, &mut valid).await?;
    let added = state
        .store
        .add_contacts(org, id, valid, state.clock.now())
        .await?;
    if added.added > 0 {
        state.directory.wake(id);
    }
    Ok(ok(AddedView::new(added, errors, &store_rows)))
}

/// The campaign's contacts in insertion order, optionally of one status.
#[utoipa::path(get, path = "/api/public/v1/batch-calls/{id}/contacts", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)"), ListQuery),
    responses((status = 200, body = envelope::Paged<dto::ContactView>)))]
async fn list_contacts(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
    params: Result<web::Query<ListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let params = query(params)?;
    let page_of = params.page()?;
    let status = params.status(ContactStatus::parse, "contact")?;
    let held_filter = params
        .held_reason
        .as_deref()
        .map(|text| {
            HeldReason::parse(text).ok_or_else(|| {
                DomainError::new("held_reason", format!("`{text}` is not a held reason"))
            })
        })
        .transpose()?;
    let skip_filter = params
        .skip_reason
        .as_deref()
        .map(|text| {
            SkipReason::parse(text).ok_or_else(|| {
                DomainError::new("skip_reason", format!("`{text}` is not a skip reason"))
            })
        })
        .transpose()?;
    let id = campaign_id(&path)?;
    // The campaign: its timezone is the zone of contacts whose own and number's are unknown,
    // and its rules say why a contact waits.
    let campaign = state.store.campaign(&org, id).await?;
    let fallback = campaign.spec.schedule.timezone;
    let now = state.clock.now();
    let view = |contact: &Contact| {
        let held = diagnostics::why_waiting(contact, &campaign, &state.safety, now);
        (held, ContactView::new(contact, fallback, held))
    };
    let matching: Vec<ContactView> = if let Some(wanted) = held_filter {
        diagnostics::waiting_contacts(&state, &campaign)
            .await?
            .iter()
            .filter(|contact| status.is_none_or(|status| contact.status == status))
            .map(view)
            .filter(|(held, _)| held.is_some_and(|(reason, _)| reason == wanted))
            .map(|(_, view)| view)
            .collect()
    } else if let Some(wanted) = skip_filter {
        diagnostics::contacts_of(&state, &campaign, ContactStatus::Skipped)
            .await?
            .iter()
            .filter(|contact| contact.skip_reason == Some(wanted))
            .map(|contact| view(contact).1)
            .collect()
    } else {
        let listing = state.store.contacts(&org, id, status, page_of, now).await?;
        let views: Vec<ContactView> = listing.items.iter().map(|c| view(c).1).collect();
        return Ok(page(views, listing.total, page_of.limit, page_of.offset));
    };
    let total = matching.len() as u64;
    let views = matching
        .into_iter()
        .skip(page_of.offset.min(total) as usize)
        .take(page_of.limit as usize)
        .collect();
    Ok(page(views, total, page_of.limit, page_of.offset))
}

/// Counters, outcome breakdown, answer rate, mean duration, calls per day and hour.
#[utoipa::path(get, path = "/api/public/v1/batch-calls/{id}/analytics", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")),
    responses((status = 200, body = envelope::Data<dto::AnalyticsView>)))]
async fn analytics(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let (campaign, stats) = tokio::try_join!(
        state.store.campaign(&org, id),
        state.store.call_stats(&org, id)
    )?;
    Ok(ok(AnalyticsView::new(&campaign, &stats)))
}

/// Deletes a campaign in `draft` or finished (409 otherwise).
#[utoipa::path(delete, path = "/api/public/v1/batch-calls/{id}", tag = "batch-calls",
    params(("id" = String, Path, description = "The campaign id (a UUID; a `batch_` prefix is accepted)")),
    responses((status = 200, body = envelope::Data<dto::DeletedView>)))]
async fn delete(
    state: web::Data<AppState>,
    Org(org): Org,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    state.store.delete_campaign(&org, id).await?;
    Ok(ok(DeletedView {
        id: id.to_string(),
        deleted: true,
    }))
}

/// Deletes up to 100 campaigns; those that cannot be deleted are listed.
#[utoipa::path(post, path = "/api/public/v1/batch-calls/bulk-delete", tag = "batch-calls",
    request_body = dto::BulkDeleteInput,
    responses((status = 200, body = envelope::Data<dto::BulkDeletedView>)))]
async fn bulk_delete(
    state: web::Data<AppState>,
    Org(org): Org,
    ValidJson(input): ValidJson<BulkDeleteInput>,
) -> Result<HttpResponse, ApiError> {
    if input.ids.len() > 100 {
        return Err(DomainError::new("ids", "at most 100 ids per request").into());
    }
    let (mut deleted, mut failed) = (Vec::new(), Vec::new());
    for text in input.ids {
        let outcome = match CampaignId::parse(&text) {
            Ok(id) => state
                .store
                .delete_campaign(&org, id)
                .await
                .map_err(ApiError::from),
            Err(_) => Err(ApiError::NotFound),
        };
        match outcome {
            Ok(()) => deleted.push(text),
            Err(ApiError::Unavailable(cause)) => return Err(ApiError::Unavailable(cause)),
            Err(_) => failed.push(text),
        }
    }
    Ok(ok(BulkDeletedView {
        deleted_count: deleted.len(),
        failed_count: failed.len(),
        deleted_ids: deleted,
        failed_ids: failed,
    }))
}
