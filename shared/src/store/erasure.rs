//! Erasing a deactivated user's personal data, in pages that a re-run resumes: every
//! item of the user's own partition (prompt logs, chats with their messages, logins, the
//! chat counter), their keys' and tokens' items (which hold their email), their grants on
//! other users' datasets, and the email marker and account entry; the user item stays as a
//! tombstone without email, name or password, and audit events keep their ids with email,
//! IP and user agent replaced by [`TOMBSTONE`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::item::{Item, Reader, n, s};
use super::keys::{self, GSI1, PK, SK};
use super::users::user_key;
use super::{Store, StoreError, condition_held, lost_a_race, primary_key};
use crate::domain::audit::AuditEvent;
use crate::domain::dataset::Dataset;
use crate::domain::user::User;

/// What an erased email, IP or user agent reads as.
pub const TOMBSTONE: &str = "erased";
/// Items read (and deleted or rewritten) per page.
const PAGE: i32 = 100;
/// Most items one BatchWriteItem takes.
const BATCH: usize = 25;

/// How many items of each kind one erasure removed or rewrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub prompt_logs: u32,
    pub chats: u32,
    pub messages: u32,
    pub logins: u32,
    pub keys: u32,
    pub tokens: u32,
    pub grants: u32,
    pub audit_events: u32,
}

fn delete_requests(keys: &[Item]) -> Vec<WriteRequest> {
    keys.iter()
        .map(|key| {
            WriteRequest::builder()
                .delete_request(
                    DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .expect("the key is set"),
                )
                .build()
        })
        .collect()
}

/// `PK` and `SK` of an item read with more.
fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| *name == PK || *name == SK)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn sk_of(item: &Item) -> String {
    Reader(item).opt_string(SK).unwrap_or_default()
}

/// `text` with every occurrence of `email` tombstoned.
fn scrubbed(text: &str, email: &str) -> String {
    if email.is_empty() {
        return text.to_owned();
    }
    text.replace(email, TOMBSTONE)
}

impl Store {
    /// Deletes the items at `keys`, 25 per BatchWriteItem, re-sending what DynamoDB left
    /// unprocessed a few times (then 503: a re-run resumes).
    async fn delete_all(&self, keys: &[Item]) -> Result<(), StoreError> {
        for batch in keys.chunks(BATCH) {
            self.batch_write(delete_requests(batch)).await?;
        }
        Ok(())
    }

