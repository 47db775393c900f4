//! Chat sessions: `get-chats`, `get-chat-session`, `delete-chat-session` and `append-chat`.
//!
//! `append-chat` takes `{"chat_title": "...", "chats": [...]}` where `chats` is a list of
//! messages, or an object holding that list under `chats` (Ask Sage's Python client
//! documents both). A message is `{"user": "me" | "gpt", "message": "..."}`; `role` and
//! `content` are read as `user` and `message`, and `user`/`human` mean `me`,
//! `assistant`/`ai` mean `gpt`. Without `session_id` the messages open a new session; with
//! one they extend it.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{Envelope, renamed};
use super::request::{SageRequest, required};
use super::views;
use crate::domain::chat::{self, MessageRole};
use crate::domain::token::scalar_as_string;
use crate::services::chats::{NewChatInput, RecordInto};
use crate::services::{Error, Services};

/// One answer lists at most this many sessions, newest first; keygate's `/v1/chats` pages
/// through any more.
pub const MAX_CHATS_LISTED: u64 = 1000;

/// Every session of the caller's (up to [`MAX_CHATS_LISTED`]), newest first, without messages.
pub async fn get_chats(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        request.no_parameters()?;
        let chats = services
            .list_latest_chats(&caller, MAX_CHATS_LISTED)
            .await?;
        Ok(chats.iter().map(views::chat_session).collect())
    };
    Envelope::answer(result.await)
}

#[derive(Deserialize)]
struct SessionBody {
    #[serde(default, deserialize_with = "scalar_as_string")]
    session_id: Option<String>,
}

/// The session id a body names: missing or not an id keygate issues is a 400 ("invalid
/// session ID"); a well-formed id of no session of the caller's is a 404.
fn session_id(raw: &Option<String>) -> Result<&str, Error> {
    let id = required("session_id", raw)?;
    if chat::is_chat_id(id) {
        Ok(id)
    } else {
        Err(Error::invalid("session_id", "is not a session id"))
    }
}

/// One session with its messages, oldest first.
pub async fn get_chat_session(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: SessionBody = request.body()?;
        let transcript = services
            .read_chat(&caller, session_id(&body.session_id)?)
            .await?;
        Ok(views::chat_transcript(
            &transcript.chat,
            &transcript.messages,
            transcript.complete,
        ))
    };
    Envelope::answer(result.await)
}

/// Deletes a session and all its messages.
pub async fn delete_chat_session(
    State(services): State<Services>,
    request: SageRequest,
) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: SessionBody = request.body()?;
        services
            .delete_chat(&caller, session_id(&body.session_id)?)
            .await?;
        Ok(json!("Chat session deleted successfully"))
    };
    Envelope::answer(result.await)
}

#[derive(Deserialize)]
struct AppendBody {
    chat_title: Option<String>,
    chats: Option<Value>,
    #[serde(default, deserialize_with = "scalar_as_string")]
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(alias = "role")]
    user: Option<String>,
    #[serde(alias = "content")]
    message: Option<String>,
}

/// Who speaks, in Ask Sage's words or the usual chat-API ones.
fn speaker(field: &str, raw: Option<&str>) -> Result<MessageRole, Error> {
    match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        Some("me" | "user" | "human") => Ok(MessageRole::Human),
        Some("gpt" | "assistant" | "ai") => Ok(MessageRole::Ai),
        _ => Err(Error::invalid(
            field,
            "must be \"me\" (the person) or \"gpt\" (the model)",
        )),
    }
}

/// The messages of `chats`, as (speaker, text) pairs.
fn messages(chats: Option<Value>) -> Result<Vec<(MessageRole, String)>, Error> {
    let list = match chats {
        Some(Value::Array(list)) => list,
        Some(Value::Object(mut wrapper)) => match wrapper.remove("chats") {
            Some(Value::Array(list)) => list,
            _ => return Err(shape_refused()),
        },
        None | Some(Value::Null) => return Err(Error::invalid("chats", "is required")),
        Some(_) => return Err(shape_refused()),
    };
    list.into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let field = format!("chats[{index}]");
            let entry: Entry = serde_json::from_value(entry)
                .map_err(|error| Error::invalid(&field, error.to_string()))?;
            let role = speaker(&format!("{field}.user"), entry.user.as_deref())?;
            let text = entry
                .message
                .ok_or_else(|| Error::invalid(format!("{field}.message"), "is required"))?;
            Ok((role, text))
        })
        .collect()
}

fn shape_refused() -> Error {
    Error::invalid(
        "chats",
        "must be a list of {\"user\": \"me\" | \"gpt\", \"message\": \"...\"} objects",
    )
}

/// Records a chat the client already holds: a new session titled `chat_title`, or more
/// messages in the session `session_id`. Every "me" message answered by "gpt" is logged.
pub async fn append_chat(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: AppendBody = request.body()?;
        let into = match &body.session_id {
            Some(_) => RecordInto::Existing(session_id(&body.session_id)?.to_owned()),
            None => RecordInto::New(NewChatInput {
                name: body.chat_title,
                ..NewChatInput::default()
            }),
        };
        let recorded = services
            .record_chat(
                &caller,
                into,
                "chats",
                messages(body.chats)?,
                &request.client,
            )
            .await
            .map_err(|error| renamed(error, "name", "chat_title"))?;
        Ok(views::chat_session(&recorded.chat))
    };
    Envelope::answer(result.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_as_a_list_or_wrapped_in_chats() {
        let list = json!([{"user": "me", "message": "Hello"}, {"user": "gpt", "message": "Hi"}]);
        let read = messages(Some(list.clone())).unwrap();
        assert_eq!(
            read,
            vec![
                (MessageRole::Human, "Hello".to_owned()),
                (MessageRole::Ai, "Hi".to_owned())
            ]
        );
        assert_eq!(messages(Some(json!({ "chats": list }))).unwrap(), read);
        let chat_api =
            json!([{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"}]);
        assert_eq!(messages(Some(chat_api)).unwrap(), read);
    }

    #[test]
    fn bad_messages_name_their_place() {
        let field = |chats: Value| match messages(Some(chats)) {
            Err(Error::Invalid(invalid)) => invalid.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!("Hello")), "chats");
        assert_eq!(field(json!({"messages": []})), "chats");
        assert_eq!(
            field(json!([{"user": "me", "message": "a"}, {"user": "bot", "message": "b"}])),
            "chats[1].user"
        );
        assert_eq!(field(json!([{"user": "me"}])), "chats[0].message");
        assert_eq!(field(json!([{"user": "me", "message": 7}])), "chats[0]");
        assert!(matches!(messages(None), Err(Error::Invalid(i)) if i.field == "chats"));
    }
}
