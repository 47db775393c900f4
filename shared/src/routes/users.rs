//! `/v1/users`: a tenant admin manages the tenant's users.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views;
use crate::domain::metering::RateLimitInput;
use crate::domain::validation::bounded_limit;
use crate::http::{Caller, JsonBody, Problem, QueryParams, cursor};
use crate::services::Error;
use crate::services::Services;
use crate::services::api_keys::NewKeyInput;
use crate::services::users::NewUserInput;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/users", get(list).post(create))
        .route(
            "/v1/users/{user_id}",
            axum::routing::patch(update).delete(deactivate),
        )
        .route("/v1/users/{user_id}/api-keys", post(create_key))
        .route("/v1/users/{user_id}/erase", post(erase))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserCreate)]
pub(super) struct CreateBody {
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(value_type = Option<super::openapi::UserRole>)]
    role: Option<String>,
    cac_verified: Option<bool>,
    #[schema(min_length = 12, max_length = 128)]
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    operation_id = "create_user",
    summary = "Create a user in the caller's tenant (admins)",
    request_body = CreateBody,
    responses((status = 201, body = views::UserView), (status = 409, description = "A conflict, or a limit reached", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<views::UserView>), Problem> {
    let input = NewUserInput {
        email: body.email,
        name: body.name,
        role: body.role,
        cac_verified: body.cac_verified,
        password: body.password,
    };
    let user = services.create_user(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(views::user(&user))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    operation_id = "list_users",
    summary = "List the tenant's users (admins)",
    params(ListQuery),
    responses((status = 200, body = views::CursorPage<views::UserView>)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<views::CursorPage<views::UserView>>, Problem> {
    let limit = bounded_limit("limit", query.limit, 50, 1, 200).map_err(Error::from)?;
    let after = cursor::decode("cursor", query.cursor.as_deref()).map_err(Error::from)?;
    let (users, next) = services
        .list_users(&caller, limit, after.as_deref())
        .await?;
    Ok(Json(views::cursor_page(
        &users,
        views::user,
        next.as_deref(),
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserUpdate)]
pub(super) struct UpdateBody {
    cac_verified: Option<bool>,
    /// Default rate limits for the user's new keys (`[]` removes them).
    #[schema(value_type = Option<Vec<Object>>)]
    ratelimits: Option<Vec<RateLimitInput>>,
}

#[utoipa::path(
    patch,
    path = "/v1/users/{user_id}",
    tag = "users",
    operation_id = "update_user",
    summary = "Set a user's CAC verification (admins)",
    params(("user_id" = String, Path)),
    request_body = UpdateBody,
    responses((status = 200, body = views::UserView)),
)]
pub(super) async fn update(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<views::UserView>, Problem> {
    if body.cac_verified.is_none() && body.ratelimits.is_none() {
        return Err(Error::invalid("cac_verified", "give cac_verified or ratelimits").into());
    }
    // The user first: an id that cannot be one answers before any default is read.
    let user = match body.cac_verified {
        Some(verified) => {
            services
                .set_cac_verified(&caller, &user_id, verified)
                .await?
        }
        None => services.get_tenant_user(&caller, &user_id).await?,
    };
    let defaults = match &body.ratelimits {
        Some(raw) => {
            services
                .set_default_ratelimits(&caller, &user_id, raw)
                .await?
        }
        None => services.default_ratelimits(&caller, &user_id).await?,
    };
    Ok(Json(views::UserView {
        default_ratelimits: Some(views::RateLimitView::all(&defaults)),
        ..views::user(&user)
    }))
}

#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/api-keys",
    tag = "users",
    operation_id = "create_user_api_key",
    summary = "Create an API key for a user of the tenant (admins)",
    params(("user_id" = String, Path)),
    request_body = super::api_keys::CreateBody,
    responses((status = 201, description = "The key, its secret in `key` (shown once)", body = views::ApiKeyView), (status = 409, description = "A conflict, or a limit reached", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn create_key(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<super::api_keys::CreateBody>,
) -> Result<(StatusCode, Json<views::ApiKeyView>), Problem> {
    let input: NewKeyInput = body.into();
    let created = services
        .create_key_for_user(&caller, &user_id, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::created_key(&created.key, &created.secret)),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct DeactivateQuery {
    /// What becomes of the user's datasets: `transfer` (to `transfer_to`) or `delete`;
    /// required when the user owns any.
    #[param(value_type = Option<super::openapi::DatasetsFate>)]
    datasets: Option<String>,
    /// The user of the tenant who receives the datasets (with `datasets=transfer`).
    transfer_to: Option<String>,
}

/// A deactivation: the user as it now stands, and what this request did.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Deactivated {
    user: views::UserView,
    /// The user's keys revoked now (keys following them are refused with them).
    keys_revoked: u32,
    datasets_transferred: u32,
    datasets_deleted: u32,
}

#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}",
    tag = "users",
    operation_id = "deactivate_user",
    summary = "Deactivate a user: every key, token and session of theirs refused from the next request; their datasets transferred or deleted (admins; repeatable, resumes after a failure)",
    params(("user_id" = String, Path), DeactivateQuery),
    responses((status = 200, body = Deactivated), (status = 409, description = "The caller's own user, or a dataset kept changing", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn deactivate(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    QueryParams(query): QueryParams<DeactivateQuery>,
) -> Result<Json<Deactivated>, Problem> {
    let done = services
        .deactivate_user(
            &caller,
            &user_id,
            query.datasets.as_deref(),
            query.transfer_to.as_deref(),
        )
        .await?;
    Ok(Json(Deactivated {
        user: views::user(&done.user),
        keys_revoked: done.keys_revoked,
        datasets_transferred: done.datasets_transferred,
        datasets_deleted: done.datasets_deleted,
    }))
}

/// What an erasure removed or rewrote (a repeat reports only what was left).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Erasure {
    user_id: String,
    prompt_logs: u32,
    chats: u32,
    messages: u32,
    logins: u32,
    /// Key items (with their meters and usage), revoked ones included.
    keys: u32,
    /// Token and session items.
    tokens: u32,
    /// The user's grants on other users' datasets.
    grants: u32,
    /// Audit events whose email, IP and user agent were tombstoned.
    audit_events: u32,
}

#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/erase",
    tag = "users",
    operation_id = "erase_user",
    summary = "Erase a deactivated user's prompt logs, chats, messages, logins, keys, tokens and every item holding their email or name; the audit trail keeps its events with email, IP and user agent tombstoned (admins; repeatable, resumes after a failure)",
    params(("user_id" = String, Path)),
    responses((status = 200, body = Erasure), (status = 409, description = "The user is not deactivated", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn erase(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> Result<Json<Erasure>, Problem> {
    let erased = services.erase_user(&caller, &user_id).await?;
    Ok(Json(Erasure {
        user_id,
        prompt_logs: erased.prompt_logs,
        chats: erased.chats,
        messages: erased.messages,
        logins: erased.logins,
        keys: erased.keys,
        tokens: erased.tokens,
        grants: erased.grants,
        audit_events: erased.audit_events,
    }))
}
