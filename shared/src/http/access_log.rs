//! One log line per request: request id, method, route template, status and latency. The
//! route is the matched template (`/v1/api-keys/{key_id}`), never the raw path or query,
//! so no id or value a client sent ends up in the logs.
//!
//! The line is written at DEBUG for an answer below 500 and at WARN for a server error:
//! deployed, API Gateway's access log already records every request's id, route, status
//! and latencies, so at INFO a function writes a line only where the access log cannot
//! say why (a 5xx, beside the error that caused it). `AWS_LAMBDA_LOG_LEVEL=DEBUG` brings
//! every line back, deployed or locally.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;

pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = request_id(&request);
    let response = next.run(request).await;
    let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::warn!(request_id, method = %method, route, status, latency_ms, "request");
    } else {
        tracing::debug!(request_id, method = %method, route, status, latency_ms, "request");
    }
    response
}

/// Lambda's request id (the one on the runtime's START/END/REPORT lines), else API Gateway's,
/// else a fresh one (the local server).
fn request_id(request: &Request) -> String {
    if let Some(context) = request.extensions().get::<lambda_http::Context>() {
        return context.request_id.clone();
    }
    match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) if context.request_id.is_some() => {
            context.request_id.clone().unwrap_or_default()
        }
        _ => format!("local-{}", crate::domain::credential::new_ulid()),
    }
}
