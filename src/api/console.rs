//! The operator console at `/console` and the API reference page, served from files embedded
//! in the binary (no CDN, no build step). The pages hold no data: they call the public API with
//! the key the operator signs in with, so they are public like the OpenAPI document.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/console", web::get().to(page)).service(
        // gzip when the browser takes it: the script is a third of its size so.
        web::scope("/console")
            .wrap(actix_web::middleware::Compress::default())
            .route("/", web::get().to(page))
            .route("/{file}", web::get().to(asset)),
    );
}

/// The files of the console, by name: (content type, text).
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("console/console.css"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_str!("console/docs.js"),
    ),
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("console/index.html"),
    ),
];

/// Scripts, styles and requests from the node itself only; never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The reference page: `docs.js` renders the OpenAPI document of this node.
const DOCS_PAGE: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    "<title>Pacer API reference</title><link rel=\"stylesheet\" href=\"/console/console.css\">",
    "<script src=\"/console/docs.js\" defer></script></head><body>",
    "<header><span class=\"brand\">Pacer</span><nav aria-label=\"Sections\">",
    "<a href=\"/console\">Console</a><a href=\"/api/public/v1/openapi.json\">openapi.json</a>",
    "</nav></header><main id=\"main\">Loading the API description…</main></body></html>"
);

fn respond(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // A new binary may bring new files under the same names: browsers check again.
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(body)
}

async fn page() -> HttpResponse {
    asset(web::Path::from("index.html".to_owned())).await
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, content_type, body)) => respond(content_type, body),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file in the console"),
    }
}

/// `GET /api/public/v1/docs`.
pub async fn docs() -> HttpResponse {
    respond("text/html; charset=utf-8", DOCS_PAGE)
}
