//! Team items (`TENANT#<tid>` / `TEAM#<team_id>`, counting members and active team keys)
//! and members (`TEAM#<tid>#<team_id>` / `MEMBER#<uid>`). Every change writes its audit
//! event in the same transaction.

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use super::item::{Item, Reader, n, resume_after, s};
use super::keys::{self, PK, SK};
use super::transaction::Transaction;
use super::{Store, StoreError, primary_key};
use crate::domain::audit::AuditEvent;
use crate::domain::team::{Team, TeamMember, TeamRole};

/// How adding a member ended.
pub enum AddMember {
    Added,
    /// Already a member: change the role instead.
    AlreadyMember,
    NoTeam,
    NoUser,
    /// The team holds its maximum of members.
    Full,
}

/// How deleting a team ended.
pub enum DeleteTeam {
    Deleted,
    /// It changed meanwhile (a member added or removed, a key created): read it again.
    Changed,
}

fn team_key(tenant_id: &str, team_id: &str) -> Item {
    primary_key(keys::tenant(tenant_id), keys::team_sk(team_id))
}

fn member_key(tenant_id: &str, team_id: &str, user_id: &str) -> Item {
    primary_key(
        keys::team_members(tenant_id, team_id),
        keys::member_sk(user_id),
    )
}

fn team_item(team: &Team) -> Item {
    let mut item = team_key(&team.tenant_id, &team.id);
    item.insert("type".into(), s("Team"));
    item.insert("tenant_id".into(), s(&team.tenant_id));
    item.insert("team_id".into(), s(&team.id));
    item.insert("name".into(), s(&team.name));
    item.insert("created_at".into(), n(team.created_at));
    item.insert("member_count".into(), n(i64::from(team.member_count)));
    item.insert("active_keys".into(), n(i64::from(team.active_keys)));
    item
}

fn team_from(item: &Item) -> Result<Team, StoreError> {
    let r = Reader(item);
    Ok(Team {
        tenant_id: r.string("tenant_id")?,
        id: r.string("team_id")?,
        name: r.string("name")?,
        created_at: r.number("created_at")?,
        member_count: u32::try_from(r.opt_number("member_count").unwrap_or(0)).unwrap_or(0),
        active_keys: u32::try_from(r.opt_number("active_keys").unwrap_or(0)).unwrap_or(0),
    })
}

fn member_item(member: &TeamMember) -> Item {
    let mut item = member_key(&member.tenant_id, &member.team_id, &member.user_id);
    item.insert("type".into(), s("TeamMember"));
    item.insert("tenant_id".into(), s(&member.tenant_id));
    item.insert("team_id".into(), s(&member.team_id));
    item.insert("user_id".into(), s(&member.user_id));
    item.insert("role".into(), s(member.role.as_str()));
    item.insert("added_at".into(), n(member.added_at));
    item
}

fn member_from(item: &Item) -> Result<TeamMember, StoreError> {
    let r = Reader(item);
    Ok(TeamMember {
        tenant_id: r.string("tenant_id")?,
        team_id: r.string("team_id")?,
        user_id: r.string("user_id")?,
        role: TeamRole::parse(&r.string("role")?).unwrap_or(TeamRole::Member),
        added_at: r.number("added_at")?,
    })
}

fn values(pairs: &[(&str, i64)]) -> Item {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), n(*value)))
        .collect()
}

impl Store {
    pub async fn create_team(&self, team: &Team, event: &AuditEvent) -> Result<(), StoreError> {
        let mut transaction = Transaction::new();
        transaction.add(self.put_if(team_item(team), "attribute_not_exists(PK)"));
        transaction.add(self.audit_put(event));
        transaction.send(self).await?;
        Ok(())
    }

    /// A team, read strongly consistent (a change that returned is seen).
    pub async fn get_team(
        &self,
        tenant_id: &str,
        team_id: &str,
    ) -> Result<Option<Team>, StoreError> {
        let item = self.get(team_key(tenant_id, team_id), true).await?;
        item.as_ref().map(team_from).transpose()
    }

    /// A tenant's teams, oldest first (team ids are ULIDs), `limit` at a time.
    pub async fn list_teams(
        &self,
        tenant_id: &str,
        limit: u32,
        after_team_id: Option<&str>,
    ) -> Result<(Vec<Team>, Option<String>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :team)")
            .expression_attribute_values(":pk", s(keys::tenant(tenant_id)))
            .expression_attribute_values(":team", s(keys::TEAM_SK_PREFIX))
            .limit(limit as i32);
        if let Some(after) = after_team_id {
            query = query
                .exclusive_start_key(PK, s(keys::tenant(tenant_id)))
                .exclusive_start_key(SK, s(keys::team_sk(after)));
        }
        let output = query.send().await?;
        let teams = output
            .items()
            .iter()
            .map(team_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = resume_after(output.last_evaluated_key.is_some(), &teams, |t| &t.id);
        Ok((teams, next))
    }

