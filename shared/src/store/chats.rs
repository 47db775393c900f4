//! Chats and their messages.
//!
//! - A chat item lives in its owner's partition (`USER#<tid>#<uid>`, `CHAT#<chat id>`), so
//!   a chat id alone never reaches another user's chat. It counts its messages.
//! - A per-user item (`CHATS`) counts the user's chats; both counters move in the same
//!   transaction as the write they count.
//! - Messages live in the chat's own partition (`CHAT#<chat id>`, `MSG#<seq>`) keyed by a
//!   dense sequence number, so any page of them is one key-range Query.
//! - Deleting a chat cannot be one transaction (its messages are unbounded): the chat is
//!   first marked (from then on it is absent to every read and refuses appends), then its
//!   messages are deleted in batches, then the chat item. Repeating the delete resumes it.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::item::{Item, Reader, n, put_opt, s};
use super::keys;
use super::prompt_logs::prompt_log_item;
use super::{Store, StoreError, condition_held, lost_a_race, primary_key};
use crate::domain::activity::PromptLog;
use crate::domain::chat::{Chat, ChatStatus, Message, MessageRole};

/// The attribute marking a chat whose deletion has begun.
const DELETING_AT: &str = "deleting_at";

pub enum Append {
    Appended,
    /// The chat moved on (another append won), or is gone: read it again.
    Stale,
}

pub enum MarkDeleted {
    Marked,
    /// A previous delete began and did not finish; it may be resumed.
    AlreadyMarked,
    Missing,
}

fn chat_key(tenant_id: &str, user_id: &str, chat_id: &str) -> Item {
    primary_key(keys::user(tenant_id, user_id), keys::chat_sk(chat_id))
}

fn counter_key(tenant_id: &str, user_id: &str) -> Item {
    primary_key(keys::user(tenant_id, user_id), keys::CHAT_COUNTER_SK)
}

fn json_text(value: Option<&serde_json::Map<String, serde_json::Value>>) -> Option<String> {
    value.and_then(|v| serde_json::to_string(v).ok())
}

fn chat_item(chat: &Chat) -> Item {
    let mut item = chat_key(&chat.tenant_id, &chat.user_id, &chat.id);
    item.insert("type".into(), s("Chat"));
    item.insert("chat_id".into(), s(&chat.id));
    item.insert("tenant_id".into(), s(&chat.tenant_id));
    item.insert("user_id".into(), s(&chat.user_id));
    put_opt(&mut item, "name", chat.name.as_deref().map(s));
    put_opt(&mut item, "bot_id", chat.bot_id.as_deref().map(s));
    put_opt(&mut item, "role_id", chat.role_id.as_deref().map(s));
    put_opt(
        &mut item,
        "role_variables",
        json_text(chat.role_variables.as_ref()).map(s),
    );
    put_opt(
        &mut item,
        "user_profile",
        json_text(chat.user_profile.as_ref()).map(s),
    );
    item.insert("status".into(), s(chat.status.as_str()));
    put_opt(
        &mut item,
        "status_message",
        chat.status_message.as_deref().map(s),
    );
    item.insert("created_at".into(), n(chat.created_at));
    item.insert("modified_at".into(), n(chat.modified_at));
    item.insert("message_count".into(), n(chat.message_count as i64));
    item
}

fn chat_from(item: &Item) -> Result<Chat, StoreError> {
    let r = Reader(item);
    Ok(Chat {
        id: r.string("chat_id")?,
        tenant_id: r.string("tenant_id")?,
        user_id: r.string("user_id")?,
        name: r.opt_string("name"),
        bot_id: r.opt_string("bot_id"),
        role_id: r.opt_string("role_id"),
        role_variables: r.json("role_variables"),
        user_profile: r.json("user_profile"),
        status: ChatStatus::parse(&r.string("status")?).unwrap_or_default(),
        status_message: r.opt_string("status_message"),
        created_at: r.number("created_at")?,
        modified_at: r.number("modified_at")?,
        message_count: r.number("message_count")?.max(0) as u64,
    })
}

fn message_item(message: &Message) -> Item {
    let mut item = primary_key(
        keys::chat_messages(&message.chat_id),
        keys::message_sk(message.seq),
    );
    item.insert("type".into(), s("Message"));
    item.insert("chat_id".into(), s(&message.chat_id));
    item.insert("seq".into(), n(message.seq as i64));
    item.insert("role".into(), s(message.role.as_str()));
    item.insert("text".into(), s(&message.text));
    item.insert("created_at".into(), n(message.created_at));
    put_opt(
        &mut item,
        "reply_to",
        message.reply_to.map(|seq| n(seq as i64)),
    );
    item.insert("ip".into(), s(&message.ip));
    item
}

