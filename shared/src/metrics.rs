//! CloudWatch metrics through the Embedded Metric Format: a metric is one JSON log line that
//! CloudWatch turns into a data point, with no API call and no extra latency. Records are
//! tracing events on their own target; [`crate::logs`] writes them as bare lines in JSON
//! mode (what Lambda's `LoggingConfig` sets) and as text otherwise. The authorizer folds its
//! request's counts into its own line ([`folded`], [`write`]): one line per request.
//!
//! Namespace `keygate`:
//! - `Verifications` (Count), dimension `Outcome`: `valid`, or why the credential was refused:
//!   `not_found` (malformed, unknown or a wrong secret), `revoked`, `paused`, `expired` (the
//!   credential or the key behind a token), `store_failure`;
//! - `StoreFailures` (Count), dimension `Operation` (`GetItem`, `TransactWriteItems` ...).

use serde_json::{Map, Value, json};

/// The tracing target of metric records.
pub const METRICS_TARGET: &str = "keygate::metrics";
/// The field of a metric record holding its EMF JSON.
pub const METRICS_FIELD: &str = "emf";
pub const NAMESPACE: &str = "keygate";

/// How one credential verification ended.
pub fn verification(outcome: &str) {
    count("Verifications", "Outcome", outcome);
}

/// A DynamoDB call that failed (the request answered 503, or was retried).
pub fn store_failure(operation: &str) {
    count("StoreFailures", "Operation", operation);
}

/// The DynamoDB operation an SDK error type belongs to: `…::get_item::GetItemError` → `GetItem`.
pub fn operation_of<E>() -> &'static str {
    let name = std::any::type_name::<E>();
    let last = name.rsplit("::").next().unwrap_or(name);
    last.strip_suffix("Error").unwrap_or(last)
}

/// One counted event: `metric` = 1 under `dimension` = `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    metric: &'static str,
    dimension: &'static str,
    value: String,
}

tokio::task_local! {
    /// While set (see [`folded`]), counts are kept here instead of written as lines.
    static FOLDED: std::cell::RefCell<Vec<Count>>;
}

fn count(metric: &'static str, dimension: &'static str, value: &str) {
    let count = Count {
        metric,
        dimension,
        value: value.to_owned(),
    };
    let unfolded = FOLDED
        .try_with(|folded| {
            let mut folded = folded.borrow_mut();
            // One record holds each metric once; a second of the same name gets its own line.
            if folded.iter().any(|c| c.metric == count.metric) {
                Some(count.clone())
            } else {
                folded.push(count.clone());
                None
            }
        })
        .unwrap_or(Some(count));
    if let Some(count) = unfolded {
        write(&[count], Map::new());
    }
}

/// Runs `work` keeping the counts it makes, to be written with the caller's own line
/// ([`write`]): the authorizer's one line per request is its metrics' record too.
pub async fn folded<F: std::future::Future>(work: F) -> (F::Output, Vec<Count>) {
    let cell = std::cell::RefCell::new(Vec::new());
    FOLDED
        .scope(cell, async {
            let output = work.await;
            let counts = FOLDED.with(|folded| folded.take());
            (output, counts)
        })
        .await
}

/// Writes one line: an EMF record of `counts` (one directive each) with `properties` beside
/// them (CloudWatch keeps what is not a metric or a dimension as a searchable field).
pub fn write(counts: &[Count], properties: Map<String, Value>) {
    let mut record = properties;
    if !counts.is_empty() {
        let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let directives: Vec<Value> = counts
            .iter()
            .map(|c| {
                json!({
                    "Namespace": NAMESPACE,
                    "Dimensions": [[c.dimension]],
                    // No unit: a count is a plain number (`Unit` defaults to None).
                    "Metrics": [{"Name": c.metric}],
                })
            })
            .collect();
        record.insert(
            "_aws".into(),
            json!({"Timestamp": millis as i64, "CloudWatchMetrics": directives}),
        );
        for c in counts {
            record.insert(c.dimension.into(), Value::String(c.value.clone()));
            record.insert(c.metric.into(), json!(1));
        }
    }
    let line = Value::Object(record);
    tracing::info!(target: METRICS_TARGET, emf = %line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_operations() {
        assert_eq!(
            operation_of::<aws_sdk_dynamodb::operation::get_item::GetItemError>(),
            "GetItem"
        );
        assert_eq!(
            operation_of::<
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
            >(),
            "TransactWriteItems"
        );
    }
}
