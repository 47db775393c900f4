//! The audit trail: one event per credential change, written with the change itself.
//!
//! An event names who did it (a user and the credential they presented, never a secret),
//! what it touched, from where (source IP, user agent) and, for patches, old → new.
//! Events belong to a tenant and to one subject user (the owner of what was touched):
//! a tenant admin reads the tenant's trail, a user their own.

use serde_json::{Map, Value, json};

/// Kept this long by default (DynamoDB TTL), in days.
pub const DEFAULT_RETENTION_DAYS: i64 = 400;

/// What happened. The wire names (`as_str`) are stable: clients filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    KeyCreated,
    KeyPatched,
    KeyPaused,
    KeyResumed,
    KeyRolled,
    KeyRevoked,
    /// One key revoked by a revoke-all (an event per key, each with its key's change).
    KeyRevokedByRevokeAll,
    TokenMinted,
    TokenRevoked,
    SessionSignedIn,
    SessionSignedOut,
    SessionRevoked,
    PasswordSet,
    PasswordChanged,
    SignInFailed,
    AccountLocked,
    UserCreated,
    DatasetShared,
    DatasetUnshared,
    /// A credential reported leaked by a secret scanner and revoked.
    LeakedCredentialRevoked,
    /// A user's or a tenant's budget set (`target.kind` says which).
    BudgetSet,
    BudgetRemoved,
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    WebhookSecretRotated,
    /// An endpoint keygate disabled after three days of failed deliveries.
    WebhookDisabled,
    /// The operator suspended or resumed a tenant (`keygate-admin tenant`).
    TenantSuspended,
    TenantResumed,
    /// The operator deleted a tenant (`keygate-admin tenant delete`).
    TenantDeleted,
    /// A tenant admin deactivated a user (`DELETE /v1/users/{id}`).
    UserDeactivated,
    /// A deactivated user's dataset passed to another user, or was deleted, with them.
    DatasetTransferred,
    DatasetDeleted,
    /// A deactivated user's personal data erased (`POST /v1/users/{id}/erase`).
    UserErased,
    TeamCreated,
    TeamRenamed,
    TeamDeleted,
    /// A user added to a team, or their role in it changed (`change.role` old → new).
    TeamMemberPut,
    TeamMemberRemoved,
    /// A tenant's key policy set (`PUT /v1/tenant/policy`).
    TenantPolicySet,
}

impl EventType {
    pub const ALL: [EventType; 40] = [
        Self::KeyCreated,
        Self::KeyPatched,
        Self::KeyPaused,
        Self::KeyResumed,
        Self::KeyRolled,
        Self::KeyRevoked,
        Self::KeyRevokedByRevokeAll,
        Self::TokenMinted,
        Self::TokenRevoked,
        Self::SessionSignedIn,
        Self::SessionSignedOut,
        Self::SessionRevoked,
        Self::PasswordSet,
        Self::PasswordChanged,
        Self::SignInFailed,
        Self::AccountLocked,
        Self::UserCreated,
        Self::DatasetShared,
        Self::DatasetUnshared,
        Self::LeakedCredentialRevoked,
        Self::BudgetSet,
        Self::BudgetRemoved,
        Self::WebhookCreated,
        Self::WebhookUpdated,
        Self::WebhookDeleted,
        Self::WebhookSecretRotated,
        Self::WebhookDisabled,
        Self::TenantSuspended,
        Self::TenantResumed,
        Self::TenantDeleted,
        Self::UserDeactivated,
        Self::DatasetTransferred,
        Self::DatasetDeleted,
        Self::UserErased,
        Self::TeamCreated,
        Self::TeamRenamed,
        Self::TeamDeleted,
        Self::TeamMemberPut,
        Self::TeamMemberRemoved,
        Self::TenantPolicySet,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::KeyCreated => "key.created",
            Self::KeyPatched => "key.patched",
            Self::KeyPaused => "key.paused",
            Self::KeyResumed => "key.resumed",
            Self::KeyRolled => "key.rolled",
            Self::KeyRevoked => "key.revoked",
            Self::KeyRevokedByRevokeAll => "key.revoke_all",
            Self::TokenMinted => "token.minted",
            Self::TokenRevoked => "token.revoked",
            Self::SessionSignedIn => "session.signed_in",
            Self::SessionSignedOut => "session.signed_out",
            Self::SessionRevoked => "session.revoked",
            Self::PasswordSet => "password.set",
            Self::PasswordChanged => "password.changed",
            Self::SignInFailed => "sign_in.failed",
            Self::AccountLocked => "account.locked",
            Self::UserCreated => "user.created",
            Self::DatasetShared => "dataset.shared",
            Self::DatasetUnshared => "dataset.unshared",
            Self::LeakedCredentialRevoked => "credential.leak_revoked",
            Self::BudgetSet => "budget.set",
            Self::BudgetRemoved => "budget.removed",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookUpdated => "webhook.updated",
            Self::WebhookDeleted => "webhook.deleted",
            Self::WebhookSecretRotated => "webhook.secret_rotated",
            Self::WebhookDisabled => "webhook.disabled",
            Self::TenantSuspended => "tenant.suspended",
            Self::TenantResumed => "tenant.resumed",
            Self::TenantDeleted => "tenant.deleted",
            Self::UserDeactivated => "user.deactivated",
            Self::DatasetTransferred => "dataset.transferred",
            Self::DatasetDeleted => "dataset.deleted",
            Self::UserErased => "user.erased",
            Self::TeamCreated => "team.created",
            Self::TeamRenamed => "team.renamed",
            Self::TeamDeleted => "team.deleted",
            Self::TeamMemberPut => "team.member_put",
            Self::TeamMemberRemoved => "team.member_removed",
            Self::TenantPolicySet => "tenant_policy.set",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// Who acted: a user and the credential they presented, or a system actor (a secret
/// scanner, the admin command line) with its own identifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub credential_id: Option<String>,
    /// `api_key`, `access_token`, `session`, `anonymous` (public sign-in routes),
    /// `secret_scanning` or `system`.
    pub kind: String,
}

/// What was touched: `api_key`, `access_token`, `session`, `user`, `dataset`,
/// `user_budget`, `tenant_budget`, `webhook`, `tenant`, `tenant_policy`, `team`, `team_member`
/// (id `<team_id>/<user_id>`) or `team_budget`, and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: &'static str,
    pub id: String,
}

