use futures::future::join_all;
use keygate_tests::{Reply, StatusCode, TestApp, spawn_app, strings_in};
use serde_json::{Value, json};

async fn create(app: &TestApp, key: &str, body: Value) -> Reply {
    app.call("POST", "/v1/datasets", Some(key), Some(body))
        .await
}

async fn grant(app: &TestApp, key: &str, dataset: &str, email: &str, permission: &str) -> Reply {
    app.call(
        "PUT",
        &format!("/v1/datasets/{dataset}/grants/{email}"),
        Some(key),
        Some(json!({ "permission": permission })),
    )
    .await
}

async fn list(app: &TestApp, key: &str, query: &str) -> Reply {
    let reply = app
        .call("GET", &format!("/v1/datasets{query}"), Some(key), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

/// The full names in a listing, in order.
fn names(listing: &Reply) -> Vec<String> {
    listing.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["full_name"].as_str().unwrap().to_owned())
        .collect()
}

fn find<'a>(listing: &'a Reply, full_name: &str) -> Option<&'a Value> {
    listing.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["full_name"] == full_name)
}

/// Every item of the table whose partition is the dataset's, or that lists it.
/// Items naming the dataset, apart from its audit events (history outlives the dataset).
async fn items_of(app: &TestApp, full_name: &str) -> usize {
    app.scan_table()
        .await
        .iter()
        .filter(|item| {
            item.get("type")
                .and_then(|t| t.as_s().ok())
                .map(String::as_str)
                != Some("AuditEvent")
        })
        .filter(|item| {
            let mut texts = Vec::new();
            item.values().for_each(|v| strings_in(v, &mut texts));
            texts.iter().any(|t| t.contains(full_name))
        })
        .count()
}

