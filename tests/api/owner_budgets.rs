//! Budgets above every key: a user's (`PUT|GET|DELETE /v1/users/{id}/budget`) and a
//! tenant's (set by the operator, read at `GET /v1/tenant/budget`). Each is one meter that
//! every credential of the user (of the tenant) draws on, whichever key it came through, so
//! a user budget of n admits n across all the user's keys together, under concurrency.

use futures::future::join_all;
use keygate::domain::owner_budget::{BudgetOwner, OwnerBudgetInput};
use keygate_tests::{Reply, StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

use crate::metering::{METERED, clear_of_boundary};

const DAY: i64 = 86_400;

/// A user of the test tenant with `keys` keys of every user scope; (user id, key secrets).
async fn user_with_keys(app: &TestApp, email: &str, keys: usize) -> (String, Vec<String>) {
    let (user_id, first) = app
        .new_user_with_key(
            email,
            json!({"name": "key 0", "scopes": ["chat", "read", "write"]}),
        )
        .await;
    let mut secrets = vec![first];
    for index in 1..keys {
        let key = app
            .call(
                "POST",
                &format!("/v1/users/{user_id}/api-keys"),
                Some(&app.admin_key),
                Some(json!({"name": format!("key {index}"), "scopes": ["chat", "read", "write"]})),
            )
            .await;
        assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
        secrets.push(key.body["key"].as_str().unwrap().to_owned());
    }
    (user_id, secrets)
}

async fn put_budget(app: &TestApp, user_id: &str, body: Value) -> Reply {
    app.call(
        "PUT",
        &format!("/v1/users/{user_id}/budget"),
        Some(&app.admin_key),
        Some(body),
    )
    .await
}

/// `GET /v1/users/{user_id}/budget` as `credential`.
async fn read_budget(app: &TestApp, user_id: &str, credential: &str) -> Reply {
    app.call(
        "GET",
        &format!("/v1/users/{user_id}/budget"),
        Some(credential),
        None,
    )
    .await
}

/// `per` requests on each credential, all at once.
async fn burst(app: &TestApp, credentials: &[String], per: usize) -> Vec<Reply> {
    let calls = credentials
        .iter()
        .flat_map(|credential| (0..per).map(move |_| credential))
        .map(|credential| app.call("GET", METERED, Some(credential), None));
    join_all(calls).await
}

/// How many were admitted; every other answer is a 429 (nothing failed).
fn admitted(replies: &[Reply]) -> usize {
    for reply in replies {
        assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::TOO_MANY_REQUESTS,
            "{} {}",
            reply.status,
            reply.body
        );
    }
    replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count()
}

fn requests_per_day(limit: i64) -> Value {
    json!([{"name": "requests", "limit": limit, "window_secs": DAY}])
}

#[tokio::test]
async fn a_user_budget_is_shared_by_all_three_of_the_users_keys_under_concurrency() {
    clear_of_boundary(DAY, 300);
    let app = spawn_app().await;
    let (user_id, keys) = user_with_keys(&app, "three@example.com", 3).await;
    let set = put_budget(&app, &user_id, json!({"ratelimits": requests_per_day(10)})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["ratelimits"][0]["remaining"], 10, "{}", set.body);
    // 120 requests at once, 40 on each key: ten in all, whichever key they came through.
    assert_eq!(admitted(&burst(&app, &keys, 40).await), 10);
    let read = read_budget(&app, &user_id, &keys[0]).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["level"], "user");
    assert_eq!(read.body["ratelimits"][0]["remaining"], 0, "{}", read.body);
    // Setting it again keeps the running window: it hands out no fresh ten.
    put_budget(&app, &user_id, json!({"ratelimits": requests_per_day(10)})).await;
    assert_eq!(admitted(&burst(&app, &keys, 2).await), 0);
    // Another user of the tenant is not held to it.
    let (_, other) = user_with_keys(&app, "other@example.com", 1).await;
    assert_eq!(admitted(&burst(&app, &other, 3).await), 3);
}

#[tokio::test]
async fn a_user_budgets_credits_are_one_balance_for_every_key_and_token() {
    let app = spawn_app().await;
    let (user_id, keys) = user_with_keys(&app, "credits@example.com", 2).await;
    let set = put_budget(&app, &user_id, json!({"credits": {"remaining": 7}})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["credits"]["remaining"], 7);
    // A token exchanged for one of the keys spends the same balance.
    let token = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": "credits@example.com", "api_key": keys[1]})),
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    let token = token.body["access_token"].as_str().unwrap().to_owned();
    let credentials = vec![keys[0].clone(), keys[1].clone(), token];
    assert_eq!(admitted(&burst(&app, &credentials, 12).await), 7);
    let read = read_budget(&app, &user_id, &app.admin_key).await;
    assert_eq!(read.body["credits"]["remaining"], 0, "{}", read.body);
}

