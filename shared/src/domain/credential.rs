//! The credential format: what a secret looks like, how it is made, checked and hashed.
//!
//! A secret is `<prefix><id><parent?><random><crc>`:
//! - a fixed prefix per kind, so secret scanners (and people) recognise it;
//! - the credential's ULID (and, for access tokens, the ULID of the API key that minted it),
//!   so a lookup is a GetItem by id and no secret-derived index is needed;
//! - 192 bits from the OS CSPRNG in base62;
//! - a CRC32 of everything before it, so typos and random strings fail before any read.
//!
//! Only a hash of the whole secret is stored: SHA-256, or HMAC-SHA256 with a server-side
//! pepper when one is configured. Stored and presented hashes are compared in constant time.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use ulid::Ulid;

use super::base62;

const RANDOM_BYTES: usize = 24;
const RANDOM_CHARS: usize = base62::width_for(RANDOM_BYTES);
const CRC_CHARS: usize = base62::width_for(4);
const ULID_CHARS: usize = 26;

/// What a credential is; each kind has its own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    ApiKey,
    AccessToken,
    Session,
}

impl CredentialKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::ApiKey => "kg_",
            Self::AccessToken => "kgt_",
            Self::Session => "kgs_",
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::AccessToken => "access_token",
            Self::Session => "session",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "api_key" => Some(Self::ApiKey),
            "access_token" => Some(Self::AccessToken),
            "session" => Some(Self::Session),
            _ => None,
        }
    }

    /// Access tokens carry the id of the API key that minted them.
    const fn has_parent(self) -> bool {
        matches!(self, Self::AccessToken)
    }

    fn secret_len(self) -> usize {
        let ids = if self.has_parent() { 2 } else { 1 };
        self.prefix().len() + ids * ULID_CHARS + RANDOM_CHARS + CRC_CHARS
    }
}

/// Why a stored credential authenticates nothing right now (checked in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    /// Paused by its owner (keys only).
    Disabled,
    Expired,
}

/// A freshly generated secret, to be shown once and then forgotten.
pub struct NewSecret {
    pub id: Ulid,
    pub secret: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A presented secret whose format and checksum are valid (it may still be unknown).
pub struct PresentedSecret<'a> {
    pub kind: CredentialKind,
    pub id: Ulid,
    pub parent: Option<Ulid>,
    secret: &'a str,
}

impl PresentedSecret<'_> {
    pub fn secret(&self) -> &str {
        self.secret
    }
}

/// Generates a new id from the clock and the OS CSPRNG.
pub fn new_ulid() -> Ulid {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).expect("the OS random number generator is available");
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    Ulid::from_parts(millis as u64, u128::from_be_bytes(random))
}

/// Makes a new secret of `kind`; `parent` is the minting key for access tokens.
pub fn generate(kind: CredentialKind, parent: Option<Ulid>) -> NewSecret {
    let id = new_ulid();
    let mut random = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut random).expect("the OS random number generator is available");
    let mut secret = String::with_capacity(kind.secret_len());
    secret.push_str(kind.prefix());
    secret.push_str(&id.to_string());
    if kind.has_parent() {
        secret.push_str(&parent.unwrap_or(Ulid::nil()).to_string());
    }
    secret.push_str(&base62::encode(&random, RANDOM_CHARS));
    let checksum = checksum(&secret);
    secret.push_str(&checksum);
    NewSecret { id, secret }
}

/// Checks the format and checksum of a presented secret, without any lookup.
/// Accepts Cogniac's `KEYID:SECRET` form when KEYID is the secret's own id; any other
/// KEYID makes the credential malformed.
pub fn parse(presented: &str) -> Option<PresentedSecret<'_>> {
    let presented = presented.trim();
    let (claimed_id, secret) = match presented.rsplit_once(':') {
        Some((claimed, secret)) => (Some(claimed), secret),
        None => (None, presented),
    };
    let kind = [
        CredentialKind::AccessToken,
        CredentialKind::Session,
        CredentialKind::ApiKey,
    ]
    .into_iter()
    .find(|kind| secret.starts_with(kind.prefix()))?;
    if secret.len() != kind.secret_len() {
        return None;
    }
    let body = &secret[kind.prefix().len()..];
    if !base62::is_base62(body) {
        return None;
    }
    let (signed, crc) = secret.split_at(secret.len() - CRC_CHARS);
    if checksum(signed)
        .as_bytes()
        .ct_eq(crc.as_bytes())
        .unwrap_u8()
        != 1
    {
        return None;
    }
    let id = Ulid::from_string(&body[..ULID_CHARS]).ok()?;
    if claimed_id.is_some_and(|claimed| Ulid::from_string(claimed).ok() != Some(id)) {
        return None;
    }
    let parent = if kind.has_parent() {
        Some(Ulid::from_string(&body[ULID_CHARS..2 * ULID_CHARS]).ok()?)
    } else {
        None
    };
    Some(PresentedSecret {
        kind,
        id,
        parent,
        secret,
    })
}

