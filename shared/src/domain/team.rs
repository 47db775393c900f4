//! Teams: groups of a tenant's users that own service-account keys (team keys). The
//! organisation is tenant → teams → users and service accounts → keys.

use super::scope::UserRole;
use super::user::User;

/// At most this many active team keys per team, held by a counter on the team item (the
/// same conditional write as a user's).
pub const MAX_ACTIVE_KEYS_PER_TEAM: u32 = 10;

/// At most this many members per team, held by a counter on the team item, so a team is
/// deleted with all its members in one transaction (DynamoDB takes 100 items).
pub const MAX_MEMBERS_PER_TEAM: u32 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub member_count: u32,
    /// Unrevoked, unpaused, unrolled team keys (the limit's counter).
    pub active_keys: u32,
}

impl Team {
    /// The team as the owner of its keys: its id stands in the user slot of the key and of
    /// its secret, so verification reads the team's budget (`KEY#<tid>.<team_id>`) where a
    /// person's key reads its user's. A team key never acts as a tenant admin, and has no
    /// email (it cannot be exchanged by `{email, api_key}`).
    pub fn as_key_owner(&self) -> User {
        User {
            tenant_id: self.tenant_id.clone(),
            id: self.id.clone(),
            email: String::new(),
            name: Some(self.name.clone()),
            role: UserRole::Member,
            cac_verified: false,
            created_at: self.created_at,
            deactivated_at: None,
        }
    }
}

/// A member's role in a team: an admin manages the team's keys; a member belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamRole {
    Admin,
    Member,
}

impl TeamRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub tenant_id: String,
    pub team_id: String,
    pub user_id: String,
    pub role: TeamRole,
    pub added_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_nothing_else_parses() {
        for role in [TeamRole::Admin, TeamRole::Member] {
            assert_eq!(TeamRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(TeamRole::parse("owner"), None);
        assert_eq!(TeamRole::parse("Admin"), None);
    }

    #[test]
    fn a_team_owns_its_keys_as_a_member_without_an_email() {
        let team = Team {
            tenant_id: "t".into(),
            id: "team".into(),
            name: "Data".into(),
            created_at: 5,
            member_count: 0,
            active_keys: 0,
        };
        let owner = team.as_key_owner();
        assert_eq!((owner.tenant_id.as_str(), owner.id.as_str()), ("t", "team"));
        assert_eq!(owner.role, UserRole::Member);
        assert!(owner.email.is_empty());
    }
}
