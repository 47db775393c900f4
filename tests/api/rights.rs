//! The invariant, once for every path: nothing derived from a credential carries more rights
//! or a longer life than the credential it came from, and what follows its parent (tokens)
//! can do no more than the parent can *now*, after the parent is narrowed, given an earlier
//! expiry, paused or revoked.
//!
//! Each row of `ROWS` is one way a credential or a right is derived. Each parent (four, to
//! keep the run short: every right, without and with an expiry; a partial scope set with an
//! expiry; an asker key with an expiry) derives through every row, and every row derives but
//! those the parent may not use at all, named per parent (so no row passes by refusing); the
//! derived rights are read back (`GET /v1/auth/me`) and compared with the parent's. Then the
//! parent is changed step by step, and every derived credential that follows it (tokens,
//! and keys created by the key or by a token acting as it) is checked again, and every row
//! derives again from the changed parent. Adding a path = adding one row. Under a tenant
//! key policy, every key a row creates lives within it too, and a narrower policy changes no
//! key already made (a row that creates a key is also listed in `KEY_CREATING_ROWS`).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::future::BoxFuture;
use keygate::domain::allowed_ips::AllowedIps;
use keygate::domain::clock::{now_epoch, to_rfc3339};
use keygate_tests::{ALLOWED_ORIGIN, Reply, StatusCode, TestApp, session_cookie, spawn_app_with};
use serde_json::{Value, json};

/// What a credential may do, as `GET /v1/auth/me` shows it.
#[derive(Debug, Clone, PartialEq)]
struct Rights {
    scopes: BTreeSet<String>,
    admin_type: bool,
    /// None: never expires.
    expires_at: Option<i64>,
    /// The models it may use; None: any.
    models: Option<BTreeSet<String>>,
    /// The source networks it may be used from; None: any address.
    networks: Option<Vec<String>>,
}

impl Rights {
    /// No scope, type, model, network or (when `bounded_life`) lifetime beyond `parent`'s.
    fn within(&self, parent: &Rights, bounded_life: bool) -> bool {
        let listed = |networks: &Option<Vec<String>>| {
            networks.as_ref().map_or_else(AllowedIps::any, |networks| {
                AllowedIps::stored(networks.iter())
            })
        };
        let networks_ok = listed(&self.networks).within(&listed(&parent.networks));
        let models_ok = match (&self.models, &parent.models) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(mine), Some(theirs)) => mine.is_subset(theirs),
        };
        let life_ok = match (self.expires_at, parent.expires_at) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(mine), Some(theirs)) => mine <= theirs,
        };
        self.scopes.is_subset(&parent.scopes)
            && (parent.admin_type || !self.admin_type)
            && models_ok
            && networks_ok
            && (!bounded_life || life_ok)
    }
}

/// What a row derived.
enum Derived {
    /// Refused (any client error): nothing was derived.
    Refused,
    /// A credential, presented to `GET /v1/auth/me` to read its rights.
    Credential(String),
    /// A right that is not a credential (a dataset grant), as the rights it needs.
    Right(Rights),
}

/// One parent: a tenant admin user with the key under test and an all-scope owner key that
/// changes the parent and sets up targets.
struct Parent {
    user_id: String,
    email: String,
    key_id: String,
    secret: String,
    owner: String,
    password: Mutex<Option<String>>,
    serial: AtomicU32,
    /// A paused all-scope key of the user, kept until a row resumes it.
    paused_target: Mutex<Option<(String, String)>>,
    /// A dataset of the user, for grants.
    dataset: Mutex<Option<String>>,
    /// The expiry (RFC 3339) of the targets the owner key makes, when a tenant key policy
    /// requires one.
    target_expiry: Mutex<Option<String>>,
}

impl Parent {
    fn next(&self) -> u32 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }
}

type Deriver = for<'a> fn(&'a TestApp, &'a Parent) -> BoxFuture<'a, Derived>;

struct Row {
    path: &'static str,
    derive: Deriver,
    /// The derived credential keeps following its parent (a token follows its key; a key
    /// created by a key follows it and that key's own creators).
    follows_parent: bool,
    /// Its life is bounded by the parent's key (tokens, keys created by a key, sessions).
    bounded_life: bool,
}

