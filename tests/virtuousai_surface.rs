//! VirtuousAI's "Access tokens" reference (seeds/virtuousai-access-tokens.txt), replayed
//! against keygate with only the host and the placeholders changed. The examples send no
//! credential although every route needs one; the replays add the documented `vai_token`
//! header parameter (and the tests check the other documented forms).

use keygate_tests::{StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

const TOKEN_FIELDS: [&str; 8] = [
    "createdAt",
    "expiresAt",
    "id",
    "lastUsedAt",
    "name",
    "revokedAt",
    "tokenPrefix",
    "tokenType",
];

fn assert_token_shape(token: &Value) {
    let object = token.as_object().expect("a token object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, TOKEN_FIELDS, "{token}");
    let id = token["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "UUID form: {id}");
    assert_eq!(id.matches('-').count(), 4);
    assert!(token["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(token["tokenType"], "api_key");
}

/// A user and their key, presented as `vai_token`.
async fn user(app: &TestApp) -> String {
    app.new_user_with_key("vai@example.com", json!({"name": "first"}))
        .await
        .1
}

fn assert_validation_error(reply: &keygate_tests::Reply, loc: Value) {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let detail = &reply.body["detail"][0];
    assert_eq!(detail["loc"], loc, "{}", reply.body);
    assert!(detail["msg"].is_string());
    assert!(detail["type"].is_string());
}

#[tokio::test]
async fn every_example_request_answers_its_documented_shape() {
    let app = spawn_app().await;
    let key = user(&app).await;
    let auth = [("vai_token", key.as_str())];

    // curl -X POST ".../api/v1/access-tokens" -H "Content-Type: application/json" -d '{"name": "string"}'
    let created = app
        .send(
            "POST",
            "/api/v1/access-tokens",
            &[
                ("vai_token", key.as_str()),
                ("content-type", "application/json"),
            ],
            Some(json!({"name": "string"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let plaintext = created.body["plaintext"].as_str().unwrap().to_owned();
    assert!(plaintext.starts_with("kg_"));
    assert_token_shape(&created.body["token"]);
    assert_eq!(created.body["token"]["name"], "string");
    assert!(created.body["token"]["expiresAt"].is_null());
    assert!(plaintext.starts_with(created.body["token"]["tokenPrefix"].as_str().unwrap()));
    let uuid = created.body["token"]["id"].as_str().unwrap().to_owned();

    // curl -X GET ".../api/v1/access-tokens"
    let listed = app.send("GET", "/api/v1/access-tokens", &auth, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    items.iter().for_each(assert_token_shape);
    assert_eq!(items[0]["id"], uuid.as_str(), "newest first");
    assert!(listed.body["nextCursor"].is_null());
    assert!(!listed.body.to_string().contains(&plaintext));

    // curl -X GET ".../api/v1/access-tokens/497f6eca-6276-4993-bfeb-53cbbbba6f08"
    let one = app
        .send("GET", &format!("/api/v1/access-tokens/{uuid}"), &auth, None)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_token_shape(&one.body);
    assert_eq!(one.body["id"], uuid.as_str());
    let literal = app
        .send(
            "GET",
            "/api/v1/access-tokens/497f6eca-6276-4993-bfeb-53cbbbba6f08",
            &auth,
            None,
        )
        .await;
    assert_eq!(literal.status, StatusCode::NOT_FOUND);
    assert!(literal.body["detail"].is_string());

    // curl -X DELETE ".../api/v1/access-tokens/497f6eca-6276-4993-bfeb-53cbbbba6f08" → Empty
    let revoked = app
        .send(
            "DELETE",
            &format!("/api/v1/access-tokens/{uuid}"),
            &auth,
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(revoked.body.is_null());
    let dead = app.call("GET", "/v1/auth/me", Some(&plaintext), None).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);

    // curl -X DELETE ".../api/v1/access-tokens" → {"revokedCount": 0}: the caller's own
    // token is spared by default and no other is left.
    let all = app
        .send("DELETE", "/api/v1/access-tokens", &auth, None)
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body, json!({"revokedCount": 0}));
}

#[tokio::test]
async fn every_documented_credential_form_works() {
    let app = spawn_app().await;
    let key = user(&app).await;
    let bearer = format!("Bearer {key}");
    let cookie = format!("vai_token={key}");
    for header in [
        ("authorization", bearer.as_str()),
        ("x-api-key", key.as_str()),
        ("vai_token", key.as_str()),
        ("cookie", cookie.as_str()),
    ] {
        let reply = app
            .send("GET", "/api/v1/access-tokens", &[header], None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{header:?}");
    }
    let none = app.send("GET", "/api/v1/access-tokens", &[], None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.body["detail"].is_string(), "{}", none.body);
}

#[tokio::test]
async fn validation_errors_use_the_documented_422_shape() {
    let app = spawn_app().await;
    let key = user(&app).await;
    let auth = [("vai_token", key.as_str())];
    let post = |body: Value| app.send("POST", "/api/v1/access-tokens", &auth, Some(body));
    assert_validation_error(&post(json!({})).await, json!(["body", "name"]));
    assert_validation_error(&post(json!({"name": ""})).await, json!(["body", "name"]));
    assert_validation_error(
        &post(json!({"name": "x".repeat(256)})).await,
        json!(["body", "name"]),
    );
    assert_validation_error(&post(json!({"name": 5})).await, json!(["body", "name"]));
    assert_validation_error(
        &post(json!({"name": "x", "expiresInDays": 0})).await,
        json!(["body", "expiresInDays"]),
    );
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("includeRevoked=perhaps", "includeRevoked"),
        ("cursor=!!", "cursor"),
    ] {
        let reply = app
            .send(
                "GET",
                &format!("/api/v1/access-tokens?{query}"),
                &auth,
                None,
            )
            .await;
        assert_validation_error(&reply, json!(["query", field]));
    }
    let bad_id = app
        .send("GET", "/api/v1/access-tokens/string", &auth, None)
        .await;
    assert_validation_error(&bad_id, json!(["path", "token_id"]));
}

#[tokio::test]
async fn expiry_filters_paging_and_revoke_all() {
    let app = spawn_app().await;
    let key = user(&app).await;
    let auth = [("vai_token", key.as_str())];
    let mut ids = Vec::new();
    for i in 0..3 {
        let created = app
            .send(
                "POST",
                "/api/v1/access-tokens",
                &auth,
                Some(json!({"name": format!("t{i}"), "expiresInDays": 30})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let token = &created.body["token"];
        let at = |field: &str| {
            keygate::domain::clock::parse_rfc3339(field, token[field].as_str().unwrap()).unwrap()
        };
        assert_eq!(
            at("expiresAt") - at("createdAt"),
            30 * 24 * 3600,
            "expiresInDays: 30 is thirty days from creation: {token}"
        );
        ids.push(token["id"].as_str().unwrap().to_owned());
    }
    // Pages of two: four tokens in all (the caller's own key among them), each on exactly
    // one page.
    let page = |query: String| {
        let (app, auth) = (&app, &auth);
        async move {
            let reply = app
                .send("GET", &format!("/api/v1/access-tokens?{query}"), auth, None)
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let ids: Vec<String> = reply.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect();
            (ids, reply.body["nextCursor"].clone())
        }
    };
    let (first, cursor) = page("limit=2".into()).await;
    assert_eq!(first.len(), 2);
    let cursor = cursor.as_str().expect("a next page").to_owned();
    let (second, last) = page(format!("limit=2&cursor={cursor}")).await;
    assert_eq!(second.len(), 2);
    assert!(
        first.iter().all(|id| !second.contains(id)),
        "page two follows page one: {first:?} then {second:?}"
    );
    let (everything, _) = page("limit=10".into()).await;
    assert_eq!(
        [first, second].concat(),
        everything,
        "the pages are the list, in order"
    );
    assert!(ids.iter().all(|id| everything.contains(id)));
    if let Some(cursor) = last.as_str() {
        let (beyond, _) = page(format!("limit=2&cursor={cursor}")).await;
        assert!(beyond.is_empty(), "nothing after the last page: {beyond:?}");
    }

    let sessions = app
        .send(
            "GET",
            "/api/v1/access-tokens?tokenType=session",
            &auth,
            None,
        )
        .await;
    assert_eq!(sessions.body, json!({"items": [], "nextCursor": null}));
    let keys = app
        .send(
            "GET",
            "/api/v1/access-tokens?tokenType=api_key",
            &auth,
            None,
        )
        .await;
    assert_eq!(keys.body["items"].as_array().unwrap().len(), 4);

    let all = app
        .send("DELETE", "/api/v1/access-tokens", &auth, None)
        .await;
    assert_eq!(all.body, json!({"revokedCount": 3}));
    let active = app.send("GET", "/api/v1/access-tokens", &auth, None).await;
    assert_eq!(
        active.body["items"].as_array().unwrap().len(),
        1,
        "the caller's own"
    );
    let with_revoked = app
        .send(
            "GET",
            "/api/v1/access-tokens?includeRevoked=true",
            &auth,
            None,
        )
        .await;
    let items = with_revoked.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items.iter().filter(|t| t["revokedAt"].is_string()).count(),
        3
    );
    let everything = app
        .send(
            "DELETE",
            "/api/v1/access-tokens?exclude_current=false",
            &auth,
            None,
        )
        .await;
    assert_eq!(everything.body, json!({"revokedCount": 1}));
    let after = app.send("GET", "/api/v1/access-tokens", &auth, None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_ten_key_limit_is_shared_with_keygate() {
    let app = spawn_app().await;
    let key = user(&app).await;
    let auth = [("vai_token", key.as_str())];
    for i in 0..9 {
        let created = app
            .send(
                "POST",
                "/api/v1/access-tokens",
                &auth,
                Some(json!({"name": format!("t{i}")})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let eleventh = app
        .send(
            "POST",
            "/api/v1/access-tokens",
            &auth,
            Some(json!({"name": "one too many"})),
        )
        .await;
    assert_eq!(eleventh.status, StatusCode::CONFLICT);
    assert!(eleventh.body["detail"].as_str().unwrap().contains("10"));
}

#[tokio::test]
async fn sessions_are_listed_with_their_real_type_and_revoked_by_revoke_all() {
    let app = spawn_app().await;
    let password = "a long enough passphrase";
    app.new_user_with_password("sessions@example.com", password)
        .await;
    let current = app.sign_in("sessions@example.com", password).await;
    let other = app.sign_in("sessions@example.com", password).await;
    let auth = [("vai_token", current.as_str())];
    let created = app
        .send(
            "POST",
            "/api/v1/access-tokens",
            &auth,
            Some(json!({"name": "ci"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.body["plaintext"].as_str().unwrap().to_owned();

    let sessions = app
        .send(
            "GET",
            "/api/v1/access-tokens?tokenType=session",
            &auth,
            None,
        )
        .await;
    assert_eq!(sessions.status, StatusCode::OK, "{}", sessions.body);
    let items = sessions.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", sessions.body);
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, TOKEN_FIELDS);
        assert_eq!(item["tokenType"], "session");
        assert!(item["tokenPrefix"].as_str().unwrap().starts_with("kgs_"));
    }
    let one_id = items[0]["id"].as_str().unwrap();
    let one = app
        .send(
            "GET",
            &format!("/api/v1/access-tokens/{one_id}"),
            &auth,
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["tokenType"], "session");
    let bad_type = app
        .send("GET", "/api/v1/access-tokens?tokenType=cookie", &auth, None)
        .await;
    assert_validation_error(&bad_type, json!(["query", "tokenType"]));

    // Revoke-all spares the session in use and revokes the other one and the key.
    let all = app
        .send(
            "DELETE",
            "/api/v1/access-tokens?exclude_current=true",
            &auth,
            None,
        )
        .await;
    assert_eq!(all.body, json!({"revokedCount": 2}), "{}", all.body);
    let me = |credential: String| {
        let app = &app;
        async move {
            app.call("GET", "/v1/auth/me", Some(&credential), None)
                .await
                .status
        }
    };
    assert_eq!(me(current.clone()).await, StatusCode::OK);
    assert_eq!(me(other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(key).await, StatusCode::UNAUTHORIZED);
    let live = app
        .send(
            "GET",
            "/api/v1/access-tokens?tokenType=session",
            &auth,
            None,
        )
        .await;
    assert_eq!(live.body["items"].as_array().unwrap().len(), 1);
    let ended = app
        .send(
            "GET",
            "/api/v1/access-tokens?tokenType=session&includeRevoked=true",
            &auth,
            None,
        )
        .await;
    assert_eq!(ended.body["items"].as_array().unwrap().len(), 2);
    let gone = app
        .send(
            "DELETE",
            "/api/v1/access-tokens?exclude_current=false",
            &auth,
            None,
        )
        .await;
    assert_eq!(gone.body, json!({"revokedCount": 1}), "{}", gone.body);
    assert_eq!(me(current).await, StatusCode::UNAUTHORIZED);
}
