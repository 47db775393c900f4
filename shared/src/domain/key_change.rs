//! Planning a change to an API key without I/O: what a patch asks for, checked against the
//! key and the caller (rights only narrow), as the changes the store writes; and the key as
//! it is once they are written.

use super::allowed_ips::AllowedIps;
use super::api_key::ApiKey;
use super::clock::parse_future;
use super::key_metadata::{parse_external_id, parse_meta, parse_tags};
use super::key_plan::{PlanRefused, metering_of};
use super::metering::{
    Credits, CreditsInput, EndUserBudgetInput, Metering, RateLimitInput, parse_credits,
    parse_end_user_budget, parse_ratelimits,
};
use super::models::AllowedModels;
use super::principal::Principal;
use super::scope::{Scope, Scopes};
use super::validation::{Invalid, Name};

/// Client input for a key change, before validation.
#[derive(Debug, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub is_active: Option<bool>,
    /// RFC 3339; only earlier than the current expiry (rights only narrow).
    pub expires_at: Option<String>,
    /// New rate limits (an empty list removes them).
    pub ratelimits: Option<Vec<RateLimitInput>>,
    /// New credits (`Some(None)` removes them).
    pub credits: Option<Option<CreditsInput>>,
    /// New allowed models (`Some(None)`: any), within the caller's.
    pub models: Option<Option<Vec<String>>>,
    /// A new end-user budget (`Some(None)` removes it).
    pub end_user_budget: Option<Option<EndUserBudgetInput>>,
    /// A new external id (`Some(None)` removes it).
    pub external_id: Option<Option<String>>,
    /// New tags (`Some(None)` or an empty list removes them).
    pub tags: Option<Option<Vec<String>>>,
    /// A new `meta` object (`Some(None)` removes it).
    pub meta: Option<Option<serde_json::Value>>,
    /// New source networks (`Some(None)`: any), within the caller's.
    pub allowed_ips: Option<Option<Vec<String>>>,
}

/// Fields a change sets.
#[derive(Debug, Default)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub scopes: Option<Scopes>,
    pub enabled: Option<bool>,
    pub expires_at: Option<i64>,
    /// New rate limits and credits policy (empty: unmetered).
    pub metering: Option<Metering>,
    /// A new balance and, when it refills, the current period start.
    pub credits: Option<(i64, Option<i64>)>,
    /// Rolled keys sharing the key's meter that take the new metering too.
    pub metering_predecessors: Vec<String>,
    /// New allowed models.
    pub models: Option<AllowedModels>,
    /// A new end-user budget (empty: none).
    pub end_user_budget: Option<Metering>,
    /// A new external id (`Some(None)`: removed).
    pub external_id: Option<Option<String>>,
    /// New tags (empty: none).
    pub tags: Option<Vec<String>>,
    /// A new `meta` (`Some(None)`: removed).
    pub meta: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    /// New source networks.
    pub allowed_ips: Option<AllowedIps>,
}

impl KeyChanges {
    /// Whether the change touches the key's metadata or address list.
    pub fn touches_metadata_or_networks(&self) -> bool {
        self.external_id.is_some()
            || self.tags.is_some()
            || self.meta.is_some()
            || self.allowed_ips.is_some()
    }
}

/// A checked change. What it cannot know without reading (the caller's live balance, the
/// rolled keys sharing the meter) the service adds before writing it.
#[derive(Debug)]
pub struct PlannedChange {
    pub changes: KeyChanges,
    /// The new balance the change sets, to be held within the caller's.
    pub credits: Option<Credits>,
}

/// The models a change sets (none named: any), no more than the caller may use.
pub fn models_within(
    caller: &Principal,
    wanted: Option<&[String]>,
) -> Result<AllowedModels, Invalid> {
    match wanted {
        Some(raw) => AllowedModels::derived("models", Some(raw), &caller.models),
        None if caller.models.names().is_none() => Ok(AllowedModels::any()),
        None => Err(Invalid::new(
            "models",
            "may not be lifted (null) by a credential that may use only some models",
        )),
    }
}

