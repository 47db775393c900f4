use keygate_tests::{StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

/// The admin says `text` in a chat, which must succeed.
async fn say(app: &TestApp, chat_id: &str, role: &str, text: &str) {
    let reply = app.say(&app.admin_key, chat_id, role, text).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

#[tokio::test]
async fn a_human_and_ai_pair_appears_in_the_logs() {
    let app = spawn_app().await;
    let id = app.new_chat(&app.admin_key, json!({})).await;
    // An answer with no question before it is not a pair.
    say(&app, &id, "ai", "Welcome!").await;
    say(&app, &id, "human", "first question").await;
    say(&app, &id, "human", "What is 2 + 2?").await;
    say(&app, &id, "ai", "4").await;
    say(&app, &id, "ai", "(and 2 * 2 too)").await;
    say(&app, &id, "human", "Thanks. And 3 + 3?").await;
    say(&app, &id, "ai", "6").await;

    let logs = app
        .call("GET", "/v1/logs", Some(&app.admin_key), None)
        .await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);
    let items = logs.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", logs.body);
    assert_eq!(items[0]["prompt"], "Thanks. And 3 + 3?", "newest first");
    assert_eq!(items[0]["completion"], "6");
    assert_eq!(items[1]["prompt"], "What is 2 + 2?");
    assert_eq!(items[1]["completion"], "4");
    assert_eq!(items[0]["IP"], "127.0.0.1");
    assert!(items[0]["date_time"].as_str().unwrap().ends_with('Z'));

    let one = app
        .call("GET", "/v1/logs?limit=1", Some(&app.admin_key), None)
        .await;
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);

    // Every log item carries the TTL attribute.
    let log_items: Vec<_> = app
        .scan_table()
        .await
        .into_iter()
        .filter(|item| {
            item.get("SK")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with("LOG#"))
        })
        .collect();
    assert_eq!(log_items.len(), 2);
    assert!(log_items.iter().all(|item| item.contains_key("purge_at")));

    // Another user sees none of them.
    let (_, other) = app
        .new_user_with_key("other@example.com", json!({"name": "o"}))
        .await;
    let theirs = app.call("GET", "/v1/logs", Some(&other), None).await;
    assert_eq!(theirs.body["items"], json!([]));
}

#[tokio::test]
async fn a_token_exchange_appears_in_the_logins() {
    let app = spawn_app().await;
    let exchanged = app
        .http
        .post(app.url("/v1/auth/token"))
        .header("user-agent", "keygate-tests/1.0")
        .json(&json!({"email": app.admin_email, "api_key": app.admin_key}))
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), StatusCode::OK);
    let token: Value = exchanged.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap();

    // The exchanged token reads the history too.
    let logins = app.call("GET", "/v1/logins", Some(token), None).await;
    assert_eq!(logins.status, StatusCode::OK, "{}", logins.body);
    let items = logins.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["IP"], "127.0.0.1");
    assert_eq!(items[0]["method"], "api_key");
    assert_eq!(items[0]["user_agent"], "keygate-tests/1.0");
    assert!(items[0]["date_time"].as_str().unwrap().ends_with('Z'));

    for _ in 0..6 {
        let again = app
            .call(
                "POST",
                "/v1/auth/token",
                None,
                Some(json!({"email": app.admin_email, "api_key": app.admin_key})),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK);
    }
    let default = app
        .call("GET", "/v1/logins", Some(&app.admin_key), None)
        .await;
    assert_eq!(
        default.body["items"].as_array().unwrap().len(),
        5,
        "default limit"
    );
    let all = app
        .call("GET", "/v1/logins?limit=100", Some(&app.admin_key), None)
        .await;
    let all = all.body["items"].as_array().unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(all[6]["user_agent"], "keygate-tests/1.0", "oldest last");
    let items_with_ttl = app
        .scan_table()
        .await
        .into_iter()
        .filter(|item| {
            item.get("SK")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with("LOGIN#"))
        })
        .filter(|item| item.contains_key("purge_at"))
        .count();
    assert_eq!(items_with_ttl, 7);
}

#[tokio::test]
async fn activity_limits_are_bounded_and_named() {
    let app = spawn_app().await;
    for path in ["/v1/logs", "/v1/logins"] {
        for bad in ["0", "101", "-1", "many"] {
            let reply = app
                .call(
                    "GET",
                    &format!("{path}?limit={bad}"),
                    Some(&app.admin_key),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {bad}");
            assert_eq!(reply.body["field"], "limit", "{path} {bad}");
        }
        for good in ["1", "100"] {
            let reply = app
                .call(
                    "GET",
                    &format!("{path}?limit={good}"),
                    Some(&app.admin_key),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{path} {good}");
        }
    }
    let (_, chat_only) = app
        .new_user_with_key(
            "chatty@example.com",
            json!({"name": "c", "scopes": ["chat"]}),
        )
        .await;
    for path in ["/v1/logs", "/v1/logins"] {
        let reply = app.call("GET", path, Some(&chat_only), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        let anonymous = app.call("GET", path, None, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn large_texts_keep_every_response_small() {
    let app = spawn_app().await;
    let id = app.new_chat(&app.admin_key, json!({})).await;
    let largest = "y".repeat(100 * 1024);
    for _ in 0..11 {
        say(&app, &id, "human", &largest).await;
        say(&app, &id, "ai", &largest).await;
    }
    // Twenty maximal messages (the default page) fit; more need a smaller page.
    let default = app
        .call(
            "GET",
            &format!("/v1/chats/{id}/messages"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(default.status, StatusCode::OK);
    assert_eq!(default.body["items"].as_array().unwrap().len(), 20);
    let too_much = app
        .call(
            "GET",
            &format!("/v1/chats/{id}/messages?size=21"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(too_much.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_much.body["field"], "size");
    // The log list stops before 2 MiB of text: ten maximal pairs.
    let logs = app
        .call("GET", "/v1/logs?limit=100", Some(&app.admin_key), None)
        .await;
    assert_eq!(logs.status, StatusCode::OK);
    assert_eq!(logs.body["items"].as_array().unwrap().len(), 10);
}
