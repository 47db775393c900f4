//! User and tenant budgets: `PUT|GET|DELETE /v1/users/{id}/budget`, `GET /v1/tenant/budget`
//! and the operator's `keygate-admin tenant-budget` (a team's, `/v1/teams/{id}/budget`, is
//! set by the same code from `services::teams`). Setting one takes effect at the next
//! verification of every credential of the user (of the tenant): the budget is read with
//! the credential (README, "Budgets").

use super::metering::current_status;
use super::metering::meter_start;
use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::ids;
use crate::domain::metering::MeterStatus;
use crate::domain::owner_budget::{BudgetOwner, OwnerBudget, OwnerBudgetInput, parse_owner_budget};
use crate::domain::principal::Principal;

/// A budget as it stands: its policy and where its limits and balance are now.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetState {
    pub budget: OwnerBudget,
    pub status: MeterStatus,
}

impl Services {
    /// Sets a user's budget (tenant admins with the `admin` scope).
    pub async fn put_user_budget(
        &self,
        caller: &Principal,
        user_id: &str,
        input: &OwnerBudgetInput,
    ) -> Result<BudgetState, Error> {
        // A tenant admin's credential with the `admin` scope, and a user of the tenant.
        self.get_tenant_user(caller, user_id).await?;
        let owner = BudgetOwner::User {
            tenant_id: &caller.tenant_id,
            user_id,
        };
        self.put_budget(owner, user_id, input, Actor::of(caller))
            .await
    }

    /// A user's budget: the user themself, or a tenant admin with the `admin` scope.
    pub async fn get_user_budget(
        &self,
        caller: &Principal,
        user_id: &str,
    ) -> Result<BudgetState, Error> {
        if user_id != caller.user_id {
            caller.require_tenant_admin()?;
        }
        if !ids::is_id(user_id) {
            return Err(Error::NotFound("budget"));
        }
        self.budget_state(BudgetOwner::User {
            tenant_id: &caller.tenant_id,
            user_id,
        })
        .await
    }

    /// Removes a user's budget (tenant admins with the `admin` scope).
    pub async fn delete_user_budget(&self, caller: &Principal, user_id: &str) -> Result<(), Error> {
        caller.require_tenant_admin()?;
        if !ids::is_id(user_id) {
            return Err(Error::NotFound("budget"));
        }
        let owner = BudgetOwner::User {
            tenant_id: &caller.tenant_id,
            user_id,
        };
        self.delete_budget(owner, user_id, Actor::of(caller)).await
    }

    /// The caller's tenant's budget (its admins).
    pub async fn get_tenant_budget(&self, caller: &Principal) -> Result<BudgetState, Error> {
        caller.require_tenant_admin()?;
        self.budget_state(BudgetOwner::Tenant {
            tenant_id: &caller.tenant_id,
        })
        .await
    }

    /// Sets a tenant's budget: the operator's command line, acting as the system.
    pub async fn set_tenant_budget(
        &self,
        tenant_id: &str,
        input: &OwnerBudgetInput,
    ) -> Result<BudgetState, Error> {
        self.require_tenant(tenant_id).await?;
        let owner = BudgetOwner::Tenant { tenant_id };
        self.put_budget(owner, "", input, Actor::system("system", None))
            .await
    }

    /// A tenant's budget as it stands (the operator's command line).
    pub async fn tenant_budget(&self, tenant_id: &str) -> Result<BudgetState, Error> {
        self.require_tenant(tenant_id).await?;
        self.budget_state(BudgetOwner::Tenant { tenant_id }).await
    }

    /// Removes a tenant's budget (the operator's command line).
    pub async fn clear_tenant_budget(&self, tenant_id: &str) -> Result<(), Error> {
        self.require_tenant(tenant_id).await?;
        let owner = BudgetOwner::Tenant { tenant_id };
        self.delete_budget(owner, "", Actor::system("system", None))
            .await
    }

    async fn require_tenant(&self, tenant_id: &str) -> Result<(), Error> {
        if !ids::is_id(tenant_id) || self.store.get_tenant(tenant_id).await?.is_none() {
            return Err(Error::NotFound("tenant"));
        }
        Ok(())
    }

    /// Writes a budget with a balance of `credits.remaining` and every new limit's window
    /// starting now; the audit event in the same transaction. `subject` is the user whose
    /// trail records it (none for a tenant's).
    pub(super) async fn put_budget(
        &self,
        owner: BudgetOwner<'_>,
        subject: &str,
        input: &OwnerBudgetInput,
        actor: Actor,
    ) -> Result<BudgetState, Error> {
        if !self.config.owner_budgets {
            return Err(Error::Conflict(
                "user and tenant budgets are off in this deployment (KEYGATE_OWNER_BUDGETS=off): \
                 a budget set now would hold nothing"
                    .into(),
            ));
        }
        let (budget, credits) = parse_owner_budget(input)?;
        let now = now_epoch();
        let start = meter_start(&budget.metering, credits.as_ref(), now);
        let meter_id = owner.meter_id();
        let event = self
            .budget_event(EventType::BudgetSet, owner, subject, actor)
            .with_detail(
                "ratelimits",
                serde_json::to_value(&budget.metering.ratelimits).unwrap_or_default(),
            )
            .with_detail("credits_remaining", credits.as_ref().map(|c| c.remaining))
            .with_detail("models", budget.models.names().map(<[String]>::to_vec));
        self.store
            .put_owner_budget(&meter_id, &budget, &start, &event)
            .await?;
        self.budget_state(owner).await
    }

    pub(super) async fn delete_budget(
        &self,
        owner: BudgetOwner<'_>,
        subject: &str,
        actor: Actor,
    ) -> Result<(), Error> {
        let event = self.budget_event(EventType::BudgetRemoved, owner, subject, actor);
        if !self
            .store
            .delete_owner_budget(&owner.meter_id(), &event)
            .await?
        {
            return Err(Error::NotFound("budget"));
        }
        Ok(())
    }

    fn budget_event(
        &self,
        event_type: EventType,
        owner: BudgetOwner<'_>,
        subject: &str,
        actor: Actor,
    ) -> crate::domain::audit::AuditEvent {
        let (tenant_id, target) = match owner {
            BudgetOwner::User { tenant_id, user_id } => (
                tenant_id,
                Target {
                    kind: "user_budget",
                    id: user_id.to_owned(),
                },
            ),
            BudgetOwner::Tenant { tenant_id } => (
                tenant_id,
                Target {
                    kind: "tenant_budget",
                    id: tenant_id.to_owned(),
                },
            ),
            BudgetOwner::Team { tenant_id, team_id } => (
                tenant_id,
                Target {
                    kind: "team_budget",
                    id: team_id.to_owned(),
                },
            ),
        };
        self.audit_event(event_type, tenant_id, subject, actor, target)
    }

    /// A budget and where it stands now (one strongly consistent read).
    pub(super) async fn budget_state(&self, owner: BudgetOwner<'_>) -> Result<BudgetState, Error> {
        let (budget, seen) = self
            .store
            .get_owner_budget(&owner.meter_id())
            .await?
            .ok_or(Error::NotFound("budget"))?;
        let status = current_status(&budget.metering, &seen, now_epoch());
        Ok(BudgetState { budget, status })
    }
}
