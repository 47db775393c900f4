//! keygate's own `/v1` API as an OpenAPI 3.1 document, built from the handlers'
//! `#[utoipa::path]` attributes and served at `GET /v1/openapi.json` (no credential).
//!
//! Every answer's schema is derived from the type its handler returns (`views` and the
//! groups' own answer types; errors from `http::problem::ProblemBody`), and every answer
//! object is closed, so schemathesis in CI fails on any property the document does not
//! list. What stays declared here: the enums that name the domain's values (a test holds
//! them equal) and the request bodies parsed by hand. The error responses every operation
//! shares are added once, by [`ErrorResponses`], instead of on each handler.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, SecurityRequirement};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::services::Services;

pub fn routes() -> Router<Services> {
    Router::new().route("/v1/openapi.json", get(serve))
}

/// The committed document, as served: the same text [`document`] generates (a test and
/// `scripts/openapi --check` in CI hold them equal), without linking the generator into the
/// function (README, "Cold start").
pub const COMMITTED: &str = include_str!("../../../docs/openapi.json");

/// The document generated from the code (`scripts/openapi` writes it to docs/openapi.json).
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises");
        text.push('\n');
        text
    })
}

#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    summary = "This document",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of the /v1 API", content_type = "application/json", body = Object)),
)]
pub(super) async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], COMMITTED)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keygate",
        description = "keygate's own API: API keys, tokens, sessions, users, chats, activity and datasets. Errors are RFC 9457 problem details (application/problem+json).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        serve,
        super::auth::exchange,
        super::auth::mint_temp,
        super::auth::me,
        super::sessions::sign_in,
        super::sessions::sign_out,
        super::sessions::set_password,
        super::users::list,
        super::users::create,
        super::users::update,
        super::users::deactivate,
        super::users::erase,
        super::users::create_key,
        super::budgets::put_user_budget,
        super::budgets::get_user_budget,
        super::budgets::delete_user_budget,
        super::budgets::get_tenant_budget,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::read,
        super::webhooks::update,
        super::webhooks::remove,
        super::webhooks::rotate_secret,
        super::webhooks::send_test,
        super::webhooks::list_deliveries,
        super::webhooks::retry_delivery,
        super::teams::list,
        super::teams::create,
        super::teams::read,
        super::teams::rename,
        super::teams::delete,
        super::teams::list_members,
        super::teams::put_member,
        super::teams::remove_member,
        super::teams::list_keys,
        super::teams::create_key,
        super::teams::put_budget,
        super::teams::get_budget,
        super::teams::delete_budget,
        super::tenant_policy::get_policy,
        super::tenant_policy::put_policy,
        super::api_keys::list,
        super::api_keys::create,
        super::api_keys::revoke_all,
        super::api_keys::read,
        super::api_keys::patch,
        super::api_keys::revoke,
        super::key_check::verify,
        super::api_keys::roll,
        super::secret_scanning::report,
        super::audit::list,
        super::usage::report,
        super::usage::read,
        super::chats::list,
        super::chats::create,
        super::chats::read,
        super::chats::delete,
        super::chats::append,
        super::chats::list_messages,
        append_to_messages,
        super::chats::read_message,
        super::activity::logs,
        super::activity::logins,
        super::datasets::list,
        super::datasets::create,
        super::datasets::delete_unnamed,
        super::datasets::remove,
        super::datasets::grant,
        super::datasets::revoke,
    ),
    modifiers(&SecuritySchemes, &ErrorResponses),
)]
pub struct ApiDoc;

/// `POST /v1/chats/{chat_id}/messages` runs the same handler as `POST /v1/chats/{chat_id}`
/// (AskTable's clients use both); this stub only describes the second path.
#[utoipa::path(
    post,
    path = "/v1/chats/{chat_id}/messages",
    tag = "chats",
    operation_id = "append_message",
    summary = "Append a message to a chat",
    params(("chat_id" = String, Path), ("question" = Option<String>, Query, description = "AskTable's shorthand for a human message's text")),
    request_body = MessageRequest,
    responses((status = 201, body = super::views::MessageView)),
)]
#[allow(dead_code)]
fn append_to_messages() {}

