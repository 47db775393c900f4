//! Verifying credentials, exchanging an API key for an access token, minting temp tokens.

use serde_json::{Map, Value};

use super::{ClientInfo, Error, Services};
use crate::domain::activity::Login;
use crate::domain::allowed_ips::AllowedIps;
use crate::domain::api_key::{ApiKey, LAST_USED_JITTER_SECS, last_used_is_stale};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::{self, CredentialKind, Unusable};
use crate::domain::metering::{Budget, budget_chain, end_user_meter_id};
use crate::domain::models::AllowedModels;
use crate::domain::owner_budget::{BudgetOwner, OwnerBudget};
use crate::domain::principal::Principal;
use crate::domain::scope::{KeyType, Scope};
use crate::domain::standing::Standing;
use crate::domain::token::{self, AccessToken, ChatRole, TokenOrigin};
use crate::domain::user::Email;
use crate::metrics;
use crate::store::StoreError;

/// A newly minted token: shown once.
pub struct IssuedToken {
    pub secret: String,
    pub token: AccessToken,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// What a temp token should carry (AskTable's `POST /auth/tokens`).
#[derive(Debug, Default)]
pub struct TempTokenRequest {
    pub ak_role: Option<KeyType>,
    pub chat_role: Option<ChatRole>,
    pub user_profile: Option<Map<String, Value>>,
    pub token_ttl: Option<i64>,
    /// The end user the token is for (its key's end-user budget applies to each one).
    pub end_user: Option<String>,
    /// The source networks the token may be used from, within the minter's; none named:
    /// the minter's own.
    pub allowed_ips: Option<Vec<String>>,
}

/// What a new token carries besides its minter's identity and scopes.
struct TokenShape {
    origin: TokenOrigin,
    key_type: KeyType,
    chat_role: Option<ChatRole>,
    user_profile: Option<Map<String, Value>>,
    end_user: Option<String>,
    allowed_ips: AllowedIps,
    ttl_secs: i64,
}

/// The budgets of a key's usable ancestors (read with it), for its requests to be charged
/// against too.
fn inherited_budgets(ancestors: &[Option<ApiKey>]) -> Vec<Budget> {
    budget_chain(
        None,
        ancestors
            .iter()
            .flatten()
            .map(|a| (a.meter_id.as_str(), &a.metering)),
    )
}

/// A token's end user's budgets: one meter per key with an end-user budget, the token's key
/// and every key above it (read with it), nearest first.
pub(super) fn end_user_budgets(
    end_user: &str,
    key: &ApiKey,
    ancestors: &[Option<ApiKey>],
) -> Vec<Budget> {
    std::iter::once(key)
        .chain(ancestors.iter().flatten())
        .filter(|k| k.end_user_budget.is_metered())
        .map(|k| Budget {
            meter_id: end_user_meter_id(&k.meter_id, end_user),
            metering: k.end_user_budget.clone(),
        })
        .collect()
}

/// The budgets above every credential of one owner: what they charge and which models
/// they allow together.
#[derive(Default)]
pub(super) struct AboveKeys {
    pub(super) charged: Vec<Budget>,
    pub(super) models: AllowedModels,
}

/// The meters of a user's budget and its tenant's, in that order.
pub(super) fn owner_meters(tenant_id: &str, user_id: &str) -> Vec<String> {
    vec![
        BudgetOwner::User { tenant_id, user_id }.meter_id(),
        BudgetOwner::Tenant { tenant_id }.meter_id(),
    ]
}

/// What the budgets read at `meters` (`owner_meters`) hold together.
pub(super) fn above_keys(meters: &[String], read: Vec<Option<OwnerBudget>>) -> AboveKeys {
    let mut above = AboveKeys::default();
    for (meter_id, budget) in meters.iter().zip(read) {
        let Some(budget) = budget else { continue };
        above.models = above.models.intersection(&budget.models);
        above.charged.extend(budget.charged(meter_id.clone()));
    }
    above
}

/// A key's principal from its effective record (see `effective_key`).
fn principal_of_key(
    key: &ApiKey,
    mut inherited_budgets: Vec<Budget>,
    above: AboveKeys,
) -> Principal {
    inherited_budgets.extend(above.charged);
    Principal {
        tenant_id: key.tenant_id.clone(),
        user_id: key.user_id.clone(),
        email: key.email.clone(),
        user_role: key.user_role,
        kind: CredentialKind::ApiKey,
        credential_id: key.id.clone(),
        key_id: Some(key.id.clone()),
        key_lineage: key.lineage.clone(),
        key_type: key.key_type,
        scopes: key.scopes.clone(),
        expires_at: key.expires_at,
        key_expires_at: key.expires_at,
        chat_role: None,
        user_profile: None,
        temporary: false,
        metering: key.metering.clone(),
        meter_id: Some(key.meter_id.clone()),
        inherited_budgets,
        models: key.models.intersection(&above.models),
        owner_models: above.models,
        end_user: None,
        end_user_budgets: Vec::new(),
        team_id: key.team_id.clone(),
        key_metadata: key.metadata.clone(),
        allowed_ips: key.allowed_ips.clone(),
    }
}

/// A key as it may act now: usable only while it and every key it was created by are (an
/// ancestor gone counts as revoked), with the rights they all hold (`ApiKey::narrowed_by`).
/// So narrowing, pausing, expiring or revoking a key does the same to every key it
/// created, their keys, and the tokens of all of them, from the next verification on.
fn effective_key(key: &ApiKey, ancestors: &[Option<ApiKey>], now: i64) -> Result<ApiKey, Refused> {
    let refused = |why| Refused::unusable(why, &key.tenant_id);
    if let Some(why) = key.unusable(now) {
        return Err(refused(why));
    }
    let mut usable = Vec::with_capacity(ancestors.len());
    for ancestor in ancestors {
        // A creating key that is gone counts as revoked.
        let ancestor = ancestor.as_ref().ok_or(refused(Unusable::Revoked))?;
        if let Some(why) = ancestor.unusable(now) {
            return Err(refused(why));
        }
        usable.push(ancestor);
    }
    Ok(key.narrowed_by(usable))
}

/// A token's rights, re-derived at every verification from its key's effective record:
/// the scopes both hold, the weaker key type, the earlier expiry. Narrowing a key (or any
/// key it was created by) narrows every token it minted at once.
fn principal_of_token(
    token: &AccessToken,
    key: Option<&ApiKey>,
    mut inherited_budgets: Vec<Budget>,
    end_user_budgets: Vec<Budget>,
    above: AboveKeys,
) -> Principal {
    inherited_budgets.extend(above.charged);
    let (scopes, key_type, expires_at) = match key {
        Some(key) => (
            token.scopes.intersection(&key.scopes),
            token.key_type.weaker(key.key_type),
            key.expires_at
                .map_or(token.expires_at, |at| at.min(token.expires_at)),
        ),
        None => (token.scopes.clone(), token.key_type, token.expires_at),
    };
    Principal {
        tenant_id: token.tenant_id.clone(),
        user_id: token.user_id.clone(),
        email: token.email.clone(),
        user_role: token.user_role,
        kind: token.kind,
        credential_id: token.id.clone(),
        key_id: token.key_id.clone(),
        key_lineage: key.map(|key| key.lineage.clone()).unwrap_or_default(),
        key_type,
        scopes,
        expires_at: Some(expires_at),
        key_expires_at: key.and_then(|key| key.expires_at),
        chat_role: token.chat_role.clone(),
        user_profile: token.user_profile.clone(),
        temporary: token.origin == TokenOrigin::Temp,
        metering: key.map(|k| k.metering.clone()).unwrap_or_default(),
        meter_id: key.map(|k| k.meter_id.clone()),
        inherited_budgets,
        models: key
            .map(|k| k.models.clone())
            .unwrap_or_default()
            .intersection(&above.models),
        owner_models: above.models,
        end_user: token.end_user.clone(),
        end_user_budgets,
        team_id: key.and_then(|k| k.team_id.clone()),
        key_metadata: key.map(|k| k.metadata.clone()).unwrap_or_default(),
        allowed_ips: key
            .map(|k| k.allowed_ips.clone())
            .unwrap_or_default()
            .intersection(&token.allowed_ips),
    }
}

fn ids_of(ulids: &[ulid::Ulid]) -> Vec<String> {
    ulids.iter().map(ToString::to_string).collect()
}

/// A random 0..=LAST_USED_JITTER_SECS for one staleness check.
fn stamp_jitter() -> i64 {
    let mut bytes = [0u8; 2];
    if getrandom::fill(&mut bytes).is_err() {
        return LAST_USED_JITTER_SECS;
    }
    i64::from(u16::from_be_bytes(bytes)) % (LAST_USED_JITTER_SECS + 1)
}

/// Why a presented credential was refused.
#[derive(Debug)]
pub enum Refused {
    /// Malformed, unknown, or the secret does not match: nothing is known about it.
    NotFound,
    /// A real credential of `tenant_id` that authenticates nothing right now.
    Unusable { why: Unusable, tenant_id: String },
    /// The store failed (unavailable, or it refused the request).
    Store(StoreError),
}

impl Refused {
    fn unusable(why: Unusable, tenant_id: &str) -> Self {
        Self::Unusable {
            why,
            tenant_id: tenant_id.to_owned(),
        }
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<Refused> for Error {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::NotFound => Error::Unauthenticated("malformed or unknown credential"),
            Refused::Unusable { why, .. } => Error::Unauthenticated(match why {
                Unusable::Revoked => "credential revoked",
                Unusable::Disabled => "key paused",
                Unusable::Expired => "credential expired",
                Unusable::Suspended => "tenant suspended",
                Unusable::Deactivated => "user deactivated",
            }),
            Refused::Store(error) => Error::from(error),
        }
    }
}

impl Services {
    /// Verifies a presented secret: format and checksum first, then the opt-in cache, then
    /// one strongly consistent BatchGetItem of the credential and every key it follows (a
    /// key and the keys that created it; a token, its key and those), so a revoke, pause or narrowing that has returned holds on every
    /// instance from the next request on.
    pub async fn verify(&self, presented: &str) -> Result<Principal, Error> {
        self.check_credential(presented).await.map_err(Error::from)
    }

