//! The authenticated caller, and the context form the authorizer hands to functions.

use serde_json::{Map, Value};

use super::allowed_ips::AllowedIps;
use super::credential::CredentialKind;
use super::key_metadata::KeyMetadata;
use super::metering::{Budget, Metering, budget_chain};
use super::models::AllowedModels;
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
    /// The keys that created that key, nearest first: a key this credential creates
    /// records them after `key_id`, and follows them all.
    pub key_lineage: Vec<String>,
    pub key_type: KeyType,
    pub scopes: Scopes,
    pub expires_at: Option<i64>,
    /// When the API key behind the credential expires (None: never, or no key behind it, as
    /// for sessions). Keys this credential creates expire no later.
    pub key_expires_at: Option<i64>,
    pub chat_role: Option<ChatRole>,
    pub user_profile: Option<Map<String, Value>>,
    /// A temp token (`/v1/auth/tokens`): it may ask, never manage credentials.
    pub temporary: bool,
    /// The metering of the key behind the credential (not passed in the authorizer context:
    /// the authorizer admits the request itself).
    pub metering: Metering,
    /// The meter the key behind the credential counts against: the key's own, or for a
    /// rolled key's successor the meter it shares with its predecessors.
    pub meter_id: Option<String>,
    /// The budgets of the metered keys the key behind the credential was created by,
    /// nearest first: every request is charged against them too (rights only narrow in
    /// aggregate). Read with the key at verification; not in the authorizer context, since
    /// the authorizer admits the request itself.
    pub inherited_budgets: Vec<Budget>,
    /// The models the credential may use: its key's list narrowed by every key above it,
    /// its user's budget and its tenant's.
    pub models: AllowedModels,
    /// What the user's and the tenant's budgets allow alone: every credential of the user,
    /// a password's sessions included, is held to it, so a credential limited only by it
    /// holds full rights.
    pub owner_models: AllowedModels,
    /// The end user a temp token was minted for.
    pub end_user: Option<String>,
    /// That end user's budgets under the key and every key above it that has an end-user
    /// budget, nearest first; charged before the keys' own. Not in the authorizer context.
    pub end_user_budgets: Vec<Budget>,
    /// The team owning the key behind the credential (a team key, and its tokens); its
    /// `user_id` is then the team's id, and it may not act as a person.
    pub team_id: Option<String>,
    /// The metadata of the key behind the credential (none for sessions).
    pub key_metadata: KeyMetadata,
    /// The source addresses the credential may be used from: its key's list narrowed by
    /// every key above it.
    pub allowed_ips: AllowedIps,
}

/// The context field listing the models a credential may use (space-separated; absent when
/// any). Named as the issue that added it asks, beside the `keygate_ratelimit*` fields.
pub const MODELS_FIELD: &str = "keygate_models";

/// The context field listing the models the user's and tenant's budgets allow (absent:
/// any); `keygate_models` is never wider.
pub const OWNER_MODELS_FIELD: &str = "keygate_owner_models";

/// The context field naming the end user a temp token was minted for (absent: none).
pub const END_USER_FIELD: &str = "keygate_end_user";

/// The context field naming the team owning the key behind the credential (absent: a
/// person's credential).
pub const TEAM_FIELD: &str = "keygate_team_id";
/// The context fields of the key's metadata (absent when unset): its external id, its tags
/// comma-joined, and its `meta` object as JSON text.
pub const EXTERNAL_ID_FIELD: &str = "keygate_external_id";
pub const TAGS_FIELD: &str = "keygate_tags";
pub const META_FIELD: &str = "keygate_meta";

/// The context field listing the networks a credential may be used from (space-separated
/// CIDRs; absent: any address).
pub const ALLOWED_IPS_FIELD: &str = "keygate_allowed_ips";

/// The version of the authorizer context contract (`context_version`).
pub const CONTEXT_VERSION: &str = "1";

