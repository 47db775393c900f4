//! API keys: long-lived, scoped, shown once.

use super::allowed_ips::AllowedIps;
use super::credential::Unusable;
use super::key_metadata::KeyMetadata;
use super::metering::Metering;
use super::models::AllowedModels;
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
    /// The models the key may use (its own list; the effective one is narrowed by its
    /// lineage, see `narrowed_by`).
    pub models: AllowedModels,
    /// What each end user of the key's temp tokens may spend, each on a meter of its own
    /// (empty: no end-user budget).
    pub end_user_budget: Metering,
    /// Whose meter this key counts against: its own id, or for a successor its
    /// predecessor's meter id (a roll hands over the balance and the counts, never copies
    /// them, so the keys of one roll chain never spend more than one balance).
    pub meter_id: String,
    /// The rolled keys that share this key's meter and were still in their grace when this
    /// key was made, with when each ends: a change to the metering reaches them too.
    pub predecessors: Vec<Predecessor>,
    /// The team owning this key (a team key, a service account); its `user_id` is then the
    /// team's id. None: a person's key.
    pub team_id: Option<String>,
    /// Who created a team key (for audit; the key does not follow them).
    pub created_by: Option<String>,
    /// What the owner's systems call and tag the key (no rights ride on it).
    pub metadata: KeyMetadata,
    /// The source addresses the key may be used from (its own list; the effective one is
    /// narrowed by its lineage, see `narrowed_by`).
    pub allowed_ips: AllowedIps,
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
    /// that key is now (the scopes all hold, the weakest type, the earliest expiry, the
    /// models and the source addresses all allow).
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
            effective.models = effective.models.intersection(&ancestor.models);
            effective.allowed_ips = effective.allowed_ips.intersection(&ancestor.allowed_ips);
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
            models: AllowedModels::any(),
            end_user_budget: Metering::default(),
            meter_id: "k0".into(),
            predecessors: vec![ended, live.clone()],
            team_id: None,
            created_by: None,
            metadata: KeyMetadata::default(),
            allowed_ips: AllowedIps::any(),
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

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
            email: "a@example.com".into(),
            user_role: UserRole::Admin,
            name: "n".into(),
            key_prefix: format!("kg_{id}"),
            scopes: Scopes::all(),
            key_type: KeyType::Admin,
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            enabled: true,
            rolled_to: None,
            lineage: Vec::new(),
            metering: Metering::default(),
            models: AllowedModels::any(),
            end_user_budget: Metering::default(),
            meter_id: id.into(),
            predecessors: Vec::new(),
            team_id: None,
            created_by: None,
            metadata: KeyMetadata::default(),
            allowed_ips: AllowedIps::any(),
        }
    }

    #[test]
    fn a_key_is_expired_from_its_expiry_on() {
        let mut k = key("k");
        assert!(!k.is_expired(1000), "no expiry");
        k.expires_at = Some(1000);
        assert!(!k.is_expired(999));
        assert!(k.is_expired(1000), "expired at the instant itself");
        assert!(k.is_expired(1001));
    }

    #[test]
    fn a_key_is_unusable_revoked_paused_or_expired_in_that_order() {
        let mut k = key("k");
        assert_eq!(k.unusable(1000), None);
        assert!(k.is_usable(1000) && k.is_active(1000));
        k.expires_at = Some(1000);
        assert_eq!(k.unusable(1000), Some(Unusable::Expired));
        assert!(!k.is_usable(1000) && !k.is_active(1000));
        k.enabled = false;
        assert_eq!(k.unusable(999), Some(Unusable::Disabled));
        assert_eq!(k.unusable(1000), Some(Unusable::Disabled));
        assert!(!k.is_usable(999));
        k.revoked_at = Some(5);
        assert_eq!(k.unusable(1000), Some(Unusable::Revoked));
    }

    #[test]
    fn a_key_is_narrowed_by_every_ancestor() {
        let mut child = key("c");
        child.expires_at = Some(3000);
        let mut parent = key("p");
        parent.scopes = Scopes::from_stored(["chat", "read", "write"]);
        parent.expires_at = Some(2000);
        let mut root = key("r");
        root.scopes = Scopes::from_stored(["read", "write", "admin"]);
        root.key_type = KeyType::Asker;
        let effective = child.narrowed_by([&parent, &root]);
        assert_eq!(effective.scopes, Scopes::from_stored(["read", "write"]));
        assert_eq!(effective.key_type, KeyType::Asker);
        assert_eq!(effective.expires_at, Some(2000));
        assert_eq!(effective.id, "c");
        // An expiry on either side bounds the key; none stays none.
        let forever = key("f");
        assert_eq!(forever.narrowed_by([&parent]).expires_at, Some(2000));
        assert_eq!(child.narrowed_by([&forever]).expires_at, Some(3000));
        assert_eq!(forever.narrowed_by([&key("g")]).expires_at, None);
        assert_eq!(child.narrowed_by([]), child);
    }

    #[test]
    fn a_key_may_be_used_only_from_where_every_ancestor_allows() {
        let networks = |list: &[&str]| {
            AllowedIps::parse(
                "allowed_ips",
                &list.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .unwrap()
        };
        let mut child = key("c");
        let mut parent = key("p");
        parent.allowed_ips = networks(&["10.0.0.0/8", "192.0.2.0/24"]);
        // A key without a list of its own is held to its creators'.
        assert_eq!(child.narrowed_by([&parent]).allowed_ips, parent.allowed_ips);
        child.allowed_ips = networks(&["10.1.0.0/16", "198.51.100.0/24"]);
        let root = key("r");
        assert_eq!(
            child.narrowed_by([&parent, &root]).allowed_ips,
            networks(&["10.1.0.0/16"])
        );
    }

    #[test]
    fn only_a_live_unrolled_key_holds_a_slot() {
        let mut k = key("k");
        assert!(k.holds_a_slot());
        k.rolled_to = Some("k2".into());
        assert!(!k.holds_a_slot(), "rolled: its successor holds it");
        let mut k = key("k");
        k.enabled = false;
        assert!(!k.holds_a_slot(), "paused");
        let mut k = key("k");
        k.revoked_at = Some(1);
        assert!(!k.holds_a_slot(), "revoked");
    }

    #[test]
    fn a_grace_ends_at_its_instant() {
        let mut k = key("k");
        k.predecessors = vec![
            Predecessor {
                key_id: "a".into(),
                ends_at: 1000,
            },
            Predecessor {
                key_id: "b".into(),
                ends_at: 1001,
            },
        ];
        let live: Vec<&str> = k
            .predecessors_in_grace(1000)
            .map(|p| p.key_id.as_str())
            .collect();
        assert_eq!(live, ["b"]);
    }

    #[test]
    fn only_a_live_unrolled_key_may_be_rolled() {
        let mut k = key("k");
        assert_eq!(k.roll_refusal(1000), None);
        k.enabled = false;
        assert!(k.roll_refusal(1000).unwrap().contains("paused"));
        k.expires_at = Some(1000);
        assert!(k.roll_refusal(1000).unwrap().contains("expired"));
        assert!(k.roll_refusal(999).unwrap().contains("paused"));
        k.rolled_to = Some("k2".into());
        assert!(k.roll_refusal(1000).unwrap().contains("already rolled"));
        k.revoked_at = Some(1);
        assert!(k.roll_refusal(1000).unwrap().contains("revoked"));
    }

    #[test]
    fn an_idempotency_key_may_be_255_characters() {
        assert_eq!(
            parse_idempotency_key(&"x".repeat(255)).map(str::len),
            Some(255)
        );
    }

    #[test]
    fn a_rolled_key_lives_at_most_a_week_and_a_roll_is_remembered_a_day() {
        assert_eq!(MAX_ROLL_GRACE_SECS, 604_800);
        assert_eq!(DEFAULT_ROLL_GRACE_SECS, 86_400);
        assert_eq!(IDEMPOTENCY_WINDOW_SECS, 86_400);
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert_eq!(parse_idempotency_key(" abc-1 "), Some("abc-1"));
        assert_eq!(parse_idempotency_key(""), None);
        assert_eq!(parse_idempotency_key("a b"), None);
        assert_eq!(parse_idempotency_key(&"x".repeat(256)), None);
    }
}
