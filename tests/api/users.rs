use keygate_tests::{StatusCode, spawn_app};
use serde_json::json;

#[tokio::test]
async fn tenant_admin_creates_and_lists_users_with_unique_emails() {
    let app = spawn_app().await;
    let created = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "Bob@Example.com", "name": "Bob"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["email"], "bob@example.com");
    assert_eq!(created.body["role"], "member");
    let twice = futures::future::join_all((0..4).map(|_| {
        app.call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "carol@example.com"})),
        )
    }))
    .await;
    assert_eq!(
        twice
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count(),
        1
    );
    assert_eq!(
        twice
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT)
            .count(),
        3
    );
    let listed = app
        .call("GET", "/v1/users", Some(&app.admin_key), None)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 3);

    let bad = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "nope"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "email");
}

#[tokio::test]
async fn members_cannot_manage_users_and_keys_go_to_own_users_only() {
    let app = spawn_app().await;
    let (member_id, member_key) = app
        .new_user_with_key("m@example.com", json!({"name": "m"}))
        .await;
    let refused = app
        .call(
            "POST",
            "/v1/users",
            Some(&member_key),
            Some(json!({"email": "z@example.com"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app
        .call(
            "POST",
            &format!("/v1/users/{}/api-keys", app.admin_id),
            Some(&member_key),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let other = keygate_tests::spawn_app().await;
    let foreign = other
        .call(
            "POST",
            &format!("/v1/users/{member_id}/api-keys"),
            Some(&other.admin_key),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    let cac = app
        .call(
            "PATCH",
            &format!("/v1/users/{member_id}"),
            Some(&app.admin_key),
            Some(json!({"cac_verified": true})),
        )
        .await;
    assert_eq!(cac.status, StatusCode::OK);
    assert_eq!(cac.body["cac_verified"], true);
}