    /// [`Services::verify`] with the reason for a refusal kept apart (the verify API reports
    /// it); the authorizer, the functions and the verify API all run this one code. Each
    /// outcome is counted as a metric (`Verifications` by `Outcome`).
    pub async fn check_credential(&self, presented: &str) -> Result<Principal, Refused> {
        let checked = self.check_credential_uncounted(presented).await;
        metrics::verification(match &checked {
            Ok(_) => "valid",
            Err(Refused::NotFound) => "not_found",
            Err(Refused::Unusable { why, .. }) => match why {
                Unusable::Revoked => "revoked",
                Unusable::Disabled => "paused",
                Unusable::Expired => "expired",
                Unusable::Suspended => "suspended",
                Unusable::Deactivated => "deactivated",
            },
            Err(Refused::Store(_)) => "store_failure",
        });
        checked
    }

    async fn check_credential_uncounted(&self, presented: &str) -> Result<Principal, Refused> {
        let parsed = credential::parse(presented).ok_or(Refused::NotFound)?;
        // The opt-in cache is keyed by the secret's hash under the current pepper, so no
        // secret is held in memory; the stored hash is compared under its own version.
        let cache_key = self.hasher().hash(parsed.secret());
        let now = now_epoch();
        if let Some(principal) = self.cache.get(&cache_key, now) {
            return Ok(principal);
        }
        // A secret naming its owner has the owner's items (budgets and standing) read with
        // it; one of the earlier format has them read once its credential is known. They
        // are read whether or not owner budgets are on: a suspension or a deactivation
        // holds in every deployment.
        let meters = match parsed.owner {
            Some(owner) => owner_meters(&owner.tenant.to_string(), &owner.user.to_string()),
            None => Vec::new(),
        };
        let principal = match parsed.kind {
            CredentialKind::ApiKey => {
                let ancestors = ids_of(parsed.key_ancestors());
                let chain = self
                    .store
                    .get_api_key_chain(&parsed.id.to_string(), &ancestors, &meters)
                    .await?
                    .ok_or(Refused::NotFound)?;
                if !self.matches_stored(parsed.secret(), &chain.hash).await?
                    || chain.key.lineage != ancestors
                    || parsed
                        .owner
                        .is_some_and(|owner| !owner.is(&chain.key.tenant_id, &chain.key.user_id))
                {
                    return Err(Refused::NotFound);
                }
                let key = effective_key(&chain.key, &chain.ancestors, now)?;
                let above = self
                    .owner_above(
                        &meters,
                        (chain.owner_budgets, chain.owner_standing),
                        &key.tenant_id,
                        &key.user_id,
                    )
                    .await?;
                self.note_key_use(&chain.key, now).await;
                principal_of_key(&key, inherited_budgets(&chain.ancestors), above)
            }
            CredentialKind::AccessToken | CredentialKind::Session => {
                let parent = parsed.parent().map(|p| p.to_string());
                let key_ancestors = ids_of(parsed.key_ancestors());
                let found = self
                    .store
                    .get_token_with_key(
                        &parsed.id.to_string(),
                        parent.as_deref(),
                        &key_ancestors,
                        &meters,
                    )
                    .await?
                    .ok_or(Refused::NotFound)?;
                if found.token.kind != parsed.kind
                    || found.token.key_id != parent
                    || !self.matches_stored(parsed.secret(), &found.hash).await?
                    || parsed.owner.is_some_and(|owner| {
                        !owner.is(&found.token.tenant_id, &found.token.user_id)
                    })
                {
                    return Err(Refused::NotFound);
                }
                let tenant_id = &found.token.tenant_id;
                if let Some(why) = found.token.unusable(now) {
                    return Err(Refused::unusable(why, tenant_id));
                }
                let key = match (&parent, &found.key) {
                    (Some(_), Some(key)) if key.lineage == key_ancestors => {
                        Some(effective_key(key, &found.key_ancestors, now)?)
                    }
                    (None, None) => None,
                    // The key behind the token is gone (or is not the one it names).
                    _ => return Err(Refused::unusable(Unusable::Revoked, tenant_id)),
                };
                let (budgets, end_users) = match (&key, found.token.end_user.as_deref()) {
                    (Some(key), end_user) => (
                        inherited_budgets(&found.key_ancestors),
                        end_user.map_or_else(Vec::new, |end_user| {
                            end_user_budgets(end_user, key, &found.key_ancestors)
                        }),
                    ),
                    (None, _) => (Vec::new(), Vec::new()),
                };
                let above = self
                    .owner_above(
                        &meters,
                        (found.owner_budgets, found.owner_standing),
                        &found.token.tenant_id,
                        &found.token.user_id,
                    )
                    .await?;
                principal_of_token(&found.token, key.as_ref(), budgets, end_users, above)
            }
        };
        self.cache.put(cache_key, principal.clone());
        Ok(principal)
    }

