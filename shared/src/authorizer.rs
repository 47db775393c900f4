//! The API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses). It verifies
//! the presented credential with the same code the functions use, applies the route policy
//! (in memory) to the route being called, and passes the caller in its context (the contract
//! documented in the README). It never errors to deny. A denial is either `isAuthorized:
//! false` (API Gateway answers 403) or, by default, a pass with only a denial marker in the
//! context, so that the function answers 401 (or 403) in its own surface's shape (see
//! `config::AuthorizerDeny`). It reads the same credential forms as the functions (headers,
//! then cookies) and applies the same Origin rule to cookie-only state-changing requests.
//! HTTP Basic (Cogniac's `/1/token`) is no credential here: such routes are public at the
//! gateway and checked by their function. An allowed request is then admitted against its
//! key's rate limits and credits at the policy's cost (one conditional write,
//! `services::metering`); a refusal is a denial of class `rate_limited` / `usage_exceeded`
//! that the function answers with 429 and the `RateLimit` headers, which also reach admitted
//! requests' responses through the context.

use std::time::Instant;

use axum::http::HeaderMap;
use lambda_http::LambdaEvent;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::{Map, Value, json};

use crate::config::AuthorizerDeny;
use crate::domain::metering::RefusalReason;
use crate::domain::principal::CONTEXT_VERSION;
use crate::http::credentials::{self, Source};
use crate::http::metering::{MeterHeaders, REFUSED_LIMIT_FIELD};
use crate::metrics;
use crate::services::metering::Admission;
use crate::services::{Error, Services};

/// The denial markers are part of the context contract, beside it in `domain`.
pub use crate::domain::principal::{DENIED_MARKER, DENIED_REASON};

/// What the authorizer looks at in a request, whoever delivers it (API Gateway's event, or
/// the local server standing in for API Gateway).
pub struct Incoming<'a> {
    /// API Gateway's `routeKey` (`POST /v1/single-turn/q2a`), when there is one.
    pub route_key: Option<&'a str>,
    pub method: &'a str,
    /// The path as routed (without a stage prefix).
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    /// Payload 2.0 carries cookies apart from the headers.
    pub cookies: &'a [String],
    /// API Gateway's `requestContext.domainName` (the API's own host, for the Origin rule).
    pub domain_name: Option<&'a str>,
    /// API Gateway's `requestContext.http.sourceIp` (the local server: the peer's address),
    /// held against the credential's network allowlist.
    pub source_ip: Option<&'a str>,
}

/// The Lambda handler: [`authorize`], then its one log line: the request id, the route, the
/// outcome and the latency, which is also the EMF record of the verification's metrics.
pub async fn handle(
    services: &Services,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let started = Instant::now();
    let (response, counts) = metrics::folded(authorize(services, &event.payload)).await;
    let outcome = match response.context.get(DENIED_MARKER).and_then(Value::as_str) {
        Some(class) => class,
        None if response.is_authorized => "allowed",
        None => "denied",
    };
    let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let mut line = Map::new();
    line.insert("message".into(), json!("authorize"));
    line.insert("request_id".into(), json!(event.context.request_id));
    line.insert(
        "route".into(),
        json!(event.payload.route_key.as_deref().unwrap_or("unknown")),
    );
    line.insert("outcome".into(), json!(outcome));
    line.insert("latency_ms".into(), json!(latency_ms));
    metrics::write(&counts, line);
    response
}

pub async fn authorize(
    services: &Services,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let context = &request.request_context;
    let raw_path = request
        .raw_path
        .as_deref()
        .or(context.http.path.as_deref())
        .unwrap_or("/");
    // A named stage prefixes the raw path; the routes do not name it.
    let path = match context.stage.as_deref() {
        Some(stage) if stage != "$default" => raw_path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .unwrap_or(raw_path),
        _ => raw_path,
    };
    let route_key = request.route_key.as_deref().filter(|k| *k != "$default");
    decide(
        services,
        &Incoming {
            route_key,
            method: context.http.method.as_str(),
            path,
            headers: &request.headers,
            cookies: &request.cookies,
            domain_name: context.domain_name.as_deref(),
            source_ip: context.http.source_ip.as_deref(),
        },
    )
    .await
}

