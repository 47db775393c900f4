//! The tenant key policy (`GET|PUT /v1/tenant/policy`): set by a tenant admin, obeyed by
//! every key creation of the tenant on every surface (each refusal in its surface's shape),
//! binding a roll's successor's life, and never touching the keys that already exist.

use keygate::domain::audit::{Actor, AuditEvent, EventType, Origin, Target};
use keygate::domain::clock::{now_epoch, parse_rfc3339, to_rfc3339};
use keygate::domain::credential::new_ulid;
use keygate::domain::key_plan::{KeyContext, NewKeyInput, NewKeyPlan};
use keygate::domain::scope::{Scope, UserRole};
use keygate::domain::tenant_policy::TenantKeyPolicy;
use keygate::domain::user::User;
use keygate::store::api_keys::CreateKey;
use keygate_tests::{ALLOWED_ORIGIN, Reply, StatusCode, TestApp, session_cookie, spawn_app};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

async fn put_policy(app: &TestApp, credential: &str, body: Value) -> Reply {
    app.call("PUT", "/v1/tenant/policy", Some(credential), Some(body))
        .await
}

async fn set_policy(app: &TestApp, body: Value) -> Value {
    let reply = put_policy(app, &app.admin_key, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn in_days(days: i64) -> String {
    to_rfc3339(now_epoch() + days * DAY)
}

/// A problem+json answer of `status` whose detail names the policy's `rule`.
fn refused_by_policy(reply: &Reply, status: StatusCode, rule: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "{}",
        reply.body
    );
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("tenant key policy") && detail.contains(rule),
        "{detail}"
    );
}

#[tokio::test]
async fn a_tenant_admin_sets_and_reads_the_policy_and_each_change_is_audited() {
    let app = spawn_app().await;
    let none = app
        .call("GET", "/v1/tenant/policy", Some(&app.admin_key), None)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
    assert_eq!(none.headers["content-type"], "application/problem+json");

    let set = set_policy(
        &app,
        json!({
            "max_key_lifetime_days": 90,
            "max_active_keys_per_user": 5,
            "allowed_key_types": ["asker", "admin", "asker"],
            "allowed_scopes": ["read", "chat"],
        }),
    )
    .await;
    assert_eq!(
        set,
        json!({
            "tenant_id": app.tenant_id,
            "max_key_lifetime_days": 90,
            "max_active_keys_per_user": 5,
            "allowed_key_types": ["admin", "asker"],
            "allowed_scopes": ["chat", "read"],
            "revision": 1,
        })
    );
    let read = app
        .call("GET", "/v1/tenant/policy", Some(&app.admin_key), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, set);

    // Every field is optional: an empty policy is the defaults, at the next revision.
    let cleared = set_policy(&app, json!({})).await;
    assert_eq!(
        cleared,
        json!({
            "tenant_id": app.tenant_id,
            "max_key_lifetime_days": null,
            "max_active_keys_per_user": 10,
            "allowed_key_types": null,
            "allowed_scopes": null,
            "revision": 2,
        })
    );

    let events = app
        .audit(&app.admin_key, "type=tenant_policy.set")
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(events.len(), 2, "{events:?}");
    // Newest first: the clearing, from the first policy to the defaults.
    assert_eq!(events[0]["target"]["kind"], "tenant_policy");
    assert_eq!(events[0]["target"]["id"], app.tenant_id.as_str());
    assert_eq!(
        events[0]["change"]["policy"]["old"]["max_active_keys_per_user"],
        5
    );
    assert_eq!(
        events[0]["change"]["policy"]["new"]["allowed_scopes"],
        Value::Null
    );
    assert_eq!(events[1]["detail"]["revision"], 1);
}

