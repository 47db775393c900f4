//! Allowed models: a key's list only narrows down its lineage; verify answers
//! `FORBIDDEN_MODEL`, a usage report for another model is refused and charges nothing, and
//! the authorizer context carries the effective list.

use keygate::authorizer::authorize;
use keygate_tests::{StatusCode, TestApp, authorizer_event, spawn_app};
use serde_json::{Value, json};

const AB: [&str; 2] = ["model-a", "model-b"];

async fn verify(app: &TestApp, service: &str, body: Value) -> Value {
    let reply = app
        .call("POST", "/v1/keys/verify", Some(service), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn models_of(app: &TestApp, credential: &str) -> Value {
    let me = app.call("GET", "/v1/auth/me", Some(credential), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.body["models"].clone()
}

#[tokio::test]
async fn a_derived_key_takes_its_creators_models_or_names_a_subset() {
    let app = spawn_app().await;
    let (parent_id, parent) = app
        .new_key(
            &app.admin_key,
            json!({"name": "two models", "models": ["model-b", "model-a", "model-b"]}),
        )
        .await;
    let read = app.read_key(&app.admin_key, &parent_id).await;
    assert_eq!(read.body["models"], json!(AB), "sorted, each once");

    let (inherits_id, inherits) = app.new_key(&parent, json!({"name": "inherits"})).await;
    assert_eq!(
        app.read_key(&parent, &inherits_id).await.body["models"],
        json!(AB)
    );
    let (_, narrower) = app
        .new_key(&parent, json!({"name": "one", "models": ["model-a"]}))
        .await;
    assert_eq!(models_of(&app, &narrower).await, json!(["model-a"]));

    let wider = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&parent),
            Some(json!({"name": "wider", "models": ["model-a", "model-c"]})),
        )
        .await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST, "{}", wider.body);
    assert_eq!(wider.body["field"], "models");
    assert!(wider.body["detail"].as_str().unwrap().contains("model-c"));

    // The list narrows its descendants as it is now: the creator narrowed, the key that
    // took its list follows.
    let narrowed = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{parent_id}"),
            Some(&app.admin_key),
            Some(json!({"models": ["model-b"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    assert_eq!(models_of(&app, &inherits).await, json!(["model-b"]));
    assert_eq!(
        models_of(&app, &narrower).await,
        json!([]),
        "model-a is no longer allowed above it"
    );
    // An unrestricted key answers null.
    assert_eq!(models_of(&app, &app.admin_key).await, Value::Null);
}

#[tokio::test]
async fn a_bad_list_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let fifty_one: Vec<String> = (0..51).map(|i| format!("m{i}")).collect();
    for (models, field) in [
        (json!([]), "models"),
        (json!(fifty_one), "models"),
        (json!(["ok", "has space"]), "models[1]"),
        (json!(["x".repeat(129)]), "models[0]"),
        (json!("model-a"), "models"),
    ] {
        let reply = app
            .call(
                "POST",
                "/v1/api-keys",
                Some(&app.admin_key),
                Some(json!({"name": "bad", "models": models})),
            )
            .await;
        // 400 for a bad value, 422 for a value of the wrong type; both name the field.
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&reply.status),
            "{models}: {}",
            reply.body
        );
        assert_eq!(reply.body["field"], field, "{models}: {}", reply.body);
    }
}

#[tokio::test]
async fn a_patch_stays_within_the_callers_models() {
    let app = spawn_app().await;
    let (_, limited) = app
        .new_key(
            &app.admin_key,
            json!({"name": "limited", "models": AB, "scopes": ["chat", "read", "write", "admin"]}),
        )
        .await;
    let (child_id, _) = app
        .new_key(&limited, json!({"name": "child", "models": ["model-a"]}))
        .await;
    let path = format!("/v1/api-keys/{child_id}");
    let patch = |body: Value| app.call("PATCH", &path, Some(&limited), Some(body));
    let widened = patch(json!({"models": ["model-a", "model-z"]})).await;
    assert_eq!(widened.status, StatusCode::BAD_REQUEST, "{}", widened.body);
    assert_eq!(widened.body["field"], "models");
    let lifted = patch(json!({"models": null})).await;
    assert_eq!(lifted.status, StatusCode::BAD_REQUEST, "{}", lifted.body);
    assert_eq!(lifted.body["field"], "models");
    let within = patch(json!({"models": AB})).await;
    assert_eq!(within.status, StatusCode::OK, "{}", within.body);
    assert_eq!(within.body["models"], json!(AB));
    // The audit trail records the change.
    let events = app.audit(&app.admin_key, "type=key.patched").await;
    let changed = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["change"]["models"]["new"] == json!(AB));
    assert!(changed, "{}", events.body);

    // A key limited to some models may change only keys within them, and never lifts a list.
    let (free_id, _) = app
        .new_key(&app.admin_key, json!({"name": "any model"}))
        .await;
    let other_user_key = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{free_id}"),
            Some(&limited),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(
        other_user_key.status,
        StatusCode::FORBIDDEN,
        "{}",
        other_user_key.body
    );
    let lifted_by_admin = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"models": null})),
        )
        .await;
    assert_eq!(lifted_by_admin.status, StatusCode::OK);
    assert_eq!(lifted_by_admin.body["models"], Value::Null);
}

