//! Rate limits and credits, exact under concurrency; usage reports and reads; the authorizer's
//! admission. Windows are chosen (or waited out) so that no test straddles a window boundary.

use futures::future::join_all;
use keygate::authorizer::authorize;
use keygate_tests::{Reply, StatusCode, TestApp, spawn_app, spawn_app_with_faults};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use serde_json::{Value, json};

/// A route that costs 1 (any authenticated non-management route).
pub(crate) const METERED: &str = "/v1/chats";

/// Waits, when needed, until at least `margin` seconds remain in the current window of
/// `window` seconds, so the test's requests all fall in one window.
pub(crate) fn clear_of_boundary(window: i64, margin: i64) {
    let now = keygate::domain::clock::now_epoch();
    let left = window - now.rem_euclid(window);
    if left < margin {
        std::thread::sleep(std::time::Duration::from_secs((left + 1) as u64));
    }
}

/// Sets a meter item's period (`p`) or hour (`h`) stamp, as if time had passed.
async fn set_meter_stamp(app: &TestApp, key_id: &str, stamp: &str, value: i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    app.services
        .store
        .client()
        .update_item()
        .table_name(app.services.store.table())
        .key("PK", AttributeValue::S(format!("KEY#{key_id}")))
        .key("SK", AttributeValue::S("METER".into()))
        .update_expression(format!("SET {stamp} = :v"))
        .expression_attribute_values(":v", AttributeValue::N(value.to_string()))
        .send()
        .await
        .unwrap();
}

async fn burst(app: &TestApp, key: &str, n: usize) -> Vec<Reply> {
    join_all((0..n).map(|_| app.call("GET", METERED, Some(key), None))).await
}

fn count(replies: &[Reply], status: StatusCode) -> usize {
    replies.iter().filter(|r| r.status == status).count()
}

async fn window_count(app: &TestApp, key_id: &str, limit: &str) -> i64 {
    let meter = app.services.store.read_meter(key_id).await.unwrap();
    meter.windows.get(limit).map_or(0, |(_, count)| *count)
}

#[tokio::test]
async fn exactly_100_of_200_concurrent_requests_pass_a_limit_of_100() {
    let app = spawn_app().await;
    let (id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "limited", "ratelimits": [{"name": "requests", "limit": 100, "window_secs": 86400}]}),
        )
        .await;
    clear_of_boundary(86_400, 120);
    let replies = burst(&app, &key, 200).await;
    assert_eq!(count(&replies, StatusCode::OK), 100);
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 100);
    assert_eq!(window_count(&app, &id, "requests").await, 100);
    let admitted = replies.iter().find(|r| r.status == StatusCode::OK).unwrap();
    assert_eq!(
        admitted.headers["ratelimit-policy"],
        "\"requests\";q=100;w=86400"
    );
    assert!(
        admitted.headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"requests\";r=")
    );
    let refused = replies
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert_eq!(refused.body["code"], "RATE_LIMITED", "{}", refused.body);
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    assert!(refused.headers.contains_key("retry-after"));
    assert!(
        refused.headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"requests\";r=0;t=")
    );
    // Management routes cost nothing: the key can still see itself.
    let me = app.call("GET", "/v1/auth/me", Some(&key), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["ratelimits"][0]["limit"], 100);
}

