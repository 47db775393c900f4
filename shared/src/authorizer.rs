//! The API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses). It verifies
//! the presented credential with the same code the functions use and passes the caller in
//! its context. It never errors to deny: every failure is `isAuthorized: false`.

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::Value;

use crate::http::credentials;
use crate::services::{Error, Services};

pub async fn authorize(
    services: &Services,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    let Some(secret) = credentials::presented(&request.headers) else {
        tracing::info!("deny: no credential");
        return response;
    };
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
