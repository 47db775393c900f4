//! The escalation paths of issue #10, each closed: a credential never does more than the
//! credential it came from (README, "Credentials" and "Passwords and sessions").

use keygate::domain::clock::{now_epoch, to_rfc3339};
use keygate_tests::{StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// A key of the bootstrap admin with these scopes (and body extras); returns (id, secret).
async fn admin_key_with(app: &TestApp, scopes: &[&str], extra: Value) -> (String, String) {
    let mut body = json!({"name": "k", "scopes": scopes});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.new_key(&app.admin_key, body).await
}

/// `POST /v1/auth/tokens` with `credential`: a temp token.
async fn temp_token(app: &TestApp, credential: &str) -> String {
    let reply = app
        .call("POST", "/v1/auth/tokens", Some(credential), Some(json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["token"].as_str().unwrap().to_owned()
}

async fn set_password(app: &TestApp, credential: &str) -> StatusCode {
    app.call(
        "PUT",
        "/v1/users/me/password",
        Some(credential),
        Some(json!({"new_password": PASSWORD})),
    )
    .await
    .status
}

async fn me(app: &TestApp, credential: &str) -> Value {
    let reply = app.call("GET", "/v1/auth/me", Some(credential), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_weak_credential_cannot_set_a_password_that_signs_in_with_every_scope() {
    let app = spawn_app().await;
    let (_, read_only) = app
        .new_user_with_key(
            "reader@example.com",
            json!({"name": "r", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(set_password(&app, &read_only).await, StatusCode::FORBIDDEN);
    let sign_in = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "reader@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        sign_in.status,
        StatusCode::UNAUTHORIZED,
        "no password was set"
    );

    // Nor an asker key with every scope, nor a temp token of the all-scope bootstrap key.
    let (_, asker) = admin_key_with(
        &app,
        &["chat", "read", "write", "admin"],
        json!({"type": "asker"}),
    )
    .await;
    assert_eq!(set_password(&app, &asker).await, StatusCode::FORBIDDEN);
    let temp = temp_token(&app, &app.admin_key).await;
    assert_eq!(set_password(&app, &temp).await, StatusCode::FORBIDDEN);
    // A tenant admin without every scope may not give a new user a password either.
    let (_, no_write) = admin_key_with(&app, &["chat", "read", "admin"], json!({})).await;
    let created = app
        .call(
            "POST",
            "/v1/users",
            Some(&no_write),
            Some(json!({"email": "new@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.body);

    // A token exchanged for an all-scope admin key acts as that key: it may.
    let exchanged = app.exchange(&app.admin_key).await;
    assert_eq!(set_password(&app, &exchanged).await, StatusCode::NO_CONTENT);
    let session = app.sign_in(&app.admin_email, PASSWORD).await;
    assert_eq!(
        me(&app, &session).await["scopes"],
        json!(["chat", "read", "write", "admin"])
    );
}

#[tokio::test]
async fn tokens_follow_their_key_as_it_is_now() {
    let app = spawn_app().await;
    let (key_id, key) = admin_key_with(&app, &["chat", "read", "write"], json!({})).await;
    let exchanged = app.exchange(&key).await;
    let temp = temp_token(&app, &key).await;
    for token in [&exchanged, &temp] {
        assert_eq!(
            me(&app, token).await["scopes"],
            json!(["chat", "read", "write"])
        );
    }
    let narrowed = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{key_id}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["read"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    for token in [&key, &exchanged, &temp] {
        let dataset = app
            .call(
                "POST",
                "/v1/datasets",
                Some(token),
                Some(json!({"name": "x"})),
            )
            .await;
        assert_eq!(dataset.status, StatusCode::FORBIDDEN, "{}", dataset.body);
        assert_eq!(me(&app, token).await["scopes"], json!(["read"]));
    }

    // An earlier expiry on the key is the token's expiry too.
    let soon = now_epoch() + 1800;
    let soon_text = to_rfc3339(soon);
    let shortened = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{key_id}"),
            Some(&app.admin_key),
            Some(json!({"expires_at": soon_text})),
        )
        .await;
    assert_eq!(shortened.status, StatusCode::OK, "{}", shortened.body);
    for token in [&exchanged, &temp] {
        assert_eq!(me(&app, token).await["exp"], json!(soon));
    }
    let later = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{key_id}"),
            Some(&app.admin_key),
            Some(json!({"expires_at": "2100-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(
        later.status,
        StatusCode::BAD_REQUEST,
        "an expiry only moves earlier"
    );
    assert_eq!(later.body["field"], "expires_at");
}

#[tokio::test]
async fn listing_users_needs_the_admin_scope() {
    let app = spawn_app().await;
    let (_, read_only) = admin_key_with(&app, &["chat", "read"], json!({})).await;
    let listed = app.call("GET", "/v1/users", Some(&read_only), None).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN, "{}", listed.body);
    let user = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "m@example.com"})),
        )
        .await;
    let user_id = user.body["id"].as_str().unwrap();
    for (method, path, body) in [
        (
            "PATCH",
            format!("/v1/users/{user_id}"),
            json!({"cac_verified": true}),
        ),
        (
            "POST",
            format!("/v1/users/{user_id}/api-keys"),
            json!({"name": "k", "scopes": ["read"]}),
        ),
        (
            "POST",
            "/v1/users".to_owned(),
            json!({"email": "n@example.com"}),
        ),
    ] {
        let reply = app.call(method, &path, Some(&read_only), Some(body)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let allowed = app
        .call("GET", "/v1/users", Some(&app.admin_key), None)
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
}

#[tokio::test]
async fn a_weaker_key_cannot_change_or_resume_a_stronger_one_but_may_revoke_it() {
    let app = spawn_app().await;
    let (weak_id, weak) = admin_key_with(&app, &["read"], json!({})).await;
    let (strong_id, _) = admin_key_with(&app, &["read", "write"], json!({})).await;
    let strong = format!("/v1/api-keys/{strong_id}");
    for change in [
        json!({"name": "renamed"}),
        json!({"is_active": false}),
        json!({"scopes": ["read"]}),
    ] {
        let reply = app
            .call("PATCH", &strong, Some(&weak), Some(change.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{change}: {}",
            reply.body
        );
    }
    // Its owner pauses it with a strong credential; the weak key may not resume it.
    let paused = app
        .call(
            "PATCH",
            &strong,
            Some(&app.admin_key),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    let resumed = app
        .call(
            "PATCH",
            &strong,
            Some(&weak),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(resumed.status, StatusCode::FORBIDDEN);
    // A key within the caller's rights (itself) may be changed.
    let own = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{weak_id}"),
            Some(&weak),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let revoked = app.call("DELETE", &strong, Some(&weak), None).await;
    assert_eq!(
        revoked.status,
        StatusCode::OK,
        "revoking only takes power away"
    );
    assert!(revoked.body["revoked_at"].is_string());
}

#[tokio::test]
async fn temp_tokens_manage_nothing_and_exchanged_tokens_act_as_their_key() {
    let app = spawn_app().await;
    let temp = temp_token(&app, &app.admin_key).await;
    let key_id = &app.admin_key[3..29];
    let user_path = format!("/1/users/{}/apiKeys", app.admin_id);
    let attempts = [
        (
            "POST",
            "/v1/api-keys".to_owned(),
            Some(json!({"name": "forever"})),
        ),
        ("GET", "/v1/api-keys".to_owned(), None),
        (
            "PATCH",
            format!("/v1/api-keys/{key_id}"),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/v1/api-keys/{key_id}"), None),
        ("DELETE", "/v1/api-keys".to_owned(), None),
        (
            "POST",
            "/v1/users".to_owned(),
            Some(json!({"email": "t@example.com"})),
        ),
        ("GET", "/v1/users".to_owned(), None),
        (
            "POST",
            "/user/user-api-key".to_owned(),
            Some(json!({"name": "forever"})),
        ),
        (
            "POST",
            "/api/v1/access-tokens".to_owned(),
            Some(json!({"name": "forever"})),
        ),
        (
            "POST",
            user_path.clone(),
            Some(json!({"description": "forever"})),
        ),
    ];
    for (method, path, body) in attempts {
        let reply = app.call(method, &path, Some(&temp), body).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            reply.body
        );
    }
    assert_eq!(set_password(&app, &temp).await, StatusCode::FORBIDDEN);
    // It still asks: chats work.
    app.new_chat(&temp, json!({})).await;

    // An exchanged token creates keys as its key would, never outliving that key.
    let (_, expiring) = admin_key_with(
        &app,
        &["chat", "read"],
        json!({"expires_at": "2090-01-01T00:00:00Z"}),
    )
    .await;
    let exchanged = app.exchange(&expiring).await;
    let created = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&exchanged),
            Some(json!({"name": "child"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["expires_at"], "2090-01-01T00:00:00Z");
    assert_eq!(created.body["scopes"], json!(["chat", "read"]));
}

#[tokio::test]
async fn a_cogniac_key_id_must_be_the_secrets_own() {
    let app = spawn_app().await;
    let (other_id, _) = admin_key_with(&app, &["read"], json!({})).await;
    let own_id = &app.admin_key[3..29];
    let matched = format!("Key {own_id}:{}", app.admin_key);
    let mismatched = format!("Key {other_id}:{}", app.admin_key);
    let token = app
        .send("GET", "/1/token", &[("authorization", &matched)], None)
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    for path in ["/1/token", "/1/users/current"] {
        let reply = app
            .send("GET", path, &[("authorization", &mismatched)], None)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let me = app
        .call(
            "GET",
            "/v1/auth/me",
            Some(&format!("{other_id}:{}", app.admin_key)),
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

/// `GET /v1/auth/me` status for `credential`.
async fn me_status(app: &TestApp, credential: &str) -> StatusCode {
    app.call("GET", "/v1/auth/me", Some(credential), None)
        .await
        .status
}

fn scopes_of(me: &Value) -> Vec<&str> {
    me["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn revoking_a_creator_key_refuses_its_keys_and_their_tokens_at_once() {
    let app = spawn_app().await;
    let all = ["chat", "read", "write", "admin"];
    let (creator_id, creator) = admin_key_with(&app, &all, json!({})).await;
    let (_, child) = app.new_key(&creator, json!({"name": "child"})).await;
    let (_, grandchild) = app.new_key(&child, json!({"name": "grandchild"})).await;
    // A token exchanged for the creator acts as it: the key it creates follows the creator.
    let acting = app.exchange(&creator).await;
    let (_, by_token) = app.new_key(&acting, json!({"name": "by token"})).await;
    let child_token = app.exchange(&child).await;
    let grandchild_temp = temp_token(&app, &grandchild).await;
    let followers = [
        &child,
        &grandchild,
        &by_token,
        &child_token,
        &grandchild_temp,
    ];
    for credential in followers {
        assert_eq!(me_status(&app, credential).await, StatusCode::OK);
    }
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{creator_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    for credential in followers {
        assert_eq!(
            me_status(&app, credential).await,
            StatusCode::UNAUTHORIZED,
            "a credential of a revoked creator is refused at once"
        );
    }
    // A key made by a session has no parent key: revoking keys does not touch it.
    assert_eq!(
        set_password(&app, &app.admin_key).await,
        StatusCode::NO_CONTENT
    );
    let session = app.sign_in(&app.admin_email, PASSWORD).await;
    let (_, by_session) = app.new_key(&session, json!({"name": "by session"})).await;
    assert_eq!(me_status(&app, &by_session).await, StatusCode::OK);
}

#[tokio::test]
async fn narrowing_pausing_or_expiring_a_creator_key_does_the_same_to_its_keys() {
    let app = spawn_app().await;
    let all = ["chat", "read", "write", "admin"];
    let (creator_id, creator) = admin_key_with(&app, &all, json!({})).await;
    let (child_id, child) = app
        .new_key(&creator, json!({"name": "child", "scopes": all}))
        .await;
    let child_token = app.exchange(&child).await;
    let creator_path = format!("/v1/api-keys/{creator_id}");
    let change = |body: Value| {
        let (app, path) = (&app, &creator_path);
        async move {
            let reply = app
                .call("PATCH", path, Some(&app.admin_key), Some(body))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    };

    let at = now_epoch() + 3600;
    change(json!({"scopes": ["read"], "expires_at": to_rfc3339(at)})).await;
    for credential in [&child, &child_token] {
        let me = me(&app, credential).await;
        assert_eq!(scopes_of(&me), ["read"], "{me}");
        assert_eq!(me["exp"], json!(at), "{me}");
    }
    let write = app
        .call(
            "POST",
            "/v1/datasets",
            Some(&child),
            Some(json!({"name": "narrowed"})),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{}", write.body);
    // The key's own record is unchanged: lists and reads show what was stored.
    let stored = app.read_key(&app.admin_key, &child_id).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
    assert_eq!(stored.body["scopes"].as_array().map(Vec::len), Some(4));

    change(json!({"is_active": false})).await;
    for credential in [&child, &child_token] {
        assert_eq!(me_status(&app, credential).await, StatusCode::UNAUTHORIZED);
    }
    change(json!({"is_active": true})).await;
    assert_eq!(me_status(&app, &child).await, StatusCode::OK);

    let soon = now_epoch() + 5;
    change(json!({"expires_at": to_rfc3339(soon)})).await;
    while now_epoch() <= soon {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for credential in [&child, &child_token] {
        assert_eq!(me_status(&app, credential).await, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_grandchild_follows_its_grandparent_and_lineage_depth_is_bounded() {
    let app = spawn_app().await;
    let all = ["chat", "read", "write", "admin"];
    let (top_id, top) = admin_key_with(&app, &all, json!({})).await;
    let mut chain = vec![top.clone()];
    // `top` is one deep already (the bootstrap key created it).
    for depth in 2..=keygate::domain::credential::MAX_KEY_ANCESTORS {
        let (_, next) = app
            .new_key(
                chain.last().unwrap(),
                json!({"name": format!("depth {depth}"), "scopes": all}),
            )
            .await;
        chain.push(next);
    }
    let deepest = chain.last().unwrap().clone();
    let too_deep = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&deepest),
            Some(json!({"name": "too deep"})),
        )
        .await;
    assert_eq!(too_deep.status, StatusCode::CONFLICT, "{}", too_deep.body);

    let narrowed = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{top_id}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["chat", "read"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    for credential in &chain[1..] {
        assert_eq!(scopes_of(&me(&app, credential).await), ["chat", "read"]);
    }
    let paused = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{top_id}"),
            Some(&app.admin_key),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    for credential in &chain {
        assert_eq!(me_status(&app, credential).await, StatusCode::UNAUTHORIZED);
    }
}
