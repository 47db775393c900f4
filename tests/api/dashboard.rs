//! The dashboard's static files: served on the API's origin under a strict CSP.

use keygate_tests::{StatusCode, spawn_app};

#[tokio::test]
async fn serves_the_page_and_its_assets_under_a_strict_policy() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/app.css", "text/css"),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        let policy = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(header("x-content-type-options"), "nosniff");
    }

    let page = app.http.get(app.url("/")).send().await.unwrap();
    let html = page.text().await.unwrap();
    // Nothing inline for the policy to refuse, nothing from another origin.
    assert!(!html.contains("<style"), "no inline style element");
    assert!(!html.contains(" style="), "no inline style attribute");
    assert!(
        !html
            .split_whitespace()
            .any(|word| word.starts_with("on") && word.contains('=')),
        "no inline event handler"
    );
    for script in html.split("<script").skip(1) {
        assert!(
            script.contains("src=\"/dashboard/"),
            "only our own script files"
        );
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    // Every input has a label.
    for id in html.split("<input id=\"").skip(1) {
        let id = id.split('"').next().unwrap();
        assert!(
            html.contains(&format!("for=\"{id}\"")),
            "input {id} has a label"
        );
    }
}

#[tokio::test]
async fn an_unknown_asset_is_a_problem_404() {
    let app = spawn_app().await;
    let missing = app.call("GET", "/dashboard/secrets.txt", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["status"], 404);
}
