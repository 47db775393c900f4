//! The per-key network allowlist: a request from any other source address is refused with
//! 403 `IP_NOT_ALLOWED` in its surface's shape, by the authorizer (API Gateway's
//! `sourceIp`; the local server's peer), by keygate's functions verifying inline, and by the
//! verify API (its `ip` field); lists only narrow down a key's lineage. The test client
//! connects from 127.0.0.1; the sample events come from 203.0.113.7.

use keygate::authorizer::authorize;
use keygate_tests::{StatusCode, TestApp, authorizer_event, spawn_app};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::{Value, json};

async fn key_for(app: &TestApp, creator: &str, networks: &[&str]) -> (String, String) {
    app.new_key(
        creator,
        json!({"name": format!("from {}", networks.join(" ")), "allowed_ips": networks}),
    )
    .await
}

fn event_from(key: &str, source_ip: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event = authorizer_event(key);
    event.request_context.http.source_ip = Some(source_ip.to_owned());
    event
}

async fn verify(app: &TestApp, service: &str, body: Value) -> Value {
    let reply = app
        .call("POST", "/v1/keys/verify", Some(service), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn assert_ip_refused(reply: &keygate_tests::Reply) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(reply.body["code"], "IP_NOT_ALLOWED", "{}", reply.body);
}

#[tokio::test]
async fn the_authorizer_admits_only_requests_from_the_listed_networks() {
    let app = spawn_app().await;
    let (_, inside) = key_for(&app, &app.admin_key, &["203.0.113.0/24", "2001:db8::/32"]).await;
    let (_, outside) = key_for(&app, &app.admin_key, &["10.0.0.0/8"]).await;

    let admitted = authorize(&app.services, &authorizer_event(&inside)).await;
    assert!(admitted.is_authorized);
    assert_eq!(
        admitted.context["context_version"], "1",
        "{}",
        admitted.context
    );
    assert_eq!(
        admitted.context["keygate_allowed_ips"],
        "203.0.113.0/24 2001:db8::/32"
    );
    // IPv6 sources, and an IPv4 source written as IPv6.
    for (source, allowed) in [
        ("2001:db8:1::7", true),
        ("2001:db9::1", false),
        ("::ffff:203.0.113.9", true),
        ("198.51.100.1", false),
    ] {
        let decided = authorize(&app.services, &event_from(&inside, source)).await;
        assert_eq!(
            decided.context.get("keygate_denied").is_none(),
            allowed,
            "{source}: {}",
            decided.context
        );
    }

    let refused = authorize(&app.services, &authorizer_event(&outside)).await;
    assert!(refused.is_authorized, "the function answers the refusal");
    assert_eq!(refused.context, json!({"keygate_denied": "ip_not_allowed"}));
    // Its tokens are held to the same list: the token follows its key.
    let token = app
        .call("POST", "/v1/auth/tokens", Some(&outside), Some(json!({})))
        .await;
    assert_ip_refused(&token);

    // KEYGATE_AUTHORIZER_DENY=gateway: API Gateway answers the 403 itself.
    let gateway = keygate_tests::spawn_app_with(&[("KEYGATE_AUTHORIZER_DENY", "gateway")]).await;
    let (_, elsewhere) = key_for(&gateway, &gateway.admin_key, &["10.0.0.0/8"]).await;
    let denied = authorize(&gateway.services, &authorizer_event(&elsewhere)).await;
    assert!(!denied.is_authorized);
}

#[tokio::test]
async fn behind_the_local_authorizer_a_platform_route_refuses_other_addresses() {
    let app = spawn_app().await;
    let (_, local) = key_for(&app, &app.admin_key, &["127.0.0.1/32"]).await;
    let (_, remote) = key_for(&app, &app.admin_key, &["10.0.0.0/8"]).await;
    let question = json!({"question": "How many users signed up today?"});
    let asked = app
        .call(
            "POST",
            "/v1/single-turn/q2a",
            Some(&local),
            Some(question.clone()),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let refused = app
        .call("POST", "/v1/single-turn/q2a", Some(&remote), Some(question))
        .await;
    assert_ip_refused(&refused);
    assert_eq!(
        refused.headers["content-type"], "application/problem+json",
        "the platform function's own shape"
    );
}

#[tokio::test]
async fn keygate_s_functions_refuse_in_each_surface_s_shape() {
    let app = spawn_app().await;
    let (_, local) = key_for(&app, &app.admin_key, &["127.0.0.0/8", "::1"]).await;
    let (_, remote) = key_for(&app, &app.admin_key, &["10.0.0.0/8"]).await;

    // /v1, verified inline by the function: problem+json with the code.
    let me = app.call("GET", "/v1/auth/me", Some(&local), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["allowed_ips"], json!(["127.0.0.0/8", "::1/128"]));
    let refused = app.call("GET", "/v1/auth/me", Some(&remote), None).await;
    assert_ip_refused(&refused);
    assert_eq!(refused.body["type"], "urn:keygate:problem:ip-not-allowed");

    // Ask Sage: its envelope, the code leading the message.
    let asksage = app
        .send(
            "POST",
            "/user/get-user-logins",
            &[("x-access-tokens", &remote)],
            Some(json!({"limit": 5})),
        )
        .await;
    assert_eq!(asksage.status, StatusCode::FORBIDDEN, "{}", asksage.body);
    assert_eq!(asksage.body["status"], 403);
    assert!(
        asksage.body["response"]
            .as_str()
            .unwrap()
            .starts_with("IP_NOT_ALLOWED"),
        "{}",
        asksage.body
    );
    let allowed = app
        .send(
            "POST",
            "/user/get-user-logins",
            &[("x-access-tokens", &local)],
            Some(json!({"limit": 5})),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);

    // Cogniac: exchanging the key (`Authorization: Key`) is refused too, in `{"error"}`.
    let cogniac = app
        .send(
            "GET",
            "/1/token",
            &[("authorization", &format!("Key {remote}"))],
            None,
        )
        .await;
    assert_eq!(cogniac.status, StatusCode::FORBIDDEN, "{}", cogniac.body);
    assert!(
        cogniac.body["error"]
            .as_str()
            .unwrap()
            .starts_with("IP_NOT_ALLOWED"),
        "{}",
        cogniac.body
    );
    // And so is /v1's own exchange.
    let exchanged = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": remote})),
        )
        .await;
    assert_ip_refused(&exchanged);
}

#[tokio::test]
async fn behind_api_gateway_functions_answer_the_marker_and_check_a_direct_call() {
    let app = spawn_app().await;
    let (_, remote) = key_for(&app, &app.admin_key, &["10.0.0.0/8"]).await;
    let (_, sample) = key_for(&app, &app.admin_key, &["203.0.113.0/24"]).await;
    let router = keygate::routes::auth_group(app.services.clone());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/auth/me.json");
    let template = std::fs::read_to_string(path).unwrap();
    let event = |key: Option<&str>, context: Option<Value>| {
        let mut event: Value = serde_json::from_str(&template).unwrap();
        let headers = event["headers"].as_object_mut().unwrap();
        match key {
            Some(key) => headers.insert("x-api-key".into(), json!(key)),
            None => headers.remove("x-api-key"),
        };
        if let Some(context) = context {
            event["requestContext"]["authorizer"] = json!({ "lambda": context });
        }
        lambda_http::request::from_str(&event.to_string()).unwrap()
    };
    let status_and_body = |response: axum::response::Response| async move {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    };
    // The authorizer's marker becomes the function's 403 with the code.
    let marked = tower::ServiceExt::oneshot(
        router.clone(),
        event(None, Some(json!({"keygate_denied": "ip_not_allowed"}))),
    )
    .await
    .unwrap();
    let (status, body) = status_and_body(marked).await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "IP_NOT_ALLOWED", "{body}");
    // Without an authorizer (a function URL), the function checks `sourceIp` itself.
    let direct = tower::ServiceExt::oneshot(router.clone(), event(Some(&remote), None))
        .await
        .unwrap();
    let (status, body) = status_and_body(direct).await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "IP_NOT_ALLOWED", "{body}");
    let direct = tower::ServiceExt::oneshot(router, event(Some(&sample), None))
        .await
        .unwrap();
    assert_eq!(direct.status(), 200, "203.0.113.7 is within 203.0.113.0/24");
}

