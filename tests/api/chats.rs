use keygate::domain::chat::{Message, MessageRole};
use keygate::store::chats::Append;
use keygate_tests::{StatusCode, spawn_app};
use serde_json::{Value, json};

/// Attribute `name` of an item as a string, or "".
fn attr(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_chat_lives_from_creation_through_messages_to_deletion() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let created = app
        .call(
            "POST",
            "/v1/chats",
            Some(key),
            Some(json!({
                "name": "Sales questions",
                "bot_id": "bot-1",
                "role_id": 7,
                "role_variables": {"region": "EU", "level": 2, "vip": true},
                "user_profile": {"name": "Ada"}
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let chat = &created.body;
    let id = chat["id"].as_str().unwrap();
    assert_eq!(chat["project_id"], app.tenant_id.as_str());
    assert_eq!(chat["status"], "active");
    assert_eq!(chat["status_message"], Value::Null);
    assert_eq!(chat["name"], "Sales questions");
    assert_eq!(chat["bot_id"], "bot-1");
    assert_eq!(chat["role_id"], "7");
    assert_eq!(
        chat["role_variables"],
        json!({"region": "EU", "level": 2, "vip": true})
    );
    assert_eq!(chat["user_profile"], json!({"name": "Ada"}));
    assert!(chat["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(chat["modified_at"].is_string());

    let read = app
        .call("GET", &format!("/v1/chats/{id}"), Some(key), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(&read.body, chat);

    let question = app
        .say(key, id, "human", "How many orders last week?")
        .await;
    assert_eq!(question.status, StatusCode::CREATED, "{}", question.body);
    assert_eq!(question.body["id"], "1");
    assert_eq!(question.body["role"], "human");
    assert_eq!(
        question.body["content"],
        json!({"text": "How many orders last week?"})
    );
    assert_eq!(question.body["reply_to_msg_id"], Value::Null);
    let answer = app.say(key, id, "ai", "1,204 orders.").await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["id"], "2");
    assert_eq!(answer.body["reply_to_msg_id"], "1");

    let messages = app
        .call("GET", &format!("/v1/chats/{id}/messages"), Some(key), None)
        .await;
    assert_eq!(messages.status, StatusCode::OK);
    assert_eq!(messages.body["total"], 2);
    assert_eq!(messages.body["pages"], 1);
    assert_eq!(messages.body["page"], 1);
    assert_eq!(messages.body["size"], 20);
    assert_eq!(messages.body["items"][0], question.body);
    assert_eq!(messages.body["items"][1], answer.body);
    let one = app
        .call(
            "GET",
            &format!("/v1/chats/{id}/messages/2"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body, answer.body);
    for missing in ["3", "0", "02", "abc"] {
        let reply = app
            .call(
                "GET",
                &format!("/v1/chats/{id}/messages/{missing}"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
    }

    let listed = app.call("GET", "/v1/chats", Some(key), None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0]["id"], id);

    let deleted = app
        .call("DELETE", &format!("/v1/chats/{id}"), Some(key), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for (method, path) in [
        ("GET", format!("/v1/chats/{id}")),
        ("GET", format!("/v1/chats/{id}/messages")),
        ("GET", format!("/v1/chats/{id}/messages/1")),
        ("DELETE", format!("/v1/chats/{id}")),
    ] {
        let reply = app.call(method, &path, Some(key), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    let after = app.call("GET", "/v1/chats", Some(key), None).await;
    assert_eq!(after.body["total"], 0);
    assert_eq!(after.body["items"], json!([]));
}

#[tokio::test]
async fn chats_list_newest_first_in_pages() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.new_chat(key, json!({"name": format!("chat {i}")}))
                .await,
        );
    }
    ids.reverse();
    let mut seen = Vec::new();
    for page in 1..=3 {
        let reply = app
            .call(
                "GET",
                &format!("/v1/chats?page={page}&size=2"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["total"], 5);
        assert_eq!(reply.body["pages"], 3);
        assert_eq!(reply.body["page"], page);
        assert_eq!(reply.body["size"], 2);
        for item in reply.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, ids);
    let beyond = app
        .call("GET", "/v1/chats?page=4&size=2", Some(key), None)
        .await;
    assert_eq!(beyond.body["items"], json!([]));
    assert_eq!(beyond.body["total"], 5);
    for bad in ["page=0", "size=0", "size=101", "page=x"] {
        let reply = app
            .call("GET", &format!("/v1/chats?{bad}"), Some(key), None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.body["field"], bad.split('=').next().unwrap(), "{bad}");
    }
}

#[tokio::test]
async fn messages_page_oldest_first_across_several_pages() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let id = app.new_chat(key, json!({})).await;
    for i in 1..=5 {
        let role = if i % 2 == 1 { "human" } else { "ai" };
        let reply = app.say(key, &id, role, &format!("message {i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let mut texts = Vec::new();
    for page in 1..=3 {
        let reply = app
            .call(
                "GET",
                &format!("/v1/chats/{id}/messages?page={page}&size=2"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["total"], 5);
        assert_eq!(reply.body["pages"], 3);
        let items = reply.body["items"].as_array().unwrap();
        assert_eq!(items.len(), if page < 3 { 2 } else { 1 });
        texts.extend(
            items
                .iter()
                .map(|m| m["content"]["text"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(
        texts,
        (1..=5).map(|i| format!("message {i}")).collect::<Vec<_>>()
    );
    let beyond = app
        .call(
            "GET",
            &format!("/v1/chats/{id}/messages?page=4&size=2"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert_eq!(beyond.body["items"], json!([]));
    let bad = app
        .call(
            "GET",
            &format!("/v1/chats/{id}/messages?size=101"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "size");
}

/// Two appends racing for the same number: the one that read the chat first loses and
/// writes nothing. (Checked step by step: the emulator does not isolate concurrent
/// transactions the way DynamoDB does, so a parallel test would prove nothing.)
#[tokio::test]
async fn an_append_numbered_from_a_stale_count_is_refused_and_overwrites_nothing() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let id = app.new_chat(key, json!({})).await;
    let store = &app.services.store;
    let stale = store
        .get_chat(&app.tenant_id, &app.admin_id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale.message_count, 0);
    let first = app.say(key, &id, "human", "first").await;
    assert_eq!(first.body["id"], "1");

    let late = Message {
        chat_id: id.clone(),
        seq: 1,
        role: MessageRole::Ai,
        text: "late".into(),
        created_at: 0,
        reply_to: None,
        ip: String::new(),
    };
    let outcome = store
        .append_messages(&stale, &[late], &[], 0)
        .await
        .unwrap();
    assert!(matches!(outcome, Append::Stale));

    let second = app.say(key, &id, "human", "second").await;
    assert_eq!(second.body["id"], "2");
    let listed = app
        .call("GET", &format!("/v1/chats/{id}/messages"), Some(key), None)
        .await;
    assert_eq!(listed.body["total"], 2);
    let texts: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "second"]);
}

#[tokio::test]
async fn deleting_a_chat_leaves_no_message_items() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let kept = app.new_chat(key, json!({"name": "kept"})).await;
    assert_eq!(
        app.say(key, &kept, "human", "stay").await.status,
        StatusCode::CREATED
    );
    let doomed = app.new_chat(key, json!({"name": "doomed"})).await;
    // More than one batch write (25) of messages.
    for i in 0..30 {
        let reply = app.say(key, &doomed, "human", &format!("m{i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let deleted = app
        .call("DELETE", &format!("/v1/chats/{doomed}"), Some(key), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);

    let items = app.scan_table().await;
    let mentions_doomed = items
        .iter()
        .filter(|item| attr(item, "PK").contains(&doomed) || attr(item, "SK").contains(&doomed))
        .count();
    assert_eq!(mentions_doomed, 0, "nothing of the deleted chat remains");
    let kept_messages = items
        .iter()
        .filter(|item| attr(item, "PK") == format!("CHAT#{kept}"))
        .count();
    assert_eq!(kept_messages, 1, "the other chat keeps its message");
    let listed = app.call("GET", "/v1/chats", Some(key), None).await;
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0]["id"], kept.as_str());
}

#[tokio::test]
async fn an_interrupted_delete_hides_the_chat_and_a_retry_finishes_it() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let id = app.new_chat(key, json!({})).await;
    for text in ["a", "b", "c"] {
        assert_eq!(
            app.say(key, &id, "human", text).await.status,
            StatusCode::CREATED
        );
    }
    // A delete that stopped right after marking the chat (e.g. the function timed out).
    let store = &app.services.store;
    store
        .mark_chat_deleted(&app.tenant_id, &app.admin_id, &id, 1)
        .await
        .unwrap();
    let read = app
        .call("GET", &format!("/v1/chats/{id}"), Some(key), None)
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let append = app.say(key, &id, "human", "late").await;
    assert_eq!(append.status, StatusCode::NOT_FOUND);
    let listed = app.call("GET", "/v1/chats", Some(key), None).await;
    assert_eq!(listed.body["total"], 0);
    assert_eq!(listed.body["items"], json!([]));

    let retried = app
        .call("DELETE", &format!("/v1/chats/{id}"), Some(key), None)
        .await;
    assert_eq!(retried.status, StatusCode::NO_CONTENT);
    let left = app
        .scan_table()
        .await
        .into_iter()
        .filter(|item| attr(item, "PK").contains(&id) || attr(item, "SK").contains(&id))
        .count();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn another_users_chat_is_not_found_on_every_route() {
    let app = spawn_app().await;
    let id = app
        .new_chat(&app.admin_key, json!({"name": "private"}))
        .await;
    assert_eq!(
        app.say(&app.admin_key, &id, "human", "secret question")
            .await
            .status,
        StatusCode::CREATED
    );
    let (_, other) = app
        .new_user_with_key("eve@example.com", json!({"name": "eve"}))
        .await;
    let routes = [
        ("GET", format!("/v1/chats/{id}"), None),
        ("DELETE", format!("/v1/chats/{id}"), None),
        ("POST", format!("/v1/chats/{id}?question=hi"), None),
        ("GET", format!("/v1/chats/{id}/messages"), None),
        (
            "POST",
            format!("/v1/chats/{id}/messages"),
            Some(json!({"role": "human", "content": {"text": "hi"}})),
        ),
        ("GET", format!("/v1/chats/{id}/messages/1"), None),
    ];
    for (method, path, body) in routes {
        let reply = app.call(method, &path, Some(&other), body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let theirs = app.call("GET", "/v1/chats", Some(&other), None).await;
    assert_eq!(theirs.body["total"], 0);
    // The owner still has it, untouched.
    let mine = app
        .call(
            "GET",
            &format!("/v1/chats/{id}/messages"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["total"], 1);
}

#[tokio::test]
async fn askers_and_temp_tokens_chat_and_new_chats_inherit_the_token_role() {
    let app = spawn_app().await;
    let (_, asker) = app
        .new_key(&app.admin_key, json!({"name": "asker", "type": "asker"}))
        .await;
    let temp = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&asker),
            Some(json!({
                "chat_role": {"role_id": "1", "role_vars": {"id": "42"}},
                "user_profile": {"name": "Zhang San"},
                "token_ttl": 900
            })),
        )
        .await;
    assert_eq!(temp.status, StatusCode::OK, "{}", temp.body);
    let token = temp.body["token"].as_str().unwrap().to_owned();

    let inherited = app
        .call("POST", "/v1/chats", Some(&token), Some(json!({})))
        .await;
    assert_eq!(inherited.status, StatusCode::CREATED, "{}", inherited.body);
    assert_eq!(inherited.body["role_id"], "1");
    assert_eq!(inherited.body["role_variables"], json!({"id": "42"}));
    assert_eq!(inherited.body["user_profile"], json!({"name": "Zhang San"}));
    let chosen = app
        .call(
            "POST",
            "/v1/chats",
            Some(&token),
            Some(json!({"role_id": "2", "user_profile": {"name": "Li Si"}})),
        )
        .await;
    assert_eq!(chosen.body["role_id"], "2");
    assert_eq!(chosen.body["role_variables"], json!({"id": "42"}));
    assert_eq!(chosen.body["user_profile"], json!({"name": "Li Si"}));
    let plain = app.call("POST", "/v1/chats", Some(&asker), None).await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert_eq!(plain.body["role_id"], Value::Null);

    // The same user's chats, whichever credential made them; AskTable's `?question=` form.
    let id = inherited.body["id"].as_str().unwrap();
    let asked = app
        .call(
            "POST",
            &format!("/v1/chats/{id}?question=Who%20sold%20most%3F"),
            Some(&asker),
            None,
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    assert_eq!(asked.body["role"], "human");
    assert_eq!(asked.body["content"]["text"], "Who sold most?");
    let via_messages = app
        .call(
            "POST",
            &format!("/v1/chats/{id}/messages?question=And%20least%3F"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(via_messages.status, StatusCode::CREATED);
    let listed = app
        .call("GET", "/v1/chats", Some(&app.admin_key), None)
        .await;
    assert_eq!(listed.body["total"], 3);
    // Askers may not read logs.
    let logs = app.call("GET", "/v1/logs", Some(&asker), None).await;
    assert_eq!(logs.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn chat_routes_need_the_chat_scope() {
    let app = spawn_app().await;
    let (_, reader) = app
        .new_user_with_key(
            "reader@example.com",
            json!({"name": "r", "scopes": ["read"]}),
        )
        .await;
    let id = app.new_chat(&app.admin_key, json!({})).await;
    for (method, path) in [
        ("POST", "/v1/chats".to_owned()),
        ("GET", "/v1/chats".to_owned()),
        ("GET", format!("/v1/chats/{id}")),
        ("GET", format!("/v1/chats/{id}/messages")),
    ] {
        let reply = app.call(method, &path, Some(&reader), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let anonymous = app.call("GET", "/v1/chats", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_messages_and_chats_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let id = app.new_chat(key, json!({})).await;
    let path = format!("/v1/chats/{id}/messages");
    let too_long = "x".repeat(100 * 1024 + 1);
    let cases = [
        (
            json!({"role": "human", "content": {"text": too_long}}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "content.text",
        ),
        (
            json!({"role": "human", "content": {"text": "  "}}),
            StatusCode::BAD_REQUEST,
            "content.text",
        ),
        (
            json!({"role": "human"}),
            StatusCode::BAD_REQUEST,
            "content.text",
        ),
        (
            json!({"role": "system", "content": {"text": "x"}}),
            StatusCode::BAD_REQUEST,
            "role",
        ),
        (
            json!({"role": "ai", "question": "x"}),
            StatusCode::BAD_REQUEST,
            "role",
        ),
        (
            json!({"question": "x", "content": {"text": "y"}}),
            StatusCode::BAD_REQUEST,
            "question",
        ),
        (
            json!({"content": {"text": "x", "html": "<b>"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content.html",
        ),
    ];
    for (body, status, field) in cases {
        let reply = app.call("POST", &path, Some(key), Some(body)).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let at_limit = "x".repeat(100 * 1024);
    let accepted = app.say(key, &id, "ai", &at_limit).await;
    assert_eq!(accepted.status, StatusCode::CREATED);
    assert_eq!(accepted.body["id"], "1", "refused messages took no number");

    let chat_cases = [
        (json!({"name": ""}), StatusCode::BAD_REQUEST, "name"),
        (
            json!({"bot_id": "x".repeat(129)}),
            StatusCode::BAD_REQUEST,
            "bot_id",
        ),
        (
            json!({"role_variables": {"a": {"b": 1}}}),
            StatusCode::BAD_REQUEST,
            "role_variables.a",
        ),
        (
            json!({"user_profile": {"a": [1]}}),
            StatusCode::BAD_REQUEST,
            "user_profile.a",
        ),
        (
            json!({"colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
    ];
    for (body, status, field) in chat_cases {
        let reply = app.call("POST", "/v1/chats", Some(key), Some(body)).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let unknown = app
        .call("GET", "/v1/chats/not-a-chat-id", Some(key), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