#[tokio::test]
async fn with_two_limits_refused_requests_move_neither_counter() {
    let app = spawn_app().await;
    let limits = |second: u32, minute: u32| {
        json!({"name": "two", "ratelimits": [
            {"name": "second", "limit": second, "window_secs": 1},
            {"name": "minute", "limit": minute, "window_secs": 60},
        ]})
    };
    // The per-second limit binds: whatever it refused left the minute counter alone.
    let (id, key) = app.new_key(&app.admin_key, limits(10, 100)).await;
    clear_of_boundary(60, 20);
    let replies = burst(&app, &key, 30).await;
    let admitted = count(&replies, StatusCode::OK);
    assert!(admitted >= 10, "at least one window's worth: {admitted}");
    // On a loaded machine a one-second window can end several times while a request waits
    // on the emulator; after its bounded retries such a request is a 503 (retry), which
    // moves no counter either.
    assert_eq!(
        admitted
            + count(&replies, StatusCode::TOO_MANY_REQUESTS)
            + count(&replies, StatusCode::SERVICE_UNAVAILABLE),
        30
    );
    assert_eq!(window_count(&app, &id, "minute").await, admitted as i64);
    // The per-minute limit binds: exactly 5, and the per-second counter saw only those.
    let (id, key) = app.new_key(&app.admin_key, limits(10, 5)).await;
    clear_of_boundary(60, 20);
    let replies = burst(&app, &key, 20).await;
    assert_eq!(count(&replies, StatusCode::OK), 5);
    assert_eq!(window_count(&app, &id, "minute").await, 5);
    assert!(window_count(&app, &id, "second").await <= 5);
    let refused = replies
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("\"minute\""),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn exactly_20_of_50_concurrent_requests_spend_20_credits() {
    let app = spawn_app().await;
    let (id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "budget", "credits": {"remaining": 20}}),
        )
        .await;
    let replies = burst(&app, &key, 50).await;
    assert_eq!(count(&replies, StatusCode::OK), 20);
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 30);
    let refused = replies
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert_eq!(refused.body["code"], "USAGE_EXCEEDED");
    assert_eq!(refused.body["detail"], "credits exhausted");
    let read = app.read_key(&app.admin_key, &id).await;
    assert_eq!(read.body["credits"]["remaining"], 0, "never negative");
}

#[tokio::test]
async fn credits_refill_exactly_once_per_period() {
    let app = spawn_app().await;
    let (id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "daily", "credits": {"remaining": 0, "refill": {"interval": "daily", "amount": 10}}}),
        )
        .await;
    clear_of_boundary(86_400, 120);
    let first = app.call("GET", METERED, Some(&key), None).await;
    assert_eq!(first.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(first.body["code"], "USAGE_EXCEEDED");
    let retry: i64 = first.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 86_400, "until the next UTC midnight");
    // The period ends: stamp the meter with yesterday's period, as if a day had passed.
    let meter = app.services.store.read_meter(&id).await.unwrap();
    let yesterday = meter.period.unwrap() - 86_400;
    set_meter_stamp(&app, &id, "p", yesterday).await;
    let replies = burst(&app, &key, 30).await;
    assert_eq!(
        count(&replies, StatusCode::OK),
        10,
        "one refill of 10, not more"
    );
    let read = app.read_key(&app.admin_key, &id).await;
    assert_eq!(read.body["credits"]["remaining"], 0);
    assert_eq!(read.body["credits"]["refill"]["interval"], "daily");
}