#[tokio::test]
async fn verify_takes_the_caller_s_address_and_answers_the_code() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify"]).await;
    let (_, key) = key_for(&app, &app.admin_key, &["203.0.113.0/24", "2001:db8::/32"]).await;
    let (_, anywhere) = app
        .new_key(&app.admin_key, json!({"name": "anywhere"}))
        .await;

    for (ip, code) in [
        ("203.0.113.7", "VALID"),
        ("2001:db8::42", "VALID"),
        ("198.51.100.1", "IP_NOT_ALLOWED"),
        ("2001:db9::1", "IP_NOT_ALLOWED"),
    ] {
        let verdict = verify(&app, &service, json!({"key": key, "ip": ip})).await;
        assert_eq!(verdict["code"], code, "{ip}: {verdict}");
        assert_eq!(verdict["valid"], code == "VALID");
    }
    // A credential held to some networks needs the address to be judged.
    let unsaid = verify(&app, &service, json!({"key": key})).await;
    assert_eq!(unsaid["code"], "IP_NOT_ALLOWED", "{unsaid}");
    // One usable from anywhere is valid with or without it.
    let open = verify(&app, &service, json!({"key": anywhere})).await;
    assert_eq!(open["code"], "VALID");
    let open = verify(
        &app,
        &service,
        json!({"key": anywhere, "ip": "198.51.100.1"}),
    )
    .await;
    assert_eq!(open["code"], "VALID");
    // An `ip` that is no address is the client's error.
    let bad = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&service),
            Some(json!({"key": key, "ip": "not-an-address"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.body["field"], "ip");
}

#[tokio::test]
async fn bad_lists_are_a_400_naming_the_entry() {
    let app = spawn_app().await;
    let (id, _) = app.new_key(&app.admin_key, json!({"name": "target"})).await;
    let twenty_one: Vec<String> = (0..21).map(|i| format!("10.{i}.0.0/16")).collect();
    let cases = [
        (json!(["10.0.0.0/8", "10.0.0.0/33"]), "allowed_ips[1]"),
        (json!(["2001:db8::/129"]), "allowed_ips[0]"),
        (json!(["300.1.2.3"]), "allowed_ips[0]"),
        (json!(["2001:db8:::1"]), "allowed_ips[0]"),
        (json!(["example.com"]), "allowed_ips[0]"),
        (json!([]), "allowed_ips"),
        (json!(twenty_one), "allowed_ips"),
    ];
    for (networks, field) in cases {
        let created = app
            .call(
                "POST",
                "/v1/api-keys",
                Some(&app.admin_key),
                Some(json!({"name": "bad", "allowed_ips": networks})),
            )
            .await;
        assert_eq!(created.status, StatusCode::BAD_REQUEST, "{networks}");
        assert_eq!(created.body["field"], field, "{networks}: {}", created.body);
        let patched = app
            .call(
                "PATCH",
                &format!("/v1/api-keys/{id}"),
                Some(&app.admin_key),
                Some(json!({"allowed_ips": networks})),
            )
            .await;
        assert_eq!(patched.status, StatusCode::BAD_REQUEST, "{networks}");
        assert_eq!(patched.body["field"], field, "{networks}: {}", patched.body);
    }
    // A list of the wrong JSON type is the 422 of every wrong type, naming it too.
    let typed = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "bad", "allowed_ips": "10.0.0.0/8"})),
        )
        .await;
    assert_eq!(
        typed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        typed.body
    );
    assert_eq!(typed.body["field"], "allowed_ips", "{}", typed.body);
    // IPv6 and bare addresses are read back as networks, host bits dropped, sorted.
    let (id, _) = key_for(
        &app,
        &app.admin_key,
        &["2001:DB8::1/32", "192.0.2.9", "::1", "10.1.2.3/8"],
    )
    .await;
    let read = app.read_key(&app.admin_key, &id).await;
    assert_eq!(
        read.body["allowed_ips"],
        json!(["10.0.0.0/8", "192.0.2.9/32", "::1/128", "2001:db8::/32"])
    );
}

