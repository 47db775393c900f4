//! Login history: one item per sign-in in the user's partition, purged after retention.

use super::item::{Item, Reader, n, s};
use super::keys::{self, PK, PURGE_AT, SK};
use super::{Store, StoreError};

/// Login records are kept 90 days, then DynamoDB TTL removes them.
pub const LOGIN_RETENTION_SECS: i64 = 90 * 24 * 3600;

pub use crate::domain::activity::Login;

/// A login's item, in its user's partition, purged after the retention.
pub(super) fn login_item(tenant_id: &str, user_id: &str, login: &Login) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(keys::user(tenant_id, user_id)));
    item.insert(SK.into(), s(keys::login_sk(&login.id)));
    item.insert("type".into(), s("Login"));
    item.insert("at".into(), n(login.at));
    item.insert("ip".into(), s(&login.ip));
    item.insert("user_agent".into(), s(&login.user_agent));
    item.insert("method".into(), s(&login.method));
    item.insert(PURGE_AT.into(), n(login.at + LOGIN_RETENTION_SECS));
    item
}

impl Store {
    /// The latest logins, newest first.
    pub async fn list_logins(
        &self,
        tenant_id: &str,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<Login>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :login)")
            .expression_attribute_values(":pk", s(keys::user(tenant_id, user_id)))
            .expression_attribute_values(":login", s(keys::LOGIN_SK_PREFIX))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await?;
        output
            .items()
            .iter()
            .map(|item| {
                let r = Reader(item);
                Ok(Login {
                    id: r
                        .string(SK)?
                        .trim_start_matches(keys::LOGIN_SK_PREFIX)
                        .to_owned(),
                    at: r.number("at")?,
                    ip: r.string("ip")?,
                    user_agent: r.opt_string("user_agent").unwrap_or_default(),
                    method: r.string("method")?,
                })
            })
            .collect()
    }
}
