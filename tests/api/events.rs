//! Every sample event in events/ reaches a route of its function (as `cargo lambda invoke`
//! would deliver it): parsed by lambda_http, dispatched through the function's own router.

use keygate::services::Services;
use keygate_tests::{ReportSigner, spawn_app_with};
use tower::ServiceExt;

/// The router each function binary runs, by its events/ folder name.
fn function_router(function: &str, services: Services) -> Option<axum::Router> {
    Some(match function {
        "auth" => keygate::routes::auth_group(services),
        "tenant-admin" => keygate::routes::tenant_admin(services),
        "teams" => keygate::routes::teams(services),
        "webhooks" => keygate::routes::webhooks(services),
        "api-keys" => keygate::routes::api_keys(services),
        "datasets" => keygate::routes::datasets(services),
        "chats" => keygate::routes::chats(services),
        "activity" => keygate::routes::activity(services),
        "cogniac" => keygate::routes::cogniac(services),
        "virtuousai" => keygate::routes::virtuousai(services),
        "assisters" => keygate::routes::assisters(services),
        "asksage" => keygate::routes::asksage(services),
        // The platform's example function: its events carry keygate's authorizer context.
        "platform-function" => platform_function::routes(),
        _ => return None,
    })
}

/// A folder's entries in a fixed order, so that events which end credentials (revoke all,
/// sign out) run after the ones that use them, whatever order the file system lists.
fn sorted_entries(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let ends_credentials = |path: &std::path::Path| {
        let name = path.file_name().unwrap().to_string_lossy();
        name.contains("revoke-all") || name.contains("sign-out")
    };
    entries.sort_by_key(|path| (ends_credentials(path), path.clone()));
    entries
}

/// A secret-scanning report event, signed as the scanner would sign its body.
fn sign_report(text: &str, signer: &ReportSigner) -> String {
    if !text.contains("REPLACE_WITH_SIGNATURE") {
        return text.to_owned();
    }
    let event: serde_json::Value = serde_json::from_str(text).unwrap();
    let body = event["body"].as_str().unwrap_or_default();
    text.replace("REPLACE_WITH_KEY_IDENTIFIER", &signer.key_identifier)
        .replace("REPLACE_WITH_SIGNATURE", &signer.sign(body.as_bytes()))
}

#[tokio::test]
async fn every_sample_event_reaches_a_route() {
    let signer = ReportSigner::generate("events-key");
    let app = spawn_app_with(&[("KEYGATE_SECRET_SCANNING_KEYS", &signer.published())]).await;
    let password = "events replay passphrase";
    let set = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&app.admin_key),
            Some(serde_json::json!({ "new_password": password })),
        )
        .await;
    assert_eq!(set.status, 204, "{}", set.body);
    let session = app.sign_in(&app.admin_email, password).await;
    let session_to_end = app.sign_in(&app.admin_email, password).await;
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{password}", app.admin_email)
        )
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut seen = 0;
    for folder in sorted_entries(&root) {
        let function = folder.file_name().unwrap().to_str().unwrap().to_owned();
        if function == "authorizer" || function == "notifier" {
            continue; // exercised by the authorizer and delivery tests
        }
        for file in sorted_entries(&folder) {
            let text = std::fs::read_to_string(&file)
                .unwrap()
                .replace(
                    "Basic ZGVtb0BleGFtcGxlLmNvbTpSRVBMQUNFX1dJVEhfUEFTU1dPUkQ=",
                    &basic,
                )
                .replace("REPLACE_WITH_API_KEY", &app.admin_key)
                .replace("REPLACE_WITH_SESSION_TO_END", &session_to_end)
                .replace("REPLACE_WITH_SESSION", &session)
                .replace("REPLACE_WITH_PASSWORD", password)
                .replace("REPLACE_WITH_TENANT_ID", &app.tenant_id)
                .replace("REPLACE_WITH_USER_ID", &app.admin_id)
                .replace("demo@example.com", &app.admin_email);
            let text = sign_report(&text, &signer);
            let request = lambda_http::request::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let router = function_router(&function, app.services.clone())
                .unwrap_or_else(|| panic!("no router for events/{function}"));
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let body = String::from_utf8_lossy(&body);
            assert!(status.as_u16() < 500, "{}: {status} {body}", file.display());
            assert!(
                !body.contains("no such route"),
                "{}: not routed",
                file.display()
            );
            assert_ne!(status.as_u16(), 401, "{}: {body}", file.display());
            seen += 1;
        }
    }
    assert!(seen >= 58, "only {seen} events");
}