/// The short, non-secret prefix shown in listings: the kind's prefix and the id.
pub fn display_prefix(kind: CredentialKind, id: Ulid) -> String {
    format!("{}{}", kind.prefix(), id)
}

fn checksum(text: &str) -> String {
    base62::encode(&crc32fast::hash(text.as_bytes()).to_be_bytes(), CRC_CHARS)
}

/// Hashes secrets for storage; the pepper, when set, makes stolen hashes useless offline.
#[derive(Clone)]
pub struct CredentialHasher {
    pepper: Option<Vec<u8>>,
}

impl CredentialHasher {
    pub fn new(pepper: Option<Vec<u8>>) -> Self {
        Self { pepper }
    }

    /// Hex of SHA-256(secret), or of HMAC-SHA256(pepper, secret).
    pub fn hash(&self, secret: &str) -> String {
        let digest: [u8; 32] = match &self.pepper {
            Some(pepper) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(pepper)
                    .expect("HMAC accepts keys of any length");
                mac.update(secret.as_bytes());
                mac.finalize().into_bytes().into()
            }
            None => Sha256::digest(secret.as_bytes()).into(),
        };
        to_hex(&digest)
    }

    /// Constant-time check that `secret` hashes to `stored_hash`.
    pub fn matches(&self, secret: &str, stored_hash: &str) -> bool {
        same_hash(&self.hash(secret), stored_hash)
    }
}

/// Constant-time comparison of a presented secret's hash (computed once) with a stored one.
pub fn same_hash(presented_hash: &str, stored_hash: &str) -> bool {
    presented_hash
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_back() {
        for kind in [
            CredentialKind::ApiKey,
            CredentialKind::AccessToken,
            CredentialKind::Session,
        ] {
            let parent = new_ulid();
            let new = generate(kind, Some(parent));
            let parsed = parse(&new.secret).expect("valid secret");
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.id, new.id);
            assert_eq!(parsed.parent, kind.has_parent().then_some(parent));
        }
    }

    #[test]
    fn typos_and_random_strings_are_rejected() {
        let new = generate(CredentialKind::ApiKey, None);
        let mut typo = new.secret.clone().into_bytes();
        let at = typo.len() - 10;
        typo[at] = if typo[at] == b'a' { b'b' } else { b'a' };
        assert!(parse(std::str::from_utf8(&typo).unwrap()).is_none());
        assert!(parse("kg_not-a-key").is_none());
        assert!(parse("").is_none());
        assert!(parse(&new.secret[..new.secret.len() - 1]).is_none());
    }

    #[test]
    fn cogniac_keyid_form_is_accepted() {
        let new = generate(CredentialKind::ApiKey, None);
        let combined = format!("{}:{}", new.id, new.secret);
        assert_eq!(parse(&combined).unwrap().id, new.id);
        let lowercase = format!("{}:{}", new.id.to_string().to_lowercase(), new.secret);
        assert_eq!(parse(&lowercase).unwrap().id, new.id);
        for claimed in [new_ulid().to_string(), String::new(), "x".into()] {
            let mismatched = format!("{claimed}:{}", new.secret);
            assert!(parse(&mismatched).is_none(), "{claimed:?}");
        }
    }

    #[test]
    fn secrets_are_distinct_and_hashes_depend_on_pepper() {
        let a = generate(CredentialKind::ApiKey, None);
        let b = generate(CredentialKind::ApiKey, None);
        assert_ne!(a.secret, b.secret);
        let plain = CredentialHasher::new(None);
        let peppered = CredentialHasher::new(Some(b"pepper".to_vec()));
        assert_ne!(plain.hash(&a.secret), peppered.hash(&a.secret));
        assert!(plain.matches(&a.secret, &plain.hash(&a.secret)));
        assert!(!plain.matches(&b.secret, &plain.hash(&a.secret)));
        assert_eq!(plain.hash(&a.secret).len(), 64);
    }
}