const ROWS: &[Row] = &[
    row(
        "POST /v1/api-keys (every scope, admin)",
        v1_create_key,
        true,
        true,
    ),
    row(
        "POST /v1/api-keys (defaults)",
        v1_create_default_key,
        true,
        true,
    ),
    row(
        "Ask Sage POST /user/user-api-key",
        asksage_create_key,
        true,
        true,
    ),
    row(
        "Cogniac POST /1/users/{id}/apiKeys",
        cogniac_create_key,
        true,
        true,
    ),
    row(
        "VirtuousAI POST /api/v1/access-tokens",
        vai_create_key,
        true,
        true,
    ),
    // Assisters takes the dashboard session only: a session stands for the user's password
    // (which only a full-rights, non-expiring key may set), so its keys have no parent key.
    row(
        "Assisters POST /api/keys (session)",
        assisters_create_key,
        false,
        true,
    ),
    row(
        "POST /v1/api-keys (defaults, allowed_ips 127.0.0.1/32)",
        v1_create_key_from_one_address,
        true,
        true,
    ),
    row(
        "PATCH /v1/api-keys widening scopes",
        v1_widen_key,
        false,
        false,
    ),
    row(
        "PATCH /v1/api-keys lifting allowed_ips",
        v1_lift_networks,
        false,
        false,
    ),
    row(
        "PATCH /v1/api-keys resuming a stronger key",
        v1_resume_key,
        false,
        false,
    ),
    row(
        "Assisters PATCH resuming a stronger key",
        assisters_resume_key,
        false,
        false,
    ),
    // The successor is made by the caller (its life bounded by the caller's key) and follows
    // what the rolled key followed, not the caller.
    row(
        "POST /v1/api-keys/{id}/roll of a stronger key",
        v1_roll_key,
        false,
        true,
    ),
    row("POST /v1/auth/token", v1_exchange, true, true),
    row(
        "Ask Sage get-token-with-api-key",
        asksage_exchange,
        true,
        true,
    ),
    row("Cogniac GET /1/token (Key)", cogniac_exchange, true, true),
    row(
        "POST /v1/auth/tokens (ak_role admin)",
        temp_admin_token,
        true,
        true,
    ),
    row(
        "POST /v1/auth/tokens from a temp token",
        temp_from_temp,
        true,
        true,
    ),
    row(
        "POST /v1/auth/tokens (allowed_ips 127.0.0.1/32), then from that token",
        temp_from_one_address,
        true,
        true,
    ),
    row(
        "POST /v1/auth/tokens from an exchanged token",
        temp_from_exchanged,
        true,
        true,
    ),
    row(
        "POST /v1/auth/tokens for an end user, then from that token",
        temp_for_end_user,
        true,
        true,
    ),
    row(
        "first password → POST /v1/sessions",
        first_password_session,
        false,
        true,
    ),
    row(
        "password change → POST /v1/sessions",
        changed_password_session,
        false,
        true,
    ),
    // A tenant admin's key creating another user's key is that key's parent: it follows it.
    row("POST /v1/users + its key", new_user_key, true, true),
    row(
        "POST /v1/users {password} → session",
        new_user_session,
        false,
        true,
    ),
    row(
        "PUT /v1/datasets/{name}/grants/{email}",
        dataset_grant,
        false,
        false,
    ),
    // A team key is bounded by its creator at creation but does not follow it: it must
    // outlive its creator (README, "Teams and service accounts").
    row(
        "POST /v1/teams/{id}/api-keys (team admin)",
        team_key,
        false,
        true,
    ),
];

const fn row(path: &'static str, derive: Deriver, follows: bool, life: bool) -> Row {
    Row {
        path,
        derive,
        follows_parent: follows,
        bounded_life: life,
    }
}

const ALL: [&str; 4] = ["chat", "read", "write", "admin"];

/// Rows that make or need a password or a session: a password signs in with every right for
/// ever, so only an all-scope, admin-type key without an expiry may set one (and only a
/// session, which such a password gives, acts on Assisters).
const PASSWORD_ROWS: [&str; 5] = [
    "Assisters POST /api/keys (session)",
    "Assisters PATCH resuming a stronger key",
    "first password → POST /v1/sessions",
    "password change → POST /v1/sessions",
    "POST /v1/users {password} → session",
];

/// Rows that need a right `read`+`write` lacks: every scope (or the default `chat`) for the
/// key asked for, a stronger key to widen, resume or roll, `admin` to manage users.
const NEEDS_MORE_THAN_READ_WRITE: [&str; 8] = [
    "POST /v1/api-keys (every scope, admin)",
    "POST /v1/teams/{id}/api-keys (team admin)",
    "POST /v1/api-keys (defaults)",
    "POST /v1/api-keys (defaults, allowed_ips 127.0.0.1/32)",
    "PATCH /v1/api-keys widening scopes",
    "PATCH /v1/api-keys resuming a stronger key",
    "POST /v1/api-keys/{id}/roll of a stronger key",
    "POST /v1/users + its key",
];

/// An asker key manages nothing (no key, user, grant or temp token): it may only be
/// exchanged for a token of its own rights.
const ASKER_DERIVES: [&str; 5] = [
    "POST /v1/auth/token",
    "POST /v1/auth/tokens (allowed_ips 127.0.0.1/32), then from that token",
    "POST /v1/auth/tokens for an end user, then from that token",
    "Ask Sage get-token-with-api-key",
    "Cogniac GET /1/token (Key)",
];

/// Rows that create a key, which the tenant's key policy binds (a roll's successor by its
/// life only: it goes on with the rolled key's rights; resuming or widening changes a key
/// that exists).
const KEY_CREATING_ROWS: [&str; 10] = [
    "POST /v1/api-keys (every scope, admin)",
    "POST /v1/api-keys (defaults)",
    "POST /v1/api-keys (defaults, allowed_ips 127.0.0.1/32)",
    "Ask Sage POST /user/user-api-key",
    "Cogniac POST /1/users/{id}/apiKeys",
    "VirtuousAI POST /api/v1/access-tokens",
    "Assisters POST /api/keys (session)",
    "POST /v1/api-keys/{id}/roll of a stronger key",
    "POST /v1/users + its key",
    "POST /v1/teams/{id}/api-keys (team admin)",
];

