use keygate_tests::{StatusCode, spawn_app};
use serde_json::json;

#[tokio::test]
async fn exchange_gives_a_24h_token_and_records_a_login() {
    let app = spawn_app().await;
    let reply = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": "ADMIN@example.com", "api_key": app.admin_key})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["expires_in"], 86_400);
    let token = reply.body["access_token"].as_str().unwrap();
    assert!(token.starts_with("kgt_"));
    let me = app.call("GET", "/v1/auth/me", Some(token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["credential_kind"], "access_token");
    assert_eq!(me.body["email"], "admin@example.com");
    assert!(me.body["exp"].is_i64());

    let logins = app
        .services
        .store
        .list_logins(&app.tenant_id, &app.admin_id, 5)
        .await
        .unwrap();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].ip, "127.0.0.1");
    assert_eq!(logins[0].method, "api_key");
}

#[tokio::test]
async fn exchange_refuses_a_key_of_another_email_or_bad_input() {
    let app = spawn_app().await;
    let wrong = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": "x@example.com", "api_key": app.admin_key})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let missing = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": "x@example.com"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["field"], "api_key");
    let malformed = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": "x@example.com", "api_key": "kg_nope"})),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        malformed.headers["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn temp_tokens_carry_role_and_profile_and_are_bounded() {
    let app = spawn_app().await;
    let body = json!({
        "ak_role": "asker",
        "chat_role": {"role_id": "1", "role_vars": {"id": "42"}},
        "user_profile": {"name": "Zhang San"},
        "token_ttl": 900
    });
    let reply = app
        .call("POST", "/v1/auth/tokens", Some(&app.admin_key), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["expires_in"], 900);
    let token = reply.body["token"].as_str().unwrap();
    let me = app.call("GET", "/v1/auth/me", Some(token), None).await;
    assert_eq!(me.body["ak_role"], "asker");
    assert_eq!(me.body["project_id"], app.tenant_id.as_str());
    assert_eq!(
        me.body["chat_role"],
        json!({"role_id": "1", "role_variables": {"id": "42"}})
    );
    assert_eq!(me.body["user_profile"], json!({"name": "Zhang San"}));
    assert_eq!(me.body["locked"], false);

    for ttl in [0, -1, 86_401] {
        let bad = app
            .call(
                "POST",
                "/v1/auth/tokens",
                Some(&app.admin_key),
                Some(json!({"token_ttl": ttl})),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{ttl}");
        assert_eq!(bad.body["field"], "token_ttl");
    }
    // An asker token cannot mint an admin one.
    let escalate = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(token),
            Some(json!({"ak_role": "admin"})),
        )
        .await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);
    let nested = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&app.admin_key),
            Some(json!({"user_profile": {"a": {"b": 1}}})),
        )
        .await;
    assert_eq!(nested.body["field"], "user_profile.a");
}

#[tokio::test]
async fn expired_token_fails_while_its_item_still_exists() {
    let app = spawn_app().await;
    let reply = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&app.admin_key),
            // Expiry has one-second resolution: a 2 s token lives more than 1 s and at most 2 s.
            Some(json!({"token_ttl": 2})),
        )
        .await;
    let token = reply.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let items = app.scan_table().await;
    let token_items = items
        .iter()
        .filter(|i| i["type"].as_s().unwrap() == "AccessToken")
        .count();
    assert_eq!(
        token_items, 1,
        "the emulator never purges; expiry is checked on read"
    );
}

#[tokio::test]
async fn revoking_a_key_kills_the_tokens_it_minted() {
    let app = spawn_app().await;
    let (id, key) = app.new_key(&app.admin_key, json!({"name": "parent"})).await;
    let exchanged = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": key})),
        )
        .await;
    let token = exchanged.body["access_token"].as_str().unwrap();
    let temp = app
        .call("POST", "/v1/auth/tokens", Some(&key), Some(json!({})))
        .await;
    let temp = temp.body["token"].as_str().unwrap();
    for credential in [key.as_str(), token, temp] {
        assert_eq!(
            app.call("GET", "/v1/auth/me", Some(credential), None)
                .await
                .status,
            StatusCode::OK
        );
    }
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    for credential in [key.as_str(), token, temp] {
        assert_eq!(
            app.call("GET", "/v1/auth/me", Some(credential), None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let again = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": key})),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_header_form_is_accepted() {
    let app = spawn_app().await;
    for (name, value) in [
        ("x-access-tokens", app.admin_key.clone()),
        ("Authorization", format!("Bearer {}", app.admin_key)),
        ("X-API-Key", app.admin_key.clone()),
    ] {
        let response = app
            .http
            .get(app.url("/v1/auth/me"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
    }
    let none = app.http.get(app.url("/v1/auth/me")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn asker_keys_are_refused_outside_their_list() {
    let app = spawn_app().await;
    let created = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "asker", "type": "asker"})),
        )
        .await;
    assert_eq!(created.body["type"], "asker");
    let asker = created.body["key"].as_str().unwrap();
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(asker), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call("POST", "/v1/auth/tokens", Some(asker), Some(json!({})))
            .await
            .status,
        StatusCode::OK
    );
    for (method, path) in [
        ("GET", "/v1/api-keys"),
        ("POST", "/v1/api-keys"),
        ("DELETE", "/v1/api-keys"),
        ("GET", "/v1/users"),
        ("POST", "/v1/users"),
    ] {
        let reply = app
            .call(
                method,
                path,
                Some(asker),
                Some(json!({"name": "x", "email": "y@example.com"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
}