    /// What the owner items above a verified credential say: as read with it (`read` at
    /// `meters`), or, for a secret of the earlier format (no meters asked), read now. A
    /// suspended tenant or a deactivated user refuses the credential; otherwise the budgets
    /// above it (none where owner budgets are off).
    async fn owner_above(
        &self,
        meters: &[String],
        read: (Vec<Option<OwnerBudget>>, Standing),
        tenant_id: &str,
        user_id: &str,
    ) -> Result<AboveKeys, Refused> {
        let (meters, (budgets, standing)) = if meters.is_empty() {
            let meters = owner_meters(tenant_id, user_id);
            let read = self.store.read_owner_budgets(&meters).await?;
            (meters, read)
        } else {
            (meters.to_vec(), read)
        };
        if let Some(why) = standing.refusal() {
            return Err(Refused::unusable(why, tenant_id));
        }
        if !self.config.owner_budgets {
            return Ok(AboveKeys::default());
        }
        Ok(above_keys(&meters, budgets))
    }

    /// Writes `last_used_at` when the stamp just read (and this instance's own memory) is
    /// older than the resolution plus a random jitter; see `LAST_USED_JITTER_SECS`.
    async fn note_key_use(&self, key: &ApiKey, now: i64) {
        let jitter = stamp_jitter();
        if !last_used_is_stale(key.last_used_at, now, jitter) {
            return;
        }
        {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            if !last_used_is_stale(touched.get(&key.id).copied(), now, 0) {
                return;
            }
            if touched.len() > 10_000 {
                touched.clear();
            }
            touched.insert(key.id.clone(), now);
        }
        if let Err(error) = self.store.touch_api_key(&key.id, now).await {
            // Best effort: a missed usage stamp must not fail the caller's request.
            tracing::warn!(key_id = %key.id, %error, "could not record key use");
        }
    }

