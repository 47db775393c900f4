//! Budgets above every key: a user's and a tenant's. Each is one meter (limits and credits,
//! as a key's) with a list of allowed models, and every request of every credential of that
//! user (of any user of that tenant) is charged against it, whichever key, token or session
//! it came through. Rights only narrow: a key's effective models are what its own list, its
//! user's and its tenant's all allow.

use serde::Deserialize;

use super::Invalid;
use super::metering::{
    Budget, Credits, CreditsInput, CreditsPolicy, Metering, RateLimitInput, parse_credits,
    parse_ratelimits,
};
use super::models::AllowedModels;

/// Whose budget: one user's, or a whole tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetOwner<'a> {
    User {
        tenant_id: &'a str,
        user_id: &'a str,
    },
    Tenant {
        tenant_id: &'a str,
    },
    /// A team's budget, above its team keys (which carry the team in their owner slot, so
    /// verification reads it as it reads a user's: same meter id shape).
    Team {
        tenant_id: &'a str,
        team_id: &'a str,
    },
}

impl BudgetOwner<'_> {
    /// The meter counting this budget. A user id and a tenant id are ULIDs and `tenant` is
    /// none, so the two kinds never share a meter, nor with a key (whose meter id is its id).
    pub fn meter_id(&self) -> String {
        match self {
            Self::User { tenant_id, user_id } => format!("{tenant_id}.{user_id}"),
            Self::Tenant { tenant_id } => format!("{tenant_id}.tenant"),
            Self::Team { tenant_id, team_id } => format!("{tenant_id}.{team_id}"),
        }
    }

    pub const fn level(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::Tenant { .. } => "tenant",
            Self::Team { .. } => "team",
        }
    }
}

/// What a user or a tenant may spend, and on which models.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnerBudget {
    pub metering: Metering,
    pub models: AllowedModels,
}

impl OwnerBudget {
    /// The budget as a request is charged against it (`None`: it only lists models).
    pub fn charged(&self, meter_id: String) -> Option<Budget> {
        self.metering.is_metered().then(|| Budget {
            meter_id,
            metering: self.metering.clone(),
        })
    }
}

/// Client input for `PUT /v1/users/{id}/budget` and the tenant budget, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerBudgetInput {
    pub ratelimits: Option<Vec<RateLimitInput>>,
    pub credits: Option<CreditsInput>,
    pub models: Option<Vec<String>>,
}

/// Validates a budget as a key's limits, credits and models are validated; at least one of
/// them (DELETE removes a budget). Returns the budget and the balance to start with.
pub fn parse_owner_budget(
    raw: &OwnerBudgetInput,
) -> Result<(OwnerBudget, Option<Credits>), Invalid> {
    let ratelimits = match &raw.ratelimits {
        Some(limits) => parse_ratelimits("ratelimits", limits)?,
        None => Vec::new(),
    };
    let credits = raw
        .credits
        .as_ref()
        .map(|credits| parse_credits("credits", credits))
        .transpose()?;
    let models = match &raw.models {
        Some(names) => AllowedModels::parse("models", names)?,
        None => AllowedModels::any(),
    };
    let budget = OwnerBudget {
        metering: Metering {
            ratelimits,
            credits: credits.as_ref().map(|c| CreditsPolicy {
                refill: c.refill.clone(),
                initial: None,
            }),
        },
        models,
    };
    if !budget.metering.is_metered() && budget.models.names().is_none() {
        return Err(Invalid::new(
            "ratelimits",
            "a budget needs ratelimits, credits or models (DELETE removes it)",
        ));
    }
    Ok((budget, credits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> OwnerBudgetInput {
        serde_json::from_str(json).expect("valid input")
    }

    #[test]
    fn a_budget_needs_something_to_hold() {
        let empty = parse_owner_budget(&input("{}")).unwrap_err();
        assert_eq!(empty.field, "ratelimits");
        let (models_only, credits) =
            parse_owner_budget(&input(r#"{"models": ["gpt-4o"]}"#)).unwrap();
        assert!(!models_only.metering.is_metered());
        assert_eq!(models_only.charged("m".into()), None);
        assert!(credits.is_none());
        let (metered, credits) = parse_owner_budget(&input(
            r#"{"ratelimits": [{"name": "rpm", "limit": 3, "window_secs": 60}], "credits": {"remaining": 9}}"#,
        ))
        .unwrap();
        assert_eq!(credits.map(|c| c.remaining), Some(9));
        assert_eq!(
            metered.charged("m".into()).map(|b| b.meter_id),
            Some("m".into())
        );
        assert!(metered.models.names().is_none());
    }

    #[test]
    fn bad_fields_are_named() {
        let limit = parse_owner_budget(&input(
            r#"{"ratelimits": [{"name": "rpm", "limit": 0, "window_secs": 60}]}"#,
        ))
        .unwrap_err();
        assert_eq!(limit.field, "ratelimits[0].limit");
        let models = parse_owner_budget(&input(r#"{"models": []}"#)).unwrap_err();
        assert_eq!(models.field, "models");
        let credits = parse_owner_budget(&input(r#"{"credits": {"remaining": -1}}"#)).unwrap_err();
        assert_eq!(credits.field, "credits.remaining");
    }

    #[test]
    fn users_and_tenants_have_meters_of_their_own() {
        let user = BudgetOwner::User {
            tenant_id: "T",
            user_id: "U",
        };
        let tenant = BudgetOwner::Tenant { tenant_id: "T" };
        assert_ne!(user.meter_id(), tenant.meter_id());
        assert_ne!(user.meter_id(), "U");
        assert_eq!((user.level(), tenant.level()), ("user", "tenant"));
        // A team key carries its team in the user slot: its verification reads this meter.
        let team = BudgetOwner::Team {
            tenant_id: "T",
            team_id: "U",
        };
        assert_eq!(team.meter_id(), user.meter_id());
        assert_eq!(team.level(), "team");
    }
}
