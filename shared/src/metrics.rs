//! CloudWatch metrics through the Embedded Metric Format: a metric is one JSON log line that
//! CloudWatch turns into a data point, with no API call and no extra latency. Records are
//! tracing events on their own target; [`crate::logs`] writes them as bare lines in JSON
//! mode (what Lambda's `LoggingConfig` sets) and leaves them out of plain-text logs.
//!
//! Namespace `keygate`:
//! - `Verifications` (Count), dimension `Outcome`: `valid`, or why the credential was refused:
//!   `not_found` (malformed, unknown or a wrong secret), `revoked`, `paused`, `expired` (the
//!   credential or the key behind a token), `store_failure`;
//! - `StoreFailures` (Count), dimension `Operation` (`GetItem`, `TransactWriteItems` ...).

use serde_json::json;

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

fn count(metric: &str, dimension: &str, value: &str) {
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let record = json!({
        "_aws": {
            "Timestamp": millis as i64,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[dimension]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        dimension: value,
        metric: 1,
    });
    tracing::info!(target: METRICS_TARGET, emf = %record);
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
