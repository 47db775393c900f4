//! The server-side pepper, versioned so it can rotate.
//!
//! Each stored hash names the version it was made with (`p<version>$<hex>`); a new secret
//! is hashed with the current (highest) version, and an older version keeps verifying the
//! secrets made under it until the operator revokes it. A hash without a version is from
//! before versions: it was made with the pepper now stored as version 1, or with none at
//! all when no pepper is configured.

use std::collections::{BTreeMap, BTreeSet};

/// The peppers a deployment knows, by version, and the versions it no longer accepts.
#[derive(Clone, Default)]
pub struct Peppers {
    versions: BTreeMap<u32, Vec<u8>>,
    revoked: BTreeSet<u32>,
}

/// Why a set of pepper versions cannot be used; the value of a pepper never appears.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PepperError {
    #[error("the pepper parameter has no version")]
    NoVersion,
    #[error("pepper version {0} is empty")]
    Empty(u32),
    #[error("the current pepper version {0} is revoked: store a new version first")]
    CurrentRevoked(u32),
}

/// Which pepper a stored hash was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashedWith {
    /// No pepper: SHA-256.
    Nothing,
    /// HMAC-SHA256 with this version.
    Version(u32),
}

impl Peppers {
    /// No pepper: secrets are stored as SHA-256.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every stored version (`(version, value)`), and the versions revoked.
    pub fn new(
        versions: impl IntoIterator<Item = (u32, Vec<u8>)>,
        revoked: BTreeSet<u32>,
    ) -> Result<Self, PepperError> {
        let versions: BTreeMap<u32, Vec<u8>> = versions.into_iter().collect();
        if let Some((version, _)) = versions.iter().find(|(_, value)| value.is_empty()) {
            return Err(PepperError::Empty(*version));
        }
        let current = *versions.keys().next_back().ok_or(PepperError::NoVersion)?;
        if revoked.contains(&current) {
            return Err(PepperError::CurrentRevoked(current));
        }
        Ok(Self { versions, revoked })
    }

    /// What new secrets are hashed with.
    pub fn current(&self) -> HashedWith {
        self.versions
            .keys()
            .next_back()
            .map_or(HashedWith::Nothing, |version| HashedWith::Version(*version))
    }

    /// The pepper for `version`, unless it is unknown or revoked.
    pub fn accepted(&self, version: u32) -> Option<&[u8]> {
        if self.revoked.contains(&version) {
            return None;
        }
        self.versions.get(&version).map(Vec::as_slice)
    }

    /// Whether `version` is newer than every version held: one stored after this set was
    /// read (another instance started after a rotation).
    pub fn is_newer(&self, version: u32) -> bool {
        self.versions
            .keys()
            .next_back()
            .is_none_or(|held| version > *held)
    }

    /// What a stored hash without a version was made with.
    pub fn legacy(&self) -> HashedWith {
        if self.versions.is_empty() {
            HashedWith::Nothing
        } else {
            HashedWith::Version(1)
        }
    }
}

/// A stored hash's form: `p<version>$<hex>`, or bare hex from before versions.
pub fn split_stored(stored: &str) -> (Option<u32>, &str) {
    stored
        .strip_prefix('p')
        .and_then(|rest| rest.split_once('$'))
        .and_then(|(version, hex)| Some((version.parse().ok()?, hex)))
        .map_or((None, stored), |(version, hex)| (Some(version), hex))
}

/// The stored form of a digest's hex made with `with`.
pub fn stored_form(with: HashedWith, hex: &str) -> String {
    match with {
        HashedWith::Nothing => hex.to_owned(),
        HashedWith::Version(version) => format!("p{version}${hex}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(versions: &[u32], revoked: &[u32]) -> Result<Peppers, PepperError> {
        Peppers::new(
            versions
                .iter()
                .map(|v| (*v, format!("pepper {v}").into_bytes())),
            revoked.iter().copied().collect(),
        )
    }

    #[test]
    fn the_highest_version_is_current_and_revoked_ones_are_not_accepted() {
        let peppers = ring(&[1, 2, 3], &[1]).unwrap();
        assert_eq!(peppers.current(), HashedWith::Version(3));
        assert_eq!(peppers.accepted(1), None);
        assert_eq!(peppers.accepted(2), Some(&b"pepper 2"[..]));
        assert_eq!(peppers.accepted(4), None);
        assert_eq!(peppers.legacy(), HashedWith::Version(1));
        assert!(peppers.is_newer(4) && !peppers.is_newer(3) && !peppers.is_newer(1));
        assert_eq!(Peppers::none().current(), HashedWith::Nothing);
        assert_eq!(Peppers::none().legacy(), HashedWith::Nothing);
    }

    #[test]
    fn unusable_sets_are_refused() {
        assert_eq!(ring(&[], &[]).err(), Some(PepperError::NoVersion));
        assert_eq!(
            ring(&[1, 2], &[2]).err(),
            Some(PepperError::CurrentRevoked(2))
        );
        let empty = Peppers::new([(1, Vec::new())], BTreeSet::new());
        assert_eq!(empty.err(), Some(PepperError::Empty(1)));
    }

    #[test]
    fn stored_forms_round_trip() {
        assert_eq!(stored_form(HashedWith::Version(12), "ab"), "p12$ab");
        assert_eq!(split_stored("p12$ab"), (Some(12), "ab"));
        assert_eq!(stored_form(HashedWith::Nothing, "ab"), "ab");
        assert_eq!(split_stored("ab"), (None, "ab"));
        // Hex never starts with `p`, so a malformed prefix is kept whole (and never matches).
        assert_eq!(split_stored("px$ab"), (None, "px$ab"));
    }
}
