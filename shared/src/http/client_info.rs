//! The client's address and user agent, for login history and prompt logs.

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

use crate::services::ClientInfo;

pub struct Client(pub ClientInfo);

/// The peer address, inserted as a request extension by servers that know it (the local
/// server); under Lambda the address comes from the API Gateway request context instead.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_info(parts)))
    }
}

/// The client's address (from API Gateway, else the peer) and user agent.
pub fn client_info(parts: &Parts) -> ClientInfo {
    let from_gateway = match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    let ip = from_gateway
        .or_else(|| {
            parts
                .extensions
                .get::<PeerAddr>()
                .map(|peer| peer.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let user_agent = parts
        .headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    ClientInfo { ip, user_agent }
}

/// Outer layer of every router: the request's origin becomes that of the audit events
/// its use cases write.
pub async fn record_origin(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let client = client_info(&parts);
    let request = axum::extract::Request::from_parts(parts, body);
    crate::services::audit::with_origin(client, next.run(request)).await
}
