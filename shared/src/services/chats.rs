//! Chat sessions and their messages. Every chat belongs to the user of the credential that
//! created it; any credential of that user with the `chat` scope (asker keys and temp
//! tokens included) may use it, and to everyone else it does not exist.

use serde_json::{Map, Value};

use super::{ClientInfo, Error, Services};
use crate::domain::activity::PromptLog;
use crate::domain::chat::{
    self, Chat, ChatStatus, Message, MessageBatch, MessageRole, MessageText, Page, PageRequest,
};
use crate::domain::clock::now_epoch;
use crate::domain::credential::new_ulid;
use crate::domain::principal::Principal;
use crate::domain::scope::Scope;
use crate::domain::token::flat_object;
use crate::domain::validation::Name;
use crate::store::chats::{Append, MarkDeleted};

/// A page of messages carries at most this much text: a response must stay well under
/// Lambda's 6 MB payload limit even after JSON escaping.
pub const MAX_PAGE_TEXT_BYTES: usize = 2 * 1024 * 1024;

/// Appends race only with other appends to the same chat; a few attempts settle them.
const APPEND_ATTEMPTS: usize = 5;

/// Client input for a new chat, before validation. Absent fields of the chat role and the
/// user profile come from the caller's temp token, when it carries them.
#[derive(Debug, Default)]
pub struct NewChatInput {
    pub name: Option<String>,
    pub bot_id: Option<String>,
    pub role_id: Option<String>,
    pub role_variables: Option<Map<String, Value>>,
    pub user_profile: Option<Map<String, Value>>,
}

/// Client input for one message, before validation.
#[derive(Debug)]
pub struct MessageInput {
    /// `human` or `ai`; a human message when absent.
    pub role: Option<String>,
    pub text: Option<String>,
    /// Where the text came from, to name it in errors (`content.text`, `question`).
    pub text_field: &'static str,
}

/// Where recorded messages go: a new chat, or after the messages of an existing one.
#[derive(Debug)]
pub enum RecordInto {
    New(NewChatInput),
    Existing(String),
}

/// A chat as it stands after messages were recorded into it, and those messages.
#[derive(Debug)]
pub struct RecordedChat {
    pub chat: Chat,
    pub messages: Vec<Message>,
}

/// A chat with its messages from the first; `complete` is false when the text bound
/// stopped the reading early.
#[derive(Debug)]
pub struct Transcript {
    pub chat: Chat,
    pub messages: Vec<Message>,
    pub complete: bool,
}

/// A chat with one page of its messages.
#[derive(Debug)]
pub struct ChatMessages {
    pub chat: Chat,
    pub messages: Page<Message>,
}

impl Services {
    pub async fn create_chat(
        &self,
        caller: &Principal,
        input: NewChatInput,
    ) -> Result<Chat, Error> {
        let chat = new_chat(caller, input)?;
        self.store.create_chat(&chat).await?;
        Ok(chat)
    }