    /// Deletes every item of a partition, a page (Limit 100) at a time; how many.
    async fn delete_partition(&self, pk: &str) -> Result<u32, StoreError> {
        let mut deleted = 0;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(pk))
                .projection_expression("PK, SK")
                .consistent_read(true)
                .limit(PAGE)
                .send()
                .await?;
            if output.items().is_empty() {
                return Ok(deleted);
            }
            self.delete_all(output.items()).await?;
            deleted += output.items().len() as u32;
        }
    }

    /// Deletes the user's own partition (`USER#<tid>#<uid>`): prompt logs, logins, the
    /// chat counter and each chat, the chat's messages first (so a chat still found after
    /// a failure still leads to them).
    pub async fn erase_user_partition(
        &self,
        tenant_id: &str,
        user_id: &str,
        erased: &mut Erased,
    ) -> Result<(), StoreError> {
        let pk = keys::user(tenant_id, user_id);
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(&pk))
                .projection_expression("PK, SK")
                .consistent_read(true)
                .limit(PAGE)
                .send()
                .await?;
            if output.items().is_empty() {
                return Ok(());
            }
            for item in output.items() {
                let sk = sk_of(item);
                if let Some(chat_id) = sk.strip_prefix(keys::CHAT_SK_PREFIX) {
                    erased.messages += self.delete_partition(&keys::chat_messages(chat_id)).await?;
                    erased.chats += 1;
                } else if sk.starts_with(keys::LOGIN_SK_PREFIX) {
                    erased.logins += 1;
                } else if sk.starts_with(keys::PROMPT_LOG_SK_PREFIX) {
                    erased.prompt_logs += 1;
                }
            }
            self.delete_all(output.items()).await?;
        }
    }

    /// What a deleted tenant keeps in its partition besides its users: each team with its
    /// keys (owned by the team: the team id stands in their user slot), their tokens and its
    /// memberships, then the webhook endpoints. A page (Limit 100) at a time; a re-run
    /// resumes. How many teams and endpoints.
    pub async fn erase_tenant_teams_and_webhooks(
        &self,
        tenant_id: &str,
    ) -> Result<(u32, u32), StoreError> {
        let mut teams = 0;
        loop {
            let page = self
                .tenant_items(tenant_id, keys::TEAM_SK_PREFIX, "PK, SK, team_id")
                .await?;
            if page.is_empty() {
                break;
            }
            for team in &page {
                let team_id = Reader(team).string("team_id")?;
                self.erase_keys_of(tenant_id, &team_id).await?;
                self.erase_tokens_of(tenant_id, &team_id).await?;
                self.delete_partition(&keys::team_members(tenant_id, &team_id))
                    .await?;
                self.delete_all(std::slice::from_ref(team)).await?;
                teams += 1;
            }
        }
        let mut webhooks = 0;
        loop {
            let page = self
                .tenant_items(tenant_id, keys::WEBHOOK_SK_PREFIX, "PK, SK")
                .await?;
            if page.is_empty() {
                return Ok((teams, webhooks));
            }
            self.delete_all(&page).await?;
            webhooks += page.len() as u32;
        }
    }

    /// The first page of the tenant's items whose sort key starts with `prefix`.
    async fn tenant_items(
        &self,
        tenant_id: &str,
        prefix: &str,
        projection: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::tenant(tenant_id)))
            .expression_attribute_values(":prefix", s(prefix))
            .projection_expression(projection)
            .consistent_read(true)
            .limit(PAGE)
            .send()
            .await?;
        Ok(output.items.unwrap_or_default())
    }

    /// Every key of the user (revoked ones too), each with its whole partition: the key
    /// item (which holds their email), its meter and usage hours.
    pub async fn erase_keys_of(&self, tenant_id: &str, user_id: &str) -> Result<u32, StoreError> {
        self.erase_listed(&keys::user_keys(tenant_id, user_id))
            .await
    }

    /// Every token and session of the user (their items hold the email).
    pub async fn erase_tokens_of(&self, tenant_id: &str, user_id: &str) -> Result<u32, StoreError> {
        self.erase_listed(&keys::user_tokens(tenant_id, user_id))
            .await
    }

    /// Every item keyed under one GSI1 listing: one pass of pages through the index, each
    /// page's items deleted with their whole partition.
    async fn erase_listed(&self, listing: &str) -> Result<u32, StoreError> {
        let mut erased = 0;
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("GSI1PK = :listing")
                .expression_attribute_values(":listing", s(listing))
                .projection_expression("PK, SK")
                .set_exclusive_start_key(start)
                .limit(PAGE)
                .send()
                .await?;
            for item in output.items() {
                if let Some(pk) = Reader(item).opt_string(PK) {
                    self.delete_partition(&pk).await?;
                    erased += 1;
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(erased);
            }
        }
    }

    /// Drops `grantee_id`'s grant on `dataset` (as read: false when it changed since; read
    /// again) with its event: the map entry and the grant item, which hold their email.
    pub async fn drop_grant(
        &self,
        dataset: &Dataset,
        grantee_id: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let pk = keys::dataset(&dataset.tenant_id, dataset.full_name.as_str());
        let names = HashMap::from([
            ("#revision".to_owned(), "revision".to_owned()),
            ("#uid".to_owned(), grantee_id.to_owned()),
        ]);
        let values = Item::from([
            (":seen".to_owned(), n(dataset.revision)),
            (":one".to_owned(), n(1)),
        ]);
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.update_named_if(
                primary_key(pk.clone(), keys::DATASET_SK),
                "REMOVE grants.#uid SET grant_count = grant_count - :one, \
                 #revision = #revision + :one",
                "#revision = :seen AND attribute_exists(grants.#uid)",
                names,
                values,
            ))
            .transact_items(self.delete_at(primary_key(pk, keys::grant_sk(grantee_id))))
            .transact_items(self.audit_put(event))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if lost_a_race(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// A grant item whose dataset no longer lists the grantee: deleted alone.
    pub async fn delete_stray_grant(
        &self,
        tenant_id: &str,
        full_name: &str,
        grantee_id: &str,
    ) -> Result<(), StoreError> {
        let key = primary_key(
            keys::dataset(tenant_id, full_name),
            keys::grant_sk(grantee_id),
        );
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }

    /// Tombstones the user in the tenant's audit trail: one pass of pages (Limit 100)
    /// through GSI1 `AUDIT#<tid>`, filtered to the events the user acted in, is the subject
    /// of, or whose change or detail holds their email. In those the email becomes
    /// [`TOMBSTONE`], and where the user acted, so do the IP and user agent (theirs).
    /// Ids, types, times and targets stay. How many events were rewritten.
    pub async fn tombstone_audit(
        &self,
        tenant_id: &str,
        user_id: &str,
        email: &str,
    ) -> Result<u32, StoreError> {
        let mut rewritten = 0;
        let mut start: Option<Item> = None;
        let mut filter = "actor_user_id = :uid OR subject_user_id = :uid".to_owned();
        if !email.is_empty() {
            filter.push_str(" OR contains(detail, :email) OR contains(#change, :email)");
        }
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("GSI1PK = :trail")
                .filter_expression(&filter)
                .expression_attribute_values(":trail", s(keys::tenant_audit(tenant_id)))
                .expression_attribute_values(":uid", s(user_id))
                .set_exclusive_start_key(start)
                .limit(PAGE);
            if !email.is_empty() {
                query = query
                    .expression_attribute_values(":email", s(email))
                    .expression_attribute_names("#change", "change");
            }
            let output = query.send().await?;
            for item in output.items() {
                self.tombstone_event(item, user_id, email).await?;
                rewritten += 1;
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(rewritten);
            }
        }
    }

    async fn tombstone_event(
        &self,
        item: &Item,
        user_id: &str,
        email: &str,
    ) -> Result<(), StoreError> {
        let r = Reader(item);
        let mut sets = Vec::new();
        let mut values = Item::new();
        if r.opt_string("actor_user_id").as_deref() == Some(user_id) {
            sets.push("ip = :tomb, user_agent = :tomb");
            values.insert(":tomb".into(), s(TOMBSTONE));
        }
        for (attribute, placeholder) in [("detail", ":detail"), ("change", ":change")] {
            if let Some(text) = r.opt_string(attribute) {
                values.insert(placeholder.into(), s(scrubbed(&text, email)));
            }
        }
        if values.contains_key(":detail") {
            sets.push("detail = :detail");
        }
        if values.contains_key(":change") {
            sets.push("#change = :change");
        }
        if sets.is_empty() {
            return Ok(());
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(item)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .set_expression_attribute_values(Some(values));
        if sets.contains(&"#change = :change") {
            update = update.expression_attribute_names("#change", "change");
        }
        update.send().await?;
        Ok(())
    }

    /// The last step: the user item becomes a tombstone (no email, name, password or
    /// sign-in streak; `erased_at` set; ids, role and `deactivated_at` kept, so ids stay
    /// unique and the trail's user id still resolves), the email marker and account entry
    /// go, and the event is written, all or nothing. False when the user is not
    /// deactivated (or gone).
    pub async fn tombstone_user(
        &self,
        user: &User,
        at: i64,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.update_named_if(
                user_key(&user.tenant_id, &user.id),
                "SET erased_at = if_not_exists(erased_at, :at) REMOVE email, #name, \
                 password_hash, sign_in_failures, sign_in_failure_at",
                "attribute_exists(deactivated_at)",
                HashMap::from([("#name".to_owned(), "name".to_owned())]),
                Item::from([(":at".to_owned(), n(at))]),
            ))
            .transact_items(self.delete_at(primary_key(
                keys::tenant(&user.tenant_id),
                keys::email_sk(&user.email),
            )))
            .transact_items(self.delete_at(primary_key(
                keys::email_accounts(&user.email),
                keys::tenant(&user.tenant_id),
            )))
            .transact_items(self.audit_put(event))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if super::any_condition_failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_email_is_scrubbed() {
        let detail = r#"{"email":"ada@example.com","role":"member"}"#;
        assert_eq!(
            scrubbed(detail, "ada@example.com"),
            r#"{"email":"erased","role":"member"}"#
        );
        assert_eq!(scrubbed(detail, ""), detail);
    }
}
