//! keygate's layers point only down. Every path that leaves its own top-level module in
//! `shared/src` (`crate::…`, including `use crate::{…}` groups, and `super::` chains that
//! climb to the crate root) must name a module of a strictly lower layer in [`LAYERS`];
//! a new top-level module must be placed there first. The function crates sit above every
//! layer and depend on no other function crate. The test reads the source, not the build,
//! so it runs in milliseconds and names the file and the import that broke the rule.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// `shared/src`'s top-level modules, lowest layer first, with the rank of each: a module may
/// use only modules of a lower rank (modules of one rank are peers and use none of each
/// other). Keep it in step with the layer list in `shared/src/lib.rs`.
const LAYERS: &[(&str, u8)] = &[
    // What keys, tokens, users, routes and their rules are: no AWS, no HTTP.
    ("domain", 0),
    // The environment, and the EMF metric records; both below the store, which reads one
    // and counts into the other.
    ("config", 1),
    ("metrics", 1),
    // The log line's shape (it writes the metric records as bare lines).
    ("logs", 2),
    // The single-table DynamoDB mapping.
    ("store", 3),
    // Webhook deliveries sent over HTTP(S), a peer of the store.
    ("outbound", 3),
    // The use cases, written once for every surface.
    ("services", 4),
    // HTTP plumbing for every surface: extractors, caller resolution, problem+json, views.
    ("http", 5),
    // Other platforms' surfaces, translated onto the services.
    ("dialects", 6),
    // keygate's own API and each function's router (which merges the dialects'), and the
    // authorizer: peers, neither uses the other.
    ("routes", 7),
    ("authorizer", 7),
    // Building a function's state and running its router under Lambda.
    ("app", 8),
];

/// Names `lib.rs` re-exports at the crate root, and the module each comes from.
const ROOT_REEXPORTS: &[(&str, &str)] = &[
    ("AppState", "app"),
    ("init_tracing", "app"),
    ("Config", "config"),
];

/// Above the services, what a module may name of the store: surfaces reach the table through
/// the services (read models live in `domain`), so only these items, each with why. A module
/// above the services that is not listed names nothing of the store.
const STORE_ABOVE_SERVICES: &[(&str, &[&str], &str)] = &[
    (
        "http",
        &["StoreError"],
        "services::Error carries it; an authorizer's `unavailable` denial becomes one",
    ),
    (
        "dialects",
        &["StoreError"],
        "services::Error carries it (their error mapping's tests build one)",
    ),
    (
        "app",
        &["Store"],
        "it connects the one Store each cold start builds",
    ),
];

/// Upward imports allowed on purpose: (file under `shared/src`, module it uses, why).
/// Empty: none is needed today. An entry here is a debt, named.
const ALLOWED: &[(&str, &str, &str)] = &[];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file under `src`: `dialects/asksage/views.rs` is
/// `[dialects, asksage, views]`, `store/mod.rs` is `[store]`, `lib.rs` is `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("a file name");
    match file.as_str() {
        "mod.rs" | "lib.rs" | "main.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    parts
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Colons,
    Open,
    Close,
    Comma,
    Other,
}

/// Rust source as tokens that matter for paths, with comments, strings and char literals
/// left out (a doc link to `crate::x` is not a dependency).
fn tokens(source: &str) -> Vec<Token> {
    lexed(source).into_iter().map(|(token, _)| token).collect()
}

/// [`tokens`], each with its line number.
fn lexed(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut counted = 0;
    while i < chars.len() {
        line += chars[counted..i].iter().filter(|c| **c == '\n').count();
        counted = i;
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && {
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            chars.get(j) == Some(&'"')
        } {
            // A raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while chars[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    i = j + 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push((Token::Other, line));
        } else if c == '"' {
            i += 1;
            while chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push((Token::Other, line));
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
            out.push((Token::Other, line));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Token::Ident(chars[start..i].iter().collect()), line));
        } else if c == ':' && next == Some(':') {
            out.push((Token::Colons, line));
            i += 2;
        } else {
            match c {
                '{' => out.push((Token::Open, line)),
                '}' => out.push((Token::Close, line)),
                ',' => out.push((Token::Comma, line)),
                _ if c.is_whitespace() => {}
                _ => out.push((Token::Other, line)),
            }
            i += 1;
        }
    }
    out
}

