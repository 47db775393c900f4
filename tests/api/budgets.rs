//! Budgets hold in aggregate: a key's rate limits and credits bound everything derived from
//! it — keys it created on every surface (and theirs), its exchanged and temp tokens, roll
//! successors — exactly, under concurrency; a refused request moves no counter at any level;
//! usage reports charge every budget above the key; a throttled admission moves nothing.

use futures::future::join_all;
use keygate_tests::{Reply, StatusCode, TestApp, spawn_app, spawn_app_with_faults};
use serde_json::{Value, json};

use crate::metering::{METERED, clear_of_boundary};

const DAY: i64 = 86_400;

fn limit(n: u32) -> Value {
    json!([{"name": "requests", "limit": n, "window_secs": DAY}])
}

fn admitted(replies: &[Reply]) -> usize {
    replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count()
}

async fn window_count(app: &TestApp, meter_id: &str) -> i64 {
    let meter = app.services.store.read_meter(meter_id).await.unwrap();
    meter.windows.get("requests").map_or(0, |(_, count)| *count)
}

async fn balance(app: &TestApp, meter_id: &str) -> Option<i64> {
    app.services
        .store
        .read_meter(meter_id)
        .await
        .unwrap()
        .remaining
}

/// A key made by the bootstrap admin's key with `parent`, and a key it made with `child`:
/// (parent id, parent secret, child id, child secret).
async fn parent_and_child(
    app: &TestApp,
    parent: Value,
    child: Value,
) -> (String, String, String, String) {
    let (parent_id, parent) = app.new_key(&app.admin_key, parent).await;
    let (child_id, child) = app.new_key(&parent, child).await;
    (parent_id, parent, child_id, child)
}

/// `per` concurrent metered requests with each credential, all at once.
async fn burst(app: &TestApp, credentials: &[String], per: usize) -> Vec<Reply> {
    join_all(
        credentials
            .iter()
            .flat_map(|c| std::iter::repeat_n(c, per))
            .map(|credential| app.call("GET", METERED, Some(credential), None)),
    )
    .await
}

fn secret(reply: Reply, pointer: &str) -> String {
    assert!(
        reply.status.is_success(),
        "{}: {}",
        reply.status,
        reply.body
    );
    reply
        .body
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

/// Everything a metered key can derive that spends: keys it creates through /v1, Ask Sage,
/// Cogniac and VirtuousAI, a key of a key, a roll successor, an exchanged token and a temp
/// token of a grandchild.
async fn descendants(app: &TestApp, parent: &str, budget: Value) -> Vec<String> {
    let (child_id, child) = app.new_key(parent, budget.clone()).await;
    let (_, grandchild) = app.new_key(&child, budget).await;
    let asksage = app
        .send(
            "POST",
            "/user/user-api-key",
            &[("x-access-tokens", parent)],
            Some(json!({"name": "asksage child"})),
        )
        .await;
    let bearer = format!("Bearer {parent}");
    let cogniac = app
        .send(
            "POST",
            &format!("/1/users/{}/apiKeys", app.admin_id),
            &[("authorization", &bearer)],
            Some(json!({"description": "cogniac child"})),
        )
        .await;
    let vai = app
        .call(
            "POST",
            "/api/v1/access-tokens",
            Some(parent),
            Some(json!({"name": "vai child"})),
        )
        .await;
    let exchanged = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": parent})),
        )
        .await;
    let temp = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&grandchild),
            Some(json!({"token_ttl": 3600})),
        )
        .await;
    let successor = app
        .call(
            "POST",
            &format!("/v1/api-keys/{child_id}/roll"),
            Some(parent),
            Some(json!({"grace_secs": 3600})),
        )
        .await;
    vec![
        child,
        grandchild,
        secret(asksage, "/response/api_key"),
        secret(cogniac, "/api_key"),
        secret(vai, "/plaintext"),
        secret(exchanged, "/access_token"),
        secret(temp, "/token"),
        secret(successor, "/key"),
    ]
}

#[tokio::test]
async fn a_parent_limit_of_n_admits_n_across_everything_derived_from_it() {
    let app = spawn_app().await;
    clear_of_boundary(DAY, 300);
    let body = json!({"name": "parent", "scopes": ["chat", "read", "write", "admin"], "ratelimits": limit(30)});
    let (parent_id, parent) = app.new_key(&app.admin_key, body).await;
    let mut credentials = descendants(
        &app,
        &parent,
        json!({"name": "child", "ratelimits": limit(30)}),
    )
    .await;
    credentials.push(parent.clone());
    // 9 credentials × 12 = 108 concurrent requests against one budget of 30.
    let replies = burst(&app, &credentials, 12).await;
    assert_eq!(admitted(&replies), 30);
    for refused in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            refused.body
        );
        assert_eq!(refused.body["code"], "RATE_LIMITED", "{}", refused.body);
        assert!(refused.headers.contains_key("retry-after"));
    }
    assert_eq!(window_count(&app, &parent_id).await, 30);
}

