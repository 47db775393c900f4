//! The JSON shapes of keygate's own API.

use serde_json::{Value, json};

use crate::domain::api_key::ApiKey;
use crate::domain::clock::to_rfc3339;
use crate::domain::dataset::{Classification, Grant, VisibleDataset};
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