#[tokio::test]
async fn reported_usage_debits_credits_once_per_request_id() {
    let app = spawn_app().await;
    let (id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "user key", "credits": {"remaining": 1000}}),
        )
        .await;
    let platform = app.service_key(&["usage"]).await;
    let report = json!({"key_id": id, "units": 300, "kind": "tokens_out", "model": "m-1", "request_id": "req-1"});
    let first = app
        .call("POST", "/v1/usage", Some(&platform), Some(report.clone()))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["credits"]["remaining"], 700);
    let again = app
        .call("POST", "/v1/usage", Some(&platform), Some(report))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(
        again.body["credits"]["remaining"], 700,
        "a retry never charges twice"
    );
    // By credential id, overspending: the call happened, the balance goes below zero...
    let over = app
        .call(
            "POST",
            "/v1/usage",
            Some(&platform),
            Some(json!({"credential_id": id, "units": 800, "kind": "tokens_in"})),
        )
        .await;
    assert_eq!(over.body["credits"]["remaining"], -100, "{}", over.body);
    // ...and admission refuses from then on.
    let refused = app.call("GET", METERED, Some(&key), None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // Without the usage scope, or with bad input: refused, naming the field.
    let no_scope = app
        .call(
            "POST",
            "/v1/usage",
            Some(&key),
            Some(json!({"key_id": id, "units": 1, "kind": "tokens_in"})),
        )
        .await;
    assert_eq!(no_scope.status, StatusCode::FORBIDDEN);
    let bad = app
        .call(
            "POST",
            "/v1/usage",
            Some(&platform),
            Some(json!({"key_id": id, "units": -1, "kind": "tokens_in"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "units");
    let usage = app
        .call(
            "GET",
            &format!("/v1/api-keys/{id}/usage?granularity=day"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.body);
    let day = &usage.body["items"][0];
    assert_eq!(day["units"]["tokens_out"], 300);
    assert_eq!(day["units"]["tokens_in"], 800);
    assert_eq!(day["credits_spent"], 1100);
    assert_eq!(day["requests_refused"]["usage_exceeded"], 1);
}

#[tokio::test]
async fn usage_is_kept_per_key_per_hour_and_read_by_its_owner_or_a_tenant_admin() {
    let app = spawn_app().await;
    let (_, member_key) = app
        .new_user_with_key(
            "member@example.com",
            json!({"name": "m", "scopes": ["chat", "read"], "ratelimits": [{"name": "daily", "limit": 3, "window_secs": 86400}]}),
        )
        .await;
    let me = app
        .call("GET", "/v1/auth/me", Some(&member_key), None)
        .await;
    let id = me.body["ak_id"].as_str().unwrap().to_owned();
    clear_of_boundary(86_400, 120);
    clear_of_boundary(3600, 60);
    for _ in 0..2 {
        assert_eq!(
            app.call("GET", METERED, Some(&member_key), None)
                .await
                .status,
            StatusCode::OK
        );
    }
    // The hour ends (stamped back an hour): the next request moves its totals to their item.
    let meter = app.services.store.read_meter(&id).await.unwrap();
    let previous = meter.hour.unwrap() - 3600;
    set_meter_stamp(&app, &id, "h", previous).await;
    assert_eq!(
        app.call("GET", METERED, Some(&member_key), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call("GET", METERED, Some(&member_key), None)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let path = format!("/v1/api-keys/{id}/usage?granularity=hour");
    let read = app.call("GET", &path, Some(&app.admin_key), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let items = read.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", read.body);
    assert_eq!(items[0]["requests_admitted"], 2);
    assert_eq!(items[1]["requests_admitted"], 1);
    assert_eq!(items[1]["requests_refused"]["rate_limited"], 1);
    assert_eq!(items[1]["credits_spent"], 1);
    let own = app.call("GET", &path, Some(&member_key), None).await;
    assert_eq!(own.status, StatusCode::OK);
    let admin_key_id = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await
        .body["ak_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app
        .call(
            "GET",
            &format!("/v1/api-keys/{admin_key_id}/usage"),
            Some(&member_key),
            None,
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "a member reads only their own"
    );
    let bad = app
        .call(
            "GET",
            &format!("{path}&from=yesterday"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(bad.body["field"], "from");
}

#[tokio::test]
async fn limits_are_validated_and_only_narrow() {
    let app = spawn_app().await;
    let bad = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "x", "ratelimits": [{"name": "r", "limit": 0, "window_secs": 1}]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "ratelimits[0].limit");
    let bad = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "x", "credits": {"remaining": 5, "refill": {"interval": "monthly", "amount": 5, "day": 31}}})),
        )
        .await;
    assert_eq!(bad.body["field"], "credits.refill.day");
    let (id, limited) = app
        .new_key(
            &app.admin_key,
            json!({"name": "limited", "scopes": ["chat", "read", "write", "admin"],
                   "ratelimits": [{"name": "r", "limit": 10, "window_secs": 60}],
                   "credits": {"remaining": 100}}),
        )
        .await;
    let create = |body: Value| app.call("POST", "/v1/api-keys", Some(&limited), Some(body));
    let looser = create(json!({"name": "a", "ratelimits": [{"name": "r", "limit": 11, "window_secs": 60}], "credits": {"remaining": 1}})).await;
    assert_eq!(looser.status, StatusCode::FORBIDDEN, "{}", looser.body);
    let unlimited = create(json!({"name": "b"})).await;
    assert_eq!(unlimited.status, StatusCode::FORBIDDEN);
    let richer = create(json!({"name": "c", "ratelimits": [{"name": "r", "limit": 5, "window_secs": 120}], "credits": {"remaining": 101}})).await;
    assert_eq!(richer.status, StatusCode::FORBIDDEN);
    let tighter = create(json!({"name": "d", "ratelimits": [{"name": "r", "limit": 5, "window_secs": 120}], "credits": {"remaining": 50}})).await;
    assert_eq!(tighter.status, StatusCode::CREATED, "{}", tighter.body);
    let path = format!("/v1/api-keys/{id}");
    let lift = app
        .call(
            "PATCH",
            &path,
            Some(&limited),
            Some(json!({"ratelimits": []})),
        )
        .await;
    assert_eq!(
        lift.status,
        StatusCode::FORBIDDEN,
        "a key may not drop its own limits"
    );
    let drop_credits = app
        .call(
            "PATCH",
            &path,
            Some(&limited),
            Some(json!({"credits": null})),
        )
        .await;
    assert_eq!(drop_credits.status, StatusCode::FORBIDDEN);
    let narrow = app
        .call(
            "PATCH",
            &path,
            Some(&limited),
            Some(json!({"ratelimits": [{"name": "r", "limit": 8, "window_secs": 60}]})),
        )
        .await;
    assert_eq!(narrow.status, StatusCode::OK, "{}", narrow.body);
    assert_eq!(narrow.body["ratelimits"][0]["limit"], 8);
    // An unlimited caller may set or lift limits on another key.
    let lifted = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"ratelimits": [], "credits": null})),
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.body);
    assert_eq!(lifted.body["ratelimits"], json!([]));
    assert_eq!(lifted.body["credits"], Value::Null);
}

fn authorizer_event(path: &str, key: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/authorizer/request.json"
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    event["rawPath"] = json!(path);
    // API Gateway's routeKey, as the template declares the route.
    let route_key = if path == METERED {
        format!("ANY {path}")
    } else {
        format!("GET {path}")
    };
    event["routeKey"] = json!(route_key);
    event["requestContext"]["routeKey"] = json!(route_key);
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"]["x-api-key"] = json!(key);
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn the_authorizer_admits_and_its_refusal_is_a_429_with_headers() {
    let app = spawn_app().await;
    let (id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "gw", "ratelimits": [{"name": "requests", "limit": 1, "window_secs": 86400}]}),
        )
        .await;
    clear_of_boundary(86_400, 60);
    let free = authorize(&app.services, &authorizer_event("/v1/auth/me", &key)).await;
    assert!(
        free.context.get("keygate_ratelimit").is_none(),
        "free routes are not metered"
    );
    let admitted = authorize(&app.services, &authorizer_event(METERED, &key)).await;
    assert!(admitted.is_authorized);
    let header = admitted.context["keygate_ratelimit"].as_str().unwrap();
    assert!(header.starts_with("\"requests\";r=0;t="), "{header}");
    let refused = authorize(&app.services, &authorizer_event(METERED, &key)).await;
    assert_eq!(refused.context["keygate_denied"], "rate_limited");
    assert_eq!(window_count(&app, &id, "requests").await, 1);
    // The function answers both from the context alone, with the headers.
    let router = keygate::routes::chats(app.services.clone());
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/chats/list-chats.json"
    ))
    .unwrap();
    let with_context = |context: &Value| {
        let mut event: Value = serde_json::from_str(&template).unwrap();
        event["headers"]
            .as_object_mut()
            .unwrap()
            .remove("x-api-key");
        event["requestContext"]["authorizer"] = json!({ "lambda": context });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    };
    let ok = tower::ServiceExt::oneshot(router.clone(), with_context(&admitted.context))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["ratelimit-policy"], "\"requests\";q=1;w=86400");
    let no = tower::ServiceExt::oneshot(router, with_context(&refused.context))
        .await
        .unwrap();
    assert_eq!(no.status(), 429);
    assert!(no.headers().contains_key("retry-after"));
    assert!(no.headers().contains_key("ratelimit"));
    let body: Value =
        serde_json::from_slice(&axum::body::to_bytes(no.into_body(), 1 << 16).await.unwrap())
            .unwrap();
    assert_eq!(body["code"], "RATE_LIMITED");
}