#[tokio::test]
async fn a_tenant_budget_bounds_every_user_of_the_tenant_together() {
    clear_of_boundary(DAY, 300);
    let app = spawn_app().await;
    let (_, ada) = user_with_keys(&app, "ada@example.com", 2).await;
    let (_, bob) = user_with_keys(&app, "bob@example.com", 1).await;
    let input: OwnerBudgetInput =
        serde_json::from_value(json!({"ratelimits": requests_per_day(12)})).unwrap();
    app.services
        .set_tenant_budget(&app.tenant_id, &input)
        .await
        .expect("the operator sets the tenant's budget");
    let everyone: Vec<String> = ada
        .iter()
        .chain(&bob)
        .cloned()
        .chain([app.admin_key.clone()])
        .collect();
    assert_eq!(admitted(&burst(&app, &everyone, 30).await), 12);
    let read = app
        .call("GET", "/v1/tenant/budget", Some(&app.admin_key), None)
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["level"], "tenant");
    assert_eq!(read.body["tenant_id"], app.tenant_id.as_str());
    assert_eq!(read.body["ratelimits"][0]["remaining"], 0, "{}", read.body);
    // Only the tenant's admins read it.
    let member = app
        .call("GET", "/v1/tenant/budget", Some(&bob[0]), None)
        .await;
    assert_eq!(member.status, StatusCode::FORBIDDEN, "{}", member.body);
    // Removed by the operator: the tenant's users are unmetered again.
    app.services
        .clear_tenant_budget(&app.tenant_id)
        .await
        .expect("the operator removes it");
    assert_eq!(admitted(&burst(&app, &bob, 2).await), 2);
    let gone = app
        .call("GET", "/v1/tenant/budget", Some(&app.admin_key), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
}

