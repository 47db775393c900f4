//! Scopes limit what a credential may do; roles say which kind of caller it is.

use serde::{Deserialize, Serialize};

use super::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Chat,
    Read,
    Write,
    Admin,
    /// A service key's right to check other credentials of its tenant (`POST
    /// /v1/keys/verify`); only a tenant admin may hand it out.
    Verify,
    /// Report usage after an AI call (`POST /v1/usage`): a platform function's key.
    Usage,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Chat,
        Scope::Read,
        Scope::Write,
        Scope::Admin,
        Scope::Verify,
        Scope::Usage,
    ];
    /// What a user's own sign-in may carry: every scope but the service scopes `verify` and
    /// `usage`.
    pub const USER: [Scope; 4] = [Scope::Chat, Scope::Read, Scope::Write, Scope::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
            Self::Verify => "verify",
            Self::Usage => "usage",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }
}

/// A sorted, duplicate-free set of scopes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn default_for_new_key() -> Self {
        Self(vec![Scope::Chat, Scope::Read])
    }

    pub fn all() -> Self {
        Self(Scope::ALL.to_vec())
    }

    /// Every scope a user's own sign-in carries (all but `verify`).
    pub fn user() -> Self {
        Self(Scope::USER.to_vec())
    }

    /// Parses client input, naming the field and the allowed values on error.
    pub fn parse(field: &str, raw: &[String], allowed: &[Scope]) -> Result<Self, Invalid> {
        let mut scopes = Vec::with_capacity(raw.len());
        for (index, name) in raw.iter().enumerate() {
            match Scope::parse(name) {
                Some(scope) if allowed.contains(&scope) => scopes.push(scope),
                _ => {
                    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
                    return Err(Invalid::new(
                        format!("{field}[{index}]"),
                        format!("unknown scope {name:?}; allowed: {}", names.join(", ")),
                    ));
                }
            }
        }
        if scopes.is_empty() {
            return Err(Invalid::new(field, "must name at least one scope"));
        }
        Ok(Self::from_iter(scopes))
    }

    /// Reads scopes written by keygate itself; unknown names are dropped.
    pub fn from_stored<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        names.into_iter().filter_map(Scope::parse).collect()
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|scope| other.contains(*scope))
    }

    /// The scopes held by both: what a token keeps of its key as the key is now.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        self.iter().filter(|scope| other.contains(*scope)).collect()
    }

    /// Holds every scope a user's sign-in carries (`verify` is a service key's scope, which
    /// no password or session gives).
    pub fn has_every_user_scope(&self) -> bool {
        Scope::USER.iter().all(|scope| self.contains(*scope))
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut scopes: Vec<Scope> = iter.into_iter().collect();
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }
}

/// `admin` keys may do everything their user may; `asker` keys only ask (chat, me, temp tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    #[default]
    Admin,
    Asker,
}

impl KeyType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Asker => "asker",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            "asker" => Some(Self::Asker),
            _ => None,
        }
    }

    /// Whether a credential of this type may mint one of `other`.
    pub fn may_mint(self, other: KeyType) -> bool {
        self == KeyType::Admin || other == KeyType::Asker
    }

    /// The weaker of two types: a token is no stronger than the key behind it.
    pub fn weaker(self, other: KeyType) -> KeyType {
        if self.may_mint(other) { other } else { self }
    }
}

/// A user's role within their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    #[default]
    Member,
}

impl UserRole {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_sorted_and_named_on_error() {
        let raw = vec!["read".to_owned(), "chat".to_owned(), "read".to_owned()];
        let scopes = Scopes::parse("scopes", &raw, &Scope::ALL).unwrap();
        assert_eq!(scopes.names(), vec!["chat", "read"]);
        let err = Scopes::parse("scopes", &["root".to_owned()], &Scope::ALL).unwrap_err();
        assert_eq!(err.field, "scopes[0]");
        assert!(Scopes::parse("scopes", &[], &Scope::ALL).is_err());
        let no_admin = [Scope::Chat, Scope::Read, Scope::Write];
        assert!(Scopes::parse("scopes", &["admin".to_owned()], &no_admin).is_err());
    }

    #[test]
    fn intersections_and_weaker_types_only_narrow() {
        let chat_read = Scopes::default_for_new_key();
        assert_eq!(Scopes::all().intersection(&chat_read), chat_read);
        let read = Scopes::from_stored(["read"]);
        assert_eq!(chat_read.intersection(&read), read);
        assert!(Scopes::all().has_every_user_scope() && Scopes::user().has_every_user_scope());
        assert!(!chat_read.has_every_user_scope());
        assert_eq!(KeyType::Admin.weaker(KeyType::Asker), KeyType::Asker);
        assert_eq!(KeyType::Asker.weaker(KeyType::Admin), KeyType::Asker);
        assert_eq!(KeyType::Admin.weaker(KeyType::Admin), KeyType::Admin);
    }

    #[test]
    fn user_roles_round_trip() {
        for role in [UserRole::Admin, UserRole::Member] {
            assert_eq!(UserRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(UserRole::parse("root"), None);
    }

    #[test]
    fn askers_cannot_mint_admins() {
        assert!(KeyType::Admin.may_mint(KeyType::Asker));
        assert!(KeyType::Asker.may_mint(KeyType::Asker));
        assert!(!KeyType::Asker.may_mint(KeyType::Admin));
    }
}
