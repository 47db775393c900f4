//! Admission at the HTTP edge: the IETF `RateLimit-Policy` / `RateLimit` headers (draft
//! ietf-httpapi-ratelimit-headers) and `Retry-After`, how they travel from the authorizer to
//! the function through its context, and the per-request slot that makes sure a request is
//! admitted once however many extractors resolve its caller.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use serde_json::{Map, Value};

use crate::domain::metering::{MeterStatus, RateLimit, Refusal};
use crate::domain::principal::Principal;
use crate::services::metering::Admission;
use crate::services::{Error, Services};

/// Authorizer context fields carrying the headers to the function.
pub const POLICY_FIELD: &str = "keygate_ratelimit_policy";
pub const RATELIMIT_FIELD: &str = "keygate_ratelimit";
pub const RETRY_AFTER_FIELD: &str = "keygate_retry_after";
/// On an admission that spent credits: the balance left after it (the contract's
/// `credits_remaining`).
pub const CREDITS_REMAINING_FIELD: &str = "credits_remaining";
/// On a refusal by the authorizer: the limit that refused (absent for credits).
pub const REFUSED_LIMIT_FIELD: &str = "keygate_refused_limit";

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The metering headers of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterHeaders {
    pub policy: Option<String>,
    pub ratelimit: Option<String>,
    pub retry_after: Option<i64>,
}

impl MeterHeaders {
    pub fn of(status: &MeterStatus, retry_after: Option<i64>) -> Self {
        let join = |parts: Vec<String>| (!parts.is_empty()).then(|| parts.join(", "));
        Self {
            policy: join(
                status
                    .limits
                    .iter()
                    .map(|l| format!("\"{}\";q={};w={}", l.name, l.limit, l.window_secs))
                    .collect(),
            ),
            ratelimit: join(
                status
                    .limits
                    .iter()
                    .map(|l| format!("\"{}\";r={};t={}", l.name, l.remaining, l.reset_secs))
                    .collect(),
            ),
            retry_after,
        }
    }

    /// After an admission that moved several budgets at once and saw none of them: the
    /// nearest budget's policy, without the `RateLimit` state it cannot know.
    pub fn policy_only(limits: &[RateLimit]) -> Self {
        let parts: Vec<String> = limits
            .iter()
            .map(|l| format!("\"{}\";q={};w={}", l.name, l.limit, l.window_secs))
            .collect();
        Self {
            policy: (!parts.is_empty()).then(|| parts.join(", ")),
            ratelimit: None,
            retry_after: None,
        }
    }

    /// The headers an admission leaves, if any.
    pub fn of_admission(admission: &Admission) -> Option<Self> {
        match admission {
            Admission::Unmetered => None,
            Admission::Admitted(status) => Some(Self::of(status, None)),
            Admission::AdmittedUnseen(limits) => Some(Self::policy_only(limits)),
        }
    }

    pub fn of_refusal(refusal: &Refusal) -> Self {
        Self::of(&refusal.status, refusal.retry_after_secs)
    }

    /// Into an authorizer context.
    pub fn write_context(&self, context: &mut Map<String, Value>) {
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                context.insert(name.to_owned(), Value::String(value));
            }
        };
        put(POLICY_FIELD, self.policy.clone());
        put(RATELIMIT_FIELD, self.ratelimit.clone());
        put(RETRY_AFTER_FIELD, self.retry_after.map(|s| s.to_string()));
    }

    /// An admission's balance into an authorizer context, for the function behind it.
    pub fn write_credits(status: &MeterStatus, context: &mut Map<String, Value>) {
        if let Some(credits) = status.credits_remaining {
            context.insert(
                CREDITS_REMAINING_FIELD.to_owned(),
                Value::String(credits.to_string()),
            );
        }
    }

    /// From an authorizer context, when it carries any.
    fn from_context(context: &std::collections::HashMap<String, Value>) -> Option<Self> {
        let text = |name: &str| context.get(name).and_then(Value::as_str).map(str::to_owned);
        let headers = Self {
            policy: text(POLICY_FIELD),
            ratelimit: text(RATELIMIT_FIELD),
            retry_after: text(RETRY_AFTER_FIELD).and_then(|v| v.parse().ok()),
        };
        (headers != Self::default()).then_some(headers)
    }

    fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        if let Some(policy) = &self.policy {
            set(RATELIMIT_POLICY, policy);
        }
        if let Some(ratelimit) = &self.ratelimit {
            set(RATELIMIT, ratelimit);
        }
        if let Some(retry_after) = self.retry_after {
            set(header::RETRY_AFTER, &retry_after.to_string());
        }
    }
}

#[derive(Default)]
struct SlotState {
    /// The admission decision once made: a second resolution in the same request reuses it.
    decided: Option<Result<(), Box<Refusal>>>,
    headers: Option<MeterHeaders>,
}

/// Per request: the admission decision and the headers it leaves for the response.
#[derive(Clone, Default)]
pub struct MeterSlot(Arc<Mutex<SlotState>>);

impl MeterSlot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The layer every router runs: gives each request a slot, takes the headers the authorizer
/// passed (behind API Gateway) or admission left (elsewhere), and puts them on the response.
pub async fn meter_headers(mut request: Request, next: Next) -> Response {
    let slot = MeterSlot::default();
    if let Some(RequestContext::ApiGatewayV2(context)) =
        request.extensions().get::<RequestContext>()
        && let Some(authorizer) = &context.authorizer
    {
        slot.state().headers = MeterHeaders::from_context(&authorizer.fields);
    }
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(headers) = slot.state().headers.take() {
        headers.apply(&mut response);
    }
    response
}

/// Admits a request whose credential was verified here (no authorizer ran), once per request.
pub async fn admit_once(
    parts: &Parts,
    services: &Services,
    principal: &Principal,
    cost: i64,
) -> Result<(), Error> {
    let slot = parts
        .extensions
        .get::<MeterSlot>()
        .cloned()
        .unwrap_or_default();
    if let Some(decided) = slot.state().decided.clone() {
        return decided.map_err(Error::Throttled);
    }
    let decided = match services.admit(principal, cost).await {
        Ok(admission) => {
            slot.state().headers = MeterHeaders::of_admission(&admission);
            Ok(())
        }
        Err(Error::Throttled(refusal)) => {
            slot.state().headers = Some(MeterHeaders::of_refusal(&refusal));
            Err(refusal)
        }
        Err(other) => return Err(other),
    };
    slot.state().decided = Some(decided.clone());
    decided.map_err(Error::Throttled)
}
