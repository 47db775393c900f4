//! A tenant's key policy: what every new key of the tenant may be (`GET|PUT
//! /v1/tenant/policy`). It binds creation on every surface and the successor of a roll; keys
//! that exist when it changes keep working as they are until they expire or are revoked.

use super::scope::{KeyType, Scope, Scopes};
use super::validation::Invalid;

/// At most this many active keys per user when the tenant sets no policy.
pub const DEFAULT_MAX_ACTIVE_KEYS_PER_USER: u32 = super::api_key::MAX_ACTIVE_KEYS_PER_USER;
/// The range a tenant may choose for its users' active keys.
pub const MAX_ACTIVE_KEYS_RANGE: std::ops::RangeInclusive<i64> = 1..=100;
/// The longest life a policy may allow a key, in days (a key's own longest, ten years).
pub const MAX_KEY_LIFETIME_DAYS: i64 = super::key_plan::MAX_EXPIRES_IN_DAYS;

const DAY_SECS: i64 = 24 * 3600;

/// A tenant's key policy; `None` fields set no limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKeyPolicy {
    pub max_key_lifetime_days: Option<u32>,
    pub max_active_keys_per_user: u32,
    pub allowed_key_types: Option<Vec<KeyType>>,
    pub allowed_scopes: Option<Scopes>,
    /// Raised by every change; 0 for a tenant that never set one (nothing stored).
    pub revision: u64,
}

impl Default for TenantKeyPolicy {
    fn default() -> Self {
        Self {
            max_key_lifetime_days: None,
            max_active_keys_per_user: DEFAULT_MAX_ACTIVE_KEYS_PER_USER,
            allowed_key_types: None,
            allowed_scopes: None,
            revision: 0,
        }
    }
}

/// Client input for a policy, before validation: every field optional (absent: no limit).
#[derive(Debug, Default, Clone)]
pub struct TenantKeyPolicyInput {
    pub max_key_lifetime_days: Option<i64>,
    pub max_active_keys_per_user: Option<i64>,
    pub allowed_key_types: Option<Vec<String>>,
    pub allowed_scopes: Option<Vec<String>>,
}

/// Why a key breaks the policy: an expiry beyond it is bad input (400), a type or scope
/// outside it is forbidden (403). Both messages name the policy and its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyBreach {
    Lifetime(Invalid),
    Outside(String),
}

impl TenantKeyPolicy {
    /// Validates input, naming the field at fault; the revision is the store's to set.
    pub fn parse(input: &TenantKeyPolicyInput) -> Result<Self, Invalid> {
        let max_key_lifetime_days = input
            .max_key_lifetime_days
            .map(|days| {
                if (1..=MAX_KEY_LIFETIME_DAYS).contains(&days) {
                    Ok(days as u32)
                } else {
                    Err(Invalid::new(
                        "max_key_lifetime_days",
                        format!("must be a whole number of days from 1 to {MAX_KEY_LIFETIME_DAYS}"),
                    ))
                }
            })
            .transpose()?;
        let max_active_keys_per_user = match input.max_active_keys_per_user {
            None => DEFAULT_MAX_ACTIVE_KEYS_PER_USER,
            Some(max) if MAX_ACTIVE_KEYS_RANGE.contains(&max) => max as u32,
            Some(_) => {
                return Err(Invalid::new(
                    "max_active_keys_per_user",
                    format!(
                        "must be a whole number from {} to {}",
                        MAX_ACTIVE_KEYS_RANGE.start(),
                        MAX_ACTIVE_KEYS_RANGE.end()
                    ),
                ));
            }
        };
        let allowed_key_types = input
            .allowed_key_types
            .as_deref()
            .map(parse_key_types)
            .transpose()?;
        let allowed_scopes = input
            .allowed_scopes
            .as_deref()
            .map(|raw| Scopes::parse("allowed_scopes", raw, &Scope::ALL))
            .transpose()?;
        Ok(Self {
            max_key_lifetime_days,
            max_active_keys_per_user,
            allowed_key_types,
            allowed_scopes,
            revision: 0,
        })
    }

    /// The latest expiry a key created at `now` may have; None: any (or none).
    pub fn latest_expiry(&self, now: i64) -> Option<i64> {
        self.max_key_lifetime_days
            .map(|days| now + i64::from(days) * DAY_SECS)
    }

