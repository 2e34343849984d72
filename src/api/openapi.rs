//! The OpenAPI document, generated from the handlers' annotations and the wire types, served at
//! `/api/public/v1/openapi.json` with a reference page at `/api/public/v1/docs`.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::dto::{
    AddedView, AnalyticsView, BulkDeleteInput, BulkDeletedView, CampaignInput, CampaignView,
    ContactInput, ContactView, ContactsInput, DeletedView, RowError, ScheduleBody,
};
use super::error::ErrorEnvelope;

mod polish;
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

/// What every route of the API shares: the Bearer key (the rest is in [`polish`]).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for (path, item) in &mut openapi.paths.paths {
            if !path.starts_with(BASE_PATH) || path.contains("/calls/") {
                continue;
            }
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                operation.security =
                    Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]);
            }
        }
    }
}

/// The document as served: generated, then polished (see [`polish`]); built once.
pub fn document_json() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
        polish::polish(&mut document);
        document
    })
}

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/openapi.json", web::get().to(document))
        .route("/docs", web::get().to(super::console::docs));
}

async fn document() -> HttpResponse {
    HttpResponse::Ok().json(document_json())
}
