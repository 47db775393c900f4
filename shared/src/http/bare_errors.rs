//! Answers axum makes itself, before or instead of a handler (a method the route does not
//! take, a body over the limit, a path it cannot decode, a route that does not exist), have
//! an empty or `text/plain` body. Each surface wraps its routes in [`reshape`] with its own
//! [`Render`], so those answers come in the surface's JSON error shape too; the `Allow`
//! header of a 405 is kept.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::json::MAX_BODY_BYTES;

/// A surface's error shape: the response for a status and a client-safe message.
pub type Render = fn(StatusCode, String) -> Response;

/// How much of a framework's plain-text error message is kept.
const MAX_MESSAGE_BYTES: usize = 1024;

/// Middleware (`axum::middleware::from_fn_with_state(render, reshape)`): passes every
/// answer through, except a bare error, which it renders again with `render`.
pub async fn reshape(State(render): State<Render>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if !is_bare_error(&response) {
        return response;
    }
    let status = response.status();
    let allow = response.headers().get(header::ALLOW).cloned();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("body: must be at most {MAX_BODY_BYTES} bytes")
        }
        StatusCode::NOT_FOUND => format!("no such route: {method} {path}"),
        _ => {
            let text = axum::body::to_bytes(response.into_body(), MAX_MESSAGE_BYTES)
                .await
                .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
                .unwrap_or_default();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            }
        }
    };
    let mut shaped = render(status, message);
    if let Some(allow) = allow {
        shaped.headers_mut().insert(header::ALLOW, allow);
    }
    shaped
}

/// An error whose body is not JSON: none of keygate's own answers is.
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

/// A route under a surface's prefix that names nothing: a bare 404 that [`reshape`] renders
/// in the surface's shape.
pub async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}
