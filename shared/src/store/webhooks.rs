//! Webhook endpoints: `TENANT#<tid>` / `WEBHOOK#<id>`, counted on the tenant item
//! (`webhook_count`) so the per-tenant bound holds under concurrency. The signing secret is
//! not stored: only its seed and the pepper version that derives it.

use super::item::{Item, Reader, b, list, n, put_opt, resume_after, s};
use super::keys::{self, PK, SK};
use super::transaction::Transaction;
use super::{Store, StoreError, condition_held, primary_key};
use crate::domain::audit::AuditEvent;
use crate::domain::webhook::{Endpoint, SecretSeed};

/// How a write that must find things as it expects can fail.
#[derive(Debug)]
pub enum EndpointWrite {
    Done,
    /// The tenant already has as many endpoints as allowed.
    LimitReached,
    /// The endpoint is gone (or the tenant is).
    Missing,
}

fn endpoint_key(tenant_id: &str, endpoint_id: &str) -> Item {
    primary_key(keys::tenant(tenant_id), keys::webhook_sk(endpoint_id))
}

fn tenant_key(tenant_id: &str) -> Item {
    primary_key(keys::tenant(tenant_id), keys::TENANT_SK)
}

fn endpoint_item(endpoint: &Endpoint) -> Item {
    let mut item = endpoint_key(&endpoint.tenant_id, &endpoint.id);
    item.insert("type".into(), s("Webhook"));
    item.insert("endpoint_id".into(), s(&endpoint.id));
    item.insert("url".into(), s(&endpoint.url));
    if !endpoint.event_types.is_empty() {
        item.insert(
            "event_types".into(),
            list(endpoint.event_types.iter().map(String::as_str)),
        );
    }
    item.insert("description".into(), s(&endpoint.description));
    item.insert("enabled".into(), b(endpoint.enabled));
    item.insert("created_at".into(), n(endpoint.created_at));
    item.insert("updated_at".into(), n(endpoint.updated_at));
    item.insert("seed".into(), s(&endpoint.secret.seed));
    item.insert(
        "pepper_version".into(),
        n(endpoint.secret.pepper_version.into()),
    );
    if let Some((previous, until)) = &endpoint.previous_secret {
        item.insert("previous_seed".into(), s(&previous.seed));
        item.insert(
            "previous_pepper_version".into(),
            n(previous.pepper_version.into()),
        );
        item.insert("previous_until".into(), n(*until));
    }
    if let Some(reason) = &endpoint.disabled_reason {
        item.insert("disabled_reason".into(), s(reason));
    }
    put_opt(&mut item, "failing_since", endpoint.failing_since.map(n));
    item
}

fn version(r: &Reader<'_>, name: &str) -> Result<u32, StoreError> {
    u32::try_from(r.number(name)?)
        .map_err(|_| StoreError::Corrupt(format!("{name} is not a pepper version")))
}

fn endpoint_from(tenant_id: &str, item: &Item) -> Result<Endpoint, StoreError> {
    let r = Reader(item);
    let previous_secret = match r.opt_string("previous_seed") {
        Some(seed) => Some((
            SecretSeed {
                seed,
                pepper_version: version(&r, "previous_pepper_version")?,
            },
            r.number("previous_until")?,
        )),
        None => None,
    };
    Ok(Endpoint {
        id: r.string("endpoint_id")?,
        tenant_id: tenant_id.to_owned(),
        url: r.string("url")?,
        event_types: r.strings("event_types"),
        description: r.opt_string("description").unwrap_or_default(),
        enabled: r.flag("enabled"),
        created_at: r.number("created_at")?,
        updated_at: r.number("updated_at")?,
        secret: SecretSeed {
            seed: r.string("seed")?,
            pepper_version: version(&r, "pepper_version")?,
        },
        previous_secret,
        disabled_reason: r.opt_string("disabled_reason"),
        failing_since: r.opt_number("failing_since"),
    })
}

