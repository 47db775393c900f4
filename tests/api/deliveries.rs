//! Webhook deliveries end to end: a change through the HTTP API, its audit item on the
//! emulator's stream, the local server's notifier (the same code the notifier function
//! runs), and a real receiver on loopback that checks the Standard Webhooks signature the
//! way any receiver's library does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keygate_tests::{StatusCode, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What a receiver got: the three webhook headers and the body.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn event(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver on loopback that answers from a script (then 204) and keeps what it got.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answers = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (kept, script) = (got.clone(), answers.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (kept, script) = (kept.clone(), script.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    kept.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                    });
                    let status = script.lock().unwrap().pop_front().unwrap_or(204);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until the receiver holds `count` requests (or fails after 30 s).
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the receiver got {:?}, not {count} requests",
            self.received()
        );
    }
}

/// HMAC-SHA256 as RFC 2104 defines it, written here so that the check does not share
/// keygate's code.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<_>>();
    let inner = Sha256::digest([pad(0x36), message.to_vec()].concat());
    Sha256::digest([pad(0x5c), inner.to_vec()].concat()).to_vec()
}

/// The Standard Webhooks check: `v1,<base64 HMAC of "id.timestamp.body">` among the
/// space-separated signatures, under the secret's base64 key.
fn verifies(secret: &str, got: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!("{}.{}.{}", got.id, got.timestamp, got.body);
    let expected = format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, signed.as_bytes()))
    );
    got.signature.split(' ').any(|one| one == expected)
}

/// An app whose local server delivers, to plain-http loopback receivers.
async fn delivering_app() -> TestApp {
    spawn_app_with(&[
        ("KEYGATE_WEBHOOK_PLAIN_LOOPBACK", "allow"),
        ("KEYGATE_LOCAL_DELIVERY", "on"),
    ])
    .await
}

