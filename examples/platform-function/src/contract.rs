//! Reading keygate's authorizer context (contract version 1, documented in keygate's README):
//! every field a string, empty when absent, JSON values as JSON text. The function trusts it
//! because only keygate's authorizer can put it there; without it the function refuses.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use serde_json::{Map, Value};

use crate::problem::Problem;

/// The contract version this function reads.
pub const CONTEXT_VERSION: &str = "1";

/// The caller keygate admitted to this route.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub tenant_id: String,
    pub user_id: String,
    pub email: String,
    /// `admin` or `member` within the tenant.
    pub user_role: String,
    /// `api_key`, `access_token` or `session`.
    pub kind: String,
    pub credential_id: String,
    pub key_id: Option<String>,
    /// `admin` or `asker`.
    pub key_type: String,
    pub scopes: Vec<String>,
    /// Epoch seconds.
    pub expires_at: Option<i64>,
    pub chat_role_id: Option<String>,
    pub role_variables: Option<Map<String, Value>>,
    pub user_profile: Option<Map<String, Value>>,
    /// The policy rule that admitted the call and what it costs.
    pub route: Option<String>,
    pub cost: Option<u32>,
    /// What the key may still spend after this call, when it has credits and the route
    /// costs something (`None` otherwise).
    pub credits_remaining: Option<i64>,
    /// The models the credential may use (`keygate_models`); `None`: any.
    pub models: Option<Vec<String>>,
    /// The team owning the key (`keygate_team_id`): a service account, whose `user_id` is
    /// the team's id; `None`: a person.
    pub team_id: Option<String>,
    /// The key's metadata: what the platform's own systems call it and how they tag it
    /// (`keygate_external_id`, `keygate_tags`, `keygate_meta`).
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub meta: Option<Map<String, Value>>,
    /// The networks the credential may be used from (`keygate_allowed_ips`); `None`: any.
    /// The authorizer has already refused every other source address.
    pub allowed_ips: Option<Vec<String>>,
}

impl Caller {
    /// Whether the credential may call `model`: a function serving several models checks
    /// this before calling one (the authorizer cannot see the request's body).
    pub fn may_use(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|models| models.iter().any(|m| m == model))
    }
}

/// What the authorizer said about a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Admitted(Box<Caller>),
    /// A public route: nobody was verified.
    Public,
    /// Refused by keygate (default deny mode): answer with this status.
    Refused {
        status: StatusCode,
        detail: String,
        /// Seconds until a metering refusal may succeed (`keygate_retry_after`).
        retry_after: Option<u64>,
        /// The documented code of the refusal, where it has one (`IP_NOT_ALLOWED`).
        code: Option<&'static str>,
    },
}

