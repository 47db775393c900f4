//! `/v1/api-keys`: the caller's own API keys.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use utoipa::{IntoParams, ToSchema};

use super::views::{self, ApiKeyView, CursorPage, RevokedCount};
use crate::domain::key_metadata::KeyFilter;
use crate::domain::metering::{CreditsInput, EndUserBudgetInput, RateLimitInput};
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKeyCreate)]
pub struct CreateBody {
    #[schema(min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(value_type = Option<Vec<super::openapi::Scope>>)]
    scopes: Option<Vec<String>>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = Option<super::openapi::KeyType>)]
    key_type: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    ratelimits: Option<Vec<RateLimitInput>>,
    #[schema(value_type = Option<Object>)]
    credits: Option<CreditsInput>,
    /// The models the key may use (1 to 50 names; absent: the creating credential's list,
    /// or any).
    #[schema(max_items = 50)]
    models: Option<Vec<String>>,
    /// What each end user of the key's temp tokens may spend: `{ratelimits?, credits?}`,
    /// each end user starting with `credits.remaining`.
    #[schema(value_type = Option<Object>)]
    end_user_budget: Option<EndUserBudgetInput>,
    /// What your own systems call the key (1 to 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    external_id: Option<String>,
    /// At most 10 tags of 1 to 32 of `a-z 0-9 : _ -`.
    #[schema(max_items = 10)]
    tags: Option<Vec<String>>,
    /// A JSON object of your own, at most 1 KB serialized.
    #[schema(value_type = Option<Object>)]
    meta: Option<serde_json::Value>,
    /// The source networks the key may be used from (1 to 20 IPv4 or IPv6 CIDRs), within
    /// the creating credential's; absent: any (the creator's list still applies).
    #[schema(max_items = 20)]
    allowed_ips: Option<Vec<String>>,
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
            models: body.models,
            end_user_budget: body.end_user_budget,
            external_id: body.external_id,
            tags: body.tags,
            meta: body.meta,
            allowed_ips: body.allowed_ips,
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "api-keys",
    operation_id = "create_api_key",
    summary = "Create an API key; its secret is shown once",
    request_body = CreateBody,
    responses((status = 201, description = "The key, its secret in `key` (shown once)", body = ApiKeyView), (status = 409, description = "A conflict, or a limit reached", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<ApiKeyView>), Problem> {
    let created = services
        .create_api_key(&caller, body.into(), ScopePolicy::ALL)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::created_key(&created.key, &created.secret)),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
    include_revoked: Option<bool>,
    /// Only keys carrying this tag (a filtered page may be shorter than `limit`; follow
    /// `next_cursor`).
    tag: Option<String>,
    /// Only keys with this external id.
    external_id: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/api-keys",
    tag = "api-keys",
    operation_id = "list_api_keys",
    summary = "List the caller's API keys",
    params(ListQuery),
    responses((status = 200, body = CursorPage<ApiKeyView>)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<CursorPage<ApiKeyView>>, Problem> {
    let limit =
        bounded_limit("limit", query.limit, 50, 1, 200).map_err(crate::services::Error::from)?;
    let after =
        cursor::decode("cursor", query.cursor.as_deref()).map_err(crate::services::Error::from)?;
    let filter = KeyFilter::parse(query.tag.as_deref(), query.external_id.as_deref())
        .map_err(crate::services::Error::from)?;
    let page = services
        .list_api_keys_where(
            &caller,
            query.include_revoked.unwrap_or(false),
            limit,
            after.as_deref(),
            &filter,
        )
        .await?;
    Ok(Json(views::cursor_page(
        &page.keys,
        views::api_key,
        page.next_after.as_deref(),
    )))
}

#[utoipa::path(
    get,
    path = "/v1/api-keys/{key_id}",
    tag = "api-keys",
    operation_id = "get_api_key",
    summary = "Read one API key",
    params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKeyView)),
)]
pub(super) async fn read(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
) -> Result<Json<ApiKeyView>, Problem> {
    let key = services.get_api_key(&caller, &key_id).await?;
    let remaining = services
        .credits_remaining(&key.meter_id, &key.metering)
        .await?;
    Ok(Json(ApiKeyView {
        credits: views::credits(&key.metering, remaining),
        ..views::api_key(&key)
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApiKeyPatch)]
pub(super) struct PatchBody {
    #[schema(min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(value_type = Option<Vec<super::openapi::Scope>>)]
    scopes: Option<Vec<String>>,
    is_active: Option<bool>,
    /// Only earlier than the current expiry.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    ratelimits: Option<Vec<RateLimitInput>>,
    /// `null` removes the credits; absent leaves them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    credits: Option<Option<CreditsInput>>,
    /// New allowed models, within the caller's; `null` allows any (only for a caller that
    /// may use any); absent leaves them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    models: Option<Option<Vec<String>>>,
    /// A new end-user budget; `null` removes it; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    end_user_budget: Option<Option<EndUserBudgetInput>>,
    /// A new external id; `null` removes it; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 128)]
    external_id: Option<Option<String>>,
    /// New tags (`[]` or `null` removes them); absent leaves them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 10)]
    tags: Option<Option<Vec<String>>>,
    /// A new `meta` object; `null` removes it; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    meta: Option<Option<serde_json::Value>>,
    /// New source networks, within the caller's; `null` allows any address (only for a
    /// caller usable from anywhere); absent leaves them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 20)]
    allowed_ips: Option<Option<Vec<String>>>,
}

/// Tells an explicit `null` (Some(None)) from an absent field (None).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[utoipa::path(
    patch,
    path = "/v1/api-keys/{key_id}",
    tag = "api-keys",
    operation_id = "update_api_key",
    summary = "Rename, narrow, pause or resume an API key",
    params(("key_id" = String, Path)),
    request_body = PatchBody,
    responses((status = 200, body = ApiKeyView), (status = 409, description = "A conflict, or a limit reached", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn patch(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
    JsonBody(body): JsonBody<PatchBody>,
) -> Result<Json<ApiKeyView>, Problem> {
    let patch = KeyPatch {
        name: body.name,
        scopes: body.scopes,
        is_active: body.is_active,
        expires_at: body.expires_at,
        ratelimits: body.ratelimits,
        credits: body.credits,
        models: body.models,
        end_user_budget: body.end_user_budget,
        external_id: body.external_id,
        tags: body.tags,
        meta: body.meta,
        allowed_ips: body.allowed_ips,
    };
    Ok(Json(views::api_key(
        &services.patch_api_key(&caller, &key_id, patch).await?,
    )))
}

#[utoipa::path(
    delete,
    path = "/v1/api-keys/{key_id}",
    tag = "api-keys",
    operation_id = "revoke_api_key",
    summary = "Revoke an API key",
    params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKeyView)),
)]
pub(super) async fn revoke(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(key_id): Path<String>,
) -> Result<Json<ApiKeyView>, Problem> {
    Ok(Json(views::api_key(
        &services.revoke_api_key(&caller, &key_id).await?,
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RevokeAllQuery {
    exclude_current: Option<bool>,
}

#[utoipa::path(
    delete,
    path = "/v1/api-keys",
    tag = "api-keys",
    operation_id = "revoke_all_api_keys",
    summary = "Revoke all the caller's API keys",
    params(RevokeAllQuery),
    responses((status = 200, body = RevokedCount)),
)]
pub(super) async fn revoke_all(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<RevokeAllQuery>,
) -> Result<Json<RevokedCount>, Problem> {
    let count = services
        .revoke_all_api_keys(&caller, query.exclude_current.unwrap_or(true))
        .await?;
    Ok(Json(RevokedCount {
        revoked_count: count,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RollRequest)]
pub(super) struct RollBody {
    /// How long the old key keeps working, seconds (default 86400).
    #[schema(minimum = 0, maximum = 604800)]
    grace_secs: Option<i64>,
}

/// `POST /v1/api-keys/{id}/roll`: 201 with the successor and its secret (shown once) and
/// the old key as it now ends. A replay of the same `Idempotency-Key` answers 200 with
/// the same successor, `"key": null` (the secret is never shown twice), `"replayed": true`
/// and the header `Idempotent-Replayed: true`.
#[utoipa::path(
    post,
    path = "/v1/api-keys/{key_id}/roll",
    tag = "api-keys",
    operation_id = "roll_api_key",
    summary = "Roll an API key: a successor now, the old key ends after a grace period",
    params(("key_id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "A replay answers 200 with the same successor and no secret")),
    request_body = RollBody,
    responses(
        (status = 201, description = "The successor, its secret shown once", body = ApiKeyView),
        (status = 200, description = "A replay of the same Idempotency-Key", body = ApiKeyView, headers(("Idempotent-Replayed" = String))),
        (status = 409, description = "A conflict, or a limit reached", body = crate::http::problem::ProblemBody, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn roll(
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
            let view = ApiKeyView {
                rolled_from: Some(Box::new(views::api_key(&old))),
                replayed: Some(false),
                ..views::created_key(&created.key, &created.secret)
            };
            (StatusCode::CREATED, Json(view)).into_response()
        }
        Rolled::Replayed { new, old } => {
            let view = ApiKeyView {
                key: Some(None),
                rolled_from: Some(Box::new(views::api_key(&old))),
                replayed: Some(true),
                ..views::api_key(&new)
            };
            (
                StatusCode::OK,
                [("idempotent-replayed", "true")],
                Json(view),
            )
                .into_response()
        }
    })
}
