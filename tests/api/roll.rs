//! Rolling a key: a successor that inherits everything, the old key living out its grace,
//! the Idempotency-Key, the rights rule and the 10-key limit.

use keygate::domain::clock::{now_epoch, parse_rfc3339, to_rfc3339};
use keygate_tests::{StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

async fn roll(app: &TestApp, credential: &str, key_id: &str, body: Value) -> keygate_tests::Reply {
    app.call(
        "POST",
        &format!("/v1/api-keys/{key_id}/roll"),
        Some(credential),
        Some(body),
    )
    .await
}

async fn roll_with_idempotency(
    app: &TestApp,
    key_id: &str,
    idempotency_key: &str,
    body: Value,
) -> keygate_tests::Reply {
    app.send(
        "POST",
        &format!("/v1/api-keys/{key_id}/roll"),
        &[
            ("X-API-Key", &app.admin_key),
            ("Idempotency-Key", idempotency_key),
        ],
        Some(body),
    )
    .await
}

async fn me_status(app: &TestApp, credential: &str) -> StatusCode {
    app.call("GET", "/v1/auth/me", Some(credential), None)
        .await
        .status
}

#[tokio::test]
async fn a_successor_inherits_the_key_and_the_old_one_lives_out_its_grace() {
    let app = spawn_app().await;
    let (old_id, old_secret) = app
        .new_key(
            &app.admin_key,
            json!({"name": "ci", "scopes": ["chat", "read"], "type": "asker",
                   "expires_at": "2031-01-01T00:00:00Z"}),
        )
        .await;
    let rolled = roll(&app, &app.admin_key, &old_id, json!({})).await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    let new_secret = rolled.body["key"].as_str().unwrap();
    assert_ne!(rolled.body["id"], old_id.as_str());
    for field in ["name", "scopes", "type", "expires_at"] {
        assert_eq!(
            rolled.body[field],
            json!({"name": "ci", "scopes": ["chat", "read"], "type": "asker",
                   "expires_at": "2031-01-01T00:00:00Z"})[field],
            "{field} is inherited"
        );
    }
    assert_eq!(rolled.body["replayed"], false);
    // The old key ends a day from now (the default grace) and works until then.
    let old_end = parse_rfc3339(
        "expires_at",
        rolled.body["rolled_from"]["expires_at"].as_str().unwrap(),
    )
    .unwrap();
    assert!((old_end - now_epoch() - 86_400).abs() <= 5, "{old_end}");
    assert_eq!(rolled.body["rolled_from"]["is_active"], true);
    assert_eq!(me_status(&app, &old_secret).await, StatusCode::OK);
    assert_eq!(me_status(&app, new_secret).await, StatusCode::OK);
    // A rolled key takes no further changes, and is not rolled twice.
    let patched = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{old_id}"),
            Some(&app.admin_key),
            Some(json!({"name": "again"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::CONFLICT, "{}", patched.body);
    let twice = roll(&app, &app.admin_key, &old_id, json!({})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);
}

#[tokio::test]
async fn a_zero_grace_ends_the_old_key_at_once_and_expiry_is_never_extended() {
    let app = spawn_app().await;
    let (old_id, old_secret) = app.new_key(&app.admin_key, json!({"name": "leaky"})).await;
    assert_eq!(me_status(&app, &old_secret).await, StatusCode::OK);
    let rolled = roll(&app, &app.admin_key, &old_id, json!({"grace_secs": 0})).await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    assert_eq!(me_status(&app, &old_secret).await, StatusCode::UNAUTHORIZED);
    let old = app.read_key(&app.admin_key, &old_id).await;
    assert_eq!(old.body["is_active"], false, "an expired key is not active");

    // A key ending sooner than the grace keeps its own end.
    let soon = to_rfc3339(now_epoch() + 600);
    let (short_id, _) = app
        .new_key(&app.admin_key, json!({"name": "short", "expires_at": soon}))
        .await;
    let rolled = roll(
        &app,
        &app.admin_key,
        &short_id,
        json!({"grace_secs": 604800}),
    )
    .await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    assert_eq!(rolled.body["rolled_from"]["expires_at"], soon.as_str());
    assert_eq!(rolled.body["expires_at"], soon.as_str());
}

#[tokio::test]
async fn revoked_expired_and_out_of_range_rolls_are_refused() {
    let app = spawn_app().await;
    let (revoked_id, _) = app.new_key(&app.admin_key, json!({"name": "gone"})).await;
    app.call(
        "DELETE",
        &format!("/v1/api-keys/{revoked_id}"),
        Some(&app.admin_key),
        None,
    )
    .await;
    let refused = roll(&app, &app.admin_key, &revoked_id, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    let not_an_id = roll(&app, &app.admin_key, &"x".repeat(3000), json!({})).await;
    assert_eq!(
        not_an_id.status,
        StatusCode::NOT_FOUND,
        "{}",
        not_an_id.body
    );
    let (id, _) = app.new_key(&app.admin_key, json!({"name": "ok"})).await;
    for grace in [json!(-1), json!(604801)] {
        let bad = roll(&app, &app.admin_key, &id, json!({"grace_secs": grace})).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert_eq!(bad.body["field"], "grace_secs");
    }
    let bad_key = app
        .send(
            "POST",
            &format!("/v1/api-keys/{id}/roll"),
            &[("X-API-Key", &app.admin_key), ("Idempotency-Key", "a b")],
            None,
        )
        .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST, "{}", bad_key.body);
    assert_eq!(bad_key.body["field"], "Idempotency-Key");

    let (expiring_id, _) = app
        .new_key(
            &app.admin_key,
            json!({"name": "brief", "expires_at": to_rfc3339(now_epoch() + 5)}),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(6100)).await;
    let expired = roll(&app, &app.admin_key, &expiring_id, json!({})).await;
    assert_eq!(expired.status, StatusCode::CONFLICT, "{}", expired.body);
    let listed = app
        .call("GET", "/v1/api-keys", Some(&app.admin_key), None)
        .await;
    let shown = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == expiring_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(shown["is_active"], false, "an expired key is not active");
}

#[tokio::test]
async fn a_replayed_idempotency_key_answers_the_same_successor() {
    let app = spawn_app().await;
    let (id, _) = app.new_key(&app.admin_key, json!({"name": "ci"})).await;
    let first = roll_with_idempotency(&app, &id, "roll-ci-1", json!({"grace_secs": 60})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = roll_with_idempotency(&app, &id, "roll-ci-1", json!({"grace_secs": 60})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["key_prefix"], first.body["key_prefix"]);
    assert_eq!(again.body["key"], Value::Null, "the secret is shown once");
    assert_eq!(again.body["replayed"], true);
    // The same key for another request is a conflict, not a silent replay.
    let other = roll_with_idempotency(&app, &id, "roll-ci-1", json!({"grace_secs": 0})).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    let names: Vec<Value> = app
        .call("GET", "/v1/api-keys", Some(&app.admin_key), None)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].clone())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "ci").count(),
        2,
        "one successor only: {names:?}"
    );
}