impl Gate {
    /// Reads the context's fields; `None` when they are not keygate's (or absent).
    pub fn from_fields(fields: &HashMap<String, Value>) -> Option<Self> {
        let text = |name: &str| fields.get(name).and_then(Value::as_str);
        let optional = |name: &str| text(name).filter(|v| !v.is_empty()).map(str::to_owned);
        let json_object = |name: &str| {
            optional(name).and_then(|v| serde_json::from_str::<Map<String, Value>>(&v).ok())
        };
        if let Some(class) = text("keygate_denied") {
            let code = (class == "ip_not_allowed").then_some("IP_NOT_ALLOWED");
            let (status, detail) = match class {
                "ip_not_allowed" => (
                    StatusCode::FORBIDDEN,
                    "the credential may not be used from this address".into(),
                ),
                "forbidden" => (
                    StatusCode::FORBIDDEN,
                    optional("keygate_reason").unwrap_or_else(|| "forbidden".into()),
                ),
                "rate_limited" => (
                    StatusCode::TOO_MANY_REQUESTS,
                    match optional("keygate_refused_limit") {
                        Some(limit) => format!("the key's {limit:?} limit is used up for now"),
                        None => "the key's rate limit is used up for now".into(),
                    },
                ),
                "usage_exceeded" => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "the key's credits cannot cover this call".into(),
                ),
                "unavailable" => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the credential store did not answer; retry shortly".into(),
                ),
                "internal" => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the credential check failed".into(),
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    "a valid credential is required (missing, malformed, unknown, expired or revoked)"
                        .into(),
                ),
            };
            let retry_after = optional("keygate_retry_after").and_then(|v| v.parse().ok());
            return Some(Self::Refused {
                status,
                detail,
                retry_after,
                code,
            });
        }
        if text("context_version")? != CONTEXT_VERSION {
            return None;
        }
        if text("public") == Some("true") {
            return Some(Self::Public);
        }
        Some(Self::Admitted(Box::new(Caller {
            tenant_id: optional("tenant_id")?,
            user_id: optional("user_id")?,
            email: text("email")?.to_owned(),
            user_role: optional("user_role")?,
            kind: optional("kind")?,
            credential_id: optional("credential_id")?,
            key_id: optional("key_id"),
            key_type: optional("key_type")?,
            scopes: text("scopes")?
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            expires_at: optional("expires_at").and_then(|v| v.parse().ok()),
            chat_role_id: optional("chat_role_id"),
            role_variables: json_object("role_variables"),
            user_profile: json_object("user_profile"),
            route: optional("route"),
            cost: optional("cost").and_then(|v| v.parse().ok()),
            credits_remaining: optional("credits_remaining").and_then(|v| v.parse().ok()),
            models: text("keygate_models").map(|list| {
                list.split(' ')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            team_id: optional("keygate_team_id"),
            external_id: optional("keygate_external_id"),
            tags: text("keygate_tags")
                .unwrap_or_default()
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            meta: json_object("keygate_meta"),
            allowed_ips: text("keygate_allowed_ips").map(|list| {
                list.split(' ')
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
        })))
    }
}

fn authorizer_fields(parts: &Parts) -> Option<&HashMap<String, Value>> {
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context
            .authorizer
            .as_ref()
            .map(|a| &a.fields)
            .filter(|f| !f.is_empty()),
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match authorizer_fields(parts).and_then(Gate::from_fields) {
            Some(Gate::Admitted(caller)) => Ok(*caller),
            Some(Gate::Refused {
                status,
                detail,
                retry_after,
                code,
            }) => Err(Problem {
                retry_after,
                code,
                ..Problem::new(status, detail)
            }),
            // A public route's context names nobody; no context at all is never trusted.
            Some(Gate::Public) | None => Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "this function is served behind keygate's authorizer only",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect()
    }

    #[test]
    fn reads_a_caller_a_refusal_and_nothing_foreign() {
        let caller = Gate::from_fields(&fields(&[
            ("context_version", "1"),
            ("tenant_id", "t"),
            ("user_id", "u"),
            ("email", "a@example.com"),
            ("user_role", "member"),
            ("kind", "access_token"),
            ("credential_id", "c"),
            ("key_id", "k"),
            ("key_type", "asker"),
            ("scopes", "chat read"),
            ("expires_at", "1900000000"),
            ("chat_role_id", "1"),
            ("role_variables", r#"{"id":"42"}"#),
            ("user_profile", ""),
            ("cost", "1"),
        ]));
        let Some(Gate::Admitted(caller)) = caller else {
            panic!("{caller:?}")
        };
        assert_eq!(caller.scopes, ["chat", "read"]);
        assert_eq!(caller.role_variables.as_ref().unwrap()["id"], "42");
        assert_eq!(caller.user_profile, None);
        assert_eq!(caller.credits_remaining, None);
        assert!(caller.models.is_none() && caller.may_use("any-model"));
        assert!(caller.external_id.is_none() && caller.tags.is_empty() && caller.meta.is_none());
        assert!(caller.allowed_ips.is_none());
        let metered = Gate::from_fields(&fields(&[
            ("context_version", "1"),
            ("tenant_id", "t"),
            ("user_id", "u"),
            ("email", "a@example.com"),
            ("user_role", "member"),
            ("kind", "api_key"),
            ("credential_id", "k"),
            ("key_id", "k"),
            ("key_type", "asker"),
            ("scopes", "chat"),
            ("cost", "2"),
            ("credits_remaining", "40"),
            ("keygate_models", "model-a model-b"),
            ("keygate_team_id", "team"),
            ("keygate_external_id", "cust-42"),
            ("keygate_tags", "prod,team:ml"),
            ("keygate_meta", r#"{"plan":"pro"}"#),
            ("keygate_allowed_ips", "203.0.113.0/24 2001:db8::/32"),
        ]));
        let Some(Gate::Admitted(metered)) = metered else {
            panic!("{metered:?}")
        };
        assert_eq!(metered.credits_remaining, Some(40));
        assert_eq!(metered.team_id.as_deref(), Some("team"));
        assert_eq!(caller.team_id, None);
        assert!(metered.may_use("model-b") && !metered.may_use("model-c"));
        assert_eq!(metered.external_id.as_deref(), Some("cust-42"));
        assert_eq!(metered.tags, ["prod", "team:ml"]);
        assert_eq!(metered.meta.as_ref().unwrap()["plan"], "pro");
        assert_eq!(
            metered.allowed_ips.as_deref(),
            Some(&["203.0.113.0/24".to_owned(), "2001:db8::/32".to_owned()][..])
        );
        let throttled = Gate::from_fields(&fields(&[
            ("keygate_denied", "rate_limited"),
            ("keygate_refused_limit", "requests"),
            ("keygate_retry_after", "7"),
        ]));
        let Some(Gate::Refused {
            status,
            retry_after,
            ..
        }) = throttled
        else {
            panic!("{throttled:?}")
        };
        assert_eq!(
            (status, retry_after),
            (StatusCode::TOO_MANY_REQUESTS, Some(7))
        );
        let refused = Gate::from_fields(&fields(&[
            ("keygate_denied", "forbidden"),
            (
                "keygate_reason",
                "asker credentials may not call this route",
            ),
        ]));
        assert_eq!(
            refused,
            Some(Gate::Refused {
                status: StatusCode::FORBIDDEN,
                detail: "asker credentials may not call this route".into(),
                retry_after: None,
                code: None,
            })
        );
        let elsewhere = Gate::from_fields(&fields(&[("keygate_denied", "ip_not_allowed")]));
        assert!(
            matches!(
                elsewhere,
                Some(Gate::Refused {
                    status: StatusCode::FORBIDDEN,
                    code: Some("IP_NOT_ALLOWED"),
                    ..
                })
            ),
            "{elsewhere:?}"
        );
        assert_eq!(Gate::from_fields(&fields(&[("user", "x")])), None);
        assert_eq!(
            Gate::from_fields(&fields(&[("context_version", "2"), ("tenant_id", "t")])),
            None
        );
    }
}
