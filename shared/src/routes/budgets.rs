//! `/v1/users/{user_id}/budget` and `/v1/tenant/budget`: what a user and a whole tenant may
//! spend, shared by every key, token and session under them, and where it stands now. The
//! answer types are the ones the handlers return, so the document cannot drift from them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::metering::{CreditsInput, RateLimitInput, Refill, RefillInterval};
use crate::domain::owner_budget::OwnerBudgetInput;
use crate::http::{Caller, JsonBody, Problem};
use crate::services::Services;
use crate::services::owner_budgets::BudgetState;

pub fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/v1/users/{user_id}/budget",
            get(get_user_budget)
                .put(put_user_budget)
                .delete(delete_user_budget),
        )
        .route("/v1/tenant/budget", get(get_tenant_budget))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BudgetSet)]
pub(super) struct PutBody {
    /// Rate limits shared by every credential under the budget (as a key's).
    #[schema(value_type = Option<Vec<Object>>)]
    ratelimits: Option<Vec<RateLimitInput>>,
    /// A balance shared by them all: `{remaining, refill?}` (setting it again sets the
    /// balance).
    #[schema(value_type = Option<Object>)]
    credits: Option<CreditsInput>,
    /// The models any credential under the budget may use (1 to 50; absent: any).
    #[schema(max_items = 50)]
    models: Option<Vec<String>>,
}

impl From<PutBody> for OwnerBudgetInput {
    fn from(body: PutBody) -> Self {
        Self {
            ratelimits: body.ratelimits,
            credits: body.credits,
            models: body.models,
        }
    }
}

/// One limit of a budget and where it stands in its current window.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetLimitView {
    pub name: String,
    pub limit: u32,
    pub window_secs: u32,
    /// `requests`, or the usage kind it counts (`tokens_out` ...).
    pub unit: String,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetRefillView {
    /// `daily` or `monthly`
    pub interval: &'static str,
    pub amount: i64,
    /// The day of the month a monthly refill happens.
    pub day: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetCreditsView {
    /// The live balance.
    pub remaining: i64,
    pub refill: Option<BudgetRefillView>,
}

/// A user's, a team's or a tenant's budget as it stands now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetView {
    /// `user`, `team` or `tenant`
    pub level: &'static str,
    pub tenant_id: String,
    /// The user, for a user's budget.
    pub user_id: Option<String>,
    /// The team, for a team's budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    pub ratelimits: Vec<BudgetLimitView>,
    pub credits: Option<BudgetCreditsView>,
    /// The models allowed (null: any).
    pub models: Option<Vec<String>>,
}

fn refill_view(refill: &Refill) -> BudgetRefillView {
    BudgetRefillView {
        interval: match refill.interval {
            RefillInterval::Daily => "daily",
            RefillInterval::Monthly => "monthly",
        },
        amount: refill.amount,
        day: refill.day,
    }
}

impl BudgetView {
    pub fn of(state: BudgetState, tenant_id: &str, user_id: Option<&str>) -> Self {
        let metering = &state.budget.metering;
        let ratelimits = metering
            .ratelimits
            .iter()
            .zip(state.status.limits)
            .map(|(limit, status)| BudgetLimitView {
                name: status.name,
                limit: status.limit,
                window_secs: status.window_secs,
                unit: limit.unit.clone(),
                remaining: status.remaining,
                reset_secs: status.reset_secs,
            })
            .collect();
        let credits = metering.credits.as_ref().map(|policy| BudgetCreditsView {
            remaining: state.status.credits_remaining.unwrap_or(0),
            refill: policy.refill.as_ref().map(refill_view),
        });
        Self {
            level: if user_id.is_some() { "user" } else { "tenant" },
            tenant_id: tenant_id.to_owned(),
            user_id: user_id.map(str::to_owned),
            team_id: None,
            ratelimits,
            credits,
            models: state.budget.models.names().map(<[String]>::to_vec),
        }
    }

    /// A team's budget (a team stands where a user would: above its keys).
    pub fn of_team(state: BudgetState, tenant_id: &str, team_id: &str) -> Self {
        Self {
            level: "team",
            user_id: None,
            team_id: Some(team_id.to_owned()),
            ..Self::of(state, tenant_id, None)
        }
    }
}

#[utoipa::path(
    put,
    path = "/v1/users/{user_id}/budget",
    tag = "budgets",
    operation_id = "put_user_budget",
    summary = "Set a user's budget, shared by all of the user's credentials (admins)",
    params(("user_id" = String, Path)),
    request_body = PutBody,
    responses((status = 200, body = BudgetView), (status = 400, description = "Invalid input, naming the field", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn put_user_budget(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Json<BudgetView>, Problem> {
    let state = services
        .put_user_budget(&caller, &user_id, &body.into())
        .await?;
    Ok(Json(BudgetView::of(
        state,
        &caller.tenant_id,
        Some(&user_id),
    )))
}

#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/budget",
    tag = "budgets",
    operation_id = "get_user_budget",
    summary = "A user's budget with live remaining counts (admins, or the user)",
    params(("user_id" = String, Path)),
    responses((status = 200, body = BudgetView), (status = 404, description = "No budget", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn get_user_budget(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> Result<Json<BudgetView>, Problem> {
    let state = services.get_user_budget(&caller, &user_id).await?;
    Ok(Json(BudgetView::of(
        state,
        &caller.tenant_id,
        Some(&user_id),
    )))
}

#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}/budget",
    tag = "budgets",
    operation_id = "delete_user_budget",
    summary = "Remove a user's budget (admins)",
    params(("user_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "No budget", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn delete_user_budget(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> Result<StatusCode, Problem> {
    services.delete_user_budget(&caller, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/tenant/budget",
    tag = "budgets",
    operation_id = "get_tenant_budget",
    summary = "The tenant's budget, set by the operator, with live remaining counts (admins)",
    responses((status = 200, body = BudgetView), (status = 404, description = "No budget", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn get_tenant_budget(
    State(services): State<Services>,
    Caller(caller): Caller,
) -> Result<Json<BudgetView>, Problem> {
    let state = services.get_tenant_budget(&caller).await?;
    Ok(Json(BudgetView::of(state, &caller.tenant_id, None)))
}
