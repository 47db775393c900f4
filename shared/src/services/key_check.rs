//! The verify API's use case: a service outside this API Gateway asks whether a credential
//! its own caller presented is valid, may hold some scopes, and may call a route. It runs the
//! same verification as the authorizer (`check_credential`) and the same route policy.

use super::auth::Refused;
use super::metering::Admission;
use super::{Error, Services};
use crate::domain::allowed_ips::{IP_NOT_ALLOWED, IP_NOT_ALLOWED_MESSAGE};
use crate::domain::credential::Unusable;
use crate::domain::metering::{MeterStatus, RefusalReason};
use crate::domain::models::parse_model;
use crate::domain::principal::Principal;
use crate::domain::scope::{Scope, Scopes};

/// The verify API's answer codes (`code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckCode {
    Valid,
    NotFound,
    Expired,
    Disabled,
    Revoked,
    InsufficientPermissions,
    ForbiddenRoute,
    ForbiddenModel,
    RateLimited,
    UsageExceeded,
    IpNotAllowed,
}

impl CheckCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::NotFound => "NOT_FOUND",
            Self::Expired => "EXPIRED",
            Self::Disabled => "DISABLED",
            Self::Revoked => "REVOKED",
            Self::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            Self::ForbiddenRoute => "FORBIDDEN_ROUTE",
            Self::ForbiddenModel => "FORBIDDEN_MODEL",
            Self::RateLimited => "RATE_LIMITED",
            Self::UsageExceeded => "USAGE_EXCEEDED",
            Self::IpNotAllowed => IP_NOT_ALLOWED,
        }
    }
}

/// What a service asks about a presented credential.
#[derive(Debug, Default)]
pub struct CheckRequest {
    pub key: Option<String>,
    /// `METHOD /path`, judged by the route policy as the authorizer would.
    pub route: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// What the check spends; without it, the cost of `route` in the policy (nothing when
    /// neither is given). 0 checks without spending.
    pub cost: Option<i64>,
    /// The model the call is for: refused (`FORBIDDEN_MODEL`) unless the credential may use it.
    pub model: Option<String>,
    /// The address the service's caller connected from: a credential held to some
    /// networks is refused (`IP_NOT_ALLOWED`) unless it is given and within them.
    pub ip: Option<String>,
}

/// The answer. `principal` is set only for a credential of the caller's tenant that verified
/// (VALID, INSUFFICIENT_PERMISSIONS, FORBIDDEN_ROUTE, FORBIDDEN_MODEL, IP_NOT_ALLOWED).
#[derive(Debug)]
pub struct CheckOutcome {
    pub code: CheckCode,
    pub principal: Option<Principal>,
    pub reason: Option<String>,
    /// What a call on `route` costs when admitted.
    pub cost: Option<u32>,
    /// Where the key's limits and credits stand after this check (metered keys only).
    pub meter: Option<MeterStatus>,
}

