//! JSON shapes shared by keygate's own API (`routes::views`) and the dialects: below both, so
//! neither reaches into the other for them.

use serde_json::{Value, json};

use crate::domain::activity::PromptLog;
use crate::domain::clock::to_rfc3339;

/// A moment as RFC 3339 text, or null.
pub fn time(epoch: Option<i64>) -> Value {
    epoch.map_or(Value::Null, |at| Value::String(to_rfc3339(at)))
}

/// Ask Sage's log entry shape.
pub fn prompt_log(log: &PromptLog) -> Value {
    json!({
        "date_time": to_rfc3339(log.at),
        "prompt": log.prompt,
        "completion": log.completion,
        "IP": log.ip,
    })
}
