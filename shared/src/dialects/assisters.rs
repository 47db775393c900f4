//! Assisters (`/api/keys`): the dashboard's key management.
//!
//! Authenticated by the dashboard session cookie only (`keygate_session`, from
//! `POST /v1/sessions`): an API key, a token, or a session sent in a header answers 401.
//! Writes need an allowed `Origin`, like every cookie-only write.
//!
//! Errors: the document lists none, so they are `{"error": "<message>"}`; validation and
//! the 10-active-key limit answer 400, the rest keygate's status codes.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{UNPAGED_LIST_LIMIT, parse_body, status_and_message};
use crate::domain::Invalid;
use crate::domain::api_key::ApiKey;
use crate::domain::credential::CredentialKind;
use crate::domain::principal::Principal;
use crate::domain::scope::Scope;
use crate::http::bare_errors::{Render, not_found, reshape};
use crate::http::caller::resolve_with_source;
use crate::http::credentials::Source;
use crate::http::views::time;
use crate::services::api_keys::{KeyPatch, NewKeyInput, ScopePolicy};
use crate::services::{Error, Services};

/// Scopes a new key may ask for; `admin` may only be granted by a later update.
const CREATE_SCOPES: ScopePolicy<'static> = ScopePolicy {
    allowed: &[Scope::Chat, Scope::Read, Scope::Write],
};

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/api/keys", get(list).post(create))
        .route("/api/keys/{id}", patch(update).delete(delete))
        .route("/api/keys/{id}/{*rest}", any(not_found))
        .layer(from_fn_with_state(render as Render, reshape))
}

/// Assisters' error shape (the document lists none): `{"error": "<message>"}`.
fn render(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A service error in Assisters' shape.
pub struct AssistersError(Error);

impl From<Error> for AssistersError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl From<Invalid> for AssistersError {
    fn from(invalid: Invalid) -> Self {
        Self(Error::Invalid(invalid))
    }
}

impl IntoResponse for AssistersError {
    fn into_response(self) -> Response {
        let (status, message) = match &self.0 {
            Error::LimitReached(detail) => (StatusCode::BAD_REQUEST, detail.clone()),
            other => status_and_message(other),
        };
        render(status, message)
    }
}

/// A dashboard user: a session presented in its cookie.
struct DashboardUser(Principal);

impl FromRequestParts<Services> for DashboardUser {
    type Rejection = AssistersError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        let (principal, source) = resolve_with_source(parts, services).await?;
        if source != Source::Cookie || principal.kind != CredentialKind::Session {
            return Err(Error::Unauthenticated(
                "key management needs the dashboard session cookie",
            )
            .into());
        }
        Ok(Self(principal))
    }
}

fn key_record(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "scopes": key.scopes.names(),
        "last_used_at": time(key.last_used_at),
        "expires_at": time(key.expires_at),
        "is_active": key.is_active(crate::domain::clock::now_epoch()),
        "created_at": time(Some(key.created_at)),
    })
}

async fn list(
    State(services): State<Services>,
    DashboardUser(user): DashboardUser,
) -> Result<Json<Value>, AssistersError> {
    let page = services
        .list_api_keys(&user, false, UNPAGED_LIST_LIMIT, None)
        .await?;
    Ok(Json(Value::Array(
        page.keys.iter().map(key_record).collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    expires_at: Option<String>,
}

async fn create(
    State(services): State<Services>,
    DashboardUser(user): DashboardUser,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), AssistersError> {
    let body: CreateBody = parse_body(&body)?;
    let input = NewKeyInput {
        name: body.name,
        scopes: body.scopes,
        expires_at: body.expires_at,
        ..Default::default()
    };
    let created = services.create_api_key(&user, input, CREATE_SCOPES).await?;
    let mut record = key_record(&created.key);
    record["key"] = json!(created.secret);
    Ok((StatusCode::CREATED, Json(record)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    is_active: Option<bool>,
}

async fn update(
    State(services): State<Services>,
    DashboardUser(user): DashboardUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AssistersError> {
    let body: UpdateBody = parse_body(&body)?;
    let patch = KeyPatch {
        name: body.name,
        scopes: body.scopes,
        is_active: body.is_active,
        expires_at: None,
        ..KeyPatch::default()
    };
    services.patch_api_key(&user, &id, patch).await?;
    Ok(Json(json!({"success": true})))
}

async fn delete(
    State(services): State<Services>,
    DashboardUser(user): DashboardUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, AssistersError> {
    services.revoke_api_key(&user, &id).await?;
    Ok(Json(json!({"success": true})))
}
