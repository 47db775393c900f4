use keygate_tests::{
    ALLOWED_ORIGIN, StatusCode, session_cookie, spawn_app, spawn_app_with, strings_in,
};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn sign_in_sets_a_safe_cookie_records_a_login_and_authenticates() {
    let app = spawn_app().await;
    let user_id = app
        .new_user_with_password("Ada@Example.com", PASSWORD)
        .await;
    let reply = app
        .send(
            "POST",
            "/v1/sessions",
            &[("user-agent", "browser/1")],
            Some(json!({"email": "ada@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let session = reply.body["session"].as_str().unwrap();
    assert!(session.starts_with("kgs_"));
    assert_eq!(reply.body["expires_in"], 12 * 3600);
    assert_eq!(reply.body["user"]["id"], user_id.as_str());
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with(&format!("keygate_session={session};")));
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }

    let by_cookie = app
        .send(
            "GET",
            "/v1/auth/me",
            &[("cookie", &session_cookie(session))],
            None,
        )
        .await;
    assert_eq!(by_cookie.status, StatusCode::OK, "{}", by_cookie.body);
    assert_eq!(by_cookie.body["credential_kind"], "session");
    assert_eq!(by_cookie.body["user_id"], user_id.as_str());
    let bearer = format!("Bearer {session}");
    let by_header = app
        .send("GET", "/v1/auth/me", &[("authorization", &bearer)], None)
        .await;
    assert_eq!(by_header.status, StatusCode::OK);

    let logins = app
        .services
        .store
        .list_logins(&app.tenant_id, &user_id, 5)
        .await
        .unwrap();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].method, "password");
    assert_eq!(logins[0].user_agent, "browser/1");

    // The session item carries the TTL attribute, and the password is only a PHC hash.
    let items = app.scan_table().await;
    let session_item = items
        .iter()
        .find(|i| {
            i.get("kind")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("session")
        })
        .expect("a session item");
    assert!(session_item.contains_key("purge_at"));
    let mut strings = Vec::new();
    items
        .iter()
        .flat_map(|item| item.values())
        .for_each(|v| strings_in(v, &mut strings));
    assert!(
        !strings
            .iter()
            .any(|s| s.contains(PASSWORD) || s.contains(session))
    );
    assert!(
        strings
            .iter()
            .any(|s| s.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"))
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_answer_alike() {
    let app = spawn_app().await;
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let attempt = |email: &'static str, password: &'static str| {
        app.call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": email, "password": password})),
        )
    };
    let wrong = attempt("ada@example.com", "not the password").await;
    let unknown = attempt("nobody@example.com", PASSWORD).await;
    let no_password = attempt("admin@example.com", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, no_password.body);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.headers.get("set-cookie").is_none());
    let missing = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["field"], "password");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_not_others() {
    let app = spawn_app().await;
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    app.new_user_with_password("bob@example.com", PASSWORD)
        .await;
    let attempt = |email: &'static str, password: &'static str| {
        app.call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": email, "password": password})),
        )
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("ada@example.com", "wrong password!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = attempt("ada@example.com", PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "locked: even the right password"
    );
    let wrong = attempt("ada@example.com", "wrong password!").await;
    assert_eq!(locked.body, wrong.body, "a lock is not revealed");
    assert_eq!(
        attempt("bob@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_streak() {
    let app = spawn_app().await;
    let ada = app
        .new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let bob = app
        .new_user_with_password("bob@example.com", PASSWORD)
        .await;
    let guess = |email: &'static str, password: String| {
        app.call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": email, "password": password})),
        )
    };
    // Twelve wrong guesses at once: exactly five are checked (each counted before its
    // check), the other seven meet the lock unchecked, and the right password is then
    // refused too.
    let replies = futures::future::join_all(
        (0..12).map(|i| guess("ada@example.com", format!("wrong guess {i:02}"))),
    )
    .await;
    assert!(replies.iter().all(|r| r.status == StatusCode::UNAUTHORIZED));
    let (checked, locked) = failures_of(&app, &ada).await;
    assert_eq!(
        (checked.len(), locked),
        (5, 7),
        "five guesses checked ({checked:?}), seven refused by the lock"
    );
    assert_eq!(checked, [1, 2, 3, 4, 5], "one streak, each counted once");
    assert_eq!(streak_of(&app, &ada).await, 5);
    let later = guess("ada@example.com", PASSWORD.to_owned()).await;
    assert_eq!(
        later.status,
        StatusCode::UNAUTHORIZED,
        "the right password after five parallel failures: {}",
        later.body
    );

    // The right guess among eleven wrong ones: it is either one of the five checked (and
    // signs in) or meets the lock (and is refused, as is the right password afterwards).
    let replies = futures::future::join_all((0..12).map(|i| {
        guess(
            "bob@example.com",
            if i == 11 {
                PASSWORD.to_owned()
            } else {
                format!("wrong guess {i:02}")
            },
        )
    }))
    .await;
    assert!(
        replies[..11]
            .iter()
            .all(|r| r.status == StatusCode::UNAUTHORIZED)
    );
    let (checked, locked) = failures_of(&app, &bob).await;
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        checked.len() + locked,
        refused,
        "one failure recorded per refusal"
    );
    match replies[11].status {
        StatusCode::CREATED => {
            // A success ends the streak: the wrong guesses checked before it and after it
            // form two streaks of at most five each.
            assert!(checked.len() <= 9, "{checked:?}");
        }
        StatusCode::UNAUTHORIZED => {
            // Not checked (a check of the right password succeeds): it met the lock.
            assert_eq!((checked.len(), locked), (5, 7), "{checked:?}");
            let later = guess("bob@example.com", PASSWORD.to_owned()).await;
            assert_eq!(later.status, StatusCode::UNAUTHORIZED, "{}", later.body);
        }
        other => panic!("the right guess got {other}: {}", replies[11].body),
    }
}

