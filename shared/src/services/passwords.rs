//! Passwords: hashing off the async threads, checking with the lockout, changing one's own.

use super::{Error, Services};
use crate::domain::clock::now_epoch;
use crate::domain::credential::CredentialKind;
use crate::domain::password::{MAX_FAILED_SIGN_INS, Password, streak_start};
use crate::domain::principal::Principal;
use crate::domain::user::User;
use crate::store::users::Attempt;

impl Services {
    /// The PHC string of a new password. Argon2 is CPU-bound by design, so it runs on the
    /// blocking pool rather than stalling other requests on the async threads.
    pub(crate) async fn hash_password(&self, password: Password) -> String {
        let hasher = self.passwords.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .expect("hashing does not panic")
    }

    /// Checks `candidate` against `stored` (or a dummy hash when there is none), on the
    /// blocking pool. Always costs one Argon2 verification.
    pub(crate) async fn password_matches(&self, candidate: &str, stored: Option<String>) -> bool {
        let hasher = self.passwords.clone();
        let candidate = candidate.to_owned();
        tokio::task::spawn_blocking(move || hasher.verify(&candidate, stored.as_deref()))
            .await
            .expect("verifying does not panic")
    }

    /// One counted password check for `user`: the attempt is recorded before the check
    /// (so a locked account gets no check at all, only the dummy one for timing) and a
    /// match ends the streak. False for a wrong password and for a locked account alike.
    pub(crate) async fn check_user_password(
        &self,
        user: &User,
        stored: Option<String>,
        candidate: &str,
    ) -> Result<bool, Error> {
        let now = now_epoch();
        let attempt = self
            .store
            .start_sign_in_attempt(
                &user.tenant_id,
                &user.id,
                now,
                streak_start(now, self.config.sign_in_lockout_secs),
                MAX_FAILED_SIGN_INS,
            )
            .await?;
        if attempt == Attempt::Locked {
            self.password_matches(candidate, None).await;
            tracing::info!(user_id = %user.id, "sign-in refused: account locked");
            return Ok(false);
        }
        if !self.password_matches(candidate, stored).await {
            return Ok(false);
        }
        self.store
            .clear_sign_in_failures(&user.tenant_id, &user.id)
            .await?;
        Ok(true)
    }

    /// `PUT /v1/users/me/password`: sets the caller's password; the current one is
    /// required when there is one. Every other session of the user is signed out.
    pub async fn set_own_password(
        &self,
        caller: &Principal,
        current: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), Error> {
        caller.require_full_key()?;
        let new = Password::parse(
            "new_password",
            new.ok_or_else(|| Error::invalid("new_password", "is required"))?,
        )?;
        let (user, stored) = self
            .store
            .get_user_with_password(&caller.tenant_id, &caller.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if stored.is_some() {
            let current = current.ok_or_else(|| {
                Error::invalid("old_password", "is required to change a password")
            })?;
            if !self.check_user_password(&user, stored, current).await? {
                return Err(Error::invalid(
                    "old_password",
                    "does not match the current password (or too many attempts: wait and retry)",
                ));
            }
        }
        let phc = self.hash_password(new).await;
        if !self.store.set_password_hash(&user, &phc).await? {
            return Err(Error::NotFound("user"));
        }
        let spared =
            (caller.kind == CredentialKind::Session).then_some(caller.credential_id.as_str());
        self.revoke_sessions_of(&user.tenant_id, &user.id, spared)
            .await?;
        Ok(())
    }
}
