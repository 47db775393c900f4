//! VirtuousAI (`/api/v1/access-tokens`): the caller's named access tokens.
//!
//! Credential: `authorization: Bearer`, `X-API-Key`, or `vai_token` (header or cookie).
//! Named access tokens are keygate API keys: same items, same 10-active limit, same ids
//! (shown in UUID form, which is the same 128 bits as the ULID; both forms are accepted
//! in paths), so a token made here is a key everywhere else. Their `tokenType` is
//! `api_key`. `tokenType=session` lists the user's sign-in sessions and
//! `tokenType=access_token` their exchanged and temp tokens, each item with its real
//! `tokenType`; without `tokenType` the list is the named tokens (API keys), so that one
//! page is one Query of one source. Get and revoke by id find sessions and tokens too, and
//! revoke-all revokes keys and sessions (sparing the one in use with `exclude_current`).
//!
//! Errors: validation answers 422 `{"detail": [{"loc", "msg", "type"}]}` as the document
//! shows; every other error is FastAPI's `{"detail": "<message>"}`.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{parse_body, status_and_message};
use crate::domain::Invalid;
use crate::domain::api_key::ApiKey;
use crate::domain::credential::CredentialKind;
use crate::domain::ids::{canonical_ulid, ulid_to_uuid};
use crate::domain::principal::Principal;
use crate::domain::token::AccessToken;
use crate::domain::validation::bounded_limit;
use crate::http::bare_errors::{Render, not_found, reshape};
use crate::http::caller::resolve_full;
use crate::http::cursor;
use crate::http::json::read_query;
use crate::services::api_keys::{NewKeyInput, ScopePolicy};
use crate::services::{Error, Services};

/// The `tokenType` of the named tokens this surface creates (keygate API keys).
pub const TOKEN_TYPE: &str = "api_key";

pub fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/api/v1/access-tokens",
            get(list).post(create).delete(revoke_all),
        )
        .route("/api/v1/access-tokens/{token_id}", get(read).delete(revoke))
        .route("/api/v1/{*rest}", any(not_found))
        .layer(from_fn_with_state(render as Render, reshape))
}

/// FastAPI's shape for every error but validation: `{"detail": "<message>"}`.
fn render(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "detail": message }))).into_response()
}

/// Where a field travels, for the `loc` of a validation error.
fn location(field: &str) -> &'static str {
    match field {
        "tokenType" | "includeRevoked" | "limit" | "cursor" | "exclude_current" => "query",
        "token_id" => "path",
        _ => "body",
    }
}

/// keygate's field names as VirtuousAI spells them.
fn wire_name(field: &str) -> &str {
    match field {
        "expires_in_days" => "expiresInDays",
        other => other,
    }
}

/// A service error in VirtuousAI's (FastAPI's) shape.
pub struct VaiError {
    error: Error,
    kind: &'static str,
}

impl From<Error> for VaiError {
    fn from(error: Error) -> Self {
        Self {
            error,
            kind: "value_error",
        }
    }
}

impl From<Invalid> for VaiError {
    fn from(invalid: Invalid) -> Self {
        Error::Invalid(invalid).into()
    }
}

impl VaiError {
    fn missing(field: &str) -> Self {
        Self {
            error: Error::invalid(field, "Field required"),
            kind: "missing",
        }
    }
}

impl IntoResponse for VaiError {
    fn into_response(self) -> Response {
        if let Error::Invalid(invalid) = &self.error {
            let field = wire_name(&invalid.field);
            let loc = if field == "body" {
                json!(["body"])
            } else {
                json!([location(field), field])
            };
            let body = json!({"detail": [{
                "loc": loc,
                "msg": invalid.message,
                "type": self.kind,
            }]});
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
        let (status, message) = status_and_message(&self.error);
        render(status, message)
    }
}

struct Caller(Principal);

impl FromRequestParts<Services> for Caller {
    type Rejection = VaiError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(resolve_full(parts, services).await?))
    }
}

fn token_view(key: &ApiKey) -> Value {
    let time = crate::http::views::time;
    json!({
        "createdAt": time(Some(key.created_at)),
        "expiresAt": time(key.expires_at),
        "id": ulid_to_uuid(&key.id).unwrap_or_else(|| key.id.clone()),
        "lastUsedAt": time(key.last_used_at),
        "name": key.name,
        "revokedAt": time(key.revoked_at),
        "tokenPrefix": key.key_prefix,
        "tokenType": TOKEN_TYPE,
    })
}

