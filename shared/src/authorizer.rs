//! The API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses). It verifies
//! the presented credential with the same code the functions use and passes the caller in
//! its context. It never errors to deny. A denial is either `isAuthorized: false` (API Gateway
//! answers 403) or, by default, a pass with only a denial marker in the context, so that the
//! function answers 401 in its own surface's shape (see `config::AuthorizerDeny`).

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::Value;

use crate::config::AuthorizerDeny;
use crate::http::credentials;
use crate::services::{Error, Services};

/// The context key marking a request the authorizer refused (see `http::caller`).
pub const DENIED_MARKER: &str = "keygate_denied";

pub async fn authorize(
    services: &Services,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let verified = match credentials::presented(&request.headers) {
        Some(secret) => services.verify(secret).await,
        None => Err(Error::Unauthenticated("no credential")),
    };
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    match verified {
        Ok(principal) => {
            response.is_authorized = true;
            response.context = Value::Object(principal.to_context());
        }
        Err(error) => {
            let class = match &error {
                Error::Unavailable(_) => "unavailable",
                _ => "unauthenticated",
            };
            tracing::info!(%error, "deny");
            if services.config.authorizer_deny == AuthorizerDeny::Function {
                response.is_authorized = true;
                response.context = serde_json::json!({ DENIED_MARKER: class });
            }
        }
    }
    response
}