#[tokio::test]
async fn bad_policies_are_400s_naming_the_field_and_unknown_fields_422s() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"max_key_lifetime_days": 0}), "max_key_lifetime_days"),
        (
            json!({"max_key_lifetime_days": 3651}),
            "max_key_lifetime_days",
        ),
        (
            json!({"max_active_keys_per_user": 0}),
            "max_active_keys_per_user",
        ),
        (
            json!({"max_active_keys_per_user": 101}),
            "max_active_keys_per_user",
        ),
        (json!({"allowed_key_types": []}), "allowed_key_types"),
        (
            json!({"allowed_key_types": ["admin", "owner"]}),
            "allowed_key_types[1]",
        ),
        (json!({"allowed_scopes": []}), "allowed_scopes"),
        (json!({"allowed_scopes": ["sudo"]}), "allowed_scopes[0]"),
    ] {
        let reply = put_policy(&app, &app.admin_key, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        assert_eq!(reply.body["field"], field, "{body}");
    }
    let unknown = put_policy(&app, &app.admin_key, json!({"max_keys": 3})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let wrong_type = put_policy(
        &app,
        &app.admin_key,
        json!({"max_active_keys_per_user": "five"}),
    )
    .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was written by any of them.
    let read = app
        .call("GET", "/v1/tenant/policy", Some(&app.admin_key), None)
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.body);
}

#[tokio::test]
async fn only_a_tenant_admin_s_admin_scoped_credential_reads_or_sets_its_own_tenant_s_policy() {
    let app = spawn_app().await;
    set_policy(&app, json!({"max_active_keys_per_user": 4})).await;
    let (_, member) = app
        .new_user_with_key(
            "member@example.com",
            json!({"name": "m", "scopes": ["chat", "read", "write", "admin"]}),
        )
        .await;
    let (_, narrow_admin) = app
        .new_key(
            &app.admin_key,
            json!({"name": "no admin scope", "scopes": ["chat", "read"]}),
        )
        .await;
    for credential in [&member, &narrow_admin] {
        let read = app
            .call("GET", "/v1/tenant/policy", Some(credential), None)
            .await;
        assert_eq!(read.status, StatusCode::FORBIDDEN, "{}", read.body);
        let set = put_policy(&app, credential, json!({})).await;
        assert_eq!(set.status, StatusCode::FORBIDDEN, "{}", set.body);
    }
    let anonymous = app.call("GET", "/v1/tenant/policy", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // Another tenant's admin sees only their own tenant's (none), and ours does not bind it.
    let other = app.other_tenant("other-admin@example.com").await;
    let theirs = app
        .call("GET", "/v1/tenant/policy", Some(&other.admin_key), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);
    set_policy(&app, json!({"allowed_key_types": ["asker"]})).await;
    let their_key = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&other.admin_key),
            Some(json!({"name": "admin type"})),
        )
        .await;
    assert_eq!(their_key.status, StatusCode::CREATED, "{}", their_key.body);
    let ours = app
        .call("GET", "/v1/tenant/policy", Some(&app.admin_key), None)
        .await;
    assert_eq!(ours.body["max_active_keys_per_user"], 10, "replaced whole");
    assert_eq!(ours.body["revision"], 2);
}

