//! The HTTP API: actix-web routes, wire types, auth and errors. The only layer that knows HTTP
//! and JSON shapes.

mod auth;
mod calls;
// utoipa's expansion of `params(ListQuery)` (and `PageQuery`) names the type with a path this
// lint flags.
#[allow(unused_qualifications, reason = "in utoipa's generated code")]
mod campaigns;
mod console;
mod diagnostics;
#[allow(unused_qualifications, reason = "in utoipa's generated code")]
mod dnc;
mod dto;
mod envelope;
mod error;
#[allow(unused_qualifications, reason = "in utoipa's generated code")]
mod forecast;
mod idempotency;
#[allow(unused_qualifications, reason = "in utoipa's generated code")]
mod import;
mod json;
mod listener;
mod nodes;
mod openapi;
mod ops;
#[allow(unused_qualifications, reason = "in utoipa's generated code")]
mod requeue;
#[allow(unused_qualifications, reason = "in utoipa's generated code")]
mod webhooks;

use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::web;

pub use auth::{ApiKeys, RateLimiter};
pub use error::ApiError;
pub use json::BodyLimit;
pub use listener::{Limits, fitting_connections, serve};
pub use openapi::ApiDoc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::actors::Directory;
use crate::clock::Clock;
use crate::store::CampaignStore;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn CampaignStore>,
    pub directory: Directory,
    pub clock: Arc<dyn Clock>,
    /// Verifies call events from the dialer provider (`None`: the endpoint refuses them).
    pub call_events_secret: Option<Arc<str>>,
    /// Requests per organisation.
    pub rate_limiter: Arc<RateLimiter<crate::domain::OrgId>>,
    /// Failed authentications per client address.
    pub auth_failures: Arc<RateLimiter<std::net::IpAddr>>,
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    pub metrics: PrometheusHandle,
    /// The operator's call-safety rules: campaign warnings and diagnostics read them.
    pub safety: Arc<crate::domain::CallSafety>,
    /// The carrier's calls per second across the cluster, if limited (forecasts read it).
    pub carrier_cps: Option<f64>,
}

pub const BASE_PATH: &str = "/api/public/v1";

/// Mounts every route on an `App`: the campaign API under [`BASE_PATH`] and the operations
/// endpoints at the root, with the request-id middleware and the JSON 404 for unknown paths.
pub fn configure(
    state: AppState,
    keys: ApiKeys,
    body_limit: BodyLimit,
) -> impl FnOnce(&mut web::ServiceConfig) + Clone {
    move |config| {
        config
            .app_data(web::Data::new(state))
            .app_data(web::Data::new(keys))
            .app_data(web::Data::new(body_limit))
            .service(
                web::scope("")
                    .wrap(from_fn(envelope::request_id))
                    .configure(ops::routes)
                    .configure(console::routes)
                    .service(
                        web::scope(BASE_PATH)
                            .configure(campaigns::routes)
                            .configure(import::routes)
                            .configure(nodes::routes)
                            .configure(calls::routes)
                            .configure(webhooks::routes)
                            .configure(dnc::routes)
                            .configure(requeue::routes)
                            .configure(forecast::routes)
                            .configure(openapi::routes)
                            .default_service(web::to(error::no_route)),
                    )
                    .default_service(web::to(error::no_route)),
            );
    }
}
