//! The use cases, written once and called by every API surface.

pub mod activity;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod chats;
pub mod datasets;
pub mod erasure;
mod error;
pub mod key_check;
pub mod metering;
pub mod notifier;
pub mod offboarding;
pub mod owner_budgets;
pub mod passwords;
mod peppers;
pub mod roll;
pub mod secret_scanning;
pub mod sessions;
pub mod teams;
pub mod tenant_policy;
pub mod tenants;
pub mod tokens;
pub mod users;
mod verify_cache;
pub mod webhooks;

pub use error::Error;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::domain::credential::{self, CredentialHasher};
use crate::domain::password::PasswordHasher;
use crate::domain::pepper::Peppers;
use crate::outbound::webhook_sender::WebhookSender;
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
    /// Replaced when a stored hash names a pepper version newer than it holds.
    hasher: Arc<RwLock<CredentialHasher>>,
    /// When this instance last read the pepper's versions again (not at all: `None`).
    peppers_reread_at: Arc<tokio::sync::Mutex<Option<Instant>>>,
    passwords: PasswordHasher,
    cache: Arc<VerifyCache>,
    /// Keys whose `last_used_at` this instance wrote recently (key id → when): no instance
    /// writes a key's stamp twice within the resolution, even when its conditional write was
    /// refused.
    touched: Arc<Mutex<HashMap<String, i64>>>,
    /// Sends webhook deliveries (only the notifier and the local server do).
    sender: WebhookSender,
}

impl Services {
    /// Reads what lives outside the table (the pepper's versions) and builds the services:
    /// once per cold start.
    pub async fn load(config: Config, store: Store) -> Result<Self, ConfigError> {
        let peppers = store.load_peppers(&config).await?;
        Ok(Self::new(config, store, peppers))
    }

    pub fn new(config: Config, store: Store, peppers: Peppers) -> Self {
        Self {
            hasher: Arc::new(RwLock::new(CredentialHasher::new(peppers))),
            peppers_reread_at: Arc::default(),
            passwords: PasswordHasher::new(config.password_cost),
            cache: Arc::new(VerifyCache::new(config.auth_cache_ttl)),
            touched: Arc::default(),
            sender: WebhookSender::default(),
            config: Arc::new(config),
            store,
        }
    }
}

/// The owner a new secret carries. Every tenant and user id keygate issues is a ULID, so
/// anything else is a malformed stored item.
fn owner_of(tenant_id: &str, user_id: &str) -> Result<credential::Owner, Error> {
    credential::Owner::of(tenant_id, user_id)
        .ok_or_else(|| Error::Internal("a stored tenant or user id is not a ULID".into()))
}
