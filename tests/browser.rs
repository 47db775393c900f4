//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! against the in-process server. It signs in, creates a key, reads the secret from the page,
//! uses it against the API, pauses, resumes and revokes it through the page, and sees the API
//! refuse it. A screenshot lands in target/browser/dashboard.png (docs/dashboard.png is one).
//! Needs Debian's `chromium` and `chromium-driver` (scripts/install-browser).

use std::panic::AssertUnwindSafe;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use keygate_tests::{StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const PASSWORD: &str = "dashboard-password-1";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    _process: Child,
    url: String,
}

fn tool(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

async fn start_driver() -> Driver {
    let driver = tool("KEYGATE_CHROMEDRIVER", "chromedriver");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let process = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start {driver} ({error}): run scripts/install-browser first")
        });
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{url}/status")).send().await.is_ok() {
            return Driver {
                _process: process,
                url,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{driver} did not answer on {url}");
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": tool("KEYGATE_CHROMIUM", "/usr/bin/chromium"),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1200,900"],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Waits until `script` returns true (at most about ten seconds).
async fn wait_until(page: &Client, script: &str, what: &str) {
    for _ in 0..200 {
        if page.execute(script, vec![]).await.unwrap() == Value::Bool(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = page
        .execute(
            "return document.getElementById('error').textContent",
            vec![],
        )
        .await
        .unwrap();
    panic!("the page never showed {what} (its error box says {error})");
}

async fn click(page: &Client, css: &str) {
    page.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap_or_else(|error| panic!("click {css}: {error}"));
}

async fn fill(page: &Client, css: &str, text: &str) {
    let field = page.wait().for_element(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn key_state(page: &Client, key_id: &str) -> Value {
    page.execute(
        "const row = document.getElementById('key-' + arguments[0]); \
         return row ? row.dataset.state : null",
        vec![json!(key_id)],
    )
    .await
    .unwrap()
}

/// Waits until the page shows the key in `state`.
async fn wait_for_key_state(page: &Client, key_id: &str, state: &str) {
    wait_until(
        page,
        &format!("return document.getElementById('key-{key_id}').dataset.state === '{state}'"),
        &format!("the {state} key"),
    )
    .await;
}

async fn me_with(app: &TestApp, secret: &str) -> StatusCode {
    app.call("GET", "/v1/auth/me", Some(secret), None)
        .await
        .status
}

#[tokio::test]
async fn manages_a_key_through_the_dashboard() {
    let app = spawn_app().await;
    // The bootstrapped admin gets a password through the API, as a new user would.
    let set = app
        .call(
            "PUT",
            "/v1/users/me/password",
            Some(&app.admin_key),
            Some(json!({"new_password": PASSWORD})),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);

    let driver = start_driver().await;
    let page = browser(&driver).await;
    // Close the browser even when a step fails, then report the failure.
    let outcome = AssertUnwindSafe(drive(&app, &page)).catch_unwind().await;
    page.close().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn drive(app: &TestApp, page: &Client) {
    page.goto(&app.url("/")).await.unwrap();
    wait_until(
        page,
        "return !document.getElementById('sign-in-view').hidden",
        "the sign-in form",
    )
    .await;
    fill(page, "#sign-in-email", &app.admin_email).await;
    fill(page, "#sign-in-password", PASSWORD).await;
    click(page, "#sign-in-form button[type=submit]").await;
    // The keys view loads through the Secure session cookie over plain http on 127.0.0.1
    // (a secure context to Chromium): the first key listed is the bootstrap key.
    wait_until(
        page,
        "return document.querySelectorAll('#keys-body tr').length === 1",
        "the key list",
    )
    .await;

    fill(page, "#create-name", "from the browser").await;
    click(page, "#create-form input[value=write]").await;
    click(page, "#create-form button[type=submit]").await;
    wait_until(
        page,
        "return !document.getElementById('new-secret').hidden \
         && document.querySelectorAll('#keys-body tr').length === 2",
        "the new secret",
    )
    .await;
    let secret = page
        .execute(
            "return document.getElementById('new-secret-value').value",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("kg_"), "{secret}");
    let key_id = secret[3..29].to_owned();
    assert_eq!(key_state(page, &key_id).await, json!("active"));
    let created = app.read_key(&app.admin_key, &key_id).await;
    assert_eq!(created.body["scopes"], json!(["chat", "read", "write"]));

    // The secret from the page works against the API.
    assert_eq!(me_with(app, &secret).await, StatusCode::OK);
    save_screenshot(page).await;

    // Pause and resume through the page; the API follows.
    click(page, "button[aria-label='Pause from the browser']").await;
    wait_for_key_state(page, &key_id, "paused").await;
    assert_eq!(me_with(app, &secret).await, StatusCode::UNAUTHORIZED);
    click(page, "button[aria-label='Resume from the browser']").await;
    wait_for_key_state(page, &key_id, "active").await;
    assert_eq!(me_with(app, &secret).await, StatusCode::OK);

    // Revoke asks first: cancel keeps the key, confirm revokes it.
    click(page, "button[aria-label='Revoke from the browser']").await;
    wait_until(
        page,
        "return document.getElementById('confirm').open",
        "the confirmation",
    )
    .await;
    click(page, "#confirm button[value=cancel]").await;
    assert_eq!(key_state(page, &key_id).await, json!("active"));
    assert_eq!(me_with(app, &secret).await, StatusCode::OK);
    click(page, "button[aria-label='Revoke from the browser']").await;
    wait_until(
        page,
        "return document.getElementById('confirm').open",
        "the confirmation",
    )
    .await;
    click(page, "#confirm-yes").await;
    wait_for_key_state(page, &key_id, "revoked").await;
    assert_eq!(me_with(app, &secret).await, StatusCode::UNAUTHORIZED);

    // Sign out: the page returns to the sign-in form, and a reload stays signed out.
    click(page, "#sign-out").await;
    wait_until(
        page,
        "return !document.getElementById('sign-in-view').hidden",
        "the sign-in form after signing out",
    )
    .await;
    page.refresh().await.unwrap();
    wait_until(
        page,
        "return !document.getElementById('sign-in-view').hidden \
         && getComputedStyle(document.getElementById('keys-view')).display === 'none' \
         && getComputedStyle(document.getElementById('account')).display === 'none'",
        "the sign-in form after a reload",
    )
    .await;
}

async fn save_screenshot(page: &Client) {
    let png = page.screenshot().await.unwrap();
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/browser");
    std::fs::create_dir_all(folder).unwrap();
    std::fs::write(format!("{folder}/dashboard.png"), png).unwrap();
}