fn message_from(item: &Item) -> Result<Message, StoreError> {
    let r = Reader(item);
    Ok(Message {
        chat_id: r.string("chat_id")?,
        seq: r.number("seq")?.max(0) as u64,
        role: MessageRole::parse("role", &r.string("role")?)
            .map_err(|_| StoreError::Corrupt("message role".into()))?,
        text: r.string("text")?,
        created_at: r.number("created_at")?,
        reply_to: r.opt_number("reply_to").map(|seq| seq.max(0) as u64),
        ip: r.opt_string("ip").unwrap_or_default(),
    })
}

impl Store {
    /// Writes a new chat and counts it for its owner.
    pub async fn create_chat(&self, chat: &Chat) -> Result<(), StoreError> {
        self.create_chat_with_messages(chat, &[], &[]).await
    }

    /// Writes a new chat holding `messages` (numbered from 1, `chat.message_count` of them)
    /// and the prompt-log entries they complete, and counts the chat, all or nothing.
    pub async fn create_chat_with_messages(
        &self,
        chat: &Chat,
        messages: &[Message],
        logs: &[PromptLog],
    ) -> Result<(), StoreError> {
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(self.update(
                counter_key(&chat.tenant_id, &chat.user_id),
                "SET chat_count = if_not_exists(chat_count, :zero) + :one",
                Item::from([(":zero".to_owned(), n(0)), (":one".to_owned(), n(1))]),
            ))
            .transact_items(self.put_if(chat_item(chat), "attribute_not_exists(PK)"));
        for message in messages {
            transaction = transaction
                .transact_items(self.put_if(message_item(message), "attribute_not_exists(PK)"));
        }
        for log in logs {
            transaction = transaction.transact_items(self.put_if(
                prompt_log_item(&chat.tenant_id, &chat.user_id, log, chat.created_at),
                "attribute_not_exists(PK)",
            ));
        }
        transaction.send().await?;
        Ok(())
    }

    /// One of the user's chats (strongly consistent); `None` when absent or being deleted.
    pub async fn get_chat(
        &self,
        tenant_id: &str,
        user_id: &str,
        chat_id: &str,
    ) -> Result<Option<Chat>, StoreError> {
        let item = self
            .get(chat_key(tenant_id, user_id, chat_id), true)
            .await?;
        item.as_ref()
            .filter(|item| !item.contains_key(DELETING_AT))
            .map(chat_from)
            .transpose()
    }

    /// How many chats the user has (chats being deleted no longer count).
    pub async fn count_chats(&self, tenant_id: &str, user_id: &str) -> Result<u64, StoreError> {
        let counter = self.get(counter_key(tenant_id, user_id), true).await?;
        Ok(counter
            .as_ref()
            .and_then(|item| Reader(item).opt_number("chat_count"))
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// The user's first `reach` chats, newest first. Page/size paging has no key to start
    /// from, so reaching page `p` of size `s` reads `p * s` chat items (plus any chat
    /// whose deletion is under way, which the filter drops).
    pub async fn list_chats(
        &self,
        tenant_id: &str,
        user_id: &str,
        reach: u64,
    ) -> Result<Vec<Chat>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :chat)")
            .filter_expression("attribute_not_exists(deleting_at)")
            .expression_attribute_values(":pk", s(keys::user(tenant_id, user_id)))
            .expression_attribute_values(":chat", s(keys::CHAT_SK_PREFIX))
            .scan_index_forward(false);
        let reach = usize::try_from(reach).unwrap_or(usize::MAX);
        let items = self.query_pages(query, Some(reach)).await?;
        items.iter().map(chat_from).collect()
    }

