//! The operator's tenant commands (the library entry `keygate-admin tenant` runs, on an
//! instance of its own as the command line is): a suspended tenant's every credential is
//! refused on the next request on every surface and through the authorizer, its users
//! cannot sign in, and a resume gives everything back.

use keygate::authorizer::authorize;
use keygate::domain::owner_budget::OwnerBudgetInput;
use keygate_tests::{
    ALLOWED_ORIGIN, StatusCode, TestApp, authorizer_event, basic_auth, session_cookie, spawn_app,
    spawn_app_with,
};
use serde_json::json;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery";

/// One user's credentials of every kind, as each surface takes them.
struct Credentials {
    key: String,
    token: String,
    session: String,
    cogniac_token: String,
}

async fn credentials(app: &TestApp) -> Credentials {
    app.new_user_with_password(EMAIL, PASSWORD).await;
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
    let cogniac = app
        .send(
            "GET",
            "/1/token",
            &[("authorization", &basic_auth(EMAIL, PASSWORD))],
            None,
        )
        .await;
    assert_eq!(cogniac.status, StatusCode::OK, "{}", cogniac.body);
    Credentials {
        key,
        token: exchanged.body["access_token"].as_str().unwrap().to_owned(),
        session,
        cogniac_token: cogniac.body["access_token"].as_str().unwrap().to_owned(),
    }
}

/// The status each surface answers each credential, and each password sign-in.
async fn statuses(app: &TestApp, c: &Credentials) -> Vec<(&'static str, u16)> {
    let bearer = |secret: &str| format!("Bearer {secret}");
    let cookie = session_cookie(&c.session);
    let mut seen = Vec::new();
    for (name, secret) in [
        ("key", &c.key),
        ("token", &c.token),
        ("session", &c.session),
    ] {
        let me = app.call("GET", "/v1/auth/me", Some(secret), None).await;
        seen.push((name, me.status.as_u16()));
    }
    let asksage = app
        .send(
            "POST",
            "/user/get-user-logs",
            &[("x-access-tokens", &c.token)],
            Some(json!({})),
        )
        .await;
    seen.push(("asksage", asksage.status.as_u16()));
    let cogniac = app
        .send(
            "GET",
            "/1/users/current",
            &[("authorization", &bearer(&c.cogniac_token))],
            None,
        )
        .await;
    seen.push(("cogniac", cogniac.status.as_u16()));
    let virtuousai = app
        .send(
            "GET",
            "/api/v1/access-tokens",
            &[("x-api-key", &c.key)],
            None,
        )
        .await;
    seen.push(("virtuousai", virtuousai.status.as_u16()));
    let assisters = app
        .send(
            "GET",
            "/api/keys",
            &[("cookie", &cookie), ("origin", ALLOWED_ORIGIN)],
            None,
        )
        .await;
    seen.push(("assisters", assisters.status.as_u16()));
    let sign_in = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": EMAIL, "password": PASSWORD})),
        )
        .await;
    seen.push(("sign-in", sign_in.status.as_u16()));
    let cogniac_sign_in = app
        .send(
            "GET",
            "/1/token",
            &[("authorization", &basic_auth(EMAIL, PASSWORD))],
            None,
        )
        .await;
    seen.push(("cogniac sign-in", cogniac_sign_in.status.as_u16()));
    seen
}

