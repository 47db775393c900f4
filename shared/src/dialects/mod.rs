//! External API surfaces: each module answers one platform's documented paths and shapes
//! by translating onto the shared services. A dialect holds no business rule; it names
//! fields, renders records and shapes errors the way its document does.

pub mod asksage;
pub mod assisters;
pub mod cogniac;
pub mod virtuousai;

use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::domain::Invalid;
use crate::http::json::{BodyError, read_json};
use crate::services::Error;

/// The status and a client-safe message for a service error; every dialect wraps these in
/// its own shape. Internal detail (why a credential failed, what the store said) is logged,
/// never returned.
pub(crate) fn status_and_message(error: &Error) -> (StatusCode, String) {
    match error {
        Error::Invalid(invalid) => (StatusCode::BAD_REQUEST, invalid.to_string()),
        Error::TooLarge { field, message } => {
            (StatusCode::PAYLOAD_TOO_LARGE, format!("{field}: {message}"))
        }
        Error::Unauthenticated(reason) => {
            tracing::info!(reason, "credential refused");
            (
                StatusCode::UNAUTHORIZED,
                "a valid credential is required".to_owned(),
            )
        }
        Error::Forbidden(detail) => (StatusCode::FORBIDDEN, detail.clone()),
        Error::NameTooLong(invalid) => (StatusCode::NOT_ACCEPTABLE, invalid.to_string()),
        Error::CacRequired(detail) => (StatusCode::PROXY_AUTHENTICATION_REQUIRED, detail.clone()),
        Error::MissingInformation(field) => {
            (StatusCode::REQUEST_TIMEOUT, format!("{field} is required"))
        }
        Error::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
        Error::Conflict(detail) | Error::LimitReached(detail) => {
            (StatusCode::CONFLICT, detail.clone())
        }
        Error::Internal(source) => {
            tracing::error!(error = %source, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request could not be completed; the error was logged".to_owned(),
            )
        }
        Error::Throttled(refusal) => (StatusCode::TOO_MANY_REQUESTS, refusal.message()),
        Error::IpNotAllowed(address) => {
            tracing::info!(address, "source address not allowed");
            (StatusCode::FORBIDDEN, ip_not_allowed_message())
        }
        Error::Unavailable(source) => {
            tracing::error!(error = %source, "store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is unavailable; retry shortly".to_owned(),
            )
        }
    }
}

/// What every surface says to a request from an address its credential may not be used
/// from: the code first, so a client can match it whatever the surface's shape.
pub(crate) fn ip_not_allowed_message() -> String {
    format!(
        "{}: {}",
        crate::domain::allowed_ips::IP_NOT_ALLOWED,
        crate::domain::allowed_ips::IP_NOT_ALLOWED_MESSAGE
    )
}

/// Parses a JSON body (empty reads as `{}`), naming the field on error (`body` when the
/// JSON itself is broken).
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Invalid> {
    read_json(bytes).map_err(|error| match error {
        BodyError::Syntax(message) => Invalid::new("body", message),
        BodyError::Field { field, message } => Invalid::new(field, message),
    })
}

/// Keys a dialect lists in one answer when its document has no pagination.
pub(crate) const UNPAGED_LIST_LIMIT: u32 = 100;