/// A session or an access token, in the same shape with its real `tokenType`.
fn session_view(token: &AccessToken) -> Value {
    let time = crate::http::views::time;
    let prefix = ulid::Ulid::from_string(&token.id)
        .map(|id| crate::domain::credential::display_prefix(token.kind, id))
        .unwrap_or_default();
    json!({
        "createdAt": time(Some(token.created_at)),
        "expiresAt": time(Some(token.expires_at)),
        "id": ulid_to_uuid(&token.id).unwrap_or_else(|| token.id.clone()),
        "lastUsedAt": Value::Null,
        "name": token.kind.as_str(),
        "revokedAt": time(token.revoked_at),
        "tokenPrefix": prefix,
        "tokenType": token.kind.as_str(),
    })
}

/// The keygate id named by a path's `token_id` (UUID or ULID form).
fn token_id(raw: &str) -> Result<String, VaiError> {
    canonical_ulid(raw)
        .ok_or_else(|| Invalid::new("token_id", "Input should be a valid UUID").into())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    token_type: Option<String>,
    include_revoked: Option<bool>,
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, VaiError> {
    let query: ListQuery = read_query(query.as_deref())?;
    let limit = bounded_limit("limit", query.limit, 50, 1, 200)?;
    let after = cursor::decode("cursor", query.cursor.as_deref())?;
    let include_revoked = query.include_revoked.unwrap_or(false);
    let kind = match query.token_type.as_deref() {
        None | Some(TOKEN_TYPE) => CredentialKind::ApiKey,
        Some(raw) => CredentialKind::parse(raw).ok_or_else(|| {
            Invalid::new(
                "tokenType",
                "Input should be 'api_key', 'session' or 'access_token'",
            )
        })?,
    };
    if kind != CredentialKind::ApiKey {
        let page = services
            .list_tokens(&caller, kind, include_revoked, limit, after.as_deref())
            .await?;
        return Ok(Json(json!({
            "items": page.tokens.iter().map(session_view).collect::<Vec<_>>(),
            "nextCursor": page.next_after.as_deref().map(cursor::encode),
        })));
    }
    let page = services
        .list_api_keys(
            &caller,
            query.include_revoked.unwrap_or(false),
            limit,
            after.as_deref(),
        )
        .await?;
    Ok(Json(json!({
        "items": page.keys.iter().map(token_view).collect::<Vec<_>>(),
        "nextCursor": page.next_after.as_deref().map(cursor::encode),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: Option<String>,
    expires_in_days: Option<i64>,
}

async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), VaiError> {
    let body: CreateBody = parse_body(&body)?;
    let name = body.name.ok_or_else(|| VaiError::missing("name"))?;
    // A named token stands in for its creator: it carries the caller's scopes.
    let input = NewKeyInput {
        expires_in_days: body.expires_in_days,
        ..NewKeyInput::standing_in_for(&caller, Some(name))
    };
    let created = services
        .create_api_key(&caller, input, ScopePolicy::ALL)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "plaintext": created.secret,
            "token": token_view(&created.key),
        })),
    ))
}

#[derive(Deserialize)]
struct RevokeAllQuery {
    exclude_current: Option<bool>,
}

async fn revoke_all(
    State(services): State<Services>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, VaiError> {
    let query: RevokeAllQuery = read_query(query.as_deref())?;
    let count = services
        .revoke_all_credentials(&caller, query.exclude_current.unwrap_or(true))
        .await?;
    Ok(Json(json!({ "revokedCount": count })))
}

async fn read(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, VaiError> {
    let id = token_id(&raw_id)?;
    match services.get_api_key(&caller, &id).await {
        Ok(key) => Ok(Json(token_view(&key))),
        Err(Error::NotFound(_)) => Ok(Json(session_view(
            &services.get_own_token(&caller, &id).await?,
        ))),
        Err(error) => Err(error.into()),
    }
}

async fn revoke(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(raw_id): Path<String>,
) -> Result<StatusCode, VaiError> {
    let id = token_id(&raw_id)?;
    match services.revoke_api_key(&caller, &id).await {
        Ok(_) => {}
        Err(Error::NotFound(_)) => {
            services.revoke_own_token(&caller, &id).await?;
        }
        Err(error) => return Err(error.into()),
    }
    Ok(StatusCode::NO_CONTENT)
}
