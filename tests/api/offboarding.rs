//! `DELETE /v1/users/{user_id}`: a deactivated user's every key, token and session is
//! refused on the next request, on another instance too (the authorizer's); keys of other
//! users that follow the user's keys are refused with them; the user's datasets pass to
//! `transfer_to` (grantees keep reading) or are deleted; refusals write nothing.

use keygate::authorizer::authorize;
use keygate_tests::{Reply, StatusCode, TestApp, authorizer_event, spawn_app};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const ALL_USER_SCOPES: [&str; 4] = ["chat", "read", "write", "admin"];

async fn deactivate(app: &TestApp, credential: &str, user_id: &str, query: &str) -> Reply {
    app.call(
        "DELETE",
        &format!("/v1/users/{user_id}{query}"),
        Some(credential),
        None,
    )
    .await
}

/// A user with a password and a key of their own (made from their session); (id, key).
async fn user(app: &TestApp, email: &str, role: &str) -> (String, String) {
    let made = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": email, "password": PASSWORD, "role": role})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let session = app.sign_in(email, PASSWORD).await;
    let (_, key) = app
        .new_key(&session, json!({"name": email, "scopes": ALL_USER_SCOPES}))
        .await;
    (made.body["id"].as_str().unwrap().to_owned(), key)
}

/// A dataset as `key` lists it (owned or shared), if it does.
async fn seen_by(app: &TestApp, key: &str, full_name: &str) -> Option<Value> {
    let listing = app
        .call("GET", "/v1/datasets?limit=100", Some(key), None)
        .await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.body);
    listing.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["full_name"] == full_name)
        .cloned()
}

fn listed<'a>(users: &'a Reply, id: &str) -> &'a Value {
    users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .expect("the user is listed")
}

#[tokio::test]
async fn a_deactivated_users_key_token_and_session_are_refused_on_the_next_request_everywhere() {
    let app = spawn_app().await;
    let (ada, key) = user(&app, "ada@example.com", "member").await;
    let session = app.sign_in("ada@example.com", PASSWORD).await;
    let token = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": "ada@example.com", "api_key": key})),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let authorizer = app.other_instance(&[]).await;
    for secret in [&key, &token, &session] {
        let allowed = authorize(&authorizer, &authorizer_event(secret)).await;
        assert_eq!(allowed.context["user_id"], ada.as_str());
        let me = app.call("GET", "/v1/auth/me", Some(secret), None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    }

    let done = deactivate(&app, &app.admin_key, &ada, "").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["user"]["active"], false);
    assert!(done.body["user"]["deactivated_at"].is_string());
    assert_eq!(done.body["keys_revoked"], 1, "{}", done.body);

    for secret in [&key, &token, &session] {
        let denied = authorize(&authorizer, &authorizer_event(secret)).await;
        assert_eq!(denied.context, json!({"keygate_denied": "unauthenticated"}));
        let me = app.call("GET", "/v1/auth/me", Some(secret), None).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
    }
    let sign_in = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "ada@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(sign_in.status, StatusCode::UNAUTHORIZED, "{}", sign_in.body);
    let users = app
        .call("GET", "/v1/users", Some(&app.admin_key), None)
        .await;
    assert_eq!(listed(&users, &ada)["active"], false);
    assert_eq!(listed(&users, &app.admin_id)["active"], true);
    assert_eq!(listed(&users, &app.admin_id)["deactivated_at"], Value::Null);

    // No new key is made for them: it would be refused anyway.
    let new_key = app
        .call(
            "POST",
            &format!("/v1/users/{ada}/api-keys"),
            Some(&app.admin_key),
            Some(json!({"name": "after"})),
        )
        .await;
    assert_eq!(new_key.status, StatusCode::CONFLICT, "{}", new_key.body);

    // Repeatable: the first time stays, nothing is left to revoke.
    let again = deactivate(&app, &app.admin_key, &ada, "").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["keys_revoked"], 0);
    assert_eq!(
        again.body["user"]["deactivated_at"],
        done.body["user"]["deactivated_at"]
    );
    let trail = app.audit(&app.admin_key, "limit=100").await;
    let events: Vec<&Value> = trail.body["items"].as_array().unwrap().iter().collect();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "user.deactivated" && e["target"]["id"] == ada.as_str())
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "key.revoked" && e["detail"]["reason"] == "user_deactivated"),
        "{}",
        trail.body
    );
}

#[tokio::test]
async fn keys_following_a_deactivated_users_keys_are_refused_and_others_are_not() {
    let app = spawn_app().await;
    let (lead, lead_key) = user(&app, "lead@example.com", "admin").await;
    let (_, member_key) = user(&app, "member@example.com", "member").await;
    let member_id = app
        .call("GET", "/v1/auth/me", Some(&member_key), None)
        .await
        .body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The lead's key makes a key for the member: it follows the lead's key.
    let following = app
        .call(
            "POST",
            &format!("/v1/users/{member_id}/api-keys"),
            Some(&lead_key),
            Some(json!({"name": "from the lead", "scopes": ["chat"]})),
        )
        .await;
    assert_eq!(following.status, StatusCode::CREATED, "{}", following.body);
    let following = following.body["key"].as_str().unwrap().to_owned();
    let authorizer = app.other_instance(&[]).await;
    assert!(
        authorize(&authorizer, &authorizer_event(&following))
            .await
            .context
            .get("user_id")
            .is_some()
    );

    let done = deactivate(&app, &app.admin_key, &lead, "").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    let denied = authorize(&authorizer, &authorizer_event(&following)).await;
    assert_eq!(denied.context, json!({"keygate_denied": "unauthenticated"}));
    for (secret, expected) in [
        (&following, StatusCode::UNAUTHORIZED),
        (&member_key, StatusCode::OK),
        (&app.admin_key, StatusCode::OK),
    ] {
        let me = app.call("GET", "/v1/auth/me", Some(secret), None).await;
        assert_eq!(me.status, expected, "{}", me.body);
    }
}

