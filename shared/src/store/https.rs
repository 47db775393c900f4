//! The DynamoDB client's HTTPS client: hyper on rustls (ring), trusting [`super::trust`]'s
//! roots, with its TLS connector built once, on the first request.

use aws_sdk_dynamodb::config::{HttpClient, SharedHttpClient};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::{
    HttpConnectorSettings, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// An HTTPS client whose only TLS connector is the one its first request builds.
///
/// The SDK's client, once chosen, builds a connector while the DynamoDB client is configured
/// only to warm it up (`validate_base_client_config`) and drops it; the first request then
/// builds and keeps its own. Building one decodes and parses every trusted root: 0.25 M
/// instructions, about a fifth of a function's init, thrown away (README, "Cold start").
/// Forwarding only `http_connector` leaves that warm-up out.
pub fn https_client(trust_store: tls::TrustStore) -> SharedHttpClient {
    let tls_context = tls::TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context with a trust store builds");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(tls_context)
        .build_https();
    http_client_fn(
        move |settings: &HttpConnectorSettings,
              components: &RuntimeComponents|
              -> SharedHttpConnector { client.http_connector(settings, components) },
    )
}
