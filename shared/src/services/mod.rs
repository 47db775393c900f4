//! The use cases, written once and called by every API surface.

pub mod activity;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod chats;
pub mod datasets;
mod error;
pub mod key_check;
pub mod metering;
pub mod owner_budgets;
pub mod passwords;
pub mod roll;
pub mod secret_scanning;
pub mod sessions;
pub mod tokens;
pub mod users;
mod verify_cache;

pub use error::Error;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::domain::credential::{self, CredentialHasher};
use crate::domain::password::PasswordHasher;
use crate::store::Store;
use verify_cache::VerifyCache;

/// Who is on the other end of a request, for login history and prompt logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// Everything a use case needs, built once per cold start and shared by all requests.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub config: Arc<Config>,
    hasher: CredentialHasher,
    passwords: PasswordHasher,
    cache: Arc<VerifyCache>,
    /// Keys whose `last_used_at` this instance wrote recently (key id → when): no instance
    /// writes a key's stamp twice within the resolution, even when its conditional write was
    /// refused.
    touched: Arc<Mutex<HashMap<String, i64>>>,
}

impl Services {
    pub fn new(config: Config, store: Store) -> Self {
        Self {
            hasher: CredentialHasher::new(config.pepper.clone()),
            passwords: PasswordHasher::new(config.password_cost),
            cache: Arc::new(VerifyCache::new(config.auth_cache_ttl)),
            touched: Arc::default(),
            config: Arc::new(config),
            store,
        }
    }

    pub fn hasher(&self) -> &CredentialHasher {
        &self.hasher
    }
}

/// The owner a new secret carries. Every tenant and user id keygate issues is a ULID, so
/// anything else is a malformed stored item.
fn owner_of(tenant_id: &str, user_id: &str) -> Result<credential::Owner, Error> {
    credential::Owner::of(tenant_id, user_id)
        .ok_or_else(|| Error::Internal("a stored tenant or user id is not a ULID".into()))
}