#[tokio::test]
async fn children_given_the_parents_whole_balance_spend_it_once() {
    let app = spawn_app().await;
    let credits = json!({"remaining": 20});
    let (parent_id, parent) = app
        .new_key(
            &app.admin_key,
            json!({"name": "parent", "credits": credits}),
        )
        .await;
    let mut credentials = vec![parent];
    for n in 0..3 {
        let (_, child) = app
            .new_key(
                &credentials[0],
                json!({"name": format!("child {n}"), "credits": credits}),
            )
            .await;
        credentials.push(child);
    }
    // Each child may hold the whole balance, so alone they could spend 80.
    let replies = burst(&app, &credentials, 15).await;
    assert_eq!(admitted(&replies), 20);
    assert_eq!(balance(&app, &parent_id).await, Some(0));
    let refused = replies.iter().find(|r| r.status != StatusCode::OK).unwrap();
    assert_eq!(refused.body["code"], "USAGE_EXCEEDED", "{}", refused.body);
}

#[tokio::test]
async fn a_refused_request_moves_no_counter_at_any_level() {
    let app = spawn_app().await;
    clear_of_boundary(DAY, 300);
    // The child's own limit refuses: the parent counts only what the child was admitted.
    let (parent_id, _, child_id, child) = parent_and_child(
        &app,
        json!({"name": "wide parent", "ratelimits": limit(100)}),
        json!({"name": "tight child", "ratelimits": limit(3)}),
    )
    .await;
    assert_eq!(
        admitted(&burst(&app, std::slice::from_ref(&child), 10).await),
        3
    );
    assert_eq!(window_count(&app, &child_id).await, 3);
    assert_eq!(window_count(&app, &parent_id).await, 3);
    // The parent's limit refuses: the child counts only what the parent admitted.
    let (parent_id, _, child_id, child) = parent_and_child(
        &app,
        json!({"name": "tight parent", "ratelimits": limit(3)}),
        json!({"name": "child", "ratelimits": limit(3)}),
    )
    .await;
    let (grandchild_id, grandchild) = app
        .new_key(
            &child,
            json!({"name": "grandchild", "ratelimits": limit(3)}),
        )
        .await;
    let replies = burst(&app, &[child.clone(), grandchild.clone()], 6).await;
    assert_eq!(admitted(&replies), 3);
    let (child_count, grandchild_count) = (
        window_count(&app, &child_id).await,
        window_count(&app, &grandchild_id).await,
    );
    assert_eq!(window_count(&app, &parent_id).await, 3);
    // Every admitted request passed through the child's budget too: 3 in all.
    assert_eq!(child_count, 3);
    assert!(grandchild_count <= 3);
}

#[tokio::test]
async fn reported_usage_is_charged_against_every_budget_above_the_key() {
    let app = spawn_app().await;
    let (parent_id, _, child_id, _) = parent_and_child(
        &app,
        json!({"name": "parent", "credits": {"remaining": 100}}),
        json!({"name": "child", "credits": {"remaining": 50}}),
    )
    .await;
    let reporter = app.service_key(&["usage"]).await;
    let report =
        json!({"key_id": child_id, "units": 30, "kind": "tokens_out", "request_id": "r-1"});
    for _ in 0..2 {
        let reported = app
            .call("POST", "/v1/usage", Some(&reporter), Some(report.clone()))
            .await;
        assert_eq!(reported.status, StatusCode::OK, "{}", reported.body);
    }
    // Once, by request id, on both levels.
    assert_eq!(balance(&app, &child_id).await, Some(20));
    assert_eq!(balance(&app, &parent_id).await, Some(70));
}

#[tokio::test]
async fn a_check_that_spends_nothing_reports_every_budget_and_moves_nothing() {
    let app = spawn_app().await;
    clear_of_boundary(DAY, 300);
    let service = app.service_key(&["verify"]).await;
    let (parent_id, parent, child_id, child) = parent_and_child(
        &app,
        json!({"name": "parent", "ratelimits": limit(10), "credits": {"remaining": 7}}),
        json!({"name": "child", "ratelimits": limit(5), "credits": {"remaining": 7}}),
    )
    .await;
    assert_eq!(
        admitted(&burst(&app, std::slice::from_ref(&parent), 2).await),
        2
    );
    let check = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&service),
            Some(json!({"key": child, "cost": 0})),
        )
        .await;
    assert_eq!(check.body["code"], "VALID", "{}", check.body);
    let limits = check.body["ratelimits"].as_array().expect("ratelimits");
    let remaining: Vec<i64> = limits
        .iter()
        .map(|l| l["remaining"].as_i64().unwrap())
        .collect();
    assert_eq!(
        remaining,
        [5, 8],
        "the child's own, then its parent's: {}",
        check.body
    );
    // The smallest balance of the chain: the parent spent 2 of its 7.
    assert_eq!(check.body["credits"]["remaining"], 5, "{}", check.body);
    assert_eq!(window_count(&app, &child_id).await, 0);
    assert_eq!(window_count(&app, &parent_id).await, 2);
    assert_eq!(balance(&app, &parent_id).await, Some(5));
}