/// The authorizer's decision on one request.
pub async fn decide(
    services: &Services,
    request: &Incoming<'_>,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    // Parsed at init (`app::authorizer_state_from_env_or_exit`), so this cannot fail here.
    let policy = match services.config.route_policy.get() {
        Ok(policy) => policy,
        Err(error) => {
            let error = Error::from(error);
            tracing::error!(%error, "route policy");
            refuse(services, &mut response, &error);
            return response;
        }
    };
    let rule = policy.for_request(request.route_key, request.method, request.path);
    if rule.is_public() {
        // Public routes are not verified (no read); the context says so and names no caller.
        response.is_authorized = true;
        response.context = serde_json::json!({
            "context_version": CONTEXT_VERSION,
            "public": "true",
            "route": rule.route(),
        });
        return response;
    }
    let mut cookie_pairs: Vec<(&str, &str)> = request
        .cookies
        .iter()
        .flat_map(|c| credentials::split_cookies(c))
        .collect();
    cookie_pairs.extend(credentials::cookie_pairs(request.headers));
    let presented = match credentials::from_headers(request.headers) {
        Some(secret) => Some((secret, Source::Header)),
        None => credentials::from_cookies(&cookie_pairs).map(|secret| (secret, Source::Cookie)),
    };
    let method = axum::http::Method::from_bytes(request.method.as_bytes())
        .unwrap_or(axum::http::Method::GET);
    let verified = match presented {
        None => Err(Error::Unauthenticated("no credential")),
        Some((secret, source)) => match credentials::check_origin(
            &method,
            request.headers,
            source,
            &services.config.allowed_origins,
            request.domain_name,
        ) {
            Ok(()) => services.verify(secret).await,
            Err(error) => Err(error),
        },
    };
    let admitted = match verified {
        Err(error) => Err(error),
        // A credential held to some networks, from another address: refused before the
        // policy and before anything is counted.
        Ok(principal) if !principal.may_be_used_from(request.source_ip) => Err(
            Error::IpNotAllowed(request.source_ip.unwrap_or("unknown").to_owned()),
        ),
        Ok(principal) => {
            let decision = rule.evaluate(&principal);
            match decision.reason {
                Some(reason) => Err(Error::Forbidden(reason)),
                // Admission against the key's limits and credits, at the policy's cost.
                None => match services.admit(&principal, i64::from(decision.cost)).await {
                    Err(error) => Err(error),
                    Ok(admission) => {
                        let mut context = principal.to_context();
                        context.insert("route".into(), Value::String(decision.route));
                        context.insert("cost".into(), Value::String(decision.cost.to_string()));
                        if let Some(headers) = MeterHeaders::of_admission(&admission) {
                            headers.write_context(&mut context);
                        }
                        if let Admission::Admitted(status) = admission {
                            MeterHeaders::write_credits(&status, &mut context);
                        }
                        Ok(context)
                    }
                },
            }
        }
    };
    match admitted {
        Ok(context) => {
            response.is_authorized = true;
            response.context = Value::Object(context);
        }
        Err(error) => {
            tracing::info!(%error, route = rule.route(), "deny");
            refuse(services, &mut response, &error);
        }
    }
    response
}

/// A refusal: a plain deny, or (default) a pass with the denial marker for the function.
fn refuse(
    services: &Services,
    response: &mut ApiGatewayV2CustomAuthorizerSimpleResponse,
    error: &Error,
) {
    if services.config.authorizer_deny == AuthorizerDeny::Function {
        response.is_authorized = true;
        response.context = Value::Object(denial(error));
    }
}

/// The marker a refused request carries to its function in the default deny mode.
fn denial(error: &Error) -> Map<String, Value> {
    let mut context = Map::new();
    let class = match error {
        Error::Unavailable(_) => "unavailable",
        Error::Internal(_) => "internal",
        Error::Forbidden(reason) => {
            context.insert(DENIED_REASON.into(), Value::String(reason.clone()));
            "forbidden"
        }
        Error::IpNotAllowed(_) => "ip_not_allowed",
        Error::Throttled(refusal) => {
            MeterHeaders::of_refusal(refusal).write_context(&mut context);
            match &refusal.reason {
                RefusalReason::RateLimited(name) => {
                    context.insert(REFUSED_LIMIT_FIELD.into(), Value::String(name.clone()));
                    "rate_limited"
                }
                RefusalReason::CreditsExhausted => "usage_exceeded",
            }
        }
        _ => "unauthenticated",
    };
    context.insert(DENIED_MARKER.into(), Value::String(class.into()));
    context
}
