//! What every Ask Sage endpoint reads: the caller behind `x-access-tokens`, a JSON body
//! (none at all reads as `{}`), and the client's address. Problems with any of them are
//! answered in the envelope, never as problem+json.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::envelope::Envelope;
use crate::domain::principal::Principal;
use crate::http::caller;
use crate::http::client_info::Client;
use crate::http::json::{BodyError, MAX_BODY_BYTES, read_json};
use crate::services::{ClientInfo, Error, Services};

pub struct SageRequest {
    parts: Parts,
    body: Bytes,
    pub client: ClientInfo,
}

impl SageRequest {
    /// The authenticated caller: an access token or an API key in `x-access-tokens` (the
    /// other headers keygate reads are accepted too), or the authorizer's verdict.
    pub async fn caller(&self, services: &Services) -> Result<Principal, Error> {
        caller::resolve(&self.parts, services).await
    }

    /// The body as `T`; a value of the wrong type or shape is a 400 naming the field.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, Error> {
        read_json(&self.body).map_err(|error| match error {
            BodyError::Syntax(message) => Error::invalid("body", message),
            BodyError::Field { field, message } => Error::invalid(field, message),
        })
    }

    /// A body for an endpoint without parameters: none, or any JSON object.
    pub fn no_parameters(&self) -> Result<(), Error> {
        self.body::<serde_json::Map<String, Value>>().map(drop)
    }
}

impl FromRequest<Services> for SageRequest {
    type Rejection = Envelope;

    async fn from_request(request: Request, services: &Services) -> Result<Self, Envelope> {
        let (mut parts, body) = request.into_parts();
        let Ok(Client(client)) = Client::from_request_parts(&mut parts, services).await;
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                Envelope::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body: must be at most {MAX_BODY_BYTES} bytes"),
                )
            })?;
        Ok(Self {
            parts,
            body,
            client,
        })
    }
}

/// A required text field: absent, null or blank is a 400 naming it.
pub fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, Error> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::invalid(field, "is required"))
}
