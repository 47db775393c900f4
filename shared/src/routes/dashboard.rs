//! The key dashboard: one HTML page and its script and style sheet, embedded in the binary
//! and served on the API's own origin, so the session cookie and the Origin check need no
//! configuration. Strict CSP: only this origin's script, style and API; no framing.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::Problem;
use crate::services::Services;

const PAGE: &str = include_str!("../../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../../assets/dashboard/app.js");
const STYLE: &str = include_str!("../../assets/dashboard/app.css");

/// No inline script or style, nothing from another origin, no framing (clickjacking).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/", get(page))
        .route("/dashboard/{asset}", get(asset))
}

async fn page() -> Response {
    serve("text/html; charset=utf-8", PAGE)
}

async fn asset(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "app.js" => serve("text/javascript; charset=utf-8", SCRIPT),
        "app.css" => serve("text/css; charset=utf-8", STYLE),
        _ => Problem::not_found_route().into_response(),
    }
}

fn serve(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (
                HeaderName::from_static("content-security-policy"),
                CONTENT_SECURITY_POLICY,
            ),
            (HeaderName::from_static("x-content-type-options"), "nosniff"),
            (HeaderName::from_static("referrer-policy"), "no-referrer"),
            // Small and embedded: revalidate each time rather than serve a stale script.
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
