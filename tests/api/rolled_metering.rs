//! A rolled key's successor shares its predecessor's meter: one balance and one count per
//! window for both while the grace lasts, whichever key a request presents, and a metering
//! patch on the successor reaches the predecessors in their grace.

use futures::future::join_all;
use keygate_tests::{Reply, StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

use crate::metering::{METERED, clear_of_boundary};

async fn roll(app: &TestApp, key_id: &str, grace_secs: i64) -> (String, String) {
    let rolled = app
        .call(
            "POST",
            &format!("/v1/api-keys/{key_id}/roll"),
            Some(&app.admin_key),
            Some(json!({"grace_secs": grace_secs})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    (
        rolled.body["id"].as_str().unwrap().to_owned(),
        rolled.body["key"].as_str().unwrap().to_owned(),
    )
}

/// The balance as `GET /v1/auth/me` shows it to the key itself.
async fn own_balance(app: &TestApp, key: &str) -> Value {
    let me = app.call("GET", "/v1/auth/me", Some(key), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.body["credits"]["remaining"].clone()
}

/// The balance as the owner reads the key.
async fn balance_of(app: &TestApp, key_id: &str) -> Value {
    let read = app.read_key(&app.admin_key, key_id).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    read.body["credits"]["remaining"].clone()
}

async fn usage_today(app: &TestApp, key_id: &str) -> Value {
    let usage = app
        .call(
            "GET",
            &format!("/v1/api-keys/{key_id}/usage?granularity=day"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.body);
    usage.body
}

async fn verify(app: &TestApp, service: &str, body: Value) -> Value {
    let reply = app
        .call("POST", "/v1/keys/verify", Some(service), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn count(replies: &[Reply], status: StatusCode) -> usize {
    replies.iter().filter(|r| r.status == status).count()
}

#[tokio::test]
async fn a_successor_and_its_predecessor_in_grace_spend_one_balance() {
    let app = spawn_app().await;
    let (old_id, old_key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "budget", "credits": {"remaining": 40},
                   "ratelimits": [{"name": "daily", "limit": 1000, "window_secs": 86400}]}),
        )
        .await;
    clear_of_boundary(86_400, 120);
    clear_of_boundary(3600, 60);
    assert_eq!(
        app.call("GET", METERED, Some(&old_key), None).await.status,
        StatusCode::OK
    );
    let (new_id, new_key) = roll(&app, &old_id, 3600).await;

    // The successor is admitted at once, against the balance its predecessor left.
    assert_eq!(own_balance(&app, &new_key).await, 39);
    let admitted = app.call("GET", METERED, Some(&new_key), None).await;
    assert_eq!(admitted.status, StatusCode::OK, "{}", admitted.body);
    assert_eq!(own_balance(&app, &old_key).await, 38, "one balance");
    // The predecessor, in its grace, spends from the same balance.
    assert_eq!(
        app.call("GET", METERED, Some(&old_key), None).await.status,
        StatusCode::OK
    );
    assert_eq!(own_balance(&app, &new_key).await, 37);
    assert_eq!(balance_of(&app, &new_id).await, 37);
    assert_eq!(balance_of(&app, &old_id).await, 37);

    // The verify API answers (and spends) the shared balance, through either key.
    let service = app.service_key(&["verify"]).await;
    let through_new = verify(&app, &service, json!({"key": new_key, "cost": 5})).await;
    assert_eq!(through_new["code"], "VALID", "{through_new}");
    assert_eq!(through_new["credits"]["remaining"], 32);
    assert_eq!(through_new["ratelimits"][0]["remaining"], 1000 - 4);
    let through_old = verify(&app, &service, json!({"key": old_key, "cost": 2})).await;
    assert_eq!(through_old["credits"]["remaining"], 30, "{through_old}");
    assert_eq!(through_old["ratelimits"][0]["remaining"], 1000 - 5);

    // A usage report charges the shared meter once per request id, whichever key it names.
    let platform = app.service_key(&["usage"]).await;
    for key_id in [&new_id, &old_id] {
        let report = app
            .call(
                "POST",
                "/v1/usage",
                Some(&platform),
                Some(json!({"key_id": key_id, "units": 6, "kind": "tokens_out", "request_id": "r-1"})),
            )
            .await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.body);
        assert_eq!(report.body["credits"]["remaining"], 24, "{}", report.body);
    }

    // 60 concurrent requests split across both keys spend exactly the 24 left.
    let replies = join_all((0..60).map(|i| {
        let key = if i % 2 == 0 { &new_key } else { &old_key };
        app.call("GET", METERED, Some(key), None)
    }))
    .await;
    assert_eq!(count(&replies, StatusCode::OK), 24);
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 36);
    assert_eq!(balance_of(&app, &new_id).await, 0, "never below zero");

    // Usage is the meter's: both keys answer the same figures.
    let (of_new, of_old) = (
        usage_today(&app, &new_id).await,
        usage_today(&app, &old_id).await,
    );
    assert_eq!(of_new["items"], of_old["items"]);
    assert_eq!(of_new["credits"], of_old["credits"]);
    let day = &of_new["items"][0];
    assert_eq!(day["requests_admitted"], 3 + 2 + 24, "{of_new}");
    assert_eq!(day["credits_spent"], 40, "{of_new}");
    assert_eq!(day["units"]["tokens_out"], 6);
}

#[tokio::test]
async fn a_key_rolled_without_grace_keeps_its_balance() {
    let app = spawn_app().await;
    let (old_id, old_key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "budget", "credits": {"remaining": 3}}),
        )
        .await;
    let (_, new_key) = roll(&app, &old_id, 0).await;
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&old_key), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let replies = join_all((0..5).map(|_| app.call("GET", METERED, Some(&new_key), None))).await;
    assert_eq!(count(&replies, StatusCode::OK), 3);
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 2);
}

