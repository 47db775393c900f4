//! The OpenAPI document: served without a credential, the same as the committed
//! docs/openapi.json, and describing exactly the `/v1` routes the routers serve.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use keygate::routes::openapi::{document, operations_in};
use keygate_tests::{StatusCode, spawn_app};
use serde_json::Value;

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder is readable") {
        let path = entry.expect("folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The text between the `(` at `open` and its matching `)`.
fn balanced(text: &str, open: usize) -> &str {
    let mut depth = 0;
    for (at, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + at];
                }
            }
            _ => {}
        }
    }
    &text[open + 1..]
}

/// Every `(METHOD, path)` that a `.route("/v1/...", get(..).post(..))` in keygate's source
/// registers: read from the code, so a new route is seen without a list kept by hand.
fn routed_operations() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&repository().join("shared/src"), &mut files);
    let mut routed = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        for (at, _) in text.match_indices(".route(") {
            let call = balanced(&text, at + ".route".len());
            let Some(path) = call.split('"').nth(1) else {
                continue;
            };
            if !path.starts_with("/v1/") {
                continue;
            }
            let handlers = &call[call.find(',').expect("route has handlers") + 1..];
            let mut methods = Vec::new();
            for (index, _) in handlers.match_indices('(') {
                let name: String = handlers[..index]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let before = handlers[..index - name.len()].trim_end();
                let is_method_call = before.is_empty()
                    || before.ends_with('.')
                    || before.ends_with("::")
                    || before.ends_with(',');
                if is_method_call && METHODS.contains(&name.as_str()) {
                    methods.push(name);
                } else if is_method_call && ["any", "on", "method_routing"].contains(&name.as_str())
                {
                    panic!(
                        "{}: {path} uses {name}(..); list its methods so the document can describe them",
                        file.display()
                    );
                }
            }
            assert!(
                !methods.is_empty(),
                "{}: no method found for {path}",
                file.display()
            );
            for method in methods {
                routed.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    routed
}

fn documented() -> BTreeSet<(String, String)> {
    let parsed: Value = serde_json::from_str(document()).expect("the document is JSON");
    operations_in(&parsed).into_iter().collect()
}

#[test]
fn every_v1_route_in_the_code_is_in_the_document_and_nothing_else() {
    let routed = routed_operations();
    let documented = documented();
    assert!(
        routed.len() > 20,
        "the route scan found too little: {routed:?}"
    );
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes without #[utoipa::path] (add one and list it in routes/openapi.rs): {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[test]
fn the_committed_document_matches_the_code() {
    let committed = std::fs::read_to_string(repository().join("docs/openapi.json"))
        .expect("docs/openapi.json is committed");
    assert!(
        committed == document() && keygate::routes::openapi::COMMITTED == document(),
        "docs/openapi.json is stale: run scripts/openapi and commit it"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_the_four_credential_schemes() {
    let parsed: Value = serde_json::from_str(document()).unwrap();
    assert_eq!(parsed["openapi"], "3.1.0");
    let schemes = parsed["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["access_tokens"]["name"], "x-access-tokens");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    let problem = &parsed["components"]["schemas"]["Problem"]["required"];
    assert_eq!(
        problem,
        &serde_json::json!(["type", "title", "status", "detail"])
    );
}

#[tokio::test]
async fn the_document_is_served_without_a_credential() {
    let app = spawn_app().await;
    let reply = app.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let served: Value = serde_json::from_str(document()).unwrap();
    assert_eq!(reply.body, served);
}

/// Every documented operation reaches a handler: none falls to the unknown-route 404 or
/// a 405 (path parameters are filled with ids that do not exist).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    for (method, path) in documented() {
        let concrete: String = path
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    "nothing"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = ["POST", "PUT", "PATCH"]
            .contains(&method.as_str())
            .then(|| serde_json::json!({}));
        let reply = app
            .call(&method, &concrete, Some(&app.admin_key), body)
            .await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            reply.body
        );
        assert!(
            !reply.body["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("no such route")),
            "{method} {path} is not routed: {}",
            reply.body
        );
    }
}

/// The enums the document spells out by hand hold exactly the domain's values.
#[test]
fn the_document_s_enums_are_the_domain_s() {
    let document: Value = serde_json::from_str(keygate::routes::openapi::document()).unwrap();
    let names = |schema: &str| -> BTreeSet<String> {
        document["components"]["schemas"][schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} is an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let scopes: BTreeSet<String> = keygate::domain::scope::Scope::ALL
        .iter()
        .map(|scope| scope.as_str().to_owned())
        .collect();
    assert_eq!(names("Scope"), scopes);
}

/// Every object an answer is made of is closed: a property the document does not list is a
/// drift schemathesis reports. Only the caller's own maps stay open.
#[test]
fn every_answer_object_is_closed() {
    let document: Value = serde_json::from_str(keygate::routes::openapi::document()).unwrap();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let request_bodies = [
        "ApiKeyCreate",
        "ApiKeyPatch",
        "BudgetSet",
        "ChatCreate",
        "DatasetCreate",
        "ExchangeRequest",
        "GrantRequest",
        "LeakedToken",
        "MessageContentRequest",
        "MessageRequest",
        "PasswordRequest",
        "RollRequest",
        "SignInRequest",
        "TempTokenRequest",
        "UsageReport",
        "UserCreate",
        "UserUpdate",
        "VerifyRequest",
    ];
    let mut closed = 0;
    for (name, schema) in schemas {
        if schema["type"] != "object" || request_bodies.contains(&name.as_str()) {
            continue;
        }
        assert_eq!(
            schema["additionalProperties"],
            Value::Bool(false),
            "{name} is an answer object that allows any property"
        );
        closed += 1;
    }
    assert!(closed >= 25, "only {closed} answer objects");
}