/// The rights of `credential` now; None when it is refused.
async fn rights(app: &TestApp, credential: &str) -> Option<Rights> {
    let reply = app.call("GET", "/v1/auth/me", Some(credential), None).await;
    if reply.status == StatusCode::UNAUTHORIZED {
        return None;
    }
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    Some(Rights {
        scopes: reply.body["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect(),
        admin_type: reply.body["ak_role"] == "admin",
        expires_at: reply.body["exp"].as_i64(),
        models: reply.body["models"].as_array().map(|models| {
            models
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect()
        }),
        networks: reply.body["allowed_ips"].as_array().map(|networks| {
            networks
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect()
        }),
    })
}

/// A derivation step's answer: Ok(body) on success, Err(Refused) on a client error.
fn ok(reply: Reply) -> Result<Value, Derived> {
    if reply.status.is_success() {
        Ok(reply.body)
    } else {
        assert!(
            reply.status.is_client_error(),
            "{}: {}",
            reply.status,
            reply.body
        );
        Err(Derived::Refused)
    }
}

fn secret_in(value: &Value) -> Derived {
    Derived::Credential(value.as_str().expect("a secret").to_owned())
}

fn v1_create_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let body = json!({"name": "derived", "scopes": ALL, "type": "admin"});
        match ok(app
            .call("POST", "/v1/api-keys", Some(&parent.secret), Some(body))
            .await)
        {
            Ok(created) => secret_in(&created["key"]),
            Err(refused) => refused,
        }
    })
}

fn v1_create_default_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let body = json!({"name": "derived"});
        match ok(app
            .call("POST", "/v1/api-keys", Some(&parent.secret), Some(body))
            .await)
        {
            Ok(created) => secret_in(&created["key"]),
            Err(refused) => refused,
        }
    })
}

fn asksage_create_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let headers = [("x-access-tokens", parent.secret.as_str())];
        let body = json!({"name": "derived"});
        match ok(app
            .send("POST", "/user/user-api-key", &headers, Some(body))
            .await)
        {
            Ok(created) => secret_in(&created["response"]["api_key"]),
            Err(refused) => refused,
        }
    })
}

fn cogniac_create_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let bearer = format!("Bearer {}", parent.secret);
        let path = format!("/1/users/{}/apiKeys", parent.user_id);
        let body = json!({"description": "derived"});
        match ok(app
            .send("POST", &path, &[("authorization", &bearer)], Some(body))
            .await)
        {
            Ok(created) => secret_in(&created["api_key"]),
            Err(refused) => refused,
        }
    })
}

fn vai_create_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let body = json!({"name": "derived"});
        match ok(app
            .call(
                "POST",
                "/api/v1/access-tokens",
                Some(&parent.secret),
                Some(body),
            )
            .await)
        {
            Ok(created) => secret_in(&created["plaintext"]),
            Err(refused) => refused,
        }
    })
}

/// Sets a fresh password with the parent (the first, or a change with the current one) and
/// signs in with it: the session, or None when the parent may not set a password.
async fn session_by_password(app: &TestApp, parent: &Parent) -> Option<String> {
    let fresh = format!("derived password {}", parent.next());
    let current = parent.password.lock().unwrap().clone();
    let mut body = json!({"new_password": fresh});
    if let Some(current) = current {
        body["old_password"] = json!(current);
    }
    let set = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&parent.secret),
            Some(body),
        )
        .await;
    ok(set).ok()?;
    *parent.password.lock().unwrap() = Some(fresh.clone());
    Some(app.sign_in(&parent.email, &fresh).await)
}

/// The headers of a dashboard request carrying `session` in its cookie.
fn dashboard(session: &str) -> [(&'static str, String); 2] {
    [
        ("cookie", session_cookie(session)),
        ("origin", ALLOWED_ORIGIN.to_owned()),
    ]
}

async fn dashboard_call(
    app: &TestApp,
    method: &str,
    path: &str,
    session: &str,
    body: Value,
) -> Reply {
    let headers = dashboard(session);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    app.send(method, path, &headers, Some(body)).await
}

fn assisters_create_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let Some(session) = session_by_password(app, parent).await else {
            return Derived::Refused;
        };
        let body = json!({"name": "derived", "scopes": ["chat", "read", "write"]});
        match ok(dashboard_call(app, "POST", "/api/keys", &session, body).await) {
            Ok(created) => secret_in(&created["key"]),
            Err(refused) => refused,
        }
    })
}

/// A key of the parent's user made by its owner key: (id, secret).
async fn owner_key(app: &TestApp, parent: &Parent, mut body: Value) -> (String, String) {
    // A target the parent may change at all: within the networks it may be used from.
    if let Some(networks) = rights(app, &parent.secret).await.and_then(|r| r.networks) {
        body["allowed_ips"] = json!(networks);
    }
    if let Some(at) = parent.target_expiry.lock().unwrap().clone() {
        body["expires_at"] = json!(at);
    }
    app.new_key(&parent.owner, body).await
}

fn v1_create_key_from_one_address<'a>(
    app: &'a TestApp,
    parent: &'a Parent,
) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        // The test client's own address: within every parent's list here.
        let body = json!({"name": "derived", "allowed_ips": ["127.0.0.1/32"]});
        match ok(app
            .call("POST", "/v1/api-keys", Some(&parent.secret), Some(body))
            .await)
        {
            Ok(created) => secret_in(&created["key"]),
            Err(refused) => refused,
        }
    })
}

fn v1_lift_networks<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        // A target the parent may change (its smallest scope, its type and models, within
        // its networks or from the test client alone), which the parent then tries to open
        // to every address.
        let Some(now) = rights(app, &parent.secret).await else {
            return Derived::Refused;
        };
        let smallest = now.scopes.iter().next().unwrap().clone();
        let key_type = if now.admin_type { "admin" } else { "asker" };
        let mut body = json!({"name": "target", "scopes": [smallest], "type": key_type,
            "allowed_ips": ["127.0.0.1/32"]});
        if let Some(models) = &now.models {
            body["models"] = json!(models);
        }
        if let Some(at) = parent.target_expiry.lock().unwrap().clone() {
            body["expires_at"] = json!(at);
        }
        let (id, target) = app.new_key(&parent.owner, body).await;
        let path = format!("/v1/api-keys/{id}");
        let lifted = app
            .call(
                "PATCH",
                &path,
                Some(&parent.secret),
                Some(json!({"allowed_ips": null})),
            )
            .await;
        match ok(lifted) {
            Ok(_) => Derived::Credential(target),
            Err(refused) => {
                app.call("DELETE", &path, Some(&parent.owner), None).await;
                refused
            }
        }
    })
}