    /// Drops cached verifications of a credential or of everything a key minted.
    pub(crate) fn forget_credential(&self, id: &str) {
        self.cache.forget(id);
    }

    pub(crate) fn forget_user_credentials(&self, tenant_id: &str, user_id: &str) {
        self.cache.forget_user(tenant_id, user_id);
    }

    /// `{email, api_key}` → a 24 h access token, recorded as a login.
    pub async fn exchange_api_key(
        &self,
        email: Option<&str>,
        api_key: Option<&str>,
        client: &ClientInfo,
    ) -> Result<IssuedToken, Error> {
        let email = Email::parse(
            "email",
            email.ok_or_else(|| Error::invalid("email", "is required"))?,
        )?;
        let api_key = api_key
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| Error::invalid("api_key", "is required"))?;
        let principal = self.verify(api_key).await?;
        if principal.email != email.as_str() {
            return Err(Error::Unauthenticated(
                "the key does not belong to that email",
            ));
        }
        self.exchange_verified_key(&principal, client).await
    }

    /// An API key alone → a 24 h access token, recorded as a login (Cogniac's
    /// `Authorization: Key`); `tenant_id`, when given, must be the key's tenant.
    pub async fn exchange_key(
        &self,
        api_key: &str,
        tenant_id: Option<&str>,
        client: &ClientInfo,
    ) -> Result<IssuedToken, Error> {
        let principal = self.verify(api_key).await?;
        if tenant_id.is_some_and(|t| t != principal.tenant_id) {
            return Err(Error::Forbidden(
                "this key belongs to another tenant".into(),
            ));
        }
        self.exchange_verified_key(&principal, client).await
    }

