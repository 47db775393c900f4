//! `POST /v1/users/{user_id}/erase`: only after deactivation; afterwards no prompt log,
//! chat, message, login, key, token or grant of the user is left, and no item of the table
//! holds their email or name (the test scans the table; keygate never does); the audit trail
//! keeps the user's events by id with email, IP and user agent tombstoned; a failure midway
//! is resumed by running it again.

use aws_sdk_dynamodb::types::AttributeValue;
use keygate_tests::{Reply, StatusCode, TestApp, spawn_app, spawn_app_with_faults, strings_in};
use serde_json::json;

const EMAIL: &str = "ada.lovelace@example.com";
const NAME: &str = "Ada Lovelace";
const PASSWORD: &str = "correct horse battery";

async fn erase(app: &TestApp, credential: &str, user_id: &str) -> Reply {
    app.call(
        "POST",
        &format!("/v1/users/{user_id}/erase"),
        Some(credential),
        None,
    )
    .await
}

/// Ada, with a session and a login, a key, an exchanged token, a chat with messages and
/// prompt logs, a grant on the admin's dataset; her id and key.
async fn ada_with_history(app: &TestApp) -> (String, String, String) {
    let made = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": EMAIL, "name": NAME, "password": PASSWORD})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let session = app.sign_in(EMAIL, PASSWORD).await;
    let (_, key) = app
        .new_key(&session, json!({"name": "ada", "scopes": ["chat", "read"]}))
        .await;
    let exchanged = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": EMAIL, "api_key": key})),
        )
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.body);
    let chat = app.new_chat(&key, json!({"name": "Ada's questions"})).await;
    for (role, text) in [
        ("human", "What is 2 + 2?"),
        ("ai", "4"),
        ("human", "And 3 + 3?"),
        ("ai", "6"),
    ] {
        let said = app.say(&key, &chat, role, text).await;
        assert_eq!(said.status, StatusCode::CREATED, "{}", said.body);
    }
    let logs = app.call("GET", "/v1/logs", Some(&key), None).await;
    assert_eq!(
        logs.body["items"].as_array().map(Vec::len),
        Some(2),
        "{}",
        logs.body
    );
    let dataset = app
        .call(
            "POST",
            "/v1/datasets",
            Some(&app.admin_key),
            Some(json!({"name": "shared"})),
        )
        .await;
    let full = dataset.body["full_name"].as_str().unwrap().to_owned();
    let granted = app
        .call(
            "PUT",
            &format!("/v1/datasets/{full}/grants/{EMAIL}"),
            Some(&app.admin_key),
            Some(json!({"permission": "read"})),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    (id, key, chat)
}

fn text_of(item: &std::collections::HashMap<String, AttributeValue>) -> Vec<String> {
    let mut texts = Vec::new();
    item.values().for_each(|v| strings_in(v, &mut texts));
    texts
}

