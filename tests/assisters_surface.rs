//! Assisters' "API Keys Management" document (seeds/assisters-api-keys.txt), replayed
//! against keygate with only the host and the placeholders changed. The dashboard session
//! cookie comes from `POST /v1/sessions`; writes carry the dashboard's Origin, as a
//! browser sends it.

use keygate_tests::{ALLOWED_ORIGIN, Reply, StatusCode, TestApp, session_cookie, spawn_app};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const RECORD_FIELDS: [&str; 8] = [
    "created_at",
    "expires_at",
    "id",
    "is_active",
    "key_prefix",
    "last_used_at",
    "name",
    "scopes",
];

/// A dashboard user: signed in, holding the session cookie.
struct Dashboard<'a> {
    app: &'a TestApp,
    cookie: String,
}

impl Dashboard<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let mut headers = vec![("cookie", self.cookie.as_str())];
        if method != "GET" {
            headers.push(("origin", ALLOWED_ORIGIN));
        }
        self.app.send(method, path, &headers, body).await
    }
}

async fn dashboard(app: &TestApp) -> Dashboard<'_> {
    app.new_user_with_password("dev@example.com", PASSWORD)
        .await;
    let session = app.sign_in("dev@example.com", PASSWORD).await;
    Dashboard {
        app,
        cookie: session_cookie(&session),
    }
}

fn assert_record(record: &Value) {
    let mut keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "key")
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, RECORD_FIELDS, "{record}");
}

