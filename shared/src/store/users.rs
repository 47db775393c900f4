//! Tenants and users. A user's email is unique within a tenant through a marker item
//! written in the same transaction as the user.

use super::item::{Item, Reader, b, n, put_opt, s};
use super::keys::{self, PK, SK};
use super::{Store, StoreError, any_condition_failed};
use crate::domain::scope::UserRole;
use crate::domain::user::{Tenant, User};

pub enum CreateUser {
    Created,
    EmailTaken,
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

fn user_from(item: &Item) -> Result<User, StoreError> {
    let r = Reader(item);
    Ok(User {
        tenant_id: r.string("tenant_id")?,
        id: r.string("user_id")?,
        email: r.string("email")?,
        name: r.opt_string("name"),
        role: UserRole::parse(&r.string("role")?).unwrap_or_default(),
        cac_verified: r.flag("cac_verified"),
        created_at: r.number("created_at")?,
    })
}

impl Store {
    /// Creates a tenant together with its first user.
    pub async fn create_tenant(&self, tenant: &Tenant, admin: &User) -> Result<(), StoreError> {
        let mut tenant_item = Item::new();
        tenant_item.insert(PK.into(), s(keys::tenant(&tenant.id)));
        tenant_item.insert(SK.into(), s(keys::TENANT_SK));
        tenant_item.insert("type".into(), s("Tenant"));
        tenant_item.insert("tenant_id".into(), s(&tenant.id));
        tenant_item.insert("name".into(), s(&tenant.name));
        tenant_item.insert("created_at".into(), n(tenant.created_at));
        let mut email = Item::new();
        email.insert(PK.into(), s(keys::tenant(&admin.tenant_id)));
        email.insert(SK.into(), s(keys::email_sk(&admin.email)));
        email.insert("type".into(), s("Email"));
        email.insert("user_id".into(), s(&admin.id));
        self.client
            .transact_write_items()
            .transact_items(self.put_if(tenant_item, "attribute_not_exists(PK)"))
            .transact_items(self.put_if(user_item(admin), "attribute_not_exists(PK)"))
            .transact_items(self.put_if(email, "attribute_not_exists(PK)"))
            .send()
            .await?;
        Ok(())
    }

    pub async fn get_tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::tenant(tenant_id)))
            .key(SK, s(keys::TENANT_SK))
            .send()
            .await?;
        output
            .item
            .map(|item| {
                let r = Reader(&item);
                Ok(Tenant {
                    id: r.string("tenant_id")?,
                    name: r.string("name")?,
                    created_at: r.number("created_at")?,
                })
            })
            .transpose()
    }

    /// Creates a user unless the email is already taken in the tenant.
    pub async fn create_user(&self, user: &User) -> Result<CreateUser, StoreError> {
        let mut email = Item::new();
        email.insert(PK.into(), s(keys::tenant(&user.tenant_id)));
        email.insert(SK.into(), s(keys::email_sk(&user.email)));
        email.insert("type".into(), s("Email"));
        email.insert("user_id".into(), s(&user.id));
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put_if(user_item(user), "attribute_not_exists(PK)"))
            .transact_items(self.put_if(email, "attribute_not_exists(PK)"))
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
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::tenant(tenant_id)))
            .key(SK, s(keys::user_sk(user_id)))
            .consistent_read(true)
            .send()
            .await?;
        output.item.as_ref().map(user_from).transpose()
    }

    /// Finds a user of the tenant by (normalised) email.
    pub async fn find_user_by_email(
        &self,
        tenant_id: &str,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::tenant(tenant_id)))
            .key(SK, s(keys::email_sk(email)))
            .send()
            .await?;
        match output
            .item
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
        let next = output
            .last_evaluated_key
            .is_some()
            .then(|| users.last().map(|u| u.id.clone()))
            .flatten();
        Ok((users, next))
    }

    /// Sets the CAC-verified mark a tenant admin grants (needed for CUI datasets).
    pub async fn set_cac_verified(
        &self,
        tenant_id: &str,
        user_id: &str,
        verified: bool,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(keys::tenant(tenant_id)))
            .key(SK, s(keys::user_sk(user_id)))
            .update_expression("SET cac_verified = :v")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":v", b(verified))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }
}
