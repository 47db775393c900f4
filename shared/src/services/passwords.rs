//! Passwords: hashing off the async threads, checking with the lockout, changing one's own.

use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::CredentialKind;
use crate::domain::password::{MAX_FAILED_SIGN_INS, NextAttempt, Password, streak_start};
use crate::domain::principal::Principal;
use crate::domain::user::Email;
use crate::store::users::PasswordRecord;

/// Counting writes one check may try when concurrent attempts keep moving the streak.
const COUNT_ATTEMPTS: usize = 3;

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

    /// One counted password check: the attempt is counted before the check (a locked
    /// account gets no real check, only the dummy one) and a match ends the streak. False
    /// for a wrong password and a locked account alike. Every failure costs the same: one
    /// conditional write and one Argon2 verification (a retry only when a concurrent
    /// attempt changed the streak between the read and the write).
    pub(crate) async fn check_user_password(
        &self,
        record: PasswordRecord,
        candidate: &str,
    ) -> Result<bool, Error> {
        let PasswordRecord {
            user,
            password_hash,
            mut streak,
        } = record;
        let lockout = self.config.sign_in_lockout_secs;
        let mut counted = None;
        for _ in 0..COUNT_ATTEMPTS {
            let now = now_epoch();
            let planned = streak.next_attempt(now, lockout);
            counted = self
                .store
                .count_sign_in_attempt(
                    &user.tenant_id,
                    &user.id,
                    planned,
                    now,
                    streak_start(now, lockout),
                    MAX_FAILED_SIGN_INS,
                )
                .await?;
            if counted.is_some() || planned == NextAttempt::Locked {
                break;
            }
            // Another attempt moved the streak since it was read: read it again.
            match self
                .store
                .get_user_with_password(&user.tenant_id, &user.id)
                .await?
            {
                Some(fresh) => streak = fresh.streak,
                None => break,
            }
        }
        // The attempt was counted before the check (bounding concurrent guesses); a failure
        // is known only after it, so its event is a write of its own, made on every failure
        // (a refused attempt on a locked account too) so that all failures cost the same.
        let failure = |event_type: EventType, failures: i64| {
            self.audit_event(
                event_type,
                &user.tenant_id,
                &user.id,
                Actor::anonymous(&user.id),
                Target {
                    kind: "user",
                    id: user.id.clone(),
                },
            )
            .with_detail("failures_in_a_row", failures)
        };
        let Some(number) = counted else {
            self.password_matches(candidate, None).await;
            tracing::info!(user_id = %user.id, "sign-in refused: account locked");
            let event = failure(EventType::SignInFailed, MAX_FAILED_SIGN_INS)
                .with_detail("account_locked", true);
            self.store.put_audit_event(&event).await?;
            return Ok(false);
        };
        if !self.password_matches(candidate, password_hash).await {
            let event_type = if number >= MAX_FAILED_SIGN_INS {
                EventType::AccountLocked
            } else {
                EventType::SignInFailed
            };
            self.store
                .put_audit_event(&failure(event_type, number))
                .await?;
            return Ok(false);
        }
        self.store
            .clear_sign_in_failures(&user.tenant_id, &user.id)
            .await?;
        Ok(true)
    }

    /// A failed check for an email with no account to check, costing what a real one
    /// costs: the user read, the counting write (on a stand-in that does not exist, so it
    /// writes nothing) and one Argon2 verification. Timing then does not tell whether the
    /// email has an account.
    pub(crate) async fn check_stand_in_password(
        &self,
        email: &Email,
        candidate: &str,
    ) -> Result<(), Error> {
        // Tenant and user ids are ULIDs, so an email never names a real user; spread by
        // email, the stand-ins put no single item under load.
        let (tenant_id, user_id) = (email.as_str(), email.as_str());
        self.store
            .get_user_with_password(tenant_id, user_id)
            .await?;
        let now = now_epoch();
        let lockout = self.config.sign_in_lockout_secs;
        self.store
            .count_sign_in_attempt(
                tenant_id,
                user_id,
                NextAttempt::Start,
                now,
                streak_start(now, lockout),
                MAX_FAILED_SIGN_INS,
            )
            .await?;
        self.password_matches(candidate, None).await;
        // The failure event a real account would get, on a stand-in: a write that writes
        // nothing (there is no trail to put it in), costing what the real one costs.
        let event = self.audit_event(
            EventType::SignInFailed,
            tenant_id,
            user_id,
            Actor::anonymous(user_id),
            Target {
                kind: "user",
                id: user_id.to_owned(),
            },
        );
        self.store.spend_audit_write(&event).await?;
        Ok(())
    }

    /// `PUT /v1/users/me/password`: sets the caller's password; the current one is
    /// required when there is one. Every other session of the user is signed out.
    /// A password signs in with every right (a session holds all scopes), so only a
    /// credential that holds every right itself may set one: an admin-type, all-scope key
    /// (or a token exchanged for one, within the key's current rights) or a session.
    pub async fn set_own_password(
        &self,
        caller: &Principal,
        current: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), Error> {
        caller.require_full_rights()?;
        let new = Password::parse(
            "new_password",
            new.ok_or_else(|| Error::invalid("new_password", "is required"))?,
        )?;
        let record = self
            .store
            .get_user_with_password(&caller.tenant_id, &caller.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let user = record.user.clone();
        let had_password = record.password_hash.is_some();
        if had_password {
            let current = current.ok_or_else(|| {
                Error::invalid("old_password", "is required to change a password")
            })?;
            if !self.check_user_password(record, current).await? {
                return Err(Error::invalid(
                    "old_password",
                    "does not match the current password (or too many attempts: wait and retry)",
                ));
            }
        }
        let phc = self.hash_password(new).await;
        let event = self.audit_event(
            if had_password {
                EventType::PasswordChanged
            } else {
                EventType::PasswordSet
            },
            &user.tenant_id,
            &user.id,
            Actor::of(caller),
            Target {
                kind: "user",
                id: user.id.clone(),
            },
        );
        if !self.store.set_password_hash(&user, &phc, &event).await? {
            return Err(Error::NotFound("user"));
        }
        let spared =
            (caller.kind == CredentialKind::Session).then_some(caller.credential_id.as_str());
        self.revoke_sessions_of(
            &user.tenant_id,
            &user.id,
            spared,
            &Actor::of(caller),
            "password changed",
        )
        .await?;
        Ok(())
    }
}
