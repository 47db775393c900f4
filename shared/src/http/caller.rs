//! Who is calling. Behind API Gateway the authorizer has verified the credential, applied the
//! route policy, and its context is trusted; anywhere else (local server, `cargo lambda
//! watch`, a function URL) the credential is verified and the policy applied here with the
//! same code. A missing context is never trusted.
//! Where the credential is verified here, the request is also admitted here (rate limits and
//! credits, at the policy's cost), exactly as the authorizer admits it behind API Gateway.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

use super::client_info::client_info;
use super::credentials::{self, Source};
use super::metering::{REFUSED_LIMIT_FIELD, admit_once};
use super::problem::Problem;
use crate::domain::metering::{MeterStatus, Refusal, RefusalReason};
use crate::domain::principal::{DENIED_MARKER, DENIED_REASON, Principal};
use crate::services::{Error, Services};
use crate::store::StoreError;

/// Any authenticated caller, asker keys included (chats, /v1/auth/me, /v1/auth/tokens).
pub struct AnyCaller(pub Principal);

/// An authenticated caller with a full (non-asker) credential.
pub struct Caller(pub Principal);

/// Resolves the caller from the authorizer context or the presented credential.
pub async fn resolve(parts: &Parts, services: &Services) -> Result<Principal, Error> {
    resolve_with_source(parts, services)
        .await
        .map(|(principal, _)| principal)
}

/// Resolves a caller that must hold a full (non-asker) credential.
pub async fn resolve_full(parts: &Parts, services: &Services) -> Result<Principal, Error> {
    let principal = resolve(parts, services).await?;
    principal.require_full_key()?;
    Ok(principal)
}

/// The caller and how their credential arrived (header or cookie). A cookie-only
/// state-changing request from a foreign origin is refused here, whoever verified it.
pub async fn resolve_with_source(
    parts: &Parts,
    services: &Services,
) -> Result<(Principal, Source), Error> {
    let presented = credentials::presented(&parts.headers);
    let source = presented.map_or(Source::Header, |p| p.source);
    let gateway = match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => Some(context),
        _ => None,
    };
    credentials::check_origin(
        &parts.method,
        &parts.headers,
        source,
        &services.config.allowed_origins,
        gateway.and_then(|context| context.domain_name.as_deref()),
    )?;
    if let Some(context) = gateway
        && let Some(authorizer) = &context.authorizer
        && !authorizer.fields.is_empty()
    {
        if let Some(class) = authorizer.fields.get(DENIED_MARKER) {
            return Err(match class.as_str() {
                Some("unavailable") => Error::Unavailable(StoreError::Unavailable(
                    "the authorizer could not reach the store".into(),
                )),
                Some("internal") => {
                    Error::Internal("the authorizer failed to decide (see its log)".into())
                }
                Some("forbidden") => Error::Forbidden(
                    authorizer
                        .fields
                        .get(DENIED_REASON)
                        .and_then(|reason| reason.as_str())
                        .unwrap_or("refused by the authorizer")
                        .to_owned(),
                ),
                Some("rate_limited") => throttled(RefusalReason::RateLimited(
                    authorizer
                        .fields
                        .get(REFUSED_LIMIT_FIELD)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                )),
                Some("usage_exceeded") => throttled(RefusalReason::CreditsExhausted),
                Some("ip_not_allowed") => Error::IpNotAllowed("refused by the authorizer".into()),
                _ => Error::Unauthenticated("refused by the authorizer"),
            });
        }
        let principal = Principal::from_context(&authorizer.fields)
            .ok_or(Error::Unauthenticated("foreign authorizer context"))?;
        return Ok((principal, source));
    }
    let presented = presented.ok_or(Error::Unauthenticated("no credential"))?;
    let principal = services.verify(presented.secret).await?;
    // As the authorizer would: a credential held to some networks, from elsewhere.
    let address = client_info(parts).ip;
    if !principal.may_be_used_from(Some(&address)) {
        return Err(Error::IpNotAllowed(address));
    }
    let decision = services.config.route_policy.get()?.evaluate(
        parts.method.as_str(),
        parts.uri.path(),
        &principal,
    );
    if let Some(reason) = decision.reason {
        return Err(Error::Forbidden(reason));
    }
    admit_once(parts, services, &principal, i64::from(decision.cost)).await?;
    Ok((principal, source))
}

/// A refusal the authorizer made (its headers travel apart, see `http::metering`).
fn throttled(reason: RefusalReason) -> Error {
    Error::Throttled(Box::new(Refusal {
        reason,
        status: MeterStatus::default(),
        retry_after_secs: None,
    }))
}

impl FromRequestParts<Services> for AnyCaller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(resolve(parts, services).await?))
    }
}

impl FromRequestParts<Services> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(resolve_full(parts, services).await?))
    }
}