#[tokio::test]
async fn a_new_key_outside_the_policy_is_refused_naming_it_on_v1_and_for_another_user() {
    let app = spawn_app().await;
    set_policy(
        &app,
        json!({
            "max_key_lifetime_days": 30,
            "allowed_key_types": ["asker"],
            "allowed_scopes": ["chat", "read"],
        }),
    )
    .await;
    let create = |body: Value| app.call("POST", "/v1/api-keys", Some(&app.admin_key), Some(body));

    let forever = create(json!({"name": "forever", "type": "asker"})).await;
    refused_by_policy(&forever, StatusCode::BAD_REQUEST, "max_key_lifetime_days");
    assert_eq!(forever.body["field"], "expires_at");
    let too_long =
        create(json!({"name": "long", "type": "asker", "expires_at": in_days(31)})).await;
    refused_by_policy(&too_long, StatusCode::BAD_REQUEST, "max_key_lifetime_days");
    let admin_type = create(json!({"name": "admin", "expires_at": in_days(7)})).await;
    refused_by_policy(&admin_type, StatusCode::FORBIDDEN, "allowed_key_types");
    let writer = create(json!({
        "name": "writer", "type": "asker", "scopes": ["chat", "write"], "expires_at": in_days(7),
    }))
    .await;
    refused_by_policy(&writer, StatusCode::FORBIDDEN, "allowed_scopes");

    let within =
        create(json!({"name": "within", "type": "asker", "expires_at": in_days(30)})).await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    assert_eq!(within.body["scopes"], json!(["chat", "read"]));

    // A tenant admin making a key for another user: the same policy, the same answers.
    let user = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": "u@example.com"})),
        )
        .await;
    let path = format!("/v1/users/{}/api-keys", user.body["id"].as_str().unwrap());
    let for_user = app
        .call(
            "POST",
            &path,
            Some(&app.admin_key),
            Some(json!({"name": "first", "type": "asker"})),
        )
        .await;
    refused_by_policy(&for_user, StatusCode::BAD_REQUEST, "max_key_lifetime_days");
    let for_user = app
        .call(
            "POST",
            &path,
            Some(&app.admin_key),
            Some(json!({"name": "first", "type": "asker", "expires_at": in_days(1)})),
        )
        .await;
    assert_eq!(for_user.status, StatusCode::CREATED, "{}", for_user.body);
    // A refused creation wrote nothing: the two created keys are all there is.
    let keys = app
        .call(
            "GET",
            "/v1/api-keys?include_revoked=true",
            Some(&app.admin_key),
            None,
        )
        .await;
    let names: Vec<&str> = keys.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["within", "bootstrap"]);
}

#[tokio::test]
async fn max_active_keys_per_user_bounds_creation_and_resume_and_existing_keys_keep_working() {
    let app = spawn_app().await;
    let (a, key_a) = app.new_key(&app.admin_key, json!({"name": "a"})).await;
    let (_, key_b) = app.new_key(&app.admin_key, json!({"name": "b"})).await;
    // The bootstrap key, a and b: three active keys, one more than the policy will allow.
    set_policy(&app, json!({"max_active_keys_per_user": 2})).await;
    for key in [&app.admin_key, &key_a, &key_b] {
        let me = app.call("GET", "/v1/auth/me", Some(key), None).await;
        assert_eq!(me.status, StatusCode::OK, "an existing key keeps working");
    }
    let third = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "c"})),
        )
        .await;
    refused_by_policy(&third, StatusCode::CONFLICT, "max_active_keys_per_user");
    assert_eq!(third.body["type"], "urn:keygate:problem:limit-reached");

    // Pausing a frees a slot, but the user still holds two: no resume past the limit.
    let path = format!("/v1/api-keys/{a}");
    let paused = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    let resumed = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"is_active": true})),
        )
        .await;
    refused_by_policy(&resumed, StatusCode::CONFLICT, "max_active_keys_per_user");

    // A wider limit than the default ten holds too: up to 12 active keys.
    set_policy(&app, json!({"max_active_keys_per_user": 12})).await;
    let resumed = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    for index in 3..12 {
        app.new_key(&app.admin_key, json!({"name": format!("k{index}")}))
            .await;
    }
    let thirteenth = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "13"})),
        )
        .await;
    refused_by_policy(
        &thirteenth,
        StatusCode::CONFLICT,
        "max_active_keys_per_user",
    );
    assert!(thirteenth.body["detail"].as_str().unwrap().contains("12"));
}

