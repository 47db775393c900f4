//! DynamoDB failing mid-request: the client gets a 503 it may retry, and the table holds the
//! whole change or none of it.

use keygate_tests::{StatusCode, TestApp, spawn_app_with_faults};
use serde_json::json;

/// How many items of each `type` the table holds.
async fn count_of(app: &TestApp, item_type: &str) -> usize {
    app.scan_table()
        .await
        .iter()
        .filter(|item| {
            item.get("type")
                .and_then(|t| t.as_s().ok())
                .map(String::as_str)
                == Some(item_type)
        })
        .count()
}

async fn active_keys_counter(app: &TestApp) -> String {
    let items = app.scan_table().await;
    let user = items
        .iter()
        .find(|i| {
            i.get("type")
                .and_then(|t| t.as_s().ok())
                .map(String::as_str)
                == Some("User")
        })
        .expect("the admin user item");
    user["active_keys"].as_n().unwrap().clone()
}

#[tokio::test]
async fn a_failed_key_creation_is_a_503_and_writes_nothing() {
    let (app, faults) = spawn_app_with_faults().await;
    app.call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await; // warm the cache
    faults.fail("TransactWriteItems");
    let reply = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "lost"})),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    faults.heal();
    assert_eq!(count_of(&app, "ApiKey").await, 1, "only the bootstrap key");
    assert_eq!(
        count_of(&app, "AuditEvent").await,
        2,
        "only the bootstrap's events (its admin and its key)"
    );
    assert_eq!(
        active_keys_counter(&app).await,
        "1",
        "the counter did not move"
    );
    let retried = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "lost"})),
        )
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "the retry succeeds");
}

#[tokio::test]
async fn an_unreadable_store_is_a_503_not_a_401() {
    let (app, faults) = spawn_app_with_faults().await;
    faults.fail("GetItem");
    faults.fail("BatchGetItem");
    let reply = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    faults.heal();
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&app.admin_key), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_failed_revocation_leaves_the_key_whole() {
    let (app, faults) = spawn_app_with_faults().await;
    let (id, _) = app.new_key(&app.admin_key, json!({"name": "k"})).await;
    faults.fail("TransactWriteItems");
    let reply = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    faults.heal();
    let key = app.read_key(&app.admin_key, &id).await;
    assert_eq!(key.body["revoked_at"], serde_json::Value::Null);
    assert_eq!(active_keys_counter(&app).await, "2");
    let events = app
        .call(
            "GET",
            "/v1/audit?type=key.revoked",
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(
        events.body["items"],
        json!([]),
        "no event without its change"
    );
}

#[tokio::test]
async fn a_failed_roll_leaves_neither_successor_nor_event() {
    let (app, faults) = spawn_app_with_faults().await;
    let (id, secret) = app.new_key(&app.admin_key, json!({"name": "k"})).await;
    let events_before = count_of(&app, "AuditEvent").await;
    faults.fail("TransactWriteItems");
    let reply = app
        .send(
            "POST",
            &format!("/v1/api-keys/{id}/roll"),
            &[("X-API-Key", &app.admin_key), ("Idempotency-Key", "roll-1")],
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    faults.heal();
    assert_eq!(count_of(&app, "ApiKey").await, 2, "no successor");
    assert_eq!(count_of(&app, "IdempotencyKey").await, 0);
    assert_eq!(count_of(&app, "AuditEvent").await, events_before);
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&secret), None)
            .await
            .status,
        StatusCode::OK,
        "the old key is untouched"
    );
    let retried = app
        .send(
            "POST",
            &format!("/v1/api-keys/{id}/roll"),
            &[("X-API-Key", &app.admin_key), ("Idempotency-Key", "roll-1")],
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    assert_eq!(count_of(&app, "AuditEvent").await, events_before + 1);
}

