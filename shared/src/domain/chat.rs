//! Chat sessions and their messages (AskTable's chat model), and page/size paging.

use serde_json::{Map, Value};

use super::Invalid;

/// Message text is at most 100 KiB of UTF-8: far above any prompt or answer a person reads,
/// well under DynamoDB's 400 KB item limit even when a prompt-log entry holds two of them.
pub const MAX_MESSAGE_TEXT_BYTES: usize = 100 * 1024;

/// Ids a chat points at (bot, role): short opaque strings.
pub const MAX_REFERENCE_CHARS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChatStatus {
    #[default]
    Active,
    Pending,
    Error,
    Fatal,
}

impl ChatStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Error => "error",
            Self::Fatal => "fatal",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Active, Self::Pending, Self::Error, Self::Fatal]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// A chat session, owned by one user of one tenant (the tenant is AskTable's project).
#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub bot_id: Option<String>,
    pub role_id: Option<String>,
    pub role_variables: Option<Map<String, Value>>,
    pub user_profile: Option<Map<String, Value>>,
    pub status: ChatStatus,
    pub status_message: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
    /// How many messages the chat holds; message `n` has sequence number `n` (from 1).
    pub message_count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRole {
    Human,
    Ai,
}

impl MessageRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Ai => "ai",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        match raw {
            "human" => Ok(Self::Human),
            "ai" => Ok(Self::Ai),
            _ => Err(Invalid::new(field, "must be \"human\" or \"ai\"")),
        }
    }
}

/// Why a message text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextRefused {
    Invalid(Invalid),
    TooLarge(Invalid),
}

/// A message text: not blank, at most [`MAX_MESSAGE_TEXT_BYTES`] bytes of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(field: &str, raw: String) -> Result<Self, TextRefused> {
        if raw.trim().is_empty() {
            return Err(TextRefused::Invalid(Invalid::new(
                field,
                "must not be empty",
            )));
        }
        if raw.len() > MAX_MESSAGE_TEXT_BYTES {
            return Err(TextRefused::TooLarge(Invalid::new(
                field,
                format!("must be at most {MAX_MESSAGE_TEXT_BYTES} bytes of UTF-8"),
            )));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Messages a client hands over together (a chat history it already holds), written in one
/// transaction with the prompt-log entries they complete and the chat itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBatch(Vec<(MessageRole, MessageText)>);

impl MessageBatch {
    /// With one prompt-log entry per two messages and the chat item, 50 messages stay well
    /// under DynamoDB's 100 items per transaction.
    pub const MAX_MESSAGES: usize = 50;
    /// Each text counts twice when it also lands in a prompt log; 1 MiB keeps a batch well
    /// under the 4 MB a transaction may carry.
    pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

    pub fn new(
        field: &str,
        messages: Vec<(MessageRole, MessageText)>,
    ) -> Result<Self, TextRefused> {
        if messages.is_empty() {
            return Err(TextRefused::Invalid(Invalid::new(
                field,
                "must hold at least one message",
            )));
        }
        if messages.len() > Self::MAX_MESSAGES {
            return Err(TextRefused::TooLarge(Invalid::new(
                field,
                format!("must hold at most {} messages", Self::MAX_MESSAGES),
            )));
        }
        let text_bytes: usize = messages.iter().map(|(_, text)| text.as_str().len()).sum();
        if text_bytes > Self::MAX_TEXT_BYTES {
            return Err(TextRefused::TooLarge(Invalid::new(
                field,
                format!(
                    "must hold at most {} bytes of text together",
                    Self::MAX_TEXT_BYTES
                ),
            )));
        }
        Ok(Self(messages))
    }

    pub fn into_inner(self) -> Vec<(MessageRole, MessageText)> {
        self.0
    }
}

/// One message of a chat. Its id is its sequence number within the chat, so a page of
/// messages is a key range and every read stays as small as the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub chat_id: String,
    pub seq: u64,
    pub role: MessageRole,
    pub text: String,
    pub created_at: i64,
    /// The human message an `ai` message answers, when it directly follows one.
    pub reply_to: Option<u64>,
    /// The address the message came from (prompt logs record it; never shown on messages).
    pub ip: String,
}

