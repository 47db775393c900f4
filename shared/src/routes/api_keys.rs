//! `/v1/api-keys`: the caller's own API keys.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views;
use crate::domain::metering::{CreditsInput, RateLimitInput};
use crate::domain::validation::bounded_limit;
use crate::http::{Caller, JsonBody, Problem, QueryParams, cursor};
use crate::services::Services;
use crate::services::api_keys::{KeyPatch, NewKeyInput, ScopePolicy};
use crate::services::roll::Rolled;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/api-keys", get(list).post(create).delete(revoke_all))
        .route(
            "/v1/api-keys/{key_id}",
            get(read).patch(patch).delete(revoke),
        )
        .route("/v1/api-keys/{key_id}/roll", post(roll))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    expires_at: Option<String>,
    #[serde(rename = "type")]
    key_type: Option<String>,
    ratelimits: Option<Vec<RateLimitInput>>,
    credits: Option<CreditsInput>,
}

impl From<CreateBody> for NewKeyInput {
    fn from(body: CreateBody) -> Self {
        Self {
            name: body.name,
            scopes: body.scopes,
            expires_at: body.expires_at,
            expires_in_days: None,
            key_type: body.key_type,
            ratelimits: body.ratelimits,
            credits: body.credits,
        }
    }
}

async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let created = services
        .create_api_key(&caller, body.into(), ScopePolicy::ALL)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::created_key(&created.key, &created.secret)),
    ))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    include_revoked: Option<bool>,
}

async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Value>, Problem> {
    let limit =
        bounded_limit("limit", query.limit, 50, 1, 200).map_err(crate::services::Error::from)?;
    let after =
        cursor::decode("cursor", query.cursor.as_deref()).map_err(crate::services::Error::from)?;
    let page = services
        .list_api_keys(
            &caller,
            query.include_revoked.unwrap_or(false),
            limit,
            after.as_deref(),
        )
        .await?;
    Ok(Json(views::cursor_page(
        &page.keys,
        views::api_key,
        page.next_after.as_deref(),
    )))
}

async fn read(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let key = services.get_api_key(&caller, &key_id).await?;
    let remaining = services.credits_remaining(&key.id, &key.metering).await?;
    let mut view = views::api_key(&key);
    view["credits"] = views::credits(&key.metering, remaining);
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    is_active: Option<bool>,
    expires_at: Option<String>,
    ratelimits: Option<Vec<RateLimitInput>>,
    /// `null` removes the credits; absent leaves them.
    #[serde(default, deserialize_with = "present")]
    credits: Option<Option<CreditsInput>>,
}

/// Tells an explicit `null` (Some(None)) from an absent field (None).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

async fn patch(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
    JsonBody(body): JsonBody<PatchBody>,
) -> Result<Json<Value>, Problem> {
    let patch = KeyPatch {
        name: body.name,
        scopes: body.scopes,
        is_active: body.is_active,
        expires_at: body.expires_at,
        ratelimits: body.ratelimits,
        credits: body.credits,
    };
    Ok(Json(views::api_key(
        &services.patch_api_key(&caller, &key_id, patch).await?,
    )))
}

async fn revoke(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
) -> Result<Json<Value>, Problem> {
    Ok(Json(views::api_key(
        &services.revoke_api_key(&caller, &key_id).await?,
    )))
}

#[derive(Deserialize)]
struct RevokeAllQuery {
    exclude_current: Option<bool>,
}

async fn revoke_all(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<RevokeAllQuery>,
) -> Result<Json<Value>, Problem> {
    let count = services
        .revoke_all_api_keys(&caller, query.exclude_current.unwrap_or(true))
        .await?;
    Ok(Json(json!({ "revoked_count": count })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollBody {
    grace_secs: Option<i64>,
}

/// `POST /v1/api-keys/{id}/roll`: 201 with the successor and its secret (shown once) and
/// the old key as it now ends. A replay of the same `Idempotency-Key` answers 200 with
/// the same successor, `"key": null` (the secret is never shown twice), `"replayed": true`
/// and the header `Idempotent-Replayed: true`.
async fn roll(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RollBody>,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            crate::services::Error::invalid("Idempotency-Key", "must be visible ASCII")
        })?),
    };
    let rolled = services
        .roll_api_key(&caller, &key_id, body.grace_secs, idempotency_key)
        .await?;
    Ok(match rolled {
        Rolled::New { created, old } => {
            let mut view = views::created_key(&created.key, &created.secret);
            view["rolled_from"] = views::api_key(&old);
            view["replayed"] = Value::Bool(false);
            (StatusCode::CREATED, Json(view)).into_response()
        }
        Rolled::Replayed { new, old } => {
            let mut view = views::api_key(&new);
            view["key"] = Value::Null;
            view["rolled_from"] = views::api_key(&old);
            view["replayed"] = Value::Bool(true);
            (
                StatusCode::OK,
                [("idempotent-replayed", "true")],
                Json(view),
            )
                .into_response()
        }
    })
}
