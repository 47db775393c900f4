//! Webhook endpoints through `/v1/webhooks`: registered by tenant admins, their destination
//! checked before anything is sent, their signing secret shown once and never stored.

use std::net::TcpListener;

use keygate::domain::webhook::SigningSecret;
use keygate_tests::{
    StatusCode, TestApp, spawn_app, spawn_app_with, spawn_app_with_faults_and, strings_in,
};
use serde_json::{Value, json};

async fn create(app: &TestApp, body: Value) -> keygate_tests::Reply {
    app.call("POST", "/v1/webhooks", Some(&app.admin_key), Some(body))
        .await
}

/// The table's every string, to show what is (not) stored.
async fn stored_strings(app: &TestApp) -> Vec<String> {
    let mut strings = Vec::new();
    for item in app.scan_table().await {
        for value in item.values() {
            strings_in(value, &mut strings);
        }
    }
    strings
}

#[tokio::test]
async fn an_admin_registers_an_endpoint_and_sees_its_secret_once() {
    let app = spawn_app_with(&[("KEYGATE_WEBHOOK_HOSTS", "hooks.test=203.0.113.10")]).await;
    let made = create(
        &app,
        json!({"url": "https://hooks.test/keygate", "event_types": ["key.created", "key.revoked"], "description": "billing"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        made.body["event_types"],
        json!(["key.created", "key.revoked"])
    );
    assert_eq!(made.body["enabled"], true);

    let read = app
        .call(
            "GET",
            &format!("/v1/webhooks/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert!(read.body.get("secret").is_none(), "{}", read.body);
    assert_eq!(read.body["url"], "https://hooks.test/keygate");
    let listed = app
        .call("GET", "/v1/webhooks", Some(&app.admin_key), None)
        .await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert!(listed.body["items"][0].get("secret").is_none());

    // Not stored: neither the secret nor its key material appear in the table...
    let key_b64 = secret.trim_start_matches("whsec_");
    assert!(
        !stored_strings(&app)
            .await
            .iter()
            .any(|s| s.contains(key_b64)),
        "the signing secret is in the table"
    );
    // ...yet another instance, holding the pepper, signs with exactly that secret.
    let other = app.other_instance(&[]).await;
    let endpoint = other
        .store
        .get_webhook(&app.tenant_id, &id)
        .await
        .unwrap()
        .unwrap();
    let signing = other.signing_secrets(&endpoint, keygate::domain::clock::now_epoch());
    assert_eq!(signing.len(), 1);
    assert_eq!(signing[0].reveal(), secret);
    assert_eq!(
        signing[0].sign("msg_1", 1_700_000_000, "{}"),
        SigningSecret::parse(&secret)
            .unwrap()
            .sign("msg_1", 1_700_000_000, "{}")
    );

    let audit = app.audit(&app.admin_key, "type=webhook.created").await;
    assert_eq!(
        audit.body["items"][0]["target"]["id"],
        id.as_str(),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let app = spawn_app_with(&[("KEYGATE_WEBHOOK_HOSTS", "hooks.test=203.0.113.10")]).await;
    for (body, field) in [
        (json!({"url": "http://hooks.test/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://user:pw@hooks.test/"}), "url"),
        (
            json!({"url": "https://hooks.test/", "event_types": ["key.created", "key.exploded"]}),
            "event_types[1]",
        ),
        (
            json!({"url": "https://hooks.test/", "description": "x".repeat(257)}),
            "description",
        ),
    ] {
        let refused = create(&app, body.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.body);
        assert_eq!(refused.headers["content-type"], "application/problem+json");
    }
    let unknown = create(
        &app,
        json!({"url": "https://hooks.test/", "secret": "mine"}),
    )
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.body
    );
    assert_eq!(
        app.call("GET", "/v1/webhooks", Some(&app.admin_key), None)
            .await
            .body["items"],
        json!([]),
        "nothing half-written"
    );
}

#[tokio::test]
async fn internal_destinations_are_refused_before_any_connection() {
    // Names resolve through the deployment's host map, never DNS: each maps to an address
    // a webhook must not reach.
    let app = spawn_app_with(&[(
        "KEYGATE_WEBHOOK_HOSTS",
        "metadata.test=169.254.169.254,metadata6.test=fd00:ec2::254,private.test=10.0.0.7,\
         ula.test=fd12:3456::1,linklocal.test=fe80::1,mixed.test=203.0.113.10|192.168.1.20,\
         public.test=203.0.113.10",
    )])
    .await;
    // A listener on loopback: a refused registration must never have connected to it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    for url in [
        "https://metadata.test/latest/meta-data/".to_owned(),
        "https://metadata6.test/".to_owned(),
        "https://private.test/".to_owned(),
        "https://ula.test/".to_owned(),
        "https://linklocal.test/".to_owned(),
        "https://mixed.test/".to_owned(),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://localhost.:{port}/hook"),
        "https://[::1]/".to_owned(),
        "https://[::ffff:169.254.169.254]/".to_owned(),
        "https://169.254.169.254/".to_owned(),
    ] {
        let refused = create(&app, json!({"url": url})).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{url}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], "url", "{url}");
    }
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "a refused destination was connected to"
    );
    let public = create(&app, json!({"url": "https://public.test/"})).await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.body);
}

