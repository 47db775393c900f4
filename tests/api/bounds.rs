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
        if let Some(field) = named {
            // A refusal of the request itself (400, or 422 where the surface answers so),
            // naming the field where the surface names one; not any client error whose text
            // happens to mention it.
            if !matches!(reply.status.as_u16(), 400 | 422) {
                wrong.push(format!(
                    "{shown}: {} is not a refusal naming {field}",
                    reply.status
                ));
            }
            if named_field(&reply.body).as_deref() != Some(field) {
                wrong.push(format!("{shown}: {} does not name {field}", reply.body));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The field a refusal names, where each surface names it: `field` (keygate's problem+json),
/// the last `loc` of the first `detail` (VirtuousAI's 422), or the field a message begins
/// with (Ask Sage's envelope and Cogniac's `{"error"}` carry only a message).
fn named_field(body: &Value) -> Option<String> {
    if let Some(field) = body["field"].as_str() {
        return Some(field.to_owned());
    }
    if let Some(loc) = body["detail"][0]["loc"].as_array() {
        return loc.last()?.as_str().map(str::to_owned);
    }
    let message = ["response", "message", "error", "detail"]
        .iter()
        .find_map(|name| body[*name].as_str())?;
    message.split([' ', ':']).next().map(str::to_owned)
}

/// Method, path, headers, body, and the status the surface answers.
type SurfaceProbe<'a> = (
    &'a str,
    String,
    &'a [(&'a str, &'a str)],
    Option<Value>,
    u16,
);

#[tokio::test]
async fn a_malformed_key_id_is_not_found_on_every_surface() {
    let (app, faults) = spawn_app_with_faults().await;
    // The admin signs in for the dashboard surface (Assisters takes its session only).
    let password = "a dashboard pass phrase";
    let set = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&app.admin_key),
            Some(json!({"new_password": password})),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    let session = app.sign_in(&app.admin_email, password).await;
    let cookie = keygate_tests::session_cookie(&session);
    let key = app.admin_key.as_str();
    let bearer = format!("Bearer {key}");
    let own = app.admin_id.as_str();
    let dashboard = [
        ("cookie", cookie.as_str()),
        ("origin", keygate_tests::ALLOWED_ORIGIN),
    ];
    let v1 = [("x-api-key", key)];
    let sage = [("x-access-tokens", key)];
    let cogniac = [("authorization", bearer.as_str())];
    let vai = [("vai_token", key)];
    // Method, path, headers, body, the status the surface answers. VirtuousAI refuses an id
    // that is no UUID as its reference does (422 naming `token_id`); every other surface
    // answers "not found". None reads a key.
    let probes: Vec<SurfaceProbe> = vec![
        ("GET", "/v1/api-keys/not-an-id".into(), &v1, None, 404),
        (
            "PATCH",
            "/v1/api-keys/not-an-id".into(),
            &v1,
            Some(json!({"name": "x"})),
            404,
        ),
        ("DELETE", "/v1/api-keys/not-an-id".into(), &v1, None, 404),
        (
            "POST",
            "/v1/api-keys/not-an-id/roll".into(),
            &v1,
            Some(json!({})),
            404,
        ),
        (
            "DELETE",
            "/user/user-api-key".into(),
            &sage,
            Some(json!({"id": "not-an-id"})),
            404,
        ),
        (
            "DELETE",
            "/user/user-api-key".into(),
            &sage,
            Some(json!({"id": "123"})),
            404,
        ),
        (
            "GET",
            format!("/1/users/{own}/apiKeys/not-an-id"),
            &cogniac,
            None,
            404,
        ),
        (
            "DELETE",
            format!("/1/users/{own}/apiKeys/not-an-id"),
            &cogniac,
            None,
            404,
        ),
        (
            "GET",
            "/api/v1/access-tokens/not-an-id".into(),
            &vai,
            None,
            422,
        ),
        (
            "DELETE",
            "/api/v1/access-tokens/not-an-id".into(),
            &vai,
            None,
            422,
        ),
        (
            "PATCH",
            "/api/keys/not-an-id".into(),
            &dashboard,
            Some(json!({"name": "x"})),
            404,
        ),
        (
            "DELETE",
            "/api/keys/not-an-id".into(),
            &dashboard,
            None,
            404,
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, headers, body, status) in probes {
        faults.forget();
        let reply = app.send(method, &path, headers, body.clone()).await;
        let shown = format!("{method} {path} {}", body.unwrap_or_default());
        if reply.status.as_u16() != status {
            wrong.push(format!(
                "{shown}: {} {}, not {status}",
                reply.status, reply.body
            ));
        }
        if faults.sent("not-an-id") || faults.sent("KEY#123") {
            wrong.push(format!(
                "{shown}: a key was read ({:?})",
                faults.operations()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
