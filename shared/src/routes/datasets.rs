//! `/v1/datasets`: the caller's datasets, those shared with them, and their grants.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DatasetCreate)]
pub(super) struct CreateBody {
    /// More than 64 characters is a 406, as Ask Sage answers.
    name: Option<String>,
    #[schema(value_type = Option<super::openapi::Classification>)]
    classification: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/datasets",
    tag = "datasets",
    operation_id = "create_dataset",
    summary = "Create a dataset",
    request_body = CreateBody,
    responses((status = 201, body = views::DatasetView), (status = 406, description = "The name is too long (Ask Sage)", body = crate::http::problem::ProblemBody, content_type = "application/problem+json"), (status = 407, description = "CAC verification required (Ask Sage)", body = crate::http::problem::ProblemBody, content_type = "application/problem+json"), (status = 409, description = "A conflict, or a limit reached", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<views::DatasetView>), Problem> {
    let dataset = services
        .create_dataset(
            &caller,
            body.name.as_deref(),
            body.classification.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::dataset(&dataset))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    check_permissions: Option<bool>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/datasets",
    tag = "datasets",
    operation_id = "list_datasets",
    summary = "The caller's datasets and those shared with them",
    params(ListQuery),
    responses((status = 200, body = views::CursorPage<views::DatasetView>)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<views::CursorPage<views::DatasetView>>, Problem> {
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

#[utoipa::path(
    delete,
    path = "/v1/datasets/{full_name}",
    tag = "datasets",
    operation_id = "delete_dataset",
    summary = "Delete one of the caller's datasets",
    params(("full_name" = String, Path, description = "`<owner email>/<name>`")),
    responses((status = 200, body = views::DatasetView)),
)]
pub(super) async fn remove(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(full_name): Path<String>,
) -> Result<Json<views::DatasetView>, Problem> {
    let deleted = services.delete_dataset(&caller, &full_name).await?;
    Ok(Json(views::dataset(&deleted)))
}

/// A delete that names no dataset: Ask Sage's "Required information missing" (408).
#[utoipa::path(
    delete,
    path = "/v1/datasets",
    tag = "datasets",
    operation_id = "delete_unnamed_dataset",
    summary = "A delete that names no dataset",
    responses((status = 408, description = "Required information missing (Ask Sage)", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn delete_unnamed(
    State(services): State<Services>,
    Caller(caller): Caller,
) -> Result<Json<views::DatasetView>, Problem> {
    let deleted = services.delete_dataset(&caller, "").await?;
    Ok(Json(views::dataset(&deleted)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GrantRequest)]
pub(super) struct GrantBody {
    #[schema(value_type = Option<super::openapi::Permission>)]
    permission: Option<String>,
}

/// A grant on a dataset, naming the dataset.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DatasetGrant)]
pub struct GrantView {
    pub user_id: String,
    pub email: String,
    #[schema(value_type = super::openapi::Permission)]
    pub permission: &'static str,
    #[schema(format = DateTime)]
    pub granted_at: String,
    pub dataset: String,
}

fn grant_view(granted: &DatasetGrant) -> GrantView {
    let grantee = views::grantee(&granted.grant);
    GrantView {
        user_id: grantee.user_id,
        email: grantee.email,
        permission: grantee.permission,
        granted_at: grantee.granted_at,
        dataset: granted.dataset.as_str().to_owned(),
    }
}

#[utoipa::path(
    put,
    path = "/v1/datasets/{full_name}/grants/{email}",
    tag = "datasets",
    operation_id = "grant_dataset",
    summary = "Grant a tenant user access to a dataset",
    params(("full_name" = String, Path), ("email" = String, Path)),
    request_body = GrantBody,
    responses((status = 201, description = "Granted", body = GrantView), (status = 200, description = "Permission changed", body = GrantView), (status = 407, description = "CAC verification required (Ask Sage)", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn grant(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((full_name, email)): Path<(String, String)>,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<(StatusCode, Json<GrantView>), Problem> {
    let (granted, how) = services
        .grant_dataset(&caller, &full_name, &email, body.permission.as_deref())
        .await?;
    let status = match how {
        Granted::New => StatusCode::CREATED,
        Granted::Changed => StatusCode::OK,
    };
    Ok((status, Json(grant_view(&granted))))
}

#[utoipa::path(
    delete,
    path = "/v1/datasets/{full_name}/grants/{email}",
    tag = "datasets",
    operation_id = "revoke_dataset_grant",
    summary = "Revoke a grant",
    params(("full_name" = String, Path), ("email" = String, Path)),
    responses((status = 200, body = GrantView)),
)]
pub(super) async fn revoke(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((full_name, email)): Path<(String, String)>,
) -> Result<Json<GrantView>, Problem> {
    let revoked = services.revoke_grant(&caller, &full_name, &email).await?;
    Ok(Json(grant_view(&revoked)))
}
