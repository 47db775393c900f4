//! GitHub secret-scanning partner reports: signed, verified before anything is read, each
//! real credential revoked at once with an audit event, garbage labelled false positive.

use keygate_tests::{ReportSigner, StatusCode, TestApp, sha256_hex, spawn_app_with};
use serde_json::{Value, json};

async fn app_with_signer() -> (TestApp, ReportSigner) {
    let signer = ReportSigner::generate("github-test-key-1");
    let app = spawn_app_with(&[("KEYGATE_SECRET_SCANNING_KEYS", &signer.published())]).await;
    (app, signer)
}

fn report_body(tokens: &[&str]) -> String {
    Value::Array(
        tokens
            .iter()
            .map(|token| {
                json!({"token": token, "type": "keygate_api_key",
                       "url": "https://github.com/octo/leaky/blob/main/.env",
                       "source": "content"})
            })
            .collect(),
    )
    .to_string()
}

async fn me_status(app: &TestApp, credential: &str) -> StatusCode {
    app.call("GET", "/v1/auth/me", Some(credential), None)
        .await
        .status
}

async fn leak_events(app: &TestApp) -> Vec<Value> {
    let trail = app
        .audit(&app.admin_key, "type=credential.leak_revoked&limit=200")
        .await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    trail.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_signed_report_revokes_real_credentials_and_labels_the_rest() {
    let (app, signer) = app_with_signer().await;
    let (_, leaked_key) = app.new_key(&app.admin_key, json!({"name": "leaked"})).await;
    let (revoked_id, revoked_key) = app.new_key(&app.admin_key, json!({"name": "old"})).await;
    app.call(
        "DELETE",
        &format!("/v1/api-keys/{revoked_id}"),
        Some(&app.admin_key),
        None,
    )
    .await;
    let token = app
        .call(
            "POST",
            "/v1/auth/token",
            None,
            Some(json!({"email": app.admin_email, "api_key": app.admin_key})),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_id = app
        .new_user_with_password("ada@example.com", "a long enough passphrase")
        .await;
    let session = app
        .sign_in("ada@example.com", "a long enough passphrase")
        .await;
    let unknown = keygate_tests::unknown_api_key();
    // One character of the random part changed (to another character, whatever it was).
    let mut forged = leaked_key.clone();
    let at = forged.len() - 12;
    let other = if &forged[at..=at] == "Z" { "Y" } else { "Z" };
    forged.replace_range(at..=at, other);
    let garbage = "kg_thisisnotakeyatall";
    let tokens = [
        leaked_key.as_str(),
        revoked_key.as_str(),
        token.as_str(),
        session.as_str(),
        unknown.as_str(),
        forged.as_str(),
        garbage,
        leaked_key.as_str(),
    ];
    for credential in [&leaked_key, &token, &session] {
        assert_eq!(me_status(&app, credential).await, StatusCode::OK);
    }
    let body = report_body(&tokens);
    let answer = app
        .report(
            &body,
            Some(&signer.key_identifier),
            Some(&signer.sign(body.as_bytes())),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let labels: Vec<&str> = answer
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "true_positive",
            "true_positive",
            "true_positive",
            "true_positive",
            "false_positive",
            "false_positive",
            "false_positive",
            "true_positive"
        ]
    );
    assert_eq!(answer.body[0]["token_hash"], sha256_hex(&leaked_key));
    assert_eq!(answer.body[0]["token_type"], "keygate_api_key");
    assert!(
        !answer.body.to_string().contains(&leaked_key),
        "never the token"
    );
    for credential in [&leaked_key, &token, &session] {
        assert_eq!(me_status(&app, credential).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(me_status(&app, &app.admin_key).await, StatusCode::OK);

    // One event per credential revoked, naming where it was found; the session's is in
    // its owner's trail, which the tenant admin sees too.
    let events = leak_events(&app).await;
    assert_eq!(events.len(), 3, "{events:#?}");
    for event in &events {
        assert_eq!(event["actor"]["kind"], "secret_scanning");
        assert_eq!(event["actor"]["credential_id"], "github-test-key-1");
        assert_eq!(
            event["detail"]["url"],
            "https://github.com/octo/leaky/blob/main/.env"
        );
        assert_eq!(event["detail"]["source"], "content");
        assert!(event["change"]["revoked_at"]["new"].is_number());
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["target"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"api_key") && kinds.contains(&"access_token") && kinds.contains(&"session")
    );
    assert!(events.iter().any(|e| e["user_id"] == user_id.as_str()));

    // A replay changes nothing and answers the same.
    let replay = app
        .report(
            &body,
            Some(&signer.key_identifier),
            Some(&signer.sign(body.as_bytes())),
        )
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    assert_eq!(replay.body, answer.body);
    assert_eq!(leak_events(&app).await.len(), 3, "no new events");
}

#[tokio::test]
async fn unsigned_tampered_or_foreign_reports_are_refused_and_change_nothing() {
    let (app, signer) = app_with_signer().await;
    let (_, key) = app.new_key(&app.admin_key, json!({"name": "safe"})).await;
    let body = report_body(&[&key]);
    let signature = signer.sign(body.as_bytes());
    let tampered = body.replace("content", "commit");
    let stranger = ReportSigner::generate("github-test-key-1");
    let cases = [
        (
            "tampered body",
            tampered.as_str(),
            Some("github-test-key-1"),
            Some(signature.clone()),
        ),
        (
            "unknown key id",
            body.as_str(),
            Some("another-key"),
            Some(signature.clone()),
        ),
        (
            "no signature",
            body.as_str(),
            Some("github-test-key-1"),
            None,
        ),
        ("no key id", body.as_str(), None, Some(signature.clone())),
        (
            "garbage signature",
            body.as_str(),
            Some("github-test-key-1"),
            Some("bm90IGEgc2lnbmF0dXJl".to_owned()),
        ),
        (
            "someone else's key",
            body.as_str(),
            Some("github-test-key-1"),
            Some(stranger.sign(body.as_bytes())),
        ),
    ];
    for (case, body, id, signature) in cases {
        let answer = app.report(body, id, signature.as_deref()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{case}: {}",
            answer.body
        );
        assert_eq!(me_status(&app, &key).await, StatusCode::OK, "{case}");
    }
    assert!(leak_events(&app).await.is_empty());

    // Signed but not a report: a clear client error.
    let not_a_list = r#"{"token": "x"}"#;
    let answer = app
        .report(
            not_a_list,
            Some(&signer.key_identifier),
            Some(&signer.sign(not_a_list.as_bytes())),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.body["field"], "body");
}