    /// Records messages a client already holds (Ask Sage's `append-chat`): into a new chat,
    /// written together with it, or after the messages of one of the caller's chats.
    /// Every human/ai pair among them is logged. `field` names the messages in errors.
    pub async fn record_chat(
        &self,
        caller: &Principal,
        into: RecordInto,
        field: &str,
        messages: Vec<(MessageRole, String)>,
        client: &ClientInfo,
    ) -> Result<RecordedChat, Error> {
        caller.require_scope(Scope::Chat)?;
        let texts = messages
            .into_iter()
            .enumerate()
            .map(|(index, (role, text))| {
                MessageText::parse(&format!("{field}[{index}]"), text).map(|text| (role, text))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let batch = MessageBatch::new(field, texts)?.into_inner();
        match into {
            RecordInto::Existing(chat_id) => {
                let (chat, messages) = self.append(caller, &chat_id, batch, client).await?;
                Ok(RecordedChat { chat, messages })
            }
            RecordInto::New(input) => {
                let mut chat = new_chat(caller, input)?;
                let (messages, logs) = numbered(&chat, None, &batch, chat.created_at, client);
                chat.message_count = messages.len() as u64;
                self.store
                    .create_chat_with_messages(&chat, &messages, &logs)
                    .await?;
                Ok(RecordedChat { chat, messages })
            }
        }
    }

    /// The caller's newest `limit` chats, newest first, in one ranged read (surfaces that
    /// list every chat at once rather than by page).
    pub async fn list_latest_chats(
        &self,
        caller: &Principal,
        limit: u64,
    ) -> Result<Vec<Chat>, Error> {
        caller.require_scope(Scope::Chat)?;
        Ok(self
            .store
            .list_chats(&caller.tenant_id, &caller.user_id, limit)
            .await?)
    }

    /// One of the caller's chats with its messages, oldest first, as far as
    /// [`MAX_PAGE_TEXT_BYTES`] of text goes (surfaces that return a whole session at once).
    pub async fn read_chat(&self, caller: &Principal, chat_id: &str) -> Result<Transcript, Error> {
        let chat = self.get_chat(caller, chat_id).await?;
        // Read in short ranges, so that a long chat is read no further than the bound.
        const RANGE: u64 = 20;
        let mut messages = Vec::new();
        let mut text_bytes = 0;
        let mut first = 1;
        while first <= chat.message_count {
            let last = (first + RANGE - 1).min(chat.message_count);
            for message in self.store.list_messages(&chat.id, first, last).await? {
                text_bytes += message.text.len();
                if text_bytes > MAX_PAGE_TEXT_BYTES {
                    return Ok(Transcript {
                        chat,
                        messages,
                        complete: false,
                    });
                }
                messages.push(message);
            }
            first = last + 1;
        }
        Ok(Transcript {
            chat,
            messages,
            complete: true,
        })
    }

    /// The caller's chats, newest first. Reaching page `p` reads `p * size` chat items.
    pub async fn list_chats(
        &self,
        caller: &Principal,
        request: PageRequest,
    ) -> Result<Page<Chat>, Error> {
        caller.require_scope(Scope::Chat)?;
        let total = self
            .store
            .count_chats(&caller.tenant_id, &caller.user_id)
            .await?;
        let items = match request.positions(total) {
            None => Vec::new(),
            Some(_) => self
                .store
                .list_chats(&caller.tenant_id, &caller.user_id, request.reach())
                .await?
                .into_iter()
                .skip(request.skip() as usize)
                .collect(),
        };
        Ok(Page {
            items,
            request,
            total,
        })
    }

    /// One of the caller's chats; anyone else's, or one being deleted, is "not found".
    pub async fn get_chat(&self, caller: &Principal, chat_id: &str) -> Result<Chat, Error> {
        caller.require_scope(Scope::Chat)?;
        if !chat::is_chat_id(chat_id) {
            return Err(Error::NotFound("chat"));
        }
        self.store
            .get_chat(&caller.tenant_id, &caller.user_id, chat_id)
            .await?
            .ok_or(Error::NotFound("chat"))
    }

    /// Deletes a chat and all its messages. If it fails midway the chat is already gone for
    /// every read; deleting it again finishes the job.
    pub async fn delete_chat(&self, caller: &Principal, chat_id: &str) -> Result<(), Error> {
        caller.require_scope(Scope::Chat)?;
        if !chat::is_chat_id(chat_id) {
            return Err(Error::NotFound("chat"));
        }
        let (tenant_id, user_id) = (&caller.tenant_id, &caller.user_id);
        match self
            .store
            .mark_chat_deleted(tenant_id, user_id, chat_id, now_epoch())
            .await?
        {
            MarkDeleted::Marked | MarkDeleted::AlreadyMarked => {}
            MarkDeleted::Missing => return Err(Error::NotFound("chat")),
        }
        self.store.purge_messages(chat_id).await?;
        self.store
            .remove_marked_chat(tenant_id, user_id, chat_id)
            .await?;
        Ok(())
    }

    /// A chat and one page of its messages, oldest first. Every page is one key-range read.
    pub async fn list_messages(
        &self,
        caller: &Principal,
        chat_id: &str,
        request: PageRequest,
    ) -> Result<ChatMessages, Error> {
        let chat = self.get_chat(caller, chat_id).await?;
        let items = match request.positions(chat.message_count) {
            None => Vec::new(),
            Some((first, last)) => self.store.list_messages(&chat.id, first, last).await?,
        };
        let text_bytes: usize = items.iter().map(|m| m.text.len()).sum();
        if text_bytes > MAX_PAGE_TEXT_BYTES {
            return Err(Error::invalid(
                "size",
                format!(
                    "the messages of this page hold more than {MAX_PAGE_TEXT_BYTES} bytes of text; ask for a smaller size"
                ),
            ));
        }
        let total = chat.message_count;
        Ok(ChatMessages {
            chat,
            messages: Page {
                items,
                request,
                total,
            },
        })
    }

    pub async fn get_message(
        &self,
        caller: &Principal,
        chat_id: &str,
        message_id: &str,
    ) -> Result<Message, Error> {
        let chat = self.get_chat(caller, chat_id).await?;
        let seq = chat::parse_message_id(message_id)
            .filter(|seq| *seq <= chat.message_count)
            .ok_or(Error::NotFound("message"))?;
        self.store
            .get_message(&chat.id, seq)
            .await?
            .ok_or(Error::NotFound("message"))
    }

    /// Appends one message. An `ai` message right after a `human` one answers it, and the
    /// pair is written to the prompt log in the same transaction.
    pub async fn append_message(
        &self,
        caller: &Principal,
        chat_id: &str,
        input: MessageInput,
        client: &ClientInfo,
    ) -> Result<Message, Error> {
        let role = match input.role.as_deref() {
            None => MessageRole::Human,
            Some(raw) => MessageRole::parse("role", raw)?,
        };
        let text = input
            .text
            .ok_or_else(|| Error::invalid(input.text_field, "is required"))?;
        let text = MessageText::parse(input.text_field, text)?;
        let (_, mut appended) = self
            .append(caller, chat_id, vec![(role, text)], client)
            .await?;
        Ok(appended.remove(0))
    }

    /// Appends a prompt and its completion together (surfaces whose one call both asks and
    /// answers); the pair is logged.
    pub async fn append_exchange(
        &self,
        caller: &Principal,
        chat_id: &str,
        prompt: String,
        completion: String,
        client: &ClientInfo,
    ) -> Result<(Message, Message), Error> {
        let prompt = MessageText::parse("prompt", prompt)?;
        let completion = MessageText::parse("completion", completion)?;
        let (_, mut appended) = self
            .append(
                caller,
                chat_id,
                vec![(MessageRole::Human, prompt), (MessageRole::Ai, completion)],
                client,
            )
            .await?;
        let answer = appended.remove(1);
        Ok((appended.remove(0), answer))
    }

    /// Numbers the new messages after the chat's last one and writes them with their
    /// prompt-log entries, retrying when another append took those numbers first.
    async fn append(
        &self,
        caller: &Principal,
        chat_id: &str,
        new: Vec<(MessageRole, MessageText)>,
        client: &ClientInfo,
    ) -> Result<(Chat, Vec<Message>), Error> {
        for _ in 0..APPEND_ATTEMPTS {
            let mut chat = self.get_chat(caller, chat_id).await?;
            let opens_with_answer = new
                .first()
                .is_some_and(|(role, _)| *role == MessageRole::Ai);
            let previous = match chat.message_count {
                count if count > 0 && opens_with_answer => {
                    self.store.get_message(&chat.id, count).await?
                }
                _ => None,
            };
            let now = now_epoch();
            let (messages, logs) = numbered(&chat, previous, &new, now, client);
            match self
                .store
                .append_messages(&chat, &messages, &logs, now)
                .await?
            {
                Append::Appended => {
                    chat.message_count += messages.len() as u64;
                    chat.modified_at = now;
                    return Ok((chat, messages));
                }
                Append::Stale => continue,
            }
        }
        Err(Error::Conflict(
            "other messages kept arriving in this chat; try again".into(),
        ))
    }
}

/// The new messages numbered after the chat's last one (`previous`, when it may be the
/// prompt the first new message answers), and a prompt-log entry for every answer.
fn numbered(
    chat: &Chat,
    mut previous: Option<Message>,
    new: &[(MessageRole, MessageText)],
    now: i64,
    client: &ClientInfo,
) -> (Vec<Message>, Vec<PromptLog>) {
    let mut messages = Vec::with_capacity(new.len());
    let mut logs = Vec::new();
    for (offset, (role, text)) in new.iter().enumerate() {
        let prompt = chat::answers(previous.as_ref(), *role);
        let message = Message {
            chat_id: chat.id.clone(),
            seq: chat.message_count + 1 + offset as u64,
            role: *role,
            text: text.as_str().to_owned(),
            created_at: now,
            reply_to: prompt.map(|p| p.seq),
            ip: client.ip.clone(),
        };
        if let Some(prompt) = prompt {
            logs.push(PromptLog {
                id: new_ulid().to_string(),
                at: prompt.created_at,
                prompt: prompt.text.clone(),
                completion: message.text.clone(),
                ip: prompt.ip.clone(),
                chat_id: Some(chat.id.clone()),
            });
        }
        messages.push(message.clone());
        previous = Some(message);
    }
    (messages, logs)
}

/// A new chat of the caller's, validated, not yet written. Absent fields of the chat role
/// and the user profile come from the caller's temp token, when it carries them.
fn new_chat(caller: &Principal, input: NewChatInput) -> Result<Chat, Error> {
    caller.require_scope(Scope::Chat)?;
    let name = input
        .name
        .map(|raw| Name::parse("name", &raw).map(Name::into_inner))
        .transpose()?;
    let bot_id = chat::reference("bot_id", input.bot_id)?;
    let role_id = chat::reference("role_id", input.role_id)?;
    if let Some(variables) = &input.role_variables {
        flat_object("role_variables", variables)?;
    }
    if let Some(profile) = &input.user_profile {
        flat_object("user_profile", profile)?;
    }
    let token_role = caller.chat_role.as_ref();
    let now = now_epoch();
    let chat = Chat {
        id: new_ulid().to_string(),
        tenant_id: caller.tenant_id.clone(),
        user_id: caller.user_id.clone(),
        name,
        bot_id,
        role_id: role_id.or_else(|| token_role.and_then(|r| r.role_id.clone())),
        role_variables: input
            .role_variables
            .or_else(|| token_role.and_then(|r| r.role_variables.clone())),
        user_profile: input.user_profile.or_else(|| caller.user_profile.clone()),
        status: ChatStatus::Active,
        status_message: None,
        created_at: now,
        modified_at: now,
        message_count: 0,
    };
    Ok(chat)
}