#[tokio::test]
async fn only_a_credential_holding_every_scope_of_the_key_may_roll() {
    let app = spawn_app().await;
    let (_, narrow) = app
        .new_key(
            &app.admin_key,
            json!({"name": "narrow", "scopes": ["chat", "read"]}),
        )
        .await;
    // A key with a scope the roller lacks: more scopes, or as many but another one.
    for scopes in [json!(["chat", "read", "write"]), json!(["chat", "write"])] {
        let (id, _) = app
            .new_key(&app.admin_key, json!({"name": "wider", "scopes": scopes}))
            .await;
        let refused = roll(&app, &narrow, &id, json!({})).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{scopes}: {}",
            refused.body
        );
        let key = app.read_key(&app.admin_key, &id).await;
        assert!(key.body["expires_at"].is_null(), "not rolled: {}", key.body);
    }
    // Every scope of the key held: fewer, or exactly the same.
    for scopes in [json!(["chat"]), json!(["chat", "read"])] {
        let (id, _) = app
            .new_key(&app.admin_key, json!({"name": "within", "scopes": scopes}))
            .await;
        let allowed = roll(&app, &narrow, &id, json!({})).await;
        assert_eq!(
            allowed.status,
            StatusCode::CREATED,
            "{scopes}: {}",
            allowed.body
        );
        assert_eq!(
            allowed.body["scopes"], scopes,
            "the successor keeps the scopes"
        );
    }
}

#[tokio::test]
async fn a_user_at_the_limit_may_roll_and_the_successor_takes_the_slot() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 1..10 {
        ids.push(
            app.new_key(&app.admin_key, json!({"name": format!("k{n}")}))
                .await
                .0,
        );
    }
    let eleventh = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "k11"})),
        )
        .await;
    assert_eq!(eleventh.status, StatusCode::CONFLICT, "ten keys held");
    let rolled = roll(&app, &app.admin_key, &ids[0], json!({})).await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    // Revoking the rolled key (which gave its slot away) frees nothing.
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{}", ids[0]),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string(), "{}", revoked.body);
    let still = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "k11"})),
        )
        .await;
    assert_eq!(still.status, StatusCode::CONFLICT, "{}", still.body);
    // Revoking the successor does.
    let successor = rolled.body["id"].as_str().unwrap();
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{successor}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let freed = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "k11"})),
        )
        .await;
    assert_eq!(freed.status, StatusCode::CREATED, "{}", freed.body);
}

#[tokio::test]
async fn a_temp_token_may_not_roll_and_a_successor_never_outlives_its_roller() {
    let app = spawn_app().await;
    let (id, _) = app
        .new_key(&app.admin_key, json!({"name": "forever"}))
        .await;
    let temp = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&app.admin_key),
            Some(json!({"token_ttl": 600})),
        )
        .await;
    let temp = temp.body["token"].as_str().unwrap().to_owned();
    let refused = roll(&app, &temp, &id, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    let soon = to_rfc3339(now_epoch() + 3600);
    let (_, expiring) = app
        .new_key(
            &app.admin_key,
            json!({"name": "roller", "expires_at": soon}),
        )
        .await;
    let rolled = roll(&app, &expiring, &id, json!({})).await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    assert_eq!(
        rolled.body["expires_at"],
        soon.as_str(),
        "bounded by the roller's key"
    );
}
