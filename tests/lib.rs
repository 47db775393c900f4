//! Test helpers: every test gets its own table on the shared emulator and its own
//! in-process server on a free port, and talks to it over HTTP like any client.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use keygate::config::Config;
use keygate::services::Services;
use keygate::store::Store;
use serde_json::Value;
use tokio::net::TcpListener;

pub mod faults;
pub mod tls;

pub use reqwest::StatusCode;

/// A running keygate with a fresh table and a bootstrapped tenant admin.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub services: Services,
    pub tenant_id: String,
    pub admin_id: String,
    pub admin_email: String,
    /// The admin's bootstrap key (all scopes).
    pub admin_key: String,
}

pub fn emulator_endpoint() -> String {
    std::env::var("KEYGATE_TEST_DYNAMODB_ENDPOINT")
        .expect("KEYGATE_TEST_DYNAMODB_ENDPOINT is unset: run the suite with scripts/test")
}

/// Configuration for a test table; `extra` overrides any variable.
pub fn test_config(table: &str, extra: &[(&str, &str)]) -> Config {
    let endpoint = emulator_endpoint();
    Config::from_lookup(|name| {
        if let Some((_, value)) = extra.iter().find(|(n, _)| *n == name) {
            return Some((*value).to_owned());
        }
        match name {
            "KEYGATE_TABLE" => Some(table.to_owned()),
            "KEYGATE_DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
            "AWS_REGION" => Some("us-east-1".to_owned()),
            "KEYGATE_PEPPER_PARAMETER" => Some(TEST_PEPPER_PARAMETER.to_owned()),
            "KEYGATE_SSM_ENDPOINT" => Some(endpoint.clone()),
            "KEYGATE_ALLOWED_ORIGINS" => Some("https://app.example.com".to_owned()),
            // The emulator serves one request at a time: under the concurrency tests a
            // request may queue for seconds, which is not a failure of the store.
            "KEYGATE_DYNAMODB_TIMEOUT_SECS" => Some("30".to_owned()),
            _ => None,
        }
    })
    .expect("test configuration is valid")
}

/// The pepper every test app reads from the emulator's SSM, as a deployment reads its own.
pub const TEST_PEPPER_PARAMETER: &str = "/keygate-tests/pepper";

/// An SSM client on the emulator, as an operator's CLI would be.
pub fn ssm_client() -> aws_sdk_ssm::Client {
    // keygate's own HTTPS client (the SDK is built without a default one).
    let dynamodb = keygate::store::dynamodb_client(
        "us-east-1",
        Some(&emulator_endpoint()),
        None,
        std::time::Duration::from_secs(30),
    )
    .expect("the client builds");
    let mut config = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest());
    config.set_http_client(dynamodb.config().http_client());
    let config = config
        .region(aws_sdk_ssm::config::Region::new("us-east-1"))
        .endpoint_url(emulator_endpoint())
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "keygate-tests",
        ))
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

/// Stores `value` as the next version of the SecureString parameter `name`: what an
/// operator does to make or rotate a pepper. Returns the new version.
pub async fn put_pepper(name: &str, value: &str) -> i64 {
    ssm_client()
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("the emulator stores the parameter")
        .version()
}

/// Makes [`TEST_PEPPER_PARAMETER`] once per emulator: the first test to start stores it,
/// every later one finds it (and never adds a version, which would change the current one
/// under a running test).
async fn ensure_test_pepper() {
    let found = ssm_client()
        .get_parameter()
        .name(TEST_PEPPER_PARAMETER)
        .send()
        .await;
    if found.is_err() {
        let made = ssm_client()
            .put_parameter()
            .name(TEST_PEPPER_PARAMETER)
            .value("test-pepper")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await;
        // Another test may have made it in between: either way it exists now.
        if let Err(error) = made {
            let error = aws_sdk_ssm::error::DisplayErrorContext(&error).to_string();
            assert!(error.contains("ParameterAlreadyExists"), "{error}");
        }
    }
}

/// The services a cold start builds for `config`: the pepper read from the emulator's SSM.
pub async fn load_services(config: Config) -> Services {
    ensure_test_pepper().await;
    let store = Store::connect(&config).expect("the store builds");
    Services::load(config, store)
        .await
        .expect("the pepper parameter is read")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A keygate whose DynamoDB endpoint fails the operations the returned switch names.
pub async fn spawn_app_with_faults() -> (TestApp, faults::Faults) {
    spawn_app_with_faults_and(&[]).await
}

/// [`spawn_app_with_faults`] with `extra` configuration.
pub async fn spawn_app_with_faults_and(extra: &[(&str, &str)]) -> (TestApp, faults::Faults) {
    let (endpoint, faults) = faults::start(emulator_endpoint()).await;
    let mut config = vec![("KEYGATE_DYNAMODB_ENDPOINT", endpoint.as_str())];
    config.extend_from_slice(extra);
    let app = spawn_app_with(&config).await;
    (app, faults)
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let table = format!("keygate-test-{}", keygate::domain::credential::new_ulid());
    let services = load_services(test_config(&table, extra)).await;
    services
        .store
        .create_table()
        .await
        .expect("test table is created");
    let made = services
        .bootstrap("test tenant", "admin@example.com")
        .await
        .expect("bootstrap succeeds");
    TestApp {
        address: serve(services.clone()).await,
        http: reqwest::Client::new(),
        services,
        tenant_id: made.tenant.id,
        admin_id: made.admin.id,
        admin_email: made.admin.email,
        admin_key: made.key.secret,
    }
}

/// Serves `services` on a free loopback port, as the local server does; its address.
pub async fn serve(services: Services) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        keygate_cli::serve(listener, services, std::future::pending())
            .await
            .expect("server runs");
    });
    address
}

