//! Prompt logs: one item per prompt/completion pair in the user's partition, purged after
//! retention. Entries are written in the transaction that appends the answering message
//! (see `chats.rs`); this module reads them.

use super::item::{Item, Reader, n, s};
use super::keys::{self, PK, PURGE_AT, SK};
use super::{Store, StoreError};

/// Prompt logs are kept 90 days, then DynamoDB TTL removes them.
pub const PROMPT_LOG_RETENTION_SECS: i64 = 90 * 24 * 3600;

pub use crate::domain::activity::PromptLog;

/// The item of a new entry, written at `now`.
pub(super) fn prompt_log_item(tenant_id: &str, user_id: &str, log: &PromptLog, now: i64) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(keys::user(tenant_id, user_id)));
    item.insert(SK.into(), s(keys::prompt_log_sk(&log.id)));
    item.insert("type".into(), s("PromptLog"));
    item.insert("at".into(), n(log.at));
    item.insert("prompt".into(), s(&log.prompt));
    item.insert("completion".into(), s(&log.completion));
    item.insert("ip".into(), s(&log.ip));
    if let Some(chat_id) = &log.chat_id {
        item.insert("chat_id".into(), s(chat_id));
    }
    item.insert(PURGE_AT.into(), n(now + PROMPT_LOG_RETENTION_SECS));
    item
}

fn prompt_log_from(item: &Item) -> Result<PromptLog, StoreError> {
    let r = Reader(item);
    Ok(PromptLog {
        id: r
            .string(SK)?
            .trim_start_matches(keys::PROMPT_LOG_SK_PREFIX)
            .to_owned(),
        at: r.number("at")?,
        prompt: r.string("prompt")?,
        completion: r.string("completion")?,
        ip: r.opt_string("ip").unwrap_or_default(),
        chat_id: r.opt_string("chat_id"),
    })
}

impl Store {
    /// The latest entries, newest first. Entries may be large (two message texts), so a
    /// Query can stop at 1 MB before `limit`; it is continued until `limit` or the end.
    pub async fn list_prompt_logs(
        &self,
        tenant_id: &str,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<PromptLog>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :log)")
            .expression_attribute_values(":pk", s(keys::user(tenant_id, user_id)))
            .expression_attribute_values(":log", s(keys::PROMPT_LOG_SK_PREFIX))
            .scan_index_forward(false);
        let items = self.query_pages(query, Some(limit as usize)).await?;
        items.iter().map(prompt_log_from).collect()
    }
}
