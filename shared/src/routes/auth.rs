//! `/v1/auth/*`: exchanging a key for a token, AskTable's temp tokens, and "who am I".

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::views;
use crate::domain::scope::KeyType;
use crate::domain::token::ChatRole;
use crate::http::{AnyCaller, Client, JsonBody, Problem};
use crate::services::Services;
use crate::services::auth::{IssuedToken, TempTokenRequest};

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/auth/token", post(exchange))
        .route("/v1/auth/tokens", post(mint_temp))
        .route("/v1/auth/me", get(me))
}

fn issued(issued: &IssuedToken) -> Value {
    let expires_in = issued.token.expires_at - issued.token.created_at;
    json!({
        "access_token": issued.secret,
        "token": issued.secret,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "expires_at": views::time(Some(issued.token.expires_at)),
    })
}

#[derive(Deserialize, ToSchema)]
#[schema(as = ExchangeRequest)]
pub(super) struct ExchangeBody {
    email: Option<String>,
    api_key: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/auth/token",
    tag = "auth",
    operation_id = "exchange_api_key",
    summary = "Exchange an email and API key for a token",
    security(()),
    request_body = ExchangeBody,
    responses((status = 200, body = super::openapi::IssuedToken)),
)]
pub(super) async fn exchange(
    State(services): State<Services>,
    Client(client): Client,
    JsonBody(body): JsonBody<ExchangeBody>,
) -> Result<Json<Value>, Problem> {
    let token = services
        .exchange_api_key(body.email.as_deref(), body.api_key.as_deref(), &client)
        .await?;
    Ok(Json(issued(&token)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TempTokenRequest)]
pub(super) struct TempTokenBody {
    /// No more than the caller's own.
    #[schema(value_type = Option<super::openapi::KeyType>)]
    ak_role: Option<KeyType>,
    /// `{role_id, role_variables}`
    #[schema(value_type = Option<Object>)]
    chat_role: Option<ChatRole>,
    #[schema(value_type = Option<Object>)]
    user_profile: Option<Map<String, Value>>,
    /// Seconds, default 3600.
    #[schema(minimum = 1, maximum = 86400)]
    token_ttl: Option<i64>,
    /// The end user the token is for: the key's end-user budget applies to each end user
    /// separately. A token minted for an end user mints only for that one.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._@:-]+$")]
    end_user: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/auth/tokens",
    tag = "auth",
    operation_id = "mint_temp_token",
    summary = "Mint a short-lived token with no more rights than the caller's",
    request_body = TempTokenBody,
    responses((status = 200, body = super::openapi::IssuedToken)),
)]
pub(super) async fn mint_temp(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    JsonBody(body): JsonBody<TempTokenBody>,
) -> Result<Json<Value>, Problem> {
    let request = TempTokenRequest {
        ak_role: body.ak_role,
        chat_role: body.chat_role,
        user_profile: body.user_profile,
        token_ttl: body.token_ttl,
        end_user: body.end_user,
    };
    let token = services.mint_temp_token(&caller, request).await?;
    Ok(Json(issued(&token)))
}

#[utoipa::path(
    get,
    path = "/v1/auth/me",
    tag = "auth",
    operation_id = "me",
    summary = "Who the presented credential is",
    responses((status = 200, body = super::openapi::Me)),
)]
pub(super) async fn me(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
) -> Result<Json<Value>, Problem> {
    let mut body = json!({
        "ak_role": caller.key_type.as_str(),
        "project_id": caller.tenant_id,
        "locked": false,
        "user_id": caller.user_id,
        "email": caller.email,
        "role": caller.user_role.as_str(),
        "credential_kind": caller.kind.as_str(),
        "credential_id": caller.credential_id,
        "scopes": caller.scopes.names(),
        "models": caller.models.names(),
    });
    if let Some(key_id) = &caller.key_id {
        body["ak_id"] = json!(key_id);
    }
    if let Some(role) = &caller.chat_role {
        body["chat_role"] = json!(role);
    }
    if let Some(profile) = &caller.user_profile {
        body["user_profile"] = json!(profile);
    }
    if let Some(end_user) = &caller.end_user {
        body["end_user"] = json!(end_user);
    }
    if let Some(exp) = caller.expires_at {
        body["exp"] = json!(exp);
    }
    body["ratelimits"] = json!(caller.metering.ratelimits);
    let remaining = match &caller.meter_id {
        Some(meter_id) => {
            services
                .credits_remaining(meter_id, &caller.metering)
                .await?
        }
        None => None,
    };
    body["credits"] = super::views::credits(&caller.metering, remaining);
    Ok(Json(body))
}