#[tokio::test]
async fn the_authorizer_tells_the_function_the_balance_left() {
    let app = spawn_app().await;
    let (_, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "credits", "credits": {"remaining": 5}}),
        )
        .await;
    let free = authorize(&app.services, &authorizer_event("/v1/auth/me", &key)).await;
    assert!(free.is_authorized);
    assert!(
        free.context.get("credits_remaining").is_none(),
        "a free route spends nothing and reads no balance"
    );
    let first = authorize(&app.services, &authorizer_event(METERED, &key)).await;
    assert!(first.is_authorized);
    assert_eq!(first.context["credits_remaining"], "4");
    let second = authorize(&app.services, &authorizer_event(METERED, &key)).await;
    assert_eq!(second.context["credits_remaining"], "3");
}

#[tokio::test]
async fn a_store_failure_during_admission_is_a_503_and_moves_no_counter() {
    let (app, faults) = spawn_app_with_faults().await;
    let (id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "f", "ratelimits": [{"name": "requests", "limit": 10, "window_secs": 86400}], "credits": {"remaining": 10}}),
        )
        .await;
    clear_of_boundary(86_400, 60);
    assert_eq!(
        app.call("GET", METERED, Some(&key), None).await.status,
        StatusCode::OK
    );
    faults.fail("UpdateItem");
    let reply = app.call("GET", METERED, Some(&key), None).await;
    faults.heal();
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(
        window_count(&app, &id, "requests").await,
        1,
        "no counter moved"
    );
    let meter = app.services.store.read_meter(&id).await.unwrap();
    assert_eq!(meter.remaining, Some(9));
}

