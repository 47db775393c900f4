//! A user's own access tokens and sessions: listing, reading and revoking them (the
//! VirtuousAI surface shows sessions beside named tokens).

use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::CredentialKind;
use crate::domain::principal::Principal;
use crate::domain::token::AccessToken;
use crate::store::tokens::TokenListing;

pub struct TokenPage {
    pub tokens: Vec<AccessToken>,
    pub next_after: Option<String>,
}

impl Services {
    /// The caller's tokens of `kind`, newest first; live ones only unless `include_ended`.
    pub async fn list_tokens(
        &self,
        caller: &Principal,
        kind: CredentialKind,
        include_ended: bool,
        limit: u32,
        after: Option<&str>,
    ) -> Result<TokenPage, Error> {
        caller.require_full_key()?;
        let (tokens, next_after) = self
            .store
            .list_tokens(
                &caller.tenant_id,
                &caller.user_id,
                &TokenListing {
                    kind,
                    include_ended,
                    now: now_epoch(),
                    limit,
                    after_token_id: after,
                },
            )
            .await?;
        Ok(TokenPage { tokens, next_after })
    }

    /// One of the caller's tokens or sessions; anyone else's is "not found".
    pub async fn get_own_token(
        &self,
        caller: &Principal,
        token_id: &str,
    ) -> Result<AccessToken, Error> {
        caller.require_full_key()?;
        if !crate::domain::ids::is_id(token_id) {
            return Err(Error::NotFound("access token"));
        }
        match self.store.get_token(token_id).await? {
            Some(token)
                if token.tenant_id == caller.tenant_id && token.user_id == caller.user_id =>
            {
                Ok(token)
            }
            _ => Err(Error::NotFound("access token")),
        }
    }

    /// Revokes one of the caller's tokens or sessions (repeatable), with its event.
    pub async fn revoke_own_token(
        &self,
        caller: &Principal,
        token_id: &str,
    ) -> Result<AccessToken, Error> {
        let mut token = self.get_own_token(caller, token_id).await?;
        if token.revoked_at.is_none() {
            let now = now_epoch();
            let event_type = match token.kind {
                CredentialKind::Session => EventType::SessionRevoked,
                _ => EventType::TokenRevoked,
            };
            let event = self
                .audit_event(
                    event_type,
                    &token.tenant_id,
                    &token.user_id,
                    Actor::of(caller),
                    Target {
                        kind: token.kind.as_str(),
                        id: token.id.clone(),
                    },
                )
                .changed("revoked_at", None::<i64>, now);
            if self.store.revoke_token(&token.id, now, &event).await? {
                token.revoked_at = Some(now);
            }
        }
        self.forget_credential(token_id);
        Ok(token)
    }

    /// Revokes every key and every session of the caller (VirtuousAI's revoke-all); with
    /// `exclude_current`, the credential in use (its key, or its session) is spared.
    /// Tokens die with the keys that minted them. Returns how many were revoked.
    pub async fn revoke_all_credentials(
        &self,
        caller: &Principal,
        exclude_current: bool,
    ) -> Result<u32, Error> {
        let keys = self.revoke_all_api_keys(caller, exclude_current).await?;
        let spared = (exclude_current && caller.kind == CredentialKind::Session)
            .then_some(caller.credential_id.as_str());
        let sessions = self
            .revoke_sessions_of(
                &caller.tenant_id,
                &caller.user_id,
                spared,
                &Actor::of(caller),
                "revoke all",
            )
            .await?;
        Ok(keys + sessions)
    }
}
