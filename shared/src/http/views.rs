//! JSON shapes shared by keygate's own API (`routes::views`) and the dialects: below both, so
//! neither reaches into the other for them.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::activity::PromptLog;
use crate::domain::clock::to_rfc3339;

/// A moment as RFC 3339 text, or null.
pub fn time(epoch: Option<i64>) -> Value {
    epoch.map_or(Value::Null, |at| Value::String(to_rfc3339(at)))
}

/// Ask Sage's log entry shape, which keygate's own `/v1/logs` answers with too.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PromptLog)]
pub struct PromptLogView {
    #[schema(format = DateTime)]
    pub date_time: String,
    pub prompt: String,
    pub completion: String,
    #[serde(rename = "IP")]
    pub ip: String,
}

pub fn prompt_log(log: &PromptLog) -> PromptLogView {
    PromptLogView {
        date_time: to_rfc3339(log.at),
        prompt: log.prompt.clone(),
        completion: log.completion.clone(),
        ip: log.ip.clone(),
    }
}