#[tokio::test]
async fn an_unmetered_key_writes_nothing_to_be_admitted() {
    let (app, faults) = spawn_app_with_faults().await;
    assert_eq!(
        app.call("GET", METERED, Some(&app.admin_key), None)
            .await
            .status,
        StatusCode::OK
    );
    faults.fail("UpdateItem");
    faults.fail("TransactWriteItems");
    let reply = app.call("GET", METERED, Some(&app.admin_key), None).await;
    faults.heal();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(!reply.headers.contains_key("ratelimit"));
}

#[tokio::test]
async fn a_users_default_limits_go_to_the_keys_made_for_them() {
    let app = spawn_app().await;
    let user = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "limited@example.com"})),
        )
        .await;
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    let set = app
        .call(
            "PATCH",
            &format!("/v1/users/{user_id}"),
            Some(&app.admin_key),
            Some(json!({"ratelimits": [{"name": "default", "limit": 5, "window_secs": 60}]})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["default_ratelimits"][0]["name"], "default");
    let bad = app
        .call(
            "PATCH",
            &format!("/v1/users/{user_id}"),
            Some(&app.admin_key),
            Some(json!({"ratelimits": [{"name": "default", "limit": 5, "window_secs": 0}]})),
        )
        .await;
    assert_eq!(bad.body["field"], "ratelimits[0].window_secs");
    let key = app
        .call(
            "POST",
            &format!("/v1/users/{user_id}/api-keys"),
            Some(&app.admin_key),
            Some(json!({"name": "first"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    assert_eq!(key.body["ratelimits"][0]["limit"], 5);
    // The user's own key carries the limit, so what it makes is limited too.
    let secret = key.body["key"].as_str().unwrap();
    let unlimited = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(secret),
            Some(json!({"name": "escape", "ratelimits": []})),
        )
        .await;
    assert_eq!(
        unlimited.status,
        StatusCode::FORBIDDEN,
        "{}",
        unlimited.body
    );
}
