//! The authenticated caller, and the context form the authorizer hands to functions.

use serde_json::{Map, Value};

use super::credential::CredentialKind;
use super::scope::{KeyType, Scope, Scopes, UserRole};
use super::token::ChatRole;

#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub tenant_id: String,
    pub user_id: String,
    pub email: String,
    pub user_role: UserRole,
    pub kind: CredentialKind,
    /// The presented credential's id (key id, token id or session id).
    pub credential_id: String,
    /// The API key behind the credential (itself, or the key that minted a token).
    pub key_id: Option<String>,
    pub key_type: KeyType,
    pub scopes: Scopes,
    pub expires_at: Option<i64>,
    pub chat_role: Option<ChatRole>,
    pub user_profile: Option<Map<String, Value>>,
}

/// Why a valid credential may not do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl Principal {
    pub fn require_scope(&self, scope: Scope) -> Result<(), Denied> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(Denied(format!(
                "this credential lacks the '{}' scope",
                scope.as_str()
            )))
        }
    }

    /// A credential may hand out only scopes it holds itself (no key mints a stronger one).
    pub fn require_scopes_within(&self, wanted: &Scopes) -> Result<(), Denied> {
        if wanted.is_subset_of(&self.scopes) {
            Ok(())
        } else {
            Err(Denied(format!(
                "this credential may grant only its own scopes ({})",
                self.scopes.names().join(", ")
            )))
        }
    }

    /// Asker keys may only ask: everything outside their short list is refused.
    pub fn require_full_key(&self) -> Result<(), Denied> {
        match self.key_type {
            KeyType::Admin => Ok(()),
            KeyType::Asker => Err(Denied(
                "asker credentials may only use chats, /v1/auth/me and /v1/auth/tokens".into(),
            )),
        }
    }

    pub fn require_tenant_admin(&self) -> Result<(), Denied> {
        self.require_full_key()?;
        match self.user_role {
            UserRole::Admin => Ok(()),
            UserRole::Member => Err(Denied("this route needs a tenant admin".into())),
        }
    }

    /// The flat string map an API Gateway authorizer passes in its `context`.
    pub fn to_context(&self) -> Map<String, Value> {
        let mut context = Map::new();
        let mut put = |name: &str, value: String| {
            context.insert(name.to_owned(), Value::String(value));
        };
        put("tenant_id", self.tenant_id.clone());
        put("user_id", self.user_id.clone());
        put("email", self.email.clone());
        put("user_role", self.user_role.as_str().to_owned());
        put("kind", self.kind.as_str().to_owned());
        put("credential_id", self.credential_id.clone());
        put("key_id", self.key_id.clone().unwrap_or_default());
        put("key_type", self.key_type.as_str().to_owned());
        put("scopes", self.scopes.names().join(" "));
        put(
            "expires_at",
            self.expires_at.map(|at| at.to_string()).unwrap_or_default(),
        );
        put(
            "chat_role",
            self.chat_role
                .as_ref()
                .and_then(|role| serde_json::to_string(role).ok())
                .unwrap_or_default(),
        );
        put(
            "user_profile",
            self.user_profile
                .as_ref()
                .and_then(|profile| serde_json::to_string(profile).ok())
                .unwrap_or_default(),
        );
        context
    }

    /// Reads the authorizer context back; `None` when it is not keygate's.
    pub fn from_context(context: &std::collections::HashMap<String, Value>) -> Option<Self> {
        let text = |name: &str| context.get(name).and_then(Value::as_str);
        let optional = |name: &str| text(name).filter(|v| !v.is_empty()).map(str::to_owned);
        Some(Self {
            tenant_id: optional("tenant_id")?,
            user_id: optional("user_id")?,
            email: text("email")?.to_owned(),
            user_role: UserRole::parse(text("user_role")?)?,
            kind: CredentialKind::parse(text("kind")?)?,
            credential_id: optional("credential_id")?,
            key_id: optional("key_id"),
            key_type: KeyType::parse(text("key_type")?)?,
            scopes: Scopes::from_stored(text("scopes")?.split(' ')),
            expires_at: optional("expires_at").and_then(|v| v.parse().ok()),
            chat_role: optional("chat_role").and_then(|v| serde_json::from_str(&v).ok()),
            user_profile: optional("user_profile").and_then(|v| serde_json::from_str(&v).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Principal {
        Principal {
            tenant_id: "t1".into(),
            user_id: "u1".into(),
            email: "a@example.com".into(),
            user_role: UserRole::Admin,
            kind: CredentialKind::AccessToken,
            credential_id: "c1".into(),
            key_id: Some("k1".into()),
            key_type: KeyType::Asker,
            scopes: Scopes::default_for_new_key(),
            expires_at: Some(1_900_000_000),
            chat_role: Some(ChatRole {
                role_id: Some("r1".into()),
                role_variables: None,
            }),
            user_profile: None,
        }
    }

    #[test]
    fn context_round_trips() {
        let principal = sample();
        let context: std::collections::HashMap<String, Value> =
            principal.to_context().into_iter().collect();
        assert_eq!(Principal::from_context(&context), Some(principal));
        assert_eq!(Principal::from_context(&Default::default()), None);
    }

    #[test]
    fn askers_are_refused_full_routes() {
        let asker = sample();
        assert!(asker.require_full_key().is_err());
        assert!(asker.require_tenant_admin().is_err());
        assert!(asker.require_scope(Scope::Chat).is_ok());
        assert!(asker.require_scope(Scope::Write).is_err());
    }

    #[test]
    fn scopes_granted_stay_within_the_granters() {
        let granter = sample();
        assert!(
            granter
                .require_scopes_within(&Scopes::default_for_new_key())
                .is_ok()
        );
        assert!(granter.require_scopes_within(&Scopes::all()).is_err());
    }
}
