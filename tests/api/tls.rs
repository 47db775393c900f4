//! The DynamoDB client over TLS: it trusts the CA given in `KEYGATE_TLS_CA_FILE` and completes
//! calls through a TLS-terminating front of the emulator; without that file it trusts only the
//! embedded Amazon roots, so the test CA's certificate is refused.

use keygate::store::Store;
use keygate_tests::{StatusCode, emulator_endpoint, spawn_app_with, test_config, tls};

#[tokio::test]
async fn calls_complete_over_tls_with_the_ca_file() {
    let front = tls::start(&emulator_endpoint()).await;
    let ca_file = front.ca_file.to_str().unwrap();
    // Creating the table and bootstrapping the tenant already go through the front.
    let app = spawn_app_with(&[
        ("KEYGATE_DYNAMODB_ENDPOINT", &front.endpoint),
        ("KEYGATE_TLS_CA_FILE", ca_file),
    ])
    .await;
    let me = app
        .call("GET", "/v1/auth/me", Some(&app.admin_key), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["email"], "admin@example.com");
    assert!(front.handshakes() >= 1);
}

#[tokio::test]
async fn without_the_ca_file_the_test_certificate_is_refused() {
    let front = tls::start(&emulator_endpoint()).await;
    let config = test_config(
        &format!("keygate-tls-{}", keygate::domain::credential::new_ulid()),
        &[("KEYGATE_DYNAMODB_ENDPOINT", &front.endpoint)],
    );
    let store = Store::connect(&config).expect("the store builds");
    let error = store
        .create_table()
        .await
        .expect_err("a certificate from an unknown CA is refused")
        .to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert_eq!(front.handshakes(), 0);
}
