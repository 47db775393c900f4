//! Teams, their members and their keys (service accounts). Tenant admins manage teams and
//! members; a team's admins (and tenant admins) create and manage the team's keys, which
//! belong to the team, not to the person who made them.

use super::api_keys::{CreatedKey, KeyPage, NewKeyInput, ScopePolicy};
use super::owner_budgets::BudgetState;
use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::new_ulid;
use crate::domain::ids;
use crate::domain::owner_budget::{BudgetOwner, OwnerBudgetInput};
use crate::domain::principal::Principal;
use crate::domain::team::{MAX_MEMBERS_PER_TEAM, Team, TeamMember, TeamRole};
use crate::domain::validation::Name;
use crate::store::teams::{AddMember, DeleteTeam};

/// A membership as set: `created` when the user was not a member before.
pub struct PutMember {
    pub member: TeamMember,
    pub created: bool,
}

impl Services {
    pub async fn create_team(&self, caller: &Principal, name: Option<&str>) -> Result<Team, Error> {
        caller.require_tenant_admin()?;
        let name = Name::parse("name", name.unwrap_or_default())?;
        let team = Team {
            tenant_id: caller.tenant_id.clone(),
            id: new_ulid().to_string(),
            name: name.into_inner(),
            created_at: now_epoch(),
            member_count: 0,
            active_keys: 0,
        };
        let event = self
            .team_event(EventType::TeamCreated, caller, &team.id)
            .with_detail("name", team.name.as_str());
        self.store.create_team(&team, &event).await?;
        Ok(team)
    }

    pub async fn list_teams(
        &self,
        caller: &Principal,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Team>, Option<String>), Error> {
        caller.require_tenant_admin()?;
        Ok(self
            .store
            .list_teams(&caller.tenant_id, limit, after)
            .await?)
    }

    /// A team of the caller's tenant (tenant admins); any other answers "not found".
    pub async fn get_team(&self, caller: &Principal, team_id: &str) -> Result<Team, Error> {
        caller.require_tenant_admin()?;
        self.team_of_tenant(&caller.tenant_id, team_id).await
    }

    pub async fn rename_team(
        &self,
        caller: &Principal,
        team_id: &str,
        name: Option<&str>,
    ) -> Result<Team, Error> {
        let team = self.get_team(caller, team_id).await?;
        let name = Name::parse("name", name.unwrap_or_default())?;
        let event = self
            .team_event(EventType::TeamRenamed, caller, team_id)
            .changed("name", team.name.as_str(), name.as_str());
        if !self
            .store
            .rename_team(&caller.tenant_id, team_id, name.as_str(), &event)
            .await?
        {
            return Err(Error::NotFound("team"));
        }
        Ok(Team {
            name: name.into_inner(),
            ..team
        })
    }

    /// Deletes a team with its memberships. Refused (409) while it has unrevoked keys: a
    /// service account is revoked on purpose, never as a side effect.
    pub async fn delete_team(&self, caller: &Principal, team_id: &str) -> Result<(), Error> {
        let team = self.get_team(caller, team_id).await?;
        let (live, _) = self
            .store
            .list_api_keys(&team.tenant_id, &team.id, false, 1, None)
            .await?;
        if !live.is_empty() || team.active_keys > 0 {
            return Err(Error::Conflict(
                "the team still has unrevoked keys; revoke them first".into(),
            ));
        }
        let (members, _) = self
            .store
            .list_team_members(&team.tenant_id, &team.id, MAX_MEMBERS_PER_TEAM + 1, None)
            .await?;
        let event = self
            .team_event(EventType::TeamDeleted, caller, team_id)
            .with_detail("name", team.name.as_str())
            .with_detail("members_removed", members.len());
        match self.store.delete_team(&team, &members, &event).await? {
            DeleteTeam::Deleted => Ok(()),
            DeleteTeam::Changed => Err(Error::Conflict(
                "the team changed meanwhile; try again".into(),
            )),
        }
    }