fn v1_widen_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        // A target within the parent's rights, which the parent then tries to widen.
        let Some(now) = rights(app, &parent.secret).await else {
            return Derived::Refused;
        };
        let smallest = now.scopes.iter().next().unwrap().clone();
        let key_type = if now.admin_type { "admin" } else { "asker" };
        let (id, target) = owner_key(
            app,
            parent,
            json!({"name": "target", "scopes": [smallest], "type": key_type}),
        )
        .await;
        let path = format!("/v1/api-keys/{id}");
        let widened = app
            .call(
                "PATCH",
                &path,
                Some(&parent.secret),
                Some(json!({"scopes": ALL})),
            )
            .await;
        match ok(widened) {
            Ok(_) => Derived::Credential(target),
            Err(refused) => {
                app.call("DELETE", &path, Some(&parent.owner), None).await;
                refused
            }
        }
    })
}

fn v1_roll_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let name = format!("rolled {}", parent.next());
        let (id, _) = owner_key(app, parent, json!({"name": name, "scopes": ALL})).await;
        let path = format!("/v1/api-keys/{id}");
        let rolled = app
            .call(
                "POST",
                &format!("{path}/roll"),
                Some(&parent.secret),
                Some(json!({"grace_secs": 0})),
            )
            .await;
        match ok(rolled) {
            Ok(successor) => secret_in(&successor["key"]),
            Err(refused) => {
                app.call("DELETE", &path, Some(&parent.owner), None).await;
                refused
            }
        }
    })
}

/// A paused all-scope admin key of the parent's user: (id, secret), made once and kept
/// until a row resumes it.
async fn paused_strong_key(app: &TestApp, parent: &Parent) -> (String, String) {
    if let Some(target) = parent.paused_target.lock().unwrap().clone() {
        return target;
    }
    let (id, secret) = owner_key(app, parent, json!({"name": "strong", "scopes": ALL})).await;
    let paused = app
        .call(
            "PATCH",
            &format!("/v1/api-keys/{id}"),
            Some(&parent.owner),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    *parent.paused_target.lock().unwrap() = Some((id.clone(), secret.clone()));
    (id, secret)
}

/// The target was resumed: it is now a derived key, and the next row needs a new one.
fn resumed(parent: &Parent, target: String) -> Derived {
    parent.paused_target.lock().unwrap().take();
    Derived::Credential(target)
}

fn v1_resume_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let (id, target) = paused_strong_key(app, parent).await;
        let path = format!("/v1/api-keys/{id}");
        let answer = app
            .call(
                "PATCH",
                &path,
                Some(&parent.secret),
                Some(json!({"is_active": true})),
            )
            .await;
        match ok(answer) {
            Ok(_) => resumed(parent, target),
            Err(refused) => refused,
        }
    })
}

fn assisters_resume_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let (id, target) = paused_strong_key(app, parent).await;
        let Some(session) = session_by_password(app, parent).await else {
            return Derived::Refused;
        };
        let path = format!("/api/keys/{id}");
        match ok(dashboard_call(app, "PATCH", &path, &session, json!({"is_active": true})).await) {
            Ok(_) => resumed(parent, target),
            Err(refused) => refused,
        }
    })
}

async fn exchange_v1(app: &TestApp, parent: &Parent) -> Result<String, Derived> {
    let body = json!({"email": parent.email, "api_key": parent.secret});
    let exchanged = ok(app.call("POST", "/v1/auth/token", None, Some(body)).await)?;
    Ok(exchanged["access_token"].as_str().unwrap().to_owned())
}

fn v1_exchange<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        exchange_v1(app, parent)
            .await
            .map_or_else(|r| r, Derived::Credential)
    })
}

fn asksage_exchange<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let body = json!({"email": parent.email, "api_key": parent.secret});
        match ok(app
            .send("POST", "/user/get-token-with-api-key", &[], Some(body))
            .await)
        {
            Ok(answer) => secret_in(&answer["response"]["access_token"]),
            Err(refused) => refused,
        }
    })
}

fn cogniac_exchange<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let key = format!("Key {}", parent.secret);
        match ok(app
            .send("GET", "/1/token", &[("authorization", &key)], None)
            .await)
        {
            Ok(answer) => secret_in(&answer["access_token"]),
            Err(refused) => refused,
        }
    })
}

async fn temp_from(app: &TestApp, credential: &str, body: Value) -> Result<String, Derived> {
    let minted = ok(app
        .call("POST", "/v1/auth/tokens", Some(credential), Some(body))
        .await)?;
    Ok(minted["token"].as_str().unwrap().to_owned())
}

fn temp_admin_token<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        temp_from(
            app,
            &parent.secret,
            json!({"ak_role": "admin", "token_ttl": 86400}),
        )
        .await
        .map_or_else(|r| r, Derived::Credential)
    })
}

fn temp_from_one_address<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        // The test client's own address, within every parent's list here; the second token
        // names none and keeps the first's.
        let body = json!({"token_ttl": 600, "allowed_ips": ["127.0.0.1/32"]});
        let first = match temp_from(app, &parent.secret, body).await {
            Ok(token) => token,
            Err(refused) => return refused,
        };
        temp_from(app, &first, json!({"token_ttl": 600}))
            .await
            .map_or_else(|r| r, Derived::Credential)
    })
}

