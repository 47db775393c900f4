//! The API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses). It verifies
//! the presented credential with the same code the functions use and passes the caller in
//! its context. It never errors to deny. A denial is either `isAuthorized: false` (API Gateway
//! answers 403) or, by default, a pass with only a denial marker in the context, so that the
//! function answers 401 (or 403) in its own surface's shape (see `config::AuthorizerDeny`).
//! It reads the same credential forms as the functions (headers, then cookies) and applies
//! the same Origin rule to cookie-only state-changing requests. HTTP Basic (Cogniac's
//! `/1/token`) is no credential here: such routes are public at the gateway and checked
//! by their function.

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::Value;

use crate::config::AuthorizerDeny;
use crate::http::credentials::{self, Source};
use crate::services::{Error, Services};

/// The context key marking a request the authorizer refused (see `http::caller`).
pub const DENIED_MARKER: &str = "keygate_denied";

pub async fn authorize(
    services: &Services,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
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
    let verified = match presented {
        None => Err(Error::Unauthenticated("no credential")),
        Some((secret, source)) => match credentials::check_origin(
            &request.request_context.http.method,
            &request.headers,
            source,
            &services.config.allowed_origins,
        ) {
            Ok(()) => services.verify(secret).await,
            Err(error) => Err(error),
        },
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
                Error::Internal(_) => "internal",
                Error::Forbidden(_) => "forbidden",
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
