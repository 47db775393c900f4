//! A DynamoDB endpoint that fails on demand: a proxy in front of the emulator that answers
//! chosen operations with a 500 InternalServerError, as DynamoDB does when it fails, or
//! with a 400 ValidationException, as it refuses a request it finds malformed. Used to show
//! that a failure mid-request gives the client a 503 and leaves no partial change, and that
//! a refused request is a 500, not an invitation to retry. It also records every operation
//! and request body it sees, to show which requests reach the store at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// How a failing operation answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// 500 InternalServerError: DynamoDB failed.
    Outage,
    /// 400 ValidationException: DynamoDB refused the request itself.
    Refusal,
    /// 400 ProvisionedThroughputExceededException: DynamoDB asks to slow down.
    Throttling,
}

/// The operations (e.g. `TransactWriteItems`) that fail until healed, and what was sent.
#[derive(Clone, Default)]
pub struct Faults {
    failing: Arc<Mutex<HashMap<String, Fault>>>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Faults {
    /// `operation` answers 500 until healed.
    pub fn fail(&self, operation: &str) {
        self.failing
            .lock()
            .unwrap()
            .insert(operation.to_owned(), Fault::Outage);
    }

    /// `operation` answers 400 ValidationException until healed.
    pub fn refuse(&self, operation: &str) {
        self.failing
            .lock()
            .unwrap()
            .insert(operation.to_owned(), Fault::Refusal);
    }

    /// `operation` answers 400 ProvisionedThroughputExceededException until healed.
    pub fn throttle(&self, operation: &str) {
        self.failing
            .lock()
            .unwrap()
            .insert(operation.to_owned(), Fault::Throttling);
    }

    pub fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    fn fault(&self, operation: &str) -> Option<Fault> {
        self.failing.lock().unwrap().get(operation).copied()
    }

    /// The operations sent since the last [`Faults::forget`], in order.
    pub fn operations(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|(operation, _)| operation.clone())
            .collect()
    }

    /// Whether any request sent since the last [`Faults::forget`] carried `text`.
    pub fn sent(&self, text: &str) -> bool {
        let seen = self.seen.lock().unwrap();
        seen.iter().any(|(_, body)| body.contains(text))
    }

    pub fn forget(&self) {
        self.seen.lock().unwrap().clear();
    }

    /// The requests sent since the last call (or [`Faults::forget`]): operation and JSON
    /// body, to count round trips and read their parameters.
    pub fn take_seen(&self) -> Vec<(String, serde_json::Value)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
            .into_iter()
            .map(|(operation, body)| (operation, serde_json::from_str(&body).unwrap_or_default()))
            .collect()
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
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    proxy.faults.seen.lock().unwrap().push((
        operation.clone(),
        String::from_utf8_lossy(&body).into_owned(),
    ));
    if let Some(fault) = proxy.faults.fault(&operation) {
        let (status, body) = match fault {
            Fault::Outage => (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected failure"}"#,
            ),
            Fault::Refusal => (
                StatusCode::BAD_REQUEST,
                r#"{"__type":"com.amazon.coral.validation#ValidationException","message":"One or more parameter values were invalid: injected refusal"}"#,
            ),
            Fault::Throttling => (
                StatusCode::BAD_REQUEST,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"injected throttling"}"#,
            ),
        };
        return (
            status,
            [("content-type", "application/x-amz-json-1.0")],
            body,
        )
            .into_response();
    }
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
