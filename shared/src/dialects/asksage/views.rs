//! The JSON shapes Ask Sage's clients read inside `response`.

use serde_json::{Value, json};

use crate::domain::activity::Login;
use crate::domain::api_key::ApiKey;
use crate::domain::chat::{Chat, Message, MessageRole};
use crate::domain::clock::to_rfc3339;
use crate::domain::dataset::{Grant, VisibleDataset};

// keygate's own /v1 log entries already take Ask Sage's shape.
pub use crate::http::views::prompt_log;
use crate::http::views::time;

pub fn login(login: &Login) -> Value {
    json!({
        "date_time": to_rfc3339(login.at),
        "IP": login.ip,
    })
}

/// A key as listed: never its secret, only the prefix that recognises it.
pub fn api_key(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "created_at": to_rfc3339(key.created_at),
        "last_used_at": time(key.last_used_at),
        "expires_at": time(key.expires_at),
    })
}

/// A key just created: its secret, shown this once.
pub fn created_key(key: &ApiKey, secret: &str) -> Value {
    json!({
        "api_key": secret,
        "name": key.name,
        "id": key.id,
    })
}

/// Ask Sage spells the CUI marking in capitals.
fn classification(cui: bool) -> &'static str {
    if cui { "CUI" } else { "Unclassified" }
}

/// A dataset as the caller sees it; `permissions` lists every grantee when asked for.
pub fn dataset(dataset: &VisibleDataset) -> Value {
    let mut view = json!({
        "dataset": dataset.full_name.as_str(),
        "name": dataset.name,
        "classification": classification(dataset.cui),
        "owner_email": dataset.owner_email,
        "permission": dataset.permission.as_str(),
        "created_at": to_rfc3339(dataset.created_at),
    });
    if let Some(grants) = &dataset.grants {
        view["permissions"] = grants.iter().map(grantee).collect();
    }
    view
}

fn grantee(grant: &Grant) -> Value {
    json!({
        "email": grant.email,
        "permission": grant.permission.as_str(),
    })
}

/// A chat session without its messages.
pub fn chat_session(chat: &Chat) -> Value {
    json!({
        "session_id": chat.id,
        "title": chat.name,
        "date_time": to_rfc3339(chat.created_at),
        "updated_at": to_rfc3339(chat.modified_at),
        "message_count": chat.message_count,
    })
}

/// Ask Sage names the speakers `me` (the person) and `gpt` (the model).
pub fn speaker(role: MessageRole) -> &'static str {
    match role {
        MessageRole::Human => "me",
        MessageRole::Ai => "gpt",
    }
}

/// A chat session with its messages in `append-chat`'s own shape; `complete` is false when
/// the session holds more text than one answer carries.
pub fn chat_transcript(chat: &Chat, messages: &[Message], complete: bool) -> Value {
    let mut view = chat_session(chat);
    view["chats"] = messages
        .iter()
        .map(|message| {
            json!({
                "user": speaker(message.role),
                "message": message.text,
                "date_time": to_rfc3339(message.created_at),
            })
        })
        .collect();
    view["complete"] = json!(complete);
    view
}