#[tokio::test]
async fn a_narrower_policy_leaves_existing_keys_and_a_change_adds_only_allowed_scopes() {
    let app = spawn_app().await;
    let (id, wide) = app
        .new_key(
            &app.admin_key,
            json!({"name": "wide", "scopes": ["chat", "read", "admin"]}),
        )
        .await;
    set_policy(
        &app,
        json!({"max_key_lifetime_days": 30, "allowed_scopes": ["chat", "read"], "allowed_key_types": ["asker"]}),
    )
    .await;
    let me = app.call("GET", "/v1/auth/me", Some(&wide), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body["scopes"],
        json!(["chat", "read", "admin"]),
        "not clamped"
    );
    assert_eq!(me.body["exp"], Value::Null, "no expiry given to it");

    let path = format!("/v1/api-keys/{id}");
    // Narrowing may keep a scope the policy no longer allows ...
    let narrowed = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"scopes": ["chat", "admin"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    assert_eq!(narrowed.body["scopes"], json!(["chat", "admin"]));
    // ... and add back an allowed one, but never add one outside the policy.
    let widened = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"scopes": ["chat", "read", "admin", "write"]})),
        )
        .await;
    refused_by_policy(&widened, StatusCode::FORBIDDEN, "allowed_scopes");
    let read_back = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"scopes": ["chat", "read", "admin"]})),
        )
        .await;
    assert_eq!(read_back.status, StatusCode::OK, "{}", read_back.body);
}

