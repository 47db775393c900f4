//! Key metadata: `external_id`, `tags` and `meta` on create and patch, returned by get,
//! list (filtered by `?tag=` and `?external_id=`) and verify, and passed in the authorizer
//! context; every bad value is a 400 naming its field.

use keygate::authorizer::authorize;
use keygate_tests::{StatusCode, TestApp, authorizer_event, spawn_app};
use serde_json::{Value, json};

fn tagged(name: &str, external_id: &str, tags: &[&str]) -> Value {
    json!({
        "name": name,
        "external_id": external_id,
        "tags": tags,
        "meta": {"plan": "pro", "seats": 3},
    })
}

async fn list(app: &TestApp, query: &str) -> Value {
    let listed = app
        .call(
            "GET",
            &format!("/v1/api-keys?{query}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn metadata_is_set_at_creation_and_read_back_everywhere() {
    let app = spawn_app().await;
    let created = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(tagged("crm", "cust-42", &["prod", "team:ml", "prod"])),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["external_id"], "cust-42");
    assert_eq!(
        created.body["tags"],
        json!(["prod", "team:ml"]),
        "each once"
    );
    assert_eq!(created.body["meta"], json!({"plan": "pro", "seats": 3}));
    let id = created.body["id"].as_str().unwrap();
    let secret = created.body["key"].as_str().unwrap();

    let read = app.read_key(&app.admin_key, id).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["external_id"], "cust-42");
    assert_eq!(read.body["tags"], json!(["prod", "team:ml"]));
    assert_eq!(read.body["meta"]["seats"], 3);

    let page = list(&app, "").await;
    let listed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert_eq!(listed["external_id"], "cust-42");
    assert_eq!(listed["meta"]["plan"], "pro");

    let service = app.service_key(&["verify"]).await;
    let verified = app
        .call(
            "POST",
            "/v1/keys/verify",
            Some(&service),
            Some(json!({"key": secret})),
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["code"], "VALID");
    assert_eq!(verified.body["external_id"], "cust-42");
    assert_eq!(verified.body["tags"], json!(["prod", "team:ml"]));
    assert_eq!(verified.body["meta"], json!({"plan": "pro", "seats": 3}));

    // The authorizer context: the key's and its tokens' (the token follows its key).
    let context = authorize(&app.services, &authorizer_event(secret))
        .await
        .context;
    assert_eq!(context["keygate_external_id"], "cust-42");
    assert_eq!(context["keygate_tags"], "prod,team:ml");
    let meta: Value = serde_json::from_str(context["keygate_meta"].as_str().unwrap()).unwrap();
    assert_eq!(meta, json!({"plan": "pro", "seats": 3}));
    let token = app.exchange(secret).await;
    let context = authorize(&app.services, &authorizer_event(&token))
        .await
        .context;
    assert_eq!(context["kind"], "access_token");
    assert_eq!(context["keygate_tags"], "prod,team:ml");

    // A key without metadata answers empty values and passes none.
    let (plain_id, plain) = app.new_key(&app.admin_key, json!({"name": "plain"})).await;
    let read = app.read_key(&app.admin_key, &plain_id).await;
    assert_eq!(read.body["external_id"], Value::Null);
    assert_eq!(read.body["tags"], json!([]));
    assert_eq!(read.body["meta"], Value::Null);
    let context = authorize(&app.services, &authorizer_event(&plain))
        .await
        .context;
    assert!(context.get("keygate_tags").is_none(), "{context}");
    assert!(context.get("keygate_meta").is_none(), "{context}");
}

#[tokio::test]
async fn a_patch_sets_replaces_and_removes_metadata_and_is_audited() {
    let app = spawn_app().await;
    let (id, secret) = app
        .new_key(&app.admin_key, tagged("crm", "cust-1", &["prod"]))
        .await;
    let path = format!("/v1/api-keys/{id}");
    let patched = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"external_id": "cust-2", "tags": ["staging"], "meta": {"plan": "free"}})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["external_id"], "cust-2");
    assert_eq!(patched.body["tags"], json!(["staging"]));
    assert_eq!(patched.body["meta"], json!({"plan": "free"}));
    let read = app.read_key(&app.admin_key, &id).await;
    assert_eq!(read.body["external_id"], "cust-2");
    assert_eq!(read.body["meta"], json!({"plan": "free"}));
    // The next verification reads the new metadata (it lives on the key item).
    let context = authorize(&app.services, &authorizer_event(&secret))
        .await
        .context;
    assert_eq!(context["keygate_tags"], "staging");

    // A patch naming only the name leaves the metadata alone.
    let renamed = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(renamed.body["external_id"], "cust-2", "{}", renamed.body);
    assert_eq!(renamed.body["tags"], json!(["staging"]));

    let cleared = app
        .call(
            "PATCH",
            &path,
            Some(&app.admin_key),
            Some(json!({"external_id": null, "tags": null, "meta": null})),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    let read = app.read_key(&app.admin_key, &id).await;
    assert_eq!(read.body["external_id"], Value::Null, "{}", read.body);
    assert_eq!(read.body["tags"], json!([]));
    assert_eq!(read.body["meta"], Value::Null);

    let trail = app
        .audit(&app.admin_key, &format!("type=key.patched&target={id}"))
        .await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    let changes: Vec<&Value> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| &event["change"])
        .collect();
    assert!(
        changes.iter().any(|change| change["external_id"]
            == json!({"old": "cust-1", "new": "cust-2"})
            && change["tags"] == json!({"old": ["prod"], "new": ["staging"]})),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|change| change["meta"] == json!({"old": {"plan": "free"}, "new": null})),
        "{changes:?}"
    );
}

