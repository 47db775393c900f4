//! The operator's tenant commands (`keygate-admin tenant ...`): list, suspend, resume,
//! delete. Creating a tenant is [`Services::bootstrap`]. A suspension refuses every
//! credential of the tenant on the next request and every sign-in into it, until it is
//! resumed. A deletion suspends first, then offboards and erases every user (their
//! datasets deleted), and removes the tenant item last, so a re-run after a failure resumes.

use super::offboarding::DatasetsFate;
use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::ids;
use crate::domain::user::Tenant;

/// What deleting a tenant did.
#[derive(Debug)]
pub struct TenantDeletion {
    /// Live keys the tenant held when deleted (only with `force`).
    pub live_keys: i64,
    pub users_erased: u32,
}

/// Users offboarded and erased per page of the tenant's users.
const USER_PAGE: u32 = 100;

impl Services {
    /// Tenants by id, a page of at most `limit` after `after`, and where the next starts.
    pub async fn list_tenants(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Tenant>, Option<String>), Error> {
        Ok(self.store.list_tenants(limit, after).await?)
    }

    pub async fn suspend_tenant(&self, tenant_id: &str) -> Result<Tenant, Error> {
        self.set_suspension(tenant_id, Some(now_epoch())).await
    }

    pub async fn resume_tenant(&self, tenant_id: &str) -> Result<Tenant, Error> {
        self.set_suspension(tenant_id, None).await
    }

    async fn set_suspension(
        &self,
        tenant_id: &str,
        suspended_at: Option<i64>,
    ) -> Result<Tenant, Error> {
        if !ids::is_id(tenant_id) {
            return Err(Error::NotFound("tenant"));
        }
        let event_type = match suspended_at {
            Some(_) => EventType::TenantSuspended,
            None => EventType::TenantResumed,
        };
        // A tenant's events have no subject user, as its budget's.
        let event = self.audit_event(
            event_type,
            tenant_id,
            "",
            Actor::system("system", None),
            Target {
                kind: "tenant",
                id: tenant_id.to_owned(),
            },
        );
        if !self
            .store
            .set_tenant_suspension(tenant_id, suspended_at, &event)
            .await?
        {
            return Err(Error::NotFound("tenant"));
        }
        self.store
            .get_tenant(tenant_id)
            .await?
            .ok_or(Error::NotFound("tenant"))
    }

    /// Deletes a tenant; refused (409) while it has live keys unless `force`.
    pub async fn delete_tenant(
        &self,
        tenant_id: &str,
        force: bool,
    ) -> Result<TenantDeletion, Error> {
        if !ids::is_id(tenant_id) || self.store.get_tenant(tenant_id).await?.is_none() {
            return Err(Error::NotFound("tenant"));
        }
        let live_keys = self.store.count_live_keys(tenant_id).await?;
        if live_keys > 0 && !force {
            return Err(Error::Conflict(format!(
                "tenant {tenant_id} has {live_keys} live keys: revoke them, or delete with --force"
            )));
        }
        // From here on every credential of the tenant is refused, whatever is left.
        self.set_suspension(tenant_id, Some(now_epoch())).await?;
        let actor = Actor::system("system", None);
        let mut users_erased = 0;
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self
                .store
                .list_users(tenant_id, USER_PAGE, after.as_deref())
                .await?;
            for user in page {
                self.offboard(&user, Some(&DatasetsFate::Delete), &actor)
                    .await?;
                let flagged = self
                    .store
                    .get_user(tenant_id, &user.id)
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                self.erase(&flagged, &actor).await?;
                self.store.delete_user_item(tenant_id, &user.id).await?;
                users_erased += 1;
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let (teams_erased, webhooks_deleted) = self
            .store
            .erase_tenant_teams_and_webhooks(tenant_id)
            .await?;
        let event = self
            .audit_event(
                EventType::TenantDeleted,
                tenant_id,
                "",
                actor,
                Target {
                    kind: "tenant",
                    id: tenant_id.to_owned(),
                },
            )
            .with_detail("live_keys", live_keys)
            .with_detail("users_erased", users_erased)
            .with_detail("teams_erased", teams_erased)
            .with_detail("webhooks_deleted", webhooks_deleted);
        self.store.delete_tenant_item(tenant_id, &event).await?;
        Ok(TenantDeletion {
            live_keys,
            users_erased,
        })
    }
}