fn temp_from_temp<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let first = match temp_from(app, &parent.secret, json!({"token_ttl": 600})).await {
            Ok(token) => token,
            Err(refused) => return refused,
        };
        temp_from(app, &first, json!({"ak_role": "admin", "token_ttl": 86400}))
            .await
            .map_or_else(|r| r, Derived::Credential)
    })
}

fn temp_for_end_user<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let body = json!({"end_user": "customer-7@example.com", "token_ttl": 600});
        let first = match temp_from(app, &parent.secret, body).await {
            Ok(token) => token,
            Err(refused) => return refused,
        };
        temp_from(app, &first, json!({"token_ttl": 86400}))
            .await
            .map_or_else(|r| r, Derived::Credential)
    })
}

fn temp_from_exchanged<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let exchanged = match exchange_v1(app, parent).await {
            Ok(token) => token,
            Err(refused) => return refused,
        };
        temp_from(
            app,
            &exchanged,
            json!({"ak_role": "admin", "token_ttl": 86400}),
        )
        .await
        .map_or_else(|r| r, Derived::Credential)
    })
}

fn first_password_session<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        if parent.password.lock().unwrap().is_some() {
            // Only the first derivation sets a first password; later ones are changes.
            return changed_password_session(app, parent).await;
        }
        session_by_password(app, parent)
            .await
            .map_or(Derived::Refused, Derived::Credential)
    })
}

fn changed_password_session<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        session_by_password(app, parent)
            .await
            .map_or(Derived::Refused, Derived::Credential)
    })
}

async fn new_user(
    app: &TestApp,
    parent: &Parent,
    extra: Value,
) -> Result<(String, String), Derived> {
    let email = format!(
        "made-{}-{}@example.com",
        parent.user_id.to_lowercase(),
        parent.next()
    );
    let mut body = json!({"email": email, "role": "admin"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let created = ok(app
        .call("POST", "/v1/users", Some(&parent.secret), Some(body))
        .await)?;
    Ok((created["id"].as_str().unwrap().to_owned(), email))
}

fn new_user_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let (user_id, _) = match new_user(app, parent, json!({})).await {
            Ok(user) => user,
            Err(refused) => return refused,
        };
        let body = json!({"name": "derived", "scopes": ALL, "type": "admin"});
        let path = format!("/v1/users/{user_id}/api-keys");
        match ok(app
            .call("POST", &path, Some(&parent.secret), Some(body))
            .await)
        {
            Ok(created) => secret_in(&created["key"]),
            Err(refused) => refused,
        }
    })
}

/// A team made by the owner with the parent's user as its admin (a team each time: a team
/// holds at most ten keys), then a team key asking for every right by the parent's key.
fn team_key<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let name = format!("team {}", parent.next());
        let team = app
            .call(
                "POST",
                "/v1/teams",
                Some(&parent.owner),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(team.status, StatusCode::CREATED, "{}", team.body);
        let team_id = team.body["id"].as_str().unwrap().to_owned();
        let member = app
            .call(
                "PUT",
                &format!("/v1/teams/{team_id}/members/{}", parent.user_id),
                Some(&parent.owner),
                Some(json!({"role": "admin"})),
            )
            .await;
        assert_eq!(member.status, StatusCode::CREATED, "{}", member.body);
        let body = json!({"name": "derived", "scopes": ALL, "type": "admin"});
        match ok(app
            .call(
                "POST",
                &format!("/v1/teams/{team_id}/api-keys"),
                Some(&parent.secret),
                Some(body),
            )
            .await)
        {
            Ok(created) => secret_in(&created["key"]),
            Err(refused) => refused,
        }
    })
}

fn new_user_session<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let password = "a new user's password";
        match new_user(app, parent, json!({"password": password})).await {
            Ok((_, email)) => Derived::Credential(app.sign_in(&email, password).await),
            Err(refused) => refused,
        }
    })
}