    /// Renames a team; false when it is gone.
    pub async fn rename_team(
        &self,
        tenant_id: &str,
        team_id: &str,
        name: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut transaction = Transaction::new();
        let team = transaction.guarded(self.update_named_if(
            team_key(tenant_id, team_id),
            "SET #name = :name",
            "attribute_exists(PK)",
            [("#name".to_owned(), "name".to_owned())].into(),
            Item::from([(":name".to_owned(), s(name))]),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if team.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes a team with its `members` (as read), if it still has exactly them and no
    /// active key: one transaction of at most `MAX_MEMBERS_PER_TEAM` + 2 items.
    pub async fn delete_team(
        &self,
        team: &Team,
        members: &[TeamMember],
        event: &AuditEvent,
    ) -> Result<DeleteTeam, StoreError> {
        let mut transaction = Transaction::new();
        let guard = transaction.guarded(self.delete_if(
            team_key(&team.tenant_id, &team.id),
            Some(
                "attribute_exists(PK) AND member_count = :members \
                 AND (attribute_not_exists(active_keys) OR active_keys = :zero)",
            ),
            Default::default(),
            values(&[(":members", members.len() as i64), (":zero", 0)]),
        ));
        let mut member_guards = Vec::new();
        for member in members {
            member_guards.push(transaction.guarded(self.delete_if(
                member_key(&member.tenant_id, &member.team_id, &member.user_id),
                Some("attribute_exists(PK)"),
                Default::default(),
                Item::new(),
            )));
        }
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(DeleteTeam::Deleted),
            Err(error)
                if guard.failed(&error) || member_guards.iter().any(|g| g.failed(&error)) =>
            {
                Ok(DeleteTeam::Changed)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Adds a user of the tenant to a team with fewer than `max_members` members.
    pub async fn add_team_member(
        &self,
        member: &TeamMember,
        max_members: u32,
        event: &AuditEvent,
    ) -> Result<AddMember, StoreError> {
        let mut transaction = Transaction::new();
        let user = transaction.guarded(self.exists(primary_key(
            keys::tenant(&member.tenant_id),
            keys::user_sk(&member.user_id),
        )));
        let team = transaction.guarded(self.update_if(
            team_key(&member.tenant_id, &member.team_id),
            "SET member_count = member_count + :one",
            "attribute_exists(PK) AND member_count < :max",
            values(&[(":one", 1), (":max", i64::from(max_members))]),
        ));
        let new = transaction.guarded(self.put_if(member_item(member), "attribute_not_exists(PK)"));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(AddMember::Added),
            Err(error) if user.failed(&error) => Ok(AddMember::NoUser),
            Err(error) if new.failed(&error) => Ok(AddMember::AlreadyMember),
            Err(error) if team.failed(&error) => {
                match self.get_team(&member.tenant_id, &member.team_id).await? {
                    Some(_) => Ok(AddMember::Full),
                    None => Ok(AddMember::NoTeam),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Changes a member's role; false when they are no longer a member.
    pub async fn set_team_member_role(
        &self,
        member: &TeamMember,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut transaction = Transaction::new();
        let current = transaction.guarded(self.update_named_if(
            member_key(&member.tenant_id, &member.team_id, &member.user_id),
            "SET #role = :role",
            "attribute_exists(PK)",
            [("#role".to_owned(), "role".to_owned())].into(),
            Item::from([(":role".to_owned(), s(member.role.as_str()))]),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if current.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Removes a member; false when they were not one.
    pub async fn remove_team_member(
        &self,
        tenant_id: &str,
        team_id: &str,
        user_id: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut transaction = Transaction::new();
        let member = transaction.guarded(self.delete_if(
            member_key(tenant_id, team_id, user_id),
            Some("attribute_exists(PK)"),
            Default::default(),
            Item::new(),
        ));
        transaction.add(self.update_if(
            team_key(tenant_id, team_id),
            "SET member_count = member_count - :one",
            "attribute_exists(PK) AND member_count >= :one",
            values(&[(":one", 1)]),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if member.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// A user's membership of a team, read strongly consistent (a removal that returned
    /// takes the team admin's rights away at once).
    pub async fn get_team_member(
        &self,
        tenant_id: &str,
        team_id: &str,
        user_id: &str,
    ) -> Result<Option<TeamMember>, StoreError> {
        let item = self
            .get(member_key(tenant_id, team_id, user_id), true)
            .await?;
        item.as_ref().map(member_from).transpose()
    }

    /// A team's members, by user id, `limit` at a time (consistent: a delete reads them).
    pub async fn list_team_members(
        &self,
        tenant_id: &str,
        team_id: &str,
        limit: u32,
        after_user_id: Option<&str>,
    ) -> Result<(Vec<TeamMember>, Option<String>), StoreError> {
        let partition = keys::team_members(tenant_id, team_id);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :member)")
            .expression_attribute_values(":pk", s(&partition))
            .expression_attribute_values(":member", s(keys::MEMBER_SK_PREFIX))
            .consistent_read(true)
            .limit(limit as i32);
        if let Some(after) = after_user_id {
            query = query
                .exclusive_start_key(PK, s(&partition))
                .exclusive_start_key(SK, s(keys::member_sk(after)));
        }
        let output = query.send().await?;
        let members = output
            .items()
            .iter()
            .map(member_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = resume_after(output.last_evaluated_key.is_some(), &members, |m| {
            &m.user_id
        });
        Ok((members, next))
    }

    /// A transactional check that the item at `key` exists.
    fn exists(&self, key: Item) -> TransactWriteItem {
        TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .condition_expression("attribute_exists(PK)")
                    .build()
                    .expect("table, key and condition are set"),
            )
            .build()
    }
}
