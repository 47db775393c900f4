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

    // Another tenant of the same table: the member exists, but not in its tenant.
    let other = app.other_tenant("admin@other.example").await;
    let foreign = app
        .call(
            "POST",
            &format!("/v1/users/{member_id}/api-keys"),
            Some(&other.admin_key),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);

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

/// `POST /v1/users/{id}/api-keys` and `PATCH /v1/users/{id}` across two tenants of one
/// table, both ways: the user exists, the caller is an admin, only the tenant differs.
#[tokio::test]
async fn another_tenants_admin_neither_keys_nor_patches_a_user() {
    let app = spawn_app().await;
    let (member_id, _) = app
        .new_user_with_key("m@example.com", json!({"name": "m"}))
        .await;
    let other = app.other_tenant("admin@other.example").await;
    let keys_of = |user_id: String| {
        let app = &app;
        async move {
            app.scan_table()
                .await
                .iter()
                .filter(|item| {
                    item.get("type")
                        .and_then(|t| t.as_s().ok())
                        .map(String::as_str)
                        == Some("ApiKey")
                        && item.get("user_id").and_then(|u| u.as_s().ok()) == Some(&user_id)
                })
                .count()
        }
    };
    assert_eq!(keys_of(member_id.clone()).await, 1);
    for (caller, target, tenant_of_target) in [
        (&other.admin_key, &member_id, &app.tenant_id),
        (&app.admin_key, &other.admin_id, &other.tenant_id),
    ] {
        let keys_before = keys_of(target.clone()).await;
        let key = app
            .call(
                "POST",
                &format!("/v1/users/{target}/api-keys"),
                Some(caller),
                Some(json!({"name": "x"})),
            )
            .await;
        assert_eq!(key.status, StatusCode::NOT_FOUND, "{}", key.body);
        assert_eq!(
            keys_of(target.clone()).await,
            keys_before,
            "no key was made"
        );
        for body in [
            json!({"cac_verified": true}),
            json!({"ratelimits": [{"name": "r", "limit": 1, "window_secs": 60}]}),
        ] {
            let patched = app
                .call(
                    "PATCH",
                    &format!("/v1/users/{target}"),
                    Some(caller),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(
                patched.status,
                StatusCode::NOT_FOUND,
                "{body}: {}",
                patched.body
            );
        }
        let user = app
            .services
            .store
            .get_user(tenant_of_target, target)
            .await
            .unwrap()
            .expect("the target exists in its own tenant");
        assert!(!user.cac_verified, "the user is unchanged");
        assert!(
            app.services
                .store
                .default_ratelimits(tenant_of_target, target)
                .await
                .unwrap()
                .is_empty(),
            "the user's default limits are unchanged"
        );
    }
    // The same calls within each tenant succeed: the 404s above are the tenant's doing.
    for (caller, target) in [
        (&app.admin_key, &member_id),
        (&other.admin_key, &other.admin_id),
    ] {
        let key = app
            .call(
                "POST",
                &format!("/v1/users/{target}/api-keys"),
                Some(caller),
                Some(json!({"name": "y"})),
            )
            .await;
        assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
        let patched = app
            .call(
                "PATCH",
                &format!("/v1/users/{target}"),
                Some(caller),
                Some(json!({"cac_verified": true})),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    }
}
