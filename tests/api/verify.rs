//! `POST /v1/keys/verify`: every answer code, the tenant boundary, and agreement with the
//! authorizer on one table of credentials.

use keygate::authorizer::authorize;
use keygate_tests::{StatusCode, TestApp, spawn_app};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::{Value, json};

const Q2A: &str = "POST /v1/single-turn/q2a";

fn authorizer_event(
    route_key: &str,
    path: &str,
    key: &str,
) -> ApiGatewayV2CustomAuthorizerV2Request {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/authorizer/request.json"
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    event["routeKey"] = json!(route_key);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(route_key.split(' ').next().unwrap());
    event["headers"]["x-api-key"] = json!(key);
    serde_json::from_value(event).unwrap()
}

async fn verify(app: &TestApp, service_key: &str, body: Value) -> Value {
    let reply = app
        .call("POST", "/v1/keys/verify", Some(service_key), Some(body))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The credentials of the table: (label, secret).
async fn credential_table(app: &TestApp) -> Vec<(&'static str, String)> {
    let (_, asker) = app
        .new_key(
            &app.admin_key,
            json!({"name": "asker", "type": "asker", "scopes": ["chat"]}),
        )
        .await;
    let (_, reader) = app
        .new_key(
            &app.admin_key,
            json!({"name": "reader", "scopes": ["read"]}),
        )
        .await;
    let (paused_id, paused) = app.new_key(&app.admin_key, json!({"name": "paused"})).await;
    let pause = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{paused_id}"),
            Some(&app.admin_key),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(pause.status, 200, "{}", pause.body);
    let (revoked_id, revoked) = app
        .new_key(&app.admin_key, json!({"name": "revoked"}))
        .await;
    let revoke = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{revoked_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoke.status, 200);
    let expiring = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&asker),
            Some(json!({"token_ttl": 1})),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Expiry has one-second resolution: two seconds end a one-second token for certain.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let mut typo = app.admin_key.clone();
    typo.replace_range(10..11, if &typo[10..11] == "A" { "B" } else { "A" });
    vec![
        ("admin", app.admin_key.clone()),
        ("asker", asker),
        ("reader", reader),
        ("paused", paused),
        ("revoked", revoked),
        ("expired", expiring),
        ("unknown", keygate_tests::unknown_api_key()),
        ("checksum", typo),
        ("malformed", "not-a-key".into()),
    ]
}

#[tokio::test]
async fn every_code_is_answered_and_other_tenants_credentials_are_not_found() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify"]).await;
    let table = credential_table(&app).await;
    let expected = [
        ("admin", "VALID"),
        ("asker", "VALID"),
        ("reader", "FORBIDDEN_ROUTE"),
        ("paused", "DISABLED"),
        ("revoked", "REVOKED"),
        ("expired", "EXPIRED"),
        ("unknown", "NOT_FOUND"),
        ("checksum", "NOT_FOUND"),
        ("malformed", "NOT_FOUND"),
    ];
    for ((label, secret), (expected_label, code)) in table.iter().zip(expected) {
        assert_eq!(*label, expected_label);
        let body = verify(&app, &service, json!({"key": secret, "route": Q2A})).await;
        assert_eq!(body["code"], code, "{label}: {body}");
        assert_eq!(body["valid"], code == "VALID", "{label}");
        if code == "VALID" || code == "FORBIDDEN_ROUTE" {
            assert_eq!(body["tenant_id"], app.tenant_id.as_str(), "{label}");
            assert_eq!(body["user_id"], app.admin_id.as_str(), "{label}");
        } else {
            assert_eq!(body["user_id"], Value::Null, "{label}: no details");
        }
    }
    let asker = &table[1].1;
    let valid = verify(
        &app,
        &service,
        json!({"key": asker, "route": "GET /v1/bots/42", "scopes": ["chat"]}),
    )
    .await;
    assert_eq!(valid["code"], "VALID", "{valid}");
    assert_eq!(valid["key_type"], "asker");
    assert_eq!(valid["scopes"], json!(["chat"]));
    assert!(valid["key_id"].as_str().unwrap().len() == 26);
    assert_eq!(valid["cost"], 1);
    let forbidden = verify(
        &app,
        &service,
        json!({"key": asker, "route": "DELETE /v1/bots/42"}),
    )
    .await;
    assert_eq!(forbidden["code"], "FORBIDDEN_ROUTE");
    assert_eq!(
        forbidden["reason"],
        "asker credentials may not call this route"
    );
    let scoped = verify(
        &app,
        &service,
        json!({"key": asker, "scopes": ["chat", "write"]}),
    )
    .await;
    assert_eq!(scoped["code"], "INSUFFICIENT_PERMISSIONS", "{scoped}");
    assert_eq!(scoped["valid"], false);
    // No route and no scopes: the credential alone.
    let plain = verify(&app, &service, json!({"key": table[2].1})).await;
    assert_eq!(plain["code"], "VALID");

    // Another tenant's credentials: NOT_FOUND, never their details, whatever their state.
    let other = app.other_tenant("admin@other.example").await;
    let foreign = verify(&app, &service, json!({"key": other.admin_key})).await;
    assert_eq!(foreign["code"], "NOT_FOUND");
    assert_eq!(foreign["tenant_id"], Value::Null);
    assert_eq!(foreign["key_id"], Value::Null);
    app.services
        .revoke_all_api_keys(&app.services.verify(&other.admin_key).await.unwrap(), false)
        .await
        .unwrap();
    let foreign = verify(&app, &service, json!({"key": other.admin_key})).await;
    assert_eq!(foreign["code"], "NOT_FOUND", "not REVOKED: {foreign}");
}

