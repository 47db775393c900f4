//! The pepper rotates: credentials made under version 1 keep verifying after version 2
//! becomes current, on new instances and on those that started before the rotation, until
//! version 1 is revoked. The versions live in the emulator's SSM, as a deployment's do.

use keygate_tests::{StatusCode, TestApp, put_pepper, spawn_app_with};
use serde_json::json;

async fn me(app: &TestApp, credential: &str) -> StatusCode {
    app.call("GET", "/v1/auth/me", Some(credential), None)
        .await
        .status
}

/// The pepper version a key's stored hash names.
async fn stored_version(app: &TestApp, key_id: &str) -> String {
    let (_, hash) = app
        .services
        .store
        .get_api_key(key_id)
        .await
        .unwrap()
        .expect("the key is stored");
    hash.split_once('$').expect("a versioned hash").0.to_owned()
}

#[tokio::test]
async fn credentials_of_version_one_verify_after_version_two_until_it_is_revoked() {
    let parameter = format!(
        "/keygate-tests/rotation-{}",
        keygate::domain::credential::new_ulid()
    );
    let named = [("KEYGATE_PEPPER_PARAMETER", parameter.as_str())];
    assert_eq!(put_pepper(&parameter, "the first pepper").await, 1);
    let before = spawn_app_with(&named).await;
    let (old_id, old_key) = before
        .new_key(&before.admin_key, json!({"name": "made under 1"}))
        .await;
    let old_token = before.exchange(&old_key).await;
    assert_eq!(stored_version(&before, &old_id).await, "p1");

    // The rotation: version 2 becomes current for every instance started from now on.
    assert_eq!(put_pepper(&parameter, "the second pepper").await, 2);
    let after = before.redeployed(&named).await;
    for credential in [&old_key, &old_token, &before.admin_key] {
        assert_eq!(me(&after, credential).await, StatusCode::OK);
    }
    let (new_id, new_key) = after
        .new_key(&before.admin_key, json!({"name": "made under 2"}))
        .await;
    assert_eq!(stored_version(&after, &new_id).await, "p2");
    assert_eq!(me(&after, &new_key).await, StatusCode::OK);
    // An instance that started before the rotation reads the versions again when it meets
    // a hash of version 2, instead of refusing the key until it restarts.
    assert_eq!(me(&before, &new_key).await, StatusCode::OK);
    assert_eq!(me(&before, &old_key).await, StatusCode::OK);

    // Version 1 revoked (a redeploy with KEYGATE_PEPPER_REVOKED): everything hashed with it
    // is refused, including the bootstrap key; version 2's key still works.
    let revoked = before
        .redeployed(&[
            ("KEYGATE_PEPPER_PARAMETER", parameter.as_str()),
            ("KEYGATE_PEPPER_REVOKED", "1"),
        ])
        .await;
    for credential in [&old_key, &old_token, &before.admin_key] {
        assert_eq!(me(&revoked, credential).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(me(&revoked, &new_key).await, StatusCode::OK);
}

/// Why a cold start naming `parameter` as the pepper would stop.
async fn start_refused(app: &TestApp, parameter: &str) -> String {
    let config = keygate_tests::test_config(
        app.services.store.table(),
        &[("KEYGATE_PEPPER_PARAMETER", parameter)],
    );
    app.services
        .store
        .load_peppers(&config)
        .await
        .err()
        .expect("the start is refused")
        .to_string()
}

#[tokio::test]
async fn a_missing_or_plain_text_parameter_stops_the_start_naming_it() {
    let app = keygate_tests::spawn_app().await;
    let missing = format!(
        "/keygate-tests/missing-{}",
        keygate::domain::credential::new_ulid()
    );
    let error = start_refused(&app, &missing).await;
    assert!(
        error.contains("KEYGATE_PEPPER_PARAMETER") && error.contains(&missing),
        "{error}"
    );

    let plain = format!(
        "/keygate-tests/plain-{}",
        keygate::domain::credential::new_ulid()
    );
    keygate_tests::ssm_client()
        .put_parameter()
        .name(&plain)
        .value("a pepper in plain text")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let error = start_refused(&app, &plain).await;
    assert!(error.contains("not a SecureString"), "{error}");
    assert!(!error.contains("a pepper in plain text"), "{error}");
}
