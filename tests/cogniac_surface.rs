//! Cogniac's "Users - API Key Management" document (seeds/cogniac-api-keys.txt), replayed
//! against keygate with only the host and the placeholders (user id, token, key id)
//! changed; plus the sign-in routes the issue names.

use keygate_tests::{StatusCode, TestApp, basic_auth, spawn_app};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const EMAIL: &str = "xyz@cogniac.co";

/// A user with a password, signed in the Cogniac way: `GET /1/token` with Basic.
async fn signed_in(app: &TestApp) -> (String, String) {
    let user_id = app.new_user_with_password(EMAIL, PASSWORD).await;
    let reply = app
        .send(
            "GET",
            &format!("/1/token?tenant_id={}", app.tenant_id),
            &[("authorization", &basic_auth(EMAIL, PASSWORD))],
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.body["access_token"].as_str().unwrap().to_owned();
    (user_id, token)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The record fields every example response shows.
fn assert_record(record: &Value, user_id: &str, key_id: &str) {
    assert_eq!(record["user_id"], user_id);
    assert_eq!(record["key_id"], key_id);
    assert_eq!(record["email"], EMAIL);
    assert!(record["created_at"].is_i64(), "epoch seconds: {record}");
    assert!(record["description"].is_string());
    assert!(
        record["api_key"].is_null(),
        "the secret is never shown again"
    );
    assert!(record.get("last_auth").is_some());
}

#[tokio::test]
async fn create_read_list_and_delete_as_the_document_shows() {
    let app = spawn_app().await;
    let (user_id, token) = signed_in(&app).await;
    let auth = bearer(&token);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];

    // curl -X POST https://api.cogniac.io/1/users/di71rG94/apiKeys -d '{"description": ...}'
    let created = app
        .send(
            "POST",
            &format!("/1/users/{user_id}/apiKeys"),
            &headers,
            Some(json!({"description": "New Token for Image downloads"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let key_id = created.body["key_id"].as_str().unwrap().to_owned();
    let api_key = created.body["api_key"].as_str().unwrap().to_owned();
    assert_eq!(created.body["user_id"], user_id.as_str());
    assert_eq!(created.body["description"], "New Token for Image downloads");
    assert_eq!(created.body["email"], EMAIL);
    assert!(created.body["created_at"].is_i64());
    let (prefix, secret) = api_key.split_once(':').expect("KEYID:SECRET");
    assert_eq!(prefix, key_id);
    assert!(secret.starts_with("kg_"));

    // The python example creates a second one the same way (and expects 200).
    let second = app
        .send(
            "POST",
            &format!("/1/users/{user_id}/apiKeys"),
            &headers,
            Some(json!({"description": "New Token for Image downloads"})),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK);
    let second_id = second.body["key_id"].as_str().unwrap().to_owned();

    // The KEYID:SECRET form works wherever a key does.
    let me = app.call("GET", "/v1/auth/me", Some(&api_key), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["ak_id"], key_id.as_str());

    // curl -X GET https://api.cogniac.io/1/users/di71rG94/apiKeys/g56gdercb (and the python one)
    let one = app
        .send(
            "GET",
            &format!("/1/users/{user_id}/apiKeys/{key_id}"),
            &headers,
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_record(&one.body, &user_id, &key_id);
    assert!(one.body["last_auth"].is_null() || one.body["last_auth"].is_i64());

    // curl -X GET https://api.cogniac.io/1/users/ufL2GnI3VDgV/apiKeys (and the python one)
    let listed = app
        .send(
            "GET",
            &format!("/1/users/{user_id}/apiKeys"),
            &headers,
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let data = listed.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for record in data {
        let id = record["key_id"].as_str().unwrap();
        assert_record(record, &user_id, id);
    }
    assert!(!listed.body.to_string().contains(secret));

    // curl -X DELETE https://api.cogniac.io/1/users/ufL2GnI3VDgV/apiKeys/LZIDR → 204, no body
    let deleted = app
        .send(
            "DELETE",
            &format!("/1/users/{user_id}/apiKeys/{key_id}"),
            &headers,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_null());
    // The python example deletes the other one.
    let deleted = app
        .send(
            "DELETE",
            &format!("/1/users/{user_id}/apiKeys/{second_id}"),
            &headers,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    let gone = app
        .send(
            "GET",
            &format!("/1/users/{user_id}/apiKeys/{key_id}"),
            &headers,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.body["error"].is_string(), "{}", gone.body);
    let revoked = app.call("GET", "/v1/auth/me", Some(&api_key), None).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    let empty = app
        .send(
            "GET",
            &format!("/1/users/{user_id}/apiKeys"),
            &headers,
            None,
        )
        .await;
    assert_eq!(empty.body, json!({"data": []}));
}

#[tokio::test]
async fn a_key_gets_a_token_and_last_auth() {
    let app = spawn_app().await;
    let (user_id, token) = signed_in(&app).await;
    let created = app
        .send(
            "POST",
            &format!("/1/users/{user_id}/apiKeys"),
            &[("authorization", &bearer(&token))],
            Some(json!({"description": "ci"})),
        )
        .await;
    let api_key = created.body["api_key"].as_str().unwrap();
    let key_id = created.body["key_id"].as_str().unwrap();

    let exchanged = app
        .send(
            "GET",
            &format!("/1/token?tenant_id={}", app.tenant_id),
            &[("authorization", &format!("Key {api_key}"))],
            None,
        )
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.body);
    assert_eq!(exchanged.body["expires_in"], 86_400);
    let key_token = exchanged.body["access_token"].as_str().unwrap();
    assert!(key_token.starts_with("kgt_"));
    let me = app
        .send(
            "GET",
            "/1/users/current",
            &[("authorization", &bearer(key_token))],
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user_id"], user_id.as_str());

    let one = app
        .send(
            "GET",
            &format!("/1/users/{user_id}/apiKeys/{key_id}"),
            &[("authorization", &bearer(&token))],
            None,
        )
        .await;
    assert!(one.body["last_auth"].is_i64(), "{}", one.body);

    // A tenant that exists in the same table, not the key's.
    let other = app.other_tenant("admin@other.example").await;
    let other_tenant = app
        .send(
            "GET",
            &format!("/1/token?tenant_id={}", other.tenant_id),
            &[("authorization", &format!("Key {api_key}"))],
            None,
        )
        .await;
    assert_eq!(other_tenant.status, StatusCode::FORBIDDEN);
    assert!(other_tenant.body["error"].is_string());
}

#[tokio::test]
async fn sign_in_routes_answer_their_shapes() {
    let app = spawn_app().await;
    let user_id = app.new_user_with_password(EMAIL, PASSWORD).await;
    let basic = basic_auth(EMAIL, PASSWORD);

    let tenants = app
        .send(
            "GET",
            "/1/users/current/tenants",
            &[("authorization", &basic)],
            None,
        )
        .await;
    assert_eq!(tenants.status, StatusCode::OK, "{}", tenants.body);
    assert_eq!(
        tenants.body,
        json!({"tenants": [{"tenant_id": app.tenant_id, "name": "test tenant"}]})
    );
    let mfa = app
        .send(
            "GET",
            "/21/users/mfa/status",
            &[("authorization", &basic)],
            None,
        )
        .await;
    assert_eq!(mfa.status, StatusCode::OK);
    assert_eq!(mfa.body, json!({}));

    let token = app
        .send("GET", "/1/token", &[("authorization", &basic)], None)
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    assert_eq!(token.body["expires_in"], 12 * 3600);
    let auth = bearer(token.body["access_token"].as_str().unwrap());

    let tenant = app
        .send(
            "GET",
            "/1/tenants/current",
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(tenant.status, StatusCode::OK);
    assert_eq!(tenant.body["tenant_id"], app.tenant_id.as_str());
    assert_eq!(tenant.body["name"], "test tenant");
    assert!(tenant.body.get("region").is_some());
    let user = app
        .send("GET", "/1/users/current", &[("authorization", &auth)], None)
        .await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.body["user_id"], user_id.as_str());
    assert_eq!(user.body["email"], EMAIL);
    assert!(user.body.get("given_name").is_some() && user.body.get("surname").is_some());

    let wrong = app
        .send(
            "GET",
            "/1/token",
            &[("authorization", &basic_auth(EMAIL, "not the password"))],
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body["error"].is_string(), "{}", wrong.body);
    let none = app.send("GET", "/1/users/current", &[], None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.body["error"].is_string());
}

#[tokio::test]
async fn another_users_keys_are_never_reachable() {
    let app = spawn_app().await;
    let (user_id, token) = signed_in(&app).await;
    let auth = bearer(&token);
    let created = app
        .send(
            "POST",
            &format!("/1/users/{user_id}/apiKeys"),
            &[("authorization", &auth)],
            Some(json!({"description": "mine"})),
        )
        .await;
    let key_id = created.body["key_id"].as_str().unwrap();
    let admin = [("authorization", format!("Key {}", app.admin_key))];
    let admin: Vec<(&str, &str)> = admin.iter().map(|(n, v)| (*n, v.as_str())).collect();
    for (method, path) in [
        ("GET", format!("/1/users/{user_id}/apiKeys")),
        ("GET", format!("/1/users/{user_id}/apiKeys/{key_id}")),
        ("DELETE", format!("/1/users/{user_id}/apiKeys/{key_id}")),
        ("POST", format!("/1/users/{user_id}/apiKeys")),
    ] {
        let reply = app
            .send(method, &path, &admin, Some(json!({"description": "x"})))
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert!(!reply.body.to_string().contains(key_id));
    }
    // The admin's own path, with the other user's key id: still not found.
    let reply = app
        .send(
            "GET",
            &format!("/1/users/{}/apiKeys/{key_id}", app.admin_id),
            &admin,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let bad = app
        .send(
            "POST",
            &format!("/1/users/{user_id}/apiKeys"),
            &[("authorization", &auth)],
            Some(json!({"description": ""})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]
            .as_str()
            .unwrap()
            .starts_with("description"),
        "{}",
        bad.body
    );
}
