//! `GET|PUT /v1/tenant/policy`: the tenant's key policy, which every key creation of the
//! tenant obeys, on every surface. The answer type is the one the handlers return, so the
//! document cannot drift from it.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::tenant_policy::{TenantKeyPolicy, TenantKeyPolicyInput};
use crate::http::{Caller, JsonBody, Problem};
use crate::services::Services;

pub fn routes() -> Router<Services> {
    Router::new().route("/v1/tenant/policy", get(get_policy).put(put_policy))
}

/// A tenant key policy to set; every field is optional (absent: no limit).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TenantPolicySet)]
pub(super) struct PutBody {
    /// Every new key must expire within this many days (1 to 3650).
    #[schema(minimum = 1, maximum = 3650)]
    max_key_lifetime_days: Option<i64>,
    /// Active keys a user may hold (1 to 100; absent: 10).
    #[schema(minimum = 1, maximum = 100)]
    max_active_keys_per_user: Option<i64>,
    /// The key types a new key may have.
    #[schema(value_type = Option<Vec<super::openapi::KeyType>>)]
    allowed_key_types: Option<Vec<String>>,
    /// The scopes a new key may carry.
    #[schema(value_type = Option<Vec<super::openapi::Scope>>)]
    allowed_scopes: Option<Vec<String>>,
}

impl From<PutBody> for TenantKeyPolicyInput {
    fn from(body: PutBody) -> Self {
        Self {
            max_key_lifetime_days: body.max_key_lifetime_days,
            max_active_keys_per_user: body.max_active_keys_per_user,
            allowed_key_types: body.allowed_key_types,
            allowed_scopes: body.allowed_scopes,
        }
    }
}

/// A tenant's key policy as it stands (null: no limit).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPolicyView {
    pub tenant_id: String,
    pub max_key_lifetime_days: Option<u32>,
    pub max_active_keys_per_user: u32,
    #[schema(value_type = Option<Vec<super::openapi::KeyType>>)]
    pub allowed_key_types: Option<Vec<&'static str>>,
    #[schema(value_type = Option<Vec<super::openapi::Scope>>)]
    pub allowed_scopes: Option<Vec<&'static str>>,
    /// Raised by every change.
    pub revision: u64,
}

impl TenantPolicyView {
    fn of(policy: &TenantKeyPolicy, tenant_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            max_key_lifetime_days: policy.max_key_lifetime_days,
            max_active_keys_per_user: policy.max_active_keys_per_user,
            allowed_key_types: policy
                .allowed_key_types
                .as_ref()
                .map(|types| types.iter().map(|t| t.as_str()).collect()),
            allowed_scopes: policy.allowed_scopes.as_ref().map(|s| s.names()),
            revision: policy.revision,
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/tenant/policy",
    tag = "tenant",
    operation_id = "get_tenant_policy",
    summary = "The tenant's key policy (tenant admins)",
    responses((status = 200, body = TenantPolicyView), (status = 404, description = "No policy set: the defaults apply (10 active keys per user)", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn get_policy(
    State(services): State<Services>,
    Caller(caller): Caller,
) -> Result<Json<TenantPolicyView>, Problem> {
    let policy = services.get_tenant_policy(&caller).await?;
    Ok(Json(TenantPolicyView::of(&policy, &caller.tenant_id)))
}

#[utoipa::path(
    put,
    path = "/v1/tenant/policy",
    tag = "tenant",
    operation_id = "put_tenant_policy",
    summary = "Set the tenant's key policy, which every new key obeys (tenant admins)",
    request_body = PutBody,
    responses((status = 200, body = TenantPolicyView), (status = 400, description = "Invalid input, naming the field", body = crate::http::problem::ProblemBody, content_type = "application/problem+json"), (status = 409, description = "The policy changed meanwhile", body = crate::http::problem::ProblemBody, content_type = "application/problem+json")),
)]
pub(super) async fn put_policy(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Json<TenantPolicyView>, Problem> {
    let policy = services.put_tenant_policy(&caller, &body.into()).await?;
    Ok(Json(TenantPolicyView::of(&policy, &caller.tenant_id)))
}
