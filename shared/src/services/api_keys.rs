//! Creating, listing, changing and revoking API keys.

use serde_json::json;

use super::metering::{initial_balance, meter_start};
use super::{Error, Services};
use crate::domain::api_key::ApiKey;
use crate::domain::audit::{Actor, AuditEvent, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::ids;
use crate::domain::key_metadata::KeyFilter;
use crate::domain::key_plan::{KeyContext, NewKeyPlan, PlanRefused};
use crate::domain::metering::{self, Credits, Metering, RateLimit};
use crate::domain::principal::Principal;
use crate::domain::scope::Scope;
use crate::domain::team::{MAX_ACTIVE_KEYS_PER_TEAM, Team};
use crate::domain::tenant_policy::TenantKeyPolicy;
use crate::domain::user::User;
use crate::store::api_keys::{CreateKey, KeyChanges, PatchKey};

pub use crate::domain::key_change::KeyPatch;
use crate::domain::key_change::{PlannedChange, plan_change};
pub(crate) use crate::domain::key_plan::earliest;
pub use crate::domain::key_plan::{MAX_EXPIRES_IN_DAYS, NewKeyInput};

/// Which scopes a surface lets clients ask for (Assisters refuses `admin` at creation).
pub struct ScopePolicy<'a> {
    pub allowed: &'a [Scope],
}

impl ScopePolicy<'_> {
    pub const ALL: ScopePolicy<'static> = ScopePolicy {
        allowed: &Scope::ALL,
    };
}

/// A key just created: the secret is shown once, here, and never again.
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

pub struct KeyPage {
    pub keys: Vec<ApiKey>,
    pub next_after: Option<String>,
}

impl Services {
    /// Creates a key for the caller's own user.
    pub async fn create_api_key(
        &self,
        caller: &Principal,
        input: NewKeyInput,
        policy: ScopePolicy<'_>,
    ) -> Result<CreatedKey, Error> {
        caller.require_manager()?;
        caller.require_person()?;
        let owner = User {
            tenant_id: caller.tenant_id.clone(),
            id: caller.user_id.clone(),
            email: caller.email.clone(),
            name: None,
            role: caller.user_role,
            cac_verified: false,
            created_at: 0,
            deactivated_at: None,
        };
        self.create_key_for(&owner, input, policy, Some(caller), None)
            .await
    }

    /// Creates a key for `owner` (the caller, a user a tenant admin manages, or with `team`
    /// a team, `Team::as_key_owner`); with a `granter`, the key may carry only scopes and a
    /// type the granter holds, and expires no later than the granter's own key. Every key,
    /// a team's too, obeys the tenant's key policy.
    pub(crate) async fn create_key_for(
        &self,
        owner: &User,
        input: NewKeyInput,
        policy: ScopePolicy<'_>,
        granter: Option<&Principal>,
        team: Option<&Team>,
    ) -> Result<CreatedKey, Error> {
        // A deactivated user's every credential is refused: a new key would be born dead.
        if owner.deactivated_at.is_some() {
            return Err(Error::Conflict(
                "the user is deactivated: no key can be made for them".into(),
            ));
        }
        // The reads the rules need: the owner's defaults, for a key that names no limits (a
        // team has none), and the tenant's policy (creation is not the verify path).
        let default_ratelimits = match (&input.ratelimits, team) {
            (Some(_), _) | (None, Some(_)) => Vec::new(),
            (None, None) => {
                self.store
                    .default_ratelimits(&owner.tenant_id, &owner.id)
                    .await?
            }
        };
        // A policy changed between the read and the write is read again, once.
        for _ in 0..2 {
            let tenant_policy = self.tenant_key_policy(&owner.tenant_id).await?;
            if let Some(created) = self
                .create_within_policy(
                    owner,
                    &input,
                    &policy,
                    granter,
                    team,
                    default_ratelimits.clone(),
                    &tenant_policy,
                )
                .await?
            {
                return Ok(created);
            }
        }
        Err(Error::Conflict(
            "the tenant key policy changed meanwhile; try again".into(),
        ))
    }

