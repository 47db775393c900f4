//! Audit events. Every store write that changes a credential appends [`Store::audit_put`]
//! to its own transaction, so the table never holds a change without its event or an
//! event without its change.
//!
//! Keys: `PK = AUDIT#<tid>#<subject uid>`, `SK = EVENT#<ulid>` (a user's own trail);
//! `GSI1PK = AUDIT#<tid>`, `GSI1SK = <ulid>` (the tenant's trail). Both sort keys are the
//! event's ULID, so newest first is a descending Query and a time window is a key range.
//! Actor, target and type filters are FilterExpressions inside that one Query.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde_json::{Map, Value};

use super::item::{Item, Reader, n, put_opt, s};
use super::keys::{self, GSI1, GSI1PK, GSI1SK, PK, PURGE_AT, SK};
use super::{Store, StoreError};
use crate::domain::audit::{Actor, AuditEvent, EventType, Origin, Target};

pub(super) const ITEM_TYPE: &str = "AuditEvent";

fn audit_item(event: &AuditEvent) -> Item {
    let mut item = Item::new();
    item.insert(
        PK.into(),
        s(keys::user_audit(&event.tenant_id, &event.subject_user_id)),
    );
    item.insert(SK.into(), s(keys::audit_event_sk(&event.id)));
    item.insert(GSI1PK.into(), s(keys::tenant_audit(&event.tenant_id)));
    item.insert(GSI1SK.into(), s(&event.id));
    item.insert("type".into(), s(ITEM_TYPE));
    item.insert("event_id".into(), s(&event.id));
    item.insert("at".into(), n(event.at));
    item.insert("event_type".into(), s(event.event_type.as_str()));
    item.insert("tenant_id".into(), s(&event.tenant_id));
    item.insert("subject_user_id".into(), s(&event.subject_user_id));
    put_opt(
        &mut item,
        "actor_user_id",
        event.actor.user_id.as_deref().map(s),
    );
    put_opt(
        &mut item,
        "actor_credential_id",
        event.actor.credential_id.as_deref().map(s),
    );
    item.insert("actor_kind".into(), s(&event.actor.kind));
    item.insert("target_kind".into(), s(event.target.kind));
    item.insert("target_id".into(), s(&event.target.id));
    item.insert("ip".into(), s(&event.origin.ip));
    item.insert("user_agent".into(), s(&event.origin.user_agent));
    if !event.change.is_empty() {
        item.insert(
            "change".into(),
            s(Value::Object(event.change.clone()).to_string()),
        );
    }
    if !event.detail.is_empty() {
        item.insert(
            "detail".into(),
            s(Value::Object(event.detail.clone()).to_string()),
        );
    }
    item.insert(PURGE_AT.into(), n(event.purge_at));
    item
}

fn target_kind(raw: &str) -> &'static str {
    Target::KINDS
        .into_iter()
        .find(|k| *k == raw)
        .unwrap_or("unknown")
}

pub(super) fn event_from(item: &Item) -> Result<AuditEvent, StoreError> {
    let r = Reader(item);
    let event_type = EventType::parse(&r.string("event_type")?)
        .ok_or_else(|| StoreError::Corrupt("audit event_type".into()))?;
    Ok(AuditEvent {
        id: r.string("event_id")?,
        at: r.number("at")?,
        event_type,
        tenant_id: r.string("tenant_id")?,
        subject_user_id: r.string("subject_user_id")?,
        actor: Actor {
            user_id: r.opt_string("actor_user_id"),
            credential_id: r.opt_string("actor_credential_id"),
            kind: r.string("actor_kind")?,
        },
        target: Target {
            kind: target_kind(&r.string("target_kind")?),
            id: r.string("target_id")?,
        },
        origin: Origin {
            ip: r.opt_string("ip").unwrap_or_default(),
            user_agent: r.opt_string("user_agent").unwrap_or_default(),
        },
        change: r.json::<Map<String, Value>>("change").unwrap_or_default(),
        detail: r.json::<Map<String, Value>>("detail").unwrap_or_default(),
        purge_at: r.number(PURGE_AT)?,
    })
}