/// The crate-root paths a file names, to two segments (`crate::x::y…` gives `[x, y]`; `super::…` chains are
/// resolved against the file's module and its inline `mod name { … }` blocks, and count
/// only when they climb to the root), each with the path's first few tokens for the report.
fn root_names(file_module: &[String], source: &str) -> Vec<(Vec<String>, String, usize)> {
    let (tokens, lines): (Vec<Token>, Vec<usize>) = lexed(source).into_iter().unzip();
    let mut found = Vec::new();
    // Inline modules open at a brace depth: (name, depth inside its braces).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Open => depth += 1,
            Token::Close => {
                if inline.last().is_some_and(|(_, at)| *at == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Open)) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
            }
            Token::Ident(word)
                if (word == "crate" || word == "super")
                    && tokens.get(i + 1) == Some(&Token::Colons)
                    // `foo::crate` cannot occur; `x::super` neither: a path starts here.
                    && (i == 0 || tokens[i - 1] != Token::Colons) =>
            {
                let mut j = i;
                let at_root = if word == "crate" {
                    j += 2;
                    true
                } else {
                    let mut climbs = 0;
                    while tokens.get(j) == Some(&Token::Ident("super".into()))
                        && tokens.get(j + 1) == Some(&Token::Colons)
                    {
                        climbs += 1;
                        j += 2;
                    }
                    let here = file_module.len() + inline.len();
                    climbs >= here
                };
                if at_root {
                    let shown = describe(&tokens[i..(j + 3).min(tokens.len())]);
                    for path in segments(&tokens[j..], 2) {
                        found.push((path, shown.clone(), lines[i]));
                    }
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The first two segments of a path (`[x, y]` of `x::y::z`, `[x]` of `x`), or of each
/// path a `{…}` group spells (`x::{y, z::w}` gives `[x, y]` and `[x, z]`); a glob is `*`.
fn segments(tokens: &[Token], depth: usize) -> Vec<Vec<String>> {
    match tokens.first() {
        Some(Token::Ident(name)) => {
            if depth > 1 && tokens.get(1) == Some(&Token::Colons) {
                let rest = segments(&tokens[2..], depth - 1);
                if rest.is_empty() {
                    return vec![vec![name.clone()]];
                }
                rest.into_iter()
                    .map(|mut tail| {
                        tail.insert(0, name.clone());
                        tail
                    })
                    .collect()
            } else {
                vec![vec![name.clone()]]
            }
        }
        Some(Token::Open) => {
            let mut paths = Vec::new();
            let mut level = 0;
            let mut item_start = 1;
            for (at, token) in tokens.iter().enumerate() {
                match token {
                    Token::Open => level += 1,
                    Token::Close => {
                        level -= 1;
                        if level == 0 {
                            if item_start < at {
                                paths.extend(segments(&tokens[item_start..at], depth));
                            }
                            break;
                        }
                    }
                    Token::Comma if level == 1 => {
                        if item_start < at {
                            paths.extend(segments(&tokens[item_start..at], depth));
                        }
                        item_start = at + 1;
                    }
                    _ => {}
                }
            }
            paths
        }
        // A glob (`*`): it reaches everything there.
        _ => vec![vec!["*".into()]],
    }
}

fn describe(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|token| match token {
            Token::Ident(name) => name.as_str(),
            Token::Colons => "::",
            Token::Open => "{",
            Token::Close => "}",
            Token::Comma => ",",
            Token::Other => "…",
        })
        .collect()
}

fn rank_of(module: &str) -> Option<u8> {
    let module = ROOT_REEXPORTS
        .iter()
        .find(|(name, _)| *name == module)
        .map_or(module, |(_, from)| from);
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, rank)| *rank)
}

/// Every top-level `pub mod`/`mod` that `lib.rs` declares.
fn declared_modules(lib: &str) -> Vec<String> {
    let tokens = tokens(lib);
    let mut modules = Vec::new();
    for window in tokens.windows(3) {
        if let [Token::Ident(word), Token::Ident(name), Token::Other] = window
            && word == "mod"
        {
            modules.push(name.clone());
        }
    }
    modules.sort();
    modules
}

#[test]
fn every_module_has_a_layer() {
    let lib = fs::read_to_string(repo_root().join("shared/src/lib.rs")).unwrap();
    let mut layered: Vec<String> = LAYERS.iter().map(|(name, _)| name.to_string()).collect();
    layered.sort();
    assert_eq!(
        declared_modules(&lib),
        layered,
        "shared/src/lib.rs's modules and tests/layering.rs's LAYERS differ: place every \
         top-level module in a layer"
    );
}

