//! Erasure: a tenant admin erases a deactivated user's personal data
//! (`POST /v1/users/{id}/erase`). Each step pages through what is left and is idempotent,
//! so after a failure (503) the same request resumes; the user item's tombstone is the
//! last step, written with the `user.erased` event. What is erased and what is kept is
//! listed in the README ("Offboarding and erasure").

use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::principal::Principal;
use crate::domain::scope::Scope;
use crate::domain::user::User;
use crate::store::erasure::Erased;

/// Grants of other users' datasets read per page.
const GRANT_PAGE: u32 = 100;

impl Services {
    /// Erases `user_id`, who must be deactivated first (409 otherwise).
    pub async fn erase_user(&self, caller: &Principal, user_id: &str) -> Result<Erased, Error> {
        caller.require_scope(Scope::Admin)?;
        let user = self.get_tenant_user(caller, user_id).await?;
        if user.deactivated_at.is_none() {
            return Err(Error::Conflict(
                "only a deactivated user can be erased: DELETE /v1/users/{user_id} first".into(),
            ));
        }
        self.erase(&user, &Actor::of(caller)).await
    }

    /// Erases a deactivated `user` as `actor` (a tenant admin, or the operator deleting a
    /// tenant).
    pub(crate) async fn erase(&self, user: &User, actor: &Actor) -> Result<Erased, Error> {
        let (tenant_id, id) = (user.tenant_id.as_str(), user.id.as_str());
        let mut erased = Erased::default();
        self.store
            .erase_user_partition(tenant_id, id, &mut erased)
            .await?;
        erased.keys = self.store.erase_keys_of(tenant_id, id).await?;
        erased.tokens = self.store.erase_tokens_of(tenant_id, id).await?;
        erased.grants = self.drop_grants_of(actor, user).await?;
        erased.audit_events = self
            .store
            .tombstone_audit(tenant_id, id, &user.email)
            .await?;
        self.forget_user_credentials(tenant_id, id);
        // An erased user's item has no email left: the tombstone is already written.
        if user.email.is_empty() {
            return Ok(erased);
        }
        let event = self
            .audit_event(
                EventType::UserErased,
                tenant_id,
                id,
                actor.clone(),
                Target {
                    kind: "user",
                    id: id.to_owned(),
                },
            )
            .with_detail("prompt_logs", erased.prompt_logs)
            .with_detail("chats", erased.chats)
            .with_detail("messages", erased.messages)
            .with_detail("logins", erased.logins)
            .with_detail("keys", erased.keys)
            .with_detail("tokens", erased.tokens)
            .with_detail("grants", erased.grants)
            .with_detail("audit_events", erased.audit_events);
        if !self.store.tombstone_user(user, now_epoch(), &event).await? {
            return Err(Error::NotFound("user"));
        }
        Ok(erased)
    }

    /// Removes the user's grants on other users' datasets (each grant holds their email),
    /// each with a `dataset.unshared` event naming the grantee by id only.
    async fn drop_grants_of(&self, actor: &Actor, user: &User) -> Result<u32, Error> {
        let mut dropped = 0;
        let mut after = None;
        loop {
            let (page, next) = self
                .store
                .list_shared_datasets(&user.tenant_id, &user.id, GRANT_PAGE, after.as_ref())
                .await?;
            for shared in page {
                if self.drop_grant_of(actor, user, &shared.full_name).await? {
                    dropped += 1;
                }
            }
            match next {
                Some(next) => after = Some(next),
                None => return Ok(dropped),
            }
        }
    }

    async fn drop_grant_of(
        &self,
        actor: &Actor,
        user: &User,
        full_name: &crate::domain::dataset::FullName,
    ) -> Result<bool, Error> {
        for _ in 0..3 {
            let dataset = self.store.get_dataset(&user.tenant_id, full_name).await?;
            let Some(dataset) = dataset.filter(|d| d.grants.iter().any(|g| g.user_id == user.id))
            else {
                // The dataset no longer lists the grant: only its item may be left.
                self.store
                    .delete_stray_grant(&user.tenant_id, full_name.as_str(), &user.id)
                    .await?;
                return Ok(true);
            };
            let event = self
                .audit_event(
                    EventType::DatasetUnshared,
                    &user.tenant_id,
                    &dataset.owner_id,
                    actor.clone(),
                    Target {
                        kind: "dataset",
                        id: full_name.as_str().to_owned(),
                    },
                )
                .with_detail("grantee_user_id", user.id.as_str())
                .with_detail("reason", "user_erased");
            if self.store.drop_grant(&dataset, &user.id, &event).await? {
                return Ok(true);
            }
        }
        Err(Error::Conflict(format!(
            "dataset {} kept changing; try again",
            full_name.as_str()
        )))
    }
}