#[tokio::test]
async fn a_metering_patch_on_the_successor_holds_for_every_key_in_grace() {
    let app = spawn_app().await;
    let (first_id, first_key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "chain", "ratelimits": [{"name": "daily", "limit": 100, "window_secs": 86400}]}),
        )
        .await;
    clear_of_boundary(86_400, 120);
    let (second_id, second_key) = roll(&app, &first_id, 3600).await;
    // Rolling the successor again keeps the one meter: three keys, one count.
    let (third_id, third_key) = roll(&app, &second_id, 3600).await;
    let keys = [&first_key, &second_key, &third_key];
    for key in keys {
        assert_eq!(
            app.call("GET", METERED, Some(key), None).await.status,
            StatusCode::OK
        );
    }
    let meter = app.services.store.read_meter(&first_id).await.unwrap();
    assert_eq!(meter.windows["daily"].1, 3, "one count for the chain");

    // A predecessor takes no change of its own...
    let refused = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{first_id}"),
            Some(&app.admin_key),
            Some(json!({"ratelimits": [{"name": "daily", "limit": 1000, "window_secs": 86400}]})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    // ...but the limit patched on the head of the chain binds all three keys.
    let patched = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{third_id}"),
            Some(&app.admin_key),
            Some(json!({"ratelimits": [{"name": "daily", "limit": 5, "window_secs": 86400}]})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let replies = join_all(
        keys.iter()
            .flat_map(|key| [*key, *key])
            .map(|key| app.call("GET", METERED, Some(key), None)),
    )
    .await;
    assert_eq!(count(&replies, StatusCode::OK), 2, "5 - 3 left for all");
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 4);
    for key in keys {
        let me = app.call("GET", "/v1/auth/me", Some(key), None).await;
        assert_eq!(me.body["ratelimits"][0]["limit"], 5, "{}", me.body);
    }

    // Credits given to the head are spent by its predecessors too, from one balance.
    let credited = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{third_id}"),
            Some(&app.admin_key),
            Some(json!({"ratelimits": [], "credits": {"remaining": 4}})),
        )
        .await;
    assert_eq!(credited.status, StatusCode::OK, "{}", credited.body);
    let replies = join_all(
        keys.iter()
            .flat_map(|key| [*key, *key, *key])
            .map(|key| app.call("GET", METERED, Some(key), None)),
    )
    .await;
    assert_eq!(count(&replies, StatusCode::OK), 4);
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 5);
    for key in keys {
        assert_eq!(own_balance(&app, key).await, 0);
    }
    let trail = app
        .audit(
            &app.admin_key,
            &format!("target={third_id}&type=key.patched"),
        )
        .await;
    assert_eq!(
        trail.body["items"][0]["detail"]["metering_also_on"],
        json!([second_id, first_id]),
        "{}",
        trail.body
    );
}

#[tokio::test]
async fn a_metering_patch_needs_a_caller_covering_the_predecessors_too() {
    let app = spawn_app().await;
    let limits = json!([{"name": "daily", "limit": 100, "window_secs": 86400}]);
    let (old_id, _) = app
        .new_key(
            &app.admin_key,
            json!({"name": "wide", "scopes": ["chat", "read"], "ratelimits": limits}),
        )
        .await;
    let (new_id, _) = roll(&app, &old_id, 3600).await;
    let narrowed = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{new_id}"),
            Some(&app.admin_key),
            Some(json!({"scopes": ["chat"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    // A key holding only `chat` covers the narrowed successor, not its wider predecessor.
    let (_, chat_only) = app
        .new_key(
            &app.admin_key,
            json!({"name": "chat only", "scopes": ["chat"]}),
        )
        .await;
    let renamed = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{new_id}"),
            Some(&chat_only),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let loosened = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{new_id}"),
            Some(&chat_only),
            Some(json!({"ratelimits": [{"name": "daily", "limit": 1000, "window_secs": 86400}]})),
        )
        .await;
    assert_eq!(loosened.status, StatusCode::FORBIDDEN, "{}", loosened.body);
    let old = app.read_key(&app.admin_key, &old_id).await;
    assert_eq!(old.body["ratelimits"][0]["limit"], 100, "{}", old.body);
}