    /// Adds a user of the tenant to a team, or changes their role (default `member`).
    pub async fn put_team_member(
        &self,
        caller: &Principal,
        team_id: &str,
        user_id: &str,
        role: Option<&str>,
    ) -> Result<PutMember, Error> {
        caller.require_tenant_admin()?;
        let role = match role {
            None => TeamRole::Member,
            Some(raw) => TeamRole::parse(raw)
                .ok_or_else(|| Error::invalid("role", "must be \"admin\" or \"member\""))?,
        };
        if !ids::is_id(team_id) {
            return Err(Error::NotFound("team"));
        }
        if !ids::is_id(user_id) {
            return Err(Error::NotFound("user"));
        }
        let member = TeamMember {
            tenant_id: caller.tenant_id.clone(),
            team_id: team_id.to_owned(),
            user_id: user_id.to_owned(),
            role,
            added_at: now_epoch(),
        };
        let event = self
            .member_event(EventType::TeamMemberPut, caller, team_id, user_id)
            .with_detail("user_id", user_id);
        let added = event.clone().changed("role", None::<&str>, role.as_str());
        match self
            .store
            .add_team_member(&member, MAX_MEMBERS_PER_TEAM, &added)
            .await?
        {
            AddMember::Added => Ok(PutMember {
                member,
                created: true,
            }),
            AddMember::NoTeam => Err(Error::NotFound("team")),
            AddMember::NoUser => Err(Error::NotFound("user")),
            AddMember::Full => Err(Error::LimitReached(format!(
                "a team may have at most {MAX_MEMBERS_PER_TEAM} members"
            ))),
            AddMember::AlreadyMember => {
                let current = self
                    .store
                    .get_team_member(&caller.tenant_id, team_id, user_id)
                    .await?
                    .ok_or_else(|| Error::Conflict("the membership changed; try again".into()))?;
                let changed = event.changed("role", current.role.as_str(), role.as_str());
                if !self.store.set_team_member_role(&member, &changed).await? {
                    return Err(Error::Conflict("the membership changed; try again".into()));
                }
                Ok(PutMember {
                    member: TeamMember { role, ..current },
                    created: false,
                })
            }
        }
    }

    /// Removes a user from a team. Their team keys stay: they belong to the team.
    pub async fn remove_team_member(
        &self,
        caller: &Principal,
        team_id: &str,
        user_id: &str,
    ) -> Result<(), Error> {
        caller.require_tenant_admin()?;
        if !ids::is_id(team_id) || !ids::is_id(user_id) {
            return Err(Error::NotFound("team member"));
        }
        let event = self.member_event(EventType::TeamMemberRemoved, caller, team_id, user_id);
        if !self
            .store
            .remove_team_member(&caller.tenant_id, team_id, user_id, &event)
            .await?
        {
            return Err(Error::NotFound("team member"));
        }
        Ok(())
    }

    /// A team's members (tenant admins and the team's admins).
    pub async fn list_team_members(
        &self,
        caller: &Principal,
        team_id: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<TeamMember>, Option<String>), Error> {
        let team = self.require_team_admin(caller, team_id).await?;
        Ok(self
            .store
            .list_team_members(&team.tenant_id, &team.id, limit, after)
            .await?)
    }

    /// A team key (a service account): owned by the team, bounded by the caller's rights at
    /// creation (scopes, type, models, expiry, metering), following nobody afterwards.
    pub async fn create_team_key(
        &self,
        caller: &Principal,
        team_id: &str,
        input: NewKeyInput,
    ) -> Result<CreatedKey, Error> {
        let team = self.require_team_admin(caller, team_id).await?;
        self.create_key_for(
            &team.as_key_owner(),
            input,
            ScopePolicy::ALL,
            Some(caller),
            Some(&team),
        )
        .await
    }

