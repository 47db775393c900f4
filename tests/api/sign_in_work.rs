//! A failed sign-in costs the same whatever the email: an unknown email, a wrong password
//! (first or later in a streak) and a locked account make the same DynamoDB calls, in the
//! same order (and, in the code, one Argon2 verification each), so the answer's timing
//! does not tell which emails have accounts. `scripts/bench-sign-in` measures the medians.

use keygate_tests::{StatusCode, TestApp, spawn_app_with_faults};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

async fn refused(app: &TestApp, email: &str, password: &str) {
    let reply = app
        .call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
}

#[tokio::test]
async fn every_failed_sign_in_makes_the_same_store_calls() {
    let (app, faults) = spawn_app_with_faults().await;
    app.new_user_with_password("wrong@example.com", PASSWORD)
        .await;
    app.new_user_with_password("locked@example.com", PASSWORD)
        .await;
    for _ in 0..5 {
        refused(&app, "locked@example.com", "not the password").await;
    }
    let mut calls = Vec::new();
    for (class, email) in [
        ("unknown email", "nobody@example.com"),
        ("first wrong password", "wrong@example.com"),
        ("second wrong password", "wrong@example.com"),
        ("locked account", "locked@example.com"),
        ("unknown email again", "nobody@example.com"),
    ] {
        faults.forget();
        refused(&app, email, "not the password").await;
        calls.push((class, faults.operations()));
    }
    let (_, first) = &calls[0];
    // The count, then the failure's audit event (a write that writes nothing for the
    // unknown email's stand-in).
    assert_eq!(first, &["Query", "GetItem", "UpdateItem", "PutItem"]);
    for (class, operations) in &calls {
        assert_eq!(operations, first, "{class}");
    }
    // The unknown email's stand-in left nothing behind.
    let items = app.scan_table().await;
    let mut strings = Vec::new();
    for item in &items {
        for value in item.values() {
            keygate_tests::strings_in(value, &mut strings);
        }
    }
    assert!(!strings.iter().any(|s| s.contains("nobody@example.com")));
    // The locked account stays locked for the right password too; the other signs in.
    refused(&app, "locked@example.com", PASSWORD).await;
    app.sign_in("wrong@example.com", PASSWORD).await;
}