#[tokio::test]
async fn a_throttled_admission_is_a_503_to_retry_and_moves_no_counter() {
    let (app, faults) = spawn_app_with_faults().await;
    clear_of_boundary(DAY, 300);
    let (parent_id, parent, child_id, child) = parent_and_child(
        &app,
        json!({"name": "parent", "ratelimits": limit(10)}),
        json!({"name": "child", "ratelimits": limit(10)}),
    )
    .await;
    // One budget is one UpdateItem; a chain is one TransactWriteItems.
    for (operation, credential) in [("UpdateItem", &parent), ("TransactWriteItems", &child)] {
        faults.throttle(operation);
        let throttled = app.call("GET", METERED, Some(credential), None).await;
        faults.heal();
        assert_eq!(
            throttled.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{operation}: {}",
            throttled.body
        );
        assert!(throttled.headers.contains_key("retry-after"), "{operation}");
        assert_eq!(
            throttled.headers["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(window_count(&app, &parent_id).await, 0);
    assert_eq!(window_count(&app, &child_id).await, 0);
    let after = app.call("GET", METERED, Some(&child), None).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(window_count(&app, &parent_id).await, 1);
}

#[tokio::test]
async fn a_token_window_refuses_once_reported_units_reach_it_at_every_level() {
    let app = spawn_app().await;
    // A short window, so waiting clear of its end takes at most a minute.
    clear_of_boundary(300, 60);
    let tpm = json!([{"name": "tpm", "limit": 100, "window_secs": 300, "unit": "tokens_out"}]);
    let (parent_id, parent, child_id, child) = parent_and_child(
        &app,
        json!({"name": "parent", "ratelimits": tpm}),
        json!({"name": "child", "ratelimits": tpm}),
    )
    .await;
    let reporter = app.service_key(&["usage"]).await;
    let shown = app.read_key(&parent, &child_id).await;
    assert_eq!(
        shown.body["ratelimits"][0]["unit"], "tokens_out",
        "{}",
        shown.body
    );
    let tpm_count = |meter: String| {
        let app = &app;
        async move {
            let meter = app.services.store.read_meter(&meter).await.unwrap();
            meter.windows.get("tpm").map_or(0, |(_, count)| *count)
        }
    };
    // Admission checks a unit window but does not count requests in it.
    assert_eq!(
        admitted(&burst(&app, std::slice::from_ref(&child), 3).await),
        3
    );
    assert_eq!(tpm_count(child_id.clone()).await, 0);
    let report = |units: i64, kind: &str| {
        let body = json!({"key_id": child_id, "units": units, "kind": kind});
        let (app, reporter) = (&app, &reporter);
        async move {
            let reply = app
                .call("POST", "/v1/usage", Some(reporter), Some(body))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    };
    report(60, "tokens_out").await;
    report(500, "tokens_in").await;
    assert_eq!(tpm_count(child_id.clone()).await, 60);
    assert_eq!(tpm_count(parent_id.clone()).await, 60);
    assert_eq!(
        app.call("GET", METERED, Some(&child), None).await.status,
        StatusCode::OK
    );
    report(50, "tokens_out").await;
    for credential in [&child, &parent] {
        let refused = app.call("GET", METERED, Some(credential), None).await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            refused.body
        );
        assert_eq!(refused.body["code"], "RATE_LIMITED", "{}", refused.body);
        assert!(
            refused.body["detail"].as_str().unwrap().contains("\"tpm\""),
            "{}",
            refused.body
        );
        assert!(refused.headers.contains_key("retry-after"));
    }
    assert_eq!(tpm_count(parent_id).await, 110);
    // A unit limit is no requests limit: it cannot stand in for one on a derived key.
    let (_, requests_limited) = app
        .new_key(
            &app.admin_key,
            json!({"name": "r", "ratelimits": limit(100)}),
        )
        .await;
    let refused = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&requests_limited),
            Some(json!({"name": "x", "ratelimits": [{"name": "t", "limit": 1, "window_secs": 60, "unit": "tokens_out"}]})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let bad = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "x", "ratelimits": [{"name": "t", "limit": 1, "window_secs": 60, "unit": "Tokens!"}]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(
        bad.body.to_string().contains("ratelimits[0].unit"),
        "{}",
        bad.body
    );
}
