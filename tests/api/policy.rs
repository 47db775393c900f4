//! The route policy, through the local server (which applies it in caller resolution and in
//! front of the example platform function) and through the authorizer's code path with API
//! Gateway v2 events.

use keygate::authorizer::authorize;
use keygate::config::SHIPPED_ROUTE_POLICY;
use keygate::domain::route_policy::{Matched, RoutePolicy};
use keygate::routes::KEYGATE_ROUTES;
use keygate_tests::{TestApp, spawn_app, spawn_app_with};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::{Value, json};
use tower::ServiceExt;

fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// events/authorizer/request.json, for `route_key` (its method and path) and a credential.
fn authorizer_event(
    route_key: &str,
    path: &str,
    key: Option<&str>,
) -> ApiGatewayV2CustomAuthorizerV2Request {
    let text = std::fs::read_to_string(events_dir().join("authorizer/request.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let method = route_key.split(' ').next().unwrap();
    event["routeKey"] = json!(route_key);
    event["rawPath"] = json!(path);
    event["requestContext"]["routeKey"] = json!(route_key);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("x-api-key");
    if let Some(key) = key {
        headers.insert("authorization".into(), json!(format!("Bearer {key}")));
    }
    serde_json::from_value(event).expect("a valid authorizer event")
}

/// An events/platform-function sample delivered with `context` as the authorizer's.
async fn platform_call(event: &str, context: &Value) -> (u16, Option<String>, Value) {
    let text =
        std::fs::read_to_string(events_dir().join(format!("platform-function/{event}.json")))
            .unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    event["requestContext"]["authorizer"] = json!({ "lambda": context });
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = platform_function::routes().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

/// An asker key with `chat`, an admin key with only `read`, and a temp token minted from the
/// asker key with a chat role, role variables and a user profile.
async fn credentials(app: &TestApp) -> (String, String, String) {
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
    let token = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&asker),
            Some(json!({
                "chat_role": {"role_id": "1", "role_variables": {"id": "42"}},
                "user_profile": {"name": "Zhang San"},
                "token_ttl": 900
            })),
        )
        .await;
    assert_eq!(token.status, 200, "{}", token.body);
    let token = token.body["token"].as_str().unwrap().to_owned();
    (asker, reader, token)
}

fn assert_problem(reply: &keygate_tests::Reply, status: u16, detail: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "{}",
        reply.body
    );
    assert_eq!(reply.body["status"], status);
    assert_eq!(reply.body["detail"], detail, "{}", reply.body);
}