/// A user's failed sign-ins as the audit trail records them: the streak numbers of the
/// checked ones (sorted) and how many met a lock unchecked.
async fn failures_of(app: &keygate_tests::TestApp, user_id: &str) -> (Vec<i64>, usize) {
    let trail = app.audit(&app.admin_key, "limit=200").await;
    let mut checked = Vec::new();
    let mut locked = 0;
    for event in trail.body["items"].as_array().unwrap() {
        let kind = event["type"].as_str().unwrap();
        if event["user_id"] != user_id || !["sign_in.failed", "account.locked"].contains(&kind) {
            continue;
        }
        if event["detail"]["account_locked"] == true {
            locked += 1;
        } else {
            checked.push(event["detail"]["failures_in_a_row"].as_i64().unwrap());
        }
    }
    checked.sort_unstable();
    (checked, locked)
}

/// The user's stored streak length (`sign_in_failures`), which must be there.
async fn streak_of(app: &keygate_tests::TestApp, user_id: &str) -> i64 {
    let items = app.scan_table().await;
    let user = items
        .iter()
        .find(|i| {
            i.get("type")
                .and_then(|t| t.as_s().ok())
                .map(String::as_str)
                == Some("User")
                && i.get("user_id")
                    .and_then(|u| u.as_s().ok())
                    .map(String::as_str)
                    == Some(user_id)
        })
        .expect("the user's item");
    user.get("sign_in_failures")
        .expect("a streak is recorded")
        .as_n()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_lock_ends_after_the_lockout() {
    let app = spawn_app_with(&[("KEYGATE_SIGN_IN_LOCKOUT_SECS", "2")]).await;
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let attempt = |password: &'static str| {
        app.call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "ada@example.com", "password": password})),
        )
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("wrong password!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked now: the right password is refused (a refused attempt does not extend the lock).
    let locked = attempt(PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "locked before the lockout ends: {}",
        locked.body
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    app.sign_in("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn cookie_only_writes_need_an_allowed_origin() {
    let app = spawn_app().await;
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let session = app.sign_in("ada@example.com", PASSWORD).await;
    let cookie = session_cookie(&session);
    let create = |headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.send(
                "POST",
                "/v1/api-keys",
                &headers,
                Some(json!({"name": "web"})),
            )
            .await
        }
    };
    let no_origin = create(vec![("cookie", cookie.clone())]).await;
    assert_eq!(
        no_origin.status,
        StatusCode::FORBIDDEN,
        "{}",
        no_origin.body
    );
    let foreign = create(vec![
        ("cookie", cookie.clone()),
        ("origin", "https://evil.example".into()),
    ])
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let allowed = create(vec![
        ("cookie", cookie.clone()),
        ("origin", ALLOWED_ORIGIN.into()),
    ])
    .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.body);
    let by_header = create(vec![("authorization", format!("Bearer {session}"))]).await;
    assert_eq!(
        by_header.status,
        StatusCode::CREATED,
        "a header is no CSRF risk"
    );
    let read = app
        .send("GET", "/v1/api-keys", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(read.status, StatusCode::OK, "reads need no Origin");
    assert_eq!(read.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn sign_out_revokes_the_session_and_clears_the_cookie() {
    let app = spawn_app().await;
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let session = app.sign_in("ada@example.com", PASSWORD).await;
    let cookie = session_cookie(&session);
    let out = app
        .send(
            "DELETE",
            "/v1/sessions",
            &[("cookie", &cookie), ("origin", ALLOWED_ORIGIN)],
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = app
        .send("GET", "/v1/auth/me", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let with_key = app
        .call("DELETE", "/v1/sessions", Some(&app.admin_key), None)
        .await;
    assert_eq!(with_key.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn users_set_and_change_their_own_password() {
    let app = spawn_app().await;
    let key = app.admin_key.as_str();
    let set = |body| app.call("PUT", "/v1/users/me/password", Some(key), Some(body));
    let weak = set(json!({"new_password": "aaaaaaaaaaaaaaaa"})).await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(weak.body["field"], "new_password");
    let first = set(json!({"new_password": PASSWORD})).await;
    assert_eq!(first.status, StatusCode::NO_CONTENT, "{}", first.body);
    let session = app.sign_in("admin@example.com", PASSWORD).await;

    let missing_old = set(json!({"new_password": "a new pass phrase"})).await;
    assert_eq!(missing_old.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing_old.body["field"], "old_password");
    let wrong_old =
        set(json!({"old_password": "not it at all", "new_password": "a new pass phrase"})).await;
    assert_eq!(wrong_old.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_old.body["field"], "old_password");
    let changed = set(json!({"old_password": PASSWORD, "new_password": "a new pass phrase"})).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);

    // The change signs out the user's sessions; only the new password works.
    let old_session = app.call("GET", "/v1/auth/me", Some(&session), None).await;
    assert_eq!(old_session.status, StatusCode::UNAUTHORIZED);
    let refused = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "admin@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    app.sign_in("admin@example.com", "a new pass phrase").await;
}

#[tokio::test]
async fn an_email_in_several_tenants_names_its_tenant() {
    let app = spawn_app().await;
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let other = app.other_tenant("ada@example.com").await;
    let set = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&other.admin_key),
            Some(json!({"new_password": PASSWORD})),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    let ambiguous = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "ada@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        ambiguous.status,
        StatusCode::BAD_REQUEST,
        "{}",
        ambiguous.body
    );
    assert_eq!(ambiguous.body["field"], "tenant_id");
    let chosen = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": "ada@example.com", "password": PASSWORD, "tenant_id": other.tenant_id})),
        )
        .await;
    assert_eq!(chosen.status, StatusCode::CREATED, "{}", chosen.body);
    assert_eq!(chosen.body["user"]["tenant_id"], other.tenant_id.as_str());
    assert_eq!(chosen.body["user"]["role"], "admin");
}

#[tokio::test]
async fn cookie_only_writes_from_the_server_own_origin_need_no_configuration() {
    let app = spawn_app().await;
    app.new_user_with_password("ada@example.com", PASSWORD)
        .await;
    let cookie = session_cookie(&app.sign_in("ada@example.com", PASSWORD).await);
    // The dashboard's origin is the server's own: http://127.0.0.1:<port> here.
    let own = app.address.clone();
    let created = app
        .send(
            "POST",
            "/v1/api-keys",
            &[("cookie", &cookie), ("origin", &own)],
            Some(json!({"name": "from the dashboard"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let port = own.rsplit(':').next().unwrap();
    for foreign in [
        format!("http://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
        "http://127.0.0.1:1".to_owned(),
    ] {
        let refused = app
            .send(
                "POST",
                "/v1/api-keys",
                &[("cookie", &cookie), ("origin", &foreign)],
                Some(json!({"name": "forged"})),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{foreign}");
    }
    // Behind a TLS proxy that says so, the own origin is https.
    let proxied = app
        .send(
            "POST",
            "/v1/api-keys",
            &[
                ("cookie", &cookie),
                ("x-forwarded-proto", "https"),
                ("origin", &own.replace("http://", "https://")),
            ],
            Some(json!({"name": "through a proxy"})),
        )
        .await;
    assert_eq!(proxied.status, StatusCode::CREATED, "{}", proxied.body);
}
