//! API key items. The per-user limit is a counter on the user item (a team key's: on its
//! team item), raised in the same transaction that writes the key and guarded by
//! `active_keys < :max`; a ConditionCheck in that transaction holds the tenant's key policy
//! (whose `max_active_keys_per_user` is a user's `:max`) unchanged since it was read.

use super::item::{Item, Reader, b, list, n, put_opt, s};
use super::keys::{self, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK};
use super::meter::MeterStart;
use super::owner_budgets::{budget_keys, budgets_in, standing_in};
use super::transaction::Transaction;
use super::{Store, StoreError, primary_key};
use crate::domain::allowed_ips::AllowedIps;
use crate::domain::api_key::{ApiKey, LAST_USED_RESOLUTION_SECS, Predecessor};
use crate::domain::audit::AuditEvent;
pub use crate::domain::key_change::KeyChanges;
use crate::domain::key_metadata::{KeyFilter, KeyMetadata};
use crate::domain::metering::Metering;
use crate::domain::models::AllowedModels;
use crate::domain::owner_budget::OwnerBudget;
use crate::domain::scope::{KeyType, Scopes, UserRole};
use crate::domain::standing::Standing;
use crate::domain::tenant_policy::TenantKeyPolicy;

pub enum CreateKey {
    Created,
    LimitReached,
    /// The tenant's key policy changed since it was read: plan again.
    PolicyChanged,
}

/// What a patch changed; `None` when the key is missing or revoked.
pub enum PatchKey {
    Updated(Box<ApiKey>),
    LimitReached,
    Missing,
    /// The tenant's key policy changed since it was read.
    PolicyChanged,
}

/// How a roll ended.
pub enum RollKey {
    Rolled,
    /// The old key changed meanwhile (revoked, paused, rolled): read it again.
    Changed,
    /// The tenant's key policy changed since it was read.
    PolicyChanged,
    /// Another request with the same `Idempotency-Key` won meanwhile: replay it.
    Replayed,
}

/// What a roll's `Idempotency-Key` remembers, for 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollRecord {
    pub rolled_key_id: String,
    pub new_key_id: String,
    pub grace_secs: i64,
    pub remembered_until: i64,
}

const EXTERNAL_ID: &str = "external_id";
const TAGS: &str = "tags";
const META: &str = "meta";
const ALLOWED_IPS: &str = "allowed_ips";

fn key_item(key: &ApiKey, hash: &str) -> Item {
    let owner = keys::user_keys(&key.tenant_id, &key.user_id);
    let mut item = key_primary_key(&key.id);
    item.insert(GSI1PK.into(), s(&owner));
    item.insert(GSI1SK.into(), s(&key.id));
    item.insert(GSI2PK.into(), s(&owner));
    item.insert(GSI2SK.into(), s(&key.id));
    item.insert("type".into(), s("ApiKey"));
    item.insert("hash".into(), s(hash));
    item.insert("key_id".into(), s(&key.id));
    item.insert("tenant_id".into(), s(&key.tenant_id));
    item.insert("user_id".into(), s(&key.user_id));
    item.insert("email".into(), s(&key.email));
    item.insert("user_role".into(), s(key.user_role.as_str()));
    item.insert("name".into(), s(&key.name));
    item.insert("key_prefix".into(), s(&key.key_prefix));
    item.insert("scopes".into(), list(key.scopes.names()));
    item.insert("key_type".into(), s(key.key_type.as_str()));
    item.insert("created_at".into(), n(key.created_at));
    put_opt(&mut item, "expires_at", key.expires_at.map(n));
    item.insert("enabled".into(), b(key.enabled));
    put_opt(&mut item, "rolled_to", key.rolled_to.as_deref().map(s));
    if !key.lineage.is_empty() {
        item.insert(
            "lineage".into(),
            list(key.lineage.iter().map(String::as_str)),
        );
    }
    if key.metering.is_metered() {
        item.insert("metering".into(), s(metering_json(&key.metering)));
    }
    if key.end_user_budget.is_metered() {
        item.insert(
            "end_user_budget".into(),
            s(metering_json(&key.end_user_budget)),
        );
    }
    // Absent: any model.
    if let Some(models) = key.models.names() {
        item.insert("models".into(), list(models.iter().map(String::as_str)));
    }
    // Metadata and the network allowlist ride on the key item: verification reads them
    // with the key. Absent: none, and any address.
    put_opt(
        &mut item,
        EXTERNAL_ID,
        key.metadata.external_id.as_deref().map(s),
    );
    if !key.metadata.tags.is_empty() {
        item.insert(
            TAGS.into(),
            list(key.metadata.tags.iter().map(String::as_str)),
        );
    }
    put_opt(&mut item, META, key.metadata.meta_json().map(s));
    if let Some(networks) = key.allowed_ips.names() {
        item.insert(
            ALLOWED_IPS.into(),
            list(networks.iter().map(String::as_str)),
        );
    }
    // Absent: the key counts against its own meter (every key made before rolls shared).
    if key.meter_id != key.id {
        item.insert("meter_id".into(), s(&key.meter_id));
    }
    put_opt(&mut item, "team_id", key.team_id.as_deref().map(s));
    put_opt(&mut item, "created_by", key.created_by.as_deref().map(s));
    if !key.predecessors.is_empty() {
        let predecessors: Vec<String> = key
            .predecessors
            .iter()
            .map(|p| format!("{}@{}", p.key_id, p.ends_at))
            .collect();
        item.insert(
            "predecessors".into(),
            list(predecessors.iter().map(String::as_str)),
        );
    }
    item
}

