//! The operator's tenant commands (`keygate-admin tenant ...`): list, suspend, resume.
//! Creating a tenant is [`Services::bootstrap`]. A suspension refuses every credential of
//! the tenant on the next request and every sign-in into it, until it is resumed.

use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::ids;
use crate::domain::user::Tenant;

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
}
