//! `/v1/teams`: tenant admins manage teams and their members; a team's admins create and
//! list the team's keys (service accounts) and read its budget. A team key is changed,
//! rolled and revoked at `/v1/api-keys/{id}`, like any key, by the team's admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::budgets::{BudgetView, PutBody};
use super::views::{self, ApiKeyView, CursorPage};
use crate::domain::clock::to_rfc3339;
use crate::domain::team::{Team, TeamMember};
use crate::domain::validation::bounded_limit;
use crate::http::{Caller, JsonBody, Problem, QueryParams, cursor};
use crate::services::{Error, Services};

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/teams", get(list).post(create))
        .route(
            "/v1/teams/{team_id}",
            get(read).patch(rename).delete(delete),
        )
        .route("/v1/teams/{team_id}/members", get(list_members))
        .route(
            "/v1/teams/{team_id}/members/{user_id}",
            put(put_member).delete(remove_member),
        )
        .route(
            "/v1/teams/{team_id}/api-keys",
            get(list_keys).post(create_key),
        )
        .route(
            "/v1/teams/{team_id}/budget",
            get(get_budget).put(put_budget).delete(delete_budget),
        )
}

/// A team of the tenant.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamView {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub member_count: u32,
    /// Its unrevoked, unpaused team keys (at most 10).
    pub active_keys: u32,
}

fn team_view(team: &Team) -> TeamView {
    TeamView {
        id: team.id.clone(),
        tenant_id: team.tenant_id.clone(),
        name: team.name.clone(),
        created_at: to_rfc3339(team.created_at),
        member_count: team.member_count,
        active_keys: team.active_keys,
    }
}

/// A user's membership of a team.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMemberView {
    pub team_id: String,
    pub user_id: String,
    /// `admin` (manages the team's keys) or `member`
    pub role: &'static str,
    #[schema(format = DateTime)]
    pub added_at: String,
}

