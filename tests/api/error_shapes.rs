//! Errors the framework answers before a handler runs (a wrong method, an oversized body,
//! an unknown path) and bodies with data after the JSON value: every surface answers them
//! in its own JSON error shape, never an empty or `text/plain` body.

use keygate_tests::{ALLOWED_ORIGIN, Reply, StatusCode, TestApp, session_cookie, spawn_app};
use serde_json::Value;

/// One surface: how to authenticate to it and how its errors look.
struct Surface {
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    shape: fn(&Reply, StatusCode),
}

fn problem(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["status"], status.as_u16(), "{}", reply.body);
    assert!(reply.body["detail"].is_string(), "{}", reply.body);
}

fn envelope(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body["status"], status.as_u16(), "{}", reply.body);
    assert!(reply.body["response"].is_string(), "{}", reply.body);
}

fn error_message(reply: &Reply, _: StatusCode) {
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(reply.body["error"].is_string(), "{}", reply.body);
}

fn detail(reply: &Reply, _: StatusCode) {
    assert_eq!(reply.headers["content-type"], "application/json");
    let detail = &reply.body["detail"];
    assert!(
        detail.is_string() || detail[0]["msg"].is_string(),
        "{}",
        reply.body
    );
}

/// The message an error carries, whatever the surface's shape.
fn message(reply: &Reply) -> String {
    let body = &reply.body;
    [
        &body["detail"],
        &body["response"],
        &body["error"],
        &body["detail"][0]["msg"],
    ]
    .iter()
    .find_map(|v| v.as_str())
    .unwrap_or_default()
    .to_owned()
}

/// Where a field error names its field, whatever the surface's shape.
fn field(reply: &Reply) -> String {
    let body = &reply.body;
    if let Some(field) = body["field"].as_str() {
        return field.to_owned();
    }
    if let Some(loc) = body["detail"][0]["loc"].as_array() {
        return loc
            .last()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into();
    }
    message(reply)
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn surfaces(app: &TestApp) -> Vec<Surface> {
    app.new_user_with_password("dash@example.com", "correct horse battery")
        .await;
    let session = app
        .sign_in("dash@example.com", "correct horse battery")
        .await;
    vec![
        Surface {
            name: "keygate",
            headers: vec![("x-api-key", app.admin_key.clone())],
            shape: problem,
        },
        Surface {
            name: "asksage",
            headers: vec![("x-access-tokens", app.admin_key.clone())],
            shape: envelope,
        },
        Surface {
            name: "cogniac",
            headers: vec![("authorization", format!("Bearer {}", app.admin_key))],
            shape: error_message,
        },
        Surface {
            name: "virtuousai",
            headers: vec![("x-api-key", app.admin_key.clone())],
            shape: detail,
        },
        Surface {
            name: "assisters",
            headers: vec![
                ("cookie", session_cookie(&session)),
                ("origin", ALLOWED_ORIGIN.to_owned()),
            ],
            shape: error_message,
        },
    ]
}

/// A path of `surface` that takes a JSON body by `POST`.
fn post_path(surface: &str, app: &TestApp) -> String {
    match surface {
        "keygate" => "/v1/api-keys".into(),
        "asksage" => "/user/user-api-key".into(),
        "cogniac" => format!("/1/users/{}/apiKeys", app.admin_id),
        "virtuousai" => "/api/v1/access-tokens".into(),
        "assisters" => "/api/keys".into(),
        other => unreachable!("{other}"),
    }
}

/// A body `surface` accepts at [`post_path`].
fn valid_body(surface: &str) -> &'static str {
    match surface {
        "cogniac" => r#"{"description":"a"}"#,
        _ => r#"{"name":"a"}"#,
    }
}

/// A path of `surface` with a method it does not answer, and the methods it does.
fn wrong_method(surface: &str) -> (&'static str, &'static str, &'static [&'static str]) {
    match surface {
        "keygate" => ("PUT", "/v1/api-keys", &["GET", "POST", "DELETE"]),
        "asksage" => ("GET", "/user/get-chats", &["POST"]),
        "cogniac" => ("POST", "/1/users/current", &["GET"]),
        "virtuousai" => ("PATCH", "/api/v1/access-tokens", &["GET", "POST", "DELETE"]),
        "assisters" => ("PUT", "/api/keys", &["GET", "POST"]),
        other => unreachable!("{other}"),
    }
}

