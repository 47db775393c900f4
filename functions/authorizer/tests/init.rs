//! A route policy that cannot be used stops the authorizer at init, before it serves
//! anything, with a message naming the entry (Lambda shows it as the init failure).

use std::process::Command;

#[test]
fn a_bad_route_policy_stops_init_naming_the_entry() {
    let output = Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .env_clear()
        .env("KEYGATE_TABLE", "keygate")
        .env(
            "KEYGATE_ROUTE_POLICY",
            r#"{"routes": [{"route": "POST /v1/single-turn/q2a", "scopes": ["chatt"]}]}"#,
        )
        .output()
        .expect("the authorizer binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            r#"keygate: KEYGATE_ROUTE_POLICY is invalid: routes[0] ("POST /v1/single-turn/q2a"): unknown scope "chatt""#
        ),
        "{stderr}"
    );
}