impl Store {
    /// Puts a new endpoint, its audit event and the tenant's count together; refused when
    /// the tenant already has `max` endpoints.
    pub async fn create_webhook(
        &self,
        endpoint: &Endpoint,
        max: u32,
        event: &AuditEvent,
    ) -> Result<EndpointWrite, StoreError> {
        let mut transaction = Transaction::new();
        let count = transaction.guarded(self.update_if(
            tenant_key(&endpoint.tenant_id),
            "ADD webhook_count :one",
            "attribute_exists(PK) AND (attribute_not_exists(webhook_count) OR webhook_count < :max)",
            Item::from([(":one".into(), n(1)), (":max".into(), n(max.into()))]),
        ));
        transaction.add(self.put_if(endpoint_item(endpoint), "attribute_not_exists(PK)"));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(EndpointWrite::Done),
            Err(error) if count.failed(&error) => Ok(EndpointWrite::LimitReached),
            Err(error) => Err(error.into()),
        }
    }

    /// One endpoint of a tenant (strongly consistent: a change just made is seen).
    pub async fn get_webhook(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.get(endpoint_key(tenant_id, endpoint_id), true)
            .await?
            .map(|item| endpoint_from(tenant_id, &item))
            .transpose()
    }

    /// A page of a tenant's endpoints, oldest first, after `after` (an endpoint id).
    pub async fn list_webhooks(
        &self,
        tenant_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Endpoint>, Option<String>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :webhook)")
            .expression_attribute_values(":pk", s(keys::tenant(tenant_id)))
            .expression_attribute_values(":webhook", s(keys::WEBHOOK_SK_PREFIX))
            .limit(limit as i32);
        if let Some(after) = after {
            query = query
                .exclusive_start_key(PK, s(keys::tenant(tenant_id)))
                .exclusive_start_key(SK, s(keys::webhook_sk(after)));
        }
        let output = query.send().await?;
        let endpoints = output
            .items()
            .iter()
            .map(|item| endpoint_from(tenant_id, item))
            .collect::<Result<Vec<_>, _>>()?;
        let next = resume_after(output.last_evaluated_key.is_some(), &endpoints, |e| &e.id);
        Ok((endpoints, next))
    }

    /// Replaces an endpoint with its changed form, guarded by the `updated_at` it was read
    /// with (a concurrent change makes this one fail as missing: read again), with its
    /// audit event.
    pub async fn replace_webhook(
        &self,
        endpoint: &Endpoint,
        read_at: i64,
        event: &AuditEvent,
    ) -> Result<EndpointWrite, StoreError> {
        let mut transaction = Transaction::new();
        let guard = transaction.guarded(self.put_if_values(
            endpoint_item(endpoint),
            "attribute_exists(PK) AND updated_at = :read_at",
            Item::from([(":read_at".into(), n(read_at))]),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(EndpointWrite::Done),
            Err(error) if guard.failed(&error) => Ok(EndpointWrite::Missing),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes an endpoint, gives its slot back and records the event.
    pub async fn delete_webhook(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        event: &AuditEvent,
    ) -> Result<EndpointWrite, StoreError> {
        let mut transaction = Transaction::new();
        let guard = transaction.guarded(self.delete_if(
            endpoint_key(tenant_id, endpoint_id),
            Some("attribute_exists(PK)"),
            Default::default(),
            Item::new(),
        ));
        transaction.add(self.update_if(
            tenant_key(tenant_id),
            "ADD webhook_count :minus_one",
            "attribute_exists(PK)",
            Item::from([(":minus_one".into(), n(-1))]),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(EndpointWrite::Done),
            Err(error) if guard.failed(&error) => Ok(EndpointWrite::Missing),
            Err(error) => Err(error.into()),
        }
    }

    /// Notes that a delivery to the endpoint failed at `now`: the first failure since its
    /// last success starts its failing time. Returns since when it has been failing (`None`:
    /// the endpoint is gone).
    pub async fn note_delivery_failed(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(endpoint_key(tenant_id, endpoint_id)))
            .update_expression("SET failing_since = if_not_exists(failing_since, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .attributes
                .as_ref()
                .and_then(|item| Reader(item).opt_number("failing_since"))),
            Err(error) => condition_held(Err::<(), _>(error)).map(|_| None),
        }
    }

    /// Notes that a delivery to the endpoint succeeded: it is no longer failing.
    pub async fn note_delivery_succeeded(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(endpoint_key(tenant_id, endpoint_id)))
            .update_expression("REMOVE failing_since")
            .condition_expression("attribute_exists(failing_since)")
            .send()
            .await;
        condition_held(result).map(|_| ())
    }

    /// Disables an endpoint that is still enabled and failing since `failing_since`, with
    /// the reason and its event; `false` when it changed meanwhile.
    pub async fn disable_failing_webhook(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        failing_since: i64,
        reason: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut transaction = Transaction::new();
        let guard = transaction.guarded(self.update_if(
            endpoint_key(tenant_id, endpoint_id),
            "SET enabled = :off, disabled_reason = :reason",
            "enabled = :on AND failing_since = :since",
            Item::from([
                (":off".into(), b(false)),
                (":on".into(), b(true)),
                (":reason".into(), s(reason)),
                (":since".into(), n(failing_since)),
            ]),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if guard.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
