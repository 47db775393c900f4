//! A DynamoDB endpoint that fails on demand: a proxy in front of the emulator that answers
//! chosen operations with a 500 InternalServerError, as DynamoDB does when it fails. Used to
//! show that a failure mid-request gives the client a 503 and leaves no partial change.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// The operations (e.g. `TransactWriteItems`) that fail until healed.
#[derive(Clone, Default)]
pub struct Faults {
    failing: Arc<Mutex<HashSet<String>>>,
}

impl Faults {
    pub fn fail(&self, operation: &str) {
        self.failing.lock().unwrap().insert(operation.to_owned());
    }

    pub fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    fn fails(&self, operation: &str) -> bool {
        self.failing.lock().unwrap().contains(operation)
    }
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    faults: Faults,
}

/// Starts the proxy in front of `upstream`; returns its URL and the switch.
pub async fn start(upstream: String) -> (String, Faults) {
    let faults = Faults::default();
    let proxy = Proxy {
        upstream,
        http: reqwest::Client::new(),
        faults: faults.clone(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("proxy runs") });
    (address, faults)
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    if proxy.faults.fails(&operation) {
        let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected failure"}"#;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/x-amz-json-1.0")],
            body,
        )
            .into_response();
    }
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            headers.insert(name.clone(), value.clone());
        }
    }
    let upstream = proxy
        .http
        .request(parts.method, format!("{}{}", proxy.upstream, parts.uri))
        .headers(headers)
        .body(body)
        .send()
        .await
        .expect("the emulator answers");
    let mut response = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    let bytes = upstream.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).unwrap()
}
