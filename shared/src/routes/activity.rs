//! `/v1/logs` and `/v1/logins`: the caller's own prompt logs and login history.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::views::{self, ItemList, LoginView, PromptLogView};
use crate::http::{Caller, Problem, QueryParams};
use crate::services::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/logs", get(logs))
        .route("/v1/logins", get(logins))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LimitQuery {
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/logs",
    tag = "activity",
    operation_id = "list_prompt_logs",
    summary = "The caller's prompt logs, newest first",
    params(LimitQuery),
    responses((status = 200, body = ItemList<PromptLogView>)),
)]
pub(super) async fn logs(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<LimitQuery>,
) -> Result<Json<ItemList<PromptLogView>>, Problem> {
    let logs = services.list_prompt_logs(&caller, query.limit).await?;
    Ok(Json(ItemList {
        items: logs.iter().map(views::prompt_log).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/logins",
    tag = "activity",
    operation_id = "list_logins",
    summary = "The caller's login history, newest first",
    params(LimitQuery),
    responses((status = 200, body = ItemList<LoginView>)),
)]
pub(super) async fn logins(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<LimitQuery>,
) -> Result<Json<ItemList<LoginView>>, Problem> {
    let logins = services.list_logins(&caller, query.limit).await?;
    Ok(Json(ItemList {
        items: logins.iter().map(views::login).collect(),
    }))
}
