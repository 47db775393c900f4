//! End users under one key: a key's `end_user_budget` applies to each end user of its temp
//! tokens separately, on a meter of its own that every token for that end user draws on
//! (re-minting never resets it), within the key's own budget; the end user rides in the
//! authorizer context, verify and `/v1/auth/me`.

use futures::future::join_all;
use keygate::authorizer::authorize;
use keygate_tests::{Reply, StatusCode, TestApp, authorizer_event, spawn_app};
use serde_json::{Value, json};

use crate::metering::{METERED, clear_of_boundary};

const DAY: i64 = 86_400;

async fn token_for(app: &TestApp, key: &str, end_user: Option<&str>) -> String {
    let body = match end_user {
        Some(end_user) => json!({"end_user": end_user}),
        None => json!({}),
    };
    let minted = app
        .call("POST", "/v1/auth/tokens", Some(key), Some(body))
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.body);
    minted.body["token"].as_str().unwrap().to_owned()
}

async fn burst(app: &TestApp, credential: &str, n: usize) -> Vec<Reply> {
    join_all((0..n).map(|_| app.call("GET", METERED, Some(credential), None))).await
}

fn admitted(replies: &[Reply]) -> usize {
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert!(
        replies
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::TOO_MANY_REQUESTS),
        "only admissions and 429s"
    );
    ok
}

async fn window_count(app: &TestApp, meter_id: &str) -> i64 {
    let meter = app.services.store.read_meter(meter_id).await.unwrap();
    meter.windows.get("requests").map_or(0, |(_, count)| *count)
}

#[tokio::test]
async fn two_end_users_under_one_key_each_get_their_own_n() {
    clear_of_boundary(DAY, 120);
    let app = spawn_app().await;
    let (key_id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "platform", "scopes": ["chat"],
                   "ratelimits": [{"name": "requests", "limit": 100, "window_secs": DAY}],
                   "end_user_budget": {"ratelimits": [{"name": "requests", "limit": 3, "window_secs": DAY}]}}),
        )
        .await;
    let read = app.read_key(&app.admin_key, &key_id).await;
    assert_eq!(
        read.body["end_user_budget"]["ratelimits"][0]["limit"], 3,
        "{}",
        read.body
    );
    let alice = token_for(&app, &key, Some("alice@example.com")).await;
    let bob = token_for(&app, &key, Some("bob")).await;
    let (for_alice, for_bob) = futures::join!(burst(&app, &alice, 8), burst(&app, &bob, 8));
    assert_eq!(admitted(&for_alice), 3);
    assert_eq!(admitted(&for_bob), 3);
    // A new token for the same end user draws on the same meter: nothing is reset.
    let alice_again = token_for(&app, &key, Some("alice@example.com")).await;
    assert_eq!(admitted(&burst(&app, &alice_again, 3).await), 0);
    // The refusals moved no counter at the key's level: six admitted, six counted.
    assert_eq!(window_count(&app, &key_id).await, 6);
    // A token for nobody in particular, and the key itself, spend only the key's budget.
    let anyone = token_for(&app, &key, None).await;
    assert_eq!(admitted(&burst(&app, &anyone, 4).await), 4);
    assert_eq!(admitted(&burst(&app, &key, 2).await), 2);
    assert_eq!(window_count(&app, &key_id).await, 12);
}

#[tokio::test]
async fn the_key_budget_bounds_all_its_end_users_together() {
    clear_of_boundary(DAY, 120);
    let app = spawn_app().await;
    let (_, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "platform", "scopes": ["chat"],
                   "ratelimits": [{"name": "requests", "limit": 5, "window_secs": DAY}],
                   "end_user_budget": {"ratelimits": [{"name": "requests", "limit": 4, "window_secs": DAY}]}}),
        )
        .await;
    let mut tokens = Vec::new();
    for end_user in ["u1", "u2", "u3"] {
        tokens.push(token_for(&app, &key, Some(end_user)).await);
    }
    let replies = join_all(
        tokens
            .iter()
            .flat_map(|t| std::iter::repeat_n(t, 4))
            .map(|t| app.call("GET", METERED, Some(t), None)),
    )
    .await;
    assert_eq!(admitted(&replies), 5, "12 asked, 4 each allowed, 5 in all");
}

#[tokio::test]
async fn an_end_users_credits_start_at_the_budget_and_every_token_shares_them() {
    let app = spawn_app().await;
    let service = app.service_key(&["verify"]).await;
    let (_, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "platform", "scopes": ["chat"],
                   "end_user_budget": {"credits": {"remaining": 2}}}),
        )
        .await;
    let first = token_for(&app, &key, Some("carol")).await;
    // Where carol stands before her first request: the budget's balance.
    let check = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&service),
            Some(json!({"key": first, "cost": 0})),
        )
        .await;
    assert_eq!(check.body["code"], "VALID", "{}", check.body);
    assert_eq!(check.body["end_user"], "carol");
    assert_eq!(check.body["credits"]["remaining"], 2, "{}", check.body);
    assert_eq!(admitted(&burst(&app, &first, 1).await), 1);
    let second = token_for(&app, &key, Some("carol")).await;
    assert_eq!(admitted(&burst(&app, &second, 3).await), 1);
    let refused = app.call("GET", METERED, Some(&first), None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // Another end user has a balance of their own.
    let dave = token_for(&app, &key, Some("dave")).await;
    assert_eq!(admitted(&burst(&app, &dave, 3).await), 2);
}