    /// Plans and writes the key under `tenant_policy`; `None` when that policy changed
    /// before the write.
    #[allow(clippy::too_many_arguments)]
    async fn create_within_policy(
        &self,
        owner: &User,
        input: &NewKeyInput,
        policy: &ScopePolicy<'_>,
        granter: Option<&Principal>,
        team: Option<&Team>,
        default_ratelimits: Vec<RateLimit>,
        tenant_policy: &TenantKeyPolicy,
    ) -> Result<Option<CreatedKey>, Error> {
        let now = now_epoch();
        let plan = NewKeyPlan::new(
            input,
            KeyContext {
                owner,
                granter,
                allowed_scopes: policy.allowed,
                default_ratelimits,
                team_id: team.map(|t| t.id.as_str()),
                policy: tenant_policy,
                now,
            },
        )?;
        if let Some(granter) = granter {
            self.require_metering_within(granter, &plan.key.metering, plan.credits.as_ref())
                .await?;
        }
        let NewKeyPlan {
            key,
            secret,
            credits,
        } = plan;
        let event = self
            .key_event(
                EventType::KeyCreated,
                &key,
                granter.map_or_else(|| Actor::system("system", None), Actor::of),
            )
            .with_detail("name", key.name.as_str())
            .with_detail("scopes", json!(key.scopes.names()))
            .with_detail("type", key.key_type.as_str())
            .with_detail("expires_at", key.expires_at);
        let event = match key.allowed_ips.names() {
            Some(networks) => event.with_detail("allowed_ips", json!(networks)),
            None => event,
        };
        let meter = key
            .metering
            .is_metered()
            .then(|| meter_start(&key.metering, credits.as_ref(), now));
        let event = match &key.created_by {
            Some(creator) => event
                .with_detail("team_id", key.team_id.as_deref())
                .with_detail("created_by", creator.as_str()),
            None => event,
        };
        let hash = self.hasher().hash(&secret);
        let (max_active, holder) = active_key_limit(team.is_some(), tenant_policy);
        match self
            .store
            .create_api_key(
                &key,
                &hash,
                max_active,
                tenant_policy,
                &event,
                meter.as_ref(),
            )
            .await?
        {
            CreateKey::Created => Ok(Some(CreatedKey { key, secret })),
            CreateKey::LimitReached => Err(Error::LimitReached(format!(
                "{holder} may hold at most {max_active} active API keys; revoke one first"
            ))),
            CreateKey::PolicyChanged => Ok(None),
        }
    }

    pub async fn list_api_keys(
        &self,
        caller: &Principal,
        include_revoked: bool,
        limit: u32,
        after: Option<&str>,
    ) -> Result<KeyPage, Error> {
        self.list_api_keys_where(caller, include_revoked, limit, after, &KeyFilter::default())
            .await
    }

    /// The caller's keys `filter` names (a tag, an external id): a filtered page may hold
    /// fewer than `limit` keys and still carry a cursor.
    pub async fn list_api_keys_where(
        &self,
        caller: &Principal,
        include_revoked: bool,
        limit: u32,
        after: Option<&str>,
        filter: &KeyFilter,
    ) -> Result<KeyPage, Error> {
        caller.require_manager()?;
        caller.require_person()?;
        let (keys, next_after) = self
            .store
            .list_api_keys_where(
                &caller.tenant_id,
                &caller.user_id,
                include_revoked,
                limit,
                after,
                filter,
            )
            .await?;
        Ok(KeyPage { keys, next_after })
    }

    /// One of the caller's keys, or a key of a team the caller administers (a team admin,
    /// or a tenant admin, manages the team's keys); any other key is "not found".
    pub async fn get_api_key(&self, caller: &Principal, key_id: &str) -> Result<ApiKey, Error> {
        caller.require_manager()?;
        caller.require_person()?;
        if !ids::is_id(key_id) {
            return Err(Error::NotFound("API key"));
        }
        let Some((key, _)) = self.store.get_api_key(key_id).await? else {
            return Err(Error::NotFound("API key"));
        };
        if key.tenant_id != caller.tenant_id {
            return Err(Error::NotFound("API key"));
        }
        match &key.team_id {
            None if key.user_id == caller.user_id => Ok(key),
            Some(team_id) if self.administers_team(caller, team_id).await? => Ok(key),
            _ => Err(Error::NotFound("API key")),
        }
    }