#[tokio::test]
async fn create_returns_the_record_and_refuses_bad_names() {
    let app = spawn_app().await;
    let created = create(&app, &app.admin_key, json!({"name": "MyDataset123"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let full_name = format!("user_custom_{}_MyDataset123_content", app.admin_id);
    assert_eq!(created.body["full_name"], full_name.as_str());
    assert_eq!(created.body["name"], "MyDataset123");
    assert_eq!(created.body["owner_id"], app.admin_id.as_str());
    assert_eq!(created.body["owner_email"], app.admin_email.as_str());
    assert_eq!(created.body["cui"], false);
    assert_eq!(created.body["classification"], "unclassified");
    assert_eq!(created.body["permission"], "admin");
    assert_eq!(created.body["grantees"], json!([]));
    assert!(created.body["created_at"].is_string());

    let again = create(&app, &app.admin_key, json!({"name": "MyDataset123"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    for (body, status, field) in [
        (json!({}), StatusCode::BAD_REQUEST, "name"),
        (json!({"name": ""}), StatusCode::BAD_REQUEST, "name"),
        (json!({"name": "my data"}), StatusCode::BAD_REQUEST, "name"),
        (json!({"name": "my-data"}), StatusCode::BAD_REQUEST, "name"),
        (json!({"name": "CUI-"}), StatusCode::BAD_REQUEST, "name"),
        (
            json!({"name": "ok", "classification": "secret"}),
            StatusCode::BAD_REQUEST,
            "classification",
        ),
        (
            json!({"name": "CUI-Notes", "classification": "unclassified"}),
            StatusCode::BAD_REQUEST,
            "classification",
        ),
        (
            json!({"name": "x".repeat(65)}),
            StatusCode::NOT_ACCEPTABLE,
            "name",
        ),
        (
            json!({"name": "ok", "color": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "color",
        ),
    ] {
        let reply = create(&app, &app.admin_key, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    let too_long = create(&app, &app.admin_key, json!({"name": "x".repeat(65)})).await;
    assert_eq!(too_long.body["type"], "urn:keygate:problem:name-too-long");
    let longest = create(&app, &app.admin_key, json!({"name": "x".repeat(64)})).await;
    assert_eq!(longest.status, StatusCode::CREATED);
}

#[tokio::test]
async fn cui_datasets_need_a_cac_verified_account() {
    let app = spawn_app().await;
    let (user_id, key) = app
        .new_user_with_key(
            "cui@example.com",
            json!({"name": "k", "scopes": ["read", "write"]}),
        )
        .await;
    for body in [
        json!({"name": "CUI-Notes"}),
        json!({"name": "Notes", "classification": "cui"}),
    ] {
        let refused = create(&app, &key, body.clone()).await;
        assert_eq!(refused.status.as_u16(), 407, "{body}: {}", refused.body);
        assert_eq!(refused.body["type"], "urn:keygate:problem:cac-required");
        assert_eq!(refused.body["title"], "CAC required for this operation");
    }
    let plain = create(&app, &key, json!({"name": "Notes"})).await;
    assert_eq!(
        plain.status,
        StatusCode::CREATED,
        "unmarked content needs no CAC"
    );

    let marked = app
        .call(
            "PATCH",
            &format!("/v1/users/{user_id}"),
            Some(&app.admin_key),
            Some(json!({"cac_verified": true})),
        )
        .await;
    assert_eq!(marked.status, StatusCode::OK);
    let cui = create(&app, &key, json!({"name": "CUI-Notes"})).await;
    assert_eq!(cui.status, StatusCode::CREATED, "{}", cui.body);
    assert_eq!(cui.body["cui"], true);
    assert_eq!(cui.body["classification"], "cui");
    assert_eq!(
        cui.body["full_name"],
        format!("user_custom_{user_id}_CUI-Notes_content").as_str()
    );
    // A cui classification on an unmarked name marks the name.
    let classified = create(
        &app,
        &key,
        json!({"name": "Plans", "classification": "cui"}),
    )
    .await;
    assert_eq!(classified.status, StatusCode::CREATED);
    assert_eq!(classified.body["name"], "CUI-Plans");

    // Withdrawing the mark takes effect at once.
    app.call(
        "PATCH",
        &format!("/v1/users/{user_id}"),
        Some(&app.admin_key),
        Some(json!({"cac_verified": false})),
    )
    .await;
    let withdrawn = create(&app, &key, json!({"name": "CUI-More"})).await;
    assert_eq!(withdrawn.status.as_u16(), 407);
}

#[tokio::test]
async fn parallel_creates_of_one_name_yield_exactly_one() {
    let app = spawn_app().await;
    let replies =
        join_all((0..6).map(|_| create(&app, &app.admin_key, json!({"name": "Contended"})))).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 5));
    let full_name = format!("user_custom_{}_Contended_content", app.admin_id);
    assert_eq!(items_of(&app, &full_name).await, 1);
    assert_eq!(
        names(&list(&app, &app.admin_key, "").await),
        vec![full_name]
    );
}

#[tokio::test]
async fn a_grantee_sees_a_shared_dataset_until_deassigned() {
    let app = spawn_app().await;
    let (bob_id, bob) = app
        .new_user_with_key(
            "bob@example.com",
            json!({"name": "k", "scopes": ["read", "write"]}),
        )
        .await;
    app.new_user_with_key("carol@example.com", json!({"name": "k"}))
        .await;
    let created = create(&app, &app.admin_key, json!({"name": "Shared"})).await;
    let full_name = created.body["full_name"].as_str().unwrap().to_owned();
    assert!(names(&list(&app, &bob, "").await).is_empty());

    let granted = grant(&app, &app.admin_key, &full_name, "bob@example.com", "read").await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    assert_eq!(granted.body["dataset"], full_name.as_str());
    assert_eq!(granted.body["user_id"], bob_id.as_str());
    assert_eq!(granted.body["permission"], "read");

    let seen = list(&app, &bob, "").await;
    let shared = find(&seen, &full_name).expect("bob sees the shared dataset");
    assert_eq!(shared["permission"], "read");
    assert_eq!(shared["owner_email"], app.admin_email.as_str());
    assert!(
        shared.get("grantees").is_none(),
        "only with check_permissions"
    );

    let detailed = list(&app, &app.admin_key, "?check_permissions=true").await;
    let mine = find(&detailed, &full_name).unwrap();
    assert_eq!(mine["permission"], "admin");
    assert_eq!(mine["grantees"].as_array().unwrap().len(), 1);
    assert_eq!(mine["grantees"][0]["email"], "bob@example.com");
    assert_eq!(mine["grantees"][0]["permission"], "read");
    let bobs_view = list(&app, &bob, "?check_permissions=true").await;
    assert_eq!(
        find(&bobs_view, &full_name).unwrap()["grantees"][0]["user_id"],
        bob_id.as_str()
    );

    // Update: the same route changes the level.
    let raised = grant(&app, &app.admin_key, &full_name, "bob@example.com", "write").await;
    assert_eq!(raised.status, StatusCode::OK, "{}", raised.body);
    let seen = list(&app, &bob, "").await;
    assert_eq!(find(&seen, &full_name).unwrap()["permission"], "write");

    // Write is not admin: bob may neither share, deassign nor delete.
    let reshare = grant(&app, &bob, &full_name, "carol@example.com", "read").await;
    assert_eq!(reshare.status, StatusCode::FORBIDDEN);
    let delete = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);

    let deassigned = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}/grants/bob@example.com"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(deassigned.status, StatusCode::OK, "{}", deassigned.body);
    assert_eq!(deassigned.body["email"], "bob@example.com");
    assert!(names(&list(&app, &bob, "").await).is_empty());
    let detailed = list(&app, &app.admin_key, "?check_permissions=true").await;
    assert_eq!(find(&detailed, &full_name).unwrap()["grantees"], json!([]));
    // Now it is not bob's to see at all.
    let delete = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    let again = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}/grants/bob@example.com"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn grants_name_a_user_of_the_tenant_and_a_level() {
    let app = spawn_app().await;
    let (_, bob) = app
        .new_user_with_key(
            "bob@example.com",
            json!({"name": "k", "scopes": ["read", "write"]}),
        )
        .await;
    let created = create(&app, &app.admin_key, json!({"name": "Rules"})).await;
    let full_name = created.body["full_name"].as_str().unwrap().to_owned();
    let cases = [
        (
            "nobody@example.com",
            json!({"permission": "read"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            app.admin_email.as_str(),
            json!({"permission": "read"}),
            StatusCode::BAD_REQUEST,
            Some("email"),
        ),
        (
            "bob@example.com",
            json!({"permission": "owner"}),
            StatusCode::BAD_REQUEST,
            Some("permission"),
        ),
        (
            "bob@example.com",
            json!({}),
            StatusCode::BAD_REQUEST,
            Some("permission"),
        ),
        (
            "not-an-email",
            json!({"permission": "read"}),
            StatusCode::BAD_REQUEST,
            Some("email"),
        ),
    ];
    for (email, body, status, field) in cases {
        let reply = app
            .call(
                "PUT",
                &format!("/v1/datasets/{full_name}/grants/{email}"),
                Some(&app.admin_key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, status, "{email} {body}: {}", reply.body);
        if let Some(field) = field {
            assert_eq!(reply.body["field"], field, "{email} {body}");
        }
    }

    // An admin by grant manages grants, but the owner always holds admin.
    let granted = grant(&app, &app.admin_key, &full_name, "bob@example.com", "admin").await;
    assert_eq!(granted.status, StatusCode::CREATED);
    let to_owner = grant(&app, &bob, &full_name, &app.admin_email, "read").await;
    assert_eq!(to_owner.status, StatusCode::BAD_REQUEST);
    assert_eq!(to_owner.body["field"], "email");
    let to_self = grant(&app, &bob, &full_name, "bob@example.com", "read").await;
    assert_eq!(to_self.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deleting_a_dataset_removes_every_grant() {
    let app = spawn_app().await;
    let (_, carol) = app
        .new_user_with_key(
            "carol@example.com",
            json!({"name": "k", "scopes": ["read", "write"]}),
        )
        .await;
    let (_, dave) = app
        .new_user_with_key("dave@example.com", json!({"name": "k"}))
        .await;
    let created = create(&app, &app.admin_key, json!({"name": "Doomed"})).await;
    let full_name = created.body["full_name"].as_str().unwrap().to_owned();
    grant(
        &app,
        &app.admin_key,
        &full_name,
        "carol@example.com",
        "admin",
    )
    .await;
    // An admin by grant shares further.
    let by_carol = grant(&app, &carol, &full_name, "dave@example.com", "read").await;
    assert_eq!(by_carol.status, StatusCode::CREATED, "{}", by_carol.body);
    assert_eq!(items_of(&app, &full_name).await, 3, "dataset + two grants");

    // ... and may delete it.
    let deleted = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["full_name"], full_name.as_str());
    assert_eq!(items_of(&app, &full_name).await, 0, "nothing left dangling");
    for key in [&app.admin_key, &carol, &dave] {
        assert!(names(&list(&app, key, "").await).is_empty());
    }
    let again = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_needs_a_dataset_name() {
    let app = spawn_app().await;
    for path in ["/v1/datasets", "/v1/datasets/%20"] {
        let reply = app.call("DELETE", path, Some(&app.admin_key), None).await;
        assert_eq!(reply.status.as_u16(), 408, "{path}: {}", reply.body);
        assert_eq!(
            reply.body["type"],
            "urn:keygate:problem:missing-information"
        );
        assert_eq!(reply.body["title"], "Required information missing");
    }
    let malformed = app
        .call(
            "DELETE",
            "/v1/datasets/user_custom_x",
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let unknown = app
        .call(
            "DELETE",
            "/v1/datasets/user_custom_123_Nothing_content",
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The short name of one of the caller's own datasets names it too.
    create(&app, &app.admin_key, json!({"name": "Short"})).await;
    let by_short_name = app
        .call("DELETE", "/v1/datasets/Short", Some(&app.admin_key), None)
        .await;
    assert_eq!(
        by_short_name.status,
        StatusCode::OK,
        "{}",
        by_short_name.body
    );
    assert!(names(&list(&app, &app.admin_key, "").await).is_empty());
}

#[tokio::test]
async fn another_tenant_neither_sees_nor_receives_a_dataset() {
    let app = spawn_app().await;
    let other = app.other_tenant("outsider@other.example.com").await;
    let outsider = other.admin_key;
    let created = create(&app, &app.admin_key, json!({"name": "Internal"})).await;
    let full_name = created.body["full_name"].as_str().unwrap().to_owned();

    let to_outsider = grant(
        &app,
        &app.admin_key,
        &full_name,
        "outsider@other.example.com",
        "read",
    )
    .await;
    assert_eq!(to_outsider.status, StatusCode::NOT_FOUND);
    assert!(names(&list(&app, &outsider, "?check_permissions=true").await).is_empty());
    let delete = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    let self_grant = grant(&app, &outsider, &full_name, &app.admin_email, "admin").await;
    assert_eq!(self_grant.status, StatusCode::NOT_FOUND);
    assert_eq!(items_of(&app, &full_name).await, 1);
}

#[tokio::test]
async fn scopes_gate_changes_and_askers_are_refused() {
    let app = spawn_app().await;
    let (_, reader) = app
        .new_user_with_key(
            "reader@example.com",
            json!({"name": "k", "scopes": ["read"]}),
        )
        .await;
    let (_, writer) = app
        .new_user_with_key(
            "writer@example.com",
            json!({"name": "k", "scopes": ["write"]}),
        )
        .await;
    let (_, asker) = app
        .new_user_with_key(
            "asker@example.com",
            json!({"name": "k", "type": "asker", "scopes": ["chat", "read", "write"]}),
        )
        .await;
    assert_eq!(
        create(&app, &reader, json!({"name": "X"})).await.status,
        StatusCode::FORBIDDEN
    );
    list(&app, &reader, "").await;
    assert_eq!(
        create(&app, &writer, json!({"name": "X"})).await.status,
        StatusCode::CREATED
    );
    let unlisted = app.call("GET", "/v1/datasets", Some(&writer), None).await;
    assert_eq!(unlisted.status, StatusCode::FORBIDDEN, "listing needs read");
    for (method, body) in [("GET", None), ("POST", Some(json!({"name": "Y"})))] {
        let reply = app.call(method, "/v1/datasets", Some(&asker), body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method}");
    }
    let anonymous = app.call("GET", "/v1/datasets", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn listings_page_through_owned_then_shared_datasets() {
    let app = spawn_app().await;
    let (_, bob) = app
        .new_user_with_key(
            "bob@example.com",
            json!({"name": "k", "scopes": ["read", "write"]}),
        )
        .await;
    let mut owned = Vec::new();
    for name in ["First", "Second", "Third"] {
        let created = create(&app, &app.admin_key, json!({ "name": name })).await;
        owned.push(created.body["full_name"].as_str().unwrap().to_owned());
    }
    let mut shared = Vec::new();
    for name in ["Bobs1", "Bobs2"] {
        let created = create(&app, &bob, json!({ "name": name })).await;
        let full_name = created.body["full_name"].as_str().unwrap().to_owned();
        grant(&app, &bob, &full_name, &app.admin_email, "read").await;
        shared.push(full_name);
    }
    let mut seen = Vec::new();
    let mut query = "?limit=2&check_permissions=true".to_owned();
    for _ in 0..5 {
        let page = list(&app, &app.admin_key, &query).await;
        assert!(page.body["items"].as_array().unwrap().len() <= 2);
        for item in page.body["items"].as_array().unwrap() {
            assert!(item["grantees"].is_array(), "{item}");
        }
        seen.extend(names(&page));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&check_permissions=true&cursor={cursor}"),
            None => break,
        }
    }
    // Owned first, newest first; then shared, most recently shared first.
    let expected: Vec<String> = owned
        .iter()
        .rev()
        .chain(shared.iter().rev())
        .cloned()
        .collect();
    assert_eq!(seen, expected);

    for bad in ["limit=0", "limit=101", "cursor=%21%21", "cursor=b3duZWQ"] {
        let reply = app
            .call(
                "GET",
                &format!("/v1/datasets?{bad}"),
                Some(&app.admin_key),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn a_dataset_is_shared_with_at_most_fifty_users_and_still_deletes_at_once() {
    let app = spawn_app().await;
    let created = create(&app, &app.admin_key, json!({"name": "Popular"})).await;
    let full_name = created.body["full_name"].as_str().unwrap().to_owned();
    let emails: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    for batch in emails.chunks(10) {
        let made = join_all(batch.iter().map(|email| {
            app.call(
                "POST",
                "/v1/users",
                Some(&app.admin_key),
                Some(json!({ "email": email })),
            )
        }))
        .await;
        assert!(made.iter().all(|r| r.status == StatusCode::CREATED));
    }
    // One after another: moto is not safe for concurrent updates of one item's map
    // ("dictionary changed size during iteration"); DynamoDB itself serializes them.
    for email in &emails[..50] {
        let granted = grant(&app, &app.admin_key, &full_name, email, "read").await;
        assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    }
    let one_more = grant(&app, &app.admin_key, &full_name, &emails[50], "read").await;
    assert_eq!(one_more.status, StatusCode::CONFLICT);
    assert_eq!(one_more.body["type"], "urn:keygate:problem:limit-reached");
    assert_eq!(items_of(&app, &full_name).await, 51);

    let deleted = app
        .call(
            "DELETE",
            &format!("/v1/datasets/{full_name}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["grantees"].as_array().unwrap().len(), 50);
    assert_eq!(items_of(&app, &full_name).await, 0);
}
