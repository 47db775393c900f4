//! Access tokens and sessions: hashed, with the TTL attribute set to their expiry.
//! A token is verified together with the key that minted it, in one BatchGetItem.

use super::item::{Item, Reader, list, n, put_opt, s};
use super::keys::{self, GSI1, GSI1PK, GSI1SK, PK, PURGE_AT, SK};
use super::logins::login_item;
use super::transaction::Transaction;
use super::{Store, StoreError, api_keys, owner_budgets, primary_key};
use crate::domain::activity::Login;
use crate::domain::allowed_ips::AllowedIps;
use crate::domain::api_key::ApiKey;
use crate::domain::audit::AuditEvent;
use crate::domain::credential::CredentialKind;
use crate::domain::owner_budget::OwnerBudget;
use crate::domain::scope::{KeyType, Scopes, UserRole};
use crate::domain::standing::Standing;
use crate::domain::token::{AccessToken, TokenOrigin};

fn token_item(token: &AccessToken, hash: &str) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(keys::token(&token.id)));
    item.insert(SK.into(), s(keys::TOKEN_SK));
    item.insert(
        GSI1PK.into(),
        s(keys::user_tokens(&token.tenant_id, &token.user_id)),
    );
    item.insert(GSI1SK.into(), s(&token.id));
    item.insert("type".into(), s("AccessToken"));
    item.insert("hash".into(), s(hash));
    item.insert("token_id".into(), s(&token.id));
    item.insert("kind".into(), s(token.kind.as_str()));
    item.insert("origin".into(), s(token.origin.as_str()));
    item.insert("tenant_id".into(), s(&token.tenant_id));
    item.insert("user_id".into(), s(&token.user_id));
    item.insert("email".into(), s(&token.email));
    item.insert("user_role".into(), s(token.user_role.as_str()));
    put_opt(&mut item, "key_id", token.key_id.as_deref().map(s));
    item.insert("key_type".into(), s(token.key_type.as_str()));
    item.insert("scopes".into(), list(token.scopes.names()));
    put_opt(
        &mut item,
        "chat_role",
        token
            .chat_role
            .as_ref()
            .and_then(|r| serde_json::to_string(r).ok())
            .map(s),
    );
    put_opt(
        &mut item,
        "user_profile",
        token
            .user_profile
            .as_ref()
            .and_then(|p| serde_json::to_string(p).ok())
            .map(s),
    );
    put_opt(&mut item, "end_user", token.end_user.as_deref().map(s));
    // Absent: no list of the token's own.
    if let Some(networks) = token.allowed_ips.names() {
        item.insert(
            "allowed_ips".into(),
            list(networks.iter().map(String::as_str)),
        );
    }
    item.insert("created_at".into(), n(token.created_at));
    item.insert("expires_at".into(), n(token.expires_at));
    item.insert(PURGE_AT.into(), n(token.expires_at));
    item
}

fn token_from(item: &Item) -> Result<(AccessToken, String), StoreError> {
    let r = Reader(item);
    let kind = CredentialKind::parse(&r.string("kind")?)
        .ok_or_else(|| StoreError::Corrupt("token kind".into()))?;
    let token = AccessToken {
        id: r.string("token_id")?,
        kind,
        origin: TokenOrigin::from_stored(r.opt_string("origin").as_deref(), kind),
        tenant_id: r.string("tenant_id")?,
        user_id: r.string("user_id")?,
        email: r.string("email")?,
        user_role: UserRole::parse(&r.string("user_role")?).unwrap_or_default(),
        key_id: r.opt_string("key_id"),
        key_type: KeyType::parse(&r.string("key_type")?).unwrap_or(KeyType::Asker),
        scopes: Scopes::from_stored(r.strings("scopes").iter().map(String::as_str)),
        chat_role: r.json("chat_role"),
        user_profile: r.json("user_profile"),
        end_user: r.opt_string("end_user"),
        allowed_ips: if item.contains_key("allowed_ips") {
            AllowedIps::stored(r.strings("allowed_ips"))
        } else {
            AllowedIps::any()
        },
        created_at: r.number("created_at")?,
        expires_at: r.number("expires_at")?,
        revoked_at: r.opt_number("revoked_at"),
    };
    Ok((token, r.string("hash")?))
}

/// Which of a user's tokens to list, and from where.
#[derive(Clone, Copy)]
pub struct TokenListing<'a> {
    pub kind: CredentialKind,
    /// Revoked and expired ones too.
    pub include_ended: bool,
    pub now: i64,
    pub limit: u32,
    pub after_token_id: Option<&'a str>,
}

/// A token with its hash, the minting key when there is one, and that key's ancestors in
/// the order asked (None: that key is gone).
pub struct TokenWithKey {
    pub token: AccessToken,
    pub hash: String,
    pub key: Option<ApiKey>,
    pub key_ancestors: Vec<Option<ApiKey>>,
    /// The budgets asked for with it (its user's and tenant's), in the order asked.
    pub owner_budgets: Vec<Option<OwnerBudget>>,
    /// Whether its tenant is suspended or its user deactivated, as those items say.
    pub owner_standing: Standing,
}

impl Store {
    /// Stores a new token with its audit event; with `login`, the sign-in it records is
    /// written in the same transaction too, so the table never holds one without the other.
    pub async fn put_token(
        &self,
        token: &AccessToken,
        hash: &str,
        login: Option<&Login>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(self.put_if(token_item(token, hash), "attribute_not_exists(PK)"));
        if let Some(login) = login {
            transaction = transaction.transact_items(self.put_if(
                login_item(&token.tenant_id, &token.user_id, login),
                "attribute_not_exists(PK)",
            ));
        }
        transaction
            .transact_items(self.audit_put(event))
            .send()
            .await?;
        Ok(())
    }

