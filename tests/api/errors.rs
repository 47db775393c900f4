use keygate_tests::{StatusCode, spawn_app};

#[tokio::test]
async fn bad_bodies_get_problem_details_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        ("{not json", StatusCode::BAD_REQUEST, "body"),
        (r#"{"name": 5}"#, StatusCode::UNPROCESSABLE_ENTITY, "name"),
        (
            r#"{"name": "x", "scopes": "read"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "scopes",
        ),
        (
            r#"{"name": "x", "color": "red"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "color",
        ),
        (r#"{"name": ""}"#, StatusCode::BAD_REQUEST, "name"),
        (
            r#"{"name": "x", "scopes": []}"#,
            StatusCode::BAD_REQUEST,
            "scopes",
        ),
        (
            r#"{"name": "x", "type": "root"}"#,
            StatusCode::BAD_REQUEST,
            "type",
        ),
    ];
    for (body, status, field) in cases {
        let response = app
            .http
            .post(app.url("/v1/api-keys"))
            .header("X-API-Key", &app.admin_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let reply = keygate_tests::reply(response).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
        assert_eq!(reply.body["status"], status.as_u16());
    }
    let long_name = format!(r#"{{"name": "{}"}}"#, "x".repeat(256));
    let reply = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(serde_json::from_str(&long_name).unwrap()),
        )
        .await;
    assert_eq!(reply.body["field"], "name");
    let huge = "x".repeat(300 * 1024);
    let response = app
        .http
        .post(app.url("/v1/api-keys"))
        .header("X-API-Key", &app.admin_key)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_routes_are_problem_404s() {
    let app = spawn_app().await;
    let reply = app
        .call("GET", "/v1/nothing-here", Some(&app.admin_key), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["status"], 404);
}

#[tokio::test]
async fn a_dead_store_answers_503_not_500() {
    let app = keygate_tests::spawn_app().await;
    // Same credentials, but a table that does not exist: every store call fails.
    let broken =
        keygate_tests::load_services(keygate_tests::test_config("keygate-missing-table", &[]))
            .await;
    let address = keygate_tests::serve(broken).await;
    let response = app
        .http
        .get(format!("{address}/v1/auth/me"))
        .header("X-API-Key", &app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
}