    /// Appends `messages` (numbered from `chat.message_count + 1`) and the prompt-log
    /// entries they complete, all or nothing, provided the chat still holds exactly
    /// `chat.message_count` messages and is not being deleted.
    pub async fn append_messages(
        &self,
        chat: &Chat,
        messages: &[Message],
        logs: &[PromptLog],
        now: i64,
    ) -> Result<Append, StoreError> {
        let values = Item::from([
            (":expected".to_owned(), n(chat.message_count as i64)),
            (
                ":count".to_owned(),
                n((chat.message_count + messages.len() as u64) as i64),
            ),
            (":now".to_owned(), n(now)),
        ]);
        let mut transaction = self.client.transact_write_items().transact_items(
            self.update_if(
                chat_key(&chat.tenant_id, &chat.user_id, &chat.id),
                "SET message_count = :count, modified_at = :now",
                "attribute_exists(PK) AND attribute_not_exists(deleting_at) AND message_count = :expected",
                values,
            ),
        );
        for message in messages {
            transaction = transaction
                .transact_items(self.put_if(message_item(message), "attribute_not_exists(PK)"));
        }
        for log in logs {
            transaction = transaction.transact_items(self.put_if(
                prompt_log_item(&chat.tenant_id, &chat.user_id, log, now),
                "attribute_not_exists(PK)",
            ));
        }
        match transaction.send().await {
            Ok(_) => Ok(Append::Appended),
            Err(error) if lost_a_race(&error) => Ok(Append::Stale),
            Err(error) => Err(error.into()),
        }
    }

    /// Message number `seq` of a chat (strongly consistent).
    pub async fn get_message(
        &self,
        chat_id: &str,
        seq: u64,
    ) -> Result<Option<Message>, StoreError> {
        let key = primary_key(keys::chat_messages(chat_id), keys::message_sk(seq));
        let item = self.get(key, true).await?;
        item.as_ref().map(message_from).transpose()
    }

    /// Messages `first..=last` of a chat, oldest first: one key range, read as far as it
    /// goes (a Query stops at 1 MB, so large messages may take more than one).
    pub async fn list_messages(
        &self,
        chat_id: &str,
        first: u64,
        last: u64,
    ) -> Result<Vec<Message>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :first AND :last")
            .expression_attribute_values(":pk", s(keys::chat_messages(chat_id)))
            .expression_attribute_values(":first", s(keys::message_sk(first)))
            .expression_attribute_values(":last", s(keys::message_sk(last)))
            .consistent_read(true);
        let items = self.query_pages(query, None).await?;
        items.iter().map(message_from).collect()
    }

    /// Begins deleting a chat: from now on it is absent to reads and refuses appends, and
    /// no longer counts among its owner's chats.
    pub async fn mark_chat_deleted(
        &self,
        tenant_id: &str,
        user_id: &str,
        chat_id: &str,
        now: i64,
    ) -> Result<MarkDeleted, StoreError> {
        // A concurrent append may cancel the mark; it then simply runs again.
        for _ in 0..3 {
            let result = self
                .client
                .transact_write_items()
                .transact_items(self.update_if(
                    chat_key(tenant_id, user_id, chat_id),
                    "SET deleting_at = :now",
                    "attribute_exists(PK) AND attribute_not_exists(deleting_at)",
                    Item::from([(":now".to_owned(), n(now))]),
                ))
                .transact_items(self.update(
                    counter_key(tenant_id, user_id),
                    "SET chat_count = if_not_exists(chat_count, :one) - :one",
                    Item::from([(":one".to_owned(), n(1))]),
                ))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(MarkDeleted::Marked),
                Err(error) if lost_a_race(&error) => {}
                Err(error) => return Err(error.into()),
            }
            match self
                .get(chat_key(tenant_id, user_id, chat_id), true)
                .await?
            {
                Some(item) if item.contains_key(DELETING_AT) => {
                    return Ok(MarkDeleted::AlreadyMarked);
                }
                Some(_) => continue,
                None => return Ok(MarkDeleted::Missing),
            }
        }
        Err(StoreError::Unavailable(
            "the chat kept changing while it was being marked for deletion".into(),
        ))
    }

    /// Deletes every message of a marked chat, 100 keys per Query and 25 per batch write.
    pub async fn purge_messages(&self, chat_id: &str) -> Result<(), StoreError> {
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :msg)")
                .expression_attribute_values(":pk", s(keys::chat_messages(chat_id)))
                .expression_attribute_values(":msg", s(keys::MESSAGE_SK_PREFIX))
                .projection_expression("PK, SK")
                .consistent_read(true)
                .limit(100)
                .send()
                .await?;
            if output.items().is_empty() {
                return Ok(());
            }
            for batch in output.items().chunks(25) {
                let requests = batch
                    .iter()
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
                    .collect();
                self.batch_write(requests).await?;
            }
        }
    }

    /// Deletes a marked chat's own item, once its messages are gone.
    pub async fn remove_marked_chat(
        &self,
        tenant_id: &str,
        user_id: &str,
        chat_id: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(chat_key(tenant_id, user_id, chat_id)))
            .condition_expression("attribute_exists(deleting_at)")
            .send()
            .await;
        // A failed condition means a concurrent delete of the same chat removed it already.
        condition_held(result).map(|_| ())
    }
}
