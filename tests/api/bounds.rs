//! Ids and strings are bounded before any store call: an oversized id answers 404 or a
//! client error naming the field, and never reaches DynamoDB (which would refuse it with a
//! ValidationException). The fault proxy records every request the store receives.

use keygate_tests::{StatusCode, spawn_app_with_faults};
use serde_json::{Value, json};

/// Part of every oversized value below; the store must never see it.
fn marker() -> String {
    "q".repeat(1000)
}

/// Method, path, credential header, body, and the field a 400 names when it is one.
type Probe<'a> = (
    &'a str,
    String,
    (&'a str, String),
    Option<Value>,
    Option<&'a str>,
);

#[tokio::test]
async fn oversized_ids_and_strings_never_reach_the_store() {
    let (app, faults) = spawn_app_with_faults().await;
    let id = "q".repeat(3000);
    let huge = "q".repeat(200 * 1024);
    let email = format!("{id}@example.com");
    let own = app.admin_id.clone();
    let key = app.admin_key.clone();
    // Warm up: the caller's own credential is read once, before the probes.
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&key), None)
            .await
            .status,
        StatusCode::OK
    );
    let dataset = format!("user_custom_{own}_data_content");
    let probes: Vec<Probe> = vec![
        (
            "GET",
            format!("/v1/api-keys/{id}"),
            ("x-api-key", key.clone()),
            None,
            None,
        ),
        (
            "PATCH",
            format!("/v1/api-keys/{id}"),
            ("x-api-key", key.clone()),
            Some(json!({"name": "x"})),
            None,
        ),
        (
            "DELETE",
            format!("/v1/api-keys/{id}"),
            ("x-api-key", key.clone()),
            None,
            None,
        ),
        (
            "GET",
            format!("/v1/api-keys?cursor={id}"),
            ("x-api-key", key.clone()),
            None,
            Some("cursor"),
        ),
        (
            "GET",
            format!("/v1/users?cursor={id}"),
            ("x-api-key", key.clone()),
            None,
            Some("cursor"),
        ),
        (
            "PATCH",
            format!("/v1/users/{id}"),
            ("x-api-key", key.clone()),
            Some(json!({"cac_verified": true})),
            None,
        ),
        (
            "POST",
            format!("/v1/users/{id}/api-keys"),
            ("x-api-key", key.clone()),
            Some(json!({"name": "x"})),
            None,
        ),
        (
            "POST",
            "/v1/users".into(),
            ("x-api-key", key.clone()),
            Some(json!({"email": email})),
            Some("email"),
        ),
        (
            "GET",
            format!("/v1/chats/{id}"),
            ("x-api-key", key.clone()),
            None,
            None,
        ),
        (
            "DELETE",
            format!("/v1/chats/{id}"),
            ("x-api-key", key.clone()),
            None,
            None,
        ),
        (
            "GET",
            format!("/v1/chats/{id}/messages"),
            ("x-api-key", key.clone()),
            None,
            None,
        ),
        (
            "POST",
            format!("/v1/chats/{id}/messages"),
            ("x-api-key", key.clone()),
            Some(json!({"content": {"text": "hi"}})),
            None,
        ),
        (
            "GET",
            format!("/v1/datasets?cursor={id}"),
            ("x-api-key", key.clone()),
            None,
            Some("cursor"),
        ),
        (
            "DELETE",
            format!("/v1/datasets/{id}"),
            ("x-api-key", key.clone()),
            None,
            None,
        ),
        (
            "PUT",
            format!("/v1/datasets/{dataset}/grants/{email}"),
            ("x-api-key", key.clone()),
            Some(json!({"permission": "read"})),
            Some("email"),
        ),
        (
            "POST",
            "/v1/auth/token".into(),
            ("x-none", String::new()),
            Some(json!({"email": email, "api_key": key})),
            Some("email"),
        ),
        (
            "POST",
            "/v1/auth/token".into(),
            ("x-none", String::new()),
            Some(json!({"email": app.admin_email, "api_key": huge})),
            None,
        ),
        (
            "POST",
            "/v1/sessions".into(),
            ("x-none", String::new()),
            Some(json!({"email": email, "password": "p"})),
            Some("email"),
        ),
        (
            "GET",
            "/v1/auth/me".into(),
            ("x-api-key", format!("kg_{id}")),
            None,
            None,
        ),
        (
            "POST",
            "/user/user-api-key".into(),
            ("x-access-tokens", key.clone()),
            Some(json!({"name": id})),
            Some("name"),
        ),
        (
            "DELETE",
            "/user/user-api-key".into(),
            ("x-access-tokens", key.clone()),
            Some(json!({"id": huge})),
            None,
        ),
        (
            "POST",
            "/user/get-chat-session".into(),
            ("x-access-tokens", key.clone()),
            Some(json!({"session_id": huge})),
            None,
        ),
        (
            "POST",
            "/user/delete-chat-session".into(),
            ("x-access-tokens", key.clone()),
            Some(json!({"session_id": id})),
            None,
        ),
        (
            "POST",
            "/user/append-chat".into(),
            ("x-access-tokens", key.clone()),
            Some(json!({"session_id": id, "chats": [{"user": "me", "message": "hi"}]})),
            None,
        ),
        (
            "POST",
            "/user/delete-dataset".into(),
            ("x-access-tokens", key.clone()),
            Some(json!({"dataset": huge})),
            None,
        ),
        (
            "POST",
            "/user/assign-dataset".into(),
            ("x-access-tokens", key.clone()),
            Some(json!({"dataset": dataset, "email": email})),
            Some("email"),
        ),
        (
            "POST",
            "/user/get-token-with-api-key".into(),
            ("x-none", String::new()),
            Some(json!({"email": email, "api_key": key})),
            Some("email"),
        ),
        (
            "GET",
            format!("/1/users/{own}/apiKeys/{id}"),
            ("authorization", format!("Bearer {key}")),
            None,
            None,
        ),
        (
            "DELETE",
            format!("/1/users/{own}/apiKeys/{id}"),
            ("authorization", format!("Bearer {key}")),
            None,
            None,
        ),
        (
            "GET",
            format!("/1/users/{id}/apiKeys"),
            ("authorization", format!("Bearer {key}")),
            None,
            None,
        ),
        (
            "GET",
            format!("/1/token?tenant_id={id}"),
            ("authorization", format!("Key {key}")),
            None,
            None,
        ),
        (
            "GET",
            format!("/api/v1/access-tokens/{id}"),
            ("x-api-key", key.clone()),
            None,
            Some("token_id"),
        ),
        (
            "GET",
            format!("/api/v1/access-tokens?cursor={id}"),
            ("x-api-key", key.clone()),
            None,
            Some("cursor"),
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, (header, credential), body, named) in probes {
        faults.forget();
        let reply = app
            .send(method, &path, &[(header, &credential)], body)
            .await;
        let shown = format!("{method} {}", &path[..path.len().min(60)]);
        if !reply.status.is_client_error() {
            wrong.push(format!("{shown}: {} {}", reply.status, reply.body));
        }
        if faults.sent(&marker()) {
            wrong.push(format!(
                "{shown} reached the store ({:?})",
                faults.operations()
            ));
        }
        if let Some(field) = named
            && !reply.body.to_string().contains(field)
        {
            wrong.push(format!("{shown}: {} names no {field}", reply.body));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_malformed_key_id_is_not_found_on_every_surface() {
    let (app, faults) = spawn_app_with_faults().await;
    faults.forget();
    let reply = app
        .call("GET", "/v1/api-keys/not-an-id", Some(&app.admin_key), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let reply = app
        .send(
            "DELETE",
            "/user/user-api-key",
            &[("x-access-tokens", &app.admin_key)],
            Some(json!({"id": "123"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    assert!(
        !faults.sent("not-an-id") && !faults.sent("KEY#123"),
        "no key is read for an id keygate never issues"
    );
}