#[tokio::test]
async fn a_key_revoked_a_moment_ago_is_revoked() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify"]).await;
    let (id, key) = app
        .new_key(&app.admin_key, json!({"name": "short-lived"}))
        .await;
    assert_eq!(
        verify(&app, &service, json!({"key": key})).await["code"],
        "VALID"
    );
    let revoke = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoke.status, 200);
    assert_eq!(
        verify(&app, &service, json!({"key": key})).await["code"],
        "REVOKED"
    );
}

#[tokio::test]
async fn the_caller_needs_a_verify_key_and_a_well_formed_body() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify"]).await;
    let body = json!({"key": app.admin_key});
    let missing = app
        .call("POST", "/v1/keys/verify", None, Some(body.clone()))
        .await;
    assert_eq!(missing.status, 401);
    let bad = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some("kg_nonsense"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(bad.status, 401);
    let (_, plain) = app
        .new_key(
            &app.admin_key,
            json!({"name": "plain", "scopes": ["chat", "read"]}),
        )
        .await;
    let refused = app
        .call("POST", "/v1/keys/verify", Some(&plain), Some(body))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let temp = app
        .call("POST", "/v1/auth/tokens", Some(&service), Some(json!({})))
        .await;
    assert_eq!(temp.status, 200, "{}", temp.body);
    let temp = temp.body["token"].as_str().unwrap();
    let refused = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(temp),
            Some(json!({"key": app.admin_key})),
        )
        .await;
    assert_eq!(
        refused.status, 403,
        "a temp token is no service key: {}",
        refused.body
    );
    for (body, field) in [
        (json!({}), "key"),
        (json!({"key": app.admin_key, "route": "FETCH /v1"}), "route"),
        (json!({"key": app.admin_key, "route": "/v1/bots"}), "route"),
        (
            json!({"key": app.admin_key, "scopes": ["root"]}),
            "scopes[0]",
        ),
    ] {
        let reply = app
            .call("POST", "/v1/keys/verify", Some(&service), Some(body))
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }

    // Only a tenant admin hands out `verify`: a member given a verify key cannot pass it on.
    let member = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "m@example.com"})),
        )
        .await;
    let member_id = member.body["id"].as_str().unwrap();
    let member_key = app
        .call(
            "POST",
            &format!("/v1/users/{member_id}/api-keys"),
            Some(&app.admin_key),
            Some(json!({"name": "member service", "scopes": ["verify", "chat"]})),
        )
        .await;
    assert_eq!(member_key.status, 201, "{}", member_key.body);
    let member_key = member_key.body["key"].as_str().unwrap();
    let passed_on = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(member_key),
            Some(json!({"name": "again", "scopes": ["verify"]})),
        )
        .await;
    assert_eq!(passed_on.status, 403, "{}", passed_on.body);
    assert!(
        passed_on.body["detail"]
            .as_str()
            .unwrap()
            .contains("tenant admin")
    );
}

