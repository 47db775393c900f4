use futures::future::join_all;
use keygate_tests::{StatusCode, spawn_app, strings_in};
use serde_json::json;

#[tokio::test]
async fn create_shows_the_secret_once_and_list_never() {
    let app = spawn_app().await;
    let created = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "ci", "scopes": ["read", "chat"]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kg_"));
    assert_eq!(created.body["scopes"], json!(["chat", "read"]));
    assert_eq!(created.body["type"], "admin");
    assert_eq!(created.body["is_active"], true);
    assert!(secret.starts_with(created.body["key_prefix"].as_str().unwrap()));
    for field in [
        "id",
        "name",
        "key_prefix",
        "scopes",
        "type",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "is_active",
    ] {
        assert!(created.body.get(field).is_some(), "missing {field}");
    }

    let id = created.body["id"].as_str().unwrap();
    let listed = app
        .call("GET", "/v1/api-keys", Some(&app.admin_key), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let text = listed.body.to_string();
    assert!(!text.contains(&secret));
    assert!(!text.contains("hash"));
    assert_eq!(listed.body["items"][0]["id"], id, "newest first");

    let one = app.read_key(&app.admin_key, id).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["name"], "ci");
    assert!(one.body.get("key").is_none());

    // The new key works on its own.
    let me = app.call("GET", "/v1/auth/me", Some(&secret), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["ak_id"], id);
}

#[tokio::test]
async fn ten_active_keys_hold_under_parallel_creates() {
    let app = spawn_app().await;
    let (_, key) = app
        .new_user_with_key("busy@example.com", json!({"name": "first"}))
        .await;
    let attempts = (0..24).map(|i| {
        app.call(
            "POST",
            "/v1/api-keys",
            Some(&key),
            Some(json!({"name": format!("k{i}")})),
        )
    });
    let replies = join_all(attempts).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!(created, 9, "one key existed, so nine more fit");
    assert_eq!(refused, 15);
    for refusal in replies.iter().filter(|r| r.status == StatusCode::CONFLICT) {
        assert_eq!(refusal.body["type"], "urn:keygate:problem:limit-reached");
    }
    let listed = app
        .call("GET", "/v1/api-keys?limit=200", Some(&key), None)
        .await;
    let active = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["is_active"] == true)
        .count();
    assert_eq!(active, 10);

    // Revoking one frees a slot.
    let victim = listed.body["items"][3]["id"].as_str().unwrap().to_owned();
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{victim}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let again = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&key),
            Some(json!({"name": "after"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

#[tokio::test]
async fn list_pages_with_cursor_and_hides_revoked_by_default() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (id, _) = app
            .new_key(&app.admin_key, json!({"name": format!("k{i}")}))
            .await;
        ids.push(id);
    }
    let first = app
        .call("GET", "/v1/api-keys?limit=2", Some(&app.admin_key), None)
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["items"][0]["id"], ids[4].as_str());
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .call(
            "GET",
            &format!("/v1/api-keys?limit=2&cursor={cursor}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(second.body["items"][0]["id"], ids[2].as_str());

    app.call(
        "DELETE",
        &format!("/v1/api-keys/{}", ids[0]),
        Some(&app.admin_key),
        None,
    )
    .await;
    let active = app
        .call("GET", "/v1/api-keys?limit=200", Some(&app.admin_key), None)
        .await;
    assert!(
        active.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != ids[0].as_str())
    );
    let all = app
        .call(
            "GET",
            "/v1/api-keys?limit=200&include_revoked=true",
            Some(&app.admin_key),
            None,
        )
        .await;
    let revoked = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == ids[0].as_str())
        .unwrap()
        .clone();
    assert_eq!(revoked["is_active"], false);
    assert!(revoked["revoked_at"].is_string());

    for bad in ["limit=0", "limit=201", "limit=x", "cursor=%21%21"] {
        let reply = app
            .call(
                "GET",
                &format!("/v1/api-keys?{bad}"),
                Some(&app.admin_key),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            reply.body["field"] == "limit" || reply.body["field"] == "cursor",
            "{bad}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn patch_changes_name_scopes_and_pauses() {
    let app = spawn_app().await;
    let (id, secret) = app.new_key(&app.admin_key, json!({"name": "old"})).await;
    let patched = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            Some(json!({"name": "new", "scopes": ["write"], "is_active": false})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "new");
    assert_eq!(patched.body["scopes"], json!(["write"]));
    assert_eq!(patched.body["is_active"], false);
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&secret), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "a paused key works no more"
    );
    let resumed = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(resumed.body["is_active"], true);
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&secret), None)
            .await
            .status,
        StatusCode::OK
    );

    let bad = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["root"]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "scopes[0]");
}

