//! One key, four surfaces: a key created through any of keygate's own API, Cogniac,
//! VirtuousAI or Assisters is the same key, with the same id, prefix and state, in all.

use keygate::domain::ids::ulid_to_uuid;
use keygate_tests::{ALLOWED_ORIGIN, StatusCode, TestApp, basic_auth, session_cookie, spawn_app};
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery";

struct Views {
    keygate: Value,
    cogniac: Option<Value>,
    virtuousai: Value,
    assisters: Option<Value>,
}

struct Surfaces<'a> {
    app: &'a TestApp,
    user_id: String,
    cogniac_auth: String,
    cookie: String,
    session: String,
}

impl Surfaces<'_> {
    /// The key as each surface shows it (`None` where the surface hides revoked keys).
    async fn views(&self, id: &str) -> Views {
        let bearer = format!("Bearer {}", self.session);
        let keygate = self
            .app
            .send(
                "GET",
                &format!("/v1/api-keys/{id}"),
                &[("authorization", &bearer)],
                None,
            )
            .await;
        assert_eq!(keygate.status, StatusCode::OK, "{}", keygate.body);
        let cogniac = self
            .app
            .send(
                "GET",
                &format!("/1/users/{}/apiKeys/{id}", self.user_id),
                &[("authorization", &self.cogniac_auth)],
                None,
            )
            .await;
        let uuid = ulid_to_uuid(id).unwrap();
        let virtuousai = self
            .app
            .send(
                "GET",
                &format!("/api/v1/access-tokens/{uuid}"),
                &[("vai_token", &self.session)],
                None,
            )
            .await;
        assert_eq!(virtuousai.status, StatusCode::OK, "{}", virtuousai.body);
        let assisters = self
            .app
            .send("GET", "/api/keys", &[("cookie", &self.cookie)], None)
            .await;
        Views {
            keygate: keygate.body,
            cogniac: (cogniac.status == StatusCode::OK).then_some(cogniac.body),
            virtuousai: virtuousai.body,
            assisters: assisters
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["id"] == id)
                .cloned(),
        }
    }

    /// Asserts every surface shows key `id` with `prefix`, active or revoked.
    async fn assert_same(&self, id: &str, prefix: &str, revoked: bool) {
        let views = self.views(id).await;
        assert_eq!(views.keygate["id"], id);
        assert_eq!(views.keygate["key_prefix"], prefix);
        assert_eq!(views.keygate["revoked_at"].is_string(), revoked);
        assert_eq!(views.virtuousai["id"], ulid_to_uuid(id).unwrap().as_str());
        assert_eq!(views.virtuousai["tokenPrefix"], prefix);
        assert_eq!(views.virtuousai["revokedAt"].is_string(), revoked);
        assert_eq!(views.virtuousai["createdAt"], views.keygate["created_at"]);
        if revoked {
            assert!(
                views.cogniac.is_none(),
                "Cogniac shows a revoked key as deleted"
            );
            assert!(views.assisters.is_none(), "Assisters lists live keys only");
        } else {
            let cogniac = views.cogniac.expect("Cogniac shows the key");
            assert_eq!(cogniac["key_id"], id);
            assert_eq!(cogniac["description"], views.keygate["name"]);
            let assisters = views.assisters.expect("Assisters lists the key");
            assert_eq!(assisters["key_prefix"], prefix);
            assert_eq!(assisters["is_active"], true);
            assert_eq!(assisters["created_at"], views.keygate["created_at"]);
        }
    }
}

async fn surfaces(app: &TestApp) -> Surfaces<'_> {
    let user_id = app.new_user_with_password(EMAIL, PASSWORD).await;
    let session = app.sign_in(EMAIL, PASSWORD).await;
    let token = app
        .send(
            "GET",
            "/1/token",
            &[("authorization", &basic_auth(EMAIL, PASSWORD))],
            None,
        )
        .await;
    Surfaces {
        app,
        user_id,
        cogniac_auth: format!("Bearer {}", token.body["access_token"].as_str().unwrap()),
        cookie: session_cookie(&session),
        session,
    }
}

#[tokio::test]
async fn a_key_made_anywhere_is_the_same_key_everywhere() {
    let app = spawn_app().await;
    let s = surfaces(&app).await;

    let from_keygate = app
        .send(
            "POST",
            "/v1/api-keys",
            &[("authorization", &format!("Bearer {}", s.session))],
            Some(json!({"name": "keygate"})),
        )
        .await;
    let from_cogniac = app
        .send(
            "POST",
            &format!("/1/users/{}/apiKeys", s.user_id),
            &[("authorization", &s.cogniac_auth)],
            Some(json!({"description": "cogniac"})),
        )
        .await;
    let from_virtuousai = app
        .send(
            "POST",
            "/api/v1/access-tokens",
            &[("vai_token", &s.session)],
            Some(json!({"name": "virtuousai"})),
        )
        .await;
    let from_assisters = app
        .send(
            "POST",
            "/api/keys",
            &[("cookie", &s.cookie), ("origin", ALLOWED_ORIGIN)],
            Some(json!({"name": "assisters"})),
        )
        .await;
    let made = [
        (
            from_keygate.body["id"].as_str().unwrap().to_owned(),
            from_keygate.body["key_prefix"].as_str().unwrap().to_owned(),
        ),
        (
            from_cogniac.body["key_id"].as_str().unwrap().to_owned(),
            format!("kg_{}", from_cogniac.body["key_id"].as_str().unwrap()),
        ),
        (
            keygate::domain::ids::canonical_ulid(
                from_virtuousai.body["token"]["id"].as_str().unwrap(),
            )
            .unwrap(),
            from_virtuousai.body["token"]["tokenPrefix"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        (
            from_assisters.body["id"].as_str().unwrap().to_owned(),
            from_assisters.body["key_prefix"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
    ];
    for (id, prefix) in &made {
        s.assert_same(id, prefix, false).await;
    }

    // Revoked through each surface in turn, revoked in all.
    let bearer = format!("Bearer {}", s.session);
    let uuid = ulid_to_uuid(&made[0].0).unwrap();
    let revocations = [
        app.send(
            "DELETE",
            &format!("/api/v1/access-tokens/{uuid}"),
            &[("vai_token", &s.session)],
            None,
        )
        .await,
        app.send(
            "DELETE",
            &format!("/1/users/{}/apiKeys/{}", s.user_id, made[1].0),
            &[("authorization", &s.cogniac_auth)],
            None,
        )
        .await,
        app.send(
            "DELETE",
            &format!("/api/keys/{}", made[2].0),
            &[("cookie", &s.cookie), ("origin", ALLOWED_ORIGIN)],
            None,
        )
        .await,
        app.send(
            "DELETE",
            &format!("/v1/api-keys/{}", made[3].0),
            &[("authorization", &bearer)],
            None,
        )
        .await,
    ];
    for reply in &revocations {
        assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    }
    for (id, prefix) in &made {
        s.assert_same(id, prefix, true).await;
    }
}
