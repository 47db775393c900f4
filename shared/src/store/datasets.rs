//! Datasets and their grants. A dataset's partition holds the dataset item and one grant
//! item per grantee (listed in the grantee's "shared with me" GSI1 partition). The dataset
//! item also carries every grant in a map, so one GetItem authorizes a request and a
//! listing shows grantees without further reads.
//!
//! Every change to the grants is one transaction on the dataset item and the grant item,
//! conditioned on what it needs (the dataset exists, the acting user still holds admin, the
//! grantee is or is not there, `grant_count < max`), and raises the dataset's `revision`.
//! Deleting a dataset is one transaction conditioned on the revision it read: it removes
//! exactly the grant items that exist, so none is left behind.

use crate::domain::audit::AuditEvent;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::item::{Item, Reader, b, n, s};
use super::keys::{self, GSI1, GSI1PK, GSI1SK, PK, SK};
use super::{Store, StoreError, condition_held, lost_a_race, primary_key};
use crate::domain::credential::new_ulid;
use crate::domain::dataset::{Dataset, FullName, Grant, Permission, VisibleDataset};

/// Where a page of a listing ended: the last item's listing id and its dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPosition {
    pub listed_id: String,
    pub full_name: FullName,
}

/// Rounds of unprocessed keys a batch read retries before giving up.
const BATCH_ROUNDS: usize = 5;

fn dataset_key(tenant_id: &str, full_name: &FullName) -> Item {
    primary_key(
        keys::dataset(tenant_id, full_name.as_str()),
        keys::DATASET_SK,
    )
}

fn grant_key(tenant_id: &str, full_name: &FullName, user_id: &str) -> Item {
    primary_key(
        keys::dataset(tenant_id, full_name.as_str()),
        keys::grant_sk(user_id),
    )
}

fn grant_entry(grant: &Grant) -> AttributeValue {
    AttributeValue::M(Item::from([
        ("email".to_owned(), s(&grant.email)),
        ("permission".to_owned(), s(grant.permission.as_str())),
        ("granted_at".to_owned(), n(grant.granted_at)),
    ]))
}

fn permission_from(raw: &str) -> Result<Permission, StoreError> {
    Permission::parse("permission", raw)
        .map_err(|_| StoreError::Corrupt(format!("unknown permission {raw:?}")))
}

fn full_name_from(r: &Reader<'_>) -> Result<FullName, StoreError> {
    let raw = r.string("full_name")?;
    FullName::parse("full_name", &raw)
        .map_err(|_| StoreError::Corrupt(format!("malformed dataset name {raw:?}")))
}

/// The attributes a dataset item and its grant items share (they never change).
fn describe(item: &mut Item, dataset: &Dataset, listed_id: &str) {
    item.insert("tenant_id".into(), s(&dataset.tenant_id));
    item.insert("full_name".into(), s(dataset.full_name.as_str()));
    item.insert("name".into(), s(&dataset.name));
    item.insert("owner_id".into(), s(&dataset.owner_id));
    item.insert("owner_email".into(), s(&dataset.owner_email));
    item.insert("cui".into(), b(dataset.cui));
    item.insert("created_at".into(), n(dataset.created_at));
    item.insert("listed_id".into(), s(listed_id));
    item.insert(
        GSI1SK.into(),
        s(keys::dataset_listing_sk(
            listed_id,
            dataset.full_name.as_str(),
        )),
    );
}

fn dataset_item(dataset: &Dataset) -> Item {
    let mut item = dataset_key(&dataset.tenant_id, &dataset.full_name);
    describe(&mut item, dataset, &new_ulid().to_string());
    item.insert(
        GSI1PK.into(),
        s(keys::user_datasets(&dataset.tenant_id, &dataset.owner_id)),
    );
    item.insert("type".into(), s("Dataset"));
    item.insert(
        "grants".into(),
        AttributeValue::M(
            dataset
                .grants
                .iter()
                .map(|g| (g.user_id.clone(), grant_entry(g)))
                .collect(),
        ),
    );
    item.insert("grant_count".into(), n(dataset.grants.len() as i64));
    item.insert("revision".into(), n(dataset.revision));
    item
}

