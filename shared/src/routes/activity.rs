//! `/v1/logs` and `/v1/logins`: the caller's own prompt logs and login history.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views;
use crate::http::{Caller, Problem, QueryParams};
use crate::services::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/logs", get(logs))
        .route("/v1/logins", get(logins))
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<i64>,
}

async fn logs(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<LimitQuery>,
) -> Result<Json<Value>, Problem> {
    let logs = services.list_prompt_logs(&caller, query.limit).await?;
    Ok(Json(json!({
        "items": logs.iter().map(views::prompt_log).collect::<Vec<_>>(),
    })))
}

async fn logins(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<LimitQuery>,
) -> Result<Json<Value>, Problem> {
    let logins = services.list_logins(&caller, query.limit).await?;
    Ok(Json(json!({
        "items": logins.iter().map(views::login).collect::<Vec<_>>(),
    })))
}