    async fn exchange_verified_key(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> Result<IssuedToken, Error> {
        if principal.kind != CredentialKind::ApiKey {
            return Err(Error::Unauthenticated("only an API key may be exchanged"));
        }
        // A key held to some networks is exchanged only from them (its tokens are too).
        if !principal.may_be_used_from(Some(&client.ip)) {
            return Err(Error::IpNotAllowed(client.ip.clone()));
        }
        let login = new_login("api_key", client);
        let shape = TokenShape {
            origin: TokenOrigin::Exchange,
            key_type: principal.key_type,
            chat_role: None,
            user_profile: None,
            end_user: None,
            allowed_ips: AllowedIps::any(),
            ttl_secs: self.config.access_token_ttl_secs,
        };
        self.issue_token(principal, shape, Some(&login)).await
    }

    /// AskTable's temp token: never more power, nor a longer life, than the minting credential.
    pub async fn mint_temp_token(
        &self,
        caller: &Principal,
        request: TempTokenRequest,
    ) -> Result<IssuedToken, Error> {
        caller
            .require_scope(Scope::Chat)
            .or_else(|_| caller.require_full_key())?;
        let ttl = token::temp_token_ttl(request.token_ttl)?;
        let ak_role = request.ak_role.unwrap_or(caller.key_type);
        if !caller.key_type.may_mint(ak_role) {
            return Err(Error::Forbidden(
                "an asker credential cannot mint an admin token".into(),
            ));
        }
        if let Some(role) = &request.chat_role
            && let Some(variables) = &role.role_variables
        {
            token::flat_object("chat_role.role_variables", variables)?;
        }
        if let Some(profile) = &request.user_profile {
            token::flat_object("user_profile", profile)?;
        }
        let chat_role = request.chat_role.or_else(|| caller.chat_role.clone());
        let user_profile = request.user_profile.or_else(|| caller.user_profile.clone());
        let wanted = request
            .end_user
            .as_deref()
            .map(|raw| token::parse_end_user("end_user", raw))
            .transpose()?;
        // A token for an end user mints only for that end user: another (or none) would
        // escape the end user's budget.
        let end_user = match (&caller.end_user, wanted) {
            (Some(own), Some(wanted)) if *own != wanted => {
                return Err(Error::invalid(
                    "end_user",
                    "a token for an end user may mint tokens only for that end user",
                ));
            }
            (Some(own), _) => Some(own.clone()),
            (None, wanted) => wanted,
        };
        // A temp token's own list lies within what its minter may be used from; none named
        // keeps the minter's (a token minted by a token held to some networks stays held).
        let allowed_ips = match request.allowed_ips.as_deref() {
            Some(wanted) => AllowedIps::derived("allowed_ips", Some(wanted), &caller.allowed_ips)?,
            None => caller.allowed_ips.clone(),
        };
        let shape = TokenShape {
            origin: TokenOrigin::Temp,
            key_type: ak_role,
            chat_role,
            user_profile,
            end_user,
            allowed_ips,
            ttl_secs: ttl,
        };
        self.issue_token(caller, shape, None).await
    }

    async fn issue_token(
        &self,
        minter: &Principal,
        shape: TokenShape,
        login: Option<&Login>,
    ) -> Result<IssuedToken, Error> {
        let TokenShape {
            origin,
            key_type,
            chat_role,
            user_profile,
            end_user,
            allowed_ips,
            ttl_secs,
        } = shape;
        let key_id = minter
            .key_id
            .clone()
            .ok_or_else(|| Error::Forbidden("only API-key credentials can mint tokens".into()))?;
        let lineage = std::iter::once(&key_id)
            .chain(&minter.key_lineage)
            .map(|id| ulid::Ulid::from_string(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::Unauthenticated("malformed key id"))?;
        let now = now_epoch();
        let mut expires_at = now + ttl_secs;
        if let Some(limit) = minter.expires_at {
            expires_at = expires_at.min(limit);
        }
        let new = credential::generate(
            CredentialKind::AccessToken,
            super::owner_of(&minter.tenant_id, &minter.user_id)?,
            &lineage,
        );
        let token = AccessToken {
            id: new.id.to_string(),
            kind: CredentialKind::AccessToken,
            origin,
            tenant_id: minter.tenant_id.clone(),
            user_id: minter.user_id.clone(),
            email: minter.email.clone(),
            user_role: minter.user_role,
            key_id: Some(key_id),
            key_type,
            scopes: minter.scopes.clone(),
            chat_role,
            user_profile,
            end_user,
            allowed_ips,
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        // A login accompanies only an exchange (a key traded for a token); a temp token
        // is minted by a credential already in use.
        let event = self
            .audit_event(
                EventType::TokenMinted,
                &token.tenant_id,
                &token.user_id,
                Actor::of(minter),
                Target {
                    kind: "access_token",
                    id: token.id.clone(),
                },
            )
            .with_detail("method", if login.is_some() { "exchange" } else { "temp" })
            .with_detail("key_id", token.key_id.as_deref())
            .with_detail("type", token.key_type.as_str())
            .with_detail("expires_at", token.expires_at);
        let event = match token.allowed_ips.names() {
            Some(networks) => event.with_detail("allowed_ips", networks),
            None => event,
        };
        self.store
            .put_token(&token, &self.hasher().hash(&new.secret), login, &event)
            .await?;
        Ok(IssuedToken {
            secret: new.secret,
            token,
        })
    }
}

/// A sign-in to record with the credential it issues.
pub(crate) fn new_login(method: &str, client: &ClientInfo) -> Login {
    Login {
        id: credential::new_ulid().to_string(),
        at: now_epoch(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.chars().take(512).collect(),
        method: method.to_owned(),
    }
}
