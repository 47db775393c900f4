//! `/v1/sessions` (sign in with email and password, sign out) and
//! `/v1/users/me/password` (set or change one's own password).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::views;
use crate::http::credentials::{cleared_session_cookie, session_cookie};
use crate::http::{Caller, Client, JsonBody, Problem};
use crate::services::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/sessions", post(sign_in).delete(sign_out))
        .route("/v1/users/me/password", put(set_password))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SignInRequest)]
pub(super) struct SignInBody {
    email: Option<String>,
    password: Option<String>,
    tenant_id: Option<String>,
}

fn with_cookie(status: StatusCode, cookie: &str, body: Option<views::Session>) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.insert(SET_COOKIE, value);
    }
    match body {
        Some(body) => (status, headers, Json(body)).into_response(),
        None => (status, headers).into_response(),
    }
}

#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    operation_id = "sign_in",
    summary = "Sign in with email and password",
    security(()),
    request_body = SignInBody,
    responses((status = 201, body = views::Session, headers(("Set-Cookie" = String, description = "keygate_session=<secret>; HttpOnly; Secure; SameSite=Strict")))),
)]
pub(super) async fn sign_in(
    State(services): State<Services>,
    Client(client): Client,
    JsonBody(body): JsonBody<SignInBody>,
) -> Result<Response, Problem> {
    let issued = services
        .sign_in(
            body.email.as_deref(),
            body.password.as_deref(),
            body.tenant_id.as_deref(),
            &client,
        )
        .await?;
    let session = &issued.token;
    let lifetime = session.expires_at - session.created_at;
    let body = views::Session {
        session: issued.secret.clone(),
        token_type: "Bearer",
        expires_in: lifetime,
        expires_at: crate::domain::clock::to_rfc3339(session.expires_at),
        session_id: session.id.clone(),
        user: views::SessionUser {
            id: session.user_id.clone(),
            tenant_id: session.tenant_id.clone(),
            email: session.email.clone(),
            role: session.user_role.as_str(),
        },
    };
    Ok(with_cookie(
        StatusCode::CREATED,
        &session_cookie(&issued.secret, lifetime),
        Some(body),
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/sessions",
    tag = "sessions",
    operation_id = "sign_out",
    summary = "Sign out: end the caller's session",
    responses((status = 204, description = "Signed out; the cookie is cleared", headers(("Set-Cookie" = String)))),
)]
pub(super) async fn sign_out(
    State(services): State<Services>,
    Caller(caller): Caller,
) -> Result<Response, Problem> {
    services.sign_out(&caller).await?;
    Ok(with_cookie(
        StatusCode::NO_CONTENT,
        &cleared_session_cookie(),
        None,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordRequest)]
pub(super) struct PasswordBody {
    old_password: Option<String>,
    #[schema(min_length = 12, max_length = 128)]
    new_password: Option<String>,
}

#[utoipa::path(
    put,
    path = "/v1/users/me/password",
    tag = "sessions",
    operation_id = "set_password",
    summary = "Set or change one's own password",
    request_body = PasswordBody,
    responses((status = 204, description = "Password set")),
)]
pub(super) async fn set_password(
    State(services): State<Services>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<StatusCode, Problem> {
    services
        .set_own_password(
            &caller,
            body.old_password.as_deref(),
            body.new_password.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