    /// Changes a key (name, scopes, pause/resume, an earlier expiry). The caller must hold
    /// every scope of the key and a type at least as strong; new scopes stay within the
    /// caller's; an expiry may only move earlier.
    pub async fn patch_api_key(
        &self,
        caller: &Principal,
        key_id: &str,
        patch: KeyPatch,
    ) -> Result<ApiKey, Error> {
        let current = self.get_api_key(caller, key_id).await?;
        let now = now_epoch();
        let PlannedChange {
            mut changes,
            credits,
        } = plan_change(&current, &patch, caller, now)?;
        // The tenant's policy bounds what a change adds (scopes) and how many keys a resume
        // may make active; a change that adds neither needs no read of it.
        let resumes = changes.enabled == Some(true) && !current.enabled;
        let tenant_policy = match (&changes.scopes, resumes) {
            (None, false) => None,
            (scopes, _) => {
                let tenant_policy = self.tenant_key_policy(&current.tenant_id).await?;
                if let Some(scopes) = scopes {
                    tenant_policy
                        .admits_added_scopes(&current.scopes, scopes)
                        .map_err(PlanRefused::from)?;
                }
                Some(tenant_policy)
            }
        };
        // What the plan cannot know without reading: the caller's live balance, and the
        // rolled keys whose meter this key shares (they take the new metering too).
        if let Some(metering) = &changes.metering {
            self.require_metering_within(caller, metering, credits.as_ref())
                .await?;
            changes.credits = credits.as_ref().map(|c| initial_balance(c, now));
            changes.metering_predecessors =
                self.predecessors_to_meter_alike(caller, &current).await?;
        }
        let mut event = patch_event(
            self.key_event(EventType::KeyPatched, &current, Actor::of(caller)),
            &current,
            &changes,
        );
        if !changes.metering_predecessors.is_empty() {
            event = event.with_detail("metering_also_on", json!(changes.metering_predecessors));
        }
        let (max_active, holder) = active_key_limit(
            current.team_id.is_some(),
            &tenant_policy.clone().unwrap_or_default(),
        );
        let updated = match self
            .store
            .patch_api_key(
                &current,
                &changes,
                max_active,
                tenant_policy.as_ref(),
                &event,
            )
            .await?
        {
            PatchKey::Updated(key) => *key,
            PatchKey::LimitReached => {
                return Err(Error::LimitReached(format!(
                    "{holder} may hold at most {max_active} active API keys"
                )));
            }
            PatchKey::Missing => {
                return Err(Error::Conflict(
                    "the key changed meanwhile; try again".into(),
                ));
            }
            PatchKey::PolicyChanged => {
                return Err(Error::Conflict(
                    "the tenant key policy changed meanwhile; try again".into(),
                ));
            }
        };
        self.forget_credential(key_id);
        for predecessor in &changes.metering_predecessors {
            self.forget_credential(predecessor);
        }
        Ok(updated)
    }

    /// The rolled keys still in their grace that share `key`'s meter and so take its new
    /// metering. The successor may have been narrowed since the roll: the caller must cover
    /// each of them as it covers the key (a revoked one is left alone).
    async fn predecessors_to_meter_alike(
        &self,
        caller: &Principal,
        key: &ApiKey,
    ) -> Result<Vec<String>, Error> {
        let mut ids = Vec::new();
        for predecessor in key.predecessors_in_grace(now_epoch()) {
            let Some((rolled, _)) = self.store.get_api_key(&predecessor.key_id).await? else {
                continue;
            };
            if rolled.revoked_at.is_some() {
                continue;
            }
            caller.require_covers(&rolled.scopes, rolled.key_type, &rolled.models)?;
            caller.require_covers_networks(&rolled.allowed_ips)?;
            ids.push(rolled.id);
        }
        Ok(ids)
    }

