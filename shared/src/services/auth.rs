//! Verifying credentials, exchanging an API key for an access token, minting temp tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::{ClientInfo, Error, Services};
use crate::domain::api_key::{ApiKey, last_used_is_stale};
use crate::domain::clock::now_epoch;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::principal::Principal;
use crate::domain::scope::{KeyType, Scope};
use crate::domain::token::{self, AccessToken, ChatRole};
use crate::domain::user::Email;
use crate::store::logins::Login;

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
}

fn principal_of_key(key: &ApiKey) -> Principal {
    Principal {
        tenant_id: key.tenant_id.clone(),
        user_id: key.user_id.clone(),
        email: key.email.clone(),
        user_role: key.user_role,
        kind: CredentialKind::ApiKey,
        credential_id: key.id.clone(),
        key_id: Some(key.id.clone()),
        key_type: key.key_type,
        scopes: key.scopes.clone(),
        expires_at: key.expires_at,
        chat_role: None,
        user_profile: None,
    }
}

fn principal_of_token(token: &AccessToken, key: Option<&ApiKey>) -> Principal {
    // A token never outlives, nor outranks, the key that minted it.
    let expires_at = match key.and_then(|k| k.expires_at) {
        Some(key_expiry) => key_expiry.min(token.expires_at),
        None => token.expires_at,
    };
    Principal {
        tenant_id: token.tenant_id.clone(),
        user_id: token.user_id.clone(),
        email: token.email.clone(),
        user_role: token.user_role,
        kind: token.kind,
        credential_id: token.id.clone(),
        key_id: token.key_id.clone(),
        key_type: token.key_type,
        scopes: token.scopes.clone(),
        expires_at: Some(expires_at),
        chat_role: token.chat_role.clone(),
        user_profile: token.user_profile.clone(),
    }
}

/// Keys whose `last_used_at` this instance wrote recently: at most one write a minute per key.
fn recently_touched() -> &'static Mutex<HashMap<String, i64>> {
    static TOUCHED: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    TOUCHED.get_or_init(Default::default)
}

impl Services {
    /// Verifies a presented secret: format and checksum first, then the cache, then one read.
    pub async fn verify(&self, presented: &str) -> Result<Principal, Error> {
        let parsed =
            credential::parse(presented).ok_or(Error::Unauthenticated("malformed credential"))?;
        let hash = self.hasher().hash(parsed.secret());
        let now = now_epoch();
        if let Some(principal) = self.cache.get(&hash, now) {
            return Ok(principal);
        }
        let principal = match parsed.kind {
            CredentialKind::ApiKey => {
                let (key, stored_hash) = self
                    .store
                    .get_api_key(&parsed.id.to_string())
                    .await?
                    .ok_or(Error::Unauthenticated("unknown key"))?;
                if !self.hasher().matches(parsed.secret(), &stored_hash) {
                    return Err(Error::Unauthenticated("unknown key"));
                }
                if !key.is_usable(now) {
                    return Err(Error::Unauthenticated("key expired, paused or revoked"));
                }
                self.note_key_use(&key, now).await;
                principal_of_key(&key)
            }
            CredentialKind::AccessToken | CredentialKind::Session => {
                let parent = parsed.parent.filter(|p| !p.is_nil()).map(|p| p.to_string());
                let found = self
                    .store
                    .get_token_with_key(&parsed.id.to_string(), parent.as_deref())
                    .await?
                    .ok_or(Error::Unauthenticated("unknown token"))?;
                if found.token.kind != parsed.kind
                    || !self.hasher().matches(parsed.secret(), &found.hash)
                {
                    return Err(Error::Unauthenticated("unknown token"));
                }
                if !found.token.is_usable(now) {
                    return Err(Error::Unauthenticated("token expired or revoked"));
                }
                match (&parent, &found.key) {
                    (Some(_), Some(key)) if key.is_usable(now) => {}
                    (None, None) => {}
                    _ => {
                        return Err(Error::Unauthenticated(
                            "the key behind this token is no longer usable",
                        ));
                    }
                }
                principal_of_token(&found.token, found.key.as_ref())
            }
        };
        self.cache.put(hash, principal.clone());
        Ok(principal)
    }

    /// Writes `last_used_at` when neither this instance nor the item saw use in the last minute.
    async fn note_key_use(&self, key: &ApiKey, now: i64) {
        if !last_used_is_stale(key.last_used_at, now) {
            return;
        }
        {
            let mut touched = recently_touched().lock().unwrap_or_else(|e| e.into_inner());
            if !last_used_is_stale(touched.get(&key.id).copied(), now) {
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
        let login = new_login("api_key", client);
        self.issue_token(
            principal,
            principal.key_type,
            None,
            None,
            self.config.access_token_ttl_secs,
            Some(&login),
        )
        .await
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
        self.issue_token(caller, ak_role, chat_role, user_profile, ttl, None)
            .await
    }

    async fn issue_token(
        &self,
        minter: &Principal,
        key_type: KeyType,
        chat_role: Option<ChatRole>,
        user_profile: Option<Map<String, Value>>,
        ttl_secs: i64,
        login: Option<&Login>,
    ) -> Result<IssuedToken, Error> {
        let key_id = minter
            .key_id
            .clone()
            .ok_or_else(|| Error::Forbidden("only API-key credentials can mint tokens".into()))?;
        let parent = ulid::Ulid::from_string(&key_id)
            .map_err(|_| Error::Unauthenticated("malformed key id"))?;
        let now = now_epoch();
        let mut expires_at = now + ttl_secs;
        if let Some(limit) = minter.expires_at {
            expires_at = expires_at.min(limit);
        }
        let new = credential::generate(CredentialKind::AccessToken, Some(parent));
        let token = AccessToken {
            id: new.id.to_string(),
            kind: CredentialKind::AccessToken,
            tenant_id: minter.tenant_id.clone(),
            user_id: minter.user_id.clone(),
            email: minter.email.clone(),
            user_role: minter.user_role,
            key_id: Some(key_id),
            key_type,
            scopes: minter.scopes.clone(),
            chat_role,
            user_profile,
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        self.store
            .put_token(&token, &self.hasher().hash(&new.secret), login)
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