    /// The API key behind a credential id: the key itself, or the key that minted a token
    /// (`None` for an unknown id or a session, which no key backs).
    pub async fn key_behind_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = api_keys::key_primary_key(credential_id);
        if self.get(key, false).await?.is_some() {
            return Ok(Some(credential_id.to_owned()));
        }
        let token = self
            .get(
                primary_key(keys::token(credential_id), keys::TOKEN_SK),
                false,
            )
            .await?;
        Ok(token.and_then(|item| Reader(&item).opt_string("key_id")))
    }

    /// Reads a token, the key that minted it and that key's ancestors in one round trip,
    /// strongly consistent: a revoke or change that has returned is seen by the very next
    /// verification.
    pub async fn get_token_with_key(
        &self,
        token_id: &str,
        key_id: Option<&str>,
        key_ancestors: &[String],
        budget_meters: &[String],
    ) -> Result<Option<TokenWithKey>, StoreError> {
        let token_pk = keys::token(token_id);
        let mut wanted = vec![primary_key(token_pk.clone(), keys::TOKEN_SK)];
        let chain: Vec<&str> = key_id
            .into_iter()
            .chain(key_ancestors.iter().map(String::as_str))
            .collect();
        wanted.extend(chain.iter().map(|id| api_keys::key_primary_key(id)));
        wanted.extend(owner_budgets::budget_keys(budget_meters));
        let found = self.get_consistent_batch(wanted).await?;
        let is_token = |item: &&Item| item.get(PK).and_then(|v| v.as_s().ok()) == Some(&token_pk);
        let Some(token_item) = found.iter().find(is_token) else {
            return Ok(None);
        };
        let (token, hash) = token_from(token_item)?;
        let mut keys = api_keys::keys_in(&found, &chain)?.into_iter();
        let key = keys.next().flatten();
        Ok(Some(TokenWithKey {
            token,
            hash,
            key,
            key_ancestors: keys.collect(),
            owner_budgets: owner_budgets::budgets_in(&found, budget_meters),
            owner_standing: owner_budgets::standing_in(&found, budget_meters),
        }))
    }

    /// Ids of a user's unrevoked, unexpired sessions (GSI1, so eventually consistent: a
    /// session made in the last instant may be missing). Pages through the user's tokens,
    /// which TTL keeps to those of the last few days.
    pub async fn list_live_sessions(
        &self,
        tenant_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :owner")
            .filter_expression(
                "kind = :session AND expires_at > :now AND attribute_not_exists(revoked_at)",
            )
            .expression_attribute_values(":owner", s(keys::user_tokens(tenant_id, user_id)))
            .expression_attribute_values(":session", s(CredentialKind::Session.as_str()))
            .expression_attribute_values(":now", n(now))
            .limit(100);
        let items = self.query_pages(query, None).await?;
        items
            .iter()
            .map(|item| Reader(item).string("token_id"))
            .collect()
    }

    /// One page of a user's tokens of `kind`, newest first: one Query of GSI1 with the
    /// kind (and, unless `include_ended`, liveness) as a filter, so a page may hold fewer
    /// than `limit` and still have a next one. Returns the page and the id it ended at.
    pub async fn list_tokens(
        &self,
        tenant_id: &str,
        user_id: &str,
        listing: &TokenListing<'_>,
    ) -> Result<(Vec<AccessToken>, Option<String>), StoreError> {
        let TokenListing {
            kind,
            include_ended,
            now,
            limit,
            after_token_id,
        } = *listing;
        let owner = keys::user_tokens(tenant_id, user_id);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :owner")
            .expression_attribute_values(":owner", s(&owner))
            .expression_attribute_values(":kind", s(kind.as_str()))
            .scan_index_forward(false)
            .limit(limit as i32);
        query = if include_ended {
            query.filter_expression("kind = :kind")
        } else {
            query
                .filter_expression(
                    "kind = :kind AND expires_at > :now AND attribute_not_exists(revoked_at)",
                )
                .expression_attribute_values(":now", n(now))
        };
        if let Some(after) = after_token_id {
            query = query.set_exclusive_start_key(Some(Item::from([
                (PK.to_owned(), s(keys::token(after))),
                (SK.to_owned(), s(keys::TOKEN_SK)),
                (GSI1PK.to_owned(), s(&owner)),
                (GSI1SK.to_owned(), s(after)),
            ])));
        }
        let output = query.send().await?;
        let tokens = output
            .items()
            .iter()
            .map(|item| token_from(item).map(|(token, _)| token))
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key
            .as_ref()
            .and_then(|last| Reader(last).opt_string(GSI1SK));
        Ok((tokens, next))
    }

    /// A token or session (eventually consistent), without its hash.
    pub async fn get_token(&self, token_id: &str) -> Result<Option<AccessToken>, StoreError> {
        let item = self
            .get(primary_key(keys::token(token_id), keys::TOKEN_SK), false)
            .await?;
        item.as_ref()
            .map(|item| token_from(item).map(|(token, _)| token))
            .transpose()
    }

    /// Revokes a token or session with its audit event, in one transaction; false when
    /// missing or already revoked.
    pub async fn revoke_token(
        &self,
        token_id: &str,
        now: i64,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut transaction = Transaction::new();
        let unrevoked_token = transaction.guarded(self.update_if(
            primary_key(keys::token(token_id), keys::TOKEN_SK),
            "SET revoked_at = :now",
            "attribute_exists(PK) AND attribute_not_exists(revoked_at)",
            Item::from([(":now".to_owned(), n(now))]),
        ));
        transaction.add(self.audit_put(event));
        match transaction.send(self).await {
            Ok(()) => Ok(true),
            Err(error) if unrevoked_token.failed(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
