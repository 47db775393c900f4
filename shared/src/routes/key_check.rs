//! `POST /v1/keys/verify`: for services outside this API Gateway that receive a keygate
//! credential from their own callers (served by the api-keys function).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::views::Balance;
use crate::domain::token::ChatRole;
use crate::http::{Caller, JsonBody, Problem};
use crate::services::Services;
use crate::services::key_check::{CheckCode, CheckRequest};

pub fn routes() -> Router<Services> {
    Router::new().route("/v1/keys/verify", post(verify))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VerifyRequest)]
pub(super) struct VerifyBody {
    /// The credential the service received.
    key: Option<String>,
    /// The route it was presented on, `METHOD /path`, checked against the route policy.
    route: Option<String>,
    #[schema(value_type = Option<Vec<super::openapi::Scope>>)]
    scopes: Option<Vec<String>>,
    /// What the check spends (0 spends nothing); default: the route's cost in the policy.
    #[schema(minimum = 0, maximum = 1000000)]
    cost: Option<i64>,
    /// The model the call is for; `FORBIDDEN_MODEL` unless the credential may use it.
    #[schema(min_length = 1, max_length = 128)]
    model: Option<String>,
    /// The address the service's caller connected from; a credential limited to some
    /// networks answers `IP_NOT_ALLOWED` unless it is given and within them.
    #[schema(example = "203.0.113.7")]
    ip: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/keys/verify",
    tag = "api-keys",
    operation_id = "verify_key",
    summary = "Verify a credential a service received (service keys)",
    request_body = VerifyBody,
    responses((status = 200, description = "The verdict; a refused credential is a 200 with `valid: false`", body = Verification)),
)]
pub(super) async fn verify(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Json<Verification>, Problem> {
    let outcome = services
        .check_presented_credential(
            &caller,
            CheckRequest {
                key: body.key,
                route: body.route,
                scopes: body.scopes,
                cost: body.cost,
                model: body.model,
                ip: body.ip,
            },
        )
        .await?;
    let p = outcome.principal.as_ref();
    Ok(Json(Verification {
        valid: outcome.code == CheckCode::Valid,
        code: outcome.code.as_str(),
        reason: outcome.reason,
        key_id: p.and_then(|p| p.key_id.clone()),
        credential_id: p.map(|p| p.credential_id.clone()),
        credential_kind: p.map(|p| p.kind.as_str()),
        user_id: p.map(|p| p.user_id.clone()),
        tenant_id: p.map(|p| p.tenant_id.clone()),
        key_type: p.map(|p| p.key_type.as_str()),
        scopes: p.map(|p| p.scopes.names()),
        models: p.and_then(|p| p.models.names()).map(<[String]>::to_vec),
        expires_at: p
            .and_then(|p| p.expires_at)
            .map(crate::domain::clock::to_rfc3339),
        chat_role: p.and_then(|p| p.chat_role.clone()),
        user_profile: p.and_then(|p| p.user_profile.clone()),
        end_user: p.and_then(|p| p.end_user.clone()),
        team_id: p.and_then(|p| p.team_id.clone()),
        external_id: p.and_then(|p| p.key_metadata.external_id.clone()),
        tags: p.map(|p| p.key_metadata.tags.clone()),
        meta: p.and_then(|p| p.key_metadata.meta.clone()),
        cost: outcome.cost,
        ratelimits: outcome.meter.as_ref().map(|meter| {
            meter
                .limits
                .iter()
                .map(|l| LimitNow {
                    name: l.name.clone(),
                    limit: l.limit,
                    remaining: l.remaining,
                    reset: l.reset_secs,
                })
                .collect()
        }),
        credits: outcome
            .meter
            .as_ref()
            .and_then(|m| m.credits_remaining)
            .map(|remaining| Balance { remaining }),
    }))
}

/// `POST /v1/keys/verify`'s verdict; the principal's fields are null when it is refused.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    pub valid: bool,
    /// `VALID`, or the reason class of a refusal: `NOT_FOUND`, `EXPIRED`, `DISABLED`,
    /// `REVOKED`, `INSUFFICIENT_PERMISSIONS`, `FORBIDDEN_ROUTE`, `FORBIDDEN_MODEL`,
    /// `RATE_LIMITED`, `USAGE_EXCEEDED`, `IP_NOT_ALLOWED`.
    pub code: &'static str,
    pub reason: Option<String>,
    pub key_id: Option<String>,
    pub credential_id: Option<String>,
    pub credential_kind: Option<&'static str>,
    pub user_id: Option<String>,
    pub tenant_id: Option<String>,
    #[schema(value_type = Option<super::openapi::KeyType>)]
    pub key_type: Option<&'static str>,
    #[schema(value_type = Option<Vec<super::openapi::Scope>>)]
    pub scopes: Option<Vec<&'static str>>,
    /// The models the credential may use (null: any, or not verified).
    pub models: Option<Vec<String>>,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub chat_role: Option<ChatRole>,
    #[schema(value_type = Option<Object>)]
    pub user_profile: Option<Map<String, Value>>,
    /// The end user a temp token was minted for.
    pub end_user: Option<String>,
    /// The team owning the key (a team key and its tokens; `user_id` is then the team's
    /// id); null for a person's credential.
    pub team_id: Option<String>,
    /// The metadata of the key behind the credential.
    pub external_id: Option<String>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// The route's cost in the policy, when it has one.
    pub cost: Option<u32>,
    /// A metered key's limits after this check.
    pub ratelimits: Option<Vec<LimitNow>>,
    /// A key with credits: its balance after this check.
    pub credits: Option<Balance>,
}

/// One limit and where its window stands.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitNow {
    pub name: String,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: i64,
}