    /// Whether a new key of this type, scopes and expiry may be created at `now`.
    /// `expiry_field` is the request field the expiry came from, for the refusal.
    pub fn admits_new_key(
        &self,
        key_type: KeyType,
        scopes: &Scopes,
        expires_at: Option<i64>,
        expiry_field: &str,
        now: i64,
    ) -> Result<(), PolicyBreach> {
        if let Some(types) = &self.allowed_key_types
            && !types.contains(&key_type)
        {
            return Err(PolicyBreach::Outside(format!(
                "the tenant key policy (allowed_key_types: {}) does not allow {} keys",
                type_names(types),
                key_type.as_str()
            )));
        }
        self.admits_scopes(scopes)?;
        if let (Some(days), Some(latest)) = (self.max_key_lifetime_days, self.latest_expiry(now))
            && expires_at.is_none_or(|at| at > latest)
        {
            return Err(PolicyBreach::Lifetime(Invalid::new(
                expiry_field,
                format!(
                    "the tenant key policy (max_key_lifetime_days: {days}) requires every new \
                     key to expire within {days} days: give an expiry no later than that"
                ),
            )));
        }
        Ok(())
    }

    /// Whether these scopes are all within the policy (a new key's, or those a change adds).
    pub fn admits_scopes(&self, scopes: &Scopes) -> Result<(), PolicyBreach> {
        let Some(allowed) = &self.allowed_scopes else {
            return Ok(());
        };
        match scopes.iter().find(|scope| !allowed.contains(*scope)) {
            Some(outside) => Err(PolicyBreach::Outside(format!(
                "the tenant key policy (allowed_scopes: {}) does not allow the scope {:?}",
                allowed.names().join(" "),
                outside.as_str()
            ))),
            None => Ok(()),
        }
    }

    /// The scopes a change from `current` to `wanted` adds must be within the policy; those
    /// the key already held (perhaps from before the policy) may stay.
    pub fn admits_added_scopes(
        &self,
        current: &Scopes,
        wanted: &Scopes,
    ) -> Result<(), PolicyBreach> {
        let added: Scopes = wanted.iter().filter(|s| !current.contains(*s)).collect();
        self.admits_scopes(&added)
    }

    /// A roll's successor lives no longer than the policy lets a new key live from `now`:
    /// its inherited expiry, clamped.
    pub fn clamp_successor_expiry(&self, inherited: Option<i64>, now: i64) -> Option<i64> {
        super::key_plan::earliest(inherited, self.latest_expiry(now))
    }
}

fn parse_key_types(raw: &[String]) -> Result<Vec<KeyType>, Invalid> {
    let mut types = Vec::new();
    for (index, name) in raw.iter().enumerate() {
        let key_type = KeyType::parse(name).ok_or_else(|| {
            Invalid::new(
                format!("allowed_key_types[{index}]"),
                format!("unknown key type {name:?}; allowed: admin, asker"),
            )
        })?;
        if !types.contains(&key_type) {
            types.push(key_type);
        }
    }
    if types.is_empty() {
        return Err(Invalid::new(
            "allowed_key_types",
            "must name at least one key type (leave it out for no limit)",
        ));
    }
    // Stored and shown in one order, whatever the input's.
    types.sort_by_key(|t| t.as_str());
    Ok(types)
}

