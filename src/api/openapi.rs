//! The OpenAPI document, generated from the handlers' annotations and the wire types, served at
//! `/api/public/v1/openapi.json` with a reference page at `/api/public/v1/docs`.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::dto::{
    AddedView, AnalyticsView, BulkDeleteInput, BulkDeletedView, CampaignInput, CampaignView,
    ContactInput, ContactView, ContactsInput, DeletedView, RowError, ScheduleBody,
};
use super::error::ErrorEnvelope;
use super::{
    BASE_PATH, calls, campaigns, diagnostics, dnc, envelope, forecast, import, nodes, ops, requeue,
    webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pacer",
        description = "A dispatcher for outbound call campaigns (batch calls): pause, resume and \
                       edit while delivery runs. Errors use the JSON error envelope; every \
                       response carries `X-Request-Id`.",
    ),
    paths(
        campaigns::create,
        campaigns::list,
        campaigns::get,
        campaigns::edit,
        campaigns::delete,
        campaigns::bulk_delete,
        campaigns::schedule,
        campaigns::pause,
        campaigns::resume,
        campaigns::cancel,
        campaigns::add_contacts,
        import::import,
        campaigns::list_contacts,
        campaigns::analytics,
        diagnostics::diagnostics,
        requeue::retry,
        requeue::callback,
        forecast::forecast,
        calls::call_event,
        webhooks::dead_letters,
        webhooks::replay,
        dnc::add,
        dnc::import,
        dnc::list,
        dnc::lookup,
        dnc::remove,
        dnc::remove_prefix,
        nodes::nodes,
        ops::healthz,
        ops::readyz,
        ops::metrics,
    ),
    components(schemas(
        CampaignInput, ContactInput, ContactsInput, ScheduleBody, BulkDeleteInput, CampaignView,
        ContactView, AddedView, RowError, AnalyticsView, DeletedView, BulkDeletedView,
        ErrorEnvelope, calls::CallEventInput, webhooks::DeadLetterView, webhooks::ReplayInput,
        webhooks::ReplayedView, diagnostics::DiagnosticsView, diagnostics::BlockedBy,
        envelope::Warning, dnc::DncEntryInput, dnc::DncAddInput, dnc::DncEntryView,
        dnc::DncAddedView, dnc::DncImportedView, dnc::DncRowError, dnc::DncRemovedView,
        requeue::RetryInput, requeue::RequeuedView, forecast::ForecastView,
        requeue::CallbackInput, requeue::CallbackView, import::ImportedView,
        import::ImportRowError, nodes::NodeView,
    )),
    modifiers(&Conventions),
    tags(
        (name = "batch-calls", description = "Campaigns and their contacts (Bearer key)"),
        (name = "calls", description = "Call events from the dialer provider (signed)"),
        (name = "webhooks", description = "Webhooks given up on: list and send again (Bearer key)"),
        (name = "dnc", description = "The organisation's do-not-call list (Bearer key)"),
        (name = "operations", description = "Health, readiness and metrics (no key); the nodes alive (Bearer key)"),
    ),
)]
#[derive(Debug)]
pub struct ApiDoc;

/// What every route of the API shares: the Bearer key and the error answers.
struct Conventions;

/// Error answers each route of the API may give, besides its own.
const ERRORS: [(&str, &str); 9] = [
    ("400", "The body is not JSON"),
    ("401", "Missing or invalid key (or signature)"),
    ("408", "The body did not arrive in time"),
    ("404", "No such campaign for this organisation"),
    (
        "409",
        "Not allowed in the campaign's status, or an idempotency key reused",
    ),
    ("413", "The body is larger than the limit"),
    ("422", "A field is invalid; `details.field` names it"),
    (
        "429",
        "Rate limit (or too many wrong keys from one address); see `Retry-After`",
    ),
    ("503", "The store is unavailable"),
];

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error: RefOr<Response> = ResponseBuilder::new()
            .description("The error envelope")
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name(
                        "ErrorEnvelope",
                    )))
                    .build(),
            )
            .build()
            .into();
        for (path, item) in &mut openapi.paths.paths {
            if !path.starts_with(BASE_PATH) {
                continue;
            }
            let signed = path.contains("/calls/");
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (status, description) in ERRORS {
                    let mut response = error.clone();
                    if let RefOr::T(response) = &mut response {
                        description.clone_into(&mut response.description);
                    }
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(response);
                }
                if !signed {
                    operation.security =
                        Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                            "bearer",
                            Vec::<String>::new(),
                        )]);
                }
            }
        }
    }
}

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/openapi.json", web::get().to(document))
        .route("/docs", web::get().to(super::console::docs));
}

async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
