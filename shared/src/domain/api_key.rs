//! API keys: long-lived, scoped, shown once.

use super::credential::Unusable;
use super::metering::Metering;
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
    /// Set when rolled: the successor's id. A rolled key lives until its (shortened)
    /// expiry, has handed its slot to the successor and takes no further changes.
    pub rolled_to: Option<String>,
    /// The keys that created this one, nearest first (empty when a session, the bootstrap
    /// or the admin CLI made it). Fixed at creation; the key's rights follow all of them.
    pub lineage: Vec<String>,
    /// Rate limits and credits; empty when the key is unmetered.
    pub metering: Metering,
    /// Whose meter this key counts against: its own id, or for a successor its
    /// predecessor's meter id (a roll hands over the balance and the counts, never copies
    /// them, so the keys of one roll chain never spend more than one balance).
    pub meter_id: String,
    /// The rolled keys that share this key's meter and were still in their grace when this
    /// key was made, with when each ends: a change to the metering reaches them too.
    pub predecessors: Vec<Predecessor>,
}

/// A rolled key sharing its successor's meter until `ends_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predecessor {
    pub key_id: String,
    pub ends_at: i64,
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

    /// The rights this key has now: its own, narrowed by every key it was created by as
    /// that key is now (the scopes all hold, the weakest type, the earliest expiry).
    /// Whether each ancestor is usable is the caller's check.
    pub fn narrowed_by<'a>(&self, ancestors: impl IntoIterator<Item = &'a ApiKey>) -> ApiKey {
        let mut effective = self.clone();
        for ancestor in ancestors {
            effective.scopes = effective.scopes.intersection(&ancestor.scopes);
            effective.key_type = effective.key_type.weaker(ancestor.key_type);
            effective.expires_at = match (effective.expires_at, ancestor.expires_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        effective
    }

    /// Counts against the per-user limit: not revoked, not paused, not rolled.
    pub fn holds_a_slot(&self) -> bool {
        self.revoked_at.is_none() && self.enabled && self.rolled_to.is_none()
    }

    /// What `is_active` shows: usable now (an expired or paused key is not active).
    pub fn is_active(&self, now: i64) -> bool {
        self.is_usable(now)
    }

    /// The predecessors still in their grace at `now`.
    pub fn predecessors_in_grace(&self, now: i64) -> impl Iterator<Item = &Predecessor> {
        self.predecessors.iter().filter(move |p| p.ends_at > now)
    }

    /// The predecessors of this key's successor, when this key is rolled at `now` to end at
    /// `ends_at`: this key (unless it ends at once) and its own predecessors still in grace.
    pub fn predecessors_of_successor(&self, ends_at: i64, now: i64) -> Vec<Predecessor> {
        let this = Predecessor {
            key_id: self.id.clone(),
            ends_at,
        };
        std::iter::once(this)
            .chain(self.predecessors.iter().cloned())
            .filter(|p| p.ends_at > now)
            .collect()
    }

    /// Why this key may not be rolled now, if it may not.
    pub fn roll_refusal(&self, now: i64) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("a revoked key cannot be rolled")
        } else if self.rolled_to.is_some() {
            Some("this key was already rolled; roll its successor instead")
        } else if self.is_expired(now) {
            Some("an expired key cannot be rolled")
        } else if !self.enabled {
            Some("a paused key cannot be rolled; resume it first")
        } else {
            None
        }
    }
}

/// At most this many rolled keys of one chain may be in their grace at once: a metering
/// patch rewrites each of them in the patch's transaction (DynamoDB takes 100 items).
pub const MAX_PREDECESSORS_IN_GRACE: usize = 20;

/// Roll grace period bounds, seconds: at most a week, one day by default.
pub const MAX_ROLL_GRACE_SECS: i64 = 7 * 24 * 3600;
pub const DEFAULT_ROLL_GRACE_SECS: i64 = 24 * 3600;

/// When a rolled key ends: `grace_secs` from now, but never later than it would have.
pub fn rolled_key_end(expires_at: Option<i64>, now: i64, grace_secs: i64) -> i64 {
    let end = now + grace_secs;
    expires_at.map_or(end, |at| at.min(end))
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters, without spaces.
pub fn parse_idempotency_key(raw: &str) -> Option<&str> {
    let key = raw.trim();
    (!key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()))
        .then_some(key)
}

/// A roll's `Idempotency-Key` is remembered this long.
pub const IDEMPOTENCY_WINDOW_SECS: i64 = 24 * 3600;

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

    #[test]
    fn a_rolled_key_ends_at_the_grace_or_its_own_expiry() {
        assert_eq!(rolled_key_end(None, 1000, 0), 1000);
        assert_eq!(rolled_key_end(None, 1000, 60), 1060);
        assert_eq!(rolled_key_end(Some(1010), 1000, 60), 1010);
    }

    #[test]
    fn a_successor_remembers_the_predecessors_still_in_grace() {
        let ended = Predecessor {
            key_id: "k0".into(),
            ends_at: 900,
        };
        let live = Predecessor {
            key_id: "k1".into(),
            ends_at: 1500,
        };
        let key = ApiKey {
            id: "k2".into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
            email: "a@example.com".into(),
            user_role: UserRole::Admin,
            name: "n".into(),
            key_prefix: "kg_k2".into(),
            scopes: Scopes::default_for_new_key(),
            key_type: KeyType::Admin,
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            enabled: true,
            rolled_to: None,
            lineage: Vec::new(),
            metering: Metering::default(),
            meter_id: "k0".into(),
            predecessors: vec![ended, live.clone()],
        };
        let at_1000 = key.predecessors_of_successor(2000, 1000);
        assert_eq!(
            at_1000,
            vec![
                Predecessor {
                    key_id: "k2".into(),
                    ends_at: 2000
                },
                live.clone()
            ]
        );
        // A zero grace ends the rolled key at once: its successor shares with nobody new.
        assert_eq!(key.predecessors_of_successor(1000, 1000), vec![live]);
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert_eq!(parse_idempotency_key(" abc-1 "), Some("abc-1"));
        assert_eq!(parse_idempotency_key(""), None);
        assert_eq!(parse_idempotency_key("a b"), None);
        assert_eq!(parse_idempotency_key(&"x".repeat(256)), None);
    }
}
