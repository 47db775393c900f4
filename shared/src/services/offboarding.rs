//! Offboarding: a tenant admin deactivates a user (`DELETE /v1/users/{id}`). The flag
//! goes first, on the user's budget meter item that every verification of the user's
//! credentials reads, so every key, token and session of the user is refused on the next
//! request. Then the user's keys are revoked, one transaction each with its event, so keys
//! of other users that follow them (their lineage names them) are refused too; then the
//! user's datasets pass to `transfer_to` or are deleted. Every step is idempotent: after a
//! failure (503) the same request resumes where it stopped.

use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::dataset::Dataset;
use crate::domain::ids;
use crate::domain::principal::Principal;
use crate::domain::scope::Scope;
use crate::domain::user::User;

/// What becomes of a deactivated user's datasets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetsFate {
    /// They pass to this user of the tenant, grants and all.
    Transfer(User),
    Delete,
}

/// What a deactivation did (a repeat reports only what it still had to do).
#[derive(Debug)]
pub struct Deactivation {
    pub user: User,
    pub keys_revoked: u32,
    pub datasets_transferred: u32,
    pub datasets_deleted: u32,
}

/// Datasets handled per page of the owner's listing.
const DATASET_PAGE: u32 = 25;
/// Keys revoked per page of the user's listing.
const KEY_PAGE: u32 = 100;

impl Services {
    /// Deactivates `user_id`. `datasets` is `transfer` (with `transfer_to`) or `delete`,
    /// required when the user owns any; a refusal writes nothing.
    pub async fn deactivate_user(
        &self,
        caller: &Principal,
        user_id: &str,
        datasets: Option<&str>,
        transfer_to: Option<&str>,
    ) -> Result<Deactivation, Error> {
        caller.require_scope(Scope::Admin)?;
        let user = self.get_tenant_user(caller, user_id).await?;
        if user.id == caller.user_id {
            return Err(Error::Conflict(
                "a tenant admin cannot deactivate their own user".into(),
            ));
        }
        let fate = self
            .datasets_fate(caller, &user, datasets, transfer_to)
            .await?;
        self.offboard(&user, fate.as_ref(), &Actor::of(caller))
            .await
    }

