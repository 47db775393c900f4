//! Tenants and users. A user's email is unique within a tenant through a marker item
//! written in the same transaction as the user, together with the email's entry in the
//! global account index that sign-in reads (`EMAIL#<email>` / `TENANT#<tenant>`). Both
//! are keyed by (tenant, email), so one exists exactly when the other does.
//!
//! A user item may hold a password as an Argon2id PHC string (`password_hash`) and the
//! current streak of sign-in attempts (`sign_in_failures`, `sign_in_failure_at`).

use super::item::{Item, Reader, b, n, put_opt, resume_after, s};
use super::keys::{self, GSI1PK, GSI1SK, PK, SK};
// The tenant and user items carry the same flags as the owner's meter item, which
// verification reads; both are written in one transaction.
use super::owner_budgets::{DEACTIVATED_AT, SUSPENDED_AT};
use super::{Store, StoreError, any_condition_failed, primary_key};
use crate::domain::audit::AuditEvent;
use crate::domain::metering::RateLimit;
use crate::domain::password::{FailureStreak, NextAttempt};
use crate::domain::scope::UserRole;
use crate::domain::user::{Tenant, User};

pub enum CreateUser {
    Created,
    EmailTaken,
}

/// Where an email has a user: one tenant and the user there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub tenant_id: String,
    pub user_id: String,
}

/// A user as sign-in and password changes read them: with the password hash (if any) and
/// the current streak of failed sign-ins.
#[derive(Debug, Clone)]
pub struct PasswordRecord {
    pub user: User,
    pub password_hash: Option<String>,
    pub streak: FailureStreak,
}

/// The tenant's uniqueness marker and the global account entry of a user's email.
fn email_items(user: &User) -> [Item; 2] {
    let mut marker = Item::new();
    marker.insert(PK.into(), s(keys::tenant(&user.tenant_id)));
    marker.insert(SK.into(), s(keys::email_sk(&user.email)));
    marker.insert("type".into(), s("Email"));
    marker.insert("user_id".into(), s(&user.id));
    [marker, account_item(user)]
}

fn account_item(user: &User) -> Item {
    let mut account = Item::new();
    account.insert(PK.into(), s(keys::email_accounts(&user.email)));
    account.insert(SK.into(), s(keys::tenant(&user.tenant_id)));
    account.insert("type".into(), s("Account"));
    account.insert("tenant_id".into(), s(&user.tenant_id));
    account.insert("user_id".into(), s(&user.id));
    account
}

pub(super) fn tenant_from(item: &Item) -> Result<Tenant, StoreError> {
    let r = Reader(item);
    Ok(Tenant {
        id: r.string("tenant_id")?,
        name: r.string("name")?,
        created_at: r.number("created_at")?,
        suspended_at: r.opt_number(SUSPENDED_AT),
    })
}

pub(super) fn user_key(tenant_id: &str, user_id: &str) -> Item {
    primary_key(keys::tenant(tenant_id), keys::user_sk(user_id))
}

fn user_item(user: &User) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(keys::tenant(&user.tenant_id)));
    item.insert(SK.into(), s(keys::user_sk(&user.id)));
    item.insert("type".into(), s("User"));
    item.insert("tenant_id".into(), s(&user.tenant_id));
    item.insert("user_id".into(), s(&user.id));
    item.insert("email".into(), s(&user.email));
    put_opt(&mut item, "name", user.name.as_deref().map(s));
    item.insert("role".into(), s(user.role.as_str()));
    item.insert("cac_verified".into(), b(user.cac_verified));
    item.insert("created_at".into(), n(user.created_at));
    item.insert("active_keys".into(), n(0));
    item
}

pub(super) fn user_from(item: &Item) -> Result<User, StoreError> {
    let r = Reader(item);
    Ok(User {
        tenant_id: r.string("tenant_id")?,
        id: r.string("user_id")?,
        // An erased user's tombstone has no email (store::erasure).
        email: r.opt_string("email").unwrap_or_default(),
        name: r.opt_string("name"),
        role: UserRole::parse(&r.string("role")?).unwrap_or_default(),
        cac_verified: r.flag("cac_verified"),
        created_at: r.number("created_at")?,
        deactivated_at: r.opt_number(DEACTIVATED_AT),
    })
}

