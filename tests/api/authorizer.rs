//! The Lambda authorizer on sample API Gateway events (events/authorizer/request.json).

use keygate::authorizer::authorize;
use keygate_tests::spawn_app;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::{Value, json};

fn event_with(header: Option<(&str, &str)>) -> ApiGatewayV2CustomAuthorizerV2Request {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/authorizer/request.json"
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("x-api-key");
    if let Some((name, value)) = header {
        headers.insert(name.to_owned(), json!(value));
    }
    serde_json::from_value(event).expect("a valid authorizer event")
}

#[tokio::test]
async fn allows_valid_credentials_with_the_caller_in_context() {
    let app = spawn_app().await;
    let token = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&app.admin_key),
            Some(json!({"chat_role": {"role_id": "7"}})),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {token}");
    for header in [
        ("x-api-key", app.admin_key.as_str()),
        ("X-Access-Tokens", app.admin_key.as_str()),
        ("Authorization", bearer.as_str()),
    ] {
        let response = authorize(&app.services, &event_with(Some(header))).await;
        assert!(response.is_authorized, "{header:?}");
        assert_eq!(response.context["tenant_id"], app.tenant_id.as_str());
        assert_eq!(response.context["user_id"], app.admin_id.as_str());
        assert_eq!(
            response.context["scopes"],
            "chat read write admin verify usage"
        );
        assert_eq!(response.context["context_version"], "1");
    }
    let response = authorize(&app.services, &event_with(Some(("authorization", &bearer)))).await;
    assert_eq!(response.context["kind"], "access_token");
    assert_eq!(response.context["chat_role"], r#"{"role_id":"7"}"#);
}

#[tokio::test]
async fn denies_each_failure_class() {
    let app = spawn_app().await;
    let (id, revoked) = app.new_key(&app.admin_key, json!({"name": "doomed"})).await;
    app.call(
        "DELETE",
        &format!("/v1/api-keys/{id}"),
        Some(&app.admin_key),
        None,
    )
    .await;
    let unknown = keygate_tests::unknown_api_key();
    let mut typo = app.admin_key.clone();
    typo.replace_range(10..11, if &typo[10..11] == "A" { "B" } else { "A" });
    let expired = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&app.admin_key),
            Some(json!({"token_ttl": 1})),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    let cases: [(&str, Option<(&str, &str)>); 6] = [
        ("missing", None),
        ("malformed", Some(("x-api-key", "not-a-key"))),
        ("checksum", Some(("x-api-key", typo.as_str()))),
        ("unknown", Some(("x-api-key", unknown.as_str()))),
        ("revoked", Some(("x-api-key", revoked.as_str()))),
        ("expired", Some(("x-access-tokens", expired.as_str()))),
    ];
    // Default: the request passes with only a denial marker; the function answers 401.
    for (class, header) in &cases {
        let response = authorize(&app.services, &event_with(*header)).await;
        assert_eq!(
            response.context,
            json!({"keygate_denied": "unauthenticated"}),
            "{class}"
        );
        assert!(response.context.get("user_id").is_none(), "{class}");
    }
    // KEYGATE_AUTHORIZER_DENY=gateway: a plain deny, no context.
    let gateway = keygate_tests::spawn_app_with(&[("KEYGATE_AUTHORIZER_DENY", "gateway")]).await;
    for (class, header) in &cases {
        let response = authorize(&gateway.services, &event_with(*header)).await;
        assert!(!response.is_authorized, "{class}");
        assert_eq!(response.context, Value::Null, "{class}: no context on deny");
    }
}

#[tokio::test]
async fn functions_trust_the_context_and_answer_the_denial_marker_with_401() {
    let app = spawn_app().await;
    let router = keygate::routes::auth_group(app.services.clone());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/auth/me.json");
    let template = std::fs::read_to_string(path).unwrap();
    let with_context = |context: Value| {
        let mut event: Value = serde_json::from_str(&template).unwrap();
        event["headers"]
            .as_object_mut()
            .unwrap()
            .remove("x-api-key");
        event["requestContext"]["authorizer"] = json!({ "lambda": context });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    };
    let allowed = authorize(
        &app.services,
        &event_with(Some(("x-api-key", &app.admin_key))),
    )
    .await;
    let response = tower::ServiceExt::oneshot(router.clone(), with_context(allowed.context))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the context alone authenticates");
    let denied = tower::ServiceExt::oneshot(
        router.clone(),
        with_context(json!({"keygate_denied": "unauthenticated"})),
    )
    .await
    .unwrap();
    assert_eq!(denied.status(), 401);
    // The authorizer's store failures keep their class: 503 to retry, 500 for a refusal.
    for (class, status) in [("unavailable", 503), ("internal", 500)] {
        let failed = tower::ServiceExt::oneshot(
            router.clone(),
            with_context(json!({"keygate_denied": class})),
        )
        .await
        .unwrap();
        assert_eq!(failed.status(), status, "{class}");
    }
    let foreign = tower::ServiceExt::oneshot(router, with_context(json!({"user": "someone"})))
        .await
        .unwrap();
    assert_eq!(
        foreign.status(),
        401,
        "a context that is not keygate's is never trusted"
    );
}