#[test]
fn imports_point_only_down() {
    let src = repo_root().join("shared/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "shared/src read: {} files", files.len());
    let mut violations = Vec::new();
    let mut edges: BTreeMap<(String, String), usize> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let shown = relative.display().to_string();
        let module = module_path(relative);
        let Some(own) = module.first() else {
            continue; // lib.rs declares the modules and re-exports; it sits above them all.
        };
        let own_rank = rank_of(own)
            .unwrap_or_else(|| panic!("{shown}: module `{own}` has no layer in LAYERS"));
        let source = fs::read_to_string(file).unwrap();
        for (segments, path, line) in root_names(&module, &source) {
            let name = segments[0].clone();
            if &name == own {
                continue;
            }
            let Some(rank) = rank_of(&name) else {
                violations.push(format!(
                    "{shown}:{line}: `{path}` reaches `{name}`, which has no layer in LAYERS"
                ));
                continue;
            };
            *edges.entry((own.clone(), name.clone())).or_default() += 1;
            let allowed = ALLOWED
                .iter()
                .any(|(file, to, _)| *file == shown && *to == name);
            if rank >= own_rank && !allowed {
                violations.push(format!(
                    "{shown}:{line} (`{own}`, layer {own_rank}) uses `{path}` (`{name}`, layer \
                     {rank}): imports must point to a lower layer"
                ));
            }
        }
    }
    // The allowances must still be needed.
    for (file, to, why) in ALLOWED {
        let module = module_path(Path::new(file));
        let source = fs::read_to_string(src.join(file))
            .unwrap_or_else(|e| panic!("ALLOWED names {file}: {e}"));
        assert!(
            root_names(&module, &source)
                .iter()
                .any(|(segments, _, _)| segments[0] == *to),
            "ALLOWED lets {file} use `{to}` ({why}), but it no longer does: remove the entry"
        );
    }
    // A sanity check that the scan sees imports at all.
    assert!(
        edges.contains_key(&("services".into(), "store".into())),
        "no services → store import found: the scan is broken ({edges:?})"
    );
    assert!(
        violations.is_empty(),
        "{} upward import(s) in shared/src:\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

#[test]
fn above_the_services_the_store_is_named_only_for_its_error() {
    let src = repo_root().join("shared/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let services = rank_of("services").unwrap();
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = module_path(relative);
        let Some(own) = module.first() else { continue };
        if rank_of(own).is_none_or(|rank| rank <= services) {
            continue;
        }
        let allowed: &[&str] = STORE_ABOVE_SERVICES
            .iter()
            .find(|(user, _, _)| user == own)
            .map_or(&[], |(_, items, _)| items);
        let source = fs::read_to_string(file).unwrap();
        for (segments, path, line) in root_names(&module, &source) {
            if segments[0] != "store" {
                continue;
            }
            let item = segments.get(1).map_or("*", String::as_str);
            if !allowed.contains(&item) {
                violations.push(format!(
                    "{}:{line} (`{own}`) uses `{path}` (`store::{item}`): above the services, \
                     reach the store through them; a read model belongs in `domain`",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "{} store import(s) above the services:\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

#[test]
fn function_crates_depend_on_no_other_function() {
    let functions = repo_root().join("functions");
    let mut crates: Vec<PathBuf> = fs::read_dir(&functions)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    assert!(crates.len() > 5, "functions/ read: {crates:?}");
    let mut violations = Vec::new();
    for dir in &crates {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        for line in manifest.lines() {
            if let Some(at) = line.find("path = \"") {
                let target = &line[at + 8..];
                let target = &target[..target.find('"').unwrap_or(target.len())];
                let resolved = dir.join(target);
                // `[[bin]]`/`[lib]` paths are inside the crate; a dependency elsewhere
                // under functions/ is another function.
                if !resolved.starts_with(dir)
                    && fs::canonicalize(&resolved)
                        .is_ok_and(|p| p.starts_with(fs::canonicalize(&functions).unwrap()))
                {
                    violations.push(format!("{}: {}", dir.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "a function crate depends on another function:\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn the_scan_resolves_paths() {
    let module = vec!["http".to_owned(), "caller".to_owned()];
    let source = r#"
        //! See [`crate::routes`].
        use crate::{domain::principal::Principal, services::{Error, Services}};
        use super::problem::Problem;
        fn f() -> &'static str { let _ = crate::store::StoreError::Corrupt; "crate::app" }
        mod tests {
            use super::*;
            use super::super::super::authorizer::DENIED_MARKER;
        }
    "#;
    let found: Vec<(String, usize)> = root_names(&module, source)
        .into_iter()
        .map(|(segments, _, line)| (segments.join("::"), line))
        .collect();
    let expected = [
        ("domain::principal", 3),
        ("services::Error", 3),
        ("services::Services", 3),
        ("store::StoreError", 5),
        ("authorizer::DENIED_MARKER", 8),
    ];
    assert_eq!(found, expected.map(|(path, line)| (path.to_owned(), line)));
}
