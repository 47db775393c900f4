//! Rolling a key: a successor inherits it, the old key lives out a grace period, and an
//! `Idempotency-Key` makes a retried roll answer the same successor.

use super::api_keys::CreatedKey;
use super::{Error, Services};
use crate::domain::api_key::{
    ApiKey, DEFAULT_ROLL_GRACE_SECS, IDEMPOTENCY_WINDOW_SECS, MAX_PREDECESSORS_IN_GRACE,
    MAX_ROLL_GRACE_SECS, parse_idempotency_key, rolled_key_end,
};
use crate::domain::audit::{Actor, EventType};
use crate::domain::clock::now_epoch;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::principal::Principal;
use crate::store::api_keys::{RollKey, RollRecord};

/// A roll's outcome: a new key (secret shown once), or the replay of an earlier roll with
/// the same `Idempotency-Key`, whose secret cannot be shown again.
pub enum Rolled {
    New { created: CreatedKey, old: ApiKey },
    Replayed { new: ApiKey, old: ApiKey },
}

impl Services {
    /// `POST /v1/api-keys/{id}/roll`: a successor with the same name, scopes, type, expiry,
    /// metering, metadata and network allowlist, counting against the same meter (one balance for both); the old key
    /// keeps working for `grace_secs` (0..=7 days, default 1 day).
    /// The caller must hold every scope of the key. With an `Idempotency-Key`, a retry
    /// within 24 h answers the same successor instead of minting another.
    pub async fn roll_api_key(
        &self,
        caller: &Principal,
        key_id: &str,
        grace_secs: Option<i64>,
        idempotency_key: Option<&str>,
    ) -> Result<Rolled, Error> {
        caller.require_full_key()?;
        if !crate::domain::ids::is_id(key_id) {
            return Err(Error::NotFound("API key"));
        }
        let grace_secs = grace_secs.unwrap_or(DEFAULT_ROLL_GRACE_SECS);
        if !(0..=MAX_ROLL_GRACE_SECS).contains(&grace_secs) {
            return Err(Error::invalid(
                "grace_secs",
                format!("must be a whole number of seconds from 0 to {MAX_ROLL_GRACE_SECS}"),
            ));
        }
        let idempotency_key = idempotency_key
            .map(|raw| {
                parse_idempotency_key(raw).ok_or_else(|| {
                    Error::invalid(
                        "Idempotency-Key",
                        "must be 1 to 255 visible ASCII characters without spaces",
                    )
                })
            })
            .transpose()?;
        if let Some(replay) = self
            .replay_roll(caller, key_id, grace_secs, idempotency_key)
            .await?
        {
            return Ok(replay);
        }
        caller.require_manager()?;
        let old = self.get_api_key(caller, key_id).await?;
        // Rolling changes the key: the same rule as a patch (every scope, a type as strong).
        caller.require_covers(&old.scopes, old.key_type, &old.models)?;
        caller.require_covers_networks(&old.allowed_ips)?;
        let now = now_epoch();
        if let Some(refusal) = old.roll_refusal(now) {
            return Err(Error::Conflict(refusal.into()));
        }
        // The successor keeps the old key's lineage (and so follows the same keys); its
        // secret carries it like any key's.
        let lineage = old
            .lineage
            .iter()
            .map(|id| ulid::Ulid::from_string(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::Conflict("this key's lineage is malformed".into()))?;
        let new = credential::generate(
            CredentialKind::ApiKey,
            super::owner_of(&old.tenant_id, &old.user_id)?,
            &lineage,
        );
        let old_end = rolled_key_end(old.expires_at, now, grace_secs);
        let predecessors = old.predecessors_of_successor(old_end, now);
        if predecessors.len() > MAX_PREDECESSORS_IN_GRACE {
            return Err(Error::Conflict(format!(
                "{} rolled keys of this chain are still in their grace; roll again when one ends",
                predecessors.len() - 1
            )));
        }
        // The successor is made by the caller: it expires no later than the caller's key,
        // like any key the caller creates (rights only narrow), nor later than the tenant's
        // key policy lets a key made now live. It keeps the old key's `meter_id`: both (and
        // every predecessor still in grace) spend from one meter.
        let tenant_policy = self.tenant_key_policy(&old.tenant_id).await?;
        let successor = ApiKey {
            id: new.id.to_string(),
            expires_at: tenant_policy.clamp_successor_expiry(
                super::api_keys::earliest(old.expires_at, caller.key_expires_at),
                now,
            ),
            key_prefix: credential::display_prefix(CredentialKind::ApiKey, new.id),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            enabled: true,
            rolled_to: None,
            predecessors,
            ..old.clone()
        };
        let record = RollRecord {
            rolled_key_id: old.id.clone(),
            new_key_id: successor.id.clone(),
            grace_secs,
            remembered_until: now + IDEMPOTENCY_WINDOW_SECS,
        };
        let event = self
            .key_event(EventType::KeyRolled, &old, Actor::of(caller))
            .changed("expires_at", old.expires_at, old_end)
            .with_detail("new_key_id", successor.id.as_str())
            .with_detail("grace_secs", grace_secs)
            .with_detail("new_expires_at", successor.expires_at);
        match self
            .store
            .roll_api_key(
                &old,
                old_end,
                &successor,
                &self.hasher().hash(&new.secret),
                now,
                idempotency_key.map(|key| (key, &record)),
                &tenant_policy,
                &event,
            )
            .await?
        {
            RollKey::Rolled => {}
            RollKey::PolicyChanged => {
                return Err(Error::Conflict(
                    "the tenant key policy changed meanwhile; try again".into(),
                ));
            }
            RollKey::Changed => {
                return Err(Error::Conflict(
                    "the key changed meanwhile (revoked, paused or rolled); read it and try again"
                        .into(),
                ));
            }
            RollKey::Replayed => {
                return self
                    .replay_roll(caller, key_id, grace_secs, idempotency_key)
                    .await?
                    .ok_or_else(|| Error::Conflict("the roll raced another; try again".into()));
            }
        }
        self.forget_credential(&old.id);
        let mut old = old;
        old.expires_at = Some(old_end);
        old.rolled_to = Some(successor.id.clone());
        Ok(Rolled::New {
            created: CreatedKey {
                key: successor,
                secret: new.secret,
            },
            old,
        })
    }

    /// The earlier answer to a roll with this `Idempotency-Key`, if one is remembered; the
    /// key reused for another key or grace is a conflict.
    async fn replay_roll(
        &self,
        caller: &Principal,
        key_id: &str,
        grace_secs: i64,
        idempotency_key: Option<&str>,
    ) -> Result<Option<Rolled>, Error> {
        let Some(idempotency_key) = idempotency_key else {
            return Ok(None);
        };
        let Some(record) = self
            .store
            .get_roll_record(
                &caller.tenant_id,
                &caller.user_id,
                idempotency_key,
                now_epoch(),
            )
            .await?
        else {
            return Ok(None);
        };
        if record.rolled_key_id != key_id || record.grace_secs != grace_secs {
            return Err(Error::Conflict(
                "this Idempotency-Key was used for another roll in the last 24 hours".into(),
            ));
        }
        let new = self.get_api_key(caller, &record.new_key_id).await?;
        let old = self.get_api_key(caller, &record.rolled_key_id).await?;
        Ok(Some(Rolled::Replayed { new, old }))
    }
}