    /// Rights only narrow: the metering a caller sets on a key (its own or another) is at
    /// least as tight as the caller's own; a key cannot lift or drop its own limits.
    async fn require_metering_within(
        &self,
        caller: &Principal,
        wanted: &Metering,
        credits: Option<&Credits>,
    ) -> Result<(), Error> {
        let own = match &caller.key_id {
            Some(_) => caller.metering.clone(),
            // A session has no key: its user's default limits bound what it may hand out.
            None => Metering {
                ratelimits: self
                    .store
                    .default_ratelimits(&caller.tenant_id, &caller.user_id)
                    .await?,
                credits: None,
            },
        };
        if !own.is_metered() {
            return Ok(());
        }
        let balance = match (&caller.metering.credits, &caller.meter_id) {
            (Some(_), Some(meter_id)) => self.store.read_meter(meter_id).await?.remaining,
            _ => None,
        };
        let wanted_remaining = credits.map(|c| c.remaining).or(
            // Unchanged credits keep their balance; only a new balance is compared.
            wanted.credits.as_ref().map(|_| 0),
        );
        metering::within(wanted, wanted_remaining, &own, balance).map_err(Error::Forbidden)
    }

    /// Revokes one of the caller's keys (and with it every token it minted). Any of the
    /// user's manager credentials may: revoking only takes power away.
    pub async fn revoke_api_key(&self, caller: &Principal, key_id: &str) -> Result<ApiKey, Error> {
        let key = self.get_api_key(caller, key_id).await?;
        let actor = Actor::of(caller);
        let key = self
            .revoke_key_audited(key, EventType::KeyRevoked, &actor, |e| e)
            .await?;
        self.forget_credential(key_id);
        Ok(key)
    }

