//! `/v1/chats`: chat sessions and their messages, at the paths AskTable's clients call.
//! Asker credentials may use every route here, on their own user's chats.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::views;
use crate::domain::chat::PageRequest;
use crate::http::{AnyCaller, Client, JsonBody, Problem, QueryParams};
use crate::services::chats::{MessageInput, NewChatInput};
use crate::services::{Error, Services};

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/v1/chats", get(list).post(create))
        // AskTable's clients also post a question to the chat itself.
        .route("/v1/chats/{chat_id}", get(read).delete(delete).post(append))
        .route(
            "/v1/chats/{chat_id}/messages",
            get(list_messages).post(append),
        )
        .route(
            "/v1/chats/{chat_id}/messages/{message_id}",
            get(read_message),
        )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChatCreate)]
pub(super) struct CreateBody {
    name: Option<String>,
    bot_id: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::token::scalar_as_string")]
    role_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    role_variables: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    user_profile: Option<Map<String, Value>>,
}

#[utoipa::path(
    post,
    path = "/v1/chats",
    tag = "chats",
    operation_id = "create_chat",
    summary = "Create a chat",
    request_body = CreateBody,
    responses((status = 201, body = views::ChatView)),
)]
pub(super) async fn create(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<views::ChatView>), Problem> {
    let input = NewChatInput {
        name: body.name,
        bot_id: body.bot_id,
        role_id: body.role_id,
        role_variables: body.role_variables,
        user_profile: body.user_profile,
    };
    let chat = services.create_chat(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(views::chat(&chat))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    size: Option<i64>,
}

impl PageQuery {
    fn parse(&self) -> Result<PageRequest, Error> {
        Ok(PageRequest::parse(self.page, self.size)?)
    }
}

#[utoipa::path(
    get,
    path = "/v1/chats",
    tag = "chats",
    operation_id = "list_chats",
    summary = "List the caller's chats",
    params(PageQuery),
    responses((status = 200, body = views::NumberedPage<views::ChatView>)),
)]
pub(super) async fn list(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<views::NumberedPage<views::ChatView>>, Problem> {
    let page = services.list_chats(&caller, query.parse()?).await?;
    Ok(Json(views::page(&page, views::chat)))
}

#[utoipa::path(
    get,
    path = "/v1/chats/{chat_id}",
    tag = "chats",
    operation_id = "get_chat",
    summary = "Read a chat",
    params(("chat_id" = String, Path)),
    responses((status = 200, body = views::ChatView)),
)]
pub(super) async fn read(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    Path(chat_id): Path<String>,
) -> Result<Json<views::ChatView>, Problem> {
    Ok(Json(views::chat(
        &services.get_chat(&caller, &chat_id).await?,
    )))
}

#[utoipa::path(
    delete,
    path = "/v1/chats/{chat_id}",
    tag = "chats",
    operation_id = "delete_chat",
    summary = "Delete a chat and its messages",
    params(("chat_id" = String, Path)),
    responses((status = 204, description = "Deleted")),
)]
pub(super) async fn delete(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    Path(chat_id): Path<String>,
) -> Result<StatusCode, Problem> {
    services.delete_chat(&caller, &chat_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageBody {
    role: Option<String>,
    content: Option<Content>,
    /// AskTable's shorthand for a human message's text.
    question: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    text: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct MessageQuery {
    question: Option<String>,
}

/// Reads `{role, content: {text}}`, or AskTable's `question` (query or body) as a human
/// message's text.
fn message_input(body: MessageBody, query: MessageQuery) -> Result<MessageInput, Error> {
    let question = body.question.or(query.question);
    match (question, body.content) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "question",
            "give either content or question, not both",
        )),
        (Some(question), None) => {
            if body.role.as_deref().is_some_and(|role| role != "human") {
                return Err(Error::invalid("role", "a question is a human message"));
            }
            Ok(MessageInput {
                role: body.role,
                text: Some(question),
                text_field: "question",
            })
        }
        (None, content) => Ok(MessageInput {
            role: body.role,
            text: content.and_then(|c| c.text),
            text_field: "content.text",
        }),
    }
}

#[utoipa::path(
    post,
    path = "/v1/chats/{chat_id}",
    tag = "chats",
    operation_id = "post_to_chat",
    summary = "Append a message to a chat (AskTable posts its question to the chat itself)",
    params(("chat_id" = String, Path), MessageQuery),
    request_body = super::openapi::MessageRequest,
    responses((status = 201, body = views::MessageView)),
)]
pub(super) async fn append(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    Client(client): Client,
    Path(chat_id): Path<String>,
    QueryParams(query): QueryParams<MessageQuery>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<(StatusCode, Json<views::MessageView>), Problem> {
    let input = message_input(body, query)?;
    let message = services
        .append_message(&caller, &chat_id, input, &client)
        .await?;
    Ok((StatusCode::CREATED, Json(views::message(&message))))
}

#[utoipa::path(
    get,
    path = "/v1/chats/{chat_id}/messages",
    tag = "chats",
    operation_id = "list_messages",
    summary = "A chat's messages, oldest first",
    params(("chat_id" = String, Path), PageQuery),
    responses((status = 200, body = views::NumberedPage<views::MessageView>)),
)]
pub(super) async fn list_messages(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    Path(chat_id): Path<String>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<views::NumberedPage<views::MessageView>>, Problem> {
    let found = services
        .list_messages(&caller, &chat_id, query.parse()?)
        .await?;
    Ok(Json(views::page(&found.messages, views::message)))
}

#[utoipa::path(
    get,
    path = "/v1/chats/{chat_id}/messages/{message_id}",
    tag = "chats",
    operation_id = "get_message",
    summary = "Read one message",
    params(("chat_id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = views::MessageView)),
)]
pub(super) async fn read_message(
    State(services): State<Services>,
    AnyCaller(caller): AnyCaller,
    Path((chat_id, message_id)): Path<(String, String)>,
) -> Result<Json<views::MessageView>, Problem> {
    Ok(Json(views::message(
        &services.get_message(&caller, &chat_id, &message_id).await?,
    )))
}