/// A path under `surface`'s prefix that names nothing.
fn unknown_path(surface: &str) -> &'static str {
    match surface {
        "keygate" => "/v1/api-keys/a/b/c",
        "asksage" => "/user/get-user-secrets",
        "cogniac" => "/1/no/such/thing",
        "virtuousai" => "/api/v1/no-such-thing",
        "assisters" => "/api/keys/a/b",
        other => unreachable!("{other}"),
    }
}

async fn send(
    app: &TestApp,
    surface: &Surface,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.http.request(method, app.url(path));
    for (name, value) in &surface.headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    keygate_tests::reply(request.send().await.unwrap()).await
}

#[tokio::test]
async fn data_after_the_json_value_is_a_400_naming_the_body_on_every_surface() {
    let app = spawn_app().await;
    for surface in surfaces(&app).await {
        let path = post_path(surface.name, &app);
        let valid = valid_body(surface.name);
        for body in [
            format!("{valid}{valid}"),
            format!("{valid} x"),
            "{} x".into(),
            "{}{}".into(),
            "{} []".into(),
        ] {
            let reply = send(&app, &surface, "POST", &path, Some(body.clone().into())).await;
            let status = match surface.name {
                // VirtuousAI answers every body problem in FastAPI's 422 shape.
                "virtuousai" => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_REQUEST,
            };
            assert_eq!(
                reply.status, status,
                "{} {body}: {}",
                surface.name, reply.body
            );
            (surface.shape)(&reply, status);
            assert_eq!(
                field(&reply),
                "body",
                "{} {body}: {}",
                surface.name,
                reply.body
            );
        }
        // Whitespace after the value is not data.
        let padded = send(
            &app,
            &surface,
            "POST",
            &path,
            Some(format!("{valid} \r\n\t ").into()),
        )
        .await;
        assert!(
            padded.status.is_success(),
            "{}: {} {}",
            surface.name,
            padded.status,
            padded.body
        );
    }
}

#[tokio::test]
async fn an_oversized_body_is_a_413_in_each_surfaces_shape() {
    let app = spawn_app().await;
    for surface in surfaces(&app).await {
        let path = post_path(surface.name, &app);
        let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(300 * 1024));
        let reply = send(&app, &surface, "POST", &path, Some(huge.into())).await;
        assert_eq!(
            reply.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}: {}",
            surface.name,
            reply.body
        );
        (surface.shape)(&reply, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            message(&reply).contains("body"),
            "{}: {}",
            surface.name,
            reply.body
        );
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_with_allow_in_each_surfaces_shape() {
    let app = spawn_app().await;
    for surface in surfaces(&app).await {
        let (method, path, allowed) = wrong_method(surface.name);
        let reply = send(&app, &surface, method, path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{}: {}",
            surface.name,
            reply.body
        );
        (surface.shape)(&reply, StatusCode::METHOD_NOT_ALLOWED);
        assert!(message(&reply).contains(method), "{}", reply.body);
        let allow = reply
            .headers
            .get("allow")
            .unwrap_or_else(|| panic!("{}: no Allow header", surface.name))
            .to_str()
            .unwrap()
            .to_owned();
        for expected in allowed {
            assert!(
                allow.split(',').any(|m| m.trim() == *expected),
                "{}: Allow {allow} lacks {expected}",
                surface.name
            );
        }
    }
}

#[tokio::test]
async fn an_unknown_path_is_a_404_in_each_surfaces_shape() {
    let app = spawn_app().await;
    for surface in surfaces(&app).await {
        let reply = send(&app, &surface, "GET", unknown_path(surface.name), None).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{}: {}",
            surface.name,
            reply.body
        );
        (surface.shape)(&reply, StatusCode::NOT_FOUND);
    }
}