impl Message {
    pub fn id(&self) -> String {
        self.seq.to_string()
    }
}

/// Whether `raw` can be a chat id (a ULID); anything else names no chat.
pub fn is_chat_id(raw: &str) -> bool {
    raw.len() == 26 && raw.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Reads a message id as its sequence number; only the canonical form names a message.
pub fn parse_message_id(raw: &str) -> Option<u64> {
    raw.parse::<u64>()
        .ok()
        .filter(|seq| *seq > 0 && seq.to_string() == raw)
}

/// Whether `next` answers `previous`: an `ai` message directly after a `human` one. Such a
/// pair becomes a prompt-log entry.
pub fn answers(previous: Option<&Message>, next_role: MessageRole) -> Option<&Message> {
    previous.filter(|p| p.role == MessageRole::Human && next_role == MessageRole::Ai)
}

/// An optional short reference (bot id, role id): trimmed, 1..=128 chars, no control chars.
pub fn reference(field: &str, raw: Option<String>) -> Result<Option<String>, Invalid> {
    let Some(raw) = raw else { return Ok(None) };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > MAX_REFERENCE_CHARS {
        return Err(Invalid::new(
            field,
            format!("must be at most {MAX_REFERENCE_CHARS} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(Some(trimmed.to_owned()))
}

/// AskTable's page/size paging: pages count from 1; a size of 1..=100, 20 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub size: u64,
}

impl PageRequest {
    pub const DEFAULT_SIZE: u64 = 20;
    pub const MAX_SIZE: u64 = 100;

    pub fn parse(page: Option<i64>, size: Option<i64>) -> Result<Self, Invalid> {
        let page = match page {
            None => 1,
            Some(page) if page >= 1 => page as u64,
            Some(_) => return Err(Invalid::new("page", "must be an integer from 1")),
        };
        let size = match size {
            None => Self::DEFAULT_SIZE,
            Some(size) if (1..=Self::MAX_SIZE as i64).contains(&size) => size as u64,
            Some(_) => {
                return Err(Invalid::new(
                    "size",
                    format!("must be an integer from 1 to {}", Self::MAX_SIZE),
                ));
            }
        };
        Ok(Self { page, size })
    }

    /// How many items come before this page.
    pub fn skip(&self) -> u64 {
        (self.page - 1).saturating_mul(self.size)
    }

    /// How many items must be read, in order, to reach the end of this page.
    pub fn reach(&self) -> u64 {
        self.page.saturating_mul(self.size)
    }

    /// The 1-based positions this page covers among `total` items; `None` past the end.
    pub fn positions(&self, total: u64) -> Option<(u64, u64)> {
        let first = self.skip().checked_add(1)?;
        (first <= total).then(|| (first, self.reach().min(total)))
    }

    pub fn pages(&self, total: u64) -> u64 {
        total.div_ceil(self.size)
    }
}

/// One page of a list, with what AskTable's clients expect around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub request: PageRequest,
    pub total: u64,
}

impl<T> Page<T> {
    pub fn pages(&self) -> u64 {
        self.request.pages(self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, role: MessageRole) -> Message {
        Message {
            chat_id: "c".into(),
            seq,
            role,
            text: "t".into(),
            created_at: 0,
            reply_to: None,
            ip: String::new(),
        }
    }

    #[test]
    fn texts_are_bounded_in_bytes() {
        assert!(MessageText::parse("content.text", "hi".into()).is_ok());
        assert!(matches!(
            MessageText::parse("content.text", "  ".into()),
            Err(TextRefused::Invalid(_))
        ));
        let at_limit = "x".repeat(MAX_MESSAGE_TEXT_BYTES);
        assert!(MessageText::parse("content.text", at_limit).is_ok());
        // Four bytes per character: the limit counts bytes, not characters.
        let wide = "😀".repeat(MAX_MESSAGE_TEXT_BYTES / 4 + 1);
        match MessageText::parse("content.text", wide) {
            Err(TextRefused::TooLarge(invalid)) => assert_eq!(invalid.field, "content.text"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn batches_hold_one_to_fifty_messages_and_bounded_text() {
        let text = |t: &str| MessageText::parse("chats", t.into()).unwrap();
        let one = vec![(MessageRole::Human, text("hi"))];
        assert_eq!(
            MessageBatch::new("chats", one).unwrap().into_inner().len(),
            1
        );
        assert!(matches!(
            MessageBatch::new("chats", Vec::new()),
            Err(TextRefused::Invalid(invalid)) if invalid.field == "chats"
        ));
        let many = vec![(MessageRole::Ai, text("x")); MessageBatch::MAX_MESSAGES + 1];
        assert!(matches!(
            MessageBatch::new("chats", many),
            Err(TextRefused::TooLarge(_))
        ));
        let big = text(&"x".repeat(MAX_MESSAGE_TEXT_BYTES));
        let heavy = vec![(MessageRole::Human, big); 11];
        assert!(matches!(
            MessageBatch::new("chats", heavy),
            Err(TextRefused::TooLarge(_))
        ));
    }

    #[test]
    fn message_ids_are_canonical_sequence_numbers() {
        assert_eq!(parse_message_id("7"), Some(7));
        assert_eq!(parse_message_id("07"), None);
        assert_eq!(parse_message_id("0"), None);
        assert_eq!(parse_message_id("x"), None);
        assert_eq!(parse_message_id("-1"), None);
        assert_eq!(message(12, MessageRole::Ai).id(), "12");
    }

    #[test]
    fn only_an_ai_message_after_a_human_one_answers_it() {
        let human = message(1, MessageRole::Human);
        let ai = message(2, MessageRole::Ai);
        assert_eq!(answers(Some(&human), MessageRole::Ai), Some(&human));
        assert_eq!(answers(Some(&human), MessageRole::Human), None);
        assert_eq!(answers(Some(&ai), MessageRole::Ai), None);
        assert_eq!(answers(None, MessageRole::Ai), None);
    }

    #[test]
    fn references_are_trimmed_and_bounded() {
        assert_eq!(reference("bot_id", None), Ok(None));
        assert_eq!(
            reference("bot_id", Some(" b1 ".into())),
            Ok(Some("b1".into()))
        );
        assert_eq!(
            reference("bot_id", Some("".into())).unwrap_err().field,
            "bot_id"
        );
        assert!(reference("role_id", Some("x".repeat(129))).is_err());
        assert!(reference("role_id", Some("a\nb".into())).is_err());
    }

    #[test]
    fn pages_count_from_one_and_sizes_are_bounded() {
        let default = PageRequest::parse(None, None).unwrap();
        assert_eq!((default.page, default.size), (1, 20));
        assert_eq!(PageRequest::parse(Some(0), None).unwrap_err().field, "page");
        assert_eq!(PageRequest::parse(None, Some(0)).unwrap_err().field, "size");
        assert_eq!(
            PageRequest::parse(None, Some(101)).unwrap_err().field,
            "size"
        );
        let third = PageRequest::parse(Some(3), Some(10)).unwrap();
        assert_eq!((third.skip(), third.reach()), (20, 30));
        assert_eq!(third.positions(25), Some((21, 25)));
        assert_eq!(third.positions(20), None);
        assert_eq!(third.pages(25), 3);
        assert_eq!(third.pages(0), 0);
        let huge = PageRequest::parse(Some(i64::MAX), Some(100)).unwrap();
        assert_eq!(huge.positions(10), None);
    }

    #[test]
    fn statuses_round_trip() {
        for status in ["active", "pending", "error", "fatal"] {
            assert_eq!(ChatStatus::parse(status).unwrap().as_str(), status);
        }
        assert_eq!(ChatStatus::parse("warning"), None);
    }
}
