//! The JSON shapes of keygate's own API. Those a dialect shares live in `http::views`, below
//! both, and are re-exported here.

use serde_json::{Value, json};

use crate::domain::activity::Login;
use crate::domain::api_key::ApiKey;
use crate::domain::chat::{Chat, Message, Page};
use crate::domain::clock::to_rfc3339;
use crate::domain::dataset::{Classification, Grant, VisibleDataset};
use crate::domain::metering::Metering;
use crate::domain::user::User;
use crate::http::cursor;
pub use crate::http::views::{prompt_log, time};

pub fn api_key(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "scopes": key.scopes.names(),
        "type": key.key_type.as_str(),
        "created_at": to_rfc3339(key.created_at),
        "expires_at": time(key.expires_at),
        "last_used_at": time(key.last_used_at),
        "revoked_at": time(key.revoked_at),
        "is_active": key.is_active(crate::domain::clock::now_epoch()),
        "ratelimits": key.metering.ratelimits,
        "credits": credits(&key.metering, None),
        "models": key.models.names(),
        "end_user_budget": end_user_budget(&key.end_user_budget),
    })
}

/// A key's end-user budget: the limits and credits each end user has (null: none).
fn end_user_budget(budget: &Metering) -> Value {
    if !budget.is_metered() {
        return Value::Null;
    }
    json!({
        "ratelimits": budget.ratelimits,
        "credits": budget.credits.as_ref().map(|c| json!({
            "remaining": c.initial.unwrap_or(0),
            "refill": c.refill,
        })),
    })
}

/// A key's credits: its refill and, where it was read, the live balance.
pub fn credits(metering: &Metering, remaining: Option<i64>) -> Value {
    match &metering.credits {
        None => Value::Null,
        Some(policy) => {
            let mut view = json!({ "refill": policy.refill });
            if let Some(remaining) = remaining {
                view["remaining"] = json!(remaining);
            }
            view
        }
    }
}

/// A key as created: the record plus its secret, shown this once.
pub fn created_key(key: &ApiKey, secret: &str) -> Value {
    let mut view = api_key(key);
    view["key"] = Value::String(secret.to_owned());
    view
}

pub fn user(user: &User) -> Value {
    json!({
        "id": user.id,
        "tenant_id": user.tenant_id,
        "email": user.email,
        "name": user.name,
        "role": user.role.as_str(),
        "cac_verified": user.cac_verified,
        "created_at": to_rfc3339(user.created_at),
    })
}

/// AskTable's chat object; the tenant is its project.
pub fn chat(chat: &Chat) -> Value {
    json!({
        "id": chat.id,
        "created_at": to_rfc3339(chat.created_at),
        "modified_at": to_rfc3339(chat.modified_at),
        "project_id": chat.tenant_id,
        "status": chat.status.as_str(),
        "status_message": chat.status_message,
        "bot_id": chat.bot_id,
        "name": chat.name,
        "role_id": chat.role_id,
        "role_variables": chat.role_variables,
        "user_profile": chat.user_profile,
    })
}

pub fn message(message: &Message) -> Value {
    json!({
        "id": message.id(),
        "chat_id": message.chat_id,
        "created_at": to_rfc3339(message.created_at),
        "role": message.role.as_str(),
        "content": { "text": message.text },
        "reply_to_msg_id": message.reply_to.map(|seq| seq.to_string()),
    })
}

/// AskTable's page shape around any list.
/// One page of a cursor-paged list; `next` is the last id (or position) the next page
/// starts after, encoded for the client.
pub fn cursor_page<T>(items: &[T], view: impl Fn(&T) -> Value, next: Option<&str>) -> Value {
    json!({
        "items": items.iter().map(view).collect::<Vec<_>>(),
        "next_cursor": next.map(cursor::encode),
    })
}

pub fn page<T>(page: &Page<T>, view: impl Fn(&T) -> Value) -> Value {
    json!({
        "items": page.items.iter().map(view).collect::<Vec<_>>(),
        "page": page.request.page,
        "size": page.request.size,
        "total": page.total,
        "pages": page.pages(),
    })
}

/// Ask Sage's login entry shape, plus how and with what the user signed in.
pub fn login(login: &Login) -> Value {
    json!({
        "date_time": to_rfc3339(login.at),
        "IP": login.ip,
        "method": login.method,
        "user_agent": login.user_agent,
    })
}

/// A dataset as the caller sees it; `grantees` only when they were asked for.
pub fn dataset(dataset: &VisibleDataset) -> Value {
    let mut view = json!({
        "full_name": dataset.full_name.as_str(),
        "name": dataset.name,
        "owner_id": dataset.owner_id,
        "owner_email": dataset.owner_email,
        "cui": dataset.cui,
        "classification": Classification::of(dataset.cui).as_str(),
        "created_at": to_rfc3339(dataset.created_at),
        "permission": dataset.permission.as_str(),
    });
    if let Some(grants) = &dataset.grants {
        view["grantees"] = grants.iter().map(grantee).collect();
    }
    view
}

pub fn grantee(grant: &Grant) -> Value {
    json!({
        "user_id": grant.user_id,
        "email": grant.email,
        "permission": grant.permission.as_str(),
        "granted_at": to_rfc3339(grant.granted_at),
    })
}
