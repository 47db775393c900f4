//! Cogniac (`/1/...`): tokens from an API key or from email and password, the current user
//! and tenant, and a user's API keys.
//!
//! Sign-in: `GET /1/token?tenant_id=` with `Authorization: Key <api_key>` (→ a 24 h access
//! token minted from the key) or HTTP Basic email and password (→ a session, no key behind
//! it). Every other route takes `Authorization: Bearer <token>` or any keygate credential
//! form; the `KEYID:SECRET` form Cogniac shows for keys is accepted wherever a key is.
//! `/1/users/current/tenants` and `/21/users/mfa/status` also take Basic.
//!
//! Errors: the document shows none, so they are `{"error": "<message>"}` with keygate's
//! status codes.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{UNPAGED_LIST_LIMIT, parse_body, status_and_message};
use crate::domain::api_key::ApiKey;
use crate::domain::principal::Principal;
use crate::domain::user::User;
use crate::http::Client;
use crate::http::bare_errors::{Render, not_found, reshape};
use crate::http::caller::{resolve, resolve_full};
use crate::http::credentials;
use crate::http::json::read_query;
use crate::services::api_keys::{NewKeyInput, ScopePolicy};
use crate::services::{Error, Services};

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/1/token", get(token))
        .route("/1/users/current/tenants", get(current_tenants))
        .route("/21/users/mfa/status", get(mfa_status))
        .route("/1/tenants/current", get(current_tenant))
        .route("/1/users/current", get(current_user))
        .route(
            "/1/users/{user_id}/apiKeys",
            get(list_keys).post(create_key),
        )
        .route(
            "/1/users/{user_id}/apiKeys/{key_id}",
            get(read_key).delete(delete_key),
        )
        .route("/1/{*rest}", any(not_found))
        .route("/21/{*rest}", any(not_found))
        .layer(from_fn_with_state(render as Render, reshape))
}

/// Cogniac's error shape (the document shows none): `{"error": "<message>"}`.
fn render(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A service error in Cogniac's shape.
pub struct CogniacError(Error);

impl From<Error> for CogniacError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl From<crate::domain::Invalid> for CogniacError {
    fn from(invalid: crate::domain::Invalid) -> Self {
        Self(Error::Invalid(invalid))
    }
}

impl IntoResponse for CogniacError {
    fn into_response(self) -> Response {
        let (status, message) = status_and_message(&self.0);
        render(status, message)
    }
}

/// A caller with a full credential (token, session or key).
struct Caller(Principal);

impl FromRequestParts<Services> for Caller {
    type Rejection = CogniacError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(resolve_full(parts, services).await?))
    }
}

/// Who signed a Basic-or-credential request: the users an email and password match, or
/// the one user behind a credential.
async fn basic_or_credential(
    services: &Services,
    parts: &Parts,
    tenant_id: Option<&str>,
) -> Result<Vec<User>, CogniacError> {
    if let Some((email, password)) = credentials::basic(&parts.headers) {
        return Ok(services
            .authenticate_password(&email, &password, tenant_id)
            .await?);
    }
    let principal = resolve(parts, services).await?;
    Ok(vec![services.current_user(&principal).await?])
}

#[derive(Deserialize)]
struct TokenQuery {
    tenant_id: Option<String>,
}