fn all(status: u16, expected_sign_in: u16) -> Vec<(&'static str, u16)> {
    let mut seen: Vec<_> = [
        "key",
        "token",
        "session",
        "asksage",
        "cogniac",
        "virtuousai",
        "assisters",
    ]
    .into_iter()
    .map(|name| (name, status))
    .collect();
    seen.push(("sign-in", expected_sign_in));
    seen.push(("cogniac sign-in", if status == 200 { 200 } else { 401 }));
    seen
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_everywhere_on_the_next_request_and_resumes() {
    let app = spawn_app().await;
    let ada = credentials(&app).await;
    let other = app.other_tenant("grace@example.com").await;
    // The authorizer's instance and the operator's command line: neither is the server.
    let authorizer = app.other_instance(&[]).await;
    let operator = app.other_instance(&[]).await;
    assert_eq!(statuses(&app, &ada).await, all(200, 201));
    for secret in [&ada.key, &ada.token, &ada.session, &app.admin_key] {
        let allowed = authorize(&authorizer, &authorizer_event(secret)).await;
        assert!(
            allowed.context.get("user_id").is_some(),
            "{}",
            allowed.context
        );
    }

    let suspended = operator.suspend_tenant(&app.tenant_id).await.unwrap();
    assert!(suspended.suspended_at.is_some());

    assert_eq!(statuses(&app, &ada).await, all(401, 401));
    for secret in [&ada.key, &ada.token, &ada.session, &app.admin_key] {
        let denied = authorize(&authorizer, &authorizer_event(secret)).await;
        assert_eq!(denied.context, json!({"keygate_denied": "unauthenticated"}));
    }
    // Another tenant of the same table is untouched.
    let theirs = app
        .call("GET", "/v1/auth/me", Some(&other.admin_key), None)
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    let (listed, _) = operator.list_tenants(100, None).await.unwrap();
    let mine = listed.iter().find(|t| t.id == app.tenant_id).unwrap();
    assert_eq!(mine.suspended_at, suspended.suspended_at);
    assert_eq!(
        listed
            .iter()
            .find(|t| t.id == other.tenant_id)
            .map(|t| t.suspended_at),
        Some(None)
    );

    let resumed = operator.resume_tenant(&app.tenant_id).await.unwrap();
    assert_eq!(resumed.suspended_at, None);
    assert_eq!(statuses(&app, &ada).await, all(200, 201));
    let allowed = authorize(&authorizer, &authorizer_event(&ada.key)).await;
    assert!(
        allowed.context.get("user_id").is_some(),
        "{}",
        allowed.context
    );
    let trail = app.audit(&app.admin_key, "limit=100").await;
    let types: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"]["kind"] == "tenant")
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["tenant.resumed", "tenant.suspended"],
        "{}",
        trail.body
    );
}

#[tokio::test]
async fn suspending_keeps_the_tenants_budget_and_an_unknown_tenant_is_not_found() {
    let app = spawn_app().await;
    let input: OwnerBudgetInput =
        serde_json::from_value(json!({"credits": {"remaining": 7}, "models": ["gpt-4o"]})).unwrap();
    app.services
        .set_tenant_budget(&app.tenant_id, &input)
        .await
        .unwrap();
    app.services.suspend_tenant(&app.tenant_id).await.unwrap();
    // Suspending twice keeps the first time.
    let first = app.services.list_tenants(10, None).await.unwrap().0[0].suspended_at;
    let again = app.services.suspend_tenant(&app.tenant_id).await.unwrap();
    assert_eq!(again.suspended_at, first);
    app.services.resume_tenant(&app.tenant_id).await.unwrap();
    let budget = app.services.tenant_budget(&app.tenant_id).await.unwrap();
    assert_eq!(
        budget.budget.models.names(),
        Some(&["gpt-4o".to_owned()][..])
    );
    let read = app
        .call("GET", "/v1/tenant/budget", Some(&app.admin_key), None)
        .await;
    assert_eq!(read.body["credits"]["remaining"], 7, "{}", read.body);
    for unknown in ["01HZZZZZZZZZZZZZZZZZZZZZZZ", "not-an-id"] {
        let missing = app.services.suspend_tenant(unknown).await.unwrap_err();
        assert_eq!(missing.to_string(), "tenant not found", "{unknown}");
        assert!(app.services.resume_tenant(unknown).await.is_err());
    }
}

#[tokio::test]
async fn tenants_are_listed_in_pages_without_a_scan() {
    let app = spawn_app().await;
    let mut made = vec![app.tenant_id.clone()];
    for n in 0..3 {
        made.push(
            app.other_tenant(&format!("t{n}@example.com"))
                .await
                .tenant_id,
        );
    }
    made.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = app
            .services
            .list_tenants(2, after.as_deref())
            .await
            .unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.into_iter().map(|t| t.id));
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, made);
}

#[tokio::test]
async fn with_owner_budgets_off_a_suspension_holds_all_the_same() {
    let app = spawn_app_with(&[("KEYGATE_OWNER_BUDGETS", "off")]).await;
    let ada = credentials(&app).await;
    app.other_instance(&[("KEYGATE_OWNER_BUDGETS", "off")])
        .await
        .suspend_tenant(&app.tenant_id)
        .await
        .unwrap();
    assert_eq!(statuses(&app, &ada).await, all(401, 401));
    app.services.resume_tenant(&app.tenant_id).await.unwrap();
    assert_eq!(statuses(&app, &ada).await, all(200, 201));
}