fn grant_item(dataset: &Dataset, grant: &Grant) -> Item {
    let mut item = grant_key(&dataset.tenant_id, &dataset.full_name, &grant.user_id);
    describe(&mut item, dataset, &new_ulid().to_string());
    item.insert(
        GSI1PK.into(),
        s(keys::user_shared_datasets(
            &dataset.tenant_id,
            &grant.user_id,
        )),
    );
    item.insert("type".into(), s("DatasetGrant"));
    item.insert("user_id".into(), s(&grant.user_id));
    item.insert("email".into(), s(&grant.email));
    item.insert("permission".into(), s(grant.permission.as_str()));
    item.insert("granted_at".into(), n(grant.granted_at));
    item
}

fn grants_from(item: &Item) -> Result<Vec<Grant>, StoreError> {
    let Some(AttributeValue::M(entries)) = item.get("grants") else {
        return Ok(Vec::new());
    };
    let mut grants = entries
        .iter()
        .map(|(user_id, entry)| {
            let AttributeValue::M(fields) = entry else {
                return Err(StoreError::Corrupt(format!("grant {user_id} is not a map")));
            };
            let r = Reader(fields);
            Ok(Grant {
                user_id: user_id.clone(),
                email: r.string("email")?,
                permission: permission_from(&r.string("permission")?)?,
                granted_at: r.number("granted_at")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    grants.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(grants)
}

fn dataset_from(item: &Item) -> Result<Dataset, StoreError> {
    let r = Reader(item);
    Ok(Dataset {
        tenant_id: r.string("tenant_id")?,
        full_name: full_name_from(&r)?,
        name: r.string("name")?,
        owner_id: r.string("owner_id")?,
        owner_email: r.string("owner_email")?,
        cui: r.flag("cui"),
        created_at: r.number("created_at")?,
        grants: grants_from(item)?,
        revision: r.number("revision")?,
    })
}

/// A grant item as its grantee sees the dataset (grantees are added by the caller).
fn shared_from(item: &Item) -> Result<VisibleDataset, StoreError> {
    let r = Reader(item);
    Ok(VisibleDataset {
        full_name: full_name_from(&r)?,
        name: r.string("name")?,
        owner_id: r.string("owner_id")?,
        owner_email: r.string("owner_email")?,
        cui: r.flag("cui"),
        created_at: r.number("created_at")?,
        permission: permission_from(&r.string("permission")?)?,
        grants: None,
    })
}

fn position_of(item: &Item) -> Result<ListingPosition, StoreError> {
    let r = Reader(item);
    Ok(ListingPosition {
        listed_id: r.string("listed_id")?,
        full_name: full_name_from(&r)?,
    })
}

/// Names and values shared by grant changes: they need the acting user to hold admin
/// still (owner, or an admin grant), and they raise the revision.
fn acting_admin(acting_user_id: &str, grantee_id: &str) -> (HashMap<String, String>, Item) {
    let names = HashMap::from([
        ("#grants".to_owned(), "grants".to_owned()),
        ("#uid".to_owned(), grantee_id.to_owned()),
        ("#actor".to_owned(), acting_user_id.to_owned()),
        ("#permission".to_owned(), "permission".to_owned()),
        ("#revision".to_owned(), "revision".to_owned()),
    ]);
    let values = Item::from([
        (":actor".to_owned(), s(acting_user_id)),
        (":admin".to_owned(), s(Permission::Admin.as_str())),
        (":one".to_owned(), n(1)),
    ]);
    (names, values)
}

/// The condition every grant change puts on the dataset item.
const ACTOR_IS_ADMIN: &str = "(owner_id = :actor OR #grants.#actor.#permission = :admin)";

impl Store {
    /// Writes a new dataset; false when one of that full name exists already.
    pub async fn create_dataset(&self, dataset: &Dataset) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dataset_item(dataset)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        condition_held(result)
    }

    /// Reads a dataset with its grants (strongly consistent: it authorizes changes).
    pub async fn get_dataset(
        &self,
        tenant_id: &str,
        full_name: &FullName,
    ) -> Result<Option<Dataset>, StoreError> {
        let item = self.get(dataset_key(tenant_id, full_name), true).await?;
        item.as_ref().map(dataset_from).transpose()
    }

    /// Reads up to 100 datasets at once; missing ones are left out.
    pub async fn get_datasets(
        &self,
        tenant_id: &str,
        full_names: &[FullName],
    ) -> Result<Vec<Dataset>, StoreError> {
        if full_names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(
                    full_names
                        .iter()
                        .map(|name| dataset_key(tenant_id, name))
                        .collect(),
                ))
                .build()
                .expect("keys are set"),
        );
        let mut found = Vec::with_capacity(full_names.len());
        for _ in 0..BATCH_ROUNDS {
            let Some(keys) = pending.take() else { break };
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await?;
            if let Some(items) = output.responses.and_then(|mut r| r.remove(&self.table)) {
                for item in &items {
                    found.push(dataset_from(item)?);
                }
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut rest| rest.remove(&self.table))
                .filter(|rest| !rest.keys().is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable(
                "a batch read left keys unprocessed".into(),
            ));
        }
        Ok(found)
    }

    /// The datasets a user owns, newest first.
    pub async fn list_owned_datasets(
        &self,
        tenant_id: &str,
        user_id: &str,
        limit: u32,
        after: Option<&ListingPosition>,
    ) -> Result<(Vec<Dataset>, Option<ListingPosition>), StoreError> {
        let (items, next) = self
            .query_listing(
                tenant_id,
                keys::user_datasets(tenant_id, user_id),
                keys::DATASET_SK.to_owned(),
                limit,
                after,
            )
            .await?;
        let datasets = items.iter().map(dataset_from).collect::<Result<_, _>>()?;
        Ok((datasets, next))
    }

    /// The datasets shared with a user, most recently shared first, each with the
    /// user's permission.
    pub async fn list_shared_datasets(
        &self,
        tenant_id: &str,
        user_id: &str,
        limit: u32,
        after: Option<&ListingPosition>,
    ) -> Result<(Vec<VisibleDataset>, Option<ListingPosition>), StoreError> {
        let (items, next) = self
            .query_listing(
                tenant_id,
                keys::user_shared_datasets(tenant_id, user_id),
                keys::grant_sk(user_id),
                limit,
                after,
            )
            .await?;
        let shared = items.iter().map(shared_from).collect::<Result<_, _>>()?;
        Ok((shared, next))
    }

    /// One descending GSI1 Query; every item of `partition` has the table sort key
    /// `item_sk`, so a position rebuilds the start key within the partition.
    async fn query_listing(
        &self,
        tenant_id: &str,
        partition: String,
        item_sk: String,
        limit: u32,
        after: Option<&ListingPosition>,
    ) -> Result<(Vec<Item>, Option<ListingPosition>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :partition")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":partition", s(&partition))
            .scan_index_forward(false)
            .limit(limit as i32);
        if let Some(after) = after {
            query = query.set_exclusive_start_key(Some(Item::from([
                (
                    PK.to_owned(),
                    s(keys::dataset(tenant_id, after.full_name.as_str())),
                ),
                (SK.to_owned(), s(item_sk)),
                (GSI1PK.to_owned(), s(partition)),
                (
                    GSI1SK.to_owned(),
                    s(keys::dataset_listing_sk(
                        &after.listed_id,
                        after.full_name.as_str(),
                    )),
                ),
            ])));
        }
        let output = query.send().await?;
        let items = output.items.unwrap_or_default();
        let next = match (&output.last_evaluated_key, items.last()) {
            (Some(_), Some(last)) => Some(position_of(last)?),
            _ => None,
        };
        Ok((items, next))
    }

    /// Adds `grant`, or changes the permission of a grantee already there. False when the
    /// dataset changed so that this no longer applies (read it again and decide anew).
    pub async fn put_grant(
        &self,
        dataset: &Dataset,
        grant: &Grant,
        acting_user_id: &str,
        max_grants: usize,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let (names, mut values) = acting_admin(acting_user_id, &grant.user_id);
        let dataset_key = dataset_key(&dataset.tenant_id, &dataset.full_name);
        let is_new = dataset.permission_of(&grant.user_id).is_none();
        let (dataset_change, grant_change) = if is_new {
            values.insert(":grant".into(), grant_entry(grant));
            values.insert(":max".into(), n(max_grants as i64));
            (
                self.update_named_if(
                    dataset_key,
                    "SET #grants.#uid = :grant, grant_count = grant_count + :one, \
                     #revision = #revision + :one",
                    &format!(
                        "attribute_not_exists(#grants.#uid) AND grant_count < :max \
                         AND {ACTOR_IS_ADMIN}"
                    ),
                    names,
                    values,
                ),
                self.put_if(grant_item(dataset, grant), "attribute_not_exists(PK)"),
            )
        } else {
            values.insert(":level".into(), s(grant.permission.as_str()));
            (
                self.update_named_if(
                    dataset_key,
                    "SET #grants.#uid.#permission = :level, #revision = #revision + :one",
                    &format!("attribute_exists(#grants.#uid) AND {ACTOR_IS_ADMIN}"),
                    names,
                    values,
                ),
                self.update_named_if(
                    grant_key(&dataset.tenant_id, &dataset.full_name, &grant.user_id),
                    "SET #permission = :level",
                    "attribute_exists(PK)",
                    HashMap::from([("#permission".to_owned(), "permission".to_owned())]),
                    Item::from([(":level".to_owned(), s(grant.permission.as_str()))]),
                ),
            )
        };
        self.apply_guarded([dataset_change, grant_change], event)
            .await
    }

    /// Removes one grantee's grant. False when the dataset changed so that this no longer
    /// applies (read it again and decide anew).
    pub async fn remove_grant(
        &self,
        dataset: &Dataset,
        grantee_id: &str,
        acting_user_id: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let (names, mut values) = acting_admin(acting_user_id, grantee_id);
        values.insert(":zero".into(), n(0));
        let dataset_change = self.update_named_if(
            dataset_key(&dataset.tenant_id, &dataset.full_name),
            "REMOVE #grants.#uid SET grant_count = grant_count - :one, \
             #revision = #revision + :one",
            &format!("attribute_exists(#grants.#uid) AND grant_count > :zero AND {ACTOR_IS_ADMIN}"),
            names,
            values,
        );
        let grant_change = self.delete_at(grant_key(
            &dataset.tenant_id,
            &dataset.full_name,
            grantee_id,
        ));
        self.apply_guarded([dataset_change, grant_change], event)
            .await
    }

    /// Deletes a dataset and every grant item, unless its grants changed since `dataset`
    /// was read (false: read again and retry). At most `Dataset::MAX_GRANTS` + 1 items, so
    /// always one transaction.
    pub async fn delete_dataset(&self, dataset: &Dataset) -> Result<bool, StoreError> {
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(self.delete_if(
                dataset_key(&dataset.tenant_id, &dataset.full_name),
                Some("#revision = :seen"),
                HashMap::from([("#revision".to_owned(), "revision".to_owned())]),
                Item::from([(":seen".to_owned(), n(dataset.revision))]),
            ));
        for grant in &dataset.grants {
            transaction = transaction.transact_items(self.delete_at(grant_key(
                &dataset.tenant_id,
                &dataset.full_name,
                &grant.user_id,
            )));
        }
        match transaction.send().await {
            Ok(_) => Ok(true),
            Err(error) if lost_a_race(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Applies a grant change with its audit event, in one transaction.
    async fn apply_guarded(
        &self,
        changes: [aws_sdk_dynamodb::types::TransactWriteItem; 2],
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut items = Vec::from(changes);
        items.push(self.audit_put(event));
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if lost_a_race(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
