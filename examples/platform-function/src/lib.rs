//! An example of a platform's own function behind keygate's authorizer: AskTable-style
//! product routes (`POST /v1/single-turn/q2a`, `GET /v1/bots/{id}`) that keygate gates with its
//! route policy, and that read who is calling from keygate's authorizer context.

pub mod contract;
pub mod problem;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::routing::{get, post};
use serde_json::{Value, json};

pub use contract::Caller;
use problem::Problem;

/// The function's routes (the template declares the same ones behind keygate's authorizer).
pub fn routes() -> Router {
    Router::new()
        .route("/v1/single-turn/q2a", post(ask))
        .route("/v1/bots/{id}", get(bot).delete(delete_bot))
        .route("/v1/platform/status", get(status))
}

/// Who is asking, as the platform would log or bill it.
fn asked_by(caller: &Caller) -> Value {
    json!({
        "tenant_id": caller.tenant_id,
        "user_id": caller.user_id,
        "email": caller.email,
        "credential_kind": caller.kind,
        "key_id": caller.key_id,
        "key_type": caller.key_type,
        "scopes": caller.scopes,
    })
}

/// What the key may still spend: metering puts it in the context; `null` until then.
fn credits(caller: &Caller) -> Value {
    json!({ "cost": caller.cost, "credits_remaining": caller.credits_remaining })
}

/// AskTable's "ask a question, get an answer": this example has no model, so it answers
/// with what a model call would be given (the role and its variables, the user's profile).
async fn ask(caller: Caller, body: Bytes) -> Result<axum::Json<Value>, Problem> {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request("question", format!("the body must be JSON: {e}")))?;
    let question = body
        .get("question")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| Problem::bad_request("question", "question is required (a string)"))?;
    let role = caller.chat_role_id.as_deref().unwrap_or("default");
    Ok(axum::Json(json!({
        "question": question,
        "answer": format!("(example) would answer {question:?} as chat role {role}"),
        "asked_by": asked_by(&caller),
        "chat_role": { "role_id": caller.chat_role_id, "role_variables": caller.role_variables },
        "user_profile": caller.user_profile,
        "metering": credits(&caller),
    })))
}

async fn bot(caller: Caller, Path(id): Path<String>) -> axum::Json<Value> {
    axum::Json(json!({
        "id": id,
        "name": format!("bot {id}"),
        "project_id": caller.tenant_id,
        "viewer": asked_by(&caller),
        "role_variables": caller.role_variables,
    }))
}

/// Not granted to asker keys by the shipped policy: the default rule (admin keys with
/// `chat`) decides before this runs.
async fn delete_bot(caller: Caller, Path(id): Path<String>) -> axum::Json<Value> {
    axum::Json(json!({ "deleted": id, "by": caller.user_id }))
}

/// A public route: the policy marks it public, so no credential is needed.
async fn status() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}