async fn register(app: &TestApp, body: Value) -> (String, String) {
    let made = app
        .call("POST", "/v1/webhooks", Some(&app.admin_key), Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, webhook_id: &str) -> Vec<Value> {
    let listed = app
        .call(
            "GET",
            &format!("/v1/webhooks/{webhook_id}/deliveries"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body["items"].as_array().unwrap().clone()
}

const KEY_EVENTS: [&str; 2] = ["key.created", "key.revoked"];

#[tokio::test]
async fn creating_and_revoking_a_key_delivers_both_events_signed_and_in_order() {
    let app = delivering_app().await;
    let receiver = Receiver::start(&[]).await;
    let (webhook_id, secret) = register(
        &app,
        json!({"url": receiver.url, "event_types": KEY_EVENTS}),
    )
    .await;
    let (key_id, _) = app.new_key(&app.admin_key, json!({"name": "hooked"})).await;
    let key_id = key_id.as_str();
    let revoked = app
        .call(
            "DELETE",
            &format!("/v1/api-keys/{key_id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);

    let got = receiver.wait_for(2).await;
    let events: Vec<Value> = got.iter().map(Received::event).collect();
    assert_eq!(events[0]["type"], "key.created", "{events:?}");
    assert_eq!(events[1]["type"], "key.revoked", "{events:?}");
    for (event, request) in events.iter().zip(&got) {
        assert_eq!(event["data"]["target"]["id"], key_id);
        assert_eq!(event["tenant_id"], app.tenant_id.as_str());
        assert_eq!(request.id, format!("msg_{}", event["id"].as_str().unwrap()));
        assert!(verifies(&secret, request), "{request:?}");
        assert!(!request.body.contains(&secret) && !request.body.contains("kg_"));
    }
    let tampered = Received {
        body: got[0].body.replace("key.created", "key.revoked"),
        ..got[0].clone()
    };
    assert!(
        !verifies(&secret, &tampered),
        "a changed body fails the check"
    );

    // The deliveries list tells the same story, newest first.
    for _ in 0..50 {
        let listed = deliveries(&app, &webhook_id).await;
        if listed.len() == 2 && listed.iter().all(|d| d["status"] == "delivered") {
            assert_eq!(listed[0]["event_type"], "key.revoked");
            assert_eq!(listed[0]["response_code"], 204);
            assert_eq!(listed[0]["attempts"], 1);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries: {:?}", deliveries(&app, &webhook_id).await);
}

#[tokio::test]
async fn a_receiver_that_fails_once_gets_the_same_webhook_id_again() {
    let app = delivering_app().await;
    let receiver = Receiver::start(&[500]).await;
    let (webhook_id, secret) = register(
        &app,
        json!({"url": receiver.url, "event_types": ["key.created"]}),
    )
    .await;
    app.new_key(&app.admin_key, json!({"name": "retried"}))
        .await;
    // The first retry comes 5 s after the failure.
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].id, got[1].id, "the same webhook-id");
    assert_eq!(got[0].body, got[1].body, "the same bytes");
    assert!(verifies(&secret, &got[1]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let listed = deliveries(&app, &webhook_id).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "delivered", "{listed:?}");
    assert_eq!(listed[0]["attempts"], 2);
}

#[tokio::test]
async fn a_disabled_endpoint_receives_nothing() {
    let app = delivering_app().await;
    let (on, off) = (Receiver::start(&[]).await, Receiver::start(&[]).await);
    register(&app, json!({"url": on.url, "event_types": KEY_EVENTS})).await;
    let (off_id, _) = register(
        &app,
        json!({"url": off.url, "event_types": KEY_EVENTS, "enabled": false}),
    )
    .await;
    app.new_key(&app.admin_key, json!({"name": "one"})).await;
    on.wait_for(1).await;
    // The enabled endpoint's delivery came from the same record: the other had its chance.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(off.received().is_empty(), "{:?}", off.received());
    assert!(deliveries(&app, &off_id).await.is_empty());
}

#[tokio::test]
async fn a_test_event_and_a_retry_on_request() {
    let app = delivering_app().await;
    let receiver = Receiver::start(&[]).await;
    let (webhook_id, secret) = register(
        &app,
        json!({"url": receiver.url, "event_types": ["key.created"]}),
    )
    .await;
    let sent = app
        .call(
            "POST",
            &format!("/v1/webhooks/{webhook_id}/test"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event()["type"], "webhook.test");
    assert!(verifies(&secret, &got[0]));
    let delivery_id = sent.body["id"].as_str().unwrap();
    // A delivered event is sent again on request, under its webhook-id.
    let mut retried = None;
    for _ in 0..50 {
        let answer = app
            .call(
                "POST",
                &format!("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"),
                Some(&app.admin_key),
                None,
            )
            .await;
        if answer.status == StatusCode::ACCEPTED {
            retried = Some(answer);
            break;
        }
        // 409 while the first attempt is still being recorded.
        assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(retried.unwrap().body["status"], "pending");
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].id, got[1].id);
    let missing = app
        .call(
            "POST",
            &format!("/v1/webhooks/{webhook_id}/deliveries/01KAAAAAAAAAAAAAAAAAAAAAAA/retry"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}

#[tokio::test]
async fn a_name_that_now_resolves_inside_is_refused_at_delivery_before_any_connection() {
    // Registered while the name resolved to a public address...
    let app = spawn_app_with(&[("KEYGATE_WEBHOOK_HOSTS", "rebind.test=203.0.113.10")]).await;
    let (webhook_id, _) = register(
        &app,
        json!({"url": "https://rebind.test/hook", "event_types": ["key.created"]}),
    )
    .await;
    // ...delivered by an instance whose resolver now answers the metadata service's address.
    let notifier = app
        .redeployed(&[
            ("KEYGATE_WEBHOOK_HOSTS", "rebind.test=169.254.169.254"),
            ("KEYGATE_LOCAL_DELIVERY", "on"),
        ])
        .await;
    app.new_key(&app.admin_key, json!({"name": "rebound"}))
        .await;
    for _ in 0..100 {
        let listed = deliveries(&app, &webhook_id).await;
        if let Some(delivery) = listed.first().filter(|d| !d["error"].is_null()) {
            let error = delivery["error"].as_str().unwrap();
            assert!(
                error.starts_with(
                    "refused before connecting: rebind.test resolves to 169.254.169.254"
                ),
                "{error}"
            );
            assert_eq!(
                delivery["status"], "pending",
                "retried later: DNS may change back"
            );
            assert!(delivery["response_code"].is_null());
            assert_eq!(
                notifier.services.webhook_connections_opened(),
                0,
                "no connection was begun"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries: {:?}", deliveries(&app, &webhook_id).await);
}

#[tokio::test]
async fn deliveries_of_another_tenant_or_an_unknown_endpoint_are_not_found() {
    let app = spawn_app().await;
    let other = app.other_tenant("other.admin@example.com").await;
    let local = app
        .redeployed(&[("KEYGATE_WEBHOOK_PLAIN_LOOPBACK", "allow")])
        .await;
    let (webhook_id, _) = register(&local, json!({"url": "http://127.0.0.1:9/hook"})).await;
    for path in [
        format!("/v1/webhooks/{webhook_id}/deliveries"),
        "/v1/webhooks/01KAAAAAAAAAAAAAAAAAAAAAAA/deliveries".to_owned(),
    ] {
        let refused = app.call("GET", &path, Some(&other.admin_key), None).await;
        assert_eq!(
            refused.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            refused.body
        );
    }
    let bad_limit = app
        .call(
            "GET",
            &format!("/v1/webhooks/{webhook_id}/deliveries?limit=0"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(bad_limit.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_limit.body["field"], "limit");
}

#[tokio::test]
async fn the_notifiers_sample_events_deliver_and_sweep() {
    // No local delivery here: the samples are handed over as Lambda would hand them.
    let app = spawn_app_with(&[("KEYGATE_WEBHOOK_PLAIN_LOOPBACK", "allow")]).await;
    let receiver = Receiver::start(&[503]).await;
    let (webhook_id, secret) = register(
        &app,
        json!({"url": receiver.url, "event_types": ["key.created"]}),
    )
    .await;
    let event_id = keygate::domain::credential::new_ulid().to_string();
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/notifier");
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(format!("{folder}/{name}.json"))
            .unwrap()
            .replace("REPLACE_WITH_TENANT_ID", &app.tenant_id)
            .replace("REPLACE_WITH_USER_ID", &app.admin_id)
            .replace("REPLACE_WITH_EVENT_ID", &event_id);
        serde_json::from_str(&text).unwrap()
    };
    let batch = read("stream-batch");
    assert_eq!(app.services.notify_from_stream(&batch).await, None);
    let first = receiver.wait_for(1).await;
    assert_eq!(first[0].id, format!("msg_{event_id}"));
    assert!(verifies(&secret, &first[0]));
    // The same batch again (Lambda retries a batch) makes no second delivery.
    assert_eq!(app.services.notify_from_stream(&batch).await, None);
    let listed = deliveries(&app, &webhook_id).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "pending", "the receiver answered 503");
    assert_eq!(listed[0]["response_code"], 503);
    // The sweep sends it again once it is due (5 s after the failure).
    assert!(read("sweep").get("Records").is_none());
    for _ in 0..100 {
        app.services.deliver_due().await.unwrap();
        if receiver.received().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = receiver.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].id, got[1].id);
    let listed = deliveries(&app, &webhook_id).await;
    assert_eq!(listed[0]["status"], "delivered", "{listed:?}");
}

#[tokio::test]
async fn an_undecodable_record_is_reported_for_retry_with_what_follows() {
    let app = spawn_app().await;
    let batch = json!({"Records": [
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "7",
            "NewImage": {"type": {"S": "AuditEvent"}, "event_id": {"Q": "?"}}}},
    ]});
    assert_eq!(
        app.services.notify_from_stream(&batch).await.as_deref(),
        Some("7")
    );
}

#[tokio::test]
async fn a_change_that_failed_sends_no_event() {
    let (app, faults) = keygate_tests::spawn_app_with_faults_and(&[
        ("KEYGATE_WEBHOOK_PLAIN_LOOPBACK", "allow"),
        ("KEYGATE_LOCAL_DELIVERY", "on"),
    ])
    .await;
    let receiver = Receiver::start(&[]).await;
    let (webhook_id, _) = register(
        &app,
        json!({"url": receiver.url, "event_types": ["key.created"]}),
    )
    .await;
    faults.fail("TransactWriteItems");
    let failed = app
        .call(
            "POST",
            "/v1/api-keys",
            Some(&app.admin_key),
            Some(json!({"name": "never"})),
        )
        .await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        failed.body
    );
    faults.heal();
    let (key_id, _) = app.new_key(&app.admin_key, json!({"name": "landed"})).await;
    let got = receiver.wait_for(1).await;
    // The landed key's event came after the failed one would have: the stream had its turn.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let got_now = receiver.received();
    assert_eq!(got_now.len(), 1, "{got_now:?}");
    assert_eq!(got[0].event()["data"]["target"]["id"], key_id.as_str());
    assert_eq!(deliveries(&app, &webhook_id).await.len(), 1);
}
