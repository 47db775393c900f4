//! Teams and their keys (service accounts): tenant admins manage teams and members
//! (`/v1/teams...`); a team's admins create, list, change, roll and revoke the team's keys,
//! which belong to the team and outlive the person who made them.

use keygate::authorizer::authorize;
use keygate_tests::{Reply, StatusCode, TestApp, authorizer_event, spawn_app};
use serde_json::{Value, json};

use crate::metering::{METERED, clear_of_boundary};

const ALL: [&str; 4] = ["chat", "read", "write", "admin"];

async fn new_team(app: &TestApp, name: &str) -> String {
    let made = app
        .call(
            "POST",
            "/v1/teams",
            Some(&app.admin_key),
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    made.body["id"].as_str().unwrap().to_owned()
}

async fn put_member(app: &TestApp, team_id: &str, user_id: &str, role: &str) -> Reply {
    app.call(
        "PUT",
        &format!("/v1/teams/{team_id}/members/{user_id}"),
        Some(&app.admin_key),
        Some(json!({"role": role})),
    )
    .await
}

/// A member user of the tenant with a key of `key_body`, made `role` of the team: (user
/// id, key secret).
async fn team_member(
    app: &TestApp,
    team_id: &str,
    email: &str,
    role: &str,
    key_body: Value,
) -> (String, String) {
    let (user_id, key) = app.new_user_with_key(email, key_body).await;
    let added = put_member(app, team_id, &user_id, role).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    (user_id, key)
}

async fn create_team_key(app: &TestApp, credential: &str, team_id: &str, body: Value) -> Reply {
    app.call(
        "POST",
        &format!("/v1/teams/{team_id}/api-keys"),
        Some(credential),
        Some(body),
    )
    .await
}

fn assert_problem(reply: &Reply, status: StatusCode, field: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["status"], status.as_u16(), "{}", reply.body);
    if let Some(field) = field {
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
}

#[tokio::test]
async fn tenant_admins_manage_teams_and_members() {
    let app = spawn_app().await;
    let team_id = new_team(&app, "Data platform").await;
    let admin = Some(app.admin_key.as_str());

    for bad in [
        json!({}),
        json!({"name": "  "}),
        json!({"name": "x".repeat(256)}),
    ] {
        let refused = app.call("POST", "/v1/teams", admin, Some(bad)).await;
        assert_problem(&refused, StatusCode::BAD_REQUEST, Some("name"));
    }
    let read = app
        .call("GET", &format!("/v1/teams/{team_id}"), admin, None)
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["name"], "Data platform");
    assert_eq!(read.body["member_count"], 0);
    let renamed = app
        .call(
            "PATCH",
            &format!("/v1/teams/{team_id}"),
            admin,
            Some(json!({"name": "Data"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Data");
    let second = new_team(&app, "Search").await;
    let page = app.call("GET", "/v1/teams?limit=1", admin, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["items"][0]["id"], team_id.as_str());
    let cursor = page.body["next_cursor"].as_str().expect("a second page");
    let rest = app
        .call(
            "GET",
            &format!("/v1/teams?limit=1&cursor={cursor}"),
            admin,
            None,
        )
        .await;
    assert_eq!(
        rest.body["items"][0]["id"],
        second.as_str(),
        "{}",
        rest.body
    );

    // Members: added (201), role changed (200), listed, removed (204, then 404).
    let (user_id, member_key) = app
        .new_user_with_key("ada@example.com", json!({"name": "k", "scopes": ALL}))
        .await;
    let added = put_member(&app, &team_id, &user_id, "member").await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["role"], "member");
    let promoted = put_member(&app, &team_id, &user_id, "admin").await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(promoted.body["role"], "admin");
    assert_eq!(promoted.body["added_at"], added.body["added_at"]);
    let bad_role = put_member(&app, &team_id, &user_id, "owner").await;
    assert_problem(&bad_role, StatusCode::BAD_REQUEST, Some("role"));
    let nobody = put_member(&app, &team_id, "01KAAAAAAAAAAAAAAAAAAAAAAA", "member").await;
    assert_problem(&nobody, StatusCode::NOT_FOUND, None);
    let members = app
        .call("GET", &format!("/v1/teams/{team_id}/members"), admin, None)
        .await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.body);
    assert_eq!(members.body["items"][0]["user_id"], user_id.as_str());
    assert_eq!(members.body["items"][0]["role"], "admin");
    let counted = app
        .call("GET", &format!("/v1/teams/{team_id}"), admin, None)
        .await;
    assert_eq!(counted.body["member_count"], 1);

    // Unknown, malformed and other tenants' teams are not found; members are no tenant
    // admins.
    for path in [
        "/v1/teams/01KAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        "/v1/teams/not-a-team".to_owned(),
    ] {
        let missing = app.call("GET", &path, admin, None).await;
        assert_problem(&missing, StatusCode::NOT_FOUND, None);
    }
    let other = app.other_tenant("root@other.example.com").await;
    let foreign = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}"),
            Some(&other.admin_key),
            None,
        )
        .await;
    assert_problem(&foreign, StatusCode::NOT_FOUND, None);
    let foreign_member = app
        .call(
            "PUT",
            &format!("/v1/teams/{team_id}/members/{}", other.admin_id),
            Some(&other.admin_key),
            Some(json!({})),
        )
        .await;
    assert_problem(&foreign_member, StatusCode::NOT_FOUND, None);
    let not_admin = app
        .call(
            "POST",
            "/v1/teams",
            Some(&member_key),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_problem(&not_admin, StatusCode::FORBIDDEN, None);

    let path = format!("/v1/teams/{team_id}/members/{user_id}");
    let removed = app.call("DELETE", &path, admin, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let again = app.call("DELETE", &path, admin, None).await;
    assert_problem(&again, StatusCode::NOT_FOUND, None);

    // Every change is in the tenant's trail.
    let trail = app.audit(&app.admin_key, "limit=50").await;
    let types: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for wanted in [
        "team.created",
        "team.renamed",
        "team.member_put",
        "team.member_removed",
    ] {
        assert!(types.contains(&wanted), "{wanted} in {types:?}");
    }
}

#[tokio::test]
async fn a_team_key_keeps_working_after_its_creator_leaves_and_is_deactivated() {
    let app = spawn_app().await;
    let team_id = new_team(&app, "Deploys").await;
    let (creator_id, creator_key) = team_member(
        &app,
        &team_id,
        "creator@example.com",
        "admin",
        json!({"name": "own", "scopes": ["chat", "read", "write", "verify"]}),
    )
    .await;
    let created = create_team_key(
        &app,
        &creator_key,
        &team_id,
        json!({"name": "ci", "scopes": ["chat", "read"]}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["team_id"], team_id.as_str());
    assert_eq!(created.body["created_by"], creator_id.as_str());
    let team_key = created.body["key"].as_str().unwrap().to_owned();
    let team_key_id = created.body["id"].as_str().unwrap().to_owned();

    // The creator's own keys are revoked and the creator leaves the team.
    let revoked = app
        .call(
            "DELETE",
            "/v1/api-keys?exclude_current=false",
            Some(&creator_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(
        revoked.body["revoked_count"], 1,
        "the team key is not the creator's"
    );
    let left = app
        .call(
            "DELETE",
            &format!("/v1/teams/{team_id}/members/{creator_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
    let creator_gone = app
        .call("GET", "/v1/auth/me", Some(&creator_key), None)
        .await;
    assert_eq!(creator_gone.status, StatusCode::UNAUTHORIZED);
    // ...and is offboarded: deactivated, which refuses every credential of theirs.
    let offboarded = app
        .call(
            "DELETE",
            &format!("/v1/users/{creator_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(offboarded.status, StatusCode::OK, "{}", offboarded.body);
    let other_instance = app.other_instance(&[]).await;
    assert!(
        other_instance.verify(&team_key).await.is_ok(),
        "another instance still admits the team key"
    );

    // The team key still works, as the team: /v1/auth/me, a chat, the verify API, the
    // authorizer's context.
    let me = app.call("GET", "/v1/auth/me", Some(&team_key), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["team_id"], team_id.as_str());
    assert_eq!(me.body["user_id"], team_id.as_str());
    assert_eq!(me.body["role"], "member");
    assert_eq!(me.body["scopes"], json!(["chat", "read"]));
    let chats = app.call("GET", "/v1/chats", Some(&team_key), None).await;
    assert_eq!(chats.status, StatusCode::OK, "{}", chats.body);
    let verifier = app.service_key(&["verify"]).await;
    let verified = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&verifier),
            Some(json!({"key": team_key})),
        )
        .await;
    assert_eq!(verified.body["code"], "VALID", "{}", verified.body);
    assert_eq!(verified.body["team_id"], team_id.as_str());
    assert_eq!(verified.body["key_id"], team_key_id.as_str());
    let person = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&verifier),
            Some(json!({"key": app.admin_key})),
        )
        .await;
    assert_eq!(person.body["team_id"], Value::Null, "{}", person.body);
    let decided = authorize(&app.services, &authorizer_event(&team_key)).await;
    assert!(decided.is_authorized);
    assert_eq!(decided.context["keygate_team_id"], team_id.as_str());
    assert_eq!(decided.context["user_id"], team_id.as_str());
    let personal = authorize(&app.services, &authorizer_event(&app.admin_key)).await;
    assert!(personal.context.get("keygate_team_id").is_none());

    // A token it mints stays the team's.
    let temp = app
        .call("POST", "/v1/auth/tokens", Some(&team_key), Some(json!({})))
        .await;
    assert_eq!(temp.status, StatusCode::OK, "{}", temp.body);
    let token = temp.body["token"].as_str().unwrap();
    let token_me = app.call("GET", "/v1/auth/me", Some(token), None).await;
    assert_eq!(
        token_me.body["team_id"],
        team_id.as_str(),
        "{}",
        token_me.body
    );

    // The former team admin manages the team's keys no more; a tenant admin still does.
    let (_, stranger_key) = app
        .new_user_with_key("stranger@example.com", json!({"name": "k", "scopes": ALL}))
        .await;
    let hidden = app.read_key(&stranger_key, &team_key_id).await;
    assert_problem(&hidden, StatusCode::NOT_FOUND, None);
    let read = app.read_key(&app.admin_key, &team_key_id).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["team_id"], team_id.as_str());
}

#[tokio::test]
async fn a_team_key_is_bounded_by_its_creator_and_never_acts_as_a_person() {
    let app = spawn_app().await;
    let team_id = new_team(&app, "Bounded").await;
    let soon = keygate::domain::clock::to_rfc3339(keygate::domain::clock::now_epoch() + 3600);
    let (_, narrow) = team_member(
        &app,
        &team_id,
        "narrow@example.com",
        "admin",
        json!({"name": "narrow", "scopes": ["chat", "read"], "expires_at": soon}),
    )
    .await;
    let wider = create_team_key(
        &app,
        &narrow,
        &team_id,
        json!({"name": "w", "scopes": ["write"]}),
    )
    .await;
    assert_problem(&wider, StatusCode::FORBIDDEN, None);
    let verify = create_team_key(
        &app,
        &narrow,
        &team_id,
        json!({"name": "v", "scopes": ["chat", "verify"]}),
    )
    .await;
    assert_problem(&verify, StatusCode::FORBIDDEN, None);
    let later = create_team_key(
        &app,
        &narrow,
        &team_id,
        json!({"name": "later", "scopes": ["chat"], "expires_at": "2100-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.body);
    assert_eq!(
        later.body["expires_at"],
        soon.as_str(),
        "no later than the creator's key"
    );
    let bad = create_team_key(
        &app,
        &narrow,
        &team_id,
        json!({"name": "b", "type": "root"}),
    )
    .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, Some("type"));
    let unnamed = create_team_key(&app, &narrow, &team_id, json!({})).await;
    assert_problem(&unnamed, StatusCode::BAD_REQUEST, Some("name"));

    // Only the team's admins: a plain member is refused, a stranger finds no team.
    let (_, plain) = team_member(
        &app,
        &team_id,
        "plain@example.com",
        "member",
        json!({"name": "plain", "scopes": ALL}),
    )
    .await;
    let refused = create_team_key(&app, &plain, &team_id, json!({"name": "p"})).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, None);
    let listed = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}/api-keys"),
            Some(&plain),
            None,
        )
        .await;
    assert_problem(&listed, StatusCode::FORBIDDEN, None);
    let (_, stranger) = app
        .new_user_with_key("far@example.com", json!({"name": "far", "scopes": ALL}))
        .await;
    let unseen = create_team_key(&app, &stranger, &team_id, json!({"name": "s"})).await;
    assert_problem(&unseen, StatusCode::NOT_FOUND, None);

    // A service account has its scopes' rights, never a person's.
    let full = create_team_key(
        &app,
        &app.admin_key,
        &team_id,
        json!({"name": "full", "scopes": ALL}),
    )
    .await;
    assert_eq!(full.status, StatusCode::CREATED, "{}", full.body);
    let team_key = full.body["key"].as_str().unwrap().to_owned();
    let team_key_id = full.body["id"].as_str().unwrap().to_owned();
    let as_person: [(&str, String, Option<Value>); 7] = [
        ("POST", "/v1/api-keys".into(), Some(json!({"name": "mine"}))),
        ("GET", "/v1/api-keys".into(), None),
        ("GET", format!("/v1/api-keys/{team_key_id}"), None),
        ("DELETE", "/v1/api-keys".into(), None),
        (
            "PUT",
            "/v1/users/me/password".into(),
            Some(json!({"new_password": "a long new passphrase"})),
        ),
        ("POST", "/v1/teams".into(), Some(json!({"name": "t"}))),
        (
            "POST",
            format!("/v1/teams/{team_id}/api-keys"),
            Some(json!({"name": "t"})),
        ),
    ];
    for (method, path, body) in as_person {
        let reply = app.call(method, &path, Some(&team_key), body).await;
        assert_problem(&reply, StatusCode::FORBIDDEN, None);
    }
    let users = app.call("GET", "/v1/users", Some(&team_key), None).await;
    assert_problem(&users, StatusCode::FORBIDDEN, None);
    let still = app.call("GET", "/v1/auth/me", Some(&team_key), None).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.body);
}

#[tokio::test]
async fn team_admins_list_change_roll_and_revoke_the_team_s_keys() {
    let app = spawn_app().await;
    let team_id = new_team(&app, "Ops").await;
    let (_, admin_key) = team_member(
        &app,
        &team_id,
        "ops@example.com",
        "admin",
        json!({"name": "ops", "scopes": ALL}),
    )
    .await;
    let (_, plain) = team_member(
        &app,
        &team_id,
        "plain@example.com",
        "member",
        json!({"name": "plain", "scopes": ALL}),
    )
    .await;
    let mut ids = Vec::new();
    for index in 0..10 {
        let made = create_team_key(
            &app,
            &admin_key,
            &team_id,
            json!({"name": format!("svc {index}")}),
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        ids.push(made.body["id"].as_str().unwrap().to_owned());
    }
    let eleventh = create_team_key(&app, &admin_key, &team_id, json!({"name": "one more"})).await;
    assert_problem(&eleventh, StatusCode::CONFLICT, None);
    let counted = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(counted.body["active_keys"], 10);
    // The user's own limit is untouched by the team's keys.
    let own = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&admin_key),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);

    let page = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}/api-keys?limit=4"),
            Some(&admin_key),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["items"][0]["id"], ids[9].as_str(), "newest first");
    assert_eq!(page.body["items"].as_array().unwrap().len(), 4);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}/api-keys?limit=4&cursor={cursor}"),
            Some(&admin_key),
            None,
        )
        .await;
    assert_eq!(
        next.body["items"][0]["id"],
        ids[5].as_str(),
        "{}",
        next.body
    );
    let bad_limit = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}/api-keys?limit=0"),
            Some(&admin_key),
            None,
        )
        .await;
    assert_problem(&bad_limit, StatusCode::BAD_REQUEST, Some("limit"));

    // Pause frees a slot on the team's counter; a plain member cannot touch the key.
    let key_path = format!("/v1/api-keys/{}", ids[0]);
    let blocked = app
        .call(
            "PATCH",
            &key_path,
            Some(&plain),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_problem(&blocked, StatusCode::NOT_FOUND, None);
    let paused = app
        .call(
            "PATCH",
            &key_path,
            Some(&admin_key),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.body["is_active"], false);
    let refilled = create_team_key(&app, &admin_key, &team_id, json!({"name": "refill"})).await;
    assert_eq!(refilled.status, StatusCode::CREATED, "{}", refilled.body);
    let resumed = app
        .call(
            "PATCH",
            &key_path,
            Some(&admin_key),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_problem(&resumed, StatusCode::CONFLICT, None);

    // Rolled: the successor is the team's too; revoked by the team admin.
    let rolled = app
        .call(
            "POST",
            &format!("/v1/api-keys/{}/roll", ids[1]),
            Some(&admin_key),
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    assert_eq!(rolled.body["team_id"], team_id.as_str());
    let successor = rolled.body["key"].as_str().unwrap();
    let me = app.call("GET", "/v1/auth/me", Some(successor), None).await;
    assert_eq!(me.body["team_id"], team_id.as_str(), "{}", me.body);
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{}", ids[2]),
            Some(&admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string());
    let with_revoked = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}/api-keys?include_revoked=true&limit=200"),
            Some(&admin_key),
            None,
        )
        .await;
    // Ten, the refill and the successor.
    assert_eq!(with_revoked.body["items"].as_array().unwrap().len(), 12);
    let live = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}/api-keys?limit=200"),
            Some(&admin_key),
            None,
        )
        .await;
    assert_eq!(
        live.body["items"].as_array().unwrap().len(),
        11,
        "all but the revoked"
    );

    // The team is not deleted while it has unrevoked keys; once they are revoked it is, with
    // its members.
    let busy = app
        .call(
            "DELETE",
            &format!("/v1/teams/{team_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_problem(&busy, StatusCode::CONFLICT, None);
    for key in live.body["items"].as_array().unwrap() {
        let path = format!("/v1/api-keys/{}", key["id"].as_str().unwrap());
        let gone = app.call("DELETE", &path, Some(&app.admin_key), None).await;
        assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    }
    let deleted = app
        .call(
            "DELETE",
            &format!("/v1/teams/{team_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let after = app
        .call(
            "GET",
            &format!("/v1/teams/{team_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_problem(&after, StatusCode::NOT_FOUND, None);
    let members_left = app
        .scan_table()
        .await
        .iter()
        .filter(|item| {
            item.get("PK")
                .and_then(|pk| pk.as_s().ok())
                .is_some_and(|pk| pk.ends_with(&team_id) && pk.starts_with("TEAM#"))
        })
        .count();
    assert_eq!(members_left, 0, "the memberships went with the team");
}

#[tokio::test]
async fn a_team_budget_holds_every_team_key_together() {
    let app = spawn_app().await;
    clear_of_boundary(86_400, 600);
    let team_id = new_team(&app, "Metered").await;
    let path = format!("/v1/teams/{team_id}/budget");
    let invalid = app
        .call(
            "PUT",
            &path,
            Some(&app.admin_key),
            Some(json!({"ratelimits": [{"name": "requests", "limit": 0, "window_secs": 60}]})),
        )
        .await;
    assert_problem(
        &invalid,
        StatusCode::BAD_REQUEST,
        Some("ratelimits[0].limit"),
    );
    let set = app
        .call(
            "PUT",
            &path,
            Some(&app.admin_key),
            Some(json!({"ratelimits": [{"name": "requests", "limit": 5, "window_secs": 86_400}]})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["level"], "team");
    assert_eq!(set.body["team_id"], team_id.as_str());
    let mut keys = Vec::new();
    for index in 0..3 {
        let made = create_team_key(
            &app,
            &app.admin_key,
            &team_id,
            json!({"name": format!("k{index}"), "scopes": ["chat"]}),
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        keys.push(made.body["key"].as_str().unwrap().to_owned());
    }
    let replies = futures::future::join_all(
        keys.iter()
            .flat_map(|key| std::iter::repeat_n(key, 4))
            .map(|key| app.call("GET", METERED, Some(key), None)),
    )
    .await;
    let admitted = replies
        .iter()
        .filter(|r| {
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::TOO_MANY_REQUESTS,
                "{} {}",
                r.status,
                r.body
            );
            r.status == StatusCode::OK
        })
        .count();
    assert_eq!(
        admitted, 5,
        "12 requests by 3 team keys against one budget of 5"
    );
    let read = app.call("GET", &path, Some(&app.admin_key), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["ratelimits"][0]["remaining"], 0);
    let removed = app.call("DELETE", &path, Some(&app.admin_key), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app.call("GET", &path, Some(&app.admin_key), None).await;
    assert_problem(&gone, StatusCode::NOT_FOUND, None);
    let free = app.call("GET", METERED, Some(&keys[0]), None).await;
    assert_eq!(
        free.status,
        StatusCode::OK,
        "the budget removed holds nothing"
    );
}
