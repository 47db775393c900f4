//! One HTTP POST to a webhook receiver, at the address the caller checked (the name is not
//! resolved again here, so DNS cannot swap in another address between the check and the
//! connection). No redirect is followed, at most 1 KB of the answer is read and then
//! dropped, and the whole exchange ends after 5 s.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::rt::{Read, Write};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::domain::delivery::{ATTEMPT_TIMEOUT_SECS, Outcome};
use crate::domain::webhook::{EndpointUrl, MAX_RESPONSE_BYTES};

/// One attempt: where to connect, what to ask for, and what to send.
pub struct Attempt<'a> {
    pub url: &'a EndpointUrl,
    /// The checked address the connection goes to.
    pub address: IpAddr,
    pub headers: &'a [(&'static str, String)],
    pub body: &'a str,
}

/// Sends attempts; cheap to clone (instances share their count).
#[derive(Clone, Default)]
pub struct WebhookSender {
    connections: Arc<AtomicU64>,
}

impl WebhookSender {
    /// How many connections this sender has begun to open: a refused destination never
    /// adds one.
    pub fn connections_opened(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub async fn send(&self, attempt: Attempt<'_>) -> Outcome {
        let limit = Duration::from_secs(ATTEMPT_TIMEOUT_SECS);
        match tokio::time::timeout(limit, self.exchange(attempt)).await {
            Ok(Ok(code)) => Outcome::Answered(code),
            Ok(Err(why)) => Outcome::Failed(why),
            Err(_) => Outcome::Failed(format!("no answer within {ATTEMPT_TIMEOUT_SECS} s")),
        }
    }

    async fn exchange(&self, attempt: Attempt<'_>) -> Result<u16, String> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let peer = SocketAddr::new(attempt.address, attempt.url.port());
        let tcp = TcpStream::connect(peer)
            .await
            .map_err(|e| format!("could not connect to {peer}: {e}"))?;
        if attempt.url.is_plain_loopback() {
            return post(TokioIo::new(tcp), &attempt).await;
        }
        let name = ServerName::try_from(attempt.url.host().to_owned())
            .map_err(|_| format!("{} is not a TLS server name", attempt.url.host()))?;
        let tls = TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {}: {e}", attempt.url.host()))?;
        post(TokioIo::new(tls), &attempt).await
    }
}

/// The public web's roots (Mozilla's, as webpki-roots ships them), built on first use.
fn tls_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

async fn post<T>(io: T, attempt: &Attempt<'_>) -> Result<u16, String>
where
    T: Read + Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        // Ends with the exchange; its error, if any, is the request's.
        let _ = connection.await;
    });
    let mut request = hyper::Request::post(attempt.url.target())
        .header(hyper::header::HOST, attempt.url.host_header())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "keygate-webhooks/1");
    for (name, value) in attempt.headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(attempt.body.as_bytes())))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP exchange: {e}"))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut read = 0;
    while read < MAX_RESPONSE_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            _ => break,
        }
    }
    Ok(status)
}