fn dataset_grant<'a>(app: &'a TestApp, parent: &'a Parent) -> BoxFuture<'a, Derived> {
    Box::pin(async move {
        let known = parent.dataset.lock().unwrap().clone();
        let full_name = match known {
            Some(full_name) => full_name,
            None => {
                let body = json!({"name": "derived"});
                let made = app
                    .call("POST", "/v1/datasets", Some(&parent.owner), Some(body))
                    .await;
                let full_name = ok(made).ok().unwrap()["full_name"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                *parent.dataset.lock().unwrap() = Some(full_name.clone());
                full_name
            }
        };
        let path = format!("/v1/datasets/{full_name}/grants/{}", app.admin_email);
        let granted = app
            .call(
                "PUT",
                &path,
                Some(&parent.secret),
                Some(json!({"permission": "admin"})),
            )
            .await;
        match ok(granted) {
            // Granting write or admin on a dataset is a write; it needs a full credential.
            Ok(_) => Derived::Right(Rights {
                scopes: BTreeSet::from(["write".to_owned()]),
                admin_type: true,
                expires_at: None,
                // A grant carries no model, and is used through the grantee's own
                // credentials, from wherever they may be used.
                models: Some(BTreeSet::new()),
                networks: Some(Vec::new()),
            }),
            Err(refused) => refused,
        }
    })
}

/// What a row derived, as rights (None: refused or unusable).
async fn derived_rights(app: &TestApp, derived: &Derived) -> Option<Rights> {
    match derived {
        Derived::Refused => None,
        Derived::Credential(secret) => rights(app, secret).await,
        Derived::Right(rights) => Some(rights.clone()),
    }
}

/// Derives through every row and checks each result against the parent's rights now;
/// returns the derived credentials that follow their parent, and the rows that derived
/// anything at all.
/// Keys derived after the first stage are revoked once checked (each holds one of the
/// user's ten slots); tokens are always kept.
async fn derive_all(
    app: &TestApp,
    parent: &Parent,
    stage: &str,
    keep_keys: bool,
) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
    let now = rights(app, &parent.secret).await;
    let mut following = Vec::new();
    let mut derived_by = Vec::new();
    for row in ROWS {
        let derived = (row.derive)(app, parent).await;
        let got = derived_rights(app, &derived).await;
        if got.is_some() {
            derived_by.push(row.path);
        }
        match (&got, &now) {
            (None, _) => {}
            (Some(got), None) => panic!(
                "{stage}: {} derived {got:?} from an unusable parent",
                row.path
            ),
            (Some(got), Some(now)) => assert!(
                got.within(now, row.bounded_life),
                "{stage}: {} derived {got:?} from {now:?}",
                row.path
            ),
        }
        if let Derived::Credential(secret) = derived {
            if row.follows_parent && (keep_keys || key_id_of(&secret).is_none()) {
                following.push((row.path, secret));
            } else if let Some(id) = key_id_of(&secret) {
                // Free the user's key slot (a no-op for another user's key).
                app.call(
                    "DELETE",
                    &format!("/v1/api-keys/{id}"),
                    Some(&parent.owner),
                    None,
                )
                .await;
            }
        }
    }
    (following, derived_by)
}

/// The key id inside an API key secret (also in Cogniac's `KEYID:SECRET` form).
fn key_id_of(secret: &str) -> Option<&str> {
    let secret = secret.rsplit(':').next()?;
    secret.strip_prefix("kg_").map(|rest| &rest[..26])
}

/// Every credential still following the parent may do no more than the parent now.
async fn check_following(
    app: &TestApp,
    parent: &Parent,
    following: &[(&str, String)],
    stage: &str,
) {
    let now = rights(app, &parent.secret).await;
    for (path, secret) in following {
        match (rights(app, secret).await, &now) {
            (None, _) => {}
            (Some(got), None) => panic!("{stage}: {path} still has {got:?}; its parent has none"),
            (Some(got), Some(now)) => {
                assert!(
                    got.within(now, true),
                    "{stage}: {path} has {got:?}, parent {now:?}"
                )
            }
        }
    }
}

/// The app every table runs against.
async fn rights_app() -> TestApp {
    spawn_app_with(&[
        // Passwords are hashed many times here; the cost is not what is tested.
        ("KEYGATE_PASSWORD_MEMORY_KIB", "64"),
        ("KEYGATE_PASSWORD_ITERATIONS", "1"),
    ])
    .await
}

/// A tenant admin user with an all-scope owner key and the parent key `body` describes, both
/// made by the bootstrap admin's key.
async fn new_parent(app: &TestApp, body: Value) -> Parent {
    let email = "parent@example.com";
    let created = app
        .call(
            "POST",
            "/v1/users",
            Some(&app.admin_key),
            Some(json!({"email": email, "role": "admin"})),
        )
        .await;
    let user_id = created.body["id"].as_str().unwrap().to_owned();
    let make_key = |body: Value| {
        let user_id = &user_id;
        async move {
            let reply = app
                .call(
                    "POST",
                    &format!("/v1/users/{user_id}/api-keys"),
                    Some(&app.admin_key),
                    Some(body),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            (
                reply.body["id"].as_str().unwrap().to_owned(),
                reply.body["key"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (_, owner) = make_key(json!({"name": "owner", "scopes": ALL})).await;
    let (key_id, secret) = make_key(body).await;
    Parent {
        user_id,
        email: email.to_owned(),
        key_id,
        secret,
        owner,
        password: Mutex::new(None),
        serial: AtomicU32::new(0),
        paused_target: Mutex::new(None),
        dataset: Mutex::new(None),
        target_expiry: Mutex::new(None),
    }
}

/// The parent key a table runs for.
struct ParentKey<'a> {
    scopes: &'a [&'a str],
    key_type: &'a str,
    expires: bool,
    /// The models it may use (None: any).
    models: Option<&'a [&'a str]>,
    /// The networks it may be used from (None: any address).
    networks: Option<&'a [&'a str]>,
}

impl<'a> ParentKey<'a> {
    const fn new(scopes: &'a [&'a str], key_type: &'a str, expires: bool) -> Self {
        Self {
            scopes,
            key_type,
            expires,
            models: None,
            networks: None,
        }
    }
}