/// One table of credentials through the authorizer and through the verify API, on a route
/// askers may call and one they may not: the two always agree.
#[tokio::test]
async fn the_verify_api_and_the_authorizer_agree() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify"]).await;
    let table = credential_table(&app).await;
    for (route_key, path) in [
        (Q2A, "/v1/single-turn/q2a"),
        ("DELETE /v1/bots/{id}", "/v1/bots/9"),
        // keygate's own routes: judged as their functions judge them.
        ("POST /v1/api-keys", "/v1/api-keys"),
        ("GET /v1/users", "/v1/users"),
        ("GET /v1/audit", "/v1/audit"),
        ("PUT /v1/users/me/password", "/v1/users/me/password"),
    ] {
        for (label, secret) in &table {
            let answer = verify(&app, &service, json!({"key": secret, "route": route_key})).await;
            let decision =
                authorize(&app.services, &authorizer_event(route_key, path, secret)).await;
            let authorizer_says = match decision
                .context
                .get("keygate_denied")
                .and_then(Value::as_str)
            {
                None => "VALID",
                Some("forbidden") => "FORBIDDEN_ROUTE",
                Some(_) => "REFUSED",
            };
            let verify_says = match answer["code"].as_str().unwrap() {
                "NOT_FOUND" | "EXPIRED" | "DISABLED" | "REVOKED" => "REFUSED",
                code => code,
            };
            assert_eq!(
                authorizer_says, verify_says,
                "{label} on {route_key}: {answer}"
            );
            if path.starts_with("/v1/")
                && !path.starts_with("/v1/bots")
                && path != "/v1/single-turn/q2a"
            {
                // What the client gets from the function itself: 403 exactly when verify
                // says the route is forbidden (no body: a permitted caller gets a 4xx for it,
                // never a 403).
                let (method, _) = route_key.split_once(' ').unwrap();
                let called = app.call(method, path, Some(secret), None).await;
                assert_eq!(
                    called.status == StatusCode::FORBIDDEN,
                    verify_says == "FORBIDDEN_ROUTE",
                    "{label} on {route_key}: the function answered {} {}, verify {answer}",
                    called.status,
                    called.body
                );
            }
            if verify_says == "VALID" {
                assert_eq!(decision.context["key_id"], answer["key_id"], "{label}");
                assert_eq!(
                    decision.context["cost"],
                    answer["cost"].to_string(),
                    "{label}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_metered_key_is_admitted_and_counted_as_the_authorizer_would() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify"]).await;
    let (_, limited) = app
        .new_key(
            &app.admin_key,
            json!({"name": "limited", "ratelimits": [{"name": "requests", "limit": 2, "window_secs": 86400}]}),
        )
        .await;
    // A check that spends nothing never moves the counter.
    let free = verify(
        &app,
        &service,
        json!({"key": limited, "route": Q2A, "cost": 0}),
    )
    .await;
    assert_eq!(free["code"], "VALID");
    for remaining in [1, 0] {
        let admitted = verify(&app, &service, json!({"key": limited, "route": Q2A})).await;
        assert_eq!(admitted["code"], "VALID", "{admitted}");
        assert_eq!(admitted["ratelimits"][0]["remaining"], remaining);
    }
    let refused = verify(&app, &service, json!({"key": limited, "route": Q2A})).await;
    assert_eq!(refused["valid"], false);
    assert_eq!(refused["code"], "RATE_LIMITED", "{refused}");
    assert_eq!(refused["ratelimits"][0]["remaining"], 0);

    let (_, budget) = app
        .new_key(
            &app.admin_key,
            json!({"name": "budget", "credits": {"remaining": 5}}),
        )
        .await;
    let spent = verify(&app, &service, json!({"key": budget, "cost": 5})).await;
    assert_eq!(spent["code"], "VALID", "{spent}");
    assert_eq!(spent["credits"]["remaining"], 0);
    let exhausted = verify(&app, &service, json!({"key": budget, "cost": 1})).await;
    assert_eq!(exhausted["code"], "USAGE_EXCEEDED", "{exhausted}");
    assert_eq!(exhausted["credits"]["remaining"], 0);

    let bad = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&service),
            Some(json!({"key": budget, "cost": -1})),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["field"], "cost");
}