#[tokio::test]
async fn every_example_request_answers_its_documented_shape() {
    let app = spawn_app().await;
    let dash = dashboard(&app).await;

    // GET https://api.assisters.dev/api/keys: nothing yet.
    let empty = dash.call("GET", "/api/keys", None).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.body, json!([]));

    // POST https://api.assisters.dev/api/keys {"name": "Production"}: defaults to chat, read.
    let created = dash
        .call("POST", "/api/keys", Some(json!({"name": "Production"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_record(&created.body);
    assert_eq!(created.body["name"], "Production");
    assert_eq!(created.body["scopes"], json!(["chat", "read"]));
    assert_eq!(created.body["expires_at"], Value::Null);
    assert_eq!(created.body["is_active"], true);
    let secret = created.body["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(created.body["key_prefix"].as_str().unwrap()));
    let id = created.body["id"].as_str().unwrap().to_owned();

    // With every documented field.
    let full = dash
        .call(
            "POST",
            "/api/keys",
            Some(json!({
                "name": "Staging",
                "scopes": ["chat", "read", "write"],
                "expires_at": "2036-06-11T12:00:00.000Z",
            })),
        )
        .await;
    assert_eq!(full.status, StatusCode::CREATED, "{}", full.body);
    assert_eq!(full.body["scopes"], json!(["chat", "read", "write"]));
    assert_eq!(full.body["expires_at"], "2036-06-11T12:00:00Z");

    // GET again: newest first, no secret.
    let listed = dash.call("GET", "/api/keys", None).await;
    let keys = listed.body.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    keys.iter().for_each(assert_record);
    assert_eq!(keys[0]["name"], "Staging");
    assert!(!listed.body.to_string().contains(&secret));

    // PATCH https://api.assisters.dev/api/keys/{id}
    let patched = dash
        .call(
            "PATCH",
            &format!("/api/keys/{id}"),
            Some(json!({"name": "Prod", "scopes": ["chat", "admin"], "is_active": false})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body, json!({"success": true}));
    let listed = dash.call("GET", "/api/keys", None).await;
    let prod = &listed.body.as_array().unwrap()[1];
    assert_eq!(prod["name"], "Prod");
    assert_eq!(prod["scopes"], json!(["chat", "admin"]));
    assert_eq!(prod["is_active"], false);
    let paused = app.call("GET", "/v1/auth/me", Some(&secret), None).await;
    assert_eq!(paused.status, StatusCode::UNAUTHORIZED);

    // DELETE https://api.assisters.dev/api/keys/{id}
    let deleted = dash.call("DELETE", &format!("/api/keys/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body, json!({"success": true}));
    let listed = dash.call("GET", "/api/keys", None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn only_the_dashboard_cookie_authenticates() {
    let app = spawn_app().await;
    let session = {
        app.new_user_with_password("dev@example.com", PASSWORD)
            .await;
        app.sign_in("dev@example.com", PASSWORD).await
    };
    let api_key = app
        .call("GET", "/api/keys", Some(&app.admin_key), None)
        .await;
    assert_eq!(api_key.status, StatusCode::UNAUTHORIZED);
    assert!(api_key.body["error"].is_string(), "{}", api_key.body);
    let bearer_session = app
        .send(
            "GET",
            "/api/keys",
            &[("authorization", &format!("Bearer {session}"))],
            None,
        )
        .await;
    assert_eq!(bearer_session.status, StatusCode::UNAUTHORIZED);
    let key_as_cookie = app
        .send(
            "GET",
            "/api/keys",
            &[("cookie", &session_cookie(&app.admin_key))],
            None,
        )
        .await;
    assert_eq!(
        key_as_cookie.status,
        StatusCode::UNAUTHORIZED,
        "a key is no session"
    );
    let none = app.send("GET", "/api/keys", &[], None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);

    // A cross-site write with the cookie: refused before anything happens.
    let cookie = session_cookie(&session);
    for origin in [None, Some("https://evil.example")] {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(origin.map(|o| ("origin", o)));
        let forged = app
            .send("POST", "/api/keys", &headers, Some(json!({"name": "x"})))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{origin:?}");
        assert!(forged.body["error"].is_string());
    }
    let listed = app
        .send("GET", "/api/keys", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(listed.body, json!([]));
}

#[tokio::test]
async fn the_eleventh_active_key_is_refused_clearly() {
    let app = spawn_app().await;
    let dash = dashboard(&app).await;
    let mut first_id = String::new();
    for i in 0..10 {
        let created = dash
            .call("POST", "/api/keys", Some(json!({"name": format!("k{i}")})))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        if i == 0 {
            first_id = created.body["id"].as_str().unwrap().to_owned();
        }
    }
    let eleventh = dash
        .call("POST", "/api/keys", Some(json!({"name": "k10"})))
        .await;
    assert_eq!(eleventh.status, StatusCode::BAD_REQUEST);
    assert!(
        eleventh.body["error"]
            .as_str()
            .unwrap()
            .contains("at most 10 active"),
        "{}",
        eleventh.body
    );
    // Deactivating frees a slot; reactivating over the limit is refused the same way.
    let paused = dash
        .call(
            "PATCH",
            &format!("/api/keys/{first_id}"),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    let now_fits = dash
        .call("POST", "/api/keys", Some(json!({"name": "k10"})))
        .await;
    assert_eq!(now_fits.status, StatusCode::CREATED);
    let resumed = dash
        .call(
            "PATCH",
            &format!("/api/keys/{first_id}"),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(resumed.status, StatusCode::BAD_REQUEST);
    assert!(resumed.body["error"].is_string());
}

#[tokio::test]
async fn bad_input_answers_an_error_naming_the_field() {
    let app = spawn_app().await;
    let dash = dashboard(&app).await;
    for (body, field) in [
        (json!({"name": "x".repeat(256)}), "name"),
        (json!({}), "name"),
        (json!({"name": "x", "scopes": ["admin"]}), "scopes[0]"),
        (json!({"name": "x", "expires_at": "tomorrow"}), "expires_at"),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let reply = dash.call("POST", "/api/keys", Some(body.clone())).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        let error = reply.body["error"].as_str().unwrap();
        assert!(error.contains(field), "{body}: {error}");
    }
    let unknown = dash
        .call("DELETE", "/api/keys/01ARZ3NDEKTSV4RRFFQ69G5FAV", None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body["error"].is_string());
    let bad_patch = dash
        .call(
            "PATCH",
            "/api/keys/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            Some(json!({"scopes": ["root"]})),
        )
        .await;
    assert_eq!(bad_patch.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_list_shows_paused_and_expired_keys_as_inactive() {
    let app = spawn_app().await;
    let dashboard = dashboard(&app).await;
    let soon = keygate::domain::clock::to_rfc3339(keygate::domain::clock::now_epoch() + 5);
    let expiring = dashboard
        .call(
            "POST",
            "/api/keys",
            Some(json!({"name": "brief", "expires_at": soon})),
        )
        .await;
    assert_eq!(expiring.status, StatusCode::CREATED, "{}", expiring.body);
    let paused = dashboard
        .call("POST", "/api/keys", Some(json!({"name": "paused"})))
        .await;
    let paused_id = paused.body["id"].as_str().unwrap();
    dashboard
        .call(
            "PATCH",
            &format!("/api/keys/{paused_id}"),
            Some(json!({"is_active": false})),
        )
        .await;
    dashboard
        .call("POST", "/api/keys", Some(json!({"name": "live"})))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(6100)).await;
    let listed = dashboard.call("GET", "/api/keys", None).await;
    let active: Vec<(String, bool)> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_owned(),
                k["is_active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        active,
        [
            ("live".to_owned(), true),
            ("paused".to_owned(), false),
            ("brief".to_owned(), false)
        ],
        "unrevoked keys, newest first; paused and expired ones shown inactive"
    );
}