#[tokio::test]
async fn a_rolled_key_s_successor_lives_no_longer_than_the_policy_allows() {
    let app = spawn_app().await;
    let (forever, _) = app
        .new_key(
            &app.admin_key,
            json!({"name": "forever", "scopes": ["chat", "admin"]}),
        )
        .await;
    let (soon, _) = app
        .new_key(
            &app.admin_key,
            json!({"name": "soon", "expires_at": in_days(2)}),
        )
        .await;
    set_policy(
        &app,
        json!({"max_key_lifetime_days": 30, "allowed_scopes": ["chat"]}),
    )
    .await;
    let before = now_epoch();
    let rolled = app
        .call(
            "POST",
            &format!("/v1/api-keys/{forever}/roll"),
            Some(&app.admin_key),
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    let expires = parse_rfc3339("expires_at", rolled.body["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        (before + 30 * DAY..=now_epoch() + 30 * DAY).contains(&expires),
        "clamped to 30 days from the roll: {}",
        rolled.body
    );
    // The successor is the same key's rights going on: its scopes are not clamped.
    assert_eq!(rolled.body["scopes"], json!(["chat", "admin"]));
    let successor = rolled.body["key"].as_str().unwrap();
    let me = app.call("GET", "/v1/auth/me", Some(successor), None).await;
    assert_eq!(me.status, StatusCode::OK);

    // An expiry already within the bound is inherited as it is.
    let soon_expiry = app.read_key(&app.admin_key, &soon).await.body["expires_at"].clone();
    let rolled_soon = app
        .call(
            "POST",
            &format!("/v1/api-keys/{soon}/roll"),
            Some(&app.admin_key),
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(
        rolled_soon.status,
        StatusCode::CREATED,
        "{}",
        rolled_soon.body
    );
    assert_eq!(rolled_soon.body["expires_at"], soon_expiry);
}

/// A signed-in member's session (the dashboard's and Assisters' credential).
async fn member_session(app: &TestApp) -> String {
    let password = "policy member password 1";
    app.new_user_with_password("member@example.com", password)
        .await;
    app.sign_in("member@example.com", password).await
}

#[tokio::test]
async fn every_surface_refuses_a_key_outside_the_policy_in_its_own_shape() {
    let app = spawn_app().await;
    let (_, narrow) = app
        .new_key(
            &app.admin_key,
            json!({"name": "narrow", "scopes": ["chat", "read"]}),
        )
        .await;
    // The bootstrap key holds every scope, `verify` and `usage` included, and the surfaces'
    // stand-in keys carry their caller's scopes: outside a policy that allows four.
    set_policy(
        &app,
        json!({"allowed_scopes": ["chat", "read", "write", "admin"], "max_key_lifetime_days": 30}),
    )
    .await;

    let sage = app
        .send(
            "POST",
            "/user/user-api-key",
            &[("x-access-tokens", app.admin_key.as_str())],
            Some(json!({"name": "sage"})),
        )
        .await;
    assert_eq!(sage.status, StatusCode::FORBIDDEN, "{}", sage.body);
    assert_eq!(sage.body["status"], 403);
    let message = sage.body["response"].as_str().unwrap();
    assert!(
        message.contains("tenant key policy") && message.contains("allowed_scopes"),
        "{message}"
    );

    let bearer = format!("Bearer {}", app.admin_key);
    let cogniac = app
        .send(
            "POST",
            &format!("/1/users/{}/apiKeys", app.admin_id),
            &[("authorization", bearer.as_str())],
            Some(json!({"description": "cogniac"})),
        )
        .await;
    assert_eq!(cogniac.status, StatusCode::FORBIDDEN, "{}", cogniac.body);
    assert!(
        cogniac.body["error"]
            .as_str()
            .unwrap()
            .contains("allowed_scopes"),
        "{}",
        cogniac.body
    );

    let vai = app
        .call(
            "POST",
            "/api/v1/access-tokens",
            Some(&app.admin_key),
            Some(json!({"name": "vai", "expiresInDays": 7})),
        )
        .await;
    assert_eq!(vai.status, StatusCode::FORBIDDEN, "{}", vai.body);
    assert!(
        vai.body["detail"]
            .as_str()
            .unwrap()
            .contains("allowed_scopes"),
        "{}",
        vai.body
    );
    // Its validation shape for the lifetime: a caller within the scopes, asking too long.
    let vai_long = app
        .call(
            "POST",
            "/api/v1/access-tokens",
            Some(&narrow),
            Some(json!({"name": "long", "expiresInDays": 31})),
        )
        .await;
    assert_eq!(
        vai_long.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        vai_long.body
    );
    assert_eq!(
        vai_long.body["detail"][0]["loc"],
        json!(["body", "expiresInDays"]),
        "{}",
        vai_long.body
    );
    assert!(
        vai_long.body["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("max_key_lifetime_days")
    );

    let session = member_session(&app).await;
    let cookie = session_cookie(&session);
    let dashboard = [("cookie", cookie.as_str()), ("origin", ALLOWED_ORIGIN)];
    let assisters = app
        .send(
            "POST",
            "/api/keys",
            &dashboard,
            Some(json!({"name": "assisters", "scopes": ["chat"]})),
        )
        .await;
    assert_eq!(
        assisters.status,
        StatusCode::BAD_REQUEST,
        "{}",
        assisters.body
    );
    assert!(
        assisters.body["error"]
            .as_str()
            .unwrap()
            .contains("max_key_lifetime_days"),
        "{}",
        assisters.body
    );
    // The dashboard creates through /v1 with its session: problem+json.
    let from_dashboard = app
        .send(
            "POST",
            "/v1/api-keys",
            &dashboard,
            Some(json!({"name": "dash", "scopes": ["chat"]})),
        )
        .await;
    refused_by_policy(
        &from_dashboard,
        StatusCode::BAD_REQUEST,
        "max_key_lifetime_days",
    );
    let allowed = app
        .send(
            "POST",
            "/api/keys",
            &dashboard,
            Some(json!({"name": "ok", "scopes": ["chat"], "expires_at": in_days(30)})),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.body);
}

/// An event for a store call made by the test itself.
fn test_event(tenant_id: &str, user_id: &str, target: &str) -> AuditEvent {
    let now = now_epoch();
    AuditEvent {
        id: new_ulid().to_string(),
        at: now,
        event_type: EventType::KeyCreated,
        tenant_id: tenant_id.to_owned(),
        subject_user_id: user_id.to_owned(),
        actor: Actor {
            kind: "system".into(),
            ..Actor::default()
        },
        target: Target {
            kind: "api_key",
            id: target.to_owned(),
        },
        origin: Origin::default(),
        change: Default::default(),
        detail: Default::default(),
        purge_at: now + 3600,
    }
}

#[tokio::test]
async fn a_policy_changed_after_it_was_read_stops_the_write_planned_under_it() {
    let app = spawn_app().await;
    let store = &app.services.store;
    set_policy(&app, json!({"max_active_keys_per_user": 5})).await;
    let stale = store
        .get_tenant_key_policy(&app.tenant_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale.revision, 1);
    set_policy(&app, json!({"max_active_keys_per_user": 6})).await;

    // A key planned under revision 1 is not written once revision 2 is stored ...
    let owner = User {
        tenant_id: app.tenant_id.clone(),
        id: app.admin_id.clone(),
        email: app.admin_email.clone(),
        name: None,
        role: UserRole::Admin,
        cac_verified: false,
        created_at: 0,
        deactivated_at: None,
    };
    let plan = NewKeyPlan::new(
        &NewKeyInput {
            name: Some("planned under an old policy".into()),
            ..NewKeyInput::default()
        },
        KeyContext {
            owner: &owner,
            granter: None,
            allowed_scopes: &Scope::ALL,
            default_ratelimits: Vec::new(),
            team_id: None,
            policy: &stale,
            now: now_epoch(),
        },
    )
    .ok()
    .unwrap();
    let event = test_event(&app.tenant_id, &app.admin_id, &plan.key.id);
    let stale_write = store
        .create_api_key(&plan.key, "not a hash", 10, &stale, &event, None)
        .await
        .unwrap();
    assert!(matches!(stale_write, CreateKey::PolicyChanged));
    assert!(store.get_api_key(&plan.key.id).await.unwrap().is_none());
    // ... and is under the revision read now.
    let current = store
        .get_tenant_key_policy(&app.tenant_id)
        .await
        .unwrap()
        .unwrap();
    let written = store
        .create_api_key(&plan.key, "not a hash", 10, &current, &event, None)
        .await
        .unwrap();
    assert!(matches!(written, CreateKey::Created));

    // A PUT that read revision 1 does not overwrite revision 2 (the service answers 409).
    let replaced = store
        .put_tenant_key_policy(
            &app.tenant_id,
            &TenantKeyPolicy {
                revision: 2,
                ..stale
            },
            1,
            now_epoch(),
            &test_event(&app.tenant_id, "", &app.tenant_id),
        )
        .await
        .unwrap();
    assert!(!replaced);
    let read = app
        .call("GET", "/v1/tenant/policy", Some(&app.admin_key), None)
        .await;
    assert_eq!(read.body["max_active_keys_per_user"], 6);
}

#[tokio::test]
async fn a_team_key_obeys_the_policy_and_keeps_the_team_s_own_key_limit() {
    let app = spawn_app().await;
    let team = app
        .call(
            "POST",
            "/v1/teams",
            Some(&app.admin_key),
            Some(json!({"name": "platform"})),
        )
        .await;
    assert_eq!(team.status, StatusCode::CREATED, "{}", team.body);
    let path = format!("/v1/teams/{}/api-keys", team.body["id"].as_str().unwrap());
    set_policy(
        &app,
        json!({"max_key_lifetime_days": 30, "allowed_scopes": ["chat", "read"], "max_active_keys_per_user": 1}),
    )
    .await;
    let create = |body: Value| app.call("POST", &path, Some(&app.admin_key), Some(body));
    let forever = create(json!({"name": "forever"})).await;
    refused_by_policy(&forever, StatusCode::BAD_REQUEST, "max_key_lifetime_days");
    let writer =
        create(json!({"name": "writer", "scopes": ["write"], "expires_at": in_days(5)})).await;
    refused_by_policy(&writer, StatusCode::FORBIDDEN, "allowed_scopes");
    // A team's keys count against the team's own limit, not a user's: two fit.
    for name in ["first", "second"] {
        let within = create(json!({"name": name, "expires_at": in_days(30)})).await;
        assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    }
}
