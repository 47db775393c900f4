//! A tenant's key policy (`GET|PUT /v1/tenant/policy`): set by its admins, read by every
//! key creation of the tenant (README, "Tenant key policy").

use serde_json::{Value, json};

use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::principal::Principal;
use crate::domain::tenant_policy::{TenantKeyPolicy, TenantKeyPolicyInput};

impl Services {
    /// The caller's tenant's policy (its admins); 404 when the tenant never set one.
    pub async fn get_tenant_policy(&self, caller: &Principal) -> Result<TenantKeyPolicy, Error> {
        caller.require_tenant_admin()?;
        self.store
            .get_tenant_key_policy(&caller.tenant_id)
            .await?
            .ok_or(Error::NotFound("tenant key policy"))
    }

    /// Replaces the caller's tenant's policy (its admins), with its audit event in the same
    /// transaction. Keys that exist keep working as they are: the policy binds what is
    /// created (and rolled) from now on.
    pub async fn put_tenant_policy(
        &self,
        caller: &Principal,
        input: &TenantKeyPolicyInput,
    ) -> Result<TenantKeyPolicy, Error> {
        caller.require_tenant_admin()?;
        let wanted = TenantKeyPolicy::parse(input)?;
        let current = self.tenant_key_policy(&caller.tenant_id).await?;
        let policy = TenantKeyPolicy {
            revision: current.revision + 1,
            ..wanted
        };
        let event = self
            .audit_event(
                EventType::TenantPolicySet,
                &caller.tenant_id,
                "",
                Actor::of(caller),
                Target {
                    kind: "tenant_policy",
                    id: caller.tenant_id.clone(),
                },
            )
            .changed("policy", view(&current), view(&policy))
            .with_detail("revision", policy.revision);
        let now = now_epoch();
        if !self
            .store
            .put_tenant_key_policy(&caller.tenant_id, &policy, current.revision, now, &event)
            .await?
        {
            return Err(Error::Conflict(
                "the tenant key policy changed meanwhile; read it and try again".into(),
            ));
        }
        Ok(policy)
    }

    /// The policy every key creation of the tenant obeys: its own, or the default (ten
    /// active keys per user, nothing else) when it set none. One consistent read.
    pub(crate) async fn tenant_key_policy(
        &self,
        tenant_id: &str,
    ) -> Result<TenantKeyPolicy, Error> {
        Ok(self
            .store
            .get_tenant_key_policy(tenant_id)
            .await?
            .unwrap_or_default())
    }
}

/// A policy as its audit event records it.
fn view(policy: &TenantKeyPolicy) -> Value {
    json!({
        "max_key_lifetime_days": policy.max_key_lifetime_days,
        "max_active_keys_per_user": policy.max_active_keys_per_user,
        "allowed_key_types": policy
            .allowed_key_types
            .as_ref()
            .map(|types| types.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
        "allowed_scopes": policy.allowed_scopes.as_ref().map(|s| s.names()),
    })
}
