//! Deactivating a user: the flag on the user's budget meter item (read by every
//! verification of the user's credentials) and its copy on the user item, in one
//! transaction with the event; and the user's datasets passed to another user or deleted,
//! each in one transaction with its event.

use std::collections::HashMap;

use super::item::{Item, n, s};
use super::keys::{self, GSI1PK};
use super::meter::meter_key;
use super::owner_budgets::DEACTIVATED_AT;
use super::users::user_key;
use super::{Store, StoreError, any_condition_failed, lost_a_race, primary_key};
use crate::domain::audit::AuditEvent;
use crate::domain::dataset::Dataset;
use crate::domain::owner_budget::BudgetOwner;
use crate::domain::user::User;

fn dataset_key(dataset: &Dataset) -> Item {
    primary_key(
        keys::dataset(&dataset.tenant_id, dataset.full_name.as_str()),
        keys::DATASET_SK,
    )
}

fn grant_key(dataset: &Dataset, user_id: &str) -> Item {
    primary_key(
        keys::dataset(&dataset.tenant_id, dataset.full_name.as_str()),
        keys::grant_sk(user_id),
    )
}

impl Store {
    /// Flags a user deactivated at `at` (a repeat keeps the first time): the meter item's
    /// flag (SET only, so a budget there is untouched), the user item's copy and the event,
    /// all or nothing. False when there is no such user.
    pub async fn deactivate_user(
        &self,
        tenant_id: &str,
        user_id: &str,
        at: i64,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let names = HashMap::from([("#flag".to_owned(), DEACTIVATED_AT.to_owned())]);
        let values = Item::from([(":at".to_owned(), n(at))]);
        let flag = "SET #flag = if_not_exists(#flag, :at)";
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.update_named_if(
                user_key(tenant_id, user_id),
                flag,
                "attribute_exists(PK)",
                names.clone(),
                values.clone(),
            ))
            .transact_items(self.update_named(
                meter_key(&BudgetOwner::User { tenant_id, user_id }.meter_id()),
                flag,
                names,
                values,
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

    /// Makes `to` the owner of `dataset` (as read: false when its grants changed since, or
    /// it is gone; read again). Its full name, which grantees know it by, stays; every
    /// grant stays, each grant item's copy of the owner follows; a grant `to` held is
    /// dropped (the owner holds admin). At most 50 grants + 2 items: one transaction.
    pub async fn transfer_dataset(
        &self,
        dataset: &Dataset,
        to: &User,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let held_grant = dataset.grants.iter().any(|g| g.user_id == to.id);
        let mut names = HashMap::from([("#revision".to_owned(), "revision".to_owned())]);
        let mut values = Item::from([
            (":seen".to_owned(), n(dataset.revision)),
            (":one".to_owned(), n(1)),
            (":owner".to_owned(), s(&to.id)),
            (":email".to_owned(), s(&to.email)),
            (
                ":listing".to_owned(),
                s(keys::user_datasets(&dataset.tenant_id, &to.id)),
            ),
        ]);
        let mut expression = format!(
            "SET owner_id = :owner, owner_email = :email, {GSI1PK} = :listing, \
             #revision = #revision + :one"
        );
        if held_grant {
            names.insert("#grantee".to_owned(), to.id.clone());
            expression.push_str(", grant_count = grant_count - :one REMOVE grants.#grantee");
        }
        let mut transaction =
            self.client
                .transact_write_items()
                .transact_items(self.update_named_if(
                    dataset_key(dataset),
                    &expression,
                    "#revision = :seen",
                    names,
                    values.clone(),
                ));
        values.retain(|name, _| name == ":owner" || name == ":email");
        for grant in &dataset.grants {
            transaction = transaction.transact_items(if grant.user_id == to.id {
                self.delete_at(grant_key(dataset, &grant.user_id))
            } else {
                self.update_if(
                    grant_key(dataset, &grant.user_id),
                    "SET owner_id = :owner, owner_email = :email",
                    "attribute_exists(PK)",
                    values.clone(),
                )
            });
        }
        match transaction
            .transact_items(self.audit_put(event))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if lost_a_race(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a dataset with every grant item and records the event, unless its grants
    /// changed since it was read (false: read again). At most 50 grants + 2 items.
    pub async fn delete_dataset_audited(
        &self,
        dataset: &Dataset,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(self.delete_if(
                dataset_key(dataset),
                Some("#revision = :seen"),
                HashMap::from([("#revision".to_owned(), "revision".to_owned())]),
                Item::from([(":seen".to_owned(), n(dataset.revision))]),
            ));
        for grant in &dataset.grants {
            transaction =
                transaction.transact_items(self.delete_at(grant_key(dataset, &grant.user_id)));
        }
        match transaction
            .transact_items(self.audit_put(event))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if lost_a_race(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