fn member_view(member: &TeamMember) -> TeamMemberView {
    TeamMemberView {
        team_id: member.team_id.clone(),
        user_id: member.user_id.clone(),
        role: member.role.as_str(),
        added_at: to_rfc3339(member.added_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TeamCreate)]
pub(super) struct TeamBody {
    #[schema(min_length = 1, max_length = 255)]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TeamMemberPut)]
pub(super) struct MemberBody {
    /// `admin` or `member` (default).
    role: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct KeysQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    cursor: Option<String>,
    include_revoked: Option<bool>,
}

/// `limit` (1..=200, default 50) and the decoded cursor.
fn page(limit: Option<i64>, raw_cursor: Option<&str>) -> Result<(u32, Option<String>), Error> {
    let limit = bounded_limit("limit", limit, 50, 1, 200)?;
    let after = cursor::decode("cursor", raw_cursor)?;
    Ok((limit, after))
}

#[utoipa::path(
    post,
    path = "/v1/teams",
    tag = "teams",
    operation_id = "create_team",
    summary = "Create a team in the caller's tenant (tenant admins)",
    request_body = TeamBody,
    responses((status = 201, body = TeamView), (status = 400, description = "Invalid input, naming the field", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn create(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<(StatusCode, Json<TeamView>), Problem> {
    let team = services.create_team(&caller, body.name.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(team_view(&team))))
}

#[utoipa::path(
    get,
    path = "/v1/teams",
    tag = "teams",
    operation_id = "list_teams",
    summary = "List the tenant's teams, oldest first (tenant admins)",
    params(PageQuery),
    responses((status = 200, body = CursorPage<TeamView>)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    Caller(caller): Caller,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<CursorPage<TeamView>>, Problem> {
    let (limit, after) = page(query.limit, query.cursor.as_deref())?;
    let (teams, next) = services
        .list_teams(&caller, limit, after.as_deref())
        .await?;
    Ok(Json(views::cursor_page(&teams, team_view, next.as_deref())))
}

#[utoipa::path(
    get,
    path = "/v1/teams/{team_id}",
    tag = "teams",
    operation_id = "get_team",
    summary = "One team (tenant admins)",
    params(("team_id" = String, Path)),
    responses((status = 200, body = TeamView), (status = 404, description = "No such team", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn read(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
) -> Result<Json<TeamView>, Problem> {
    let team = services.get_team(&caller, &team_id).await?;
    Ok(Json(team_view(&team)))
}

#[utoipa::path(
    patch,
    path = "/v1/teams/{team_id}",
    tag = "teams",
    operation_id = "rename_team",
    summary = "Rename a team (tenant admins)",
    params(("team_id" = String, Path)),
    request_body = TeamBody,
    responses((status = 200, body = TeamView), (status = 404, description = "No such team", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn rename(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<Json<TeamView>, Problem> {
    let team = services
        .rename_team(&caller, &team_id, body.name.as_deref())
        .await?;
    Ok(Json(team_view(&team)))
}

#[utoipa::path(
    delete,
    path = "/v1/teams/{team_id}",
    tag = "teams",
    operation_id = "delete_team",
    summary = "Delete a team and its memberships; refused while it has unrevoked keys (tenant admins)",
    params(("team_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 409, description = "The team still has unrevoked keys", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn delete(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
) -> Result<StatusCode, Problem> {
    services.delete_team(&caller, &team_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/teams/{team_id}/members",
    tag = "teams",
    operation_id = "list_team_members",
    summary = "List a team's members (tenant admins and the team's admins)",
    params(("team_id" = String, Path), PageQuery),
    responses((status = 200, body = CursorPage<TeamMemberView>)),
)]
pub(super) async fn list_members(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<CursorPage<TeamMemberView>>, Problem> {
    let (limit, after) = page(query.limit, query.cursor.as_deref())?;
    let (members, next) = services
        .list_team_members(&caller, &team_id, limit, after.as_deref())
        .await?;
    Ok(Json(views::cursor_page(
        &members,
        member_view,
        next.as_deref(),
    )))
}

#[utoipa::path(
    put,
    path = "/v1/teams/{team_id}/members/{user_id}",
    tag = "teams",
    operation_id = "put_team_member",
    summary = "Add a user of the tenant to a team, or change their role (tenant admins)",
    params(("team_id" = String, Path), ("user_id" = String, Path)),
    request_body = MemberBody,
    responses((status = 201, description = "Added", body = TeamMemberView), (status = 200, description = "Role changed", body = TeamMemberView), (status = 409, description = "The team is full", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn put_member(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((team_id, user_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<(StatusCode, Json<TeamMemberView>), Problem> {
    let put = services
        .put_team_member(&caller, &team_id, &user_id, body.role.as_deref())
        .await?;
    let status = if put.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(member_view(&put.member))))
}

#[utoipa::path(
    delete,
    path = "/v1/teams/{team_id}/members/{user_id}",
    tag = "teams",
    operation_id = "remove_team_member",
    summary = "Remove a user from a team; the team's keys stay (tenant admins)",
    params(("team_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "Not a member", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn remove_member(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path((team_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    services
        .remove_team_member(&caller, &team_id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/teams/{team_id}/api-keys",
    tag = "teams",
    operation_id = "create_team_api_key",
    summary = "Create a team key (a service account) within the caller's rights; its secret is shown once (team admins)",
    params(("team_id" = String, Path)),
    request_body = super::api_keys::CreateBody,
    responses((status = 201, description = "The key, its secret in `key` (shown once)", body = ApiKeyView), (status = 409, description = "The team's key limit reached", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn create_key(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
    JsonBody(body): JsonBody<super::api_keys::CreateBody>,
) -> Result<(StatusCode, Json<ApiKeyView>), Problem> {
    let created = services
        .create_team_key(&caller, &team_id, body.into())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::created_key(&created.key, &created.secret)),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/teams/{team_id}/api-keys",
    tag = "teams",
    operation_id = "list_team_api_keys",
    summary = "List a team's keys, newest first (team admins)",
    params(("team_id" = String, Path), KeysQuery),
    responses((status = 200, body = CursorPage<ApiKeyView>)),
)]
pub(super) async fn list_keys(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
    QueryParams(query): QueryParams<KeysQuery>,
) -> Result<Json<CursorPage<ApiKeyView>>, Problem> {
    let (limit, after) = page(query.limit, query.cursor.as_deref())?;
    let keys = services
        .list_team_keys(
            &caller,
            &team_id,
            query.include_revoked.unwrap_or(false),
            limit,
            after.as_deref(),
        )
        .await?;
    Ok(Json(views::cursor_page(
        &keys.keys,
        views::api_key,
        keys.next_after.as_deref(),
    )))
}

#[utoipa::path(
    put,
    path = "/v1/teams/{team_id}/budget",
    tag = "teams",
    operation_id = "put_team_budget",
    summary = "Set a team's budget, shared by all of its keys (tenant admins)",
    params(("team_id" = String, Path)),
    request_body = PutBody,
    responses((status = 200, body = BudgetView), (status = 400, description = "Invalid input, naming the field", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn put_budget(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Json<BudgetView>, Problem> {
    let state = services
        .put_team_budget(&caller, &team_id, &body.into())
        .await?;
    Ok(Json(BudgetView::of_team(
        state,
        &caller.tenant_id,
        &team_id,
    )))
}

#[utoipa::path(
    get,
    path = "/v1/teams/{team_id}/budget",
    tag = "teams",
    operation_id = "get_team_budget",
    summary = "A team's budget with live remaining counts (tenant admins and the team's admins)",
    params(("team_id" = String, Path)),
    responses((status = 200, body = BudgetView), (status = 404, description = "No budget", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn get_budget(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
) -> Result<Json<BudgetView>, Problem> {
    let state = services.get_team_budget(&caller, &team_id).await?;
    Ok(Json(BudgetView::of_team(
        state,
        &caller.tenant_id,
        &team_id,
    )))
}

#[utoipa::path(
    delete,
    path = "/v1/teams/{team_id}/budget",
    tag = "teams",
    operation_id = "delete_team_budget",
    summary = "Remove a team's budget (tenant admins)",
    params(("team_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, description = "No budget", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn delete_budget(
    State(services): State<Services>,
    Caller(caller): Caller,
    Path(team_id): Path<String>,
) -> Result<StatusCode, Problem> {
    services.delete_team_budget(&caller, &team_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
