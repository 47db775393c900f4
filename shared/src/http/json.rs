//! Body and query extractors whose errors name the offending field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::domain::Invalid;

/// Request bodies larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON body; an empty body reads as `{}` (clients POST without a body).
pub struct JsonBody<T>(pub T);

/// Why a JSON body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all.
    Syntax(String),
    /// JSON whose value at `field` has the wrong type or shape (`body` for the whole);
    /// `message` says what is wrong with it.
    Field { field: String, message: String },
}

/// Reads a JSON body, naming the field on error; an empty body reads as `{}`, and anything
/// but whitespace after the value is an error. Each surface maps [`BodyError`] to its own
/// error shape.
pub fn read_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            BodyError::Syntax(format!("the body is not valid JSON: {inner}"))
        } else {
            let field = if field == "." {
                "body".to_owned()
            } else {
                field
            };
            BodyError::Field {
                field,
                message: inner.to_string(),
            }
        }
    })?;
    // A second value (`{}{}`) or stray text (`{} x`) would otherwise be ignored: the client
    // meant something else than the first value says.
    deserializer.end().map_err(|error| {
        BodyError::Syntax(format!(
            "the body must be one JSON value with nothing after it: {error}"
        ))
    })?;
    Ok(value)
}

/// Parses JSON, naming the field on error: 400 for broken JSON, 422 for a wrong value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    read_json(bytes).map_err(|error| match error {
        BodyError::Syntax(message) => Problem::bad_request("body", message),
        BodyError::Field { field, message } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            format!("{field}: {message}"),
        )
        .with_field(field),
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|_| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Payload too large",
                format!("the body must be at most {MAX_BODY_BYTES} bytes"),
            )
            .with_field("body")
        })?;
        parse_json(&bytes).map(Self)
    }
}

/// Query-string parameters, naming the parameter on error.
pub struct QueryParams<T>(pub T);

/// Reads query-string parameters, naming the parameter on error. Each surface maps the
/// [`Invalid`] to its own error shape.
pub fn read_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, Invalid> {
    let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|error| {
        let field = error.path().to_string();
        Invalid::new(field, error.into_inner().to_string())
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        read_query(parts.uri.query()).map(Self).map_err(|invalid| {
            let detail = format!("query parameter {}: {}", invalid.field, invalid.message);
            Problem::bad_request(invalid.field, detail)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn one_value_and_only_whitespace_after_it() {
        assert_eq!(read_json::<Value>(b" {\"a\": 1} \r\n\t").unwrap()["a"], 1);
        assert_eq!(read_json::<Value>(b"  ").unwrap(), serde_json::json!({}));
        for trailing in [&b"{}{}"[..], b"{} x", b"{\"a\":1} []", b"{}\n{}", b"1 2"] {
            assert!(
                matches!(read_json::<Value>(trailing), Err(BodyError::Syntax(_))),
                "{}",
                String::from_utf8_lossy(trailing)
            );
        }
    }
}
