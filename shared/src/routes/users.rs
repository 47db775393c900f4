//! `/v1/users`: a tenant admin manages the tenant's users.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::views;
use crate::domain::validation::bounded_limit;
use crate::http::{Caller, JsonBody, Problem, QueryParams, cursor};
use crate::services::Error;
use crate::services::Services;
use crate::services::api_keys::NewKeyInput;
use crate::services::users::NewUserInput;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/users", get(list).post(create))
        .route("/v1/users/{user_id}", axum::routing::patch(update))
        .route("/v1/users/{user_id}/api-keys", post(create_key))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
    cac_verified: Option<bool>,
    password: Option<String>,
}

async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
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

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Value>, Problem> {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    cac_verified: bool,
}

async fn update(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<Value>, Problem> {
    let user = services
        .set_cac_verified(&caller, &user_id, body.cac_verified)
        .await?;
    Ok(Json(views::user(&user)))
}

async fn create_key(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<super::api_keys::CreateBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let input: NewKeyInput = body.into();
    let created = services
        .create_key_for_user(&caller, &user_id, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::created_key(&created.key, &created.secret)),
    ))
}
