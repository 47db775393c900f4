//! The caller's own activity: prompt/completion logs and login history.

use super::{Error, Services};
use crate::domain::activity::{Login, PromptLog};
use crate::domain::principal::Principal;
use crate::domain::scope::Scope;
use crate::domain::validation::bounded_limit;

pub const DEFAULT_PROMPT_LOGS: u32 = 20;
pub const DEFAULT_LOGINS: u32 = 5;
pub const MAX_ACTIVITY_ENTRIES: u32 = 100;

/// A list of prompt logs stops before this much text (it always holds at least one entry):
/// a response must stay well under Lambda's 6 MB payload limit even after JSON escaping.
pub const MAX_PROMPT_LOG_TEXT_BYTES: usize = 2 * 1024 * 1024;

impl Services {
    /// The caller's latest prompt/completion pairs, newest first (`limit` 1..=100, default 20).
    pub async fn list_prompt_logs(
        &self,
        caller: &Principal,
        limit: Option<i64>,
    ) -> Result<Vec<PromptLog>, Error> {
        caller.require_scope(Scope::Read)?;
        caller.require_full_key()?;
        let limit = bounded_limit("limit", limit, DEFAULT_PROMPT_LOGS, 1, MAX_ACTIVITY_ENTRIES)?;
        let logs = self
            .store
            .list_prompt_logs(&caller.tenant_id, &caller.user_id, limit)
            .await?;
        let mut text_bytes = 0;
        Ok(logs
            .into_iter()
            .take_while(|log| {
                let first = text_bytes == 0;
                text_bytes += log.prompt.len() + log.completion.len();
                first || text_bytes <= MAX_PROMPT_LOG_TEXT_BYTES
            })
            .collect())
    }

    /// The caller's latest logins, newest first (`limit` 1..=100, default 5).
    pub async fn list_logins(
        &self,
        caller: &Principal,
        limit: Option<i64>,
    ) -> Result<Vec<Login>, Error> {
        caller.require_scope(Scope::Read)?;
        caller.require_full_key()?;
        let limit = bounded_limit("limit", limit, DEFAULT_LOGINS, 1, MAX_ACTIVITY_ENTRIES)?;
        Ok(self
            .store
            .list_logins(&caller.tenant_id, &caller.user_id, limit)
            .await?)
    }
}