/// The source networks a change sets (none named: any), within the caller's own.
pub fn networks_within(
    caller: &Principal,
    wanted: Option<&[String]>,
) -> Result<AllowedIps, Invalid> {
    match wanted {
        Some(raw) => AllowedIps::derived("allowed_ips", Some(raw), &caller.allowed_ips),
        None if caller.allowed_ips.is_any() => Ok(AllowedIps::any()),
        None => Err(Invalid::new(
            "allowed_ips",
            "may not be lifted (null) by a credential that may be used only from some addresses",
        )),
    }
}

/// Checks `patch` against the key and the caller and turns it into the changes to write.
pub fn plan_change(
    current: &ApiKey,
    patch: &KeyPatch,
    caller: &Principal,
    now: i64,
) -> Result<PlannedChange, PlanRefused> {
    if current.revoked_at.is_some() {
        return Err(PlanRefused::Conflict("a revoked key cannot be changed"));
    }
    if current.rolled_to.is_some() {
        return Err(PlanRefused::Conflict(
            "a rolled key cannot be changed; change its successor",
        ));
    }
    caller.require_covers(&current.scopes, current.key_type, &current.models)?;
    caller.require_covers_networks(&current.allowed_ips)?;
    let expires_at = match patch.expires_at.as_deref() {
        None => None,
        Some(raw) => {
            let at = parse_future("expires_at", raw, now)?;
            if current.expires_at.is_some_and(|current| at > current) {
                return Err(Invalid::new(
                    "expires_at",
                    "may only move earlier than the key's current expiry",
                )
                .into());
            }
            Some(at)
        }
    };
    let mut changes = KeyChanges {
        name: patch
            .name
            .as_deref()
            .map(|raw| Name::parse("name", raw).map(Name::into_inner))
            .transpose()?,
        scopes: patch
            .scopes
            .as_deref()
            .map(|raw| Scopes::parse("scopes", raw, &Scope::ALL))
            .transpose()?,
        enabled: patch.is_active,
        expires_at,
        models: patch
            .models
            .as_ref()
            .map(|wanted| models_within(caller, wanted.as_deref()))
            .transpose()?,
        end_user_budget: match &patch.end_user_budget {
            None => None,
            Some(None) => Some(Metering::default()),
            Some(Some(raw)) => Some(parse_end_user_budget("end_user_budget", raw)?),
        },
        external_id: patch
            .external_id
            .as_ref()
            .map(|wanted| {
                wanted
                    .as_deref()
                    .map(|raw| parse_external_id("external_id", raw))
                    .transpose()
            })
            .transpose()?,
        tags: patch
            .tags
            .as_ref()
            .map(|wanted| parse_tags("tags", wanted.as_deref().unwrap_or_default()))
            .transpose()?,
        meta: patch
            .meta
            .as_ref()
            .map(|wanted| {
                wanted
                    .as_ref()
                    .map(|raw| parse_meta("meta", raw))
                    .transpose()
            })
            .transpose()?,
        allowed_ips: patch
            .allowed_ips
            .as_ref()
            .map(|wanted| networks_within(caller, wanted.as_deref()))
            .transpose()?,
        ..KeyChanges::default()
    };
    let mut credits = None;
    if patch.ratelimits.is_some() || patch.credits.is_some() {
        let ratelimits = match &patch.ratelimits {
            Some(raw) if raw.is_empty() => Vec::new(),
            Some(raw) => parse_ratelimits("ratelimits", raw)?,
            None => current.metering.ratelimits.clone(),
        };
        credits = match &patch.credits {
            Some(Some(raw)) => Some(parse_credits("credits", raw)?),
            _ => None,
        };
        let mut metering = metering_of(ratelimits, credits.as_ref());
        if patch.credits.is_none() {
            metering.credits = current.metering.credits.clone();
        }
        changes.metering = Some(metering);
    }
    if let Some(scopes) = &changes.scopes {
        caller.require_scopes_within(scopes)?;
        caller.require_right_to_grant(scopes)?;
    }
    Ok(PlannedChange { changes, credits })
}