#[tokio::test]
async fn a_tenant_with_live_keys_is_deleted_only_by_force_and_then_nothing_of_it_is_left() {
    let app = spawn_app_with(&[("KEYGATE_WEBHOOK_HOSTS", "hooks.test=203.0.113.10")]).await;
    let ada = credentials(&app).await;
    let chat = app.new_chat(&ada.key, json!({})).await;
    let said = app.say(&ada.key, &chat, "human", "hello").await;
    assert_eq!(said.status, StatusCode::CREATED, "{}", said.body);
    // A team with a service-account key, and a webhook endpoint: the tenant's too.
    let team = app
        .call(
            "POST",
            "/v1/teams",
            Some(&app.admin_key),
            Some(json!({"name": "ops"})),
        )
        .await;
    assert_eq!(team.status, StatusCode::CREATED, "{}", team.body);
    let team_id = team.body["id"].as_str().unwrap().to_owned();
    let team_key = app
        .call(
            "POST",
            &format!("/v1/teams/{team_id}/api-keys"),
            Some(&app.admin_key),
            Some(json!({"name": "svc", "scopes": ["chat"]})),
        )
        .await;
    assert_eq!(team_key.status, StatusCode::CREATED, "{}", team_key.body);
    let team_key = team_key.body["key"].as_str().unwrap().to_owned();
    let hook = app
        .call(
            "POST",
            "/v1/webhooks",
            Some(&app.admin_key),
            Some(json!({"url": "https://hooks.test/"})),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let other = app.other_tenant("grace@example.com").await;
    let operator = app.other_instance(&[]).await;
    // Its key policy is one more item of the tenant's, which the deletion removes too.
    let policy = app
        .call(
            "PUT",
            "/v1/tenant/policy",
            Some(&app.admin_key),
            Some(json!({"max_active_keys_per_user": 5})),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);

    let refused = operator
        .delete_tenant(&app.tenant_id, false)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("3 live keys"), "{refused}");
    let me = app.call("GET", "/v1/auth/me", Some(&ada.key), None).await;
    assert_eq!(me.status, StatusCode::OK, "a refusal changes nothing");

    let deleted = operator.delete_tenant(&app.tenant_id, true).await.unwrap();
    assert_eq!((deleted.live_keys, deleted.users_erased), (3, 2));
    assert_eq!(statuses(&app, &ada).await, all(401, 401));
    let service = app.call("GET", "/v1/auth/me", Some(&team_key), None).await;
    assert_eq!(service.status, StatusCode::UNAUTHORIZED, "{}", service.body);
    let admin = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert_eq!(admin.status, StatusCode::UNAUTHORIZED);
    let (listed, _) = operator.list_tenants(100, None).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [other.tenant_id.as_str()]);
    let theirs = app
        .call("GET", "/v1/auth/me", Some(&other.admin_key), None)
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    let mut texts = Vec::new();
    for item in app.scan_table().await {
        let pk = item["PK"].as_s().unwrap().clone();
        assert!(
            !pk.starts_with(&format!("TENANT#{}", app.tenant_id))
                && !pk.starts_with(&format!("USER#{}", app.tenant_id))
                && !pk.starts_with(&format!("TEAM#{}", app.tenant_id))
                && !item.contains_key("team_id")
                && pk != format!("CHAT#{chat}"),
            "{pk} is left"
        );
        item.values()
            .for_each(|v| keygate_tests::strings_in(v, &mut texts));
    }
    for email in [EMAIL, app.admin_email.as_str()] {
        assert!(!texts.iter().any(|t| t.contains(email)), "{email} is left");
    }
    let missing = operator
        .delete_tenant(&app.tenant_id, true)
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "tenant not found");

    // A tenant without live keys needs no force.
    let bare = app.other_tenant("hopper@example.com").await;
    let key_id = app.credential_id(&bare.admin_key).await;
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{key_id}"),
            Some(&bare.admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let gone = operator
        .delete_tenant(&bare.tenant_id, false)
        .await
        .unwrap();
    assert_eq!((gone.live_keys, gone.users_erased), (0, 1));
}
