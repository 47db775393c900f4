//! Planning a new API key: every rule a new key must meet, checked and applied without I/O.
//! The service reads what the rules need (the owner's default limits), plans, checks the
//! plan's budget against the granter's balance, and writes it in one store call.

use super::allowed_ips::AllowedIps;
use super::api_key::ApiKey;
use super::clock::parse_future;
use super::credential::{self, CredentialKind, MAX_KEY_ANCESTORS};
use super::key_metadata::{KeyMetadata, parse_external_id, parse_meta, parse_tags};
use super::metering::{
    self, Credits, CreditsInput, CreditsPolicy, EndUserBudgetInput, Metering, RateLimit,
    RateLimitInput, parse_credits, parse_end_user_budget, parse_ratelimits,
};
use super::models::AllowedModels;
use super::principal::{Denied, Principal};
use super::scope::{KeyType, Scope, Scopes};
use super::tenant_policy::{PolicyBreach, TenantKeyPolicy};
use super::user::User;
use super::validation::{Invalid, Name};

/// A key may be given at most ten years of life in days.
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;

/// Client input for a new key, before validation.
#[derive(Debug, Default)]
pub struct NewKeyInput {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<String>,
    /// An alternative to `expires_at`: whole days from now (VirtuousAI's `expiresInDays`).
    pub expires_in_days: Option<i64>,
    pub key_type: Option<String>,
    pub ratelimits: Option<Vec<RateLimitInput>>,
    pub credits: Option<CreditsInput>,
    /// The models the key may use; none named: the creator's.
    pub models: Option<Vec<String>>,
    /// What each end user of the key's temp tokens may spend.
    pub end_user_budget: Option<EndUserBudgetInput>,
    /// What the owner's systems call the key.
    pub external_id: Option<String>,
    pub tags: Option<Vec<String>>,
    /// A JSON object of the owner's own (validated as one here).
    pub meta: Option<serde_json::Value>,
    /// The source networks the key may be used from; none named: any (the creator's list
    /// still holds it, by the chain).
    pub allowed_ips: Option<Vec<String>>,
}

impl NewKeyInput {
    /// The metadata asked for, validated.
    fn metadata(&self) -> Result<KeyMetadata, Invalid> {
        Ok(KeyMetadata {
            external_id: self
                .external_id
                .as_deref()
                .map(|raw| parse_external_id("external_id", raw))
                .transpose()?,
            tags: match &self.tags {
                Some(raw) => parse_tags("tags", raw)?,
                None => Vec::new(),
            },
            meta: self
                .meta
                .as_ref()
                .map(|raw| parse_meta("meta", raw))
                .transpose()?,
        })
    }

    /// A key that stands in for its creator (Cogniac's keys replace a password, VirtuousAI's
    /// named tokens act as their user): it carries the caller's own scopes, never more.
    pub fn standing_in_for(caller: &Principal, name: Option<String>) -> Self {
        Self {
            name,
            scopes: Some(
                caller
                    .scopes
                    .names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            // A metered caller's stand-in carries its limits; credits are not copied (a
            // fresh balance would be more than the caller holds): it starts at zero and
            // refills as the caller's own.
            ratelimits: caller.metering.is_metered().then(|| {
                caller
                    .metering
                    .ratelimits
                    .iter()
                    .map(|l| RateLimitInput {
                        name: l.name.clone(),
                        limit: i64::from(l.limit),
                        window_secs: i64::from(l.window_secs),
                        unit: Some(l.unit.clone()),
                    })
                    .collect()
            }),
            credits: caller.metering.credits.as_ref().map(|own| CreditsInput {
                remaining: 0,
                refill: own.refill.as_ref().map(|r| metering::RefillInput {
                    interval: r.interval.as_str().to_owned(),
                    amount: r.amount,
                    day: r.day.map(i64::from),
                }),
            }),
            ..Self::default()
        }
    }
}

/// What a plan needs besides the input.
pub struct KeyContext<'a> {
    /// Whose key it is.
    pub owner: &'a User,
    /// The credential creating it; none for a session's own user, the bootstrap or the CLI.
    pub granter: Option<&'a Principal>,
    /// The scopes the surface lets clients ask for.
    pub allowed_scopes: &'a [Scope],
    /// The owner's default limits, for an input that names none.
    pub default_ratelimits: Vec<RateLimit>,
    /// The team owning the key (`owner` is then the team, `Team::as_key_owner`): a team key
    /// is bounded by its granter here, at creation, but records no lineage, so it does not
    /// follow the granter and outlives its creator's keys and membership.
    pub team_id: Option<&'a str>,
    /// The owner's tenant's key policy (its default when the tenant set none).
    pub policy: &'a TenantKeyPolicy,
    pub now: i64,
}

