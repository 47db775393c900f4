//! The operator's view of tenants: listing them (GSI1 `TENANTS`, no Scan) and suspending
//! or resuming one. A suspension is written on the tenant's budget meter item, which every
//! verification in the tenant reads, and copied onto the tenant item (which listing and
//! sign-in read), with its audit event, in one transaction. Deleting a tenant ends with its
//! tenant item and its users' tombstones; the suspended meter item stays as its tombstone.

use std::collections::HashMap;

use super::item::{Item, Reader, n, resume_after, s};
use super::keys::{self, GSI1, GSI1PK, GSI1SK};
use super::meter::meter_key;
use super::owner_budgets::SUSPENDED_AT;
use super::users::{tenant_from, user_key};
use super::{Store, StoreError, any_condition_failed, primary_key};
use crate::domain::audit::AuditEvent;
use crate::domain::owner_budget::BudgetOwner;
use crate::domain::user::Tenant;

impl Store {
    /// Tenants by id, at most `limit` after `after_tenant_id`, and where the page ended.
    /// Tenants bootstrapped before the index existed appear once a suspend or resume has
    /// touched them (both write the index keys).
    pub async fn list_tenants(
        &self,
        limit: u32,
        after_tenant_id: Option<&str>,
    ) -> Result<(Vec<Tenant>, Option<String>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :tenants")
            .expression_attribute_values(":tenants", s(keys::TENANTS))
            .limit(limit as i32);
        if let Some(after) = after_tenant_id {
            let start = primary_key(keys::tenant(after), keys::TENANT_SK);
            for (name, value) in start {
                query = query.exclusive_start_key(name, value);
            }
            query = query
                .exclusive_start_key(GSI1PK, s(keys::TENANTS))
                .exclusive_start_key(GSI1SK, s(after));
        }
        let output = query.send().await?;
        let tenants = output
            .items()
            .iter()
            .map(tenant_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = resume_after(output.last_evaluated_key.is_some(), &tenants, |t| &t.id);
        Ok((tenants, next))
    }

    /// Suspends (`Some(now)`; an earlier suspension keeps its time) or resumes (`None`) a
    /// tenant: its meter item's flag (SET/REMOVE only, so a budget there is untouched), the
    /// tenant item's copy and the event, all or nothing. False when there is no such tenant.
    pub async fn set_tenant_suspension(
        &self,
        tenant_id: &str,
        suspended_at: Option<i64>,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let names = HashMap::from([("#flag".to_owned(), SUSPENDED_AT.to_owned())]);
        let (meter_change, tenant_change, mut values) = match suspended_at {
            Some(at) => (
                "SET #flag = if_not_exists(#flag, :at)",
                "SET #flag = if_not_exists(#flag, :at), GSI1PK = :tenants, GSI1SK = :tid",
                Item::from([(":at".to_owned(), n(at))]),
            ),
            None => (
                "REMOVE #flag",
                "SET GSI1PK = :tenants, GSI1SK = :tid REMOVE #flag",
                Item::new(),
            ),
        };
        let meter_values = values.clone();
        values.insert(":tenants".into(), s(keys::TENANTS));
        values.insert(":tid".into(), s(tenant_id));
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.update_named_if(
                primary_key(keys::tenant(tenant_id), keys::TENANT_SK),
                tenant_change,
                "attribute_exists(PK)",
                names.clone(),
                values,
            ))
            .transact_items(self.update_named(
                meter_key(&BudgetOwner::Tenant { tenant_id }.meter_id()),
                meter_change,
                names,
                meter_values,
            ))
            .transact_items(self.audit_put(event))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if any_condition_failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The tenant's live keys: the sum of the `active_keys` counters (unrevoked, unpaused
    /// keys; an expired one holds its slot until revoked) of its users and of its teams (the
    /// team keys), one Query page of 100 at a time over the tenant's partition, never a Scan.
    pub async fn count_live_keys(&self, tenant_id: &str) -> Result<i64, StoreError> {
        let mut live = 0;
        for owners in [keys::USER_SK_PREFIX, keys::TEAM_SK_PREFIX] {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :owners)")
                .expression_attribute_values(":pk", s(keys::tenant(tenant_id)))
                .expression_attribute_values(":owners", s(owners))
                .projection_expression("active_keys")
                .consistent_read(true)
                .limit(100);
            let mut start: Option<Item> = None;
            loop {
                let output = query.clone().set_exclusive_start_key(start).send().await?;
                live += output
                    .items()
                    .iter()
                    .map(|item| Reader(item).opt_number("active_keys").unwrap_or(0))
                    .sum::<i64>();
                start = output.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(live)
    }

    /// Deletes an erased user's tombstone (the last step of deleting their tenant).
    pub async fn delete_user_item(&self, tenant_id: &str, user_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(user_key(tenant_id, user_id)))
            .send()
            .await?;
        Ok(())
    }

    /// Deletes the tenant item (so it is no longer listed and no one signs in) with the
    /// event; its budget meter item keeps `suspended_at`, refusing any credential left.
    pub async fn delete_tenant_item(
        &self,
        tenant_id: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .transact_items(self.delete_at(primary_key(keys::tenant(tenant_id), keys::TENANT_SK)))
            // Its key policy goes with it (absent when it never set one: nothing to delete).
            .transact_items(
                self.delete_at(primary_key(keys::tenant(tenant_id), keys::TENANT_POLICY_SK)),
            )
            .transact_items(self.audit_put(event))
            .send()
            .await?;
        Ok(())
    }
}
