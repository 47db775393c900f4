//! The audit trail: every credential change leaves an event written with it; a tenant
//! admin reads the tenant's trail, a user their own; newest first, cursor paged, filtered.

use keygate_tests::{StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

const AGENT: &str = "audit-test/1.0";

async fn as_admin(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> keygate_tests::Reply {
    app.send(
        method,
        path,
        &[("X-API-Key", &app.admin_key), ("User-Agent", AGENT)],
        body,
    )
    .await
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn key_changes_are_recorded_with_who_where_and_what() {
    let app = spawn_app().await;
    let created = as_admin(&app, "POST", "/v1/api-keys", Some(json!({"name": "ci"}))).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/api-keys/{id}");
    as_admin(
        &app,
        "PATCH",
        &path,
        Some(json!({"name": "ci-2", "scopes": ["chat"]})),
    )
    .await;
    as_admin(&app, "PATCH", &path, Some(json!({"is_active": false}))).await;
    as_admin(&app, "PATCH", &path, Some(json!({"is_active": true}))).await;
    as_admin(
        &app,
        "POST",
        &format!("{path}/roll"),
        Some(json!({"grace_secs": 0})),
    )
    .await;
    as_admin(&app, "DELETE", &path, None).await;

    let trail = app.audit(&app.admin_key, &format!("target={id}")).await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    assert_eq!(
        types(&trail.body),
        [
            "key.revoked",
            "key.rolled",
            "key.resumed",
            "key.paused",
            "key.patched",
            "key.created"
        ],
        "newest first"
    );
    let bootstrap_key_id = &app.admin_key[3..29];
    for event in trail.body["items"].as_array().unwrap() {
        assert_eq!(event["actor"]["user_id"], app.admin_id.as_str());
        assert_eq!(event["actor"]["credential_id"], bootstrap_key_id);
        assert_eq!(event["actor"]["kind"], "api_key");
        assert_eq!(event["target"], json!({"kind": "api_key", "id": id}));
        assert_eq!(event["user_id"], app.admin_id.as_str());
        assert_eq!(event["ip"], "127.0.0.1");
        assert_eq!(event["user_agent"], AGENT);
        assert!(event["at"].as_str().unwrap().ends_with('Z'));
    }
    let patched = &trail.body["items"][4];
    assert_eq!(
        patched["change"]["name"],
        json!({"old": "ci", "new": "ci-2"})
    );
    assert_eq!(
        patched["change"]["scopes"],
        json!({"old": ["chat", "read"], "new": ["chat"]})
    );
    assert_eq!(
        trail.body["items"][3]["change"]["is_active"],
        json!({"old": true, "new": false})
    );
    let rolled = &trail.body["items"][1];
    assert!(rolled["detail"]["new_key_id"].is_string());
    assert_eq!(rolled["detail"]["grace_secs"], 0);
    // Never a secret, never a hash.
    let text = trail.body.to_string();
    assert!(!text.contains(&app.admin_key));
    assert!(!text.contains(created.body["key"].as_str().unwrap()));
    assert!(!text.contains("hash"));
}

#[tokio::test]
async fn an_admin_reads_the_tenant_and_a_user_their_own() {
    let app = spawn_app().await;
    let (member_id, member_key) = app
        .new_user_with_key("member@example.com", json!({"name": "m"}))
        .await;
    app.new_key(&member_key, json!({"name": "member's own"}))
        .await;
    app.new_key(&app.admin_key, json!({"name": "admin's own"}))
        .await;

    let own = app.audit(&member_key, "").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let items = own.body["items"].as_array().unwrap();
    assert!(
        items.iter().all(|e| e["user_id"] == member_id.as_str()),
        "{}",
        own.body
    );
    // The member's trail: their user created, their first key, their own key.
    assert_eq!(
        types(&own.body),
        ["key.created", "key.created", "user.created"]
    );

    let tenant = app.audit(&app.admin_key, "limit=200").await;
    let subjects: Vec<&str> = tenant.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user_id"].as_str().unwrap())
        .collect();
    assert!(subjects.contains(&member_id.as_str()) && subjects.contains(&app.admin_id.as_str()));

    // Filters: by type, by actor; a foreign cursor is refused.
    let created_by_member = app
        .audit(
            &app.admin_key,
            &format!("type=key.created&actor={member_id}"),
        )
        .await;
    assert_eq!(types(&created_by_member.body), ["key.created"]);
    let bad = app.audit(&app.admin_key, "type=key.exploded").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "type");
    let long = app
        .audit(&app.admin_key, &format!("target={}", "x".repeat(3000)))
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    assert_eq!(long.body["field"], "target");
    let bad_time = app.audit(&app.admin_key, "from=yesterday").await;
    assert_eq!(bad_time.body["field"], "from");
    let later = app.audit(&app.admin_key, "from=2999-01-01T00:00:00Z").await;
    assert_eq!(later.body["items"], json!([]));
    let earlier = app.audit(&app.admin_key, "to=2000-01-01T00:00:00Z").await;
    assert_eq!(earlier.body["items"], json!([]));
}

#[tokio::test]
async fn pages_follow_the_cursor_without_overlap() {
    let app = spawn_app().await;
    for n in 0..4 {
        app.new_key(&app.admin_key, json!({"name": format!("k{n}")}))
            .await;
    }
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = app.audit(&app.admin_key, &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for event in page.body["items"].as_array().unwrap() {
            seen.push(event["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        6,
        "four keys, the bootstrap key and the bootstrap admin: {seen:?}"
    );
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, no repeats");
    sorted.dedup();
    assert_eq!(sorted.len(), 6);
}

#[tokio::test]
async fn sessions_passwords_and_failed_sign_ins_are_recorded() {
    let app = spawn_app().await;
    let password = "a long enough passphrase";
    let user_id = app
        .new_user_with_password("ada@example.com", password)
        .await;
    let session = app.sign_in("ada@example.com", password).await;
    let changed = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&session),
            Some(json!({"old_password": password, "new_password": "another long passphrase"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    let signed_out = app
        .call("DELETE", "/v1/sessions", Some(&session), None)
        .await;
    assert_eq!(
        signed_out.status,
        StatusCode::NO_CONTENT,
        "{}",
        signed_out.body
    );
    for _ in 0..5 {
        let refused = app
            .call(
                "POST",
                "/v1/sessions",
                None,
                Some(json!({"email": "ada@example.com", "password": "wrong guess, twelve+"})),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
    let token = app
        .call(
            "POST",
            "/v1/auth/tokens",
            Some(&app.admin_key),
            Some(json!({"token_ttl": 60})),
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);

    let trail = app.audit(&app.admin_key, "limit=200").await;
    let of_ada: Vec<String> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["user_id"] == user_id.as_str())
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        of_ada,
        [
            "account.locked",
            "sign_in.failed",
            "sign_in.failed",
            "sign_in.failed",
            "sign_in.failed",
            "session.signed_out",
            "password.changed",
            "session.signed_in",
            "user.created",
        ]
    );
    let minted = app.audit(&app.admin_key, "type=token.minted").await;
    assert_eq!(minted.body["items"][0]["detail"]["method"], "temp");
}

#[tokio::test]
async fn grants_exchanges_and_revoke_all_are_recorded() {
    let app = spawn_app().await;
    let (bob_id, _) = app
        .new_user_with_key("bob@example.com", json!({"name": "k"}))
        .await;
    let created = app
        .call(
            "POST",
            "/v1/datasets",
            Some(&app.admin_key),
            Some(json!({"name": "Shared1"})),
        )
        .await;
    let dataset = created.body["full_name"].as_str().unwrap().to_owned();
    let grant_path = format!("/v1/datasets/{dataset}/grants/bob@example.com");
    for permission in ["read", "write"] {
        let granted = app
            .call(
                "PUT",
                &grant_path,
                Some(&app.admin_key),
                Some(json!({"permission": permission})),
            )
            .await;
        assert!(granted.status.is_success(), "{}", granted.body);
    }
    let removed = app
        .call("DELETE", &grant_path, Some(&app.admin_key), None)
        .await;
    assert!(removed.status.is_success(), "{}", removed.body);
    let grants = app
        .audit(&app.admin_key, &format!("target={dataset}"))
        .await;
    assert_eq!(
        types(&grants.body),
        ["dataset.unshared", "dataset.shared", "dataset.shared"]
    );
    let changes: Vec<&Value> = grants.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["change"]["permission"])
        .collect();
    assert_eq!(
        changes,
        [
            &json!({"old": "write", "new": null}),
            &json!({"old": "read", "new": "write"}),
            &json!({"old": null, "new": "read"})
        ]
    );
    assert_eq!(
        grants.body["items"][0]["detail"]["grantee_user_id"],
        bob_id.as_str()
    );

    let exchanged = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": app.admin_key})),
        )
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.body);
    let minted = app.audit(&app.admin_key, "type=token.minted").await;
    assert_eq!(minted.body["items"][0]["detail"]["method"], "exchange");

    for n in 0..3 {
        app.new_key(&app.admin_key, json!({"name": format!("k{n}")}))
            .await;
    }
    let all = app
        .call("DELETE", "/v1/api-keys", Some(&app.admin_key), None)
        .await;
    assert_eq!(all.body["revoked_count"], 3, "{}", all.body);
    let revoked = app.audit(&app.admin_key, "type=key.revoke_all").await;
    assert_eq!(
        revoked.body["items"].as_array().unwrap().len(),
        3,
        "an event per key"
    );
}

#[tokio::test]
async fn the_bootstrap_admin_is_created_with_its_event() {
    let app = spawn_app().await;
    let trail = app.audit(&app.admin_key, "type=user.created").await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    assert_eq!(types(&trail.body), ["user.created"], "{}", trail.body);
    let event = &trail.body["items"][0];
    assert_eq!(event["user_id"], app.admin_id.as_str());
    assert_eq!(event["target"], json!({"kind": "user", "id": app.admin_id}));
    assert_eq!(event["actor"]["kind"], "system");
    assert_eq!(event["detail"]["tenant_name"], "test tenant");
    assert_eq!(event["detail"]["email"], app.admin_email.as_str());
    assert_eq!(event["detail"]["role"], "admin");
    // Written with the user: the admin's trail begins with it, before the first key.
    let own = app.audit(&app.admin_key, "").await;
    assert_eq!(types(&own.body), ["key.created", "user.created"]);
}