#[tokio::test]
async fn refusals_are_problems_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let (ada, ada_key) = user(&app, "ada@example.com", "member").await;
    let (bob, _) = user(&app, "bob@example.com", "member").await;
    let made = app
        .call(
            "POST",
            "/v1/datasets",
            Some(&ada_key),
            Some(json!({"name": "notes"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let other = app.other_tenant("grace@example.com").await;
    let unknown = keygate::domain::credential::new_ulid().to_string();
    for (query, field) in [
        ("", "datasets"),
        ("?datasets=keep", "datasets"),
        ("?transfer_to=x", "datasets"),
        ("?datasets=transfer", "transfer_to"),
        (
            &format!("?datasets=transfer&transfer_to={unknown}") as &str,
            "transfer_to",
        ),
        (
            &format!("?datasets=transfer&transfer_to={ada}"),
            "transfer_to",
        ),
        (
            &format!("?datasets=transfer&transfer_to={}", other.admin_id),
            "transfer_to",
        ),
        (
            &format!("?datasets=delete&transfer_to={bob}"),
            "transfer_to",
        ),
    ] {
        let refused = deactivate(&app, &app.admin_key, &ada, query).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], field, "{query}: {}", refused.body);
        assert_eq!(
            refused.headers["content-type"], "application/problem+json",
            "{query}"
        );
    }
    let still = app.call("GET", "/v1/auth/me", Some(&ada_key), None).await;
    assert_eq!(
        still.status,
        StatusCode::OK,
        "a refusal deactivates nothing"
    );
    // Only a tenant admin's full credential; never another tenant's user; never oneself.
    let forbidden = deactivate(&app, &ada_key, &bob, "").await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.body
    );
    for id in [unknown.as_str(), other.admin_id.as_str(), "not-an-id"] {
        let missing = deactivate(&app, &app.admin_key, id, "").await;
        assert_eq!(
            missing.status,
            StatusCode::NOT_FOUND,
            "{id}: {}",
            missing.body
        );
    }
    let own = deactivate(&app, &app.admin_key, &app.admin_id, "").await;
    assert_eq!(own.status, StatusCode::CONFLICT, "{}", own.body);
    let me = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

#[tokio::test]
async fn datasets_pass_to_transfer_to_with_their_grants_or_are_deleted() {
    let app = spawn_app().await;
    let (ada, ada_key) = user(&app, "ada@example.com", "member").await;
    let (bob, bob_key) = user(&app, "bob@example.com", "member").await;
    let (_, carol_key) = user(&app, "carol@example.com", "member").await;
    let (dan, dan_key) = user(&app, "dan@example.com", "member").await;
    let mut names = Vec::new();
    for (key, name) in [
        (&ada_key, "notes"),
        (&ada_key, "papers"),
        (&dan_key, "drafts"),
    ] {
        let made = app
            .call(
                "POST",
                "/v1/datasets",
                Some(key),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let full = made.body["full_name"].as_str().unwrap().to_owned();
        for grantee in ["carol@example.com", "bob@example.com"] {
            let shared = app
                .call(
                    "PUT",
                    &format!("/v1/datasets/{full}/grants/{grantee}"),
                    Some(key),
                    Some(json!({"permission": "read"})),
                )
                .await;
            assert_eq!(shared.status, StatusCode::CREATED, "{}", shared.body);
        }
        names.push(full);
    }

    let done = deactivate(
        &app,
        &app.admin_key,
        &ada,
        &format!("?datasets=transfer&transfer_to={bob}"),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["datasets_transferred"], 2, "{}", done.body);
    for full in &names[..2] {
        let owned = seen_by(&app, &bob_key, full).await.expect("bob's now");
        assert_eq!(owned["owner_id"], bob.as_str(), "{owned}");
        assert_eq!(owned["owner_email"], "bob@example.com");
        let read = seen_by(&app, &carol_key, full).await;
        assert!(read.is_some(), "the grantee keeps reading {full}");
    }

    let done = deactivate(&app, &app.admin_key, &dan, "?datasets=delete").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["datasets_deleted"], 1, "{}", done.body);
    assert!(seen_by(&app, &carol_key, &names[2]).await.is_none());
    let gone = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{}", names[2]),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let trail = app.audit(&app.admin_key, "limit=100").await;
    let types: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "dataset.transferred")
            .count(),
        2
    );
    assert_eq!(types.iter().filter(|t| **t == "dataset.deleted").count(), 1);
}