#[tokio::test]
async fn through_the_local_server_askers_reach_what_the_policy_grants_and_nothing_else() {
    let app = spawn_app().await;
    let (asker, reader, token) = credentials(&app).await;
    let question = json!({"question": "How many users signed up today?"});

    let asked = app
        .call(
            "POST",
            "/v1/single-turn/q2a",
            Some(&token),
            Some(question.clone()),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_eq!(asked.body["asked_by"]["key_type"], "asker");
    assert_eq!(asked.body["asked_by"]["credential_kind"], "access_token");
    assert_eq!(asked.body["asked_by"]["tenant_id"], app.tenant_id.as_str());
    assert_eq!(asked.body["chat_role"]["role_id"], "1");
    assert_eq!(asked.body["chat_role"]["role_variables"]["id"], "42");
    assert_eq!(asked.body["user_profile"]["name"], "Zhang San");
    assert_eq!(asked.body["metering"]["cost"], 1);
    let asked = app
        .call(
            "POST",
            "/v1/single-turn/q2a",
            Some(&asker),
            Some(question.clone()),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let bot = app.call("GET", "/v1/bots/7", Some(&asker), None).await;
    assert_eq!(bot.status, 200, "{}", bot.body);
    assert_eq!(bot.body["id"], "7");

    // Not granted to askers: the default rule refuses them, in problem+json.
    let refused = app.call("DELETE", "/v1/bots/7", Some(&asker), None).await;
    assert_problem(&refused, 403, "asker credentials may not call this route");
    // An admin key without the required scope.
    let refused = app
        .call(
            "POST",
            "/v1/single-turn/q2a",
            Some(&reader),
            Some(question.clone()),
        )
        .await;
    assert_problem(&refused, 403, "this route needs the 'chat' scope");
    let refused = app.call("DELETE", "/v1/bots/7", Some(&reader), None).await;
    assert_problem(&refused, 403, "this route needs the 'chat' scope");
    let deleted = app
        .call("DELETE", "/v1/bots/7", Some(&app.admin_key), None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    // No credential: 401; a public route needs none.
    let missing = app
        .call("POST", "/v1/single-turn/q2a", None, Some(question))
        .await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.headers["content-type"], "application/problem+json");
    let status = app.call("GET", "/v1/platform/status", None, None).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["status"], "ok");

    // keygate's own routes keep their own checks, and the policy agrees with them.
    let me = app.call("GET", "/v1/auth/me", Some(&asker), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let chats = app.call("GET", "/v1/chats", Some(&asker), None).await;
    assert_eq!(chats.status, 200, "{}", chats.body);
    let keys = app.call("GET", "/v1/api-keys", Some(&asker), None).await;
    assert_eq!(keys.status, 403, "{}", keys.body);
    let keys = app.call("GET", "/v1/api-keys", Some(&reader), None).await;
    assert_eq!(
        keys.status, 200,
        "the default rule does not reach keygate's routes"
    );
}

#[tokio::test]
async fn the_local_server_in_gateway_mode_answers_as_api_gateway_and_follows_a_given_policy() {
    let policy = r#"{"routes": [{"route": "POST /v1/single-turn/q2a", "key_types": ["admin"], "scopes": ["write"]}]}"#;
    let app = spawn_app_with(&[
        ("KEYGATE_AUTHORIZER_DENY", "gateway"),
        ("KEYGATE_ROUTE_POLICY", policy),
    ])
    .await;
    let (asker, _, _) = credentials(&app).await;
    let body = json!({"question": "q"});
    let refused = app
        .call(
            "POST",
            "/v1/single-turn/q2a",
            Some(&asker),
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, json!({"message": "Forbidden"}));
    let admitted = app
        .call(
            "POST",
            "/v1/single-turn/q2a",
            Some(&app.admin_key),
            Some(body),
        )
        .await;
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    // This policy names no bots route: the default (admin keys with chat) applies.
    let bot = app.call("GET", "/v1/bots/1", Some(&asker), None).await;
    assert_eq!(bot.status, 403);
}

#[tokio::test]
async fn through_the_authorizer_the_policy_admits_refuses_and_the_function_answers() {
    let app = spawn_app().await;
    let (asker, reader, token) = credentials(&app).await;

    let admitted = authorize(
        &app.services,
        &authorizer_event(
            "POST /v1/single-turn/q2a",
            "/v1/single-turn/q2a",
            Some(&token),
        ),
    )
    .await;
    assert!(admitted.is_authorized);
    assert_eq!(admitted.context["context_version"], "1");
    assert_eq!(admitted.context["route"], "POST /v1/single-turn/q2a");
    assert_eq!(admitted.context["cost"], "1");
    assert_eq!(admitted.context["chat_role_id"], "1");
    assert_eq!(admitted.context["role_variables"], r#"{"id":"42"}"#);
    let (status, _, body) = platform_call("q2a", &admitted.context).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["asked_by"]["key_type"], "asker");
    assert_eq!(body["chat_role"]["role_variables"]["id"], "42");
    assert_eq!(body["user_profile"]["name"], "Zhang San");

    let bot = authorize(
        &app.services,
        &authorizer_event("GET /v1/bots/{id}", "/v1/bots/42", Some(&asker)),
    )
    .await;
    assert!(bot.is_authorized);
    assert_eq!(platform_call("get-bot", &bot.context).await.0, 200);

    // Refused: the default deny mode lets the function answer 403 in problem+json.
    let refused = authorize(
        &app.services,
        &authorizer_event("DELETE /v1/bots/{id}", "/v1/bots/42", Some(&asker)),
    )
    .await;
    assert_eq!(
        refused.context,
        json!({"keygate_denied": "forbidden", "keygate_reason": "asker credentials may not call this route"})
    );
    let (status, content_type, body) = platform_call("delete-bot", &refused.context).await;
    assert_eq!(status, 403);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["detail"], "asker credentials may not call this route");
    // An admin key without the route's scope.
    let refused = authorize(
        &app.services,
        &authorizer_event(
            "POST /v1/single-turn/q2a",
            "/v1/single-turn/q2a",
            Some(&reader),
        ),
    )
    .await;
    assert_eq!(
        refused.context["keygate_reason"],
        "this route needs the 'chat' scope"
    );
    // No credential: 401 from the function.
    let missing = authorize(
        &app.services,
        &authorizer_event("POST /v1/single-turn/q2a", "/v1/single-turn/q2a", None),
    )
    .await;
    assert_eq!(
        missing.context,
        json!({"keygate_denied": "unauthenticated"})
    );
    assert_eq!(platform_call("q2a", &missing.context).await.0, 401);
    // A public route needs no credential (and reads none).
    let public = authorize(
        &app.services,
        &authorizer_event("GET /v1/platform/status", "/v1/platform/status", None),
    )
    .await;
    assert!(public.is_authorized);
    assert_eq!(public.context["public"], "true");
    assert!(public.context.get("user_id").is_none());
    // A path behind a named stage is matched without the stage.
    let mut staged = authorizer_event("DELETE /v1/bots/{id}", "/prod/v1/bots/42", Some(&asker));
    staged.request_context.stage = Some("prod".into());
    staged.route_key = Some("$default".into());
    assert_eq!(
        authorize(&app.services, &staged).await.context["keygate_denied"],
        "forbidden"
    );

    // KEYGATE_AUTHORIZER_DENY=gateway: API Gateway answers the refusal.
    let gateway = spawn_app_with(&[("KEYGATE_AUTHORIZER_DENY", "gateway")]).await;
    let (asker, reader, _) = credentials(&gateway).await;
    for (route_key, path, key) in [
        ("DELETE /v1/bots/{id}", "/v1/bots/42", &asker),
        ("POST /v1/single-turn/q2a", "/v1/single-turn/q2a", &reader),
    ] {
        let response = authorize(
            &gateway.services,
            &authorizer_event(route_key, path, Some(key)),
        )
        .await;
        assert!(!response.is_authorized, "{route_key}");
        assert_eq!(response.context, Value::Null);
    }
    let allowed = authorize(
        &gateway.services,
        &authorizer_event(
            "POST /v1/single-turn/q2a",
            "/v1/single-turn/q2a",
            Some(&asker),
        ),
    )
    .await;
    assert!(allowed.is_authorized);
}

/// Every route keygate serves (each has a sample in events/) is one of keygate's own routes,
/// and the shipped policy either leaves it to its function or names it consistently.
#[test]
fn every_keygate_route_is_left_to_its_function_or_named_consistently() {
    let shipped = RoutePolicy::parse(SHIPPED_ROUTE_POLICY, KEYGATE_ROUTES).unwrap();
    let bare = RoutePolicy::parse("{}", KEYGATE_ROUTES).unwrap();
    let mut checked = 0;
    for folder in std::fs::read_dir(events_dir()).unwrap() {
        let folder = folder.unwrap().path();
        let function = folder.file_name().unwrap().to_string_lossy().into_owned();
        // The notifier's events are a stream batch and a sweep, not requests.
        if ["authorizer", "platform-function", "notifier"].contains(&function.as_str()) {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let event: Value =
                serde_json::from_str(&std::fs::read_to_string(file.unwrap().path()).unwrap())
                    .unwrap();
            let method = event["requestContext"]["http"]["method"].as_str().unwrap();
            let path = event["rawPath"].as_str().unwrap();
            let Matched::Keygate(own) = bare.matching(method, path) else {
                panic!("{method} {path} is not among keygate's own routes");
            };
            match shipped.matching(method, path) {
                Matched::Keygate(same) => assert_eq!(same, own),
                Matched::Rule(rule) => own.agrees_with(&rule.access).unwrap_or_else(|reason| {
                    panic!(
                        "{method} {path}: {} disagrees: {reason}",
                        rule.pattern.as_str()
                    )
                }),
                Matched::Default(_) => panic!("{method} {path} fell to the default rule"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 55, "only {checked} routes");
    // And every route template.yaml gives keygate's functions (the example's are the platform's).
    let template =
        std::fs::read_to_string(events_dir().join("../template.yaml")).expect("template.yaml");
    let platform = template
        .find("  PlatformFunction:")
        .expect("the example is declared");
    let platform_end = template[platform..]
        .find("\n\n")
        .map_or(template.len(), |e| platform + e);
    let mut declared = 0;
    for (at, line) in template.match_indices(", Method: ") {
        if (platform..platform_end).contains(&at) {
            continue;
        }
        let rest = &template[at + line.len()..];
        let method = rest.split(',').next().unwrap();
        let path = rest.split("Path: ").nth(1).unwrap();
        let path = match path.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap(),
            None => path.split([',', ' ']).next().unwrap(),
        };
        let concrete = path.replace("{proxy+}", "x/y").replace(['{', '}'], "");
        let method = if method == "ANY" { "GET" } else { method };
        assert!(
            matches!(bare.matching(method, &concrete), Matched::Keygate(_)),
            "template route {method} {path} is not among keygate's own routes"
        );
        declared += 1;
    }
    assert!(declared >= 29, "only {declared} template routes");
    // The shipped policy names some of keygate's routes (AskTable's asker list).
    assert!(matches!(
        shipped.matching("GET", "/v1/auth/me"),
        Matched::Rule(_)
    ));
}

#[tokio::test]
async fn a_function_parses_the_policy_on_first_use_and_a_bad_one_is_a_500_not_a_crash() {
    // The authorizer and the local binary refuse a bad policy at init (functions/authorizer
    // tests/init.rs); the functions behind the authorizer parse it only when called without
    // its context. Then a bad policy is keygate's fault: a logged 500, in the surface's shape.
    let app = spawn_app_with(&[(
        "KEYGATE_ROUTE_POLICY",
        r#"{"routes": [{"route": "GET /x", "scopes": ["chatt"]}]}"#,
    )])
    .await;
    let refused = app
        .call(
            "POST",
            "/v1/single-turn/q2a",
            Some(&app.admin_key),
            Some(json!({"question": "q"})),
        )
        .await;
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert_eq!(refused.body["title"], "Internal Server Error");
    // keygate's own routes consult it too when no authorizer context comes with the call.
    let keys = app
        .call("GET", "/v1/api-keys", Some(&app.admin_key), None)
        .await;
    assert_eq!(keys.status, 500, "{}", keys.body);
    assert_eq!(
        keys.body["type"], "urn:keygate:problem:internal",
        "{}",
        keys.body
    );
}