impl ApiKey {
    /// The key once `changes` are written.
    pub fn with_changes(&self, changes: &KeyChanges) -> ApiKey {
        let mut updated = self.clone();
        if let Some(name) = &changes.name {
            updated.name = name.clone();
        }
        if let Some(scopes) = &changes.scopes {
            updated.scopes = scopes.clone();
        }
        if let Some(enabled) = changes.enabled {
            updated.enabled = enabled;
        }
        if let Some(at) = changes.expires_at {
            updated.expires_at = Some(at);
        }
        if let Some(metering) = &changes.metering {
            updated.metering = metering.clone();
        }
        if let Some(models) = &changes.models {
            updated.models = models.clone();
        }
        if let Some(budget) = &changes.end_user_budget {
            updated.end_user_budget = budget.clone();
        }
        if let Some(external_id) = &changes.external_id {
            updated.metadata.external_id = external_id.clone();
        }
        if let Some(tags) = &changes.tags {
            updated.metadata.tags = tags.clone();
        }
        if let Some(meta) = &changes.meta {
            updated.metadata.meta = meta.clone();
        }
        if let Some(networks) = &changes.allowed_ips {
            updated.allowed_ips = networks.clone();
        }
        updated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credential::{CredentialKind, new_ulid};
    use crate::domain::key_plan::{KeyContext, NewKeyInput, NewKeyPlan};
    use crate::domain::scope::{KeyType, UserRole};
    use crate::domain::user::User;

    const NOW: i64 = 1_800_000_000;

    fn key_and_owner(scopes: &[&str]) -> (ApiKey, Principal) {
        let owner = User {
            tenant_id: new_ulid().to_string(),
            id: new_ulid().to_string(),
            email: "ada@example.com".into(),
            name: None,
            role: UserRole::Admin,
            cac_verified: false,
            created_at: 0,
            deactivated_at: None,
        };
        let input = NewKeyInput {
            name: Some("key".into()),
            scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
            expires_at: Some("2030-01-01T00:00:00Z".into()),
            ..NewKeyInput::default()
        };
        let context = KeyContext {
            owner: &owner,
            granter: None,
            allowed_scopes: &Scope::ALL,
            default_ratelimits: Vec::new(),
            team_id: None,
            policy: &crate::domain::tenant_policy::TenantKeyPolicy::default(),
            now: NOW,
        };
        let key = NewKeyPlan::new(&input, context).ok().unwrap().key;
        let caller = Principal {
            tenant_id: owner.tenant_id.clone(),
            user_id: owner.id.clone(),
            email: owner.email.clone(),
            user_role: owner.role,
            kind: CredentialKind::Session,
            credential_id: new_ulid().to_string(),
            key_id: None,
            key_lineage: Vec::new(),
            key_type: KeyType::Admin,
            scopes: Scopes::from_iter(Scope::ALL.iter().copied()),
            expires_at: None,
            key_expires_at: None,
            chat_role: None,
            user_profile: None,
            temporary: false,
            metering: Metering::default(),
            meter_id: None,
            inherited_budgets: Vec::new(),
            models: AllowedModels::any(),
            owner_models: AllowedModels::any(),
            end_user: None,
            end_user_budgets: Vec::new(),
            team_id: None,
            key_metadata: Default::default(),
            allowed_ips: AllowedIps::any(),
        };
        (key, caller)
    }

    #[test]
    fn expiry_only_moves_earlier_and_a_revoked_or_rolled_key_stays() {
        let (mut key, caller) = key_and_owner(&["chat"]);
        let later = KeyPatch {
            expires_at: Some("2031-01-01T00:00:00Z".into()),
            ..KeyPatch::default()
        };
        assert!(matches!(
            plan_change(&key, &later, &caller, NOW),
            Err(PlanRefused::Invalid(invalid)) if invalid.field == "expires_at"
        ));
        let earlier = KeyPatch {
            expires_at: Some("2029-01-01T00:00:00Z".into()),
            name: Some("renamed".into()),
            ..KeyPatch::default()
        };
        let planned = plan_change(&key, &earlier, &caller, NOW).unwrap();
        let updated = key.with_changes(&planned.changes);
        assert_eq!(updated.name, "renamed");
        assert!(updated.expires_at < key.expires_at);
        key.revoked_at = Some(NOW);
        assert!(matches!(
            plan_change(&key, &earlier, &caller, NOW),
            Err(PlanRefused::Conflict(_))
        ));
    }

    #[test]
    fn limits_change_keeps_credits_unless_named_and_scopes_stay_within_the_caller() {
        let (key, mut caller) = key_and_owner(&["chat", "read"]);
        let limits = KeyPatch {
            ratelimits: Some(vec![RateLimitInput {
                name: "requests".into(),
                limit: 5,
                window_secs: 60,
                unit: None,
            }]),
            ..KeyPatch::default()
        };
        let planned = plan_change(&key, &limits, &caller, NOW).unwrap();
        let metering = planned.changes.metering.unwrap();
        assert_eq!(metering.ratelimits[0].limit, 5);
        assert!(planned.credits.is_none() && metering.credits.is_none());
        caller.scopes = Scopes::from_iter([Scope::Chat, Scope::Read]);
        let wider = KeyPatch {
            scopes: Some(vec!["chat".into(), "admin".into()]),
            ..KeyPatch::default()
        };
        assert!(matches!(
            plan_change(&key, &wider, &caller, NOW),
            Err(PlanRefused::Denied(_))
        ));
    }

    #[test]
    fn a_caller_limited_to_some_models_cannot_lift_the_list() {
        let (key, mut caller) = key_and_owner(&["chat"]);
        caller.models = AllowedModels::only(["model-a"]);
        let lift = KeyPatch {
            models: Some(None),
            ..KeyPatch::default()
        };
        // The caller must cover the key first: give the key the same list.
        let key = key.with_changes(&KeyChanges {
            models: Some(AllowedModels::only(["model-a"])),
            ..KeyChanges::default()
        });
        assert!(matches!(
            plan_change(&key, &lift, &caller, NOW),
            Err(PlanRefused::Invalid(invalid)) if invalid.field == "models"
        ));
    }

    #[test]
    fn metadata_is_set_and_removed_and_networks_stay_within_the_caller() {
        let (key, mut caller) = key_and_owner(&["chat"]);
        let set = KeyPatch {
            external_id: Some(Some("cust-1".into())),
            tags: Some(Some(vec!["prod".into()])),
            meta: Some(Some(serde_json::json!({"tier": 2}))),
            allowed_ips: Some(Some(vec!["2001:db8::/32".into()])),
            ..KeyPatch::default()
        };
        let planned = plan_change(&key, &set, &caller, NOW).unwrap();
        assert!(planned.changes.touches_metadata_or_networks());
        let updated = key.with_changes(&planned.changes);
        assert_eq!(updated.metadata.external_id.as_deref(), Some("cust-1"));
        assert_eq!(updated.metadata.tags, ["prod"]);
        assert_eq!(updated.allowed_ips.names().unwrap(), ["2001:db8::/32"]);
        let cleared = KeyPatch {
            external_id: Some(None),
            tags: Some(None),
            meta: Some(None),
            allowed_ips: Some(None),
            ..KeyPatch::default()
        };
        let planned = plan_change(&updated, &cleared, &caller, NOW).unwrap();
        let back = updated.with_changes(&planned.changes);
        assert!(back.metadata.is_empty() && back.allowed_ips.is_any());
        // A caller held to 10.0.0.0/8 may neither lift a list nor widen it.
        caller.allowed_ips = AllowedIps::stored(["10.0.0.0/8"]);
        let key = key.with_changes(&KeyChanges {
            allowed_ips: Some(AllowedIps::stored(["10.0.0.0/8"])),
            ..KeyChanges::default()
        });
        for wanted in [None, Some(vec!["192.0.2.0/24".to_string()])] {
            let patch = KeyPatch {
                allowed_ips: Some(wanted),
                ..KeyPatch::default()
            };
            assert!(matches!(
                plan_change(&key, &patch, &caller, NOW),
                Err(PlanRefused::Invalid(invalid)) if invalid.field == "allowed_ips"
            ));
        }
        let bad_meta = KeyPatch {
            meta: Some(Some(serde_json::json!("text"))),
            ..KeyPatch::default()
        };
        assert!(matches!(
            plan_change(&key, &bad_meta, &caller, NOW),
            Err(PlanRefused::Invalid(invalid)) if invalid.field == "meta"
        ));
    }
}
