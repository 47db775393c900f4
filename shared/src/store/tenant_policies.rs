//! A tenant's key policy: one item beside the tenant (`TENANT#<tid>` / `POLICY`) with a
//! revision. A key's creation reads it and writes the key only if the revision is still the
//! one read (a ConditionCheck in the same transaction), so a policy that has been changed
//! binds every key created after the change returned.

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use super::item::{Item, Reader, list, n, put_opt, s};
use super::keys;
use super::transaction::Transaction;
use super::{Store, StoreError, primary_key};
use crate::domain::audit::AuditEvent;
use crate::domain::scope::{KeyType, Scopes};
use crate::domain::tenant_policy::{DEFAULT_MAX_ACTIVE_KEYS_PER_USER, TenantKeyPolicy};

const REVISION: &str = "revision";

fn policy_key(tenant_id: &str) -> Item {
    primary_key(keys::tenant(tenant_id), keys::TENANT_POLICY_SK)
}

fn policy_item(tenant_id: &str, policy: &TenantKeyPolicy, now: i64) -> Item {
    let mut item = policy_key(tenant_id);
    item.insert("type".into(), s("TenantKeyPolicy"));
    item.insert(REVISION.into(), n(policy.revision as i64));
    item.insert("updated_at".into(), n(now));
    item.insert(
        "max_active_keys_per_user".into(),
        n(i64::from(policy.max_active_keys_per_user)),
    );
    put_opt(
        &mut item,
        "max_key_lifetime_days",
        policy.max_key_lifetime_days.map(|d| n(i64::from(d))),
    );
    if let Some(types) = &policy.allowed_key_types {
        item.insert(
            "allowed_key_types".into(),
            list(types.iter().map(|t| t.as_str())),
        );
    }
    if let Some(scopes) = &policy.allowed_scopes {
        item.insert("allowed_scopes".into(), list(scopes.names()));
    }
    item
}

fn policy_from(item: &Item) -> Result<TenantKeyPolicy, StoreError> {
    let r = Reader(item);
    Ok(TenantKeyPolicy {
        max_key_lifetime_days: r
            .opt_number("max_key_lifetime_days")
            .map(|d| d.clamp(1, i64::from(u32::MAX)) as u32),
        max_active_keys_per_user: r
            .opt_number("max_active_keys_per_user")
            .map_or(DEFAULT_MAX_ACTIVE_KEYS_PER_USER, |m| {
                m.clamp(1, i64::from(u32::MAX)) as u32
            }),
        allowed_key_types: item.contains_key("allowed_key_types").then(|| {
            r.strings("allowed_key_types")
                .iter()
                .filter_map(|t| KeyType::parse(t))
                .collect()
        }),
        allowed_scopes: item
            .contains_key("allowed_scopes")
            .then(|| Scopes::from_stored(r.strings("allowed_scopes").iter().map(String::as_str))),
        revision: r.number(REVISION)?.max(0) as u64,
    })
}

impl Store {
    /// The tenant's key policy, strongly consistent (a change that returned is what the next
    /// creation reads); `None`: the tenant never set one.
    pub async fn get_tenant_key_policy(
        &self,
        tenant_id: &str,
    ) -> Result<Option<TenantKeyPolicy>, StoreError> {
        self.get(policy_key(tenant_id), true)
            .await?
            .as_ref()
            .map(policy_from)
            .transpose()
    }

    /// Replaces the policy with `policy` (whose revision is one more than `seen`'s) and puts
    /// its audit event, in one transaction. Returns false when the policy changed since it
    /// was read at revision `seen` (0: none stored).
    pub async fn put_tenant_key_policy(
        &self,
        tenant_id: &str,
        policy: &TenantKeyPolicy,
        seen: u64,
        now: i64,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let (condition, values) = unchanged_since(seen);
        let mut transaction = Transaction::new();
        let unchanged = transaction.guarded(self.put_if_values(
            policy_item(tenant_id, policy, now),
            condition,
            values,
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if unchanged.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// A transaction item that holds only if the tenant's policy is still at `revision`.
    pub(super) fn tenant_policy_unchanged(
        &self,
        tenant_id: &str,
        revision: u64,
    ) -> TransactWriteItem {
        let (condition, values) = unchanged_since(revision);
        TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(self.table())
                    .set_key(Some(policy_key(tenant_id)))
                    .condition_expression(condition)
                    .set_expression_attribute_values((!values.is_empty()).then_some(values))
                    .build()
                    .expect("table, key and condition are set"),
            )
            .build()
    }
}

/// The condition that the policy item is still at `revision` (0: there is none).
fn unchanged_since(revision: u64) -> (&'static str, Item) {
    match revision {
        0 => ("attribute_not_exists(PK)", Item::new()),
        seen => (
            "revision = :seen",
            Item::from([(":seen".to_owned(), n(seen as i64))]),
        ),
    }
}