/// Why a key cannot be planned.
#[derive(Debug)]
pub enum PlanRefused {
    Invalid(Invalid),
    Denied(Denied),
    /// The granter is already `MAX_KEY_ANCESTORS` keys deep.
    TooDeep,
    /// The granter's lineage holds an id that is no ULID (a malformed credential).
    MalformedLineage,
    /// The owner's tenant or user id is no ULID (a malformed stored item).
    MalformedOwner,
    /// The key's state forbids the change (revoked, rolled).
    Conflict(&'static str),
}

impl From<Invalid> for PlanRefused {
    fn from(invalid: Invalid) -> Self {
        Self::Invalid(invalid)
    }
}

impl From<Denied> for PlanRefused {
    fn from(denied: Denied) -> Self {
        Self::Denied(denied)
    }
}

impl From<PolicyBreach> for PlanRefused {
    fn from(breach: PolicyBreach) -> Self {
        match breach {
            PolicyBreach::Lifetime(invalid) => Self::Invalid(invalid),
            PolicyBreach::Outside(why) => Self::Denied(Denied(why)),
        }
    }
}

/// A new key, its secret (shown once) and the balance its meter starts with.
pub struct NewKeyPlan {
    pub key: ApiKey,
    pub secret: String,
    pub credits: Option<Credits>,
}

/// The stored metering of a key with these limits and credits.
pub fn metering_of(ratelimits: Vec<RateLimit>, credits: Option<&Credits>) -> Metering {
    Metering {
        ratelimits,
        credits: credits.map(|c| CreditsPolicy {
            refill: c.refill.clone(),
            initial: None,
        }),
    }
}

/// The earlier of two optional expiries (None: never).
pub fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl NewKeyPlan {
    /// Validates `input` and applies the rules: scopes, type and models within the
    /// granter's, an expiry no later than its key's, a lineage within bounds, and the
    /// tenant's key policy.
    pub fn new(input: &NewKeyInput, context: KeyContext<'_>) -> Result<Self, PlanRefused> {
        let KeyContext {
            owner,
            granter,
            allowed_scopes,
            default_ratelimits,
            team_id,
            policy,
            now,
        } = context;
        let name = Name::parse("name", input.name.as_deref().unwrap_or_default())?;
        let scopes = match &input.scopes {
            Some(raw) => Scopes::parse("scopes", raw, allowed_scopes)?,
            None => Scopes::default_for_new_key(),
        };
        if let Some(granter) = granter {
            granter.require_scopes_within(&scopes)?;
            granter.require_right_to_grant(&scopes)?;
        }
        let expires_at = expiry(input, now)?;
        let key_type = match input.key_type.as_deref() {
            None => KeyType::Admin,
            Some(raw) => KeyType::parse(raw)
                .ok_or_else(|| Invalid::new("type", "must be \"admin\" or \"asker\""))?,
        };
        let lineage = match team_id {
            Some(_) => Vec::new(),
            None => granter
                .map(Principal::lineage_for_new_key)
                .unwrap_or_default(),
        };
        if lineage.len() > MAX_KEY_ANCESTORS {
            return Err(PlanRefused::TooDeep);
        }
        let lineage_ids = lineage
            .iter()
            .map(|id| ulid::Ulid::from_string(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| PlanRefused::MalformedLineage)?;
        let expires_at = match granter {
            Some(granter) => {
                granter.require_manager()?;
                if !granter.key_type.may_mint(key_type) {
                    return Err(PlanRefused::Denied(Denied(
                        "an asker credential cannot create an admin key".into(),
                    )));
                }
                earliest(expires_at, granter.key_expires_at)
            }
            None => expires_at,
        };
        // The key as it would be (its expiry already bounded by the granter's key) must fit
        // the tenant's policy.
        let expiry_field = if input.expires_in_days.is_some() {
            "expires_in_days"
        } else {
            "expires_at"
        };
        policy.admits_new_key(key_type, &scopes, expires_at, expiry_field, now)?;
        let ratelimits = match &input.ratelimits {
            Some(raw) => parse_ratelimits("ratelimits", raw)?,
            // A key that names no limits gets its user's default, if a tenant admin set one.
            None => default_ratelimits,
        };
        let credits = input
            .credits
            .as_ref()
            .map(|raw| parse_credits("credits", raw))
            .transpose()?;
        let end_user_budget = input
            .end_user_budget
            .as_ref()
            .map(|raw| parse_end_user_budget("end_user_budget", raw))
            .transpose()?
            .unwrap_or_default();
        // Model lists only narrow: a session, the bootstrap or the CLI may name any.
        let models = AllowedModels::derived(
            "models",
            input.models.as_deref(),
            &granter.map_or_else(AllowedModels::any, |g| g.models.clone()),
        )?;
        // Address lists only narrow: within the granter's effective list. A key that
        // follows its granter (a lineage) is held to that list by the chain; a team key does
        // not follow it, so without a list of its own it takes the granter's.
        let granter_networks = granter.map_or_else(AllowedIps::any, |g| g.allowed_ips.clone());
        let allowed_ips = match (input.allowed_ips.as_deref(), team_id) {
            (None, Some(_)) => granter_networks,
            (wanted, _) => AllowedIps::derived("allowed_ips", wanted, &granter_networks)?,
        };
        let metadata = input.metadata()?;
        let owner_id = credential::Owner::of(&owner.tenant_id, &owner.id)
            .ok_or(PlanRefused::MalformedOwner)?;
        let new = credential::generate(CredentialKind::ApiKey, owner_id, &lineage_ids);
        let key = ApiKey {
            id: new.id.to_string(),
            tenant_id: owner.tenant_id.clone(),
            user_id: owner.id.clone(),
            email: owner.email.clone(),
            user_role: owner.role,
            name: name.into_inner(),
            key_prefix: credential::display_prefix(CredentialKind::ApiKey, new.id),
            scopes,
            key_type,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
            enabled: true,
            rolled_to: None,
            lineage,
            metering: metering_of(ratelimits, credits.as_ref()),
            models,
            end_user_budget,
            meter_id: new.id.to_string(),
            predecessors: Vec::new(),
            team_id: team_id.map(str::to_owned),
            created_by: team_id.and(granter).map(|g| g.user_id.clone()),
            metadata,
            allowed_ips,
        };
        Ok(Self {
            key,
            secret: new.secret,
            credits,
        })
    }
}

/// `expires_at` (RFC 3339, in the future) or `expires_in_days`, not both.
fn expiry(input: &NewKeyInput, now: i64) -> Result<Option<i64>, Invalid> {
    match (input.expires_at.as_deref(), input.expires_in_days) {
        (Some(_), Some(_)) => Err(Invalid::new(
            "expires_in_days",
            "give expires_at or expires_in_days, not both",
        )),
        (Some(raw), None) => Ok(Some(parse_future("expires_at", raw, now)?)),
        (None, Some(days)) if (1..=MAX_EXPIRES_IN_DAYS).contains(&days) => {
            Ok(Some(now + days * 24 * 3600))
        }
        (None, Some(_)) => Err(Invalid::new(
            "expires_in_days",
            format!("must be a whole number of days from 1 to {MAX_EXPIRES_IN_DAYS}"),
        )),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credential::new_ulid;
    use crate::domain::scope::UserRole;

    const NOW: i64 = 1_800_000_000;

    fn owner() -> User {
        User {
            tenant_id: new_ulid().to_string(),
            id: new_ulid().to_string(),
            email: "ada@example.com".into(),
            name: None,
            role: UserRole::Member,
            cac_verified: false,
            created_at: 0,
            deactivated_at: None,
        }
    }

    fn granter(owner: &User, scopes: &[Scope], key_expires_at: Option<i64>) -> Principal {
        Principal {
            tenant_id: owner.tenant_id.clone(),
            user_id: owner.id.clone(),
            email: owner.email.clone(),
            user_role: owner.role,
            kind: CredentialKind::ApiKey,
            credential_id: new_ulid().to_string(),
            key_id: Some(new_ulid().to_string()),
            key_lineage: Vec::new(),
            key_type: KeyType::Admin,
            scopes: Scopes::from_iter(scopes.iter().copied()),
            expires_at: key_expires_at,
            key_expires_at,
            chat_role: None,
            user_profile: None,
            temporary: false,
            metering: Metering::default(),
            meter_id: None,
            inherited_budgets: Vec::new(),
            models: AllowedModels::only(["model-a", "model-b"]),
            owner_models: AllowedModels::any(),
            end_user: None,
            end_user_budgets: Vec::new(),
            team_id: None,
            key_metadata: KeyMetadata::default(),
            allowed_ips: AllowedIps::stored(["10.0.0.0/8"]),
        }
    }

    fn plan(
        input: NewKeyInput,
        owner: &User,
        granter: Option<&Principal>,
    ) -> Result<NewKeyPlan, PlanRefused> {
        NewKeyPlan::new(
            &input,
            KeyContext {
                owner,
                granter,
                allowed_scopes: &Scope::ALL,
                default_ratelimits: vec![RateLimit {
                    name: "default".into(),
                    limit: 10,
                    window_secs: 60,
                    unit: "requests".into(),
                }],
                team_id: None,
                policy: &TenantKeyPolicy::default(),
                now: NOW,
            },
        )
    }

    fn named(name: &str) -> NewKeyInput {
        NewKeyInput {
            name: Some(name.into()),
            ..NewKeyInput::default()
        }
    }

    #[test]
    fn a_granted_key_narrows_to_its_granter() {
        let owner = owner();
        let granter = granter(&owner, &[Scope::Chat, Scope::Read], Some(NOW + 3600));
        let wider = NewKeyInput {
            scopes: Some(vec!["chat".into(), "admin".into()]),
            ..named("wider")
        };
        assert!(matches!(
            plan(wider, &owner, Some(&granter)),
            Err(PlanRefused::Denied(_))
        ));
        let longer = NewKeyInput {
            scopes: Some(vec!["chat".into()]),
            expires_in_days: Some(30),
            ..named("longer")
        };
        let planned = plan(longer, &owner, Some(&granter)).ok().unwrap();
        assert_eq!(
            planned.key.expires_at,
            Some(NOW + 3600),
            "no later than the granter"
        );
        assert_eq!(planned.key.lineage, vec![granter.key_id.clone().unwrap()]);
        assert_eq!(planned.key.models, granter.models, "the granter's models");
        let other_model = NewKeyInput {
            scopes: Some(vec!["chat".into()]),
            models: Some(vec!["model-c".into()]),
            ..named("other model")
        };
        assert!(matches!(
            plan(other_model, &owner, Some(&granter)),
            Err(PlanRefused::Invalid(invalid)) if invalid.field == "models"
        ));
    }

    #[test]
    fn a_team_key_is_bounded_by_its_granter_but_does_not_follow_it() {
        let creator = owner();
        let granter = granter(&creator, &[Scope::Chat, Scope::Read], Some(NOW + 3600));
        let team = crate::domain::team::Team {
            tenant_id: creator.tenant_id.clone(),
            id: new_ulid().to_string(),
            name: "Data".into(),
            created_at: NOW,
            member_count: 1,
            active_keys: 0,
        };
        let owner = team.as_key_owner();
        let plan_for_team = |input: NewKeyInput| {
            NewKeyPlan::new(
                &input,
                KeyContext {
                    owner: &owner,
                    granter: Some(&granter),
                    allowed_scopes: &Scope::ALL,
                    default_ratelimits: Vec::new(),
                    team_id: Some(&team.id),
                    policy: &TenantKeyPolicy::default(),
                    now: NOW,
                },
            )
        };
        let wider = NewKeyInput {
            scopes: Some(vec!["chat".into(), "write".into()]),
            ..named("wider")
        };
        assert!(matches!(plan_for_team(wider), Err(PlanRefused::Denied(_))));
        let key = plan_for_team(NewKeyInput {
            scopes: Some(vec!["chat".into()]),
            expires_in_days: Some(30),
            ..named("service")
        })
        .ok()
        .unwrap();
        assert_eq!(
            key.key.expires_at,
            Some(NOW + 3600),
            "no later than the granter"
        );
        assert!(
            key.key.lineage.is_empty(),
            "no lineage: it outlives its creator"
        );
        assert_eq!(key.key.user_id, team.id, "the team in the owner slot");
        assert_eq!(key.key.team_id.as_deref(), Some(team.id.as_str()));
        assert_eq!(key.key.created_by.as_deref(), Some(creator.id.as_str()));
        assert_eq!(
            key.key.allowed_ips, granter.allowed_ips,
            "bounded at creation: the granter's networks, since it will not follow them"
        );
        let parsed = credential::parse(&key.secret).unwrap();
        assert!(
            parsed
                .owner
                .is_some_and(|o| o.is(&team.tenant_id, &team.id))
        );
        assert!(parsed.key_ancestors().is_empty());
    }

    #[test]
    fn the_owner_s_defaults_apply_when_no_limits_are_named() {
        let owner = owner();
        let planned = plan(named("defaults"), &owner, None).ok().unwrap();
        assert_eq!(planned.key.metering.ratelimits[0].name, "default");
        assert!(planned.credits.is_none());
        let own = NewKeyInput {
            ratelimits: Some(Vec::new()),
            ..named("none")
        };
        assert!(
            plan(own, &owner, None)
                .ok()
                .unwrap()
                .key
                .metering
                .ratelimits
                .is_empty()
        );
        let secret = plan(named("secret"), &owner, None).ok().unwrap().secret;
        let parsed = credential::parse(&secret);
        assert!(parsed.is_some_and(|p| p.owner.is_some_and(|o| o.is(&owner.tenant_id, &owner.id))));
    }

    #[test]
    fn bad_input_names_its_field() {
        let owner = owner();
        let field_of = |input: NewKeyInput| match plan(input, &owner, None) {
            Err(PlanRefused::Invalid(invalid)) => invalid.field,
            _ => panic!("expected a refusal naming a field"),
        };
        let both = NewKeyInput {
            expires_at: Some("2100-01-01T00:00:00Z".into()),
            expires_in_days: Some(3),
            ..named("both")
        };
        assert_eq!(field_of(both), "expires_in_days");
        let kind = NewKeyInput {
            key_type: Some("root".into()),
            ..named("kind")
        };
        assert_eq!(field_of(kind), "type");
        let days = NewKeyInput {
            expires_in_days: Some(MAX_EXPIRES_IN_DAYS + 1),
            ..named("days")
        };
        assert_eq!(field_of(days), "expires_in_days");
        let tags = NewKeyInput {
            tags: Some(vec!["Prod".into()]),
            ..named("tags")
        };
        assert_eq!(field_of(tags), "tags[0]");
        let meta = NewKeyInput {
            meta: Some(serde_json::json!(["not", "an", "object"])),
            ..named("meta")
        };
        assert_eq!(field_of(meta), "meta");
        let external_id = NewKeyInput {
            external_id: Some("x".repeat(129)),
            ..named("external id")
        };
        assert_eq!(field_of(external_id), "external_id");
        let network = NewKeyInput {
            allowed_ips: Some(vec!["10.0.0.0/8".into(), "10.0.0.0/40".into()]),
            ..named("network")
        };
        assert_eq!(field_of(network), "allowed_ips[1]");
    }

    #[test]
    fn metadata_is_kept_and_an_address_list_stays_within_the_granter_s() {
        let owner = owner();
        let granter = granter(&owner, &[Scope::Chat], None);
        let tagged = NewKeyInput {
            scopes: Some(vec!["chat".into()]),
            external_id: Some("cust-7".into()),
            tags: Some(vec!["prod".into(), "team:ml".into(), "prod".into()]),
            meta: Some(serde_json::json!({"plan": "pro"})),
            allowed_ips: Some(vec!["10.1.0.0/16".into()]),
            ..named("tagged")
        };
        let key = plan(tagged, &owner, Some(&granter)).ok().unwrap().key;
        assert_eq!(key.metadata.external_id.as_deref(), Some("cust-7"));
        assert_eq!(key.metadata.tags, ["prod", "team:ml"]);
        assert_eq!(key.metadata.meta_json().unwrap(), r#"{"plan":"pro"}"#);
        assert_eq!(key.allowed_ips.names().unwrap(), ["10.1.0.0/16"]);
        let unlisted = NewKeyInput {
            scopes: Some(vec!["chat".into()]),
            ..named("unlisted")
        };
        let key = plan(unlisted, &owner, Some(&granter)).ok().unwrap().key;
        assert!(
            key.allowed_ips.is_any(),
            "held to the granter's by the chain"
        );
        let wider = NewKeyInput {
            scopes: Some(vec!["chat".into()]),
            allowed_ips: Some(vec!["192.0.2.0/24".into()]),
            ..named("wider")
        };
        assert!(matches!(
            plan(wider, &owner, Some(&granter)),
            Err(PlanRefused::Invalid(invalid)) if invalid.field == "allowed_ips"
        ));
    }

    #[test]
    fn the_tenant_policy_binds_the_key_as_planned() {
        use crate::domain::tenant_policy::TenantKeyPolicyInput;
        let owner = owner();
        let policy = TenantKeyPolicy::parse(&TenantKeyPolicyInput {
            max_key_lifetime_days: Some(7),
            allowed_key_types: Some(vec!["asker".into()]),
            allowed_scopes: Some(vec!["chat".into()]),
            ..TenantKeyPolicyInput::default()
        })
        .unwrap();
        let planned = |input: NewKeyInput, granter: Option<&Principal>| {
            NewKeyPlan::new(
                &input,
                KeyContext {
                    owner: &owner,
                    granter,
                    allowed_scopes: &Scope::ALL,
                    default_ratelimits: Vec::new(),
                    team_id: None,
                    policy: &policy,
                    now: NOW,
                },
            )
        };
        let asker_chat = |days: Option<i64>| NewKeyInput {
            scopes: Some(vec!["chat".into()]),
            key_type: Some("asker".into()),
            expires_in_days: days,
            ..named("within")
        };
        assert!(planned(asker_chat(Some(7)), None).is_ok());
        assert!(matches!(
            planned(asker_chat(Some(8)), None),
            Err(PlanRefused::Invalid(invalid)) if invalid.field == "expires_in_days"
        ));
        assert!(matches!(
            planned(asker_chat(None), None),
            Err(PlanRefused::Invalid(invalid)) if invalid.field == "expires_at"
        ));
        // A granter whose key ends within the bound bounds the new key: it fits.
        let granter = granter(&owner, &[Scope::Chat], Some(NOW + 3600));
        assert!(planned(asker_chat(None), Some(&granter)).is_ok());
        let admin = NewKeyInput {
            key_type: None,
            ..asker_chat(Some(1))
        };
        assert!(matches!(
            planned(admin, None),
            Err(PlanRefused::Denied(Denied(why))) if why.contains("allowed_key_types")
        ));
        let read = NewKeyInput {
            scopes: None,
            ..asker_chat(Some(1))
        };
        assert!(matches!(
            planned(read, None),
            Err(PlanRefused::Denied(Denied(why))) if why.contains("allowed_scopes")
        ));
    }

    #[test]
    fn an_asker_cannot_mint_an_admin_key_and_lineages_are_bounded() {
        let owner = owner();
        let mut asker = granter(&owner, &[Scope::Chat], None);
        asker.key_type = KeyType::Asker;
        assert!(matches!(
            plan(named("admin"), &owner, Some(&asker)),
            Err(PlanRefused::Denied(_))
        ));
        let mut deep = granter(&owner, &Scope::ALL, None);
        deep.key_lineage = (0..MAX_KEY_ANCESTORS)
            .map(|_| new_ulid().to_string())
            .collect();
        assert!(matches!(
            plan(named("deep"), &owner, Some(&deep)),
            Err(PlanRefused::TooDeep)
        ));
    }
}
