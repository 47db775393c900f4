//! The local server: every group's router on one port, for development and the tests.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use keygate::AppState;
use keygate::http::client_info::PeerAddr;
use tokio::net::TcpListener;

/// Every route of every function, as API Gateway would route them.
pub fn local_app(state: AppState) -> Router {
    keygate::routes::all(state).layer(middleware::from_fn(remember_peer))
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
    axum::serve(
        listener,
        local_app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