#[tokio::test]
async fn a_failed_chat_append_adds_no_message_and_no_log() {
    let (app, faults) = spawn_app_with_faults().await;
    let id = app.new_chat(&app.admin_key, json!({"name": "c"})).await;
    let path = format!("/v1/chats/{id}/messages");
    let human = app
        .call(
            "POST",
            &path,
            Some(&app.admin_key),
            Some(json!({"role": "human", "content": {"text": "hi"}})),
        )
        .await;
    assert_eq!(human.status, StatusCode::CREATED);
    faults.fail("TransactWriteItems");
    let ai = app
        .call(
            "POST",
            &path,
            Some(&app.admin_key),
            Some(json!({"role": "ai", "content": {"text": "hello"}})),
        )
        .await;
    assert_eq!(ai.status, StatusCode::SERVICE_UNAVAILABLE);
    faults.heal();
    assert_eq!(count_of(&app, "Message").await, 1);
    assert_eq!(count_of(&app, "PromptLog").await, 0);
    let listed = app.call("GET", &path, Some(&app.admin_key), None).await;
    assert_eq!(listed.body["total"], 1);
}

#[tokio::test]
async fn a_failed_exchange_leaves_neither_token_nor_login() {
    let (app, faults) = spawn_app_with_faults().await;
    app.call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await; // warm the cache
    faults.fail("TransactWriteItems");
    let body = json!({"email": app.admin_email, "api_key": app.admin_key});
    let reply = app
        .call("POST", "/v1/auth/token", None, Some(body.clone()))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    faults.heal();
    assert_eq!(count_of(&app, "AccessToken").await, 0);
    assert_eq!(count_of(&app, "Login").await, 0);
    assert_eq!(
        count_of(&app, "AuditEvent").await,
        2,
        "the bootstrap's only (its admin and its key)"
    );
    let retried = app.call("POST", "/v1/auth/token", None, Some(body)).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(count_of(&app, "AccessToken").await, 1);
    assert_eq!(count_of(&app, "Login").await, 1);
}

#[tokio::test]
async fn a_request_dynamodb_refuses_is_a_logged_500_not_a_503_on_every_surface() {
    let (app, faults) = spawn_app_with_faults().await;
    faults.refuse("GetItem");
    faults.refuse("BatchGetItem");
    let key = &app.admin_key;
    let bearer = format!("Bearer {key}");
    let asked = [
        ("GET", "/v1/auth/me", "x-api-key", key.as_str()),
        ("POST", "/user/get-user-logs", "x-access-tokens", key),
        ("GET", "/1/users/current", "authorization", &bearer),
        ("GET", "/api/v1/access-tokens", "x-api-key", key),
    ];
    for (method, path, header, credential) in asked {
        let reply = app.send(method, path, &[(header, credential)], None).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: {}",
            reply.body
        );
        assert!(reply.headers.get("retry-after").is_none(), "{path}");
        let text = reply.body.to_string();
        assert!(
            !text.contains("injected") && !text.contains("Validation"),
            "{path}: the store's words stay in the log: {text}"
        );
    }
    let problem = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert_eq!(problem.headers["content-type"], "application/problem+json");
    assert_eq!(problem.body["status"], 500);
    let envelope = app
        .send(
            "POST",
            "/user/get-user-logs",
            &[("x-access-tokens", &app.admin_key)],
            None,
        )
        .await;
    assert_eq!(envelope.body["status"], 500);
    faults.heal();
    let healed = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert_eq!(healed.status, StatusCode::OK);
}

#[tokio::test]
async fn throttling_stays_a_503_to_retry() {
    let (app, faults) = spawn_app_with_faults().await;
    faults.throttle("GetItem");
    faults.throttle("BatchGetItem");
    let reply = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "1");
}

#[tokio::test]
async fn a_failed_bootstrap_leaves_neither_the_tenant_nor_its_admins_event() {
    let (app, faults) = spawn_app_with_faults().await;
    let (tenants, events) = (
        count_of(&app, "Tenant").await,
        count_of(&app, "AuditEvent").await,
    );
    faults.fail("TransactWriteItems");
    let failed = app
        .services
        .bootstrap("second tenant", "second@example.com")
        .await;
    assert!(failed.is_err(), "the bootstrap fails with its store");
    faults.heal();
    assert_eq!(count_of(&app, "Tenant").await, tenants);
    assert_eq!(count_of(&app, "AuditEvent").await, events);
    app.services
        .bootstrap("second tenant", "second@example.com")
        .await
        .expect("a retry succeeds");
    assert_eq!(count_of(&app, "Tenant").await, tenants + 1);
    assert_eq!(
        count_of(&app, "AuditEvent").await,
        events + 2,
        "user.created and key.created"
    );
}
