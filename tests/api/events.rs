//! Every sample event in events/ reaches a route of its function (as `cargo lambda invoke`
//! would deliver it): parsed by lambda_http, dispatched through the function's own router.

use keygate::services::Services;
use keygate_tests::spawn_app;
use tower::ServiceExt;

/// The router each function binary runs, by its events/ folder name.
fn function_router(function: &str, services: Services) -> Option<axum::Router> {
    Some(match function {
        "auth" => keygate::routes::auth_group(services),
        "api-keys" => keygate::routes::api_keys(services),
        "asksage" => keygate::routes::asksage(services),
        _ => return None,
    })
}

#[tokio::test]
async fn every_sample_event_reaches_a_route() {
    let app = spawn_app().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut seen = 0;
    for folder in std::fs::read_dir(&root).unwrap() {
        let folder = folder.unwrap().path();
        let function = folder.file_name().unwrap().to_str().unwrap().to_owned();
        if function == "authorizer" {
            continue; // exercised by the authorizer tests
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            let text = std::fs::read_to_string(&file)
                .unwrap()
                .replace("REPLACE_WITH_API_KEY", &app.admin_key)
                .replace("demo@example.com", &app.admin_email);
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
    assert!(seen >= 17, "only {seen} events");
}