/// The parts of a key change that set or remove its metadata and network allowlist.
fn metadata_update(
    changes: &KeyChanges,
    sets: &mut Vec<&'static str>,
    removed: &mut Vec<&'static str>,
    values: &mut Item,
    names: &mut std::collections::HashMap<String, String>,
) {
    let mut name = |placeholder: &str, attribute: &str| {
        names.insert(placeholder.to_owned(), attribute.to_owned());
    };
    match &changes.external_id {
        None => {}
        Some(Some(external_id)) => {
            name("#external_id", EXTERNAL_ID);
            sets.push("#external_id = :external_id");
            values.insert(":external_id".into(), s(external_id));
        }
        Some(None) => {
            name("#external_id", EXTERNAL_ID);
            removed.push("#external_id");
        }
    }
    if let Some(tags) = &changes.tags {
        name("#tags", TAGS);
        if tags.is_empty() {
            removed.push("#tags");
        } else {
            sets.push("#tags = :tags");
            values.insert(":tags".into(), list(tags.iter().map(String::as_str)));
        }
    }
    match &changes.meta {
        None => {}
        Some(meta) => {
            name("#meta", META);
            match meta {
                Some(meta) => {
                    sets.push("#meta = :meta");
                    values.insert(
                        ":meta".into(),
                        s(serde_json::Value::Object(meta.clone()).to_string()),
                    );
                }
                None => removed.push("#meta"),
            }
        }
    }
    if let Some(networks) = &changes.allowed_ips {
        name("#allowed_ips", ALLOWED_IPS);
        match networks.names() {
            Some(networks) => {
                sets.push("#allowed_ips = :allowed_ips");
                values.insert(
                    ":allowed_ips".into(),
                    list(networks.iter().map(String::as_str)),
                );
            }
            None => removed.push("#allowed_ips"),
        }
    }
}

/// `<key id>@<end>` as written by `key_item`; anything else is skipped.
fn predecessor_from(stored: &str) -> Option<Predecessor> {
    let (key_id, ends_at) = stored.split_once('@')?;
    Some(Predecessor {
        key_id: key_id.to_owned(),
        ends_at: ends_at.parse().ok()?,
    })
}

fn metering_json(metering: &Metering) -> String {
    serde_json::to_string(metering).unwrap_or_default()
}