#[tokio::test]
async fn a_key_limited_to_some_models_may_not_set_a_password() {
    let app = spawn_app().await;
    let (_, limited) = app
        .new_key(
            &app.admin_key,
            json!({"name": "limited", "models": AB, "scopes": ["chat", "read", "write", "admin", "usage", "verify"]}),
        )
        .await;
    let reply = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&limited),
            Some(json!({"password": "a long enough passphrase 42"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("model"));
}

#[tokio::test]
async fn verify_answers_forbidden_model_and_spends_nothing_on_it() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify", "usage"]).await;
    let (_, limited) = app
        .new_key(
            &app.admin_key,
            json!({"name": "limited", "models": AB,
                   "ratelimits": [{"name": "requests", "limit": 1, "window_secs": 86_400}]}),
        )
        .await;
    let refused = verify(
        &app,
        &service,
        json!({"key": limited, "model": "model-c", "cost": 1}),
    )
    .await;
    assert_eq!(refused["valid"], false);
    assert_eq!(refused["code"], "FORBIDDEN_MODEL");
    assert!(refused["reason"].as_str().unwrap().contains("model-c"));
    assert_eq!(refused["models"], json!(AB));
    // The refused check spent nothing: the one request of the limit is still there.
    let allowed = verify(
        &app,
        &service,
        json!({"key": limited, "model": "model-a", "cost": 1}),
    )
    .await;
    assert_eq!(allowed["code"], "VALID", "{allowed}");
    let spent = verify(
        &app,
        &service,
        json!({"key": limited, "model": "model-a", "cost": 1}),
    )
    .await;
    assert_eq!(spent["code"], "RATE_LIMITED", "{spent}");

    let any = verify(
        &app,
        &service,
        json!({"key": app.admin_key, "model": "model-c"}),
    )
    .await;
    assert_eq!(any["code"], "VALID");
    assert_eq!(any["models"], Value::Null);
    let bad = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&service),
            Some(json!({"key": limited, "model": ""})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "model");
}

#[tokio::test]
async fn usage_for_another_model_is_refused_and_charges_nothing() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify", "usage"]).await;
    let (parent_id, parent) = app
        .new_key(
            &app.admin_key,
            json!({"name": "parent", "models": AB, "credits": {"remaining": 1000}}),
        )
        .await;
    // The child names no list: it may use what its parent may.
    let (child_id, _) = app
        .new_key(
            &parent,
            json!({"name": "child", "credits": {"remaining": 0}}),
        )
        .await;
    let report = |model: &str, request_id: &str| {
        json!({"key_id": child_id, "units": 100, "kind": "tokens_out", "model": model,
               "request_id": request_id})
    };
    let refused = app
        .call(
            "POST",
            "/v1/usage",
            Some(&service),
            Some(report("model-c", "r1")),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("FORBIDDEN_MODEL")
    );
    let balance = app.read_key(&app.admin_key, &parent_id).await;
    assert_eq!(
        balance.body["credits"]["remaining"], 1000,
        "nothing charged"
    );
    let usage = app
        .call(
            "GET",
            &format!("/v1/api-keys/{child_id}/usage?granularity=day"),
            Some(&parent),
            None,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.body);
    assert!(
        usage.body["items"].as_array().unwrap().is_empty()
            || usage.body["items"][0]["units"]["tokens_out"].is_null(),
        "no units recorded: {}",
        usage.body
    );

    // The same request id with an allowed model is charged (the refusal recorded nothing).
    let charged = app
        .call(
            "POST",
            "/v1/usage",
            Some(&service),
            Some(report("model-b", "r1")),
        )
        .await;
    assert_eq!(charged.status, StatusCode::OK, "{}", charged.body);
    assert_eq!(charged.body["duplicate"], false);
    let balance = app.read_key(&app.admin_key, &parent_id).await;
    assert_eq!(balance.body["credits"]["remaining"], 900);
}

#[tokio::test]
async fn the_authorizer_context_carries_the_effective_models() {
    let app = spawn_app().await;
    let (_, parent) = app
        .new_key(&app.admin_key, json!({"name": "parent", "models": AB}))
        .await;
    let (_, child) = app.new_key(&parent, json!({"name": "child"})).await;
    let token = app
        .call("POST", "/v1/auth/tokens", Some(&child), Some(json!({})))
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    let token = token.body["token"].as_str().unwrap().to_owned();
    for credential in [&parent, &child, &token] {
        let response = authorize(&app.services, &authorizer_event(credential)).await;
        assert!(response.is_authorized);
        assert_eq!(response.context["keygate_models"], "model-a model-b");
    }
    let free = authorize(&app.services, &authorizer_event(&app.admin_key)).await;
    assert!(free.is_authorized);
    assert!(
        free.context.get("keygate_models").is_none(),
        "{}",
        free.context
    );
}