#[tokio::test]
async fn revoke_all_spares_the_current_key() {
    let app = spawn_app().await;
    let mut secrets = Vec::new();
    for i in 0..3 {
        let (_, secret) = app
            .new_key(&app.admin_key, json!({"name": format!("k{i}")}))
            .await;
        secrets.push(secret);
    }
    let reply = app
        .call(
            "DELETE",
            "/v1/api-keys?exclude_current=true",
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"revoked_count": 3}));
    for secret in &secrets {
        assert_eq!(
            app.call("GET", "/v1/auth/me", Some(secret), None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&app.admin_key), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn another_users_key_is_not_found() {
    let app = spawn_app().await;
    let (_, other) = app
        .new_user_with_key("other@example.com", json!({"name": "theirs"}))
        .await;
    let theirs = app.call("GET", "/v1/api-keys", Some(&other), None).await;
    let their_id = theirs.body["items"][0]["id"].as_str().unwrap().to_owned();
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "mine"}))),
        ("DELETE", None),
    ] {
        let reply = app
            .call(
                method,
                &format!("/v1/api-keys/{their_id}"),
                Some(&app.admin_key),
                body,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
    }
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&other), None)
            .await
            .status,
        StatusCode::OK,
        "untouched"
    );
}

#[tokio::test]
async fn expired_keys_and_bad_dates_are_refused() {
    let app = spawn_app().await;
    let past = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "p", "expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    assert_eq!(past.body["field"], "expires_at");
    let garbage = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "p", "expires_at": "tomorrow"})),
        )
        .await;
    assert_eq!(garbage.body["field"], "expires_at");
    let future = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "p", "expires_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(future.status, StatusCode::CREATED);
    assert_eq!(future.body["expires_at"], "2099-01-01T00:00:00Z");
}

#[tokio::test]
async fn no_secret_is_stored_in_plain_text() {
    let app = spawn_app().await;
    let mut secrets = vec![app.admin_key.clone()];
    let (_, secret) = app.new_key(&app.admin_key, json!({"name": "s"})).await;
    secrets.push(secret);
    let token = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": app.admin_key})),
        )
        .await;
    secrets.push(token.body["access_token"].as_str().unwrap().to_owned());
    let temp = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&app.admin_key),
            Some(json!({"token_ttl": 60})),
        )
        .await;
    secrets.push(temp.body["token"].as_str().unwrap().to_owned());

    let mut stored = Vec::new();
    for item in app.scan_table().await {
        item.values().for_each(|v| strings_in(v, &mut stored));
    }
    assert!(stored.len() > 10);
    for secret in &secrets {
        // Neither the secret nor its random part appears anywhere.
        let random_part = &secret[secret.len() - 39..secret.len() - 6];
        assert!(
            stored.iter().all(|s| !s.contains(random_part)),
            "a secret is stored in plain text"
        );
    }
}

#[tokio::test]
async fn last_used_is_written_at_most_once_a_minute() {
    let (app, faults) = keygate_tests::spawn_app_with_faults().await;
    let created = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "u"})),
        )
        .await;
    let id = created.body["id"].as_str().unwrap();
    let secret = created.body["key"].as_str().unwrap();
    assert!(created.body["last_used_at"].is_null());
    // The stamp writes sent to the store (each is billed, even when its condition fails).
    let stamps = || {
        faults
            .take_seen()
            .iter()
            .filter(|(operation, body)| {
                operation == "UpdateItem" && body.to_string().contains("last_used_at")
            })
            .count()
    };
    faults.forget();
    for _ in 0..4 {
        let me = app.call("GET", "/v1/auth/me", Some(secret), None).await;
        assert_eq!(me.status, StatusCode::OK);
    }
    assert_eq!(stamps(), 1, "four uses in a row: one stamp write");
    let first = app.read_key(&app.admin_key, id).await.body["last_used_at"].clone();
    assert!(first.is_string());
    faults.forget();
    for _ in 0..3 {
        app.call("GET", "/v1/auth/me", Some(secret), None).await;
    }
    assert_eq!(stamps(), 0, "used again within the minute: no write");
    let later = app.read_key(&app.admin_key, id).await.body["last_used_at"].clone();
    assert_eq!(first, later);
}

#[tokio::test]
async fn a_key_cannot_grant_scopes_it_lacks() {
    let app = spawn_app().await;
    let (narrow_id, narrow_key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "narrow", "scopes": ["chat", "read"]}),
        )
        .await;
    let wider = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&narrow_key),
            Some(json!({"name": "wider", "scopes": ["chat", "write"]})),
        )
        .await;
    assert_eq!(wider.status, StatusCode::FORBIDDEN, "{}", wider.body);
    let same = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&narrow_key),
            Some(json!({"name": "same"})),
        )
        .await;
    assert_eq!(
        same.status,
        StatusCode::CREATED,
        "chat and read are within its scopes"
    );
    let raise = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{narrow_id}"),
            Some(&narrow_key),
            Some(json!({"scopes": ["admin"]})),
        )
        .await;
    assert_eq!(raise.status, StatusCode::FORBIDDEN);
}
