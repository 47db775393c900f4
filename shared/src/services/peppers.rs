//! The pepper's versions as this instance holds them. After a rotation, instances that
//! started earlier meet hashes made under the new version; they read the versions again
//! (once, whoever asks first) instead of refusing those credentials until they restart.

use std::time::{Duration, Instant};

use super::Services;
use crate::domain::credential::CredentialHasher;
use crate::store::StoreError;

/// At most one read of the parameter per instance in this time: only a hash stored in the
/// table can ask for one, but a burst of them should not become a burst of SSM calls.
const REREAD_AFTER: Duration = Duration::from_secs(10);

impl Services {
    /// The hasher of the pepper versions this instance holds now.
    pub fn hasher(&self) -> CredentialHasher {
        self.hasher
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether `secret` hashes to `stored`, reading the pepper's versions again first when
    /// `stored` names a version newer than those held.
    pub(crate) async fn matches_stored(
        &self,
        secret: &str,
        stored: &str,
    ) -> Result<bool, StoreError> {
        let hasher = self.hasher();
        if !hasher.names_a_newer_version(stored) {
            return Ok(hasher.matches(secret, stored));
        }
        let mut reread_at = self.peppers_reread_at.lock().await;
        // Another request may have read them while this one waited.
        let due = reread_at.is_none_or(|at| at.elapsed() >= REREAD_AFTER);
        if self.hasher().names_a_newer_version(stored) && due {
            let peppers = self
                .store
                .load_peppers(&self.config)
                .await
                .map_err(|error| StoreError::Unavailable(error.to_string()))?;
            *reread_at = Some(Instant::now());
            *self
                .hasher
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = CredentialHasher::new(peppers);
        }
        Ok(self.hasher().matches(secret, stored))
    }
}
