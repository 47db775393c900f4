//! Ask Sage's response shape, `{"response": <payload>, "status": <int>}` with the HTTP status
//! equal to `status`, for every answer; and the one mapping of service errors onto it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::services::Error;

/// One Ask Sage answer. Errors carry a message string as `response`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub status: StatusCode,
    pub response: Value,
}

impl Envelope {
    pub fn ok(response: Value) -> Self {
        Self {
            status: StatusCode::OK,
            response,
        }
    }

    pub fn error(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            response: Value::String(message.into()),
        }
    }

    /// The envelope for an answer axum made itself (see `http::bare_errors`).
    pub fn render(status: StatusCode, message: String) -> Response {
        Self::error(status, message).into_response()
    }

    /// A success, or the error's envelope.
    pub fn answer(result: Result<Value, Error>) -> Self {
        result.map_or_else(Self::from, Self::ok)
    }

    /// As [`Envelope::answer`], for the endpoints whose document answers a refused
    /// credential with 400 (`get-token-with-api-key`, `get-user-api-keys`).
    pub fn answer_refusing_credentials_with_400(result: Result<Value, Error>) -> Self {
        match result {
            Err(Error::Unauthenticated(reason)) => {
                tracing::info!(reason, "credential refused");
                Self::error(
                    StatusCode::BAD_REQUEST,
                    "Authentication failed: invalid email, API key or access token",
                )
            }
            other => Self::answer(other),
        }
    }
}

impl From<Error> for Envelope {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(invalid) => Self::error(StatusCode::BAD_REQUEST, invalid.to_string()),
            Error::TooLarge { field, message } => Self::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{field} is too large: {message}"),
            ),
            Error::Unauthenticated(reason) => {
                tracing::info!(reason, "credential refused");
                Self::error(
                    StatusCode::UNAUTHORIZED,
                    "A valid x-access-tokens header is required: a 24-hour access token or an \
                     API key (missing, malformed, unknown, expired or revoked)",
                )
            }
            Error::Forbidden(detail) => Self::error(StatusCode::FORBIDDEN, detail),
            Error::NotFound(what) => {
                Self::error(StatusCode::NOT_FOUND, format!("{what} not found"))
            }
            Error::Conflict(detail) | Error::LimitReached(detail) => {
                Self::error(StatusCode::CONFLICT, detail)
            }
            Error::NameTooLong(invalid) => Self::error(
                StatusCode::NOT_ACCEPTABLE,
                format!("Dataset name too long: {invalid}"),
            ),
            Error::CacRequired(detail) => Self::error(
                StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                format!("CAC required for this operation: {detail}"),
            ),
            Error::MissingInformation(field) => Self::error(
                StatusCode::REQUEST_TIMEOUT,
                format!("Required information missing: {field} is required"),
            ),
            Error::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                Self::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The request could not be completed; the error was logged",
                )
            }
            Error::Throttled(refusal) => {
                Self::error(StatusCode::TOO_MANY_REQUESTS, refusal.message())
            }
            Error::IpNotAllowed(address) => {
                tracing::info!(address, "source address not allowed");
                Self::error(
                    StatusCode::FORBIDDEN,
                    super::super::ip_not_allowed_message(),
                )
            }
            Error::Unavailable(source) => {
                tracing::error!(error = %source, "store unavailable");
                Self::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is unavailable; nothing was changed, retry shortly",
                )
            }
        }
    }
}

impl IntoResponse for Envelope {
    fn into_response(self) -> Response {
        let body = json!({ "response": self.response, "status": self.status.as_u16() });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Names a service's field as this surface's request spells it (`name` → `dataset`).
pub fn renamed(error: Error, from: &str, to: &str) -> Error {
    match error {
        Error::Invalid(mut invalid) if invalid.field == from => {
            invalid.field = to.to_owned();
            Error::Invalid(invalid)
        }
        Error::NameTooLong(mut invalid) if invalid.field == from => {
            invalid.field = to.to_owned();
            Error::NameTooLong(invalid)
        }
        other => other,
    }
}

/// The document gives 408 ("Required information missing") to `delete-dataset` alone; the
/// other dataset endpoints document a missing field as 400.
pub fn missing_is_invalid(error: Error) -> Error {
    match error {
        Error::MissingInformation(field) => Error::invalid(field, "is required"),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Invalid;
    use crate::store::StoreError;

    #[test]
    fn every_service_error_has_its_ask_sage_status() {
        let cases = [
            (Error::invalid("dataset", "bad"), 400),
            (
                Error::TooLarge {
                    field: "chats".into(),
                    message: "big".into(),
                },
                413,
            ),
            (Error::Unauthenticated("x"), 401),
            (Error::Forbidden("no".into()), 403),
            (Error::NotFound("API key"), 404),
            (Error::Conflict("dup".into()), 409),
            (Error::LimitReached("full".into()), 409),
            (Error::NameTooLong(Invalid::new("dataset", "long")), 406),
            (Error::CacRequired("cac".into()), 407),
            (Error::MissingInformation("dataset"), 408),
            (Error::from(StoreError::Refused("x".into())), 500),
            (Error::Unavailable(StoreError::Unavailable("x".into())), 503),
        ];
        for (error, status) in cases {
            let envelope = Envelope::from(error);
            assert_eq!(envelope.status.as_u16(), status);
            assert!(envelope.response.is_string());
        }
        assert_eq!(
            Envelope::from(Error::NotFound("API key")).response,
            "API key not found"
        );
    }

    #[test]
    fn some_endpoints_answer_a_refused_credential_with_400() {
        let refused = Envelope::answer_refusing_credentials_with_400(Err(Error::Unauthenticated(
            "unknown key",
        )));
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        let other =
            Envelope::answer_refusing_credentials_with_400(Err(Error::Forbidden("asker".into())));
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        let ok = Envelope::answer_refusing_credentials_with_400(Ok(json!([])));
        assert_eq!(ok, Envelope::ok(json!([])));
    }

    #[test]
    fn fields_are_renamed_and_missing_fields_become_invalid() {
        let renamed = renamed(
            Error::invalid("name", "must not be empty"),
            "name",
            "dataset",
        );
        assert_eq!(renamed.to_string(), "dataset: must not be empty");
        let long = super::renamed(
            Error::NameTooLong(Invalid::new("name", "long")),
            "name",
            "dataset",
        );
        assert!(matches!(long, Error::NameTooLong(i) if i.field == "dataset"));
        let missing = missing_is_invalid(Error::MissingInformation("dataset"));
        assert!(matches!(missing, Error::Invalid(i) if i.field == "dataset"));
    }
}