#[tokio::test]
async fn plain_http_to_loopback_only_with_the_development_flag() {
    let app = spawn_app().await;
    let refused = create(&app, json!({"url": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let local = app
        .redeployed(&[("KEYGATE_WEBHOOK_PLAIN_LOOPBACK", "allow")])
        .await;
    let made = create(&local, json!({"url": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let still_refused = create(&local, json!({"url": "http://10.0.0.1/hook"})).await;
    assert_eq!(
        still_refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        still_refused.body
    );
}

#[tokio::test]
async fn only_tenant_admins_manage_endpoints_of_their_own_tenant() {
    let app = spawn_app_with(&[("KEYGATE_WEBHOOK_HOSTS", "hooks.test=203.0.113.10")]).await;
    let made = create(&app, json!({"url": "https://hooks.test/"})).await;
    let id = made.body["id"].as_str().unwrap();
    let (_, member_key) = app
        .new_user_with_key("member@example.com", json!({"name": "member"}))
        .await;
    let refused = app
        .call("GET", "/v1/webhooks", Some(&member_key), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let (_, narrow_admin_key) = app
        .new_key(
            &app.admin_key,
            json!({"name": "no admin scope", "scopes": ["chat", "read"]}),
        )
        .await;
    let narrow = app
        .call(
            "POST",
            "/v1/webhooks",
            Some(&narrow_admin_key),
            Some(json!({"url": "https://hooks.test/"})),
        )
        .await;
    assert_eq!(narrow.status, StatusCode::FORBIDDEN, "{}", narrow.body);
    let other = app.other_tenant("other-admin@example.com").await;
    for method in ["GET", "PATCH", "DELETE"] {
        let hidden = app
            .call(
                method,
                &format!("/v1/webhooks/{id}"),
                Some(&other.admin_key),
                (method == "PATCH").then(|| json!({"enabled": false})),
            )
            .await;
        assert_eq!(
            hidden.status,
            StatusCode::NOT_FOUND,
            "{method}: {}",
            hidden.body
        );
    }
    let missing = app
        .call("GET", "/v1/webhooks/not-an-id", Some(&app.admin_key), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn patch_rotate_and_delete() {
    let app = spawn_app_with(&[(
        "KEYGATE_WEBHOOK_HOSTS",
        "hooks.test=203.0.113.10,private.test=10.0.0.7",
    )])
    .await;
    let made = create(&app, json!({"url": "https://hooks.test/"})).await;
    let id = made.body["id"].as_str().unwrap().to_owned();
    let first_secret = made.body["secret"].as_str().unwrap().to_owned();
    let path = format!("/v1/webhooks/{id}");

    let patched = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"enabled": false, "event_types": ["key.revoked"]})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["enabled"], false);
    assert_eq!(patched.body["event_types"], json!(["key.revoked"]));
    let moved_inside = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"url": "https://private.test/"})),
        )
        .await;
    assert_eq!(
        moved_inside.status,
        StatusCode::BAD_REQUEST,
        "{}",
        moved_inside.body
    );
    assert_eq!(moved_inside.body["field"], "url");
    let empty = app
        .call("PATCH", &path, Some(&app.admin_key), Some(json!({})))
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);

    let rotated = app
        .call(
            "POST",
            &format!("{path}/rotate-secret"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let second_secret = rotated.body["secret"].as_str().unwrap();
    assert_ne!(second_secret, first_secret);
    assert!(
        rotated.body["previous_secret_expires_at"].is_string(),
        "{}",
        rotated.body
    );
    // Both sign during the overlap: the new one first.
    let endpoint = app
        .services
        .store
        .get_webhook(&app.tenant_id, &id)
        .await
        .unwrap()
        .unwrap();
    let now = keygate::domain::clock::now_epoch();
    let signing: Vec<String> = app
        .services
        .signing_secrets(&endpoint, now)
        .iter()
        .map(SigningSecret::reveal)
        .collect();
    assert_eq!(signing, [second_secret.to_owned(), first_secret.clone()]);
    assert_eq!(
        app.services
            .signing_secrets(&endpoint, now + 24 * 3600)
            .len(),
        1
    );

    let audit = app.audit(&app.admin_key, "type=webhook.updated").await;
    assert_eq!(
        audit.body["items"][0]["change"]["enabled"],
        json!({"old": true, "new": false}),
        "{}",
        audit.body
    );
    let deleted = app.call("DELETE", &path, Some(&app.admin_key), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.call("GET", &path, Some(&app.admin_key), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = app.call("DELETE", &path, Some(&app.admin_key), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_tenant_holds_at_most_twenty_endpoints_and_a_delete_frees_one() {
    let app = spawn_app_with(&[("KEYGATE_WEBHOOK_HOSTS", "hooks.test=203.0.113.10")]).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let made = create(&app, json!({"url": format!("https://hooks.test/{n}")})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        ids.push(made.body["id"].as_str().unwrap().to_owned());
    }
    let over = create(&app, json!({"url": "https://hooks.test/21"})).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.body);
    let page = app
        .call("GET", "/v1/webhooks?limit=15", Some(&app.admin_key), None)
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 15);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .call(
            "GET",
            &format!("/v1/webhooks?limit=15&cursor={cursor}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(
        rest.body["items"].as_array().unwrap().len(),
        5,
        "{}",
        rest.body
    );
    app.call(
        "DELETE",
        &format!("/v1/webhooks/{}", ids[0]),
        Some(&app.admin_key),
        None,
    )
    .await;
    let freed = create(&app, json!({"url": "https://hooks.test/21"})).await;
    assert_eq!(freed.status, StatusCode::CREATED, "{}", freed.body);
}

#[tokio::test]
async fn a_failed_registration_is_a_503_and_leaves_neither_endpoint_nor_event() {
    let (app, faults) =
        spawn_app_with_faults_and(&[("KEYGATE_WEBHOOK_HOSTS", "hooks.test=203.0.113.10")]).await;
    app.call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    faults.fail("TransactWriteItems");
    let failed = create(&app, json!({"url": "https://hooks.test/"})).await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        failed.body
    );
    assert!(failed.headers.contains_key("retry-after"));
    faults.heal();
    let items = app.scan_table().await;
    let typed = |kind: &str| {
        items
            .iter()
            .filter(|i| {
                i.get("type")
                    .and_then(|t| t.as_s().ok())
                    .map(String::as_str)
                    == Some(kind)
            })
            .count()
    };
    assert_eq!(typed("Webhook"), 0);
    assert!(!items.iter().any(|i| {
        i.get("event_type")
            .and_then(|t| t.as_s().ok())
            .is_some_and(|t| t.starts_with("webhook."))
    }));
}