async fn token(
    State(services): State<Services>,
    Client(client): Client,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, CogniacError> {
    let query: TokenQuery = read_query(query.as_deref())?;
    let tenant_id = query.tenant_id.as_deref().filter(|t| !t.is_empty());
    let issued = if let Some((email, password)) = credentials::basic(&headers) {
        services
            .sign_in(Some(&email), Some(&password), tenant_id, &client)
            .await?
    } else {
        let api_key =
            credentials::from_headers(&headers).ok_or(Error::Unauthenticated("no credential"))?;
        services.exchange_key(api_key, tenant_id, &client).await?
    };
    Ok(Json(json!({
        "access_token": issued.secret,
        "expires_in": issued.token.expires_at - issued.token.created_at,
    })))
}

async fn current_tenants(
    State(services): State<Services>,
    parts: Parts,
) -> Result<Json<Value>, CogniacError> {
    let users = basic_or_credential(&services, &parts, None).await?;
    let tenants = services.tenants_of(&users).await?;
    Ok(Json(json!({
        "tenants": tenants
            .iter()
            .map(|t| json!({"tenant_id": t.id, "name": t.name}))
            .collect::<Vec<_>>(),
    })))
}

/// keygate has no multi-factor authentication yet: the status is empty.
async fn mfa_status(
    State(services): State<Services>,
    parts: Parts,
) -> Result<Json<Value>, CogniacError> {
    basic_or_credential(&services, &parts, None).await?;
    Ok(Json(json!({})))
}

async fn current_tenant(
    State(services): State<Services>,
    Caller(caller): Caller,
) -> Result<Json<Value>, CogniacError> {
    let tenant = services.current_tenant(&caller).await?;
    Ok(Json(json!({
        "tenant_id": tenant.id,
        "name": tenant.name,
        "region": null,
        "created_at": tenant.created_at,
    })))
}

async fn current_user(
    State(services): State<Services>,
    Caller(caller): Caller,
) -> Result<Json<Value>, CogniacError> {
    let user = services.current_user(&caller).await?;
    // keygate keeps one display name: its first word is the given name, the rest the surname.
    let (given_name, surname) = match user.name.as_deref().map(str::trim) {
        Some(name) => match name.split_once(' ') {
            Some((given, rest)) => (Some(given.to_owned()), Some(rest.trim().to_owned())),
            None => (Some(name.to_owned()), None),
        },
        None => (None, None),
    };
    Ok(Json(json!({
        "user_id": user.id,
        "email": user.email,
        "given_name": given_name,
        "surname": surname,
        "tenant_id": user.tenant_id,
        "created_at": user.created_at,
    })))
}

fn key_record(key: &ApiKey) -> Value {
    json!({
        "user_id": key.user_id,
        "description": key.name,
        "created_at": key.created_at,
        "key_id": key.id,
        "api_key": null,
        "last_auth": key.last_used_at,
        "email": key.email,
    })
}

/// Only the caller's own keys are reachable; another user's id is "not found".
fn own_user(caller: &Principal, user_id: &str) -> Result<(), CogniacError> {
    if caller.user_id == user_id {
        Ok(())
    } else {
        Err(Error::NotFound("user").into())
    }
}

#[derive(Deserialize)]
struct CreateBody {
    description: Option<String>,
}

async fn create_key(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, CogniacError> {
    own_user(&caller, &user_id)?;
    let body: CreateBody = parse_body(&body)?;
    // A Cogniac key stands in for its user's password: it carries the caller's scopes.
    let input = NewKeyInput::standing_in_for(&caller, body.description);
    let created = services
        .create_api_key(&caller, input, ScopePolicy::ALL)
        .await
        .map_err(|error| rename_field(error, "name", "description"))?;
    let mut record = key_record(&created.key);
    record["api_key"] = json!(format!("{}:{}", created.key.id, created.secret));
    if let Some(fields) = record.as_object_mut() {
        // The creation example shows no last_auth.
        fields.remove("last_auth");
    }
    Ok(Json(record))
}

fn rename_field(error: Error, from: &str, to: &str) -> Error {
    match error {
        Error::Invalid(mut invalid) if invalid.field == from => {
            invalid.field = to.to_owned();
            Error::Invalid(invalid)
        }
        other => other,
    }
}

async fn list_keys(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, CogniacError> {
    own_user(&caller, &user_id)?;
    let page = services
        .list_api_keys(&caller, false, UNPAGED_LIST_LIMIT, None)
        .await?;
    Ok(Json(json!({
        "data": page.keys.iter().map(key_record).collect::<Vec<_>>(),
    })))
}

/// One of the caller's unrevoked keys (a revoked key is deleted, as far as Cogniac knows).
async fn live_key(
    services: &Services,
    caller: &Principal,
    key_id: &str,
) -> Result<ApiKey, CogniacError> {
    let key = services.get_api_key(caller, key_id).await?;
    if key.revoked_at.is_some() {
        return Err(Error::NotFound("API key").into());
    }
    Ok(key)
}

async fn read_key(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((user_id, key_id)): Path<(String, String)>,
) -> Result<Json<Value>, CogniacError> {
    own_user(&caller, &user_id)?;
    Ok(Json(key_record(
        &live_key(&services, &caller, &key_id).await?,
    )))
}

async fn delete_key(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((user_id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, CogniacError> {
    own_user(&caller, &user_id)?;
    live_key(&services, &caller, &key_id).await?;
    services.revoke_api_key(&caller, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