    /// A team's keys, newest first (the key index, keyed by the team as owner).
    pub async fn list_team_keys(
        &self,
        caller: &Principal,
        team_id: &str,
        include_revoked: bool,
        limit: u32,
        after: Option<&str>,
    ) -> Result<KeyPage, Error> {
        let team = self.require_team_admin(caller, team_id).await?;
        let (keys, next_after) = self
            .store
            .list_api_keys(&team.tenant_id, &team.id, include_revoked, limit, after)
            .await?;
        Ok(KeyPage { keys, next_after })
    }

    /// Sets a team's budget, above every team key (tenant admins with `admin`).
    pub async fn put_team_budget(
        &self,
        caller: &Principal,
        team_id: &str,
        input: &OwnerBudgetInput,
    ) -> Result<BudgetState, Error> {
        let team = self.get_team(caller, team_id).await?;
        let owner = BudgetOwner::Team {
            tenant_id: &team.tenant_id,
            team_id: &team.id,
        };
        self.put_budget(owner, &team.id, input, Actor::of(caller))
            .await
    }

    /// A team's budget: tenant admins and the team's admins.
    pub async fn get_team_budget(
        &self,
        caller: &Principal,
        team_id: &str,
    ) -> Result<BudgetState, Error> {
        let team = self.require_team_admin(caller, team_id).await?;
        self.budget_state(BudgetOwner::Team {
            tenant_id: &team.tenant_id,
            team_id: &team.id,
        })
        .await
    }

    pub async fn delete_team_budget(&self, caller: &Principal, team_id: &str) -> Result<(), Error> {
        let team = self.get_team(caller, team_id).await?;
        let owner = BudgetOwner::Team {
            tenant_id: &team.tenant_id,
            team_id: &team.id,
        };
        self.delete_budget(owner, &team.id, Actor::of(caller)).await
    }

    /// The team, when the caller may manage its keys: a person's manager credential of a
    /// tenant admin (with `admin`) or of one of the team's admins. Not a member: 404; a
    /// member who is no admin: 403.
    async fn require_team_admin(&self, caller: &Principal, team_id: &str) -> Result<Team, Error> {
        caller.require_manager()?;
        caller.require_person()?;
        let team = self.team_of_tenant(&caller.tenant_id, team_id).await?;
        if caller.require_tenant_admin().is_ok() {
            return Ok(team);
        }
        match self
            .store
            .get_team_member(&caller.tenant_id, team_id, &caller.user_id)
            .await?
        {
            Some(member) if member.role == TeamRole::Admin => Ok(team),
            Some(_) => Err(Error::Forbidden(
                "only the team's admins manage its keys".into(),
            )),
            None => Err(Error::NotFound("team")),
        }
    }

    /// Whether the caller manages the keys of `team_id` (see `require_team_admin`).
    pub(crate) async fn administers_team(
        &self,
        caller: &Principal,
        team_id: &str,
    ) -> Result<bool, Error> {
        match self.require_team_admin(caller, team_id).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_) | Error::Forbidden(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn team_of_tenant(&self, tenant_id: &str, team_id: &str) -> Result<Team, Error> {
        if !ids::is_id(team_id) {
            return Err(Error::NotFound("team"));
        }
        self.store
            .get_team(tenant_id, team_id)
            .await?
            .ok_or(Error::NotFound("team"))
    }

    /// An event about a team, in the team's trail (its id is the subject, as for its keys).
    fn team_event(
        &self,
        event_type: EventType,
        caller: &Principal,
        team_id: &str,
    ) -> crate::domain::audit::AuditEvent {
        self.audit_event(
            event_type,
            &caller.tenant_id,
            team_id,
            Actor::of(caller),
            Target {
                kind: "team",
                id: team_id.to_owned(),
            },
        )
    }

    fn member_event(
        &self,
        event_type: EventType,
        caller: &Principal,
        team_id: &str,
        user_id: &str,
    ) -> crate::domain::audit::AuditEvent {
        self.audit_event(
            event_type,
            &caller.tenant_id,
            team_id,
            Actor::of(caller),
            Target {
                kind: "team_member",
                id: format!("{team_id}/{user_id}"),
            },
        )
    }
}