/// An event for `method` carrying `cookies` and extra headers.
fn browser_event(
    method: &str,
    cookies: &[String],
    headers: &[(&str, &str)],
) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event = serde_json::to_value(event_with(None)).unwrap();
    event["cookies"] = json!(cookies);
    event["requestContext"]["http"]["method"] = json!(method);
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn accepts_session_cookies_and_cogniac_keys_and_checks_the_origin() {
    let app = spawn_app().await;
    app.new_user_with_password("ada@example.com", "correct horse battery")
        .await;
    let session = app
        .sign_in("ada@example.com", "correct horse battery")
        .await;
    let cookies = vec![
        "theme=dark".to_owned(),
        format!("keygate_session={session}"),
    ];

    let read = authorize(&app.services, &browser_event("GET", &cookies, &[])).await;
    assert!(read.is_authorized);
    assert_eq!(read.context["kind"], "session");
    let write = browser_event("POST", &cookies, &[("origin", "https://app.example.com")]);
    assert!(authorize(&app.services, &write).await.is_authorized);
    for origin in [None, Some("https://evil.example")] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let forged = browser_event("DELETE", &cookies, &headers);
        let response = authorize(&app.services, &forged).await;
        assert_eq!(
            response.context,
            json!({
                "keygate_denied": "forbidden",
                "keygate_reason": "a request authenticated by a session cookie alone must come from an allowed Origin"
            }),
            "{origin:?}"
        );
    }

    // The API's own origin (API Gateway's domain name, https) needs no configuration.
    let own = browser_event(
        "PATCH",
        &cookies,
        &[(
            "origin",
            "https://abcdef123.execute-api.us-east-1.amazonaws.com",
        )],
    );
    assert!(authorize(&app.services, &own).await.is_authorized);
    let plain_http = browser_event(
        "PATCH",
        &cookies,
        &[(
            "origin",
            "http://abcdef123.execute-api.us-east-1.amazonaws.com",
        )],
    );
    assert_eq!(
        authorize(&app.services, &plain_http).await.context["keygate_denied"],
        "forbidden"
    );

    let key_id = &app.admin_key[3..29];
    let cogniac = format!("Key {key_id}:{}", app.admin_key);
    let response = authorize(
        &app.services,
        &event_with(Some(("Authorization", &cogniac))),
    )
    .await;
    assert!(response.is_authorized);
    assert_eq!(response.context["kind"], "api_key");
}

/// What another instance's authorizer says of `credential` now: its context.
async fn context_on(services: &keygate::services::Services, credential: &str) -> Value {
    authorize(services, &event_with(Some(("x-api-key", credential))))
        .await
        .context
}

#[tokio::test]
async fn another_instance_sees_a_revoke_pause_narrowing_or_earlier_expiry_on_its_next_request() {
    let app = spawn_app().await;
    // The authorizer runs on its own instance: its own DynamoDB client, its own memory.
    let authorizer = app.other_instance(&[]).await;
    let created = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "k", "scopes": ["chat", "read", "write"]})),
        )
        .await;
    let key_id = created.body["id"].as_str().unwrap().to_owned();
    let key = created.body["key"].as_str().unwrap().to_owned();
    let token = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": key})),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/api-keys/{key_id}");
    let patch = |body: Value| {
        let (app, path) = (&app, &path);
        async move {
            let reply = app
                .call("PATCH", path, Some(&app.admin_key), Some(body))
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    };
    for credential in [&key, &token] {
        assert_eq!(
            context_on(&authorizer, credential).await["scopes"],
            "chat read write"
        );
    }

    patch(json!({"scopes": ["read"]})).await;
    for credential in [&key, &token] {
        assert_eq!(context_on(&authorizer, credential).await["scopes"], "read");
    }

    let soon = keygate::domain::clock::now_epoch() + 1800;
    patch(json!({"expires_at": keygate::domain::clock::to_rfc3339(soon)})).await;
    for credential in [&key, &token] {
        assert_eq!(
            context_on(&authorizer, credential).await["expires_at"],
            soon.to_string()
        );
    }

    let denied = json!({"keygate_denied": "unauthenticated"});
    patch(json!({"is_active": false})).await;
    for credential in [&key, &token] {
        assert_eq!(context_on(&authorizer, credential).await, denied, "paused");
    }
    patch(json!({"is_active": true})).await;
    assert_eq!(context_on(&authorizer, &token).await["scopes"], "read");

    let revoked = app.call("DELETE", &path, Some(&app.admin_key), None).await;
    assert_eq!(revoked.status, 200);
    for credential in [&key, &token] {
        assert_eq!(context_on(&authorizer, credential).await, denied, "revoked");
    }
}

