//! The JSON shapes of keygate's own API.

use serde_json::{Value, json};

use crate::domain::api_key::ApiKey;
use crate::domain::clock::to_rfc3339;
use crate::domain::user::User;

pub fn time(epoch: Option<i64>) -> Value {
    epoch.map_or(Value::Null, |at| Value::String(to_rfc3339(at)))
}

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
        "is_active": key.holds_a_slot(),
    })
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
