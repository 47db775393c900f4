//! Ask Sage's User API (`/user/*`, seeds/asksage-user-api.txt) against the local server.
//!
//! Every request example of the document (curl, Python `requests`, JavaScript `fetch`) is
//! replayed as its client sends it: same method, path, headers and body, with only the host
//! and the placeholder values changed. Each answer is checked for the documented status and
//! the envelope `{"response": ..., "status": ...}`, for success and for every documented
//! error code.

use keygate_tests::{Reply, StatusCode, TestApp, reply, spawn_app};
use serde_json::{Value, json};

/// One request example of the document, as its client sends it.
struct Example {
    client: &'static str,
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
}

const TOKEN_HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
];
const AUTH_HEADERS: &[(&str, &str)] = &[
    ("x-access-tokens", "your_access_token"),
    ("Content-Type", "application/json"),
];

/// The curl, Python and JavaScript examples of one endpoint. curl sends its `-d` text as
/// written (or no body at all), `requests` sends `json.dumps(data)`, `fetch` sends
/// `JSON.stringify(...)`.
fn examples(
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    [curl, python, javascript]: [Option<&'static str>; 3],
) -> [Example; 3] {
    let example = |client, body| Example {
        client,
        method,
        path,
        headers,
        body,
    };
    [
        example("curl", curl),
        example("python", python),
        example("javascript", javascript),
    ]
}

fn get_token_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/get-token-with-api-key",
        TOKEN_HEADERS,
        [
            Some("{\n\"email\": \"your_email@email.com\",\n\"api_key\": \"your_api_key\"\n}"),
            Some(r#"{"email": "your_email@email.com", "api_key": "your_api_key"}"#),
            Some(r#"{"email":"your_email@email.com","api_key":"your_api_key"}"#),
        ],
    )
}

/// Endpoints whose examples send no parameters: curl without a body, the others `{}`.
fn bare_examples(path: &'static str) -> [Example; 3] {
    examples("POST", path, AUTH_HEADERS, [None, Some("{}"), Some("{}")])
}

fn get_user_logins_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/get-user-logins",
        AUTH_HEADERS,
        [
            Some(r#"{"limit": 5}"#),
            Some(r#"{"limit": 5}"#),
            Some(r#"{"limit":5}"#),
        ],
    )
}

fn add_dataset_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/add-dataset",
        AUTH_HEADERS,
        [
            Some(r#"{"dataset": "MyDataset123"}"#),
            Some(r#"{"dataset": "MyDataset123"}"#),
            Some(r#"{"dataset":"MyDataset123"}"#),
        ],
    )
}

fn delete_dataset_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/delete-dataset",
        AUTH_HEADERS,
        [
            Some(r#"{"dataset": "user_custom_123_MyDataset_content"}"#),
            Some(r#"{"dataset": "user_custom_123_MyDataset_content"}"#),
            Some(r#"{"dataset":"user_custom_123_MyDataset_content"}"#),
        ],
    )
}

fn session_examples(path: &'static str) -> [Example; 3] {
    examples(
        "POST",
        path,
        AUTH_HEADERS,
        [
            Some(r#"{"session_id": "your_session_id"}"#),
            Some(r#"{"session_id": "your_session_id"}"#),
            Some(r#"{"session_id":"your_session_id"}"#),
        ],
    )
}

fn deassign_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/deassign-dataset",
        AUTH_HEADERS,
        [
            Some("{\n\"dataset\": \"MyDataset\",\n\"email\": \"user@example.com\"\n}"),
            Some(r#"{"dataset": "MyDataset", "email": "user@example.com"}"#),
            Some(r#"{"dataset":"MyDataset","email":"user@example.com"}"#),
        ],
    )
}

fn update_permission_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/update-permission-dataset",
        AUTH_HEADERS,
        [
            Some(
                "{\n\"dataset\": \"MyDataset\",\n\"email\": \"user@example.com\",\n\"permission\": \"read\"\n}",
            ),
            Some(r#"{"dataset": "MyDataset", "email": "user@example.com", "permission": "read"}"#),
            Some(r#"{"dataset":"MyDataset","email":"user@example.com","permission":"read"}"#),
        ],
    )
}

fn datasets_with_permissions_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/get-datasets-with-permissions",
        AUTH_HEADERS,
        [
            Some(r#"{"check_permissions": true}"#),
            Some(r#"{"check_permissions": true}"#),
            Some(r#"{"check_permissions":true}"#),
        ],
    )
}

fn create_key_examples() -> [Example; 3] {
    examples(
        "POST",
        "/user/user-api-key",
        AUTH_HEADERS,
        [
            Some(r#"{"name": "My API Key"}"#),
            Some(r#"{"name": "My API Key"}"#),
            Some(r#"{"name":"My API Key"}"#),
        ],
    )
}

fn delete_key_examples() -> [Example; 3] {
    examples(
        "DELETE",
        "/user/user-api-key",
        AUTH_HEADERS,
        [
            Some(r#"{"id": 123}"#),
            Some(r#"{"id": 123}"#),
            Some(r#"{"id":123}"#),
        ],
    )
}

/// Sends an example with its placeholders replaced by `values` (placeholder, value).
async fn replay(app: &TestApp, example: &Example, values: &[(&str, &str)]) -> Reply {
    let fill = |text: &str| {
        values
            .iter()
            .fold(text.to_owned(), |text, (placeholder, value)| {
                text.replace(placeholder, value)
            })
    };
    let method = reqwest::Method::from_bytes(example.method.as_bytes()).unwrap();
    let mut request = app.http.request(method, app.url(example.path));
    for (name, value) in example.headers {
        request = request.header(*name, fill(value));
    }
    if let Some(body) = example.body {
        request = request.body(fill(body));
    }
    reply(request.send().await.expect("request is sent")).await
}

/// Checks the envelope: a JSON object holding exactly `response` and `status`, with the
/// HTTP status equal to `status`; an error's `response` is a message. Returns `response`.
#[track_caller]
fn envelope(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/json",
        "{}",
        reply.body
    );
    let fields = reply.body.as_object().expect("the body is a JSON object");
    assert_eq!(fields.len(), 2, "{}", reply.body);
    assert_eq!(reply.body["status"], status, "{}", reply.body);
    let response = reply.body["response"].clone();
    if status != 200 {
        assert!(
            response.is_string(),
            "an error carries a message: {response}"
        );
    }
    response
}

/// `POST /user/<endpoint>` with `x-access-tokens` and an optional JSON body.
async fn post(app: &TestApp, endpoint: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    send(app, "POST", endpoint, token, body).await
}

async fn send(
    app: &TestApp,
    method: &str,
    endpoint: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .http
        .request(method, app.url(&format!("/user/{endpoint}")));
    if let Some(token) = token {
        request = request.header("x-access-tokens", token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply(request.send().await.expect("request is sent")).await
}

/// A 24-hour access token for `email`'s `key`, as Ask Sage's clients get one.
async fn access_token(app: &TestApp, email: &str, key: &str) -> String {
    let reply = post(
        app,
        "get-token-with-api-key",
        None,
        Some(json!({"email": email, "api_key": key})),
    )
    .await;
    envelope(&reply, 200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The grantee of the dataset examples, `user@example.com`, with a key that may write.
async fn example_user(app: &TestApp) -> String {
    let (_, key) = app
        .new_user_with_key(
            "user@example.com",
            json!({"name": "k", "scopes": ["chat", "read", "write"]}),
        )
        .await;
    key
}

/// Records a chat through `append-chat` and returns its session id.
async fn recorded_chat(app: &TestApp, token: &str, title: &str, chats: Value) -> String {
    let reply = post(
        app,
        "append-chat",
        Some(token),
        Some(json!({"chat_title": title, "chats": chats})),
    )
    .await;
    envelope(&reply, 200)["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn exchange(question: &str, answer: &str) -> Value {
    json!([{"user": "me", "message": question}, {"user": "gpt", "message": answer}])
}

#[tokio::test]
async fn get_token_with_api_key_exchanges_a_key_and_refuses_a_bad_pair_with_400() {
    let app = spawn_app().await;
    for example in get_token_examples() {
        let values = [
            ("your_email@email.com", app.admin_email.as_str()),
            ("your_api_key", app.admin_key.as_str()),
        ];
        let reply = replay(&app, &example, &values).await;
        let response = envelope(&reply, 200);
        let token = response["access_token"].as_str().unwrap();
        // The token works where the document says it does.
        let logs = post(&app, "get-user-logs", Some(token), None).await;
        envelope(&logs, 200);
        assert_ne!(token, app.admin_key, "{}", example.client);
    }
    // Each exchange is a login.
    let logins = post(
        &app,
        "get-user-logins",
        Some(&app.admin_key),
        Some(json!({"limit": 100})),
    )
    .await;
    assert_eq!(envelope(&logins, 200).as_array().unwrap().len(), 3);

    let (_, other_key) = app
        .new_user_with_key("other@example.com", json!({"name": "k"}))
        .await;
    let admin_token = access_token(&app, &app.admin_email, &app.admin_key).await;
    for (what, email, key) in [
        (
            "someone else's key",
            app.admin_email.as_str(),
            other_key.as_str(),
        ),
        (
            "an unknown email",
            "nobody@example.com",
            app.admin_key.as_str(),
        ),
        ("a malformed key", app.admin_email.as_str(), "your_api_key"),
        (
            "an access token",
            app.admin_email.as_str(),
            admin_token.as_str(),
        ),
        ("no key", app.admin_email.as_str(), ""),
        ("no email", "", app.admin_key.as_str()),
    ] {
        for example in get_token_examples() {
            let reply = replay(
                &app,
                &example,
                &[("your_email@email.com", email), ("your_api_key", key)],
            )
            .await;
            let message = envelope(&reply, 400);
            assert!(
                !message.as_str().unwrap().contains(key) || key.is_empty(),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn get_user_logs_lists_prompts_and_completions() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    recorded_chat(&app, &token, "Maths", exchange("What is 2 + 2?", "4")).await;
    for example in bare_examples("/user/get-user-logs") {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        let logs = envelope(&reply, 200);
        let logs = logs.as_array().unwrap();
        assert_eq!(logs.len(), 1, "{}", example.client);
        let fields: Vec<&str> = logs[0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(fields.len(), 4);
        assert_eq!(logs[0]["prompt"], "What is 2 + 2?");
        assert_eq!(logs[0]["completion"], "4");
        assert_eq!(logs[0]["IP"], "127.0.0.1");
        assert!(logs[0]["date_time"].as_str().unwrap().ends_with('Z'));
    }
    // Ask Sage's Python client posts with no body and no Content-Type at all.
    let bare = app
        .http
        .post(app.url("/user/get-user-logs"))
        .header("x-access-tokens", &token)
        .send()
        .await
        .unwrap();
    envelope(&reply(bare).await, 200);
    // Documented 400: a request it cannot read.
    let broken = app
        .http
        .post(app.url("/user/get-user-logs"))
        .header("x-access-tokens", &token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let message = envelope(&reply(broken).await, 400);
    assert!(message.as_str().unwrap().starts_with("body:"), "{message}");
}

#[tokio::test]
async fn get_user_logins_honours_the_limit_and_refuses_a_bad_one_with_400() {
    let app = spawn_app().await;
    for _ in 0..6 {
        access_token(&app, &app.admin_email, &app.admin_key).await;
    }
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    for example in get_user_logins_examples() {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        let logins = envelope(&reply, 200);
        let logins = logins.as_array().unwrap();
        assert_eq!(logins.len(), 5, "{}", example.client);
        for login in logins {
            assert_eq!(login.as_object().unwrap().len(), 2, "{login}");
            assert!(login["date_time"].as_str().unwrap().ends_with('Z'));
            assert_eq!(login["IP"], "127.0.0.1");
        }
    }
    let default = post(&app, "get-user-logins", Some(&token), None).await;
    assert_eq!(envelope(&default, 200).as_array().unwrap().len(), 5);
    let all = post(
        &app,
        "get-user-logins",
        Some(&token),
        Some(json!({"limit": 100})),
    )
    .await;
    assert_eq!(envelope(&all, 200).as_array().unwrap().len(), 7);
    let one = post(
        &app,
        "get-user-logins",
        Some(&token),
        Some(json!({"limit": 1})),
    )
    .await;
    assert_eq!(envelope(&one, 200).as_array().unwrap().len(), 1);
    for limit in [json!(0), json!(101), json!(-5), json!("five"), json!(2.5)] {
        let reply = post(
            &app,
            "get-user-logins",
            Some(&token),
            Some(json!({"limit": limit})),
        )
        .await;
        let message = envelope(&reply, 400);
        assert!(message.as_str().unwrap().starts_with("limit:"), "{message}");
    }
}

#[tokio::test]
async fn add_dataset_creates_and_answers_400_406_and_407_as_documented() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let full_name = format!("user_custom_{}_MyDataset123_content", app.admin_id);
    for example in add_dataset_examples() {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        let dataset = envelope(&reply, 200);
        assert_eq!(dataset["dataset"], full_name.as_str(), "{}", example.client);
        assert_eq!(dataset["name"], "MyDataset123");
        assert_eq!(dataset["classification"], "Unclassified");
        assert_eq!(dataset["permission"], "admin");
        let again = replay(&app, &example, &[("your_access_token", &token)]).await;
        envelope(&again, 409);
        let deleted = post(
            &app,
            "delete-dataset",
            Some(&token),
            Some(json!({"dataset": full_name})),
        )
        .await;
        envelope(&deleted, 200);
    }
    // Ask Sage's Python client always sends a classification, null by default.
    let null = post(
        &app,
        "add-dataset",
        Some(&token),
        Some(json!({"dataset": "Notes", "classification": null})),
    )
    .await;
    assert_eq!(envelope(&null, 200)["classification"], "Unclassified");
    let unclassified = post(
        &app,
        "add-dataset",
        Some(&token),
        Some(json!({"dataset": "Notes2", "classification": "Unclassified"})),
    )
    .await;
    envelope(&unclassified, 200);

    // 400: missing or invalid input.
    for body in [
        json!({}),
        json!({"dataset": ""}),
        json!({"dataset": "My Dataset"}),
        json!({"dataset": "my_dataset"}),
        json!({"dataset": 7}),
        json!({"dataset": "Ok", "classification": "Secret"}),
        json!({"dataset": "CUI-Ok", "classification": "Unclassified"}),
    ] {
        let reply = post(&app, "add-dataset", Some(&token), Some(body.clone())).await;
        envelope(&reply, 400);
    }
    let unnamed = post(&app, "add-dataset", Some(&token), Some(json!({}))).await;
    assert!(
        envelope(&unnamed, 400)
            .as_str()
            .unwrap()
            .starts_with("dataset:")
    );
    // 406: the name is too long.
    let long = post(
        &app,
        "add-dataset",
        Some(&token),
        Some(json!({"dataset": "x".repeat(65)})),
    )
    .await;
    assert!(envelope(&long, 406).as_str().unwrap().contains("too long"));
    // 407: CUI content needs an account a tenant admin marked CAC-verified.
    for body in [
        json!({"dataset": "CUI-Secret"}),
        json!({"dataset": "Secret", "classification": "CUI"}),
    ] {
        let reply = post(&app, "add-dataset", Some(&token), Some(body)).await;
        assert!(
            envelope(&reply, 407)
                .as_str()
                .unwrap()
                .starts_with("CAC required")
        );
    }
    let verified = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "cac@example.com", "cac_verified": true})),
        )
        .await;
    let verified_id = verified.body["id"].as_str().unwrap();
    let key = app
        .call(
            "POST",
            &format!("/v1/users/{verified_id}/api-keys"),
            Some(&app.admin_key),
            Some(json!({"name": "k", "scopes": ["read", "write"]})),
        )
        .await;
    let cac_key = key.body["key"].as_str().unwrap();
    let cui = post(
        &app,
        "add-dataset",
        Some(cac_key),
        Some(json!({"dataset": "Secret", "classification": "CUI"})),
    )
    .await;
    let cui = envelope(&cui, 200);
    assert_eq!(cui["name"], "CUI-Secret");
    assert_eq!(cui["classification"], "CUI");
}

#[tokio::test]
async fn delete_dataset_takes_the_full_name_and_answers_400_and_408_as_documented() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let full_name = format!("user_custom_{}_MyDataset_content", app.admin_id);
    for example in delete_dataset_examples() {
        let created = post(
            &app,
            "add-dataset",
            Some(&token),
            Some(json!({"dataset": "MyDataset"})),
        )
        .await;
        envelope(&created, 200);
        let values = [
            ("your_access_token", token.as_str()),
            ("user_custom_123_MyDataset_content", full_name.as_str()),
        ];
        let reply = replay(&app, &example, &values).await;
        assert_eq!(envelope(&reply, 200), "Dataset deleted successfully");
        // Deleted means gone.
        let again = replay(&app, &example, &values).await;
        envelope(&again, 404);
    }
    // The document's own placeholder names a dataset of a user 123 the caller cannot see.
    let literal = replay(
        &app,
        &delete_dataset_examples()[0],
        &[("your_access_token", &token)],
    )
    .await;
    envelope(&literal, 404);
    // Ask Sage's older path, and the caller's own short name, do the same.
    for (path, name) in [
        ("delete-datasets", full_name.as_str()),
        ("delete-dataset", "MyDataset"),
    ] {
        envelope(
            &post(
                &app,
                "add-dataset",
                Some(&token),
                Some(json!({"dataset": "MyDataset"})),
            )
            .await,
            200,
        );
        let reply = post(&app, path, Some(&token), Some(json!({"dataset": name}))).await;
        envelope(&reply, 200);
    }
    // 408: no dataset named at all.
    for body in [
        None,
        Some(json!({})),
        Some(json!({"dataset": ""})),
        Some(json!({"dataset": "  "})),
    ] {
        let reply = post(&app, "delete-dataset", Some(&token), body).await;
        assert!(
            envelope(&reply, 408)
                .as_str()
                .unwrap()
                .starts_with("Required information missing")
        );
    }
    // 400: a name no dataset can have.
    for name in [
        json!("user_custom_1_a b_content"),
        json!("not valid!"),
        json!(["MyDataset"]),
    ] {
        let reply = post(
            &app,
            "delete-dataset",
            Some(&token),
            Some(json!({"dataset": name})),
        )
        .await;
        envelope(&reply, 400);
    }
}

#[tokio::test]
async fn get_chats_lists_every_session_newest_first() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let first = recorded_chat(&app, &token, "First", exchange("a", "b")).await;
    let second = recorded_chat(&app, &token, "Second", exchange("c", "d")).await;
    for example in bare_examples("/user/get-chats") {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        let chats = envelope(&reply, 200);
        let chats = chats.as_array().unwrap();
        assert_eq!(chats.len(), 2, "{}", example.client);
        assert_eq!(chats[0]["session_id"], second.as_str());
        assert_eq!(chats[0]["title"], "Second");
        assert_eq!(chats[0]["message_count"], 2);
        assert_eq!(chats[1]["session_id"], first.as_str());
        assert!(chats[1]["date_time"].as_str().unwrap().ends_with('Z'));
    }
    // Another user sees none of them.
    let (_, other) = app
        .new_user_with_key("other@example.com", json!({"name": "k"}))
        .await;
    let theirs = post(&app, "get-chats", Some(&other), None).await;
    assert_eq!(envelope(&theirs, 200), json!([]));
    // Documented 400: invalid input.
    let broken = post(&app, "get-chats", Some(&token), Some(json!([1, 2]))).await;
    envelope(&broken, 400);
}

#[tokio::test]
async fn get_chat_session_returns_its_messages_and_answers_400_for_an_invalid_id() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let session = recorded_chat(&app, &token, "Maths", exchange("What is 2 + 2?", "4")).await;
    for example in session_examples("/user/get-chat-session") {
        let values = [
            ("your_access_token", token.as_str()),
            ("your_session_id", session.as_str()),
        ];
        let reply = replay(&app, &example, &values).await;
        let chat = envelope(&reply, 200);
        assert_eq!(chat["session_id"], session.as_str(), "{}", example.client);
        assert_eq!(chat["title"], "Maths");
        assert_eq!(chat["complete"], true);
        let messages = chat["chats"].as_array().unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["user"], "me");
        assert_eq!(messages[0]["message"], "What is 2 + 2?");
        assert_eq!(messages[1]["user"], "gpt");
        assert_eq!(messages[1]["message"], "4");
    }
    // 400: the document's placeholder is no session id; nor is nothing.
    let literal = replay(
        &app,
        &session_examples("/user/get-chat-session")[0],
        &[("your_access_token", &token)],
    )
    .await;
    envelope(&literal, 400);
    for body in [
        None,
        Some(json!({"session_id": ""})),
        Some(json!({"session_id": 12})),
    ] {
        let reply = post(&app, "get-chat-session", Some(&token), body).await;
        envelope(&reply, 400);
    }
    // A well-formed id of no session of the caller's is not found.
    let (_, other) = app
        .new_user_with_key("other@example.com", json!({"name": "k"}))
        .await;
    let theirs = post(
        &app,
        "get-chat-session",
        Some(&other),
        Some(json!({"session_id": session})),
    )
    .await;
    envelope(&theirs, 404);
}

#[tokio::test]
async fn delete_chat_session_removes_it_and_answers_400_for_an_invalid_id() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    for example in session_examples("/user/delete-chat-session") {
        let session = recorded_chat(&app, &token, "Doomed", exchange("q", "a")).await;
        let values = [
            ("your_access_token", token.as_str()),
            ("your_session_id", session.as_str()),
        ];
        let reply = replay(&app, &example, &values).await;
        assert_eq!(envelope(&reply, 200), "Chat session deleted successfully");
        let read = post(
            &app,
            "get-chat-session",
            Some(&token),
            Some(json!({"session_id": session})),
        )
        .await;
        envelope(&read, 404);
        let again = replay(&app, &example, &values).await;
        envelope(&again, 404);
    }
    let chats = post(&app, "get-chats", Some(&token), None).await;
    assert_eq!(envelope(&chats, 200), json!([]));
    let literal = replay(
        &app,
        &session_examples("/user/delete-chat-session")[0],
        &[("your_access_token", &token)],
    )
    .await;
    envelope(&literal, 400);
    let missing = post(&app, "delete-chat-session", Some(&token), None).await;
    envelope(&missing, 400);
}

/// Datasets `user@example.com` sees: (full name, their permission).
async fn seen_by(app: &TestApp, key: &str) -> Vec<(String, String)> {
    let reply = post(app, "get-datasets-with-permissions", Some(key), None).await;
    envelope(&reply, 200)
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["dataset"].as_str().unwrap().to_owned(),
                d["permission"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn assign_and_deassign_dataset_share_and_withdraw_access() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let user_key = example_user(&app).await;
    envelope(
        &post(
            &app,
            "add-dataset",
            Some(&token),
            Some(json!({"dataset": "MyDataset"})),
        )
        .await,
        200,
    );
    let full_name = format!("user_custom_{}_MyDataset_content", app.admin_id);
    for example in deassign_examples() {
        // assign-dataset is not in the document; Ask Sage's clients call it as below.
        let assigned = post(
            &app,
            "assign-dataset",
            Some(&token),
            Some(json!({"dataset": full_name, "email": "user@example.com"})),
        )
        .await;
        assert_eq!(envelope(&assigned, 200), "Dataset assigned successfully");
        assert_eq!(
            seen_by(&app, &user_key).await,
            vec![(full_name.clone(), "read".to_owned())]
        );
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        assert_eq!(envelope(&reply, 200), "Dataset deassigned successfully");
        assert_eq!(seen_by(&app, &user_key).await, vec![]);
        // Not assigned any more: nothing to withdraw.
        let again = replay(&app, &example, &[("your_access_token", &token)]).await;
        envelope(&again, 404);
    }
    // 400: missing or invalid input (a missing dataset too: 408 is delete-dataset's alone).
    for body in [
        json!({"dataset": "MyDataset"}),
        json!({"dataset": "MyDataset", "email": "not-an-email"}),
        json!({"email": "user@example.com"}),
        json!({"dataset": "My Dataset", "email": "user@example.com"}),
    ] {
        for endpoint in ["assign-dataset", "deassign-dataset"] {
            let reply = post(&app, endpoint, Some(&token), Some(body.clone())).await;
            envelope(&reply, 400);
        }
    }
    // The grantee must be a user of the tenant.
    let stranger = post(
        &app,
        "assign-dataset",
        Some(&token),
        Some(json!({"dataset": "MyDataset", "email": "nobody@example.com"})),
    )
    .await;
    envelope(&stranger, 404);
}

#[tokio::test]
async fn update_permission_dataset_sets_the_level_and_refuses_an_invalid_one_with_400() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let user_key = example_user(&app).await;
    envelope(
        &post(
            &app,
            "add-dataset",
            Some(&token),
            Some(json!({"dataset": "MyDataset"})),
        )
        .await,
        200,
    );
    let full_name = format!("user_custom_{}_MyDataset_content", app.admin_id);
    for example in update_permission_examples() {
        let raised = post(
            &app,
            "update-permission-dataset",
            Some(&token),
            Some(
                json!({"dataset": "MyDataset", "email": "user@example.com", "permission": "write"}),
            ),
        )
        .await;
        envelope(&raised, 200);
        assert_eq!(
            seen_by(&app, &user_key).await,
            vec![(full_name.clone(), "write".to_owned())]
        );
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        assert_eq!(
            envelope(&reply, 200),
            "Dataset permissions updated successfully",
            "{}",
            example.client
        );
        assert_eq!(
            seen_by(&app, &user_key).await,
            vec![(full_name.clone(), "read".to_owned())]
        );
    }
    // An admin grantee may delete the dataset.
    envelope(
        &post(
            &app,
            "update-permission-dataset",
            Some(&token),
            Some(
                json!({"dataset": "MyDataset", "email": "user@example.com", "permission": "admin"}),
            ),
        )
        .await,
        200,
    );
    // 400: a missing field or a permission level that does not exist.
    for body in [
        json!({"dataset": "MyDataset", "email": "user@example.com"}),
        json!({"dataset": "MyDataset", "email": "user@example.com", "permission": "owner"}),
        json!({"dataset": "MyDataset", "permission": "read"}),
        json!({"email": "user@example.com", "permission": "read"}),
        json!({"dataset": "MyDataset", "email": app.admin_email, "permission": "read"}),
    ] {
        let reply = post(
            &app,
            "update-permission-dataset",
            Some(&token),
            Some(body.clone()),
        )
        .await;
        envelope(&reply, 400);
    }
    let deleted = post(
        &app,
        "delete-dataset",
        Some(&user_key),
        Some(json!({"dataset": full_name})),
    )
    .await;
    envelope(&deleted, 200);
}

#[tokio::test]
async fn get_datasets_with_permissions_lists_owned_and_shared_datasets() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let user_key = example_user(&app).await;
    for name in ["MyDataset", "Other"] {
        envelope(
            &post(
                &app,
                "add-dataset",
                Some(&token),
                Some(json!({"dataset": name})),
            )
            .await,
            200,
        );
    }
    envelope(
        &post(
            &app,
            "assign-dataset",
            Some(&token),
            Some(json!({"dataset": "MyDataset", "email": "user@example.com"})),
        )
        .await,
        200,
    );
    let full_name = format!("user_custom_{}_MyDataset_content", app.admin_id);
    for example in datasets_with_permissions_examples() {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        let datasets = envelope(&reply, 200);
        let datasets = datasets.as_array().unwrap();
        assert_eq!(datasets.len(), 2, "{}", example.client);
        let shared = datasets
            .iter()
            .find(|d| d["dataset"] == full_name.as_str())
            .unwrap();
        assert_eq!(shared["permission"], "admin");
        assert_eq!(
            shared["permissions"],
            json!([{"email": "user@example.com", "permission": "read"}])
        );
        let other = datasets.iter().find(|d| d["name"] == "Other").unwrap();
        assert_eq!(other["permissions"], json!([]));
    }
    // Without check_permissions, no grantee list; the grantee sees the shared dataset.
    let plain = post(
        &app,
        "get-datasets-with-permissions",
        Some(&token),
        Some(json!({"check_permissions": false})),
    )
    .await;
    assert!(envelope(&plain, 200)[0].get("permissions").is_none());
    let theirs = post(
        &app,
        "get-datasets-with-permissions",
        Some(&user_key),
        Some(json!({"check_permissions": true})),
    )
    .await;
    let theirs = envelope(&theirs, 200);
    assert_eq!(theirs[0]["dataset"], full_name.as_str());
    assert_eq!(theirs[0]["permission"], "read");
    assert_eq!(theirs[0]["owner_email"], app.admin_email.as_str());
    // Documented 400: invalid input.
    let wrong = post(
        &app,
        "get-datasets-with-permissions",
        Some(&token),
        Some(json!({"check_permissions": "yes"})),
    )
    .await;
    assert!(
        envelope(&wrong, 400)
            .as_str()
            .unwrap()
            .starts_with("check_permissions:")
    );
}

#[tokio::test]
async fn get_user_api_keys_lists_records_without_secrets_and_refuses_a_bad_token_with_400() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    let created = post(
        &app,
        "user-api-key",
        Some(&token),
        Some(json!({"name": "ci"})),
    )
    .await;
    let secret = envelope(&created, 200)["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for example in bare_examples("/user/get-user-api-keys") {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        let keys = envelope(&reply, 200);
        let names: Vec<&str> = keys
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{}", example.client);
        assert!(names.contains(&"ci"), "{keys}");
        let text = keys.to_string();
        assert!(!text.contains(&secret) && !text.contains(&app.admin_key));
        assert!(keys[0]["id"].is_string() && keys[0]["key_prefix"].is_string());
    }
    // Documented 400: authentication failed or an invalid token.
    for bad in ["your_access_token", "kg_at_0000", ""] {
        for example in bare_examples("/user/get-user-api-keys") {
            let reply = replay(&app, &example, &[("your_access_token", bad)]).await;
            envelope(&reply, 400);
        }
    }
    let none = post(&app, "get-user-api-keys", None, None).await;
    envelope(&none, 400);
}

#[tokio::test]
async fn user_api_key_creates_a_key_shown_once_and_refuses_a_missing_name_with_400() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    for example in create_key_examples() {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        let created = envelope(&reply, 200);
        assert_eq!(created["name"], "My API Key", "{}", example.client);
        let secret = created["api_key"].as_str().unwrap();
        // The new key is a static API key for every endpoint, and for a token.
        envelope(&post(&app, "get-user-logs", Some(secret), None).await, 200);
        access_token(&app, &app.admin_email, secret).await;
    }
    // 400: missing or invalid input.
    for body in [None, Some(json!({"name": ""})), Some(json!({"name": 5}))] {
        let reply = post(&app, "user-api-key", Some(&token), body).await;
        envelope(&reply, 400);
    }
    // A key made here is never stronger than the credential that made it.
    let (_, reader) = app
        .new_user_with_key(
            "reader@example.com",
            json!({"name": "k", "scopes": ["read"]}),
        )
        .await;
    let made = post(
        &app,
        "user-api-key",
        Some(&reader),
        Some(json!({"name": "copy"})),
    )
    .await;
    let copy = envelope(&made, 200);
    let record = app
        .call(
            "GET",
            &format!("/v1/api-keys/{}", copy["id"].as_str().unwrap()),
            Some(copy["api_key"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(record.body["scopes"], json!(["read"]), "{}", record.body);
    let refused = post(
        &app,
        "add-dataset",
        Some(copy["api_key"].as_str().unwrap()),
        Some(json!({"dataset": "Nope"})),
    )
    .await;
    envelope(&refused, 403);
}

#[tokio::test]
async fn deleting_a_user_api_key_answers_200_404_and_400_as_documented() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    // The document's example as written: no key has the id 123.
    for example in delete_key_examples() {
        let reply = replay(&app, &example, &[("your_access_token", &token)]).await;
        assert_eq!(
            envelope(&reply, 404),
            "API key not found",
            "{}",
            example.client
        );
    }
    for example in delete_key_examples() {
        let created = post(
            &app,
            "user-api-key",
            Some(&token),
            Some(json!({"name": "temp"})),
        )
        .await;
        let created = envelope(&created, 200);
        let id = format!("\"{}\"", created["id"].as_str().unwrap());
        let values = [("your_access_token", token.as_str()), ("123", id.as_str())];
        let reply = replay(&app, &example, &values).await;
        assert_eq!(envelope(&reply, 200), "API key deleted successfully");
        // The key no longer authenticates, is no longer listed, and cannot be deleted twice.
        let secret = created["api_key"].as_str().unwrap();
        envelope(&post(&app, "get-user-logs", Some(secret), None).await, 401);
        let listed = post(&app, "get-user-api-keys", Some(&token), None).await;
        assert_eq!(envelope(&listed, 200).as_array().unwrap().len(), 1);
        let again = replay(&app, &example, &values).await;
        envelope(&again, 404);
    }
    // 400: no id, or not an id at all.
    for body in [
        None,
        Some(json!({})),
        Some(json!({"id": ""})),
        Some(json!({"id": [1]})),
    ] {
        let reply = send(&app, "DELETE", "user-api-key", Some(&token), body).await;
        envelope(&reply, 400);
    }
    // Another user's key is not found.
    let (_, other) = app
        .new_user_with_key("other@example.com", json!({"name": "k"}))
        .await;
    let listed = post(&app, "get-user-api-keys", Some(&token), None).await;
    let admin_key_id = envelope(&listed, 200)[0]["id"].as_str().unwrap().to_owned();
    let theirs = send(
        &app,
        "DELETE",
        "user-api-key",
        Some(&other),
        Some(json!({"id": admin_key_id})),
    )
    .await;
    envelope(&theirs, 404);
}

#[tokio::test]
async fn append_chat_records_sessions_as_ask_sage_clients_send_them() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    // The Python client's documented shape: the list wrapped in {"chats": [...]}.
    let wrapped = post(
        &app,
        "append-chat",
        Some(&token),
        Some(json!({
            "chats": {"chats": [{"user": "me", "message": "Hello"}, {"user": "gpt", "message": "Hi"}]},
            "chat_title": "Greeting"
        })),
    )
    .await;
    let chat = envelope(&wrapped, 200);
    assert_eq!(chat["title"], "Greeting");
    assert_eq!(chat["message_count"], 2);
    let session = chat["session_id"].as_str().unwrap().to_owned();
    // Extending it, in the role/content spelling of chat APIs; its pair is logged too.
    let more = post(
        &app,
        "append-chat",
        Some(&token),
        Some(json!({"session_id": session, "chats": [
            {"role": "user", "content": "How are you?"},
            {"role": "assistant", "content": "Fine."}
        ]})),
    )
    .await;
    assert_eq!(envelope(&more, 200)["message_count"], 4);
    let read = post(
        &app,
        "get-chat-session",
        Some(&token),
        Some(json!({"session_id": session})),
    )
    .await;
    let texts: Vec<String> = envelope(&read, 200)["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m["user"].as_str().unwrap(),
                m["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        texts,
        ["me: Hello", "gpt: Hi", "me: How are you?", "gpt: Fine."]
    );
    let logs = post(&app, "get-user-logs", Some(&token), None).await;
    let logs = envelope(&logs, 200);
    assert_eq!(logs.as_array().unwrap().len(), 2);
    assert_eq!(logs[0]["prompt"], "How are you?");
    assert_eq!(logs[1]["completion"], "Hi");

    // Refused input creates nothing.
    for (body, status) in [
        (json!({"chat_title": "x"}), 400),
        (json!({"chat_title": "x", "chats": []}), 400),
        (json!({"chat_title": "x", "chats": "Hello"}), 400),
        (
            json!({"chat_title": "x", "chats": [{"user": "bot", "message": "hi"}]}),
            400,
        ),
        (
            json!({"chat_title": "x", "chats": [{"user": "me", "message": "  "}]}),
            400,
        ),
        (json!({"chat_title": "", "chats": exchange("a", "b")}), 400),
        (
            json!({"session_id": "nope", "chats": exchange("a", "b")}),
            400,
        ),
        (
            json!({"chat_title": "x", "chats": vec![json!({"user": "me", "message": "m"}); 51]}),
            413,
        ),
        (
            json!({"session_id": "01KAAAAAAAAAAAAAAAAAAAAAAA", "chats": exchange("a", "b")}),
            404,
        ),
    ] {
        let reply = post(&app, "append-chat", Some(&token), Some(body.clone())).await;
        envelope(&reply, status);
    }
    let chats = post(&app, "get-chats", Some(&token), None).await;
    assert_eq!(envelope(&chats, 200).as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_answer_is_an_envelope_even_unknown_paths_and_refused_credentials() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    // Unknown endpoints and wrong methods.
    for (method, path, status) in [
        ("POST", "/user/get-user-secrets", 404),
        ("POST", "/user/", 404),
        ("POST", "/user", 404),
        ("GET", "/user/a/b", 404),
        ("GET", "/user/get-chats", 405),
        ("PUT", "/user/user-api-key", 405),
        ("DELETE", "/user/get-user-logs", 405),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .http
            .request(method, app.url(path))
            .header("x-access-tokens", &token)
            .send()
            .await
            .unwrap();
        envelope(&reply(response).await, status);
    }
    // 401 for a missing or refused credential on every endpoint but the two documenting 400.
    let endpoints = [
        "get-user-logs",
        "get-user-logins",
        "add-dataset",
        "delete-dataset",
        "delete-datasets",
        "assign-dataset",
        "deassign-dataset",
        "update-permission-dataset",
        "get-datasets-with-permissions",
        "get-chats",
        "get-chat-session",
        "delete-chat-session",
        "append-chat",
        "user-api-key",
    ];
    for endpoint in endpoints {
        for credential in [None, Some("your_access_token"), Some("kg_at_garbage")] {
            let reply = post(&app, endpoint, credential, Some(json!({}))).await;
            envelope(&reply, 401);
        }
    }
    envelope(&send(&app, "DELETE", "user-api-key", None, None).await, 401);
    // 403: an asker key may only chat.
    let (_, asker) = app
        .new_user_with_key("asker@example.com", json!({"name": "k", "type": "asker"}))
        .await;
    envelope(&post(&app, "get-user-logs", Some(&asker), None).await, 403);
    envelope(&post(&app, "get-chats", Some(&asker), None).await, 200);
    // 413: a body over the limit; 400: a body that is not JSON, never problem+json.
    let huge = json!({"dataset": "x".repeat(300 * 1024)});
    envelope(
        &post(&app, "add-dataset", Some(&token), Some(huge)).await,
        413,
    );
    let xml = app
        .http
        .post(app.url("/user/add-dataset"))
        .header("x-access-tokens", &token)
        .header("Content-Type", "application/xml")
        .body("<dataset/>")
        .send()
        .await
        .unwrap();
    envelope(&reply(xml).await, 400);
    // keygate's own API keeps its own error shape beside the dialect.
    let own = app
        .call("GET", "/v1/nothing", Some(&app.admin_key), None)
        .await;
    assert_eq!(own.status, StatusCode::NOT_FOUND);
    assert_eq!(own.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn a_session_longer_than_one_answer_carries_comes_back_marked_incomplete() {
    let app = spawn_app().await;
    let token = access_token(&app, &app.admin_email, &app.admin_key).await;
    // 22 messages of the largest size: more text than one answer carries (2 MiB).
    let large = "x".repeat(keygate::domain::chat::MAX_MESSAGE_TEXT_BYTES);
    let pair = json!([{"user": "me", "message": large}, {"user": "gpt", "message": large}]);
    let session = recorded_chat(&app, &token, "Long", pair.clone()).await;
    for _ in 0..10 {
        let more = post(
            &app,
            "append-chat",
            Some(&token),
            Some(json!({"session_id": session, "chats": pair})),
        )
        .await;
        envelope(&more, 200);
    }
    let read = post(
        &app,
        "get-chat-session",
        Some(&token),
        Some(json!({"session_id": session})),
    )
    .await;
    let chat = envelope(&read, 200);
    assert_eq!(chat["message_count"], 22);
    assert_eq!(chat["complete"], false);
    assert_eq!(
        chat["chats"].as_array().unwrap().len(),
        20,
        "oldest first, as far as fits"
    );
}