impl Services {
    /// Checks `request.key` for `caller`: an admin-type credential holding `verify`, not a
    /// temp token; only credentials of the caller's own tenant are reported on.
    pub async fn check_presented_credential(
        &self,
        caller: &Principal,
        request: CheckRequest,
    ) -> Result<CheckOutcome, Error> {
        caller.require_full_key()?;
        caller.require_scope(Scope::Verify)?;
        if caller.temporary {
            // Temp tokens are handed to browsers and end users; a service holds a key.
            return Err(Error::Forbidden(
                "the verify API takes a service key, not a temp token".into(),
            ));
        }
        let key = request
            .key
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| Error::invalid("key", "is required"))?;
        let wanted = match request.scopes.as_deref() {
            None | Some([]) => Scopes::default(),
            Some(raw) => Scopes::parse("scopes", raw, &Scope::ALL)?,
        };
        let policy = self.config.route_policy.get()?;
        let rule = request
            .route
            .as_deref()
            .map(|route| policy.for_route(route))
            .transpose()
            .map_err(|reason| Error::invalid("route", reason))?;
        if request
            .cost
            .is_some_and(|cost| !(0..=1_000_000).contains(&cost))
        {
            return Err(Error::invalid(
                "cost",
                "must be a whole number from 0 to 1000000",
            ));
        }
        if let Some(model) = &request.model {
            parse_model("model", model)?;
        }
        let ip = request
            .ip
            .as_deref()
            .map(|raw| {
                raw.trim().parse::<std::net::IpAddr>().map_err(|_| {
                    Error::invalid("ip", "must be an IPv4 or IPv6 address (e.g. 203.0.113.7)")
                })
            })
            .transpose()?
            .map(|ip| ip.to_string());
        let refused = |code| CheckOutcome {
            code,
            principal: None,
            reason: None,
            cost: None,
            meter: None,
        };
        let principal = match self.check_credential(key.trim()).await {
            Ok(principal) if principal.tenant_id == caller.tenant_id => principal,
            // Another tenant's credential is none of this caller's business.
            Ok(_) | Err(Refused::NotFound) => return Ok(refused(CheckCode::NotFound)),
            Err(Refused::Unusable { tenant_id, .. }) if tenant_id != caller.tenant_id => {
                return Ok(refused(CheckCode::NotFound));
            }
            Err(Refused::Unusable { why, .. }) => {
                return Ok(refused(match why {
                    // A suspended tenant's or a deactivated user's credential is as good as
                    // revoked to the asking service.
                    Unusable::Revoked | Unusable::Suspended | Unusable::Deactivated => {
                        CheckCode::Revoked
                    }
                    Unusable::Disabled => CheckCode::Disabled,
                    Unusable::Expired => CheckCode::Expired,
                }));
            }
            Err(Refused::Store(error)) => return Err(Error::from(error)),
        };
        let mut outcome = CheckOutcome {
            code: CheckCode::Valid,
            principal: None,
            reason: None,
            cost: None,
            meter: None,
        };
        if !principal.may_be_used_from(ip.as_deref()) {
            outcome.code = CheckCode::IpNotAllowed;
            outcome.reason = Some(match &ip {
                Some(_) => IP_NOT_ALLOWED_MESSAGE.to_owned(),
                None => "this credential may be used only from some networks: give `ip`".into(),
            });
        } else if let Some(missing) = wanted.iter().find(|s| !principal.scopes.contains(*s)) {
            outcome.code = CheckCode::InsufficientPermissions;
            outcome.reason = Some(format!(
                "the credential lacks the '{}' scope",
                missing.as_str()
            ));
        } else if let Some(model) = request
            .model
            .as_deref()
            .filter(|model| !principal.models.allows(model))
        {
            outcome.code = CheckCode::ForbiddenModel;
            outcome.reason = Some(format!("the credential may not use the model '{model}'"));
        } else if let Some(rule) = rule {
            let decision = rule.evaluate(&principal);
            outcome.cost = Some(decision.cost);
            if let Some(reason) = decision.reason {
                outcome.code = CheckCode::ForbiddenRoute;
                outcome.reason = Some(reason);
            }
        }
        if outcome.code == CheckCode::Valid {
            // Admitted exactly as the authorizer admits: every counter moves, or none.
            let spend = request
                .cost
                .or(outcome.cost.map(i64::from))
                .unwrap_or_default();
            match self.admit(&principal, spend).await {
                // A check that spends nothing reports where every budget stands.
                Ok(Admission::Unmetered) if spend == 0 => {
                    outcome.meter = MeterStatus::combined(self.budget_status(&principal).await?);
                }
                Ok(Admission::Unmetered | Admission::AdmittedUnseen(_)) => {}
                Ok(Admission::Admitted(status)) => outcome.meter = Some(status),
                Err(Error::Throttled(refusal)) => {
                    outcome.code = match refusal.reason {
                        RefusalReason::RateLimited(_) => CheckCode::RateLimited,
                        RefusalReason::CreditsExhausted => CheckCode::UsageExceeded,
                    };
                    outcome.reason = Some(refusal.message());
                    outcome.meter = Some(refusal.status);
                }
                Err(error) => return Err(error),
            }
        }
        outcome.principal = Some(principal);
        Ok(outcome)
    }
}