    /// Deactivates `user` as `actor` (a tenant admin, or the operator deleting a tenant):
    /// the flag, then the keys, then the datasets' `fate`.
    pub(crate) async fn offboard(
        &self,
        user: &User,
        fate: Option<&DatasetsFate>,
        actor: &Actor,
    ) -> Result<Deactivation, Error> {
        let now = now_epoch();
        let event = self
            .audit_event(
                EventType::UserDeactivated,
                &user.tenant_id,
                &user.id,
                actor.clone(),
                Target {
                    kind: "user",
                    id: user.id.clone(),
                },
            )
            .changed("deactivated_at", user.deactivated_at, now)
            .with_detail(
                "datasets",
                match fate {
                    Some(DatasetsFate::Transfer(_)) => Some("transfer"),
                    Some(DatasetsFate::Delete) => Some("delete"),
                    None => None,
                },
            )
            .with_detail(
                "transfer_to",
                match fate {
                    Some(DatasetsFate::Transfer(to)) => Some(to.id.as_str()),
                    _ => None,
                },
            );
        if !self
            .store
            .deactivate_user(&user.tenant_id, &user.id, now, &event)
            .await?
        {
            return Err(Error::NotFound("user"));
        }
        self.forget_user_credentials(&user.tenant_id, &user.id);
        let keys_revoked = self.revoke_keys_of(actor, user).await?;
        let (datasets_transferred, datasets_deleted) = match fate {
            Some(fate) => self.settle_datasets(actor, user, fate).await?,
            None => (0, 0),
        };
        let user = self
            .store
            .get_user(&user.tenant_id, &user.id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        Ok(Deactivation {
            user,
            keys_revoked,
            datasets_transferred,
            datasets_deleted,
        })
    }

    /// The fate asked for, checked before anything is written: none only for a user who
    /// owns no dataset; a transfer only to another active user of the tenant.
    async fn datasets_fate(
        &self,
        caller: &Principal,
        user: &User,
        datasets: Option<&str>,
        transfer_to: Option<&str>,
    ) -> Result<Option<DatasetsFate>, Error> {
        match (datasets, transfer_to) {
            (Some("transfer"), Some(to)) => {
                let to = match ids::is_id(to) {
                    true => self.store.get_user(&caller.tenant_id, to).await?,
                    false => None,
                };
                match to {
                    Some(to) if to.id != user.id && to.deactivated_at.is_none() => {
                        Ok(Some(DatasetsFate::Transfer(to)))
                    }
                    _ => Err(Error::invalid(
                        "transfer_to",
                        "must be another active user of the tenant",
                    )),
                }
            }
            (Some("transfer"), None) => Err(Error::invalid(
                "transfer_to",
                "is required with datasets=transfer",
            )),
            (Some("delete"), None) => Ok(Some(DatasetsFate::Delete)),
            (Some("delete"), Some(_)) => Err(Error::invalid(
                "transfer_to",
                "goes only with datasets=transfer",
            )),
            (Some(_), _) => Err(Error::invalid(
                "datasets",
                "must be \"transfer\" or \"delete\"",
            )),
            (None, Some(_)) => Err(Error::invalid(
                "datasets",
                "must be \"transfer\" when transfer_to is given",
            )),
            (None, None) => {
                let (owned, _) = self
                    .store
                    .list_owned_datasets(&user.tenant_id, &user.id, 1, None)
                    .await?;
                if owned.is_empty() {
                    Ok(None)
                } else {
                    Err(Error::invalid(
                        "datasets",
                        "the user owns datasets: say \"transfer\" (with transfer_to) or \"delete\"",
                    ))
                }
            }
        }
    }

    /// Revokes every unrevoked key of `user`, a page at a time, each with its event.
    async fn revoke_keys_of(&self, actor: &Actor, user: &User) -> Result<u32, Error> {
        let mut revoked = 0;
        let mut after: Option<String> = None;
        loop {
            let (keys, next) = self
                .store
                .list_api_keys(&user.tenant_id, &user.id, false, KEY_PAGE, after.as_deref())
                .await?;
            for key in keys {
                let id = key.id.clone();
                let key = self
                    .revoke_key_audited(key, EventType::KeyRevoked, actor, |event| {
                        event.with_detail("reason", "user_deactivated")
                    })
                    .await?;
                if key.revoked_at.is_some() {
                    revoked += 1;
                }
                self.forget_credential(&id);
            }
            match next {
                Some(next) => after = Some(next),
                None => return Ok(revoked),
            }
        }
    }

    /// Passes each dataset `user` owns to the new owner, or deletes it; (passed, deleted).
    async fn settle_datasets(
        &self,
        actor: &Actor,
        user: &User,
        fate: &DatasetsFate,
    ) -> Result<(u32, u32), Error> {
        let (mut transferred, mut deleted) = (0, 0);
        let mut after = None;
        loop {
            let (page, next) = self
                .store
                .list_owned_datasets(&user.tenant_id, &user.id, DATASET_PAGE, after.as_ref())
                .await?;
            for listed in page {
                if self.settle_dataset(actor, user, fate, listed).await? {
                    match fate {
                        DatasetsFate::Transfer(_) => transferred += 1,
                        DatasetsFate::Delete => deleted += 1,
                    }
                }
            }
            match next {
                Some(next) => after = Some(next),
                None => return Ok((transferred, deleted)),
            }
        }
    }

    /// One dataset's fate, re-read and retried when its grants changed meanwhile; false
    /// when it is no longer the user's (the listing is eventually consistent).
    async fn settle_dataset(
        &self,
        actor: &Actor,
        user: &User,
        fate: &DatasetsFate,
        listed: Dataset,
    ) -> Result<bool, Error> {
        let mut dataset = listed;
        for _ in 0..3 {
            if dataset.owner_id != user.id {
                return Ok(false);
            }
            let (event_type, to) = match fate {
                DatasetsFate::Transfer(to) => (EventType::DatasetTransferred, Some(to)),
                DatasetsFate::Delete => (EventType::DatasetDeleted, None),
            };
            let event = self
                .audit_event(
                    event_type,
                    &user.tenant_id,
                    &user.id,
                    actor.clone(),
                    Target {
                        kind: "dataset",
                        id: dataset.full_name.as_str().to_owned(),
                    },
                )
                .with_detail("reason", "user_deactivated")
                .with_detail("to", to.map(|to| to.id.as_str()));
            let done = match to {
                Some(to) => self.store.transfer_dataset(&dataset, to, &event).await?,
                None => self.store.delete_dataset_audited(&dataset, &event).await?,
            };
            if done {
                return Ok(true);
            }
            match self
                .store
                .get_dataset(&user.tenant_id, &dataset.full_name)
                .await?
            {
                Some(current) => dataset = current,
                None => return Ok(false),
            }
        }
        Err(Error::Conflict(format!(
            "dataset {} kept changing; try again",
            dataset.full_name.as_str()
        )))
    }
}