    /// Revokes all the caller's unrevoked keys, optionally sparing the one in use.
    pub async fn revoke_all_api_keys(
        &self,
        caller: &Principal,
        exclude_current: bool,
    ) -> Result<u32, Error> {
        caller.require_manager()?;
        caller.require_person()?;
        let spared = exclude_current
            .then_some(caller.key_id.as_deref())
            .flatten();
        let now = now_epoch();
        let mut revoked = 0;
        let mut after: Option<String> = None;
        loop {
            let (keys, next) = self
                .store
                .list_api_keys(
                    &caller.tenant_id,
                    &caller.user_id,
                    false,
                    100,
                    after.as_deref(),
                )
                .await?;
            // One transaction per key (its change, the counter, its event): far below
            // DynamoDB's 100-item cap however many keys there are.
            for key in keys.iter().filter(|k| Some(k.id.as_str()) != spared) {
                let event =
                    self.key_event(EventType::KeyRevokedByRevokeAll, key, Actor::of(caller));
                let event = revocation_change(event, key, now);
                if self.store.revoke_api_key(key, now, &event).await? {
                    revoked += 1;
                }
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        self.forget_user_credentials(&caller.tenant_id, &caller.user_id);
        Ok(revoked)
    }
}

impl Services {
    /// An event about `key`, in its owner's trail.
    pub(crate) fn key_event(
        &self,
        event_type: EventType,
        key: &ApiKey,
        actor: Actor,
    ) -> AuditEvent {
        self.audit_event(
            event_type,
            &key.tenant_id,
            &key.user_id,
            actor,
            Target {
                kind: "api_key",
                id: key.id.clone(),
            },
        )
    }

    /// Revokes `key` with an event of `event_type` (shaped by `detail`); a key that
    /// changed meanwhile is read once more and tried again. Returns the key as it ends.
    pub(crate) async fn revoke_key_audited(
        &self,
        mut key: ApiKey,
        event_type: EventType,
        actor: &Actor,
        detail: impl Fn(AuditEvent) -> AuditEvent,
    ) -> Result<ApiKey, Error> {
        for _ in 0..2 {
            if key.revoked_at.is_some() {
                break;
            }
            let now = now_epoch();
            let event = revocation_change(
                detail(self.key_event(event_type, &key, actor.clone())),
                &key,
                now,
            );
            if self.store.revoke_api_key(&key, now, &event).await? {
                key.revoked_at = Some(now);
                key.enabled = false;
                break;
            }
            // Changed meanwhile (paused, resumed, rolled or revoked): read once more.
            match self.store.get_api_key(&key.id).await? {
                Some((current, _)) => key = current,
                None => return Err(Error::NotFound("API key")),
            }
        }
        Ok(key)
    }
}

/// A revocation's change: `revoked_at` from null to now.
fn revocation_change(event: AuditEvent, key: &ApiKey, now: i64) -> AuditEvent {
    event.changed("revoked_at", key.revoked_at, now)
}

/// A patch's event: paused or resumed when that is all it does, else patched; each
/// changed field old → new.
fn patch_event(event: AuditEvent, current: &ApiKey, changes: &KeyChanges) -> AuditEvent {
    let toggle = changes.enabled.filter(|&e| e != current.enabled);
    let only_toggle = changes.name.is_none()
        && changes.scopes.is_none()
        && changes.expires_at.is_none()
        && changes.metering.is_none()
        && changes.credits.is_none()
        && changes.models.is_none()
        && changes.end_user_budget.is_none()
        && !changes.touches_metadata_or_networks();
    let mut event = match (toggle, only_toggle) {
        (Some(false), true) => AuditEvent {
            event_type: EventType::KeyPaused,
            ..event
        },
        (Some(true), true) => AuditEvent {
            event_type: EventType::KeyResumed,
            ..event
        },
        _ => event,
    };
    if let Some(name) = &changes.name {
        event = event.changed("name", current.name.as_str(), name.as_str());
    }
    if let Some(scopes) = &changes.scopes {
        event = event.changed(
            "scopes",
            json!(current.scopes.names()),
            json!(scopes.names()),
        );
    }
    if let Some(enabled) = toggle {
        event = event.changed("is_active", current.enabled, enabled);
    }
    if let Some(at) = changes.expires_at {
        event = event.changed("expires_at", current.expires_at, at);
    }
    if let Some(metering) = &changes.metering {
        event = event.changed(
            "ratelimits",
            json!(current.metering.ratelimits),
            json!(metering.ratelimits),
        );
    }
    if let Some((remaining, _)) = changes.credits {
        event = event.with_detail("credits_remaining", remaining);
    }
    if let Some(budget) = &changes.end_user_budget {
        event = event.changed(
            "end_user_budget",
            json!(current.end_user_budget),
            json!(budget),
        );
    }
    if let Some(models) = &changes.models {
        event = event.changed(
            "models",
            json!(current.models.names()),
            json!(models.names()),
        );
    }
    if let Some(external_id) = &changes.external_id {
        event = event.changed(
            "external_id",
            json!(current.metadata.external_id),
            json!(external_id),
        );
    }
    if let Some(tags) = &changes.tags {
        event = event.changed("tags", json!(current.metadata.tags), json!(tags));
    }
    if let Some(meta) = &changes.meta {
        event = event.changed("meta", json!(current.metadata.meta), json!(meta));
    }
    if let Some(networks) = &changes.allowed_ips {
        event = event.changed(
            "allowed_ips",
            json!(current.allowed_ips.names()),
            json!(networks.names()),
        );
    }
    event
}

/// How many active keys the owner may hold, and who it is, for the refusal: a team's own
/// limit, or a user's, the tenant key policy's `max_active_keys_per_user`.
fn active_key_limit(team: bool, policy: &TenantKeyPolicy) -> (u32, &'static str) {
    if team {
        (MAX_ACTIVE_KEYS_PER_TEAM, "a team")
    } else {
        (
            policy.max_active_keys_per_user,
            "a user (the tenant key policy's max_active_keys_per_user)",
        )
    }
}
