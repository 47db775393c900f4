//! Tenants and their users: bootstrap, user management by a tenant admin.

use super::api_keys::{CreatedKey, NewKeyInput, ScopePolicy};
use super::{Error, Services};
use crate::domain::audit::{Actor, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::new_ulid;
use crate::domain::ids;
use crate::domain::metering::{self, Metering, RateLimit, RateLimitInput, parse_ratelimits};
use crate::domain::password::Password;
use crate::domain::principal::Principal;
use crate::domain::scope::{Scope, UserRole};
use crate::domain::user::{Email, Tenant, User};
use crate::domain::validation::Name;
use crate::store::users::CreateUser;

/// What bootstrap made: the first admin and their first key (shown once).
pub struct Bootstrapped {
    pub tenant: Tenant,
    pub admin: User,
    pub key: CreatedKey,
}

#[derive(Debug, Default)]
pub struct NewUserInput {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub cac_verified: Option<bool>,
    /// An initial password (optional; the user may set one later).
    pub password: Option<String>,
}

impl Services {
    /// Creates a tenant, its first admin user and that user's first API key (all scopes).
    pub async fn bootstrap(&self, tenant_name: &str, email: &str) -> Result<Bootstrapped, Error> {
        let name = Name::parse("tenant_name", tenant_name)?;
        let email = Email::parse("email", email)?;
        let now = now_epoch();
        let tenant = Tenant {
            id: new_ulid().to_string(),
            name: name.into_inner(),
            created_at: now,
            suspended_at: None,
        };
        let admin = User {
            tenant_id: tenant.id.clone(),
            id: new_ulid().to_string(),
            email: email.as_str().to_owned(),
            name: None,
            role: UserRole::Admin,
            cac_verified: false,
            created_at: now,
            deactivated_at: None,
        };
        // The first user has no creator to name: the actor is the system, as for its key.
        let event = self
            .audit_event(
                EventType::UserCreated,
                &tenant.id,
                &admin.id,
                Actor::system("system", None),
                Target {
                    kind: "user",
                    id: admin.id.clone(),
                },
            )
            .with_detail("email", admin.email.as_str())
            .with_detail("role", admin.role.as_str())
            .with_detail("password_set", false)
            .with_detail("tenant_name", tenant.name.as_str());
        self.store.create_tenant(&tenant, &admin, &event).await?;
        let key = self
            .create_key_for(
                &admin,
                NewKeyInput {
                    name: Some("bootstrap".into()),
                    scopes: Some(Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect()),
                    ..Default::default()
                },
                ScopePolicy::ALL,
                None,
                None,
            )
            .await?;
        Ok(Bootstrapped { tenant, admin, key })
    }

    pub async fn create_user(
        &self,
        caller: &Principal,
        input: NewUserInput,
    ) -> Result<User, Error> {
        caller.require_tenant_admin()?;
        if input.password.is_some() {
            // The new user's password signs in with every right: the caller must hold them.
            caller.require_full_rights()?;
        }
        let email = Email::parse("email", input.email.as_deref().unwrap_or_default())?;
        let name = input
            .name
            .as_deref()
            .map(|raw| Name::parse("name", raw).map(Name::into_inner))
            .transpose()?;
        let role = match input.role.as_deref() {
            None => UserRole::Member,
            Some(raw) => UserRole::parse(raw)
                .ok_or_else(|| Error::invalid("role", "must be \"admin\" or \"member\""))?,
        };
        let password = input
            .password
            .as_deref()
            .map(|raw| Password::parse("password", raw))
            .transpose()?;
        let user = User {
            tenant_id: caller.tenant_id.clone(),
            id: new_ulid().to_string(),
            email: email.as_str().to_owned(),
            name,
            role,
            cac_verified: input.cac_verified.unwrap_or(false),
            created_at: now_epoch(),
            deactivated_at: None,
        };
        let password_hash = match password {
            Some(password) => Some(self.hash_password(password).await),
            None => None,
        };
        let event = self
            .audit_event(
                EventType::UserCreated,
                &user.tenant_id,
                &user.id,
                Actor::of(caller),
                Target {
                    kind: "user",
                    id: user.id.clone(),
                },
            )
            .with_detail("email", user.email.as_str())
            .with_detail("role", user.role.as_str())
            .with_detail("password_set", password_hash.is_some());
        match self
            .store
            .create_user(&user, password_hash.as_deref(), &event)
            .await?
        {
            CreateUser::Created => Ok(user),
            CreateUser::EmailTaken => Err(Error::Conflict(format!(
                "a user with email {} already exists",
                user.email
            ))),
        }
    }

    pub async fn list_users(
        &self,
        caller: &Principal,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<User>, Option<String>), Error> {
        caller.require_tenant_admin()?;
        Ok(self
            .store
            .list_users(&caller.tenant_id, limit, after)
            .await?)
    }

    /// A user of the caller's tenant; any other answers "not found".
    pub async fn get_tenant_user(&self, caller: &Principal, user_id: &str) -> Result<User, Error> {
        caller.require_tenant_admin()?;
        if !ids::is_id(user_id) {
            return Err(Error::NotFound("user"));
        }
        self.store
            .get_user(&caller.tenant_id, user_id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// The caller's own user record.
    pub async fn current_user(&self, caller: &Principal) -> Result<User, Error> {
        self.store
            .get_user(&caller.tenant_id, &caller.user_id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// The caller's tenant.
    pub async fn current_tenant(&self, caller: &Principal) -> Result<Tenant, Error> {
        self.store
            .get_tenant(&caller.tenant_id)
            .await?
            .ok_or(Error::NotFound("tenant"))
    }

    /// The tenants of these users (of one person signed in by email and password).
    pub async fn tenants_of(&self, users: &[User]) -> Result<Vec<Tenant>, Error> {
        let mut tenants = Vec::with_capacity(users.len());
        for user in users {
            if let Some(tenant) = self.store.get_tenant(&user.tenant_id).await? {
                tenants.push(tenant);
            }
        }
        Ok(tenants)
    }

    /// A tenant admin creates an API key for one of the tenant's users (shown once).
    pub async fn create_key_for_user(
        &self,
        caller: &Principal,
        user_id: &str,
        input: NewKeyInput,
    ) -> Result<CreatedKey, Error> {
        caller.require_scope(Scope::Admin)?;
        let user = self.get_tenant_user(caller, user_id).await?;
        self.create_key_for(&user, input, ScopePolicy::ALL, Some(caller), None)
            .await
    }

    /// Sets a user's default rate limits (empty removes them): keys created for the user
    /// without limits of their own get these; its sessions may not hand out looser ones.
    pub async fn set_default_ratelimits(
        &self,
        caller: &Principal,
        user_id: &str,
        raw: &[RateLimitInput],
    ) -> Result<Vec<RateLimit>, Error> {
        caller.require_scope(Scope::Admin)?;
        self.get_tenant_user(caller, user_id).await?;
        let limits = parse_ratelimits("ratelimits", raw)?;
        if !limits.is_empty() {
            let wanted = Metering {
                ratelimits: limits.clone(),
                credits: None,
            };
            metering::within(
                &wanted,
                None,
                &Metering {
                    ratelimits: caller.metering.ratelimits.clone(),
                    credits: None,
                },
                None,
            )
            .map_err(Error::Forbidden)?;
        }
        if !self
            .store
            .set_default_ratelimits(&caller.tenant_id, user_id, &limits)
            .await?
        {
            return Err(Error::NotFound("user"));
        }
        Ok(limits)
    }

    /// The default rate limits of one of the tenant's users.
    pub async fn default_ratelimits(
        &self,
        caller: &Principal,
        user_id: &str,
    ) -> Result<Vec<RateLimit>, Error> {
        Ok(self
            .store
            .default_ratelimits(&caller.tenant_id, user_id)
            .await?)
    }

    /// Marks a user CAC-verified (or not), which CUI datasets require.
    pub async fn set_cac_verified(
        &self,
        caller: &Principal,
        user_id: &str,
        verified: bool,
    ) -> Result<User, Error> {
        caller.require_scope(Scope::Admin)?;
        let mut user = self.get_tenant_user(caller, user_id).await?;
        if !self
            .store
            .set_cac_verified(&caller.tenant_id, user_id, verified)
            .await?
        {
            return Err(Error::NotFound("user"));
        }
        user.cac_verified = verified;
        Ok(user)
    }
}