#[tokio::test]
async fn lists_narrow_down_the_lineage() {
    let app = spawn_app().await;
    let (parent_id, parent) = key_for(&app, &app.admin_key, &["127.0.0.0/8"]).await;

    // A derived key's list lies within its parent's, or the creation is refused.
    let (_, narrower) = key_for(&app, &parent, &["127.0.0.1/32"]).await;
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&narrower), None)
            .await
            .body["allowed_ips"],
        json!(["127.0.0.1/32"])
    );
    let wider = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&parent),
            Some(json!({"name": "wider", "allowed_ips": ["127.0.0.1/32", "10.0.0.0/8"]})),
        )
        .await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST, "{}", wider.body);
    assert_eq!(wider.body["field"], "allowed_ips");
    assert!(
        wider.body["detail"]
            .as_str()
            .unwrap()
            .contains("10.0.0.0/8")
    );

    // A key with no list of its own is held to its parent's: the effective list is the
    // intersection of every list in the chain, as the parent's is now.
    let (unlisted_id, unlisted) = app.new_key(&parent, json!({"name": "unlisted"})).await;
    let read = app.read_key(&app.admin_key, &unlisted_id).await;
    assert_eq!(read.body["allowed_ips"], Value::Null, "its own record");
    let me = app.call("GET", "/v1/auth/me", Some(&unlisted), None).await;
    assert_eq!(me.body["allowed_ips"], json!(["127.0.0.0/8"]));
    let moved = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{parent_id}"),
            Some(&app.admin_key),
            Some(json!({"allowed_ips": ["10.0.0.0/8"]})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    for credential in [&parent, &unlisted, &narrower] {
        assert_ip_refused(&app.call("GET", "/v1/auth/me", Some(credential), None).await);
    }
    let context = authorize(&app.services, &authorizer_event(&unlisted))
        .await
        .context;
    assert_eq!(context, json!({"keygate_denied": "ip_not_allowed"}));

    // A caller held to some networks can neither lift a key's list nor widen it, nor change
    // a key open to more addresses than it is.
    let (_, local) = key_for(&app, &app.admin_key, &["127.0.0.0/8"]).await;
    let (target_id, _) = key_for(&app, &app.admin_key, &["127.0.0.1/32"]).await;
    for (networks, field) in [
        (json!(null), "allowed_ips"),
        (json!(["192.0.2.0/24"]), "allowed_ips"),
    ] {
        let refused = app
            .call(
                "PATCH",
                &format!("/v1/api-keys/{target_id}"),
                Some(&local),
                Some(json!({"allowed_ips": networks})),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_eq!(refused.body["field"], field);
    }
    let (open_id, _) = app.new_key(&app.admin_key, json!({"name": "open"})).await;
    let refused = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{open_id}"),
            Some(&local),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // Nor set a password (a password signs in from anywhere).
    let password = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&local),
            Some(json!({"new_password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(password.status, StatusCode::FORBIDDEN, "{}", password.body);
    // A caller usable from anywhere lifts the list.
    let lifted = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{target_id}"),
            Some(&app.admin_key),
            Some(json!({"allowed_ips": null})),
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.body);
    assert_eq!(lifted.body["allowed_ips"], Value::Null);
}

#[tokio::test]
async fn a_temp_token_may_carry_a_list_of_its_own_within_its_minter_s() {
    let app = spawn_app().await;
    let (_, key) = key_for(&app, &app.admin_key, &["127.0.0.0/8"]).await;
    let mint = |credential: String, body: Value| {
        let app = &app;
        async move {
            app.call("POST", "/v1/auth/tokens", Some(&credential), Some(body))
                .await
        }
    };
    let here = mint(key.clone(), json!({"allowed_ips": ["127.0.0.1/32"]})).await;
    assert_eq!(here.status, StatusCode::OK, "{}", here.body);
    let here = here.body["token"].as_str().unwrap().to_owned();
    let me = app.call("GET", "/v1/auth/me", Some(&here), None).await;
    assert_eq!(
        me.body["allowed_ips"],
        json!(["127.0.0.1/32"]),
        "{}",
        me.body
    );
    // A token minted by it without a list keeps its list; a wider one is refused.
    let inherits = mint(here.clone(), json!({})).await;
    let inherits = inherits.body["token"].as_str().unwrap().to_owned();
    let me = app.call("GET", "/v1/auth/me", Some(&inherits), None).await;
    assert_eq!(me.body["allowed_ips"], json!(["127.0.0.1/32"]));
    let wider = mint(here.clone(), json!({"allowed_ips": ["127.0.0.0/8"]})).await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST, "{}", wider.body);
    assert_eq!(wider.body["field"], "allowed_ips");
    let outside_key = mint(key.clone(), json!({"allowed_ips": ["10.0.0.0/8"]})).await;
    assert_eq!(outside_key.status, StatusCode::BAD_REQUEST);
    // A token of an open key held to another network is refused from here.
    let elsewhere = mint(
        app.admin_key.clone(),
        json!({"allowed_ips": ["2001:db8::/32"]}),
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);
    let elsewhere = elsewhere.body["token"].as_str().unwrap();
    assert_ip_refused(&app.call("GET", "/v1/auth/me", Some(elsewhere), None).await);
    let admitted = authorize(&app.services, &event_from(elsewhere, "2001:db8::9")).await;
    assert_eq!(
        admitted.context["keygate_allowed_ips"], "2001:db8::/32",
        "{}",
        admitted.context
    );
}

#[tokio::test]
async fn a_rolled_key_s_successor_keeps_its_list() {
    let app = spawn_app().await;
    let (id, _) = key_for(&app, &app.admin_key, &["10.0.0.0/8"]).await;
    let rolled = app
        .call(
            "POST",
            &format!("/v1/api-keys/{id}/roll"),
            Some(&app.admin_key),
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    assert_eq!(rolled.body["allowed_ips"], json!(["10.0.0.0/8"]));
    let successor = rolled.body["key"].as_str().unwrap();
    assert_ip_refused(&app.call("GET", "/v1/auth/me", Some(successor), None).await);
    let trail = app.audit(&app.admin_key, "type=key.created&limit=50").await;
    assert!(
        trail.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["detail"]["allowed_ips"] == json!(["10.0.0.0/8"])),
        "{}",
        trail.body
    );
}