/// The context key marking a request the authorizer refused (its value is the denial's
/// class); a function reading it answers the refusal itself (see `http::caller`).
pub const DENIED_MARKER: &str = "keygate_denied";
/// With a `forbidden` denial: why, for the client.
pub const DENIED_REASON: &str = "keygate_reason";

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

    /// The service scope `verify` is handed out only by a tenant admin.
    pub fn require_right_to_grant(&self, wanted: &Scopes) -> Result<(), Denied> {
        if wanted.contains(Scope::Verify) && self.user_role != UserRole::Admin {
            return Err(Denied(
                "only a tenant admin may create a key with the 'verify' scope".into(),
            ));
        }
        Ok(())
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

    /// Creating or managing keys, users and passwords: a full credential that is not a temp
    /// token (an exchanged token acts as its key; a session as its user).
    pub fn require_manager(&self) -> Result<(), Denied> {
        self.require_full_key()?;
        if self.temporary {
            return Err(Denied(
                "a temp token may not create or manage keys, users or passwords".into(),
            ));
        }
        Ok(())
    }

    /// Changing or resuming a key needs a credential holding every scope of that key and a
    /// key type at least as strong (revoking does not: it only takes power away).
    pub fn require_covers(
        &self,
        scopes: &Scopes,
        key_type: KeyType,
        models: &AllowedModels,
    ) -> Result<(), Denied> {
        if !scopes.is_subset_of(&self.scopes) {
            return Err(Denied(format!(
                "this credential may change only keys within its own scopes ({})",
                self.scopes.names().join(", ")
            )));
        }
        if !self.key_type.may_mint(key_type) {
            return Err(Denied(
                "an asker credential may not change an admin key".into(),
            ));
        }
        if !models.within(&self.models) {
            return Err(Denied(
                "this credential may change only keys limited to models it may use".into(),
            ));
        }
        Ok(())
    }

    /// Routes that act as a person (a password, key management, teams) refuse a team key and
    /// its tokens: a service account has the rights its scopes and type give, never a
    /// person's.
    pub fn require_person(&self) -> Result<(), Denied> {
        match self.team_id {
            None => Ok(()),
            Some(_) => Err(Denied(
                "a team key (service account) may not act as a person: its team's admins \
                 manage it"
                    .into(),
            )),
        }
    }

    /// Changing a key limited to some source networks needs a credential that may be used
    /// from all of them (a key with no list of its own, from anywhere).
    pub fn require_covers_networks(&self, networks: &AllowedIps) -> Result<(), Denied> {
        if networks.within(&self.allowed_ips) {
            Ok(())
        } else {
            Err(Denied(
                "this credential may change only keys limited to networks it may be used from"
                    .into(),
            ))
        }
    }

    /// Whether a request from `address` (as the gateway or the peer reports it; None:
    /// unknown) may use this credential.
    pub fn may_be_used_from(&self, address: Option<&str>) -> bool {
        self.allowed_ips.allows_text(address)
    }

    /// Every right a credential can hold: what a password gives (its sessions hold all
    /// scopes and models, and a password never expires), so only such a credential may set
    /// one: not temporary, admin type, every scope, any model, and no expiry on the key
    /// behind it.
    pub fn require_full_rights(&self) -> Result<(), Denied> {
        self.require_manager()?;
        self.require_person()?;
        if !self.scopes.has_every_user_scope() {
            return Err(Denied(
                "setting a password needs a credential holding every scope (a password signs in \
                 with all of them)"
                    .into(),
            ));
        }
        if self.key_expires_at.is_some() {
            return Err(Denied(
                "an expiring key may not set a password, which does not expire".into(),
            ));
        }
        if self.models != self.owner_models {
            return Err(Denied(
                "a credential limited to some models may not set a password (a password signs \
                 in with every model)"
                    .into(),
            ));
        }
        if !self.allowed_ips.is_any() {
            return Err(Denied(
                "a credential limited to some networks may not set a password (a password signs \
                 in from anywhere)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Every budget a request of this credential is charged against, nearest first: its end
    /// user's (a temp token minted for one), its key's own (when metered), then the
    /// inherited ones. Empty: nothing is counted.
    pub fn budgets(&self) -> Vec<Budget> {
        let own = self.meter_id.as_deref().map(|id| (id, &self.metering));
        let mut budgets = self.end_user_budgets.clone();
        budgets.extend(budget_chain(
            own,
            self.inherited_budgets
                .iter()
                .map(|b| (b.meter_id.as_str(), &b.metering)),
        ));
        budgets
    }

    /// The lineage a key created by this credential records: the key behind it and that
    /// key's own lineage (nothing for a session, which stands for the user's password).
    pub fn lineage_for_new_key(&self) -> Vec<String> {
        self.key_id
            .iter()
            .chain(self.key_lineage.iter())
            .cloned()
            .collect()
    }

    /// Tenant-wide routes (`/v1/users...`): a tenant admin's manager credential with the
    /// `admin` scope.
    pub fn require_tenant_admin(&self) -> Result<(), Denied> {
        self.require_manager()?;
        if self.user_role != UserRole::Admin {
            return Err(Denied("this route needs a tenant admin".into()));
        }
        self.require_scope(Scope::Admin)
    }

    /// The flat string map an API Gateway authorizer passes in its `context`: the contract a
    /// platform function reads (README, "The authorizer context"). Every field is a string,
    /// empty when absent; JSON values are JSON text. Bump [`CONTEXT_VERSION`] on any change
    /// a reader could notice other than an added field.
    pub fn to_context(&self) -> Map<String, Value> {
        let mut context = Map::new();
        let mut put = |name: &str, value: String| {
            context.insert(name.to_owned(), Value::String(value));
        };
        put("context_version", CONTEXT_VERSION.to_owned());
        put("tenant_id", self.tenant_id.clone());
        put("user_id", self.user_id.clone());
        put("email", self.email.clone());
        put("user_role", self.user_role.as_str().to_owned());
        put("kind", self.kind.as_str().to_owned());
        put("credential_id", self.credential_id.clone());
        put("key_id", self.key_id.clone().unwrap_or_default());
        put("key_lineage", self.key_lineage.join(" "));
        put("key_type", self.key_type.as_str().to_owned());
        put("scopes", self.scopes.names().join(" "));
        put(
            "expires_at",
            self.expires_at.map(|at| at.to_string()).unwrap_or_default(),
        );
        put(
            "key_expires_at",
            self.key_expires_at
                .map(|at| at.to_string())
                .unwrap_or_default(),
        );
        put(
            "chat_role",
            self.chat_role
                .as_ref()
                .and_then(|role| serde_json::to_string(role).ok())
                .unwrap_or_default(),
        );
        put(
            "chat_role_id",
            self.chat_role
                .as_ref()
                .and_then(|role| role.role_id.clone())
                .unwrap_or_default(),
        );
        put(
            "role_variables",
            self.chat_role
                .as_ref()
                .and_then(|role| role.role_variables.as_ref())
                .and_then(|variables| serde_json::to_string(variables).ok())
                .unwrap_or_default(),
        );
        put(
            "user_profile",
            self.user_profile
                .as_ref()
                .and_then(|profile| serde_json::to_string(profile).ok())
                .unwrap_or_default(),
        );
        put("temporary", self.temporary.to_string());
        if self.metering.is_metered() {
            put(
                "metering",
                serde_json::to_string(&self.metering).unwrap_or_default(),
            );
        }
        if self.meter_id != self.key_id {
            put("meter_id", self.meter_id.clone().unwrap_or_default());
        }
        if let Some(models) = self.models.names() {
            put(MODELS_FIELD, models.join(" "));
        }
        if let Some(models) = self.owner_models.names() {
            put(OWNER_MODELS_FIELD, models.join(" "));
        }
        if let Some(end_user) = &self.end_user {
            put(END_USER_FIELD, end_user.clone());
        }
        if let Some(team_id) = &self.team_id {
            put(TEAM_FIELD, team_id.clone());
        }
        if let Some(external_id) = &self.key_metadata.external_id {
            put(EXTERNAL_ID_FIELD, external_id.clone());
        }
        if !self.key_metadata.tags.is_empty() {
            put(TAGS_FIELD, self.key_metadata.tags.join(","));
        }
        if let Some(meta) = self.key_metadata.meta_json() {
            put(META_FIELD, meta);
        }
        if let Some(networks) = self.allowed_ips.names() {
            put(ALLOWED_IPS_FIELD, networks.join(" "));
        }
        context
    }

    /// Reads the authorizer context back; `None` when it is not keygate's.
    pub fn from_context(context: &std::collections::HashMap<String, Value>) -> Option<Self> {
        let text = |name: &str| context.get(name).and_then(Value::as_str);
        let optional = |name: &str| text(name).filter(|v| !v.is_empty()).map(str::to_owned);
        if text("context_version")? != CONTEXT_VERSION {
            return None;
        }
        Some(Self {
            tenant_id: optional("tenant_id")?,
            user_id: optional("user_id")?,
            email: text("email")?.to_owned(),
            user_role: UserRole::parse(text("user_role")?)?,
            kind: CredentialKind::parse(text("kind")?)?,
            credential_id: optional("credential_id")?,
            key_id: optional("key_id"),
            key_lineage: text("key_lineage")
                .unwrap_or_default()
                .split(' ')
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect(),
            key_type: KeyType::parse(text("key_type")?)?,
            scopes: Scopes::from_stored(text("scopes")?.split(' ')),
            expires_at: optional("expires_at").and_then(|v| v.parse().ok()),
            key_expires_at: optional("key_expires_at").and_then(|v| v.parse().ok()),
            chat_role: optional("chat_role").and_then(|v| serde_json::from_str(&v).ok()),
            user_profile: optional("user_profile").and_then(|v| serde_json::from_str(&v).ok()),
            temporary: match text("temporary")? {
                "true" => true,
                "false" => false,
                _ => return None,
            },
            metering: optional("metering")
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or_default(),
            meter_id: optional("meter_id").or_else(|| optional("key_id")),
            inherited_budgets: Vec::new(),
            models: models_in(text(MODELS_FIELD)),
            owner_models: models_in(text(OWNER_MODELS_FIELD)),
            end_user: optional(END_USER_FIELD),
            end_user_budgets: Vec::new(),
            team_id: optional(TEAM_FIELD),
            key_metadata: KeyMetadata {
                external_id: optional(EXTERNAL_ID_FIELD),
                tags: text(TAGS_FIELD)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|tag| !tag.is_empty())
                    .map(str::to_owned)
                    .collect(),
                meta: optional(META_FIELD).and_then(|v| serde_json::from_str(&v).ok()),
            },
            allowed_ips: text(ALLOWED_IPS_FIELD).map_or_else(AllowedIps::any, |listed| {
                AllowedIps::stored(listed.split(' ').filter(|n| !n.is_empty()))
            }),
        })
    }
}

/// A space-separated list of model names from the context (absent: any model).
fn models_in(listed: Option<&str>) -> AllowedModels {
    listed.map_or_else(AllowedModels::any, |names| {
        AllowedModels::only(names.split(' ').filter(|name| !name.is_empty()))
    })
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
            key_lineage: vec!["k0".into(), "kroot".into()],
            key_type: KeyType::Asker,
            scopes: Scopes::default_for_new_key(),
            expires_at: Some(1_900_000_000),
            key_expires_at: Some(1_950_000_000),
            chat_role: Some(ChatRole {
                role_id: Some("r1".into()),
                role_variables: None,
            }),
            user_profile: None,
            temporary: true,
            metering: Metering::default(),
            meter_id: Some("k1".into()),
            inherited_budgets: Vec::new(),
            models: AllowedModels::only(["gpt-4o", "claude-3-5-sonnet"]),
            owner_models: AllowedModels::any(),
            end_user: Some("customer-42@example.com".into()),
            end_user_budgets: Vec::new(),
            team_id: None,
            key_metadata: KeyMetadata {
                external_id: Some("cust-42".into()),
                tags: vec!["prod".into(), "team:ml".into()],
                meta: serde_json::from_str(r#"{"plan":"pro","seats":3}"#).ok(),
            },
            allowed_ips: AllowedIps::stored(["203.0.113.0/24", "2001:db8::/32"]),
        }
    }

    #[test]
    fn context_round_trips() {
        let principal = sample();
        let context: std::collections::HashMap<String, Value> =
            principal.to_context().into_iter().collect();
        assert_eq!(Principal::from_context(&context), Some(principal.clone()));
        let successor = Principal {
            meter_id: Some("k0".into()),
            ..principal.clone()
        };
        let context: std::collections::HashMap<String, Value> =
            successor.to_context().into_iter().collect();
        assert_eq!(Principal::from_context(&context), Some(successor));
        assert!(!context.contains_key(TEAM_FIELD), "a person's credential");
        let team_key = Principal {
            team_id: Some("01J0TEAM0000000000000000TM".into()),
            ..principal.clone()
        };
        let team_context: std::collections::HashMap<String, Value> =
            team_key.to_context().into_iter().collect();
        assert_eq!(team_context[TEAM_FIELD], "01J0TEAM0000000000000000TM");
        assert_eq!(Principal::from_context(&team_context), Some(team_key));
        assert_eq!(Principal::from_context(&Default::default()), None);
        assert_eq!(context["chat_role_id"], "r1");
        assert_eq!(context["role_variables"], "");
        assert_eq!(context[EXTERNAL_ID_FIELD], "cust-42");
        assert_eq!(context[TAGS_FIELD], "prod,team:ml");
        assert_eq!(context[META_FIELD], r#"{"plan":"pro","seats":3}"#);
        assert_eq!(context[ALLOWED_IPS_FIELD], "203.0.113.0/24 2001:db8::/32");
        let unlimited = Principal {
            key_metadata: KeyMetadata::default(),
            allowed_ips: AllowedIps::any(),
            ..principal.clone()
        };
        let context: std::collections::HashMap<String, Value> =
            unlimited.to_context().into_iter().collect();
        assert!(!context.contains_key(TAGS_FIELD) && !context.contains_key(ALLOWED_IPS_FIELD));
        assert_eq!(Principal::from_context(&context), Some(unlimited));
        let mut other_version = context.clone();
        other_version.insert("context_version".into(), Value::String("0".into()));
        assert_eq!(Principal::from_context(&other_version), None);
    }

    #[test]
    fn a_team_key_never_acts_as_a_person() {
        let person = Principal {
            temporary: false,
            key_type: KeyType::Admin,
            ..sample()
        };
        assert!(person.require_person().is_ok());
        let team_key = Principal {
            team_id: Some("01J0TEAM0000000000000000TM".into()),
            ..person
        };
        assert!(team_key.require_person().is_err());
        assert!(
            team_key.require_manager().is_ok(),
            "it may call the verify API"
        );
        let denied = team_key.require_full_rights().unwrap_err();
        assert!(denied.0.contains("team key"), "{}", denied.0);
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
    fn temp_tokens_manage_nothing_and_passwords_need_every_right() {
        let mut caller = Principal {
            allowed_ips: AllowedIps::any(),
            ..sample()
        };
        caller.key_type = KeyType::Admin;
        assert!(caller.require_manager().is_err(), "temporary");
        caller.temporary = false;
        assert!(caller.require_manager().is_ok());
        assert!(caller.require_full_rights().is_err(), "chat+read only");
        caller.scopes = Scopes::user();
        assert!(caller.require_full_rights().is_err(), "its key expires");
        caller.key_expires_at = None;
        assert!(caller.require_full_rights().is_err(), "some models only");
        caller.owner_models = caller.models.clone();
        assert!(
            caller.require_full_rights().is_ok(),
            "held only to its user's list, which a password's sessions are held to too"
        );
        caller.owner_models = AllowedModels::any();
        caller.models = AllowedModels::any();
        assert!(caller.require_full_rights().is_ok());
        caller.allowed_ips = AllowedIps::stored(["10.0.0.0/8"]);
        assert!(caller.require_full_rights().is_err(), "some networks only");
        caller.allowed_ips = AllowedIps::any();
        assert!(caller.require_tenant_admin().is_ok());
        caller.scopes = Scopes::from_stored(["chat", "read", "write"]);
        assert!(caller.require_tenant_admin().is_err(), "no admin scope");
    }

    #[test]
    fn changing_a_key_needs_its_scopes_type_and_models() {
        let mut caller = sample();
        let any = AllowedModels::any();
        let read = Scopes::from_stored(["read"]);
        assert!(
            caller.require_covers(&read, KeyType::Asker, &any).is_err(),
            "any model"
        );
        let within = AllowedModels::only(["gpt-4o"]);
        assert!(
            caller
                .require_covers(&read, KeyType::Asker, &within)
                .is_ok()
        );
        let beyond = AllowedModels::only(["gpt-4o", "o3"]);
        assert!(
            caller
                .require_covers(&read, KeyType::Asker, &beyond)
                .is_err()
        );
        assert!(
            caller
                .require_covers(&read, KeyType::Admin, &within)
                .is_err()
        );
        caller.key_type = KeyType::Admin;
        assert!(
            caller
                .require_covers(&read, KeyType::Admin, &within)
                .is_ok()
        );
        assert!(
            caller
                .require_covers(&Scopes::all(), KeyType::Admin, &within)
                .is_err()
        );
        caller.models = any.clone();
        assert!(caller.require_covers(&read, KeyType::Admin, &any).is_ok());
    }

    #[test]
    fn only_a_tenant_admin_grants_verify() {
        let mut granter = sample();
        let verify = Scopes::from_stored(["chat", "verify"]);
        assert!(granter.require_right_to_grant(&verify).is_ok(), "an admin");
        assert!(
            granter
                .require_right_to_grant(&Scopes::default_for_new_key())
                .is_ok()
        );
        granter.user_role = UserRole::Member;
        assert!(granter.require_right_to_grant(&verify).is_err(), "a member");
        assert!(
            granter
                .require_right_to_grant(&Scopes::default_for_new_key())
                .is_ok(),
            "a member may grant what is not verify"
        );
    }

    #[test]
    fn a_new_key_follows_the_key_behind_its_creator_and_that_keys_own() {
        let creator = sample();
        assert_eq!(creator.lineage_for_new_key(), ["k1", "k0", "kroot"]);
        let session = Principal {
            key_id: None,
            key_lineage: Vec::new(),
            ..sample()
        };
        assert!(session.lineage_for_new_key().is_empty());
    }

    #[test]
    fn a_context_says_temporary_or_not() {
        for temporary in [true, false] {
            let principal = Principal {
                temporary,
                ..sample()
            };
            let context: std::collections::HashMap<String, Value> =
                principal.to_context().into_iter().collect();
            assert_eq!(Principal::from_context(&context), Some(principal));
        }
        let mut context: std::collections::HashMap<String, Value> =
            sample().to_context().into_iter().collect();
        context.insert("temporary".into(), Value::String("maybe".into()));
        assert_eq!(Principal::from_context(&context), None);
    }

    #[test]
    fn a_request_is_charged_against_its_own_budget_then_the_inherited_ones() {
        let limited = |limit| Metering {
            ratelimits: vec![crate::domain::metering::RateLimit {
                name: "r".into(),
                limit,
                window_secs: 60,
                unit: crate::domain::metering::REQUESTS.into(),
            }],
            credits: None,
        };
        let metered = Principal {
            metering: limited(5),
            inherited_budgets: vec![Budget {
                meter_id: "k0".into(),
                metering: limited(50),
            }],
            ..sample()
        };
        let ids = |principal: &Principal| -> Vec<String> {
            principal
                .budgets()
                .into_iter()
                .map(|b| b.meter_id)
                .collect()
        };
        assert_eq!(ids(&metered), ["k1", "k0"]);
        assert_eq!(metered.budgets()[0].metering, limited(5));
        let unmetered = Principal {
            metering: Metering::default(),
            ..metered.clone()
        };
        assert_eq!(ids(&unmetered), ["k0"]);
        let no_meter = Principal {
            meter_id: None,
            ..metered
        };
        assert_eq!(ids(&no_meter), ["k0"]);
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

    #[test]
    fn a_credential_is_used_only_from_its_networks() {
        let caller = sample();
        assert!(caller.may_be_used_from(Some("203.0.113.9")));
        assert!(caller.may_be_used_from(Some("2001:db8::7")));
        assert!(!caller.may_be_used_from(Some("198.51.100.1")));
        assert!(!caller.may_be_used_from(None), "an unknown address");
        let anywhere = Principal {
            allowed_ips: AllowedIps::any(),
            ..sample()
        };
        assert!(anywhere.may_be_used_from(None));
        let narrower = AllowedIps::stored(["203.0.113.128/25"]);
        assert!(caller.require_covers_networks(&narrower).is_ok());
        assert!(caller.require_covers_networks(&AllowedIps::any()).is_err());
        assert!(
            caller
                .require_covers_networks(&AllowedIps::stored(["10.0.0.0/8"]))
                .is_err()
        );
    }
}