/// The key record and its stored hash.
fn key_from(item: &Item) -> Result<(ApiKey, String), StoreError> {
    let r = Reader(item);
    let key = ApiKey {
        id: r.string("key_id")?,
        tenant_id: r.string("tenant_id")?,
        user_id: r.string("user_id")?,
        email: r.string("email")?,
        user_role: UserRole::parse(&r.string("user_role")?).unwrap_or_default(),
        name: r.string("name")?,
        key_prefix: r.string("key_prefix")?,
        scopes: Scopes::from_stored(r.strings("scopes").iter().map(String::as_str)),
        key_type: KeyType::parse(&r.string("key_type")?).unwrap_or(KeyType::Asker),
        created_at: r.number("created_at")?,
        expires_at: r.opt_number("expires_at"),
        last_used_at: r.opt_number("last_used_at"),
        revoked_at: r.opt_number("revoked_at"),
        enabled: r.flag("enabled"),
        rolled_to: r.opt_string("rolled_to"),
        lineage: r.strings("lineage"),
        metering: r.json("metering").unwrap_or_default(),
        models: if item.contains_key("models") {
            AllowedModels::only(r.strings("models"))
        } else {
            AllowedModels::any()
        },
        end_user_budget: r.json("end_user_budget").unwrap_or_default(),
        meter_id: r.opt_string("meter_id").unwrap_or(r.string("key_id")?),
        predecessors: r
            .strings("predecessors")
            .iter()
            .filter_map(|stored| predecessor_from(stored))
            .collect(),
        team_id: r.opt_string("team_id"),
        created_by: r.opt_string("created_by"),
        metadata: KeyMetadata {
            external_id: r.opt_string(EXTERNAL_ID),
            tags: r.strings(TAGS),
            meta: r.json(META),
        },
        allowed_ips: if item.contains_key(ALLOWED_IPS) {
            AllowedIps::stored(r.strings(ALLOWED_IPS))
        } else {
            AllowedIps::any()
        },
    };
    Ok((key, r.string("hash")?))
}

/// The key record of an item read elsewhere in the store (without its hash).
pub(super) fn key_from_item(item: &Item) -> Result<ApiKey, StoreError> {
    key_from(item).map(|(key, _)| key)
}

fn roll_record_item(
    tenant_id: &str,
    user_id: &str,
    idempotency_key: &str,
    record: &RollRecord,
    now: i64,
) -> Item {
    let mut item = primary_key(
        keys::idempotency(tenant_id, user_id, idempotency_key),
        keys::ROLL_IDEMPOTENCY_SK,
    );
    item.insert("type".into(), s("IdempotencyKey"));
    item.insert("rolled_key_id".into(), s(&record.rolled_key_id));
    item.insert("new_key_id".into(), s(&record.new_key_id));
    item.insert("grace_secs".into(), n(record.grace_secs));
    item.insert("created_at".into(), n(now));
    item.insert(keys::PURGE_AT.into(), n(record.remembered_until));
    item
}

pub(super) fn key_primary_key(key_id: &str) -> Item {
    primary_key(keys::api_key(key_id), keys::API_KEY_SK)
}

/// The keys with these ids among items read together, in the order asked (None: not there).
pub(super) fn keys_in(found: &[Item], ids: &[&str]) -> Result<Vec<Option<ApiKey>>, StoreError> {
    ids.iter()
        .map(|id| {
            let pk = keys::api_key(id);
            found
                .iter()
                .find(|item| item.get(PK).and_then(|v| v.as_s().ok()) == Some(&pk))
                .map(key_from_item)
                .transpose()
        })
        .collect()
}

/// A key with its hash and the keys it was created by as they are now, in its lineage's
/// order (None: that key is gone).
pub struct KeyChain {
    pub key: ApiKey,
    pub hash: String,
    pub ancestors: Vec<Option<ApiKey>>,
    /// The budgets asked for with it (its user's and tenant's), in the order asked.
    pub owner_budgets: Vec<Option<OwnerBudget>>,
    /// Whether its tenant is suspended or its user deactivated, as those items say.
    pub owner_standing: Standing,
}

/// The item counting the key's owner's active keys: its user's, or its team's.
fn counter_key(key: &ApiKey) -> Item {
    let sk = match &key.team_id {
        Some(team_id) => keys::team_sk(team_id),
        None => keys::user_sk(&key.user_id),
    };
    primary_key(keys::tenant(&key.tenant_id), sk)
}

fn counter_change(delta: i64) -> Item {
    Item::from([(":delta".to_owned(), n(delta))])
}

