//! Signing in with an email and a password, sessions, signing out.
//!
//! Emails are unique within a tenant only, so one email may have users in several tenants.
//! Sign-in reads the email's accounts from the global index (`EMAIL#<email>`), optionally
//! narrowed to one tenant, and checks the password against each (at most
//! [`MAX_ACCOUNTS_CHECKED`], each check counted against that user's lockout). An unknown
//! email, a wrong password and a locked account answer the same after the same work: the
//! account query, one user read, one counting write and one Argon2 verification.

use super::auth::IssuedToken;
use super::{ClientInfo, Error, Services};
use crate::domain::audit::{Actor, AuditEvent, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::principal::Principal;
use crate::domain::scope::{KeyType, Scopes};
use crate::domain::token::{AccessToken, TokenOrigin};
use crate::domain::user::{Email, User};

/// At most this many of an email's accounts are checked in one sign-in.
pub const MAX_ACCOUNTS_CHECKED: u32 = 5;

/// The generic refusal: it never tells whether the email exists or the account is locked.
const WRONG_CREDENTIALS: &str = "wrong email or password, or account locked";

impl Services {
    /// The users whose password is `password` among the accounts of `email` (in
    /// `tenant_id` only, when given). Never empty: no match is `Unauthenticated`.
    pub async fn authenticate_password(
        &self,
        email: &str,
        password: &str,
        tenant_id: Option<&str>,
    ) -> Result<Vec<User>, Error> {
        let email = Email::parse("email", email)?;
        let accounts = self
            .store
            .list_accounts(email.as_str(), MAX_ACCOUNTS_CHECKED)
            .await?;
        let mut matched = Vec::new();
        let mut checked = false;
        for account in accounts
            .iter()
            .filter(|a| tenant_id.is_none_or(|t| t == a.tenant_id))
        {
            let Some(record) = self
                .store
                .get_user_with_password(&account.tenant_id, &account.user_id)
                .await?
            else {
                continue;
            };
            checked = true;
            let user = record.user.clone();
            if self.check_user_password(record, password).await? && self.may_sign_in(&user).await? {
                matched.push(user);
            }
        }
        if !checked {
            // The same reads, write and hash as a real check: timing does not reveal the email.
            self.check_stand_in_password(&email, password).await?;
        }
        if matched.is_empty() {
            return Err(Error::Unauthenticated(WRONG_CREDENTIALS));
        }
        Ok(matched)
    }

    /// Whether a user whose password matched may sign in: not while deactivated nor while
    /// their tenant is suspended. Refused like a wrong password, so the answer says nothing
    /// about the account; only a right password pays the tenant read.
    async fn may_sign_in(&self, user: &User) -> Result<bool, Error> {
        if user.deactivated_at.is_some() {
            return Ok(false);
        }
        let tenant = self.store.get_tenant(&user.tenant_id).await?;
        Ok(tenant.is_some_and(|tenant| tenant.suspended_at.is_none()))
    }

    /// `POST /v1/sessions`: email and password (and the tenant, when the email has users
    /// in several) → a session, recorded as a login.
    pub async fn sign_in(
        &self,
        email: Option<&str>,
        password: Option<&str>,
        tenant_id: Option<&str>,
        client: &ClientInfo,
    ) -> Result<IssuedToken, Error> {
        let email = email.ok_or_else(|| Error::invalid("email", "is required"))?;
        let password = password.ok_or_else(|| Error::invalid("password", "is required"))?;
        let users = self
            .authenticate_password(email, password, tenant_id)
            .await?;
        let [user] = users.as_slice() else {
            // Only someone who knows the password learns that the email has several tenants.
            return Err(Error::invalid(
                "tenant_id",
                "this email has accounts in several tenants with this password; name one",
            ));
        };
        self.start_session(user, "password", client).await
    }

    /// Issues a session for `user` (every user scope, the user's own role, no parent key), with
    /// the configured lifetime and the TTL attribute, and records the login.
    pub async fn start_session(
        &self,
        user: &User,
        method: &str,
        client: &ClientInfo,
    ) -> Result<IssuedToken, Error> {
        let now = now_epoch();
        let new = credential::generate(
            CredentialKind::Session,
            super::owner_of(&user.tenant_id, &user.id)?,
            &[],
        );
        let session = AccessToken {
            id: new.id.to_string(),
            kind: CredentialKind::Session,
            origin: TokenOrigin::SignIn,
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            email: user.email.clone(),
            user_role: user.role,
            key_id: None,
            key_type: KeyType::Admin,
            scopes: Scopes::user(),
            chat_role: None,
            user_profile: None,
            end_user: None,
            allowed_ips: Default::default(),
            created_at: now,
            expires_at: now + self.config.session_ttl_secs,
            revoked_at: None,
        };
        let login = super::auth::new_login(method, client);
        let event = self
            .session_event(
                EventType::SessionSignedIn,
                &session,
                Actor::anonymous(&user.id),
            )
            .with_detail("method", method)
            .with_detail("expires_at", session.expires_at);
        self.store
            .put_token(
                &session,
                &self.hasher().hash(&new.secret),
                Some(&login),
                &event,
            )
            .await?;
        Ok(IssuedToken {
            secret: new.secret,
            token: session,
        })
    }

    /// `DELETE /v1/sessions`: revokes the session the caller presented.
    pub async fn sign_out(&self, caller: &Principal) -> Result<(), Error> {
        if caller.kind != CredentialKind::Session {
            return Err(Error::Forbidden(
                "only a session can be signed out; revoke keys and tokens instead".into(),
            ));
        }
        let now = now_epoch();
        let event = self
            .audit_event(
                EventType::SessionSignedOut,
                &caller.tenant_id,
                &caller.user_id,
                Actor::of(caller),
                Target {
                    kind: "session",
                    id: caller.credential_id.clone(),
                },
            )
            .changed("revoked_at", None::<i64>, now);
        self.store
            .revoke_token(&caller.credential_id, now, &event)
            .await?;
        self.forget_credential(&caller.credential_id);
        Ok(())
    }

    /// Revokes every live session of a user but `spared` (after a password change, or a
    /// revoke-all), each in its own transaction with its event.
    pub(crate) async fn revoke_sessions_of(
        &self,
        tenant_id: &str,
        user_id: &str,
        spared: Option<&str>,
        actor: &Actor,
        reason: &str,
    ) -> Result<u32, Error> {
        let now = now_epoch();
        let mut revoked = 0;
        for id in self
            .store
            .list_live_sessions(tenant_id, user_id, now)
            .await?
        {
            if Some(id.as_str()) == spared {
                continue;
            }
            let event = self
                .audit_event(
                    EventType::SessionRevoked,
                    tenant_id,
                    user_id,
                    actor.clone(),
                    Target {
                        kind: "session",
                        id: id.clone(),
                    },
                )
                .changed("revoked_at", None::<i64>, now)
                .with_detail("reason", reason);
            if self.store.revoke_token(&id, now, &event).await? {
                self.forget_credential(&id);
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// An event about a session, in its user's trail.
    fn session_event(
        &self,
        event_type: EventType,
        session: &AccessToken,
        actor: Actor,
    ) -> AuditEvent {
        self.audit_event(
            event_type,
            &session.tenant_id,
            &session.user_id,
            actor,
            Target {
                kind: "session",
                id: session.id.clone(),
            },
        )
    }
}
