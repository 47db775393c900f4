//! What reaches the logs: every line of a full flow (sign-up, sign-in, key creation, token
//! exchange, verification, revocation, a store failure), captured in-process with the JSON
//! subscriber Lambda uses at TRACE level, holds no secret, no hash and no password; each
//! request has its line (DEBUG, or WARN for a server error); verification outcomes and
//! store failures arrive as EMF records.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use keygate::logs::{LogFormat, LogSettings};
use keygate_tests::{StatusCode, TestApp, session_cookie, spawn_app_with_faults};
use serde_json::{Value, json};
use tracing::level_filters::LevelFilter;

/// Every byte logged by this test process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let settings = LogSettings {
            format: LogFormat::Json,
            level: LevelFilter::TRACE,
        };
        tracing::subscriber::set_global_default(keygate::logs::subscriber(
            settings,
            captured.clone(),
        ))
        .expect("the only subscriber of this test binary");
        captured
    })
}

fn log_lines() -> Vec<Value> {
    let bytes = captured().0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .expect("logs are UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

const PASSWORD: &str = "first password 1";
const WRONG_PASSWORD: &str = "not the password";
const NEW_PASSWORD: &str = "second password 2";

async fn secret_of(reply: keygate_tests::Reply, field: &str) -> String {
    assert!(reply.status.is_success(), "{}", reply.body);
    reply.body[field].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn no_secret_hash_or_password_reaches_a_log_line() {
    captured();
    let (app, faults) = spawn_app_with_faults().await;
    let mut secrets = vec![app.admin_key.clone()];

    // Sign-up (a user with a password), a refused and a good sign-in.
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let wrong = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "ada@example.com", "password": WRONG_PASSWORD})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let session = app.sign_in("ada@example.com", PASSWORD).await;
    secrets.push(session.clone());
    let cookie = session_cookie(&session);

    // A key made by the session from the page's origin, exchanged, verified, revoked.
    let created = app
        .send(
            "POST",
            "/v1/api-keys",
            &[("cookie", &cookie), ("origin", &app.address)],
            Some(json!({"name": "logged", "scopes": ["chat", "read", "admin"]})),
        )
        .await;
    let key_id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let key = secret_of(created, "key").await;
    secrets.push(key.clone());
    let token = secret_of(
        app.call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": "ada@example.com", "api_key": key})),
        )
        .await,
        "access_token",
    )
    .await;
    secrets.push(token.clone());
    let temp = secret_of(
        app.call("POST", "/v1/auth/tokens", Some(&key), Some(json!({})))
            .await,
        "token",
    )
    .await;
    secrets.push(temp.clone());
    for credential in [&key, &token, &temp, &session] {
        let me = app.call("GET", "/v1/auth/me", Some(credential), None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    }
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{key_id}"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    for credential in [&key, &token] {
        let refused = app.call("GET", "/v1/auth/me", Some(credential), None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
    let changed = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&session),
            Some(json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);

    // A store failure in the middle of a key creation: 503, logged and counted.
    faults.fail("TransactWriteItems");
    let failed = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "during an outage"})),
        )
        .await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    faults.heal();

    // The authorizer's invocation: one line, which is also its metric record.
    let mut context = lambda_http::lambda_runtime::Context::default();
    context.request_id = "authorizer-invocation-1".into();
    let before = log_lines().len();
    let response = keygate::authorizer::handle(
        &app.services,
        lambda_http::LambdaEvent::new(keygate_tests::authorizer_event(&app.admin_key), context),
    )
    .await;
    assert!(response.is_authorized);
    let invocation: Vec<Value> = log_lines().split_off(before);
    assert_eq!(
        invocation.len(),
        1,
        "one line per authorizer request: {invocation:?}"
    );
    let line = &invocation[0];
    assert_eq!(line["message"], "authorize");
    assert_eq!(line["request_id"], "authorizer-invocation-1");
    assert_eq!(line["outcome"], "allowed");
    assert_eq!(line["Outcome"], "valid");
    assert_eq!(line["Verifications"], 1);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "Verifications"
    );
    assert!(line.get("timestamp").is_none() && line.get("span").is_none());

    let lines = log_lines();
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let forbidden = forbidden_strings(&app, &secrets).await;
    for line in &text {
        for needle in &forbidden {
            assert!(
                !line.contains(needle.as_str()),
                "{needle} in the log: {line}"
            );
        }
    }

    // Each request has its line: request id, route template, status, latency.
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["route"] == "/v1/api-keys/{key_id}")
        .expect("a line for the revocation");
    assert_eq!(request["method"], "DELETE");
    assert_eq!(request["status"], 200);
    assert!(
        request["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(request["latency_ms"].as_f64().is_some());
    // At the deployed level (INFO) only server errors keep their line: API Gateway's access
    // log records every request, and a 5xx's line sits beside the error that caused it.
    let request_lines: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    for line in &request_lines {
        let server_error = line["status"].as_u64().is_some_and(|status| status >= 500);
        let expected = if server_error { "WARN" } else { "DEBUG" };
        assert_eq!(line["level"], expected, "{line}");
    }
    assert!(
        request_lines
            .iter()
            .any(|l| l["route"] == "/v1/api-keys" && l["status"] == 503)
    );

    // Metrics: bare EMF objects CloudWatch can read.
    let metric = |name: &str, dimension: &str, value: &str| {
        lines.iter().any(|l| {
            l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "keygate"
                && l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == name
                && l["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == json!([[dimension]])
                && l[dimension] == value
                && l[name] == 1
        })
    };
    assert!(metric("Verifications", "Outcome", "valid"));
    assert!(metric("Verifications", "Outcome", "revoked"));
    assert!(metric("StoreFailures", "Operation", "TransactWriteItems"));
    let failure = lines
        .iter()
        .find(|l| l["message"] == "store unavailable")
        .expect("the failure is logged");
    assert!(
        !failure["error"]
            .as_str()
            .unwrap()
            .contains("ServiceError {"),
        "described by messages, not by Debug forms that may hold items: {failure}"
    );
}

/// A stored credential hash without its pepper version (`p1$<hex>` → `<hex>`): the part
/// that must never be logged, in whatever form.
fn digest_of(stored: &str) -> String {
    let digest = stored.rsplit('$').next().unwrap_or(stored);
    assert_eq!(digest.len(), 64, "a SHA-256 digest in hex");
    digest.to_owned()
}

/// The secrets, their stored hashes (read from the table and recomputed with the test's
/// pepper), the password hashes and the passwords.
async fn forbidden_strings(app: &TestApp, secrets: &[String]) -> Vec<String> {
    let mut forbidden: Vec<String> = [PASSWORD, WRONG_PASSWORD, NEW_PASSWORD]
        .map(str::to_owned)
        .to_vec();
    let hasher = app.services.hasher();
    for secret in secrets {
        forbidden.push(secret.clone());
        // The random part alone, should something log a credential in pieces.
        forbidden.push(secret[secret.len() - 24..].to_owned());
        forbidden.push(digest_of(&hasher.hash(secret)));
    }
    for item in app.scan_table().await {
        if let Some(value) = item.get("hash").and_then(|v| v.as_s().ok()) {
            forbidden.push(digest_of(value));
        }
        if let Some(value) = item.get("password_hash").and_then(|v| v.as_s().ok()) {
            forbidden.push(value.clone());
        }
    }
    assert!(forbidden.len() > 3 * secrets.len() + 5, "hashes were found");
    forbidden
}
