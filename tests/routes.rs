//! One route table: template.yaml's HTTP API events (what API Gateway serves, and which
//! function serves it) are the table, and every other list of routes is checked against it,
//! both ways: keygate's own route table (`domain::route_table`, which the policy is checked
//! against), the Makefile's functions, `cargo lambda watch`'s router in Cargo.toml, and the
//! sample events gen-events writes (docs/recipes.md says which file a new route touches).

use std::collections::BTreeMap;
use std::path::Path;

use keygate::domain::route_policy::{Matched, RoutePolicy};
use keygate::routes::KEYGATE_ROUTES;
use serde_json::Value;

fn read(relative: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A route template.yaml declares: its function's binary, method and path template.
#[derive(Debug, Clone)]
struct Declared {
    binary: String,
    method: String,
    path: String,
}

/// The Makefile's `LogicalId=binary` pairs.
fn binaries() -> BTreeMap<String, String> {
    let makefile = read("Makefile");
    let block = makefile
        .split("FUNCTIONS :=")
        .nth(1)
        .expect("the Makefile lists FUNCTIONS");
    block
        .lines()
        .take_while(|line| line.trim_end().ends_with('\\') || line.contains('='))
        .flat_map(|line| line.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .map(|(id, binary)| (id.to_owned(), binary.to_owned()))
        .collect()
}

/// Every HTTP API event of every function in template.yaml.
fn declared() -> Vec<Declared> {
    let template = read("template.yaml");
    let binaries = binaries();
    let mut routes = Vec::new();
    let mut function: Option<String> = None;
    let lines: Vec<&str> = template.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        // A resource: two spaces, a logical id, a colon.
        if let Some(id) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !id.starts_with(' ')
        {
            function = binaries.get(id).cloned();
            let is_function = lines
                .get(at + 1)
                .is_some_and(|next| next.trim() == "Type: AWS::Serverless::Function");
            assert!(
                !is_function || function.is_some(),
                "{id} has no binary in the Makefile's FUNCTIONS"
            );
        }
        let (Some(binary), Some(at)) = (&function, line.find(", Method: ")) else {
            continue;
        };
        let rest = &line[at + ", Method: ".len()..];
        let method = rest.split(',').next().unwrap().trim().to_owned();
        let path = rest
            .split("Path: ")
            .nth(1)
            .expect("a path after the method");
        let path = match path.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap(),
            None => path.split([',', ' ', '}']).next().unwrap(),
        };
        routes.push(Declared {
            binary: binary.clone(),
            method,
            path: path.to_owned(),
        });
    }
    assert!(routes.len() >= 40, "only {} template routes", routes.len());
    routes
}

/// A concrete path a path template matches: `{proxy+}` as two segments, `{x}` as one.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{proxy+}" => "x/y",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a template (`{name}`: one segment; `{proxy+}` or `{*rest}`: one or more) matches.
fn matches(template: &str, path: &str) -> bool {
    let pattern: Vec<&str> = template.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    for (at, part) in pattern.iter().enumerate() {
        if *part == "{proxy+}" || part.starts_with("{*") {
            return segments.len() > at;
        }
        match segments.get(at) {
            Some(segment) if part.starts_with('{') || part == segment => {}
            _ => return false,
        }
    }
    segments.len() == pattern.len()
}

/// The router entry `cargo lambda watch` picks for `path`: the match with the most literal
/// segments, as its router prefers static segments to parameters.
fn routed<'a>(router: &'a BTreeMap<String, String>, path: &str) -> Option<(&'a str, &'a str)> {
    router
        .iter()
        .filter(|(pattern, _)| matches(pattern, path))
        .max_by_key(|(pattern, _)| pattern.split('/').filter(|s| !s.starts_with('{')).count())
        .map(|(pattern, binary)| (pattern.as_str(), binary.as_str()))
}

/// `[workspace.metadata.lambda.watch.router]`: path → binary.
fn watch_router() -> BTreeMap<String, String> {
    let manifest = read("Cargo.toml");
    let section = manifest
        .split("[workspace.metadata.lambda.watch.router]")
        .nth(1)
        .expect("Cargo.toml has the watch router");
    section
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter(|line| line.starts_with('"'))
        .map(|line| {
            let (path, binary) = line.split_once(" = ").expect("\"path\" = \"binary\"");
            (
                path.trim_matches('"').to_owned(),
                binary.trim_matches('"').to_owned(),
            )
        })
        .collect()
}

#[test]
fn keygate_s_own_table_and_the_template_declare_the_same_routes() {
    let bare = RoutePolicy::parse("{}", KEYGATE_ROUTES).unwrap();
    let declared = declared();
    let own: Vec<&Declared> = declared
        .iter()
        .filter(|route| route.binary != "platform-function")
        .collect();
    for route in &own {
        let method = if route.method == "ANY" {
            "GET"
        } else {
            &route.method
        };
        assert!(
            matches!(
                bare.matching(method, &concrete(&route.path)),
                Matched::Keygate(_)
            ),
            "template route {} {} is not in domain::route_table",
            route.method,
            route.path
        );
    }
    for entry in KEYGATE_ROUTES {
        let (method, path) = entry.route.split_once(' ').unwrap();
        let served = own.iter().any(|route| {
            (route.method == method || route.method == "ANY" || method == "ANY")
                && (matches(path, &concrete(&route.path)) || matches(&route.path, &concrete(path)))
        });
        // An entry may be broader than the routes it covers (`{proxy+}` over `{key_id}`) or
        // narrower (`/v1/users/me/password` under `/v1/users/{proxy+}`), never stale.
        assert!(
            served,
            "domain::route_table's {} overlaps no template route",
            entry.route
        );
    }
}

#[test]
fn the_watch_router_sends_every_route_to_its_function_and_names_no_other() {
    let router = watch_router();
    let declared = declared();
    for route in &declared {
        let path = concrete(&route.path);
        let (pattern, binary) = routed(&router, &path)
            .unwrap_or_else(|| panic!("cargo lambda watch routes nothing to {}", route.path));
        assert_eq!(
            binary, route.binary,
            "{} {} is served by {}, but the watch router's {pattern} sends it to {binary}",
            route.method, route.path, route.binary
        );
    }
    for (pattern, binary) in &router {
        let used = declared.iter().any(|route| {
            routed(&router, &concrete(&route.path)) == Some((pattern.as_str(), binary.as_str()))
        });
        assert!(
            used,
            "the watch router's {pattern} → {binary} serves no template route"
        );
    }
}

#[test]
fn every_route_has_a_sample_event_and_every_event_is_a_route_of_its_function() {
    let declared = declared();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut sampled = vec![false; declared.len()];
    for folder in std::fs::read_dir(&root).unwrap() {
        let folder = folder.unwrap().path();
        let binary = folder.file_name().unwrap().to_string_lossy().into_owned();
        if binary == "authorizer" || binary == "notifier" {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let route_key = event["requestContext"]["routeKey"].as_str().unwrap();
            let (method, path) = route_key.split_once(' ').unwrap();
            let found = declared.iter().position(|route| {
                route.binary == binary
                    && route.path == path
                    && (route.method == method || route.method == "ANY")
            });
            let Some(at) = found else {
                panic!(
                    "{}: {route_key} is no template route of {binary}",
                    file.display()
                );
            };
            assert!(matches(path, event["rawPath"].as_str().unwrap()));
            sampled[at] = true;
        }
    }
    for (route, sampled) in declared.iter().zip(sampled) {
        assert!(
            sampled,
            "{} {} ({}) has no event: run scripts/gen-events",
            route.method, route.path, route.binary
        );
    }
}