impl Store {
    /// Writes a tenant, its first admin and the admin's `user.created` event, all or nothing.
    pub async fn create_tenant(
        &self,
        tenant: &Tenant,
        admin: &User,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tenant_item = Item::new();
        tenant_item.insert(PK.into(), s(keys::tenant(&tenant.id)));
        tenant_item.insert(SK.into(), s(keys::TENANT_SK));
        tenant_item.insert("type".into(), s("Tenant"));
        tenant_item.insert("tenant_id".into(), s(&tenant.id));
        tenant_item.insert("name".into(), s(&tenant.name));
        tenant_item.insert("created_at".into(), n(tenant.created_at));
        // Listed by the operator's `keygate-admin tenant list` (one GSI1 partition).
        tenant_item.insert(GSI1PK.into(), s(keys::TENANTS));
        tenant_item.insert(GSI1SK.into(), s(&tenant.id));
        let [marker, account] = email_items(admin);
        self.client
            .transact_write_items()
            .transact_items(self.put_if(tenant_item, "attribute_not_exists(PK)"))
            .transact_items(self.put_if(user_item(admin), "attribute_not_exists(PK)"))
            .transact_items(self.put_if(marker, "attribute_not_exists(PK)"))
            .transact_items(self.put_if(account, "attribute_not_exists(PK)"))
            .transact_items(self.audit_put(event))
            .send()
            .await?;
        Ok(())
    }

