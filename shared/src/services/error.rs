//! What a use case can answer besides success. Each API surface maps these to its own
//! status codes and shapes in one place.

use crate::config::ConfigError;
use crate::domain::Invalid;
use crate::domain::chat::TextRefused;
use crate::domain::credential::MAX_KEY_ANCESTORS;
use crate::domain::key_plan::PlanRefused;
use crate::domain::metering::Refusal;
use crate::domain::principal::Denied;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, naming the field.
    #[error("{0}")]
    Invalid(Invalid),
    /// Input larger than allowed, naming the field.
    #[error("{field} is too large: {message}")]
    TooLarge { field: String, message: String },
    /// Missing, malformed, unknown, expired or revoked credential. The reason is for logs.
    #[error("not authenticated: {0}")]
    Unauthenticated(&'static str),
    /// A valid credential that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist or is not the caller's.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with existing state (duplicate name, email taken ...).
    #[error("{0}")]
    Conflict(String),
    /// A per-user limit would be exceeded.
    #[error("{0}")]
    LimitReached(String),
    /// A name longer than its documented maximum, naming the field (Ask Sage answers
    /// "Dataset name too long" with its own status, 406).
    #[error("{0}")]
    NameTooLong(Invalid),
    /// The operation needs an account a tenant admin marked CAC-verified (Ask Sage: 407,
    /// "CAC required for this operation").
    #[error("{0}")]
    CacRequired(String),
    /// A request that names nothing to act on, naming the field (Ask Sage: 408,
    /// "Required information missing").
    #[error("{0} is required")]
    MissingInformation(&'static str),
    /// A rate limit or the credits refused the request (429); nothing was counted.
    #[error("{}", .0.message())]
    Throttled(Box<Refusal>),
    /// A valid credential presented from a source address its allowlist (or one above it)
    /// does not hold (403, `IP_NOT_ALLOWED`). The address is for logs.
    #[error("requests from {0} may not use this credential")]
    IpNotAllowed(String),
    /// The store failed; nothing was half-written and the client may retry.
    #[error("the store is unavailable")]
    Unavailable(#[source] StoreError),
    /// The store refused keygate's request or holds a malformed item, or keygate's own
    /// configuration is unusable: keygate's fault, not the client's nor a passing outage, so
    /// a retry would not help. Logged; the client sees a generic 500.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<Invalid> for Error {
    fn from(invalid: Invalid) -> Self {
        Self::Invalid(invalid)
    }
}

impl From<TextRefused> for Error {
    fn from(refused: TextRefused) -> Self {
        match refused {
            TextRefused::Invalid(invalid) => Self::Invalid(invalid),
            TextRefused::TooLarge(Invalid { field, message }) => Self::TooLarge { field, message },
        }
    }
}

impl From<Denied> for Error {
    fn from(denied: Denied) -> Self {
        Self::Forbidden(denied.0)
    }
}

impl From<PlanRefused> for Error {
    fn from(refused: PlanRefused) -> Self {
        match refused {
            PlanRefused::Invalid(invalid) => Self::Invalid(invalid),
            PlanRefused::Denied(denied) => denied.into(),
            PlanRefused::TooDeep => Self::Conflict(format!(
                "this key is already {MAX_KEY_ANCESTORS} keys deep: a key it creates would be \
                 too deep to follow them all; create the key from a session or a key nearer \
                 the top"
            )),
            PlanRefused::MalformedLineage => Self::Unauthenticated("malformed key id"),
            PlanRefused::Conflict(why) => Self::Conflict(why.into()),
            PlanRefused::MalformedOwner => {
                Self::Internal("a stored tenant or user id is not a ULID".into())
            }
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::Unavailable(error),
            StoreError::Refused(_) | StoreError::Corrupt(_) => Self::Internal(Box::new(error)),
        }
    }
}

impl From<&ConfigError> for Error {
    /// Only a setting parsed on first use can fail after init (`KEYGATE_ROUTE_POLICY`).
    fn from(error: &ConfigError) -> Self {
        Self::Internal(error.to_string().into())
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(Invalid::new(field, message))
    }
}
