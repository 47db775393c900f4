// The runtime, the tracing span and the handler nest deep enough in async types for rustc's
// layout queries to pass the default limit of 128 (a compile-time limit only).
#![recursion_limit = "256"]

use keygate::authorizer::handle;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_http::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    keygate::init_tracing();
    let services = keygate::app::authorizer_state_from_env_or_exit().await;
    let services = &services;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, lambda_http::Error>(handle(services, event).await)
        },
    ))
    .await
}
