//! RFC 9457 problem details: every error of keygate's own API, in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::metering::RefusalReason;
use crate::services::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<String>,
    /// A machine-readable code where one is documented (`RATE_LIMITED`, `USAGE_EXCEEDED`, `IP_NOT_ALLOWED`).
    pub code: Option<&'static str>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            field: None,
            code: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
        .with_field(field)
    }

    /// The problem for an answer axum made itself (see [`super::bare_errors`]).
    pub fn render(status: StatusCode, detail: String) -> Response {
        let (slug, title) = match status {
            StatusCode::BAD_REQUEST => ("bad-request", "Bad request"),
            StatusCode::NOT_FOUND => ("not-found", "Not found"),
            StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
            StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "Payload too large"),
            other => ("http-error", other.canonical_reason().unwrap_or("Error")),
        };
        let problem = Self::new(status, slug, title, detail);
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => problem.with_field("body"),
            _ => problem,
        }
        .into_response()
    }

    pub fn not_found_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such route",
        )
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(invalid) => {
                Self::bad_request(invalid.field.clone(), invalid.to_string())
            }
            Error::TooLarge { field, message } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Payload too large",
                format!("{field}: {message}"),
            )
            .with_field(field),
            Error::Unauthenticated(reason) => {
                tracing::info!(reason, "credential refused");
                Self::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Unauthenticated",
                    "a valid credential is required (missing, malformed, unknown, expired or revoked)",
                )
            }
            Error::Forbidden(detail) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
            }
            Error::NotFound(what) => Self::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                format!("{what} not found"),
            ),
            Error::Conflict(detail) => {
                Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            Error::LimitReached(detail) => Self::new(
                StatusCode::CONFLICT,
                "limit-reached",
                "Limit reached",
                detail,
            ),
            Error::NameTooLong(invalid) => Self::new(
                StatusCode::NOT_ACCEPTABLE,
                "name-too-long",
                "Name too long",
                invalid.to_string(),
            )
            .with_field(invalid.field),
            Error::CacRequired(detail) => Self::new(
                StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                "cac-required",
                "CAC required for this operation",
                detail,
            ),
            Error::MissingInformation(field) => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "missing-information",
                "Required information missing",
                format!("{field} is required"),
            )
            .with_field(field),
            Error::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the request could not be completed; the error was logged",
                )
            }
            Error::Throttled(refusal) => {
                let (slug, title, code) = match refusal.reason {
                    RefusalReason::RateLimited(_) => {
                        ("rate-limited", "Too many requests", "RATE_LIMITED")
                    }
                    RefusalReason::CreditsExhausted => {
                        ("usage-exceeded", "Credits exhausted", "USAGE_EXCEEDED")
                    }
                };
                let mut problem = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    slug,
                    title,
                    refusal.message(),
                );
                problem.code = Some(code);
                problem
            }
            Error::IpNotAllowed(address) => {
                tracing::info!(address, "source address not allowed");
                let mut problem = Self::new(
                    StatusCode::FORBIDDEN,
                    "ip-not-allowed",
                    "Source address not allowed",
                    crate::domain::allowed_ips::IP_NOT_ALLOWED_MESSAGE,
                );
                problem.code = Some(crate::domain::allowed_ips::IP_NOT_ALLOWED);
                problem
            }
            Error::Unavailable(source) => {
                tracing::error!(error = %source, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the store did not answer; nothing was changed, retry shortly",
                )
            }
        }
    }
}

/// RFC 9457 problem details: every error of keygate's own API, as sent.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Problem)]
pub struct ProblemBody {
    /// `urn:keygate:problem:<slug>`
    #[schema(example = "urn:keygate:problem:bad-request")]
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A machine-readable code where one is documented (`RATE_LIMITED`, `USAGE_EXCEEDED`, `IP_NOT_ALLOWED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: format!("urn:keygate:problem:{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.field,
            code: self.code,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