impl Store {
    /// Writes a new key if its owner (user or team) holds fewer than `max_active` active
    /// keys and the tenant's `policy` is still the one read.
    pub async fn create_api_key(
        &self,
        key: &ApiKey,
        hash: &str,
        max_active: u32,
        policy: &TenantKeyPolicy,
        event: &AuditEvent,
        meter: Option<&MeterStart<'_>>,
    ) -> Result<CreateKey, StoreError> {
        let mut values = counter_change(1);
        values.insert(":max".into(), n(i64::from(max_active)));
        values.insert(":zero".into(), n(0));
        let mut transaction = Transaction::new();
        let key_count = transaction.guarded(self.update_if(
            counter_key(key),
            "SET active_keys = if_not_exists(active_keys, :zero) + :delta",
            "attribute_exists(PK) AND (attribute_not_exists(active_keys) OR active_keys < :max)",
            values,
        ));
        transaction.add(self.put_if(key_item(key, hash), "attribute_not_exists(PK)"));
        transaction.add(self.audit_put(event));
        if let Some(meter) = meter {
            transaction.add(self.new_meter(&key.id, meter));
        }
        let policy_held =
            transaction.guarded(self.tenant_policy_unchanged(&key.tenant_id, policy.revision));
        match transaction.send(self).await {
            Ok(()) => Ok(CreateKey::Created),
            Err(error) if key_count.failed(&error) => Ok(CreateKey::LimitReached),
            Err(error) if policy_held.failed(&error) => Ok(CreateKey::PolicyChanged),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads a key and its hash, strongly consistent (one read unit per 4 KB instead of
    /// half): a revoke, pause or narrowing that has returned holds on the very next read.
    pub async fn get_api_key(&self, key_id: &str) -> Result<Option<(ApiKey, String)>, StoreError> {
        let key = key_primary_key(key_id);
        let item = self.get(key, true).await?;
        item.as_ref().map(key_from).transpose()
    }

    /// Reads a key with its hash, the keys named as its ancestors and the budgets named by
    /// `budget_meters` in one strongly consistent BatchGetItem (one read unit per item),
    /// for verification.
    pub async fn get_api_key_chain(
        &self,
        key_id: &str,
        ancestors: &[String],
        budget_meters: &[String],
    ) -> Result<Option<KeyChain>, StoreError> {
        let chain: Vec<&str> = std::iter::once(key_id)
            .chain(ancestors.iter().map(String::as_str))
            .collect();
        let mut wanted: Vec<Item> = chain.iter().map(|id| key_primary_key(id)).collect();
        wanted.extend(budget_keys(budget_meters));
        let found = self.get_consistent_batch(wanted).await?;
        let key_pk = keys::api_key(key_id);
        let Some(key_item) = found
            .iter()
            .find(|item| item.get(PK).and_then(|v| v.as_s().ok()) == Some(&key_pk))
        else {
            return Ok(None);
        };
        let (key, hash) = key_from(key_item)?;
        Ok(Some(KeyChain {
            key,
            hash,
            ancestors: keys_in(&found, &chain[1..])?,
            owner_budgets: budgets_in(&found, budget_meters),
            owner_standing: standing_in(&found, budget_meters),
        }))
    }

    /// One user's keys, newest first; unrevoked only unless `include_revoked`.
    pub async fn list_api_keys(
        &self,
        tenant_id: &str,
        user_id: &str,
        include_revoked: bool,
        limit: u32,
        before_key_id: Option<&str>,
    ) -> Result<(Vec<ApiKey>, Option<String>), StoreError> {
        self.list_api_keys_where(
            tenant_id,
            user_id,
            include_revoked,
            limit,
            before_key_id,
            &KeyFilter::default(),
        )
        .await
    }

    /// [`Store::list_api_keys`], keeping only the keys `filter` names. DynamoDB filters the
    /// `limit` items it read, so a filtered page may be shorter than `limit` (even empty)
    /// and still carry a cursor.
    pub async fn list_api_keys_where(
        &self,
        tenant_id: &str,
        user_id: &str,
        include_revoked: bool,
        limit: u32,
        before_key_id: Option<&str>,
        filter: &KeyFilter,
    ) -> Result<(Vec<ApiKey>, Option<String>), StoreError> {
        let owner = keys::user_keys(tenant_id, user_id);
        let (index, pk, sk) = if include_revoked {
            (GSI1, GSI1PK, GSI1SK)
        } else {
            (GSI2, GSI2PK, GSI2SK)
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :owner")
            .expression_attribute_names("#pk", pk)
            .expression_attribute_values(":owner", s(&owner))
            .scan_index_forward(false)
            .limit(limit as i32);
        let mut filters = Vec::new();
        if let Some(tag) = &filter.tag {
            filters.push("contains(#tags, :tag)");
            query = query
                .expression_attribute_names("#tags", TAGS)
                .expression_attribute_values(":tag", s(tag.as_str()));
        }
        if let Some(external_id) = &filter.external_id {
            filters.push("#external_id = :external_id");
            query = query
                .expression_attribute_names("#external_id", EXTERNAL_ID)
                .expression_attribute_values(":external_id", s(external_id.as_str()));
        }
        if !filters.is_empty() {
            query = query.filter_expression(filters.join(" AND "));
        }
        if let Some(before) = before_key_id {
            let mut start = key_primary_key(before);
            start.insert(pk.to_owned(), s(&owner));
            start.insert(sk.to_owned(), s(before));
            query = query.set_exclusive_start_key(Some(start));
        }
        let output = query.send().await?;
        let found = output
            .items()
            .iter()
            .map(|item| key_from(item).map(|(key, _)| key))
            .collect::<Result<Vec<_>, _>>()?;
        // The cursor is the last key read, which a filter may have left out of the page.
        let next = output
            .last_evaluated_key
            .as_ref()
            .and_then(|last| last.get(sk))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok((found, next))
    }

    /// Applies a patch to an unrevoked key; pausing frees a slot, resuming takes one (of
    /// `max_active`). With a policy, the patch holds only if it is still the one read.
    pub async fn patch_api_key(
        &self,
        current: &ApiKey,
        changes: &KeyChanges,
        max_active: u32,
        policy: Option<&TenantKeyPolicy>,
        event: &AuditEvent,
    ) -> Result<PatchKey, StoreError> {
        let Some(key_update) = self.key_patch_update(current, changes) else {
            return Ok(PatchKey::Updated(Box::new(current.clone())));
        };
        let toggles = changes.enabled.filter(|&e| e != current.enabled);
        let mut transaction = Transaction::new();
        let unchanged_key = transaction.guarded(key_update);
        let mut key_count = None;
        if let Some(enabled) = toggles {
            let (expression, condition, values) = if enabled {
                let mut values = counter_change(1);
                values.insert(":max".into(), n(i64::from(max_active)));
                (
                    "SET active_keys = active_keys + :delta",
                    "active_keys < :max",
                    values,
                )
            } else {
                (
                    "SET active_keys = active_keys - :delta",
                    "active_keys >= :delta",
                    counter_change(1),
                )
            };
            key_count = Some(transaction.guarded(self.update_if(
                counter_key(current),
                expression,
                condition,
                values,
            )));
        }
        transaction.add(self.audit_put(event));
        let policy_held = policy.map(|policy| {
            transaction.guarded(self.tenant_policy_unchanged(&current.tenant_id, policy.revision))
        });
        if let Some((remaining, period)) = changes.credits {
            transaction.add(self.set_credits(&current.meter_id, remaining, period));
        }
        if let Some(metering) = &changes.metering {
            // Predecessors in their grace admit against the same meter with what they read
            // from their own item: they take the same limits and credits policy.
            let (expression, values) = if metering.is_metered() {
                (
                    "SET metering = :metering",
                    Item::from([(":metering".to_owned(), s(metering_json(metering)))]),
                )
            } else {
                ("REMOVE metering", Item::new())
            };
            for predecessor in &changes.metering_predecessors {
                transaction.add(self.update_if(
                    key_primary_key(predecessor),
                    expression,
                    "attribute_exists(PK)",
                    values.clone(),
                ));
            }
        }
        match transaction.send(self).await {
            Ok(()) => {}
            Err(error) if key_count.is_some_and(|count| count.failed(&error)) => {
                return Ok(PatchKey::LimitReached);
            }
            Err(error) if unchanged_key.failed(&error) => return Ok(PatchKey::Missing),
            Err(error) if policy_held.is_some_and(|held| held.failed(&error)) => {
                return Ok(PatchKey::PolicyChanged);
            }
            Err(error) => return Err(error.into()),
        }
        Ok(PatchKey::Updated(Box::new(current.with_changes(changes))))
    }

    /// The update of the key item a change makes, guarded by the key being as read
    /// (unrevoked, not rolled, paused or not as it was); none when nothing changes.
    fn key_patch_update(
        &self,
        current: &ApiKey,
        changes: &KeyChanges,
    ) -> Option<aws_sdk_dynamodb::types::TransactWriteItem> {
        let mut sets = Vec::new();
        let mut values = Item::new();
        if let Some(name) = &changes.name {
            sets.push("#name = :name");
            values.insert(":name".into(), s(name));
        }
        if let Some(scopes) = &changes.scopes {
            sets.push("scopes = :scopes");
            values.insert(":scopes".into(), list(scopes.names()));
        }
        if let Some(at) = changes.expires_at {
            sets.push("expires_at = :expires_at");
            values.insert(":expires_at".into(), n(at));
        }
        if let Some(enabled) = changes.enabled.filter(|&e| e != current.enabled) {
            sets.push("enabled = :enabled");
            values.insert(":enabled".into(), b(enabled));
        }
        let mut removed = Vec::new();
        if let Some(metering) = &changes.metering {
            if metering.is_metered() {
                sets.push("metering = :metering");
                values.insert(":metering".into(), s(metering_json(metering)));
            } else {
                removed.push("metering");
            }
        }
        if let Some(models) = &changes.models {
            match models.names() {
                Some(names) => {
                    sets.push("models = :models");
                    values.insert(":models".into(), list(names.iter().map(String::as_str)));
                }
                None => removed.push("models"),
            }
        }
        if let Some(budget) = &changes.end_user_budget {
            if budget.is_metered() {
                sets.push("end_user_budget = :end_user_budget");
                values.insert(":end_user_budget".into(), s(metering_json(budget)));
            } else {
                removed.push("end_user_budget");
            }
        }
        let mut names = std::collections::HashMap::new();
        metadata_update(changes, &mut sets, &mut removed, &mut values, &mut names);
        let removes = if removed.is_empty() {
            String::new()
        } else {
            format!(" REMOVE {}", removed.join(", "))
        };
        if sets.is_empty() && removes.is_empty() && changes.credits.is_none() {
            return None;
        }
        if sets.is_empty() && removes.is_empty() {
            // Credits only: keep the key's guard (unrevoked, unchanged) with a no-op update.
            sets.push("enabled = :was");
        }
        values.insert(":was".into(), b(current.enabled));
        let key = key_primary_key(&current.id);
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(if sets.is_empty() {
                removes.trim_start().to_owned()
            } else {
                format!("SET {}{removes}", sets.join(", "))
            })
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND attribute_not_exists(rolled_to) AND enabled = :was",
            )
            .set_expression_attribute_names({
                if changes.name.is_some() {
                    names.insert("#name".to_owned(), "name".to_owned());
                }
                (!names.is_empty()).then_some(names)
            })
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("table, key and expression are set");
        Some(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .update(update)
                .build(),
        )
    }

    /// Revokes a key (kept for audit); frees its slot when it held one.
    /// Returns false when it was already revoked or is gone.
    pub async fn revoke_api_key(
        &self,
        key: &ApiKey,
        now: i64,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut values = Item::from([
            (":now".to_owned(), n(now)),
            (":was".to_owned(), b(key.enabled)),
        ]);
        values.insert(":false".into(), b(false));
        let mut transaction = Transaction::new();
        let unrevoked_key = transaction.guarded(self.update_if(
                key_primary_key(&key.id),
                "SET revoked_at = :now, enabled = :false REMOVE GSI2PK, GSI2SK",
                if key.rolled_to.is_some() {
                    "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND enabled = :was AND attribute_exists(rolled_to)"
                } else {
                    "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND enabled = :was AND attribute_not_exists(rolled_to)"
                },
                values,
            ));
        if key.holds_a_slot() {
            transaction.add(self.update_if(
                counter_key(key),
                "SET active_keys = active_keys - :delta",
                "active_keys >= :delta",
                counter_change(1),
            ));
        }
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if unrevoked_key.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Rolls `old` into `new` in one transaction: the old key ends at `old_end` and hands
    /// its slot to the successor (the counter does not move); with `remember`, the
    /// `Idempotency-Key` is stored too, unless a live one is there already. The successor's
    /// expiry was bounded by `policy`, which must still be the one read.
    #[allow(clippy::too_many_arguments)]
    pub async fn roll_api_key(
        &self,
        old: &ApiKey,
        old_end: i64,
        new: &ApiKey,
        new_hash: &str,
        now: i64,
        remember: Option<(&str, &RollRecord)>,
        policy: &TenantKeyPolicy,
        event: &AuditEvent,
    ) -> Result<RollKey, StoreError> {
        let mut values = Item::from([
            (":end".to_owned(), n(old_end)),
            (":new".to_owned(), s(&new.id)),
            (":now".to_owned(), n(now)),
            (":true".to_owned(), b(true)),
        ]);
        let expiry_unchanged = match old.expires_at {
            Some(at) => {
                values.insert(":seen".into(), n(at));
                "expires_at = :seen"
            }
            None => "attribute_not_exists(expires_at)",
        };
        let mut transaction = Transaction::new();
        let unchanged_old = transaction.guarded(self.update_if(
                key_primary_key(&old.id),
                "SET expires_at = :end, rolled_to = :new, rolled_at = :now",
                &format!(
                    "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND attribute_not_exists(rolled_to) AND enabled = :true AND {expiry_unchanged}"
                ),
                values,
            ));
        transaction.add(self.put_if(key_item(new, new_hash), "attribute_not_exists(PK)"));
        let mut first_roll = None;
        if let Some((idempotency_key, record)) = remember {
            first_roll = Some(transaction.guarded(self.put_if_values(
                roll_record_item(&old.tenant_id, &old.user_id, idempotency_key, record, now),
                "attribute_not_exists(PK) OR purge_at < :now",
                Item::from([(":now".to_owned(), n(now))]),
            )));
        }
        transaction.add(self.audit_put(event));
        let policy_held =
            transaction.guarded(self.tenant_policy_unchanged(&old.tenant_id, policy.revision));
        match transaction.send(self).await {
            Ok(()) => Ok(RollKey::Rolled),
            Err(error) if policy_held.failed(&error) => Ok(RollKey::PolicyChanged),
            Err(error) if first_roll.is_some_and(|record| record.failed(&error)) => {
                Ok(RollKey::Replayed)
            }
            Err(error) if unchanged_old.failed(&error) => Ok(RollKey::Changed),
            Err(error) => Err(error.into()),
        }
    }

    /// The live record of a roll's `Idempotency-Key`, read consistently.
    pub async fn get_roll_record(
        &self,
        tenant_id: &str,
        user_id: &str,
        idempotency_key: &str,
        now: i64,
    ) -> Result<Option<RollRecord>, StoreError> {
        let key = primary_key(
            keys::idempotency(tenant_id, user_id, idempotency_key),
            keys::ROLL_IDEMPOTENCY_SK,
        );
        let Some(item) = self.get(key, true).await? else {
            return Ok(None);
        };
        let r = Reader(&item);
        let record = RollRecord {
            rolled_key_id: r.string("rolled_key_id")?,
            new_key_id: r.string("new_key_id")?,
            grace_secs: r.number("grace_secs")?,
            remembered_until: r.number(keys::PURGE_AT)?,
        };
        // TTL deletes late; an expired record is as good as gone.
        Ok((record.remembered_until > now).then_some(record))
    }

    /// Records use, at most once per resolution window whatever other instances did.
    pub async fn touch_api_key(&self, key_id: &str, now: i64) -> Result<(), StoreError> {
        // A failed condition means the use is recorded recently enough already.
        self.update_where(
            key_primary_key(key_id),
            "SET last_used_at = :now",
            "attribute_exists(PK) AND (attribute_not_exists(last_used_at) OR last_used_at <= :stale)",
            Item::from([
                (":now".to_owned(), n(now)),
                (":stale".to_owned(), n(now - LAST_USED_RESOLUTION_SECS)),
            ]),
        )
        .await?;
        Ok(())
    }
}
