//! `POST /v1/secret-scanning/report`: GitHub's secret-scanning partner endpoint. Public
//! (no credential: the scanner proves itself by signing the body), served by the api-keys
//! function, which holds the revocation rights.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::Problem;
use crate::services::Services;

pub fn routes() -> Router<Services> {
    Router::new().route("/v1/secret-scanning/report", post(report))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers GitHub's feedback array: `[{token_hash, token_type, label}]`, one per token.
#[utoipa::path(
    post,
    path = "/v1/secret-scanning/report",
    tag = "api-keys",
    operation_id = "secret_scanning_report",
    summary = "GitHub secret scanning: leaked keygate keys are revoked (signed body, no credential)",
    security(()),
    params(
        ("github-public-key-identifier" = Option<String>, Header),
        ("github-public-key-signature" = Option<String>, Header),
    ),
    request_body = Vec<super::openapi::LeakedToken>,
    responses((status = 200, body = Vec<LeakFeedback>)),
)]
pub(super) async fn report(
    State(services): State<Services>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Vec<LeakFeedback>>, Problem> {
    let feedback = services
        .handle_leak_report(
            header(&headers, "github-public-key-identifier"),
            header(&headers, "github-public-key-signature"),
            &body,
        )
        .await?;
    Ok(Json(
        feedback
            .iter()
            .map(|f| LeakFeedback {
                token_hash: f.token_hash.clone(),
                token_type: f.token_type.clone(),
                label: f.label.as_str(),
            })
            .collect(),
    ))
}

/// GitHub's feedback for one reported token.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeakFeedback {
    /// SHA-256 of the token, hex (GitHub's own identifier for it).
    pub token_hash: String,
    pub token_type: String,
    /// `true_positive` or `false_positive`
    pub label: &'static str,
}
