//! The table's change stream, read as the outbox: DynamoDB Streams records (as Lambda hands
//! them to the notifier, and as `GetRecords` returns them to the local server) turned into
//! the audit events they carry. Only the store knows how an image encodes an item.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::StoreError;
use super::audit::{ITEM_TYPE, event_from};
use super::item::Item;
use crate::domain::audit::AuditEvent;

/// One stream record: its sequence number (what a partial batch failure names) and the audit
/// event it inserted, if it inserted one; an image that does not decode is an error, so the
/// batch is retried from that record rather than silently skipped.
#[derive(Debug)]
pub struct OutboxRecord {
    pub sequence_number: String,
    pub event: Result<Option<AuditEvent>, StoreError>,
}

/// The records of a stream batch (`{"Records": [...]}`), in stream order; a record that is
/// not a new audit item carries no event.
pub fn outbox_records(batch: &Value) -> Vec<OutboxRecord> {
    let records = batch.get("Records").and_then(Value::as_array);
    records
        .into_iter()
        .flatten()
        .filter_map(|record| {
            let change = &record["dynamodb"];
            Some(OutboxRecord {
                sequence_number: change["SequenceNumber"].as_str()?.to_owned(),
                event: inserted_event(record["eventName"].as_str(), change.get("NewImage")),
            })
        })
        .collect()
}

fn inserted_event(
    name: Option<&str>,
    image: Option<&Value>,
) -> Result<Option<AuditEvent>, StoreError> {
    let (Some("INSERT"), Some(image)) = (name, image) else {
        return Ok(None);
    };
    let item = item_of(image)?;
    match item.get("type") {
        Some(AttributeValue::S(kind)) if kind == ITEM_TYPE => event_from(&item).map(Some),
        _ => Ok(None),
    }
}

/// An image in DynamoDB's JSON (`{"name": {"S": "..."}, ...}`) as an item.
fn item_of(image: &Value) -> Result<Item, StoreError> {
    let fields = image
        .as_object()
        .ok_or_else(|| StoreError::Corrupt("a stream image is not an object".into()))?;
    fields
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute_of(value)?)))
        .collect()
}

fn attribute_of(value: &Value) -> Result<AttributeValue, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("a stream attribute does not decode: {value}"));
    let (kind, inner) = value
        .as_object()
        .filter(|typed| typed.len() == 1)
        .and_then(|typed| typed.iter().next())
        .ok_or_else(corrupt)?;
    let text = || inner.as_str().map(str::to_owned).ok_or_else(corrupt);
    let texts = || -> Result<Vec<String>, StoreError> {
        inner
            .as_array()
            .ok_or_else(corrupt)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(corrupt))
            .collect()
    };
    let blob = |raw: &str| STANDARD.decode(raw).map(Blob::new).map_err(|_| corrupt());
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => AttributeValue::N(text()?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(corrupt)?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(&text()?)?),
        "SS" => AttributeValue::Ss(texts()?),
        "NS" => AttributeValue::Ns(texts()?),
        "BS" => AttributeValue::Bs(texts()?.iter().map(|t| blob(t)).collect::<Result<_, _>>()?),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(corrupt)?
                .iter()
                .map(attribute_of)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(item_of(inner)?),
        _ => return Err(corrupt()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_inserted_audit_item_becomes_its_event_and_anything_else_none() {
        let audit = json!({
            "PK": {"S": "AUDIT#t#u"}, "SK": {"S": "EVENT#e"}, "type": {"S": "AuditEvent"},
            "event_id": {"S": "01KAAAAAAAAAAAAAAAAAAAAAAE"}, "at": {"N": "1795615200"},
            "event_type": {"S": "key.revoked"}, "tenant_id": {"S": "t"},
            "subject_user_id": {"S": "u"}, "actor_kind": {"S": "api_key"},
            "target_kind": {"S": "api_key"}, "target_id": {"S": "k"},
            "change": {"S": "{\"name\":{\"old\":\"a\",\"new\":\"b\"}}"},
            "purge_at": {"N": "1"}, "tags": {"L": [{"S": "x"}, {"M": {"k": {"BOOL": true}}}]}
        });
        let batch = json!({"Records": [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1", "NewImage": audit}},
            {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "2", "NewImage": audit}},
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "3",
                "NewImage": {"PK": {"S": "KEY#x"}, "type": {"S": "ApiKey"}}}},
        ]});
        let records = outbox_records(&batch);
        let event = records[0].event.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(event.event_type.as_str(), "key.revoked");
        assert_eq!(event.change["name"]["new"], "b");
        assert!(matches!(records[1].event, Ok(None)) && matches!(records[2].event, Ok(None)));
        assert_eq!(records[2].sequence_number, "3");
        let broken = json!({"Records": [{"eventName": "INSERT",
            "dynamodb": {"SequenceNumber": "4", "NewImage": {"type": {"Q": "?"}}}}]});
        assert!(outbox_records(&broken)[0].event.is_err());
    }
}
