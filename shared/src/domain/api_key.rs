//! API keys: long-lived, scoped, shown once.

use super::scope::{KeyType, Scopes, UserRole};

/// At most this many active keys per user, enforced by a conditional write.
pub const MAX_ACTIVE_KEYS_PER_USER: u32 = 10;

/// The stored record of an API key (never the secret; the hash stays in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub email: String,
    pub user_role: UserRole,
    pub name: String,
    pub key_prefix: String,
    pub scopes: Scopes,
    pub key_type: KeyType,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// False when paused by its owner; a paused key authenticates nothing.
    pub enabled: bool,
}

impl ApiKey {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Usable right now: not revoked, not paused, not expired.
    pub fn is_usable(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.enabled && !self.is_expired(now)
    }

    /// Counts against the per-user limit: not revoked and not paused.
    pub fn holds_a_slot(&self) -> bool {
        self.revoked_at.is_none() && self.enabled
    }
}

/// `last_used_at` is written at most once a minute per key.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;

pub fn last_used_is_stale(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION_SECS)
}