/// A second tenant bootstrapped in the same table as a [`TestApp`]'s own, with its own
/// admin and all-scope key. Tenant isolation is only tested across two tenants of one table:
/// a second `spawn_app()` is a second table, where nothing of the first exists to be
/// reached, so its 404s prove nothing about isolation.
pub struct OtherTenant {
    pub tenant_id: String,
    pub admin_id: String,
    pub admin_email: String,
    /// The other tenant admin's bootstrap key (all scopes).
    pub admin_key: String,
}

/// A response's status and JSON body (Null when the body is empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends `method path` with `X-API-Key: credential` and an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        credential: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path));
        if let Some(credential) = credential {
            request = request.header("X-API-Key", credential);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("request is sent")).await
    }

    /// Sends `method path` with the given headers and an optional JSON body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("request is sent")).await
    }

    /// Creates a user with a password in the test tenant; returns the user id.
    pub async fn new_user_with_password(&self, email: &str, password: &str) -> String {
        let user = self
            .call(
                "POST",
                "/v1/users",
                Some(&self.admin_key),
                Some(serde_json::json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
        user.body["id"].as_str().unwrap().to_owned()
    }

    /// Signs in with `POST /v1/sessions`; returns the session secret.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let reply = self
            .call(
                "POST",
                "/v1/sessions",
                None,
                Some(serde_json::json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["session"].as_str().unwrap().to_owned()
    }

    /// Creates a user in the test tenant and a key for them; returns (user id, key).
    pub async fn new_user_with_key(&self, email: &str, key_body: Value) -> (String, String) {
        let user = self
            .call(
                "POST",
                "/v1/users",
                Some(&self.admin_key),
                Some(serde_json::json!({ "email": email })),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
        let user_id = user.body["id"].as_str().unwrap().to_owned();
        let key = self
            .call(
                "POST",
                &format!("/v1/users/{user_id}/api-keys"),
                Some(&self.admin_key),
                Some(key_body),
            )
            .await;
        assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
        (user_id, key.body["key"].as_str().unwrap().to_owned())
    }

    /// Creates a key with `credential` (`POST /v1/api-keys`); returns (key id, secret).
    pub async fn new_key(&self, credential: &str, body: Value) -> (String, String) {
        let created = self
            .call("POST", "/v1/api-keys", Some(credential), Some(body))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        (id, created.body["key"].as_str().unwrap().to_owned())
    }

    /// `POST /v1/auth/token` for the bootstrap admin with `key`: the access token.
    pub async fn exchange(&self, key: &str) -> String {
        let reply = self
            .call(
                "POST",
                "/v1/auth/token",
                None,
                Some(serde_json::json!({"email": self.admin_email, "api_key": key})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A key of the bootstrap admin holding only the scopes a platform's own service needs
    /// (`verify` for the verify API, `usage` to report usage); its secret.
    pub async fn service_key(&self, scopes: &[&str]) -> String {
        let body = serde_json::json!({"name": "service", "scopes": scopes});
        self.new_key(&self.admin_key, body).await.1
    }

    /// The id of the credential `secret` is (`credential_id` of `GET /v1/auth/me`).
    pub async fn credential_id(&self, secret: &str) -> String {
        let me = self.call("GET", "/v1/auth/me", Some(secret), None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        me.body["credential_id"].as_str().unwrap().to_owned()
    }

    /// Reads a key as `credential` sees it (`GET /v1/api-keys/{id}`).
    pub async fn read_key(&self, credential: &str, key_id: &str) -> Reply {
        self.call(
            "GET",
            &format!("/v1/api-keys/{key_id}"),
            Some(credential),
            None,
        )
        .await
    }

    /// Creates a chat with `credential` (`POST /v1/chats`); returns its id.
    pub async fn new_chat(&self, credential: &str, body: Value) -> String {
        let created = self
            .call("POST", "/v1/chats", Some(credential), Some(body))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        created.body["id"].as_str().unwrap().to_owned()
    }

    /// Appends a message with `role` and `text` to a chat; returns the reply as it is.
    pub async fn say(&self, credential: &str, chat_id: &str, role: &str, text: &str) -> Reply {
        self.call(
            "POST",
            &format!("/v1/chats/{chat_id}/messages"),
            Some(credential),
            Some(serde_json::json!({"role": role, "content": {"text": text}})),
        )
        .await
    }

    /// Bootstraps another tenant (admin `admin_email`) in this app's table, served by the
    /// same server: the second tenant every tenant-isolation test needs.
    pub async fn other_tenant(&self, admin_email: &str) -> OtherTenant {
        let made = self
            .services
            .bootstrap("other tenant", admin_email)
            .await
            .expect("the second tenant is bootstrapped");
        assert_ne!(made.tenant.id, self.tenant_id);
        OtherTenant {
            tenant_id: made.tenant.id,
            admin_id: made.admin.id,
            admin_email: made.admin.email,
            admin_key: made.key.secret,
        }
    }

    /// Another keygate instance on this app's table, with its own DynamoDB client and its
    /// own memory, as another Lambda instance (the authorizer's, say) would be.
    pub async fn other_instance(&self, extra: &[(&str, &str)]) -> Services {
        load_services(test_config(self.services.store.table(), extra)).await
    }

    /// This app after a redeploy with `extra` configuration: every instance new, served on
    /// a port of its own, the table, tenant and admin unchanged.
    pub async fn redeployed(&self, extra: &[(&str, &str)]) -> TestApp {
        let services = self.other_instance(extra).await;
        TestApp {
            address: serve(services.clone()).await,
            http: reqwest::Client::new(),
            services,
            tenant_id: self.tenant_id.clone(),
            admin_id: self.admin_id.clone(),
            admin_email: self.admin_email.clone(),
            admin_key: self.admin_key.clone(),
        }
    }

    /// Every item of the test table (tests may scan; keygate itself never does).
    pub async fn scan_table(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .services
                .store
                .client()
                .scan()
                .table_name(self.services.store.table())
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan succeeds");
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body is read");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// The `Cookie` header value carrying a session.
pub fn session_cookie(session: &str) -> String {
    format!("keygate_session={session}")
}

/// An `Authorization: Basic` header value.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// The origin the test configuration allows for cookie-authenticated writes.
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// Every string inside an attribute value, nested or not.
pub fn strings_in(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(text) => out.push(text.clone()),
        AttributeValue::L(values) => values.iter().for_each(|v| strings_in(v, out)),
        AttributeValue::M(map) => map.values().for_each(|v| strings_in(v, out)),
        AttributeValue::Ss(texts) => out.extend(texts.iter().cloned()),
        _ => {}
    }
}

/// A secret scanner's signing key, generated for the test (ECDSA P-256, as GitHub signs).
pub struct ReportSigner {
    key: p256::ecdsa::SigningKey,
    pub key_identifier: String,
}

impl ReportSigner {
    pub fn generate(key_identifier: &str) -> Self {
        let key = loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("random bytes");
            if let Ok(key) = p256::ecdsa::SigningKey::from_bytes(&bytes.into()) {
                break key;
            }
        };
        Self {
            key,
            key_identifier: key_identifier.to_owned(),
        }
    }

    /// The `KEYGATE_SECRET_SCANNING_KEYS` value publishing this key, in GitHub's shape.
    pub fn published(&self) -> String {
        use p256::pkcs8::EncodePublicKey;
        let pem = self
            .key
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .expect("PEM encoding");
        serde_json::json!({"public_keys": [
            {"key_identifier": self.key_identifier, "key": pem, "is_current": true}
        ]})
        .to_string()
    }

    /// Base64 of the DER signature of `body`, as `Github-Public-Key-Signature` carries it.
    pub fn sign(&self, body: &[u8]) -> String {
        use base64::Engine;
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.key.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }
}

/// SHA-256 hex, as a secret-scanning report's feedback names a token.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl TestApp {
    /// Posts a raw report body with the given signature headers.
    pub async fn report(
        &self,
        body: &str,
        key_identifier: Option<&str>,
        signature: Option<&str>,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url("/v1/secret-scanning/report"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(id) = key_identifier {
            request = request.header("Github-Public-Key-Identifier", id);
        }
        if let Some(signature) = signature {
            request = request.header("Github-Public-Key-Signature", signature);
        }
        reply(request.send().await.expect("request is sent")).await
    }

    /// The audit trail as `credential` sees it, with a query string.
    pub async fn audit(&self, credential: &str, query: &str) -> Reply {
        self.call("GET", &format!("/v1/audit?{query}"), Some(credential), None)
            .await
    }
}

/// The sample authorizer event (events/authorizer/request.json) presenting `key` as
/// `x-api-key`.
pub fn authorizer_event(
    key: &str,
) -> lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/authorizer/request.json"
    );
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["headers"]["x-api-key"] = serde_json::json!(key);
    serde_json::from_value(event).expect("a valid authorizer event")
}

/// A well-formed API key secret that no table holds (a random owner and id).
pub fn unknown_api_key() -> String {
    use keygate::domain::credential::{CredentialKind, Owner, generate, new_ulid};
    let owner = Owner {
        tenant: new_ulid(),
        user: new_ulid(),
    };
    generate(CredentialKind::ApiKey, owner, &[]).secret
}