fn type_names(types: &[KeyType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn field_of(input: TenantKeyPolicyInput) -> String {
        TenantKeyPolicy::parse(&input).err().unwrap().field
    }

    #[test]
    fn absent_fields_set_no_limit_and_ten_keys() {
        let policy = TenantKeyPolicy::parse(&TenantKeyPolicyInput::default()).unwrap();
        assert_eq!(policy, TenantKeyPolicy::default());
        assert_eq!(policy.max_active_keys_per_user, 10);
        assert!(
            policy
                .admits_new_key(KeyType::Admin, &Scopes::all(), None, "expires_at", NOW)
                .is_ok()
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for days in [0, MAX_KEY_LIFETIME_DAYS + 1, -3] {
            let input = TenantKeyPolicyInput {
                max_key_lifetime_days: Some(days),
                ..Default::default()
            };
            assert_eq!(field_of(input), "max_key_lifetime_days");
        }
        for max in [0, 101] {
            let input = TenantKeyPolicyInput {
                max_active_keys_per_user: Some(max),
                ..Default::default()
            };
            assert_eq!(field_of(input), "max_active_keys_per_user");
        }
        let types = TenantKeyPolicyInput {
            allowed_key_types: Some(strings(&["asker", "root"])),
            ..Default::default()
        };
        assert_eq!(field_of(types), "allowed_key_types[1]");
        let no_types = TenantKeyPolicyInput {
            allowed_key_types: Some(Vec::new()),
            ..Default::default()
        };
        assert_eq!(field_of(no_types), "allowed_key_types");
        let scopes = TenantKeyPolicyInput {
            allowed_scopes: Some(strings(&["chat", "sudo"])),
            ..Default::default()
        };
        assert_eq!(field_of(scopes), "allowed_scopes[1]");
        let no_scopes = TenantKeyPolicyInput {
            allowed_scopes: Some(Vec::new()),
            ..Default::default()
        };
        assert_eq!(field_of(no_scopes), "allowed_scopes");
    }

    fn strict() -> TenantKeyPolicy {
        TenantKeyPolicy::parse(&TenantKeyPolicyInput {
            max_key_lifetime_days: Some(30),
            max_active_keys_per_user: Some(3),
            allowed_key_types: Some(strings(&["asker", "asker"])),
            allowed_scopes: Some(strings(&["chat", "read"])),
        })
        .unwrap()
    }

    #[test]
    fn a_new_key_outside_the_policy_is_refused_naming_it() {
        let policy = strict();
        assert_eq!(policy.allowed_key_types, Some(vec![KeyType::Asker]));
        let chat = Scopes::from_stored(["chat"]);
        let in_time = Some(NOW + 30 * DAY_SECS);
        assert!(
            policy
                .admits_new_key(KeyType::Asker, &chat, in_time, "expires_at", NOW)
                .is_ok()
        );
        let Err(PolicyBreach::Outside(why)) =
            policy.admits_new_key(KeyType::Admin, &chat, in_time, "expires_at", NOW)
        else {
            panic!("an admin key is outside the policy");
        };
        assert!(why.contains("allowed_key_types"), "{why}");
        let Err(PolicyBreach::Outside(why)) = policy.admits_new_key(
            KeyType::Asker,
            &Scopes::from_stored(["chat", "write"]),
            in_time,
            "expires_at",
            NOW,
        ) else {
            panic!("write is outside the policy");
        };
        assert!(
            why.contains("allowed_scopes") && why.contains("write"),
            "{why}"
        );
        for (expiry, field) in [
            (None, "expires_at"),
            (Some(NOW + 30 * DAY_SECS + 1), "expires_in_days"),
        ] {
            let Err(PolicyBreach::Lifetime(invalid)) =
                policy.admits_new_key(KeyType::Asker, &chat, expiry, field, NOW)
            else {
                panic!("{expiry:?} is beyond the policy");
            };
            assert_eq!(invalid.field, field);
            assert!(invalid.message.contains("max_key_lifetime_days"));
        }
    }

    #[test]
    fn a_change_may_keep_old_scopes_but_add_only_allowed_ones() {
        let policy = strict();
        let held = Scopes::from_stored(["chat", "admin"]);
        assert!(
            policy
                .admits_added_scopes(&held, &Scopes::from_stored(["admin"]))
                .is_ok(),
            "narrowing keeps a scope the policy no longer allows"
        );
        assert!(
            policy
                .admits_added_scopes(&held, &Scopes::from_stored(["chat", "read", "admin"]))
                .is_ok()
        );
        assert!(
            policy
                .admits_added_scopes(&held, &Scopes::from_stored(["chat", "write"]))
                .is_err()
        );
    }

    #[test]
    fn a_successor_s_expiry_is_clamped_never_lengthened() {
        let policy = strict();
        let latest = NOW + 30 * DAY_SECS;
        assert_eq!(policy.clamp_successor_expiry(None, NOW), Some(latest));
        assert_eq!(
            policy.clamp_successor_expiry(Some(latest + 5), NOW),
            Some(latest)
        );
        assert_eq!(
            policy.clamp_successor_expiry(Some(NOW + 60), NOW),
            Some(NOW + 60)
        );
        assert_eq!(
            TenantKeyPolicy::default().clamp_successor_expiry(None, NOW),
            None
        );
    }
}
