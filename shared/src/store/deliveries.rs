//! Webhook deliveries: `WEBHOOK#<tid>#<endpoint id>` / `DELIVERY#<event id>`, one per event
//! and endpoint, so a stream batch handed over twice makes no second delivery. A pending one
//! is also in GSI2 under `DELIVERIES_DUE`, sorted by when it is due; delivered and failed
//! ones leave that index (sparse). Every change to a delivery is a Put conditioned on the
//! attempt count it was read with: an attempt is taken by one sender at a time.

use super::item::{Item, Reader, n, put_opt, resume_after, s};
use super::keys::{self, GSI2, GSI2PK, GSI2SK, PK, PURGE_AT, SK};
use super::{Store, StoreError, condition_held, primary_key};
use crate::domain::delivery::{Delivery, DeliveryStatus, KEPT_FOR_SECS};

const ITEM_TYPE: &str = "WebhookDelivery";

fn delivery_key(tenant_id: &str, endpoint_id: &str, event_id: &str) -> Item {
    primary_key(
        keys::webhook_deliveries(tenant_id, endpoint_id),
        keys::delivery_sk(event_id),
    )
}

fn delivery_item(delivery: &Delivery) -> Item {
    let mut item = delivery_key(&delivery.tenant_id, &delivery.endpoint_id, &delivery.id);
    item.insert("type".into(), s(ITEM_TYPE));
    item.insert("delivery_id".into(), s(&delivery.id));
    item.insert("tenant_id".into(), s(&delivery.tenant_id));
    item.insert("endpoint_id".into(), s(&delivery.endpoint_id));
    item.insert("event_type".into(), s(&delivery.event_type));
    item.insert("body".into(), s(&delivery.body));
    item.insert("status".into(), s(delivery.status.as_str()));
    item.insert("attempts".into(), n(delivery.attempts.into()));
    put_opt(
        &mut item,
        "last_response_code",
        delivery.last_response_code.map(|code| n(code.into())),
    );
    put_opt(
        &mut item,
        "last_error",
        delivery.last_error.as_deref().map(s),
    );
    item.insert("created_at".into(), n(delivery.created_at));
    put_opt(
        &mut item,
        "last_attempt_at",
        delivery.last_attempt_at.map(n),
    );
    put_opt(
        &mut item,
        "next_attempt_at",
        delivery.next_attempt_at.map(n),
    );
    if let (DeliveryStatus::Pending, Some(due_at)) = (delivery.status, delivery.next_attempt_at) {
        item.insert(GSI2PK.into(), s(keys::DELIVERIES_DUE));
        item.insert(
            GSI2SK.into(),
            s(keys::due_sk(
                due_at,
                &delivery.tenant_id,
                &delivery.endpoint_id,
                &delivery.id,
            )),
        );
    }
    item.insert(PURGE_AT.into(), n(delivery.created_at + KEPT_FOR_SECS));
    item
}

fn delivery_from(item: &Item) -> Result<Delivery, StoreError> {
    let r = Reader(item);
    let status = DeliveryStatus::parse(&r.string("status")?)
        .ok_or_else(|| StoreError::Corrupt("delivery status".into()))?;
    let count = |name: &str| -> Result<u32, StoreError> {
        u32::try_from(r.number(name)?).map_err(|_| StoreError::Corrupt(format!("delivery {name}")))
    };
    Ok(Delivery {
        id: r.string("delivery_id")?,
        tenant_id: r.string("tenant_id")?,
        endpoint_id: r.string("endpoint_id")?,
        event_type: r.string("event_type")?,
        body: r.string("body")?,
        status,
        attempts: count("attempts")?,
        last_response_code: r
            .opt_number("last_response_code")
            .and_then(|code| u16::try_from(code).ok()),
        last_error: r.opt_string("last_error"),
        created_at: r.number("created_at")?,
        last_attempt_at: r.opt_number("last_attempt_at"),
        next_attempt_at: r.opt_number("next_attempt_at"),
    })
}

impl Store {
    /// Puts a new delivery; `false` when this event already has one at this endpoint (the
    /// stream handed the record over again).
    pub async fn start_delivery(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(delivery)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        condition_held(result)
    }

    /// Replaces a delivery with `delivery`, if it still has the attempt count `seen`; `false`
    /// when another sender changed it first.
    pub async fn replace_delivery(
        &self,
        delivery: &Delivery,
        seen: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(delivery)))
            .condition_expression("attempts = :seen")
            .expression_attribute_values(":seen", n(seen.into()))
            .send()
            .await;
        condition_held(result)
    }

    pub async fn get_delivery(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        event_id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get(delivery_key(tenant_id, endpoint_id, event_id), true)
            .await?
            .map(|item| delivery_from(&item))
            .transpose()
    }

    /// A page of an endpoint's deliveries, newest first, after `after` (a delivery id).
    pub async fn list_deliveries(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Delivery>, Option<String>), StoreError> {
        let partition = keys::webhook_deliveries(tenant_id, endpoint_id);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :delivery)")
            .expression_attribute_values(":pk", s(&partition))
            .expression_attribute_values(":delivery", s(keys::DELIVERY_SK_PREFIX))
            .scan_index_forward(false)
            .limit(limit as i32);
        if let Some(after) = after {
            query = query
                .exclusive_start_key(PK, s(&partition))
                .exclusive_start_key(SK, s(keys::delivery_sk(after)));
        }
        let output = query.send().await?;
        let deliveries = output
            .items()
            .iter()
            .map(delivery_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = resume_after(output.last_evaluated_key.is_some(), &deliveries, |d| &d.id);
        Ok((deliveries, next))
    }

    /// Up to `limit` pending deliveries due at `now`, soonest first. The index is eventually
    /// consistent: a sender takes each with [`Store::replace_delivery`], which settles races.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI2)
            .key_condition_expression("GSI2PK = :due AND GSI2SK < :after")
            .expression_attribute_values(":due", s(keys::DELIVERIES_DUE))
            // Every due key at `now` sorts before the next second's.
            .expression_attribute_values(":after", s(format!("{:012}", now + 1)))
            .limit(limit as i32)
            .send()
            .await?;
        output.items().iter().map(delivery_from).collect()
    }
}
