//! `/v1/datasets`: the caller's datasets, those shared with them, and their grants.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views;
use crate::domain::validation::bounded_limit;
use crate::http::{Caller, JsonBody, Problem, QueryParams, cursor};
use crate::services::datasets::{DatasetGrant, Granted};
use crate::services::{Error, Services};

pub fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/v1/datasets",
            get(list).post(create).delete(delete_unnamed),
        )
        .route("/v1/datasets/{full_name}", delete(remove))
        .route(
            "/v1/datasets/{full_name}/grants/{email}",
            put(grant).delete(revoke),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: Option<String>,
    classification: Option<String>,
}

async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let dataset = services
        .create_dataset(
            &caller,
            body.name.as_deref(),
            body.classification.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::dataset(&dataset))))
}

#[derive(Deserialize)]
struct ListQuery {
    check_permissions: Option<bool>,
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Value>, Problem> {
    let limit = bounded_limit("limit", query.limit, 50, 1, 100).map_err(Error::from)?;
    let after = cursor::decode_text("cursor", query.cursor.as_deref()).map_err(Error::from)?;
    let page = services
        .list_datasets(
            &caller,
            query.check_permissions.unwrap_or(false),
            limit,
            after.as_deref(),
        )
        .await?;
    Ok(Json(views::cursor_page(
        &page.items,
        views::dataset,
        page.next.as_deref(),
    )))
}

async fn remove(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(full_name): Path<String>,
) -> Result<Json<Value>, Problem> {
    let deleted = services.delete_dataset(&caller, &full_name).await?;
    Ok(Json(views::dataset(&deleted)))
}

/// A delete that names no dataset: Ask Sage's "Required information missing" (408).
async fn delete_unnamed(
    State(services): State<Services>,
    Caller(caller): Caller,
) -> Result<Json<Value>, Problem> {
    let deleted = services.delete_dataset(&caller, "").await?;
    Ok(Json(views::dataset(&deleted)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    permission: Option<String>,
}

fn grant_view(granted: &DatasetGrant) -> Value {
    let mut view = views::grantee(&granted.grant);
    view["dataset"] = json!(granted.dataset.as_str());
    view
}

async fn grant(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((full_name, email)): Path<(String, String)>,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let (granted, how) = services
        .grant_dataset(&caller, &full_name, &email, body.permission.as_deref())
        .await?;
    let status = match how {
        Granted::New => StatusCode::CREATED,
        Granted::Changed => StatusCode::OK,
    };
    Ok((status, Json(grant_view(&granted))))
}

async fn revoke(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((full_name, email)): Path<(String, String)>,
) -> Result<Json<Value>, Problem> {
    let revoked = services.revoke_grant(&caller, &full_name, &email).await?;
    Ok(Json(grant_view(&revoked)))
}
