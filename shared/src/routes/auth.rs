//! `/v1/auth/*`: exchanging a key for a token, AskTable's temp tokens, and "who am I".

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};
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

fn issued(issued: &IssuedToken) -> views::IssuedToken {
    views::IssuedToken {
        access_token: issued.secret.clone(),
        token: issued.secret.clone(),
        token_type: "Bearer",
        expires_in: issued.token.expires_at - issued.token.created_at,
        expires_at: crate::domain::clock::to_rfc3339(issued.token.expires_at),
    }
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
    responses((status = 200, body = views::IssuedToken)),
)]
pub(super) async fn exchange(
    State(services): State<Services>,
    Client(client): Client,
    JsonBody(body): JsonBody<ExchangeBody>,
) -> Result<Json<views::IssuedToken>, Problem> {
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
    /// The source networks the token may be used from (1 to 20 CIDRs), within the
    /// caller's; absent: the caller's.
    #[schema(max_items = 20)]
    allowed_ips: Option<Vec<String>>,
}

#[utoipa::path(
    post,
    path = "/v1/auth/tokens",
    tag = "auth",
    operation_id = "mint_temp_token",
    summary = "Mint a short-lived token with no more rights than the caller's",
    request_body = TempTokenBody,
    responses((status = 200, body = views::IssuedToken)),
)]
pub(super) async fn mint_temp(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    JsonBody(body): JsonBody<TempTokenBody>,
) -> Result<Json<views::IssuedToken>, Problem> {
    let request = TempTokenRequest {
        ak_role: body.ak_role,
        chat_role: body.chat_role,
        user_profile: body.user_profile,
        token_ttl: body.token_ttl,
        end_user: body.end_user,
        allowed_ips: body.allowed_ips,
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
    responses((status = 200, body = views::Me)),
)]
pub(super) async fn me(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
) -> Result<Json<views::Me>, Problem> {
    let remaining = match &caller.meter_id {
        Some(meter_id) => {
            services
                .credits_remaining(meter_id, &caller.metering)
                .await?
        }
        None => None,
    };
    Ok(Json(views::Me {
        ak_role: caller.key_type.as_str(),
        project_id: caller.tenant_id.clone(),
        locked: false,
        user_id: caller.user_id.clone(),
        email: caller.email.clone(),
        role: caller.user_role.as_str(),
        credential_kind: caller.kind.as_str(),
        credential_id: caller.credential_id.clone(),
        scopes: caller.scopes.names(),
        models: caller.models.names().map(<[String]>::to_vec),
        allowed_ips: caller.allowed_ips.names(),
        ak_id: caller.key_id.clone(),
        chat_role: caller.chat_role.clone(),
        user_profile: caller.user_profile.clone(),
        end_user: caller.end_user.clone(),
        team_id: caller.team_id.clone(),
        exp: caller.expires_at,
        ratelimits: views::RateLimitView::all(&caller.metering.ratelimits),
        credits: views::credits(&caller.metering, remaining),
    }))
}