#[tokio::test]
async fn erasure_leaves_no_prompt_message_login_or_email_of_the_user_in_the_table() {
    let app = spawn_app().await;
    let (ada, key, chat) = ada_with_history(&app).await;
    let before = app.scan_table().await;
    assert!(
        before
            .iter()
            .any(|item| text_of(item).iter().any(|t| t.contains(EMAIL))),
        "the table holds the email before"
    );

    let early = erase(&app, &app.admin_key, &ada).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert_eq!(early.headers["content-type"], "application/problem+json");
    let done = app
        .call(
            "DELETE",
            &format!("/v1/users/{ada}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let erased = erase(&app, &app.admin_key, &ada).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    for (field, count) in [
        ("prompt_logs", 2),
        ("chats", 1),
        ("messages", 4),
        ("logins", 2),
        ("keys", 1),
        ("grants", 1),
    ] {
        assert_eq!(erased.body[field], count, "{field}: {}", erased.body);
    }
    assert!(
        erased.body["tokens"].as_u64().unwrap() >= 2,
        "{}",
        erased.body
    );

    let user_partition = format!("USER#{}#{ada}", app.tenant_id);
    let after = app.scan_table().await;
    for item in &after {
        let texts = text_of(item);
        assert!(
            !texts.iter().any(|t| t.contains(EMAIL) || t.contains(NAME)),
            "an item still holds the email or name: {item:?}"
        );
        let pk = item["PK"].as_s().unwrap();
        let sk = item["SK"].as_s().unwrap();
        assert!(!pk.starts_with(&user_partition), "{pk} {sk}");
        assert_ne!(pk, &format!("CHAT#{chat}"), "a message is left");
        assert!(!sk.starts_with("LOG#") && !sk.starts_with("LOGIN#") && !sk.starts_with("MSG#"));
    }
    // The trail keeps Ada's events by id; where she acted, her IP and user agent are gone.
    let trail: Vec<_> = after
        .iter()
        .filter(|item| item["PK"].as_s().unwrap() == &format!("AUDIT#{}#{ada}", app.tenant_id))
        .collect();
    for event in &trail {
        if event.get("actor_user_id").and_then(|v| v.as_s().ok()) == Some(&ada) {
            assert_eq!(event["ip"].as_s().unwrap(), "erased", "{event:?}");
            assert_eq!(event["user_agent"].as_s().unwrap(), "erased");
        }
    }
    let types: Vec<&str> = trail
        .iter()
        .map(|e| e["event_type"].as_s().unwrap().as_str())
        .collect();
    for kept in [
        "user.created",
        "session.signed_in",
        "key.created",
        "user.deactivated",
        "user.erased",
    ] {
        assert!(types.contains(&kept), "{kept} in {types:?}");
    }
    // The user item stays as a tombstone: listed, inactive, without email or name.
    let users = app
        .call("GET", "/v1/users", Some(&app.admin_key), None)
        .await;
    let tomb = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == ada.as_str())
        .expect("the tombstone is listed");
    assert_eq!(tomb["email"], "");
    assert_eq!(tomb["name"], serde_json::Value::Null);
    assert_eq!(tomb["active"], false);
    // Her credentials are gone with her data.
    for path in ["/v1/logs", "/v1/logins", &format!("/v1/chats/{chat}")] {
        let gone = app.call("GET", path, Some(&key), None).await;
        assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // The email is free again: a new user may take it.
    let again = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": EMAIL})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_ne!(again.body["id"], ada.as_str());
    // Repeatable: nothing left to erase.
    let repeat = erase(&app, &app.admin_key, &ada).await;
    assert_eq!(repeat.status, StatusCode::OK, "{}", repeat.body);
    assert_eq!(repeat.body["messages"], 0);
    assert_eq!(repeat.body["keys"], 0);
}

#[tokio::test]
async fn erasure_is_refused_to_non_admins_and_for_unknown_users() {
    let app = spawn_app().await;
    let (ada, key, _) = ada_with_history(&app).await;
    let forbidden = erase(&app, &key, &ada).await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.body
    );
    let other = app.other_tenant("grace@example.com").await;
    let unknown = keygate::domain::credential::new_ulid().to_string();
    for id in [unknown.as_str(), other.admin_id.as_str(), "not-an-id"] {
        let missing = erase(&app, &app.admin_key, id).await;
        assert_eq!(
            missing.status,
            StatusCode::NOT_FOUND,
            "{id}: {}",
            missing.body
        );
    }
}

#[tokio::test]
async fn an_erasure_that_fails_midway_resumes_when_run_again() {
    let (app, faults) = spawn_app_with_faults().await;
    let (ada, _, chat) = ada_with_history(&app).await;
    let done = app
        .call(
            "DELETE",
            &format!("/v1/users/{ada}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    faults.fail("BatchWriteItem");
    let failed = erase(&app, &app.admin_key, &ada).await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        failed.body
    );
    faults.heal();
    let still = app.scan_table().await;
    assert!(
        still
            .iter()
            .any(|i| i["PK"].as_s().unwrap() == &format!("CHAT#{chat}")),
        "nothing was deleted yet"
    );
    let resumed = erase(&app, &app.admin_key, &ada).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    for item in app.scan_table().await {
        assert!(
            !text_of(&item).iter().any(|t| t.contains(EMAIL)),
            "{item:?}"
        );
    }
}