/// The security schemes, one per place a credential may be presented
/// (see `http::credentials`); any one of them is enough.
struct SecuritySchemes;

pub const SCHEMES: [&str; 4] = ["api_key", "bearer", "access_tokens", "session_cookie"];

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (kg_...)",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key, a token from /v1/auth/token or /v1/auth/tokens, or a session",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "access_tokens",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-access-tokens",
                "Any keygate credential, as AskTable's clients send it",
            ))),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "keygate_session",
                "The session cookie set by POST /v1/sessions; state-changing requests need an allowed Origin",
            ))),
        );
        openapi.security = Some(
            SCHEMES
                .iter()
                .map(|name| SecurityRequirement::new(*name, Vec::<String>::new()))
                .collect(),
        );
    }
}

/// The problem+json answers, added to every operation where they can happen: 400, 404
/// and 503 everywhere, 401 everywhere (a public route refuses a wrong key or password
/// too), 403 where a credential is needed, 413 and 422 where there is a JSON body.
struct ErrorResponses;

const PROBLEMS: [(&str, &str); 7] = [
    ("400", "A bad parameter or field (named in `field`)"),
    (
        "401",
        "No valid credential (missing, malformed, unknown, expired or revoked)",
    ),
    (
        "403",
        "The credential lacks the scope or role, or the Origin is not allowed",
    ),
    ("404", "No such resource visible to the caller"),
    ("413", "The body or a field is too large"),
    (
        "422",
        "The body is not the JSON object this operation takes",
    ),
    (
        "503",
        "The store did not answer; nothing was changed (Retry-After)",
    ),
];

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            "Problem".to_owned(),
            <crate::http::problem::ProblemBody as utoipa::PartialSchema>::schema(),
        );
        for (status, description) in PROBLEMS {
            components.responses.insert(
                format!("Problem{status}"),
                problem_response(description).into(),
            );
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let public = operation.security.as_ref().is_some_and(|requirements| {
                    requirements
                        .iter()
                        .all(|r| *r == SecurityRequirement::default())
                });
                let has_body = operation.request_body.is_some();
                for (status, _) in PROBLEMS {
                    let applies = match status {
                        "403" => !public,
                        "413" | "422" => has_body,
                        _ => true,
                    };
                    if applies {
                        operation
                            .responses
                            .responses
                            .entry(status.to_owned())
                            .or_insert_with(|| {
                                Ref::new(format!("#/components/responses/Problem{status}")).into()
                            });
                    }
                }
            }
        }
    }
}

/// A problem answer for a status an operation documents itself (406, 407, 408, 409 ...).
pub fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Every (METHOD, path) the document describes, for the test that compares it with the
/// routers.
pub fn operations_in(document: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let empty = Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    for (path, item) in paths {
        for method in item.as_object().unwrap_or(&empty).keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                found.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    found.sort();
    found
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum MessageRole {
    Human,
    Ai,
}

/// A key scope.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Scope {
    Chat,
    Read,
    Write,
    Admin,
    /// May call `POST /v1/keys/verify`; only tenant admins hand it out.
    Verify,
    /// May report usage (`POST /v1/usage`): a platform function's key.
    Usage,
}

/// A key type: an admin key manages, an asker key only chats.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum KeyType {
    Admin,
    Asker,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum UserRole {
    Admin,
    Member,
}

/// What becomes of a deactivated user's datasets (`DELETE /v1/users/{id}`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum DatasetsFate {
    Transfer,
    Delete,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Classification {
    Cui,
    Unclassified,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Permission {
    Read,
    Write,
    Admin,
}

// ---- Request bodies parsed by hand (not by a derived Deserialize), described here. ----

/// One token of a GitHub secret-scanning report.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct LeakedToken {
    token: String,
    #[serde(rename = "type")]
    token_type: String,
    url: Option<String>,
    source: Option<String>,
}

/// The body of a message append: `{role, content: {text}}` or AskTable's `question`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MessageRequest {
    role: Option<MessageRole>,
    content: Option<MessageContentRequest>,
    question: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MessageContentRequest {
    text: Option<String>,
}
