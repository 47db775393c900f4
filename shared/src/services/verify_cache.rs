//! An opt-in, short-lived memory of verified credentials (`KEYGATE_AUTH_CACHE_SECS`, off by
//! default), so a warm function verifies a repeated credential without any read. Its TTL
//! (at most 10 s) bounds how long a credential revoked, paused or narrowed elsewhere keeps
//! its old rights here; changes made on this instance drop entries at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::principal::Principal;

const MAX_ENTRIES: usize = 10_000;

pub struct VerifyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl VerifyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The principal verified for this credential hash, if still fresh.
    pub fn get(&self, hash: &str, now_epoch: i64) -> Option<Principal> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (principal, stored_at) = entries.get(hash)?;
        let fresh =
            stored_at.elapsed() < self.ttl && principal.expires_at.is_none_or(|at| at > now_epoch);
        fresh.then(|| principal.clone())
    }

    pub fn put(&self, hash: String, principal: Principal) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash, (principal, Instant::now()));
    }

    /// Forgets every credential being this credential, backed by this key, or by a key
    /// this key created (directly or further down).
    pub fn forget(&self, id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (p, _)| {
            p.credential_id != id
                && p.key_id.as_deref() != Some(id)
                && !p.key_lineage.iter().any(|ancestor| ancestor == id)
        });
    }

    /// Forgets every credential of a user (used when all their keys are revoked).
    pub fn forget_user(&self, tenant_id: &str, user_id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (p, _)| !(p.tenant_id == tenant_id && p.user_id == user_id));
    }
}