/// Which trail to read and how to narrow it.
pub struct AuditQuery<'a> {
    pub tenant_id: &'a str,
    /// `Some`: that user's own trail; `None`: the whole tenant's.
    pub subject_user_id: Option<&'a str>,
    /// Lowest and highest event ids (ULIDs bounding the time window), inclusive.
    pub from_id: &'a str,
    pub to_id: &'a str,
    pub actor: Option<&'a str>,
    pub target: Option<&'a str>,
    pub event_type: Option<EventType>,
    pub limit: u32,
    /// Where the previous page ended: (subject user id, event id).
    pub after: Option<(String, String)>,
}

impl Store {
    /// The transaction item that records `event`; append it to the change's transaction.
    pub(crate) fn audit_put(&self, event: &AuditEvent) -> TransactWriteItem {
        self.put_if(audit_item(event), "attribute_not_exists(PK)")
    }

    /// Records an event that accompanies no other write (a refused sign-in).
    pub async fn put_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(event)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await?;
        Ok(())
    }

    /// The same PutItem as [`Store::put_audit_event`], conditioned so that it never writes:
    /// a refused sign-in for an unknown email costs what a known account's does.
    pub async fn spend_audit_write(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(event)))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        super::condition_held(result).map(|_| ())
    }

    /// One page of a trail, newest first: one Query. Filters apply after the Limit, so a
    /// filtered page may hold fewer than `limit` events and still have a next page.
    pub async fn list_audit_events(
        &self,
        query: &AuditQuery<'_>,
    ) -> Result<(Vec<AuditEvent>, Option<(String, String)>), StoreError> {
        let mut request = self.client.query().table_name(&self.table);
        let (pk_name, sk_name, pk, lo, hi) = match query.subject_user_id {
            Some(user_id) => (
                PK,
                SK,
                keys::user_audit(query.tenant_id, user_id),
                keys::audit_event_sk(query.from_id),
                keys::audit_event_sk(query.to_id),
            ),
            None => {
                request = request.index_name(GSI1);
                (
                    GSI1PK,
                    GSI1SK,
                    keys::tenant_audit(query.tenant_id),
                    query.from_id.to_owned(),
                    query.to_id.to_owned(),
                )
            }
        };
        request = request
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_names("#sk", sk_name)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(false)
            .limit(query.limit as i32);
        let mut filters = Vec::new();
        if let Some(actor) = query.actor {
            filters.push("(actor_user_id = :actor OR actor_credential_id = :actor)");
            request = request.expression_attribute_values(":actor", s(actor));
        }
        if let Some(target) = query.target {
            filters.push("target_id = :target");
            request = request.expression_attribute_values(":target", s(target));
        }
        if let Some(event_type) = query.event_type {
            filters.push("event_type = :type");
            request = request.expression_attribute_values(":type", s(event_type.as_str()));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        if let Some((user_id, event_id)) = &query.after {
            let mut start = Item::from([
                (PK.to_owned(), s(keys::user_audit(query.tenant_id, user_id))),
                (SK.to_owned(), s(keys::audit_event_sk(event_id))),
            ]);
            if query.subject_user_id.is_none() {
                start.insert(GSI1PK.into(), s(keys::tenant_audit(query.tenant_id)));
                start.insert(GSI1SK.into(), s(event_id));
            }
            request = request.set_exclusive_start_key(Some(start));
        }
        let output = request.send().await?;
        let events = output
            .items()
            .iter()
            .map(event_from)
            .collect::<Result<Vec<_>, _>>()?;
        // The next page starts after the last item read, which a filter may have dropped.
        let next = output.last_evaluated_key.as_ref().and_then(|last| {
            let r = Reader(last);
            let subject = r
                .opt_string(PK)?
                .rsplit_once('#')
                .map(|(_, uid)| uid.to_owned())?;
            let event_id = r
                .opt_string(SK)?
                .strip_prefix(keys::AUDIT_EVENT_SK_PREFIX)?
                .to_owned();
            Some((subject, event_id))
        });
        Ok((events, next))
    }
}