#[tokio::test]
async fn a_list_is_filtered_by_tag_and_by_external_id() {
    let app = spawn_app().await;
    let (prod_a, _) = app
        .new_key(&app.admin_key, tagged("a", "cust-a", &["prod", "team:ml"]))
        .await;
    let (staging_b, _) = app
        .new_key(&app.admin_key, tagged("b", "cust-b", &["staging"]))
        .await;
    let (prod_c, _) = app
        .new_key(&app.admin_key, tagged("c", "cust-a", &["prod"]))
        .await;

    let prod = list(&app, "tag=prod").await;
    assert_eq!(ids(&prod), [prod_c.clone(), prod_a.clone()], "newest first");
    assert_eq!(ids(&list(&app, "tag=team:ml").await), [prod_a.as_str()]);
    assert_eq!(
        ids(&list(&app, "external_id=cust-a").await),
        [prod_c.clone(), prod_a.clone()]
    );
    assert_eq!(
        ids(&list(&app, "external_id=cust-a&tag=team:ml").await),
        [prod_a.as_str()]
    );
    assert!(ids(&list(&app, "tag=nothing").await).is_empty());

    // A filtered page holds at most `limit` keys read: it may be shorter, and its cursor
    // leads on to the rest.
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("tag=staging&limit=1&cursor={c}"),
            None => "tag=staging&limit=1".to_owned(),
        };
        let page = list(&app, &query).await;
        assert!(page["items"].as_array().unwrap().len() <= 1);
        found.extend(ids(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "the cursor advances");
    }
    assert_eq!(found, [staging_b]);
    assert!(pages >= 2, "the bootstrap key and the others fill pages");

    for (query, field) in [("tag=Prod", "tag"), ("external_id=", "external_id")] {
        let refused = app
            .call(
                "GET",
                &format!("/v1/api-keys?{query}"),
                Some(&app.admin_key),
                None,
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(refused.body["field"], field, "{}", refused.body);
    }
}

#[tokio::test]
async fn bad_metadata_is_a_400_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let long_meta = json!({"k": "x".repeat(1020)});
    let cases = [
        (json!({"external_id": ""}), "external_id"),
        (json!({"external_id": "x".repeat(129)}), "external_id"),
        (
            json!({"tags": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]}),
            "tags",
        ),
        (json!({"tags": ["ok", "Not-Lower"]}), "tags[1]"),
        (json!({"tags": ["x".repeat(33)]}), "tags[0]"),
        (json!({"tags": ["a b"]}), "tags[0]"),
        (json!({"meta": ["not", "an", "object"]}), "meta"),
        (json!({"meta": "text"}), "meta"),
        (json!({"meta": long_meta}), "meta"),
    ];
    let (id, _) = app.new_key(&app.admin_key, json!({"name": "target"})).await;
    for (body, field) in cases {
        let mut create = body.clone();
        create["name"] = json!("bad");
        let refused = app
            .call("POST", "/v1/api-keys", Some(&app.admin_key), Some(create))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.body);
        let refused = app
            .call(
                "PATCH",
                &format!("/v1/api-keys/{id}"),
                Some(&app.admin_key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.body);
    }
    // A value of the wrong JSON type is the 422 of every wrong type, naming it too.
    let typed = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "bad", "external_id": 7})),
        )
        .await;
    assert_eq!(
        typed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        typed.body
    );
    assert_eq!(typed.body["field"], "external_id", "{}", typed.body);
    // Nothing was written: only the bootstrap key and the target exist, unchanged.
    let page = list(&app, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    let read = app.read_key(&app.admin_key, &id).await;
    assert_eq!(read.body["tags"], json!([]));
    assert_eq!(read.body["meta"], Value::Null);
}

#[tokio::test]
async fn a_rolled_key_s_successor_keeps_its_metadata() {
    let app = spawn_app().await;
    let (id, _) = app
        .new_key(&app.admin_key, tagged("crm", "cust-9", &["prod"]))
        .await;
    let rolled = app
        .call(
            "POST",
            &format!("/v1/api-keys/{id}/roll"),
            Some(&app.admin_key),
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    assert_ne!(rolled.body["id"], id.as_str());
    assert_eq!(rolled.body["external_id"], "cust-9");
    assert_eq!(rolled.body["tags"], json!(["prod"]));
    assert_eq!(rolled.body["meta"], json!({"plan": "pro", "seats": 3}));
    let successor = rolled.body["id"].as_str().unwrap();
    let read = app.read_key(&app.admin_key, successor).await;
    assert_eq!(read.body["external_id"], "cust-9");
}