#[tokio::test]
async fn verifying_is_one_strongly_consistent_read() {
    let (app, faults) = keygate_tests::spawn_app_with_faults().await;
    let exchange = |key: String| {
        let app = &app;
        async move {
            app.call(
                "POST",
                "/v1/auth/token",
                None,
                Some(json!({"email": app.admin_email, "api_key": key})),
            )
            .await
            .body["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let token = exchange(app.admin_key.clone()).await;
    // A key created by the bootstrap key, and one created by that key: each verification
    // reads the credential and every key it follows, still in one request.
    let (_, child) = app.new_key(&app.admin_key, json!({"name": "child"})).await;
    let (_, grandchild) = app.new_key(&child, json!({"name": "grandchild"})).await;
    let grandchild_token = exchange(grandchild.clone()).await;
    faults.take_seen();
    // Each also reads its owner's budgets: the user's and the tenant's (two items more).
    for (credential, items) in [
        (&token, 2 + 2),
        (&app.admin_key, 1 + 2),
        (&child, 2 + 2),
        (&grandchild, 3 + 2),
        (&grandchild_token, 4 + 2),
    ] {
        let response = authorize(
            &app.services,
            &event_with(Some(("x-api-key", credential.as_str()))),
        )
        .await;
        assert!(response.is_authorized);
        let reads: Vec<_> = faults
            .take_seen()
            .into_iter()
            .filter(|(operation, _)| operation != "UpdateItem") // the last-use stamp
            .collect();
        assert_eq!(reads.len(), 1, "one round trip: {reads:?}");
        let (operation, body) = &reads[0];
        assert_eq!(operation, "BatchGetItem");
        let request = &body["RequestItems"][app.services.store.table()];
        assert_eq!(request["ConsistentRead"], json!(true));
        assert_eq!(
            request["Keys"].as_array().map(Vec::len),
            Some(items),
            "the credential, every key it follows and its owner's budgets: {request}"
        );
    }
}

/// Writes the bootstrap key's `last_used_at` directly, as another instance would have.
async fn set_last_used(app: &keygate_tests::TestApp, at: i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    use keygate::store::keys;
    app.services
        .store
        .client()
        .update_item()
        .table_name(app.services.store.table())
        .key(
            "PK",
            AttributeValue::S(keys::api_key(&app.admin_key[3..29])),
        )
        .key("SK", AttributeValue::S(keys::API_KEY_SK.to_owned()))
        .update_expression("SET last_used_at = :at")
        .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
        .send()
        .await
        .expect("the stamp is written");
}

#[tokio::test]
async fn cold_instances_rewrite_a_last_use_stamp_at_most_once_and_only_when_it_is_old() {
    let (app, faults) = keygate_tests::spawn_app_with_faults().await;
    let endpoint = app.services.config.dynamodb_endpoint.clone().unwrap();
    let stamps_by_new_instances = || async {
        faults.take_seen();
        for _ in 0..3 {
            let cold = app
                .other_instance(&[("KEYGATE_DYNAMODB_ENDPOINT", &endpoint)])
                .await;
            let response = authorize(&cold, &event_with(Some(("x-api-key", &app.admin_key)))).await;
            assert!(response.is_authorized);
        }
        faults
            .take_seen()
            .iter()
            .filter(|(operation, _)| operation == "UpdateItem")
            .count()
    };
    let now = keygate::domain::clock::now_epoch();
    // Used 100 s ago: within the resolution (5 min + jitter), so nobody writes.
    set_last_used(&app, now - 100).await;
    assert_eq!(stamps_by_new_instances().await, 0);
    // Used 11 min ago: past resolution + jitter. The first cold instance writes; the others
    // read the fresh stamp with the key and do not.
    set_last_used(&app, now - 660).await;
    assert_eq!(stamps_by_new_instances().await, 1);
}