impl Target {
    /// Every kind an event may name; a stored kind outside these reads back as `unknown`.
    pub const KINDS: [&'static str; 13] = [
        "api_key",
        "access_token",
        "session",
        "user",
        "dataset",
        "tenant",
        "tenant_policy",
        "user_budget",
        "tenant_budget",
        "team",
        "team_member",
        "team_budget",
        "webhook",
    ];
}

/// Where the request came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// A ULID: time-ordered, so newest first is a descending sort.
    pub id: String,
    pub at: i64,
    pub event_type: EventType,
    pub tenant_id: String,
    /// Whose trail the event is in: the owner of the target.
    pub subject_user_id: String,
    pub actor: Actor,
    pub target: Target,
    pub origin: Origin,
    /// For changes: `{field: {"old": .., "new": ..}}`; empty otherwise.
    pub change: Map<String, Value>,
    /// Anything else worth keeping (a report's URL and source, a sign-in method).
    pub detail: Map<String, Value>,
    /// Epoch seconds after which DynamoDB TTL may delete it.
    pub purge_at: i64,
}

impl AuditEvent {
    /// Records `field` going from `old` to `new` (nothing when equal).
    pub fn changed(mut self, field: &str, old: impl Into<Value>, new: impl Into<Value>) -> Self {
        let (old, new) = (old.into(), new.into());
        if old != new {
            self.change
                .insert(field.to_owned(), json!({ "old": old, "new": new }));
        }
        self
    }

    pub fn with_detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(name.to_owned(), value.into());
        self
    }
}

/// The `limit` bounds of `GET /v1/audit`.
pub const AUDIT_PAGE_DEFAULT: u32 = 50;
pub const AUDIT_PAGE_MAX: u32 = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.as_str()), Some(event_type));
        }
        assert_eq!(EventType::parse("key.exploded"), None);
    }

    #[test]
    fn unchanged_fields_are_not_recorded() {
        let event = AuditEvent {
            id: "e".into(),
            at: 0,
            event_type: EventType::KeyPatched,
            tenant_id: "t".into(),
            subject_user_id: "u".into(),
            actor: Actor::default(),
            target: Target {
                kind: "api_key",
                id: "k".into(),
            },
            origin: Origin::default(),
            change: Map::new(),
            detail: Map::new(),
            purge_at: 0,
        }
        .changed("name", "a", "a")
        .changed("scopes", json!(["chat"]), json!(["chat", "read"]));
        assert_eq!(event.change.len(), 1);
        assert_eq!(event.change["scopes"]["old"], json!(["chat"]));
    }
}
