//! Ask Sage's User API (`/user/*`), answered as its clients expect: every endpoint is a
//! `POST` with a JSON body (none at all reads as `{}`) except `DELETE /user/user-api-key`;
//! the caller presents a 24-hour access token or an API key in `x-access-tokens` (all but
//! `get-token-with-api-key`); and every answer, success or error, is the envelope
//! `{"response": <payload>, "status": <int>}` with the HTTP status equal to `status`.

mod account;
mod chats;
mod datasets;
mod envelope;
mod request;
mod views;

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, any, post};

pub use envelope::Envelope;

use crate::http::bare_errors::{Render, reshape};
use crate::services::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/user/get-token-with-api-key",
            only_post(account::get_token_with_api_key),
        )
        .route("/user/get-user-logs", only_post(account::get_user_logs))
        .route("/user/get-user-logins", only_post(account::get_user_logins))
        .route(
            "/user/get-user-api-keys",
            only_post(account::get_user_api_keys),
        )
        .route(
            "/user/user-api-key",
            post(account::create_api_key)
                .delete(account::delete_api_key)
                .fallback(wrong_method),
        )
        .route("/user/add-dataset", only_post(datasets::add_dataset))
        .route("/user/delete-dataset", only_post(datasets::delete_dataset))
        // Ask Sage's older name for the same endpoint, still used by clients.
        .route("/user/delete-datasets", only_post(datasets::delete_dataset))
        .route("/user/assign-dataset", only_post(datasets::assign_dataset))
        .route(
            "/user/deassign-dataset",
            only_post(datasets::deassign_dataset),
        )
        .route(
            "/user/update-permission-dataset",
            only_post(datasets::update_permission_dataset),
        )
        .route(
            "/user/get-datasets-with-permissions",
            only_post(datasets::get_datasets_with_permissions),
        )
        .route("/user/get-chats", only_post(chats::get_chats))
        .route("/user/get-chat-session", only_post(chats::get_chat_session))
        .route(
            "/user/delete-chat-session",
            only_post(chats::delete_chat_session),
        )
        .route("/user/append-chat", only_post(chats::append_chat))
        .route("/user", any(unknown_endpoint))
        .route("/user/", any(unknown_endpoint))
        .route("/user/{*endpoint}", any(unknown_endpoint))
        .layer(from_fn_with_state(Envelope::render as Render, reshape))
}

/// An endpoint answering `POST` only; any other method gets a 405 in the envelope.
fn only_post<H, T>(handler: H) -> MethodRouter<Services>
where
    H: Handler<T, Services>,
    T: 'static,
{
    post(handler).fallback(wrong_method)
}

async fn wrong_method(method: Method, uri: Uri) -> Envelope {
    Envelope::error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

async fn unknown_endpoint(method: Method, uri: Uri) -> Envelope {
    Envelope::error(
        StatusCode::NOT_FOUND,
        format!("no such route: {method} {}", uri.path()),
    )
}
