//! `POST /v1/keys/verify`: for services outside this API Gateway that receive a keygate
//! credential from their own callers (served by the api-keys function).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::views;
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
}

#[utoipa::path(
    post,
    path = "/v1/keys/verify",
    tag = "api-keys",
    operation_id = "verify_key",
    summary = "Verify a credential a service received (service keys)",
    request_body = VerifyBody,
    responses((status = 200, description = "The verdict; a refused credential is a 200 with `valid: false`", body = super::openapi::Verification)),
)]
pub(super) async fn verify(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Json<Value>, Problem> {
    let outcome = services
        .check_presented_credential(
            &caller,
            CheckRequest {
                key: body.key,
                route: body.route,
                scopes: body.scopes,
                cost: body.cost,
                model: body.model,
            },
        )
        .await?;
    let p = outcome.principal.as_ref();
    Ok(Json(json!({
        "valid": outcome.code == CheckCode::Valid,
        "code": outcome.code.as_str(),
        "reason": outcome.reason,
        "key_id": p.and_then(|p| p.key_id.clone()),
        "credential_id": p.map(|p| p.credential_id.clone()),
        "credential_kind": p.map(|p| p.kind.as_str()),
        "user_id": p.map(|p| p.user_id.clone()),
        "tenant_id": p.map(|p| p.tenant_id.clone()),
        "key_type": p.map(|p| p.key_type.as_str()),
        "scopes": p.map(|p| p.scopes.names()),
        "models": p.and_then(|p| p.models.names()),
        "expires_at": views::time(p.and_then(|p| p.expires_at)),
        "chat_role": p.and_then(|p| p.chat_role.clone()),
        "user_profile": p.and_then(|p| p.user_profile.clone()),
        "end_user": p.and_then(|p| p.end_user.clone()),
        "cost": outcome.cost,
        "ratelimits": outcome.meter.as_ref().map(|m| m.limits.iter().map(|l| json!({
            "name": l.name,
            "limit": l.limit,
            "remaining": l.remaining,
            "reset": l.reset_secs,
        })).collect::<Vec<_>>()),
        "credits": outcome.meter.as_ref().and_then(|m| m.credits_remaining).map(|remaining| json!({"remaining": remaining})),
    })))
}
