//! The local server: every group's router on one port, for development and the tests, and
//! the example platform function behind a stand-in for API Gateway's authorizer step.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use keygate::AppState;
use keygate::authorizer::{Incoming, decide};
use keygate::http::client_info::PeerAddr;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use tokio::net::TcpListener;

mod local_delivery;

/// Every route of every function, as API Gateway would route them. keygate's own functions
/// verify the credential and apply the route policy themselves (no authorizer runs here); the
/// platform's function trusts only an authorizer context, so the local server runs the
/// authorizer's decision in front of it and hands it the context, as API Gateway would.
pub fn local_app(state: AppState) -> Router {
    let platform = platform_function::routes()
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    keygate::routes::all(state)
        .merge(platform)
        .layer(middleware::from_fn(remember_peer))
}

/// API Gateway's part: run the authorizer, then pass its context or answer its refusal.
async fn gate(
    State(services): State<AppState>,
    mut request: Request,
    next: Next,
) -> axum::response::Response {
    let path = request.uri().path().to_owned();
    let method = request.method().as_str().to_owned();
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .map(|peer| peer.0.ip().to_string());
    let decision = decide(
        &services,
        &Incoming {
            route_key: None,
            method: &method,
            path: &path,
            headers: request.headers(),
            cookies: &[],
            domain_name: None,
            source_ip: peer.as_deref(),
        },
    )
    .await;
    if !decision.is_authorized {
        // What API Gateway answers for `isAuthorized: false`.
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "message": "Forbidden" })),
        )
            .into_response();
    }
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    if let serde_json::Value::Object(fields) = decision.context {
        authorizer.fields = fields.into_iter().collect();
    }
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    request
        .extensions_mut()
        .insert(RequestContext::ApiGatewayV2(context));
    next.run(request).await
}

/// The local server knows the peer address; handlers read it as API Gateway's source IP.
async fn remember_peer(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> axum::response::Response {
    request.extensions_mut().insert(PeerAddr(peer));
    next.run(request).await
}

/// Serves the local app on `listener` until the future `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    local_delivery::spawn(state.clone());
    axum::serve(
        listener,
        local_app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
