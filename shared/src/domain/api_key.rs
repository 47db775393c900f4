//! API keys: long-lived, scoped, shown once.

use super::credential::Unusable;
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
        self.unusable(now).is_none()
    }

    /// Why the key authenticates nothing right now, if it does not.
    pub fn unusable(&self, now: i64) -> Option<Unusable> {
        if self.revoked_at.is_some() {
            Some(Unusable::Revoked)
        } else if !self.enabled {
            Some(Unusable::Disabled)
        } else if self.is_expired(now) {
            Some(Unusable::Expired)
        } else {
            None
        }
    }

    /// Counts against the per-user limit: not revoked and not paused.
    pub fn holds_a_slot(&self) -> bool {
        self.revoked_at.is_none() && self.enabled
    }
}

/// `last_used_at` is rewritten only when it is at least this old (the store's condition
/// holds it there whatever instances race).
pub const LAST_USED_RESOLUTION_SECS: i64 = 300;
/// Each verification waits a further random 0..this before it calls a stamp stale, so the
/// instances that read the same aging stamp do not all write it at once (each write is a
/// billed request even when its condition fails). A use is thus reflected in
/// `last_used_at` to within `LAST_USED_RESOLUTION_SECS + LAST_USED_JITTER_SECS` (10 min).
pub const LAST_USED_JITTER_SECS: i64 = 300;

/// Whether a stamp read with the key is old enough to rewrite, given this check's jitter.
pub fn last_used_is_stale(last_used_at: Option<i64>, now: i64, jitter_secs: i64) -> bool {
    last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION_SECS + jitter_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_age_past_the_resolution_plus_jitter() {
        let now = 10_000;
        assert!(last_used_is_stale(None, now, LAST_USED_JITTER_SECS));
        assert!(!last_used_is_stale(Some(now - 299), now, 0));
        assert!(last_used_is_stale(Some(now - 300), now, 0));
        assert!(!last_used_is_stale(Some(now - 500), now, 250));
        assert!(last_used_is_stale(
            Some(now - 600),
            now,
            LAST_USED_JITTER_SECS
        ));
    }
}