#[tokio::test]
async fn a_token_for_an_end_user_mints_only_for_that_end_user() {
    let app = spawn_app().await;
    let alice = token_for(&app, &app.admin_key, Some("alice")).await;
    let other = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&alice),
            Some(json!({"end_user": "mallory"})),
        )
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST, "{}", other.body);
    assert_eq!(other.body["field"], "end_user");
    let same = token_for(&app, &alice, Some("alice")).await;
    let unnamed = token_for(&app, &alice, None).await;
    for token in [&alice, &same, &unnamed] {
        let me = app.call("GET", "/v1/auth/me", Some(token), None).await;
        assert_eq!(me.body["end_user"], "alice", "{}", me.body);
    }
    let key_me = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert!(key_me.body.get("end_user").is_none());
}

#[tokio::test]
async fn bad_end_users_and_budgets_are_refused_naming_the_field() {
    let app = spawn_app().await;
    for bad in [json!(""), json!("a b"), json!("x".repeat(129)), json!(7)] {
        let reply = app
            .call(
                "POST",
                "/v1/auth/tokens",
                Some(&app.admin_key),
                Some(json!({"end_user": bad})),
            )
            .await;
        assert!(reply.status.is_client_error(), "{bad}: {}", reply.body);
        assert_eq!(reply.body["field"], "end_user", "{bad}: {}", reply.body);
    }
    for (budget, field) in [
        (json!({}), "end_user_budget"),
        (
            json!({"ratelimits": [{"name": "r", "limit": 0, "window_secs": 60}]}),
            "end_user_budget.ratelimits[0].limit",
        ),
        (
            json!({"credits": {"remaining": -1}}),
            "end_user_budget.credits.remaining",
        ),
    ] {
        let reply = app
            .call(
                "POST",
                "/v1/api-keys",
                Some(&app.admin_key),
                Some(json!({"name": "k", "end_user_budget": budget})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{budget}: {}",
            reply.body
        );
        assert_eq!(reply.body["field"], field, "{budget}: {}", reply.body);
    }
}

#[tokio::test]
async fn removing_the_budget_frees_the_end_users_and_is_audited() {
    clear_of_boundary(DAY, 120);
    let app = spawn_app().await;
    let (key_id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "platform", "scopes": ["chat"],
                   "end_user_budget": {"ratelimits": [{"name": "requests", "limit": 1, "window_secs": DAY}]}}),
        )
        .await;
    let erin = token_for(&app, &key, Some("erin")).await;
    assert_eq!(admitted(&burst(&app, &erin, 2).await), 1);
    let patched = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{key_id}"),
            Some(&app.admin_key),
            Some(json!({"end_user_budget": null})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["end_user_budget"], Value::Null);
    assert_eq!(admitted(&burst(&app, &erin, 2).await), 2);
    let events = app.audit(&app.admin_key, "type=key.patched").await;
    assert!(
        events.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["change"]["end_user_budget"]["new"] == json!({})),
        "{}",
        events.body
    );
}

#[tokio::test]
async fn the_authorizer_context_names_the_end_user() {
    let app = spawn_app().await;
    let frank = token_for(&app, &app.admin_key, Some("frank:eu-1")).await;
    let response = authorize(&app.services, &authorizer_event(&frank)).await;
    assert!(response.is_authorized);
    assert_eq!(response.context["keygate_end_user"], "frank:eu-1");
    let key = authorize(&app.services, &authorizer_event(&app.admin_key)).await;
    assert!(key.context.get("keygate_end_user").is_none());
}

#[tokio::test]
async fn usage_reported_for_an_end_users_token_fills_that_end_users_token_window() {
    clear_of_boundary(300, 60);
    let app = spawn_app().await;
    let (key_id, key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "platform", "scopes": ["chat"],
                   "end_user_budget": {"ratelimits": [{"name": "tpm", "limit": 50, "window_secs": 300, "unit": "tokens_out"}]}}),
        )
        .await;
    let reporter = app.service_key(&["usage"]).await;
    let alice = token_for(&app, &key, Some("alice")).await;
    let bob = token_for(&app, &key, Some("bob")).await;
    let alice_id = app.credential_id(&alice).await;
    let reported = app
        .call(
            "POST",
            "/v1/usage",
            Some(&reporter),
            Some(json!({"credential_id": alice_id, "units": 50, "kind": "tokens_out"})),
        )
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{}", reported.body);
    let meter = app
        .services
        .store
        .read_meter(&keygate::domain::metering::end_user_meter_id(
            &key_id, "alice",
        ))
        .await
        .unwrap();
    assert_eq!(meter.windows.get("tpm").map(|(_, count)| *count), Some(50));
    // Alice's window is full; Bob's and the key's own traffic are not held by it.
    let refused = app.call("GET", METERED, Some(&alice), None).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["code"], "RATE_LIMITED", "{}", refused.body);
    assert_eq!(admitted(&burst(&app, &bob, 2).await), 2);
    assert_eq!(admitted(&burst(&app, &key, 2).await), 2);
}