    pub async fn get_tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        let key = primary_key(keys::tenant(tenant_id), keys::TENANT_SK);
        // Consistent: sign-in reads a suspension the operator's command has just written.
        self.get(key, true)
            .await?
            .map(|item| tenant_from(&item))
            .transpose()
    }

    /// Creates a user (with a password hash when given) unless the email is already taken
    /// in the tenant.
    pub async fn create_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        event: &AuditEvent,
    ) -> Result<CreateUser, StoreError> {
        let mut item = user_item(user);
        put_opt(&mut item, "password_hash", password_hash.map(s));
        let [marker, account] = email_items(user);
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put_if(item, "attribute_not_exists(PK)"))
            .transact_items(self.put_if(marker, "attribute_not_exists(PK)"))
            .transact_items(self.put_if(account, "attribute_not_exists(PK)"))
            .transact_items(self.audit_put(event))
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateUser::Created),
            Err(error) if any_condition_failed(&error) => Ok(CreateUser::EmailTaken),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads a user, strongly consistent: an admin's change (the CAC mark that CUI
    /// datasets need) counts from the moment it was answered.
    pub async fn get_user(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<User>, StoreError> {
        let item = self.get(user_key(tenant_id, user_id), true).await?;
        item.as_ref().map(user_from).transpose()
    }

    /// A user with their password hash and failure streak, read consistently (sign-in
    /// follows user creation; the streak is about to be counted on).
    pub async fn get_user_with_password(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<PasswordRecord>, StoreError> {
        let item = self.get(user_key(tenant_id, user_id), true).await?;
        item.as_ref()
            .map(|item| {
                let r = Reader(item);
                Ok(PasswordRecord {
                    user: user_from(item)?,
                    password_hash: r.opt_string("password_hash"),
                    streak: FailureStreak {
                        failures: r.opt_number("sign_in_failures").unwrap_or(0),
                        last_at: r.opt_number("sign_in_failure_at"),
                    },
                })
            })
            .transpose()
    }

    /// The tenants where `email` has a user, oldest tenant id first, at most `limit`.
    pub async fn list_accounts(&self, email: &str, limit: u32) -> Result<Vec<Account>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :tenant)")
            .expression_attribute_values(":pk", s(keys::email_accounts(email)))
            .expression_attribute_values(":tenant", s(keys::TENANT_SK_PREFIX))
            .consistent_read(true)
            .limit(limit as i32)
            .send()
            .await?;
        output
            .items()
            .iter()
            .map(|item| {
                let r = Reader(item);
                Ok(Account {
                    tenant_id: r.string("tenant_id")?,
                    user_id: r.string("user_id")?,
                })
            })
            .collect()
    }

    /// Stores a new password hash and ends any failure streak. The account entry is put
    /// again (idempotently) so users made before the index existed can sign in too.
    /// False when the user is gone.
    pub async fn set_password_hash(
        &self,
        user: &User,
        phc: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.update_if(
                user_key(&user.tenant_id, &user.id),
                "SET password_hash = :phc REMOVE sign_in_failures, sign_in_failure_at",
                "attribute_exists(PK)",
                Item::from([(":phc".to_owned(), s(phc))]),
            ))
            // Keyed by (email, tenant) like the tenant's marker, so it can only name this user.
            .transact_items(self.put(account_item(user)))
            .transact_items(self.audit_put(event))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if any_condition_failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Counts a sign-in attempt before its password is checked, as `planned` from the streak
    /// last read, with exactly one conditional UpdateItem whatever the plan: a locked
    /// account (and a user that does not exist) costs the same write as any other attempt,
    /// it just changes nothing. The streak's new length when the attempt was counted and
    /// may be checked; `None` when the account is locked, the user is missing, or the
    /// streak changed since it was read. At most `max` attempts per streak are ever
    /// counted, however many arrive at once.
    pub async fn count_sign_in_attempt(
        &self,
        tenant_id: &str,
        user_id: &str,
        planned: NextAttempt,
        now: i64,
        streak_start: i64,
        max: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut values = Item::from([
            (":now".to_owned(), n(now)),
            (":start".to_owned(), n(streak_start)),
            (":one".to_owned(), n(1)),
        ]);
        let (expression, condition) = match planned {
            NextAttempt::Start => (
                "SET sign_in_failures = :one, sign_in_failure_at = :now",
                "attribute_exists(PK) AND (attribute_not_exists(sign_in_failure_at) OR sign_in_failure_at < :start)",
            ),
            NextAttempt::Continue | NextAttempt::Locked => {
                values.insert(":max".into(), n(max));
                (
                    "SET sign_in_failures = sign_in_failures + :one, sign_in_failure_at = :now",
                    "attribute_exists(PK) AND sign_in_failure_at >= :start AND sign_in_failures < :max",
                )
            }
        };
        self.count_attempt(user_key(tenant_id, user_id), expression, condition, values)
            .await
    }

    /// One conditional count of an attempt: the streak's new length, or `None` when the
    /// condition did not hold.
    async fn count_attempt(
        &self,
        key: Item,
        expression: &str,
        condition: &str,
        values: Item,
    ) -> Result<Option<i64>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(
                output
                    .attributes
                    .as_ref()
                    .and_then(|new| Reader(new).opt_number("sign_in_failures"))
                    .unwrap_or(1),
            )),
            Err(error)
                if error
                    .as_service_error()
                    .and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
                    == Some("ConditionalCheckFailedException") =>
            {
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Ends the failure streak after a successful password check.
    pub async fn clear_sign_in_failures(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        self.update_where(
            user_key(tenant_id, user_id),
            "REMOVE sign_in_failures, sign_in_failure_at",
            "attribute_exists(PK)",
            Item::new(),
        )
        .await?;
        Ok(())
    }

    /// Finds a user of the tenant by (normalised) email.
    pub async fn find_user_by_email(
        &self,
        tenant_id: &str,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let marker = primary_key(keys::tenant(tenant_id), keys::email_sk(email));
        let item = self.get(marker, false).await?;
        match item
            .as_ref()
            .and_then(|item| Reader(item).opt_string("user_id"))
        {
            Some(user_id) => self.get_user(tenant_id, &user_id).await,
            None => Ok(None),
        }
    }

    /// The tenant's users, oldest first, at most `limit` per page after `after_user_id`.
    pub async fn list_users(
        &self,
        tenant_id: &str,
        limit: u32,
        after_user_id: Option<&str>,
    ) -> Result<(Vec<User>, Option<String>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :user)")
            .expression_attribute_values(":pk", s(keys::tenant(tenant_id)))
            .expression_attribute_values(":user", s(keys::USER_SK_PREFIX))
            .limit(limit as i32);
        if let Some(after) = after_user_id {
            query = query
                .exclusive_start_key(PK, s(keys::tenant(tenant_id)))
                .exclusive_start_key(SK, s(keys::user_sk(after)));
        }
        let output = query.send().await?;
        let users = output
            .items()
            .iter()
            .map(user_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = resume_after(output.last_evaluated_key.is_some(), &users, |u| &u.id);
        Ok((users, next))
    }

    /// The rate limits a user's new keys get when they name none (empty: no default).
    pub async fn default_ratelimits(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Vec<RateLimit>, StoreError> {
        let item = self.get(user_key(tenant_id, user_id), false).await?;
        Ok(item
            .and_then(|item| Reader(&item).json("default_ratelimits"))
            .unwrap_or_default())
    }

    /// Sets (or, empty, removes) a user's default rate limits; false when the user is gone.
    pub async fn set_default_ratelimits(
        &self,
        tenant_id: &str,
        user_id: &str,
        limits: &[RateLimit],
    ) -> Result<bool, StoreError> {
        if limits.is_empty() {
            return self
                .update_where(
                    user_key(tenant_id, user_id),
                    "REMOVE default_ratelimits",
                    "attribute_exists(PK)",
                    Item::new(),
                )
                .await;
        }
        self.update_where(
            user_key(tenant_id, user_id),
            "SET default_ratelimits = :v",
            "attribute_exists(PK)",
            Item::from([(
                ":v".to_owned(),
                s(serde_json::to_string(limits).unwrap_or_default()),
            )]),
        )
        .await
    }

    /// Sets the CAC-verified mark a tenant admin grants (needed for CUI datasets).
    pub async fn set_cac_verified(
        &self,
        tenant_id: &str,
        user_id: &str,
        verified: bool,
    ) -> Result<bool, StoreError> {
        self.update_where(
            user_key(tenant_id, user_id),
            "SET cac_verified = :v",
            "attribute_exists(PK)",
            Item::from([(":v".to_owned(), b(verified))]),
        )
        .await
    }
}