#[tokio::test]
async fn budgets_are_set_by_tenant_admins_read_by_their_user_and_refused_by_field() {
    let app = spawn_app().await;
    let (user_id, keys) = user_with_keys(&app, "member@example.com", 1).await;
    let (other_id, _) = user_with_keys(&app, "neighbour@example.com", 1).await;
    let path = format!("/v1/users/{user_id}/budget");
    let none = app.call("GET", &path, Some(&keys[0]), None).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
    // A member may not set their own budget, nor read another's.
    let by_member = app
        .call(
            "PUT",
            &path,
            Some(&keys[0]),
            Some(json!({"credits": {"remaining": 1000}})),
        )
        .await;
    assert_eq!(
        by_member.status,
        StatusCode::FORBIDDEN,
        "{}",
        by_member.body
    );
    let neighbours = app
        .call(
            "GET",
            &format!("/v1/users/{other_id}/budget"),
            Some(&keys[0]),
            None,
        )
        .await;
    assert_eq!(
        neighbours.status,
        StatusCode::FORBIDDEN,
        "{}",
        neighbours.body
    );
    // Bad values are 400s; a field the body may not have is a 422, as on every /v1 route.
    let limit_zero = json!({"ratelimits": [{"name": "r", "limit": 0, "window_secs": 60}]});
    for (body, field, status) in [
        (json!({}), "ratelimits", StatusCode::BAD_REQUEST),
        (limit_zero, "ratelimits[0].limit", StatusCode::BAD_REQUEST),
        (
            json!({"credits": {"remaining": -1}}),
            "credits.remaining",
            StatusCode::BAD_REQUEST,
        ),
        (json!({"models": []}), "models", StatusCode::BAD_REQUEST),
        (
            json!({"budget": 5}),
            "budget",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let refused = put_budget(&app, &user_id, body.clone()).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        assert!(
            refused.body.to_string().contains(field),
            "{body} names {field}: {}",
            refused.body
        );
    }
    let unknown = put_budget(
        &app,
        "01KAAAAAAAAAAAAAAAAAAAAAAA",
        json!({"credits": {"remaining": 1}}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let set = put_budget(&app, &user_id, json!({"credits": {"remaining": 1}})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let own = app.call("GET", &path, Some(&keys[0]), None).await;
    assert_eq!(own.body["credits"]["remaining"], 1, "{}", own.body);
    assert_eq!(own.body["user_id"], user_id.as_str());
    // Removed: the user's requests are unmetered again; removing twice finds nothing.
    let removed = app.call("DELETE", &path, Some(&app.admin_key), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(admitted(&burst(&app, &keys, 3).await), 3);
    let again = app.call("DELETE", &path, Some(&app.admin_key), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    // Every change is in the audit trail.
    let audit = app.audit(&app.admin_key, "limit=50").await;
    let types: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"budget.set"), "{types:?}");
    assert!(types.contains(&"budget.removed"), "{types:?}");
    // ...naming what it touched, as written.
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "budget.set")
            .all(|e| e["target"]["kind"] == "user_budget"),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn a_user_budgets_models_hold_every_credential_of_the_user() {
    let app = spawn_app().await;
    let (user_id, key) = app
        .new_user_with_key(
            "models@example.com",
            json!({"name": "full", "scopes": ["chat", "read", "write", "admin"]}),
        )
        .await;
    let keys = [key];
    let set = put_budget(
        &app,
        &user_id,
        json!({"models": ["gpt-4o", "claude-3-5-sonnet"]}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let me = app.call("GET", "/v1/auth/me", Some(&keys[0]), None).await;
    assert_eq!(
        me.body["models"],
        json!(["claude-3-5-sonnet", "gpt-4o"]),
        "{}",
        me.body
    );
    let service = app.service_key(&["verify"]).await;
    let verify = |model: &str| {
        let body = json!({"key": keys[0], "model": model});
        let (app, service) = (&app, &service);
        async move {
            app.call("POST", "/v1/keys/verify", Some(service), Some(body))
                .await
                .body
        }
    };
    assert_eq!(verify("gpt-4o").await["code"], "VALID");
    assert_eq!(verify("o1").await["code"], "FORBIDDEN_MODEL");
    // Held only to the user's own list, the user's full key still sets a password: its
    // sessions are held to the same list.
    let password = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&keys[0]),
            Some(json!({"new_password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(password.status, StatusCode::NO_CONTENT, "{}", password.body);
    let session = app
        .sign_in("models@example.com", "a long enough passphrase")
        .await;
    let me = app.call("GET", "/v1/auth/me", Some(&session), None).await;
    assert_eq!(
        me.body["models"],
        json!(["claude-3-5-sonnet", "gpt-4o"]),
        "{}",
        me.body
    );
}

#[tokio::test]
async fn reported_units_count_against_a_user_budgets_token_window() {
    clear_of_boundary(300, 60);
    let app = spawn_app().await;
    let (user_id, keys) = user_with_keys(&app, "tpm@example.com", 2).await;
    let set = put_budget(
        &app,
        &user_id,
        json!({"ratelimits": [{"name": "tpm", "limit": 100, "window_secs": 300, "unit": "tokens_out"}]}),
    )
    .await;
    assert_eq!(
        set.body["ratelimits"][0]["unit"], "tokens_out",
        "{}",
        set.body
    );
    let key_id = app.credential_id(&keys[0]).await;
    let reporter = app.service_key(&["usage"]).await;
    let reported = app
        .call(
            "POST",
            "/v1/usage",
            Some(&reporter),
            Some(json!({"key_id": key_id, "units": 100, "kind": "tokens_out"})),
        )
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{}", reported.body);
    // Reported through one key, the window is full for the other too.
    let refused = app.call("GET", METERED, Some(&keys[1]), None).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["code"], "RATE_LIMITED", "{}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    let read = read_budget(&app, &user_id, &app.admin_key).await;
    assert_eq!(read.body["ratelimits"][0]["remaining"], 0, "{}", read.body);
}

/// A key secret in the format made before owners rode in secrets
/// (`kg_<id><lineage…><random><crc>`),
/// for a key already in the table: its stored hash is replaced by this secret's.
async fn as_earlier_secret(app: &TestApp, key_id: &str) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    use keygate::domain::base62;
    // The key's lineage follows its id, as in every secret (the admin's key made it).
    let (key, _) = app
        .services
        .store
        .get_api_key(key_id)
        .await
        .unwrap()
        .unwrap();
    let mut secret = format!("kg_{key_id}{}", key.lineage.concat());
    secret.push_str(&base62::encode(&[42u8; 24], base62::width_for(24)));
    let crc = base62::encode(
        &crc32fast::hash(secret.as_bytes()).to_be_bytes(),
        base62::width_for(4),
    );
    secret.push_str(&crc);
    app.services
        .store
        .client()
        .update_item()
        .table_name(app.services.store.table())
        .key("PK", AttributeValue::S(format!("KEY#{key_id}")))
        .key("SK", AttributeValue::S("KEY".into()))
        .update_expression("SET #hash = :hash")
        .expression_attribute_names("#hash", "hash")
        .expression_attribute_values(
            ":hash",
            AttributeValue::S(app.services.hasher().hash(&secret)),
        )
        .send()
        .await
        .expect("the hash is replaced");
    secret
}

#[tokio::test]
async fn a_secret_of_the_earlier_format_is_held_to_its_owners_budget_in_a_second_read() {
    clear_of_boundary(DAY, 300);
    let (app, faults) = keygate_tests::spawn_app_with_faults().await;
    let (user_id, keys) = user_with_keys(&app, "earlier@example.com", 1).await;
    let key_id = app.credential_id(&keys[0]).await;
    let earlier = as_earlier_secret(&app, &key_id).await;
    assert_eq!(
        app.call("GET", "/v1/auth/me", Some(&keys[0]), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "the stored hash is the earlier secret's now"
    );
    put_budget(&app, &user_id, json!({"ratelimits": requests_per_day(2)})).await;
    faults.take_seen();
    let me = app.call("GET", "/v1/auth/me", Some(&earlier), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let batches = faults
        .take_seen()
        .into_iter()
        .filter(|(operation, _)| operation == "BatchGetItem")
        .count();
    assert_eq!(batches, 2, "the credential, then its owner's budgets");
    assert_eq!(admitted(&burst(&app, &[earlier], 6).await), 2);
}

#[tokio::test]
async fn with_owner_budgets_off_none_is_set_and_the_owner_items_are_read_only_for_their_standing() {
    let (app, faults) =
        keygate_tests::spawn_app_with_faults_and(&[("KEYGATE_OWNER_BUDGETS", "off")]).await;
    let (user_id, keys) = user_with_keys(&app, "off@example.com", 1).await;
    let refused = put_budget(&app, &user_id, json!({"credits": {"remaining": 5}})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    faults.take_seen();
    let me = app.call("GET", "/v1/auth/me", Some(&keys[0]), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let batches: Vec<_> = faults
        .take_seen()
        .into_iter()
        .filter(|(operation, _)| operation == "BatchGetItem")
        .collect();
    assert_eq!(batches.len(), 1);
    let keys_read = batches[0].1["RequestItems"][app.services.store.table()]["Keys"]
        .as_array()
        .map(Vec::len);
    assert_eq!(
        keys_read,
        Some(4),
        "the key, the admin's key above it, and the owner items (for a suspension or a \
         deactivation; no budget is applied)"
    );
}

#[tokio::test]
async fn a_refusal_at_the_user_level_moves_no_counter_at_the_key_or_the_tenant() {
    clear_of_boundary(DAY, 300);
    let app = spawn_app().await;
    let (user_id, key) = app
        .new_user_with_key(
            "refused@example.com",
            json!({"name": "wide key", "scopes": ["chat"], "ratelimits": requests_per_day(10)}),
        )
        .await;
    let input: OwnerBudgetInput =
        serde_json::from_value(json!({"ratelimits": requests_per_day(100)})).unwrap();
    app.services
        .set_tenant_budget(&app.tenant_id, &input)
        .await
        .unwrap();
    put_budget(&app, &user_id, json!({"ratelimits": requests_per_day(3)})).await;
    assert_eq!(
        admitted(&burst(&app, std::slice::from_ref(&key), 10).await),
        3
    );
    let key_id = app.credential_id(&key).await;
    let count = |meter_id: String| {
        let app = &app;
        async move {
            let meter = app.services.store.read_meter(&meter_id).await.unwrap();
            meter.windows.get("requests").map_or(0, |(_, count)| *count)
        }
    };
    let user = BudgetOwner::User {
        tenant_id: &app.tenant_id,
        user_id: &user_id,
    };
    let tenant = BudgetOwner::Tenant {
        tenant_id: &app.tenant_id,
    };
    // GET /v1/auth/me is not metered (cost 0): every level counted the three admitted.
    assert_eq!(count(key_id).await, 3);
    assert_eq!(count(user.meter_id()).await, 3);
    assert_eq!(count(tenant.meter_id()).await, 3);
}