/// Runs the whole table for one parent key.
/// `refused`: the rows that must refuse this parent as created (every other row derives).
async fn invariant_holds_for(key: ParentKey<'_>, refused: &[&str]) {
    let ParentKey {
        scopes,
        key_type,
        expires,
        models,
        networks,
    } = key;
    let app = rights_app().await;
    let mut body = json!({"name": "parent", "scopes": scopes, "type": key_type});
    if expires {
        body["expires_at"] = json!(to_rfc3339(now_epoch() + 30 * 24 * 3600));
    }
    if let Some(models) = models {
        body["models"] = json!(models);
    }
    if let Some(networks) = networks {
        body["allowed_ips"] = json!(networks);
    }
    let parent = new_parent(&app, body).await;
    let parent_path = format!("/v1/api-keys/{}", parent.key_id);
    let change = |body: Value| {
        let (app, path, owner) = (&app, &parent_path, &parent.owner);
        async move {
            let reply = app.call("PATCH", path, Some(owner), Some(body)).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    };

    let (mut following, derived_by) = derive_all(&app, &parent, "as created", true).await;
    // No row passes by refusing: every row derives, but those this parent may not use at
    // all (named, with the rule that refuses them), so that the within-rights and
    // life-bound checks above ran for every other row.
    let expected: Vec<&str> = ROWS
        .iter()
        .map(|row| row.path)
        .filter(|path| !refused.contains(path))
        .collect();
    assert_eq!(
        derived_by, expected,
        "rows deriving from the parent as created"
    );

    // Narrowed (to its smallest scope and first model) and given an earlier expiry.
    let mut narrowed = json!({
        "scopes": [scopes.iter().min_by_key(|s| ALL.iter().position(|a| a == *s)).unwrap()],
        "expires_at": to_rfc3339(now_epoch() + 2 * 3600),
    });
    if let Some(models) = models {
        narrowed["models"] = json!(models[..1]);
    }
    if networks.is_some() {
        // The test client's address alone: the derived credentials still work from it.
        narrowed["allowed_ips"] = json!(["127.0.0.1/32"]);
    }
    change(narrowed).await;
    check_following(&app, &parent, &following, "narrowed").await;
    following.extend(derive_all(&app, &parent, "narrowed", false).await.0);

    change(json!({"is_active": false})).await;
    check_following(&app, &parent, &following, "paused").await;
    change(json!({"is_active": true})).await;

    // Expired: an expiry a few seconds ahead (the change must still land before it on a loaded
    // machine), then wait until it has passed.
    let at = now_epoch() + 5;
    change(json!({"expires_at": to_rfc3339(at)})).await;
    while now_epoch() <= at {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    check_following(&app, &parent, &following, "expired").await;
    derive_all(&app, &parent, "expired", false).await;

    let revoked = app
        .call("DELETE", &parent_path, Some(&parent.owner), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    check_following(&app, &parent, &following, "revoked").await;
    derive_all(&app, &parent, "revoked", false).await;
}

#[tokio::test]
async fn every_scope_admin_key_without_expiry() {
    invariant_holds_for(ParentKey::new(&ALL, "admin", false), &[]).await;
}

#[tokio::test]
async fn every_scope_admin_key_with_expiry() {
    invariant_holds_for(ParentKey::new(&ALL, "admin", true), &PASSWORD_ROWS).await;
}

#[tokio::test]
async fn read_write_admin_key_with_expiry_and_two_models() {
    let refused = [&PASSWORD_ROWS[..], &NEEDS_MORE_THAN_READ_WRITE[..]].concat();
    // Limited to two models too: every derived credential may use only those (a password,
    // which signs in with every model, is refused to it anyway as to any expiring key).
    let key = ParentKey {
        models: Some(&["model-a", "model-b"]),
        ..ParentKey::new(&["read", "write"], "admin", true)
    };
    invariant_holds_for(key, &refused).await;
}

#[tokio::test]
async fn every_scope_admin_key_from_two_networks() {
    // Held to some networks: a password (which signs in from anywhere) is refused to it, and
    // so is opening a key to every address; every credential it derives is held to its
    // networks (by its own list or by the chain), and follows them as they narrow.
    let refused = [
        &PASSWORD_ROWS[..],
        &["PATCH /v1/api-keys lifting allowed_ips"][..],
    ]
    .concat();
    let key = ParentKey {
        networks: Some(&["127.0.0.0/8", "2001:db8::/32"]),
        ..ParentKey::new(&ALL, "admin", false)
    };
    invariant_holds_for(key, &refused).await;
}

#[tokio::test]
async fn every_scope_asker_key_with_expiry() {
    let refused: Vec<&str> = ROWS
        .iter()
        .map(|row| row.path)
        .filter(|path| !ASKER_DERIVES.contains(path))
        .collect();
    invariant_holds_for(ParentKey::new(&ALL, "asker", true), &refused).await;
}

/// Derives through every row under a tenant key policy of `days`' lifetime: each derived
/// credential is within the parent, and each key a row creates expires within the policy.
/// Returns those keys with their rights, and the rows that derived anything.
async fn derive_under_policy(
    app: &TestApp,
    parent: &Parent,
    days: i64,
) -> (Vec<(&'static str, String, Rights)>, Vec<&'static str>) {
    let now = rights(app, &parent.secret).await.expect("a usable parent");
    let mut keys = Vec::new();
    let mut derived_by = Vec::new();
    for row in ROWS {
        let derived = (row.derive)(app, parent).await;
        let Some(got) = derived_rights(app, &derived).await else {
            continue;
        };
        derived_by.push(row.path);
        assert!(
            got.within(&now, row.bounded_life),
            "{}: {got:?} from {now:?}",
            row.path
        );
        if let (true, Derived::Credential(secret)) =
            (KEY_CREATING_ROWS.contains(&row.path), derived)
        {
            let latest = now_epoch() + days * 24 * 3600;
            assert!(
                got.expires_at.is_some_and(|at| at <= latest),
                "{}: {got:?} outlives the policy's {days} days",
                row.path
            );
            keys.push((row.path, secret, got));
        }
    }
    (keys, derived_by)
}

#[tokio::test]
async fn every_key_a_row_creates_lives_within_the_tenant_key_policy_which_widens_none() {
    let app = rights_app().await;
    let day = 24 * 3600;
    let parent = new_parent(
        &app,
        json!({"name": "parent", "scopes": ALL, "type": "admin",
               "expires_at": to_rfc3339(now_epoch() + 20 * day)}),
    )
    .await;
    *parent.target_expiry.lock().unwrap() = Some(to_rfc3339(now_epoch() + day / 2));
    let set_policy = |days: i64| {
        let app = &app;
        async move {
            let reply = app
                .call(
                    "PUT",
                    "/v1/tenant/policy",
                    Some(&app.admin_key),
                    Some(json!({"max_key_lifetime_days": days, "max_active_keys_per_user": 50})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    };
    // 25 days: the parent's own 20 bound every key it creates, so all derive within it.
    set_policy(25).await;
    let (keys, derived_by) = derive_under_policy(&app, &parent, 25).await;
    let expected: Vec<&str> = ROWS
        .iter()
        .map(|row| row.path)
        .filter(|path| !PASSWORD_ROWS.contains(path))
        .collect();
    assert_eq!(derived_by, expected, "rows deriving under 25 days");

    // One day: every creation that would inherit the parent's 20 days is refused; the roll
    // (of a target that ends sooner), resumes, widenings, tokens and grants still derive.
    set_policy(1).await;
    for (path, secret, before) in &keys {
        assert_eq!(
            rights(&app, secret).await.as_ref(),
            Some(before),
            "{path}: a new policy changes no key that exists"
        );
    }
    let (_, derived_by) = derive_under_policy(&app, &parent, 1).await;
    let expected: Vec<&str> = ROWS
        .iter()
        .map(|row| row.path)
        .filter(|path| !PASSWORD_ROWS.contains(path))
        .filter(|path| {
            !KEY_CREATING_ROWS.contains(path)
                || *path == "POST /v1/api-keys/{id}/roll of a stronger key"
        })
        .collect();
    assert_eq!(derived_by, expected, "rows deriving under one day");
}

/// Four metered requests by each credential, all at once; how many were admitted (every
/// other answer must be a 429: nothing failed).
async fn spend_together(app: &TestApp, spenders: &[String]) -> usize {
    let replies = futures::future::join_all(
        spenders
            .iter()
            .flat_map(|secret| std::iter::repeat_n(secret, 4))
            .map(|secret| app.call("GET", crate::metering::METERED, Some(secret), None)),
    )
    .await;
    assert!(
        replies
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::TOO_MANY_REQUESTS),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.to_string()))
            .collect::<Vec<_>>()
    );
    replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count()
}

/// Budgets only narrow in aggregate: a metered parent and everything derived from it through
/// every row whose credential follows the parent, spending all at once, admit no more than the
/// parent's own limit and balance together.
#[tokio::test]
async fn what_every_following_row_derives_spends_within_the_parents_budget() {
    let app = rights_app().await;
    crate::metering::clear_of_boundary(86_400, 600);
    let limit = 12;
    let parent = new_parent(
        &app,
        json!({"name": "metered parent", "scopes": ALL, "type": "admin",
               "ratelimits": [{"name": "requests", "limit": limit, "window_secs": 86_400}]}),
    )
    .await;
    let mut spenders = vec![parent.secret.clone()];
    let mut derived_by = Vec::new();
    for row in ROWS.iter().filter(|row| row.follows_parent) {
        if let Derived::Credential(secret) = (row.derive)(&app, &parent).await {
            spenders.push(secret);
            derived_by.push(row.path);
        }
    }
    // The rows that derive a spending credential from a metered parent (keys on every
    // surface carry its limits; tokens follow it): none of them may pass by refusing.
    assert!(derived_by.len() >= 8, "derived only through {derived_by:?}");
    let admitted = spend_together(&app, &spenders).await;
    assert_eq!(
        admitted,
        limit,
        "{} credentials ({derived_by:?}) together",
        spenders.len()
    );
}

/// A user's budget bounds the user's credentials in aggregate: whatever every row derives
/// that is still the user's (keys on every surface, tokens, sessions), spending all at once
/// with the user's own keys, admits no more than the user budget's limit. The parent key is
/// unmetered, so only the user's budget can hold them.
#[tokio::test]
async fn what_every_row_derives_for_the_user_spends_within_the_users_budget() {
    let app = rights_app().await;
    crate::metering::clear_of_boundary(86_400, 600);
    let limit = 12;
    let parent = new_parent(
        &app,
        json!({"name": "unmetered parent", "scopes": ALL, "type": "admin"}),
    )
    .await;
    let set = app
        .call(
            "PUT",
            &format!("/v1/users/{}/budget", parent.user_id),
            Some(&app.admin_key),
            Some(json!({"ratelimits": [{"name": "requests", "limit": limit, "window_secs": 86_400}]})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let mut spenders = vec![parent.secret.clone(), parent.owner.clone()];
    let mut derived_by = Vec::new();
    // The rows following the parent (as in the test above: the others would fill the user's
    // ten key slots), and of those what is still the user's.
    for row in ROWS.iter().filter(|row| row.follows_parent) {
        if let Derived::Credential(secret) = (row.derive)(&app, &parent).await {
            let me = app.call("GET", "/v1/auth/me", Some(&secret), None).await;
            if me.body["user_id"] == parent.user_id.as_str() {
                spenders.push(secret);
                derived_by.push(row.path);
            }
        }
    }
    assert!(derived_by.len() >= 8, "derived only through {derived_by:?}");
    let admitted = spend_together(&app, &spenders).await;
    assert_eq!(
        admitted,
        limit,
        "{} credentials of the user ({derived_by:?}) together",
        spenders.len()
    );
}
