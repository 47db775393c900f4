//! The API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses). It verifies
//! the presented credential with the same code the functions use and passes the caller in
//! its context. It never errors to deny: every failure is `isAuthorized: false`.
//! It reads the same credential forms as the functions (headers, then cookies) and applies
//! the same Origin rule to cookie-only state-changing requests. HTTP Basic (Cogniac's
//! `/1/token`) is no credential here: such routes are public at the gateway and checked
//! by their function.

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::Value;

use crate::http::credentials::{self, Source};
use crate::services::{Error, Services};

pub async fn authorize(
    services: &Services,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    // Payload 2.0 carries cookies apart from the headers.
    let mut cookie_pairs: Vec<(&str, &str)> = request
        .cookies
        .iter()
        .flat_map(|c| credentials::split_cookies(c))
        .collect();
    cookie_pairs.extend(credentials::cookie_pairs(&request.headers));
    let presented = match credentials::from_headers(&request.headers) {
        Some(secret) => Some((secret, Source::Header)),
        None => credentials::from_cookies(&cookie_pairs).map(|secret| (secret, Source::Cookie)),
    };
    let Some((secret, source)) = presented else {
        tracing::info!("deny: no credential");
        return response;
    };
    if let Err(error) = credentials::check_origin(
        &request.request_context.http.method,
        &request.headers,
        source,
        &services.config.allowed_origins,
    ) {
        tracing::info!(%error, "deny");
        return response;
    }
    match services.verify(secret).await {
        Ok(principal) => {
            response.is_authorized = true;
            response.context = Value::Object(principal.to_context());
        }
        Err(Error::Unavailable(error)) => {
            // Denying is the only safe answer; the client sees 403 and may retry.
            tracing::error!(%error, "deny: store unavailable");
        }
        Err(error) => tracing::info!(%error, "deny"),
    }
    response
}
