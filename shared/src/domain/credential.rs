//! The credential format: what a secret looks like, how it is made, checked and hashed.
//!
//! A secret is `<prefix><id>o<tenant><user><lineage…><random><crc>`:
//! - a fixed prefix per kind, so secret scanners (and people) recognise it;
//! - the credential's ULID, then `o` and its owner — the ULIDs of its tenant and user — so
//!   the budgets above every key (the user's, the tenant's) are read by id in the same
//!   BatchGetItem as the credential;
//! - its lineage: for access tokens the ULID of the API key that minted it, then (for
//!   tokens and keys) the ULIDs of the keys that created that key, nearest first (at most
//!   `MAX_KEY_ANCESTORS`), so a credential and everything its rights follow are read by id
//!   in one BatchGetItem and no secret-derived index is needed;
//! - 192 bits from the OS CSPRNG in base62;
//! - a CRC32 of everything before it, so typos and random strings fail before any read.
//!
//! Secrets made before owners rode in them (`<prefix><id><lineage…><random><crc>`, told
//! apart by length: their ids are a whole number of ULIDs, the `o` makes one more
//! character) still parse, with no owner; verifying one reads the owner's budgets in a
//! second round trip (README, "Credential format").
//!
//! Only a hash of the whole secret is stored: SHA-256, or HMAC-SHA256 with a server-side
//! pepper when one is configured, the stored hash naming the pepper's version (see
//! [`super::pepper`]). Stored and presented hashes are compared in constant time.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use ulid::Ulid;

use super::base62;
use super::pepper::{HashedWith, Peppers, split_stored, stored_form};

const RANDOM_BYTES: usize = 24;
const RANDOM_CHARS: usize = base62::width_for(RANDOM_BYTES);
const CRC_CHARS: usize = base62::width_for(4);
const ULID_CHARS: usize = 26;
/// Marks a secret whose owner follows its id (the `o` of `<id>o<tenant><user>`).
const OWNER_MARKER: char = 'o';

/// How many keys deep a key may be created by other keys. Each ancestor is one more item
/// read at every verification and 26 more characters in every secret below it.
pub const MAX_KEY_ANCESTORS: usize = 4;

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

    /// How many ids may follow the credential's own: a token's key and that key's
    /// ancestors, a key's ancestors, nothing for a session.
    const fn lineage_bounds(self) -> (usize, usize) {
        match self {
            Self::AccessToken => (1, 1 + MAX_KEY_ANCESTORS),
            Self::ApiKey => (0, MAX_KEY_ANCESTORS),
            Self::Session => (0, 0),
        }
    }

    fn secret_len(self, lineage: usize) -> usize {
        self.prefix().len()
            + OWNER_MARKER.len_utf8()
            + (3 + lineage) * ULID_CHARS
            + RANDOM_CHARS
            + CRC_CHARS
    }
}

/// Whose a credential is: its tenant and user. Every secret keygate makes carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub tenant: Ulid,
    pub user: Ulid,
}

impl Owner {
    /// The owner named by two stored ids; `None` when either is not a ULID.
    pub fn of(tenant_id: &str, user_id: &str) -> Option<Self> {
        Some(Self {
            tenant: Ulid::from_string(tenant_id).ok()?,
            user: Ulid::from_string(user_id).ok()?,
        })
    }

    /// Whether the stored ids are this owner's.
    pub fn is(&self, tenant_id: &str, user_id: &str) -> bool {
        self.tenant.to_string() == tenant_id && self.user.to_string() == user_id
    }
}

/// Why a stored credential authenticates nothing right now (checked in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    /// Paused by its owner (keys only).
    Disabled,
    Expired,
    /// Its tenant is suspended by the operator (`keygate-admin tenant suspend`).
    Suspended,
    /// Its user is deactivated (`DELETE /v1/users/{id}`).
    Deactivated,
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
    /// The ids after the credential's own, nearest first: a token's key then that key's
    /// ancestors; a key's ancestors. Bound to the secret by its hash.
    pub lineage: Vec<Ulid>,
    /// The credential's tenant and user; `None` for a secret of the earlier format.
    pub owner: Option<Owner>,
    secret: &'a str,
}

impl PresentedSecret<'_> {
    pub fn secret(&self) -> &str {
        self.secret
    }

    /// The key that minted a token (None for keys, sessions, and tokens of no key).
    pub fn parent(&self) -> Option<Ulid> {
        if self.kind.has_parent() {
            self.lineage.first().copied().filter(|p| !p.is_nil())
        } else {
            None
        }
    }

    /// The ancestors of the API key behind this credential, nearest first.
    pub fn key_ancestors(&self) -> &[Ulid] {
        if self.kind.has_parent() {
            &self.lineage[1..]
        } else {
            &self.lineage
        }
    }
}

/// Generates a new id from the clock and the OS CSPRNG.
pub fn new_ulid() -> Ulid {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).expect("the OS random number generator is available");
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    Ulid::from_parts(millis as u64, u128::from_be_bytes(random))
}

/// Makes a new secret of `kind` for `owner`; `lineage` is, nearest first, the minting key
/// and its ancestors for access tokens (empty: no key), the creating keys for API keys, and
/// nothing for sessions. Callers bound it (`MAX_KEY_ANCESTORS`) before asking.
pub fn generate(kind: CredentialKind, owner: Owner, lineage: &[Ulid]) -> NewSecret {
    let id = new_ulid();
    let mut random = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut random).expect("the OS random number generator is available");
    let nil = [Ulid::nil()];
    let lineage = match kind {
        CredentialKind::Session => &[][..],
        CredentialKind::AccessToken if lineage.is_empty() => &nil[..],
        _ => lineage,
    };
    let mut secret = String::with_capacity(kind.secret_len(lineage.len()));
    secret.push_str(kind.prefix());
    secret.push_str(&id.to_string());
    secret.push(OWNER_MARKER);
    secret.push_str(&owner.tenant.to_string());
    secret.push_str(&owner.user.to_string());
    for ancestor in lineage {
        secret.push_str(&ancestor.to_string());
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
    let ids_chars = secret
        .len()
        .checked_sub(kind.prefix().len() + RANDOM_CHARS + CRC_CHARS)?;
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
    let ulid_at =
        |at: usize| -> Option<Ulid> { Ulid::from_string(body.get(at..at + ULID_CHARS)?).ok() };
    let id = ulid_at(0)?;
    // With an owner: one marker character, then the tenant and the user.
    let (owner, lineage_from, lineage_len) = match ids_chars % ULID_CHARS {
        0 => (None, ULID_CHARS, (ids_chars / ULID_CHARS).checked_sub(1)?),
        1 if body[ULID_CHARS..].starts_with(OWNER_MARKER) => {
            let at = ULID_CHARS + OWNER_MARKER.len_utf8();
            let owner = Owner {
                tenant: ulid_at(at)?,
                user: ulid_at(at + ULID_CHARS)?,
            };
            (
                Some(owner),
                at + 2 * ULID_CHARS,
                (ids_chars / ULID_CHARS).checked_sub(3)?,
            )
        }
        _ => return None,
    };
    let (fewest, most) = kind.lineage_bounds();
    if !(fewest..=most).contains(&lineage_len) {
        return None;
    }
    if claimed_id.is_some_and(|claimed| Ulid::from_string(claimed).ok() != Some(id)) {
        return None;
    }
    let lineage = (0..lineage_len)
        .map(|at| ulid_at(lineage_from + at * ULID_CHARS))
        .collect::<Option<Vec<_>>>()?;
    // The same id twice is no lineage keygate makes (and no batch read may ask for it).
    let mut seen = std::collections::HashSet::from([id]);
    if !lineage.iter().all(|ancestor| seen.insert(*ancestor)) {
        return None;
    }
    Some(PresentedSecret {
        kind,
        id,
        lineage,
        owner,
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
    peppers: Arc<Peppers>,
}

impl CredentialHasher {
    pub fn new(peppers: Peppers) -> Self {
        Self {
            peppers: Arc::new(peppers),
        }
    }

    /// The stored form of `secret`: HMAC-SHA256 with the current pepper, named by its
    /// version (`p<version>$<hex>`), or hex SHA-256 when no pepper is configured.
    pub fn hash(&self, secret: &str) -> String {
        let current = self.peppers.current();
        let digest = self
            .digest(current, secret)
            .expect("the current pepper is accepted");
        stored_form(current, &to_hex(&digest))
    }

    /// Constant-time check that `secret` hashes to `stored`, with the pepper version
    /// `stored` names; a revoked or unknown version never matches.
    pub fn matches(&self, secret: &str, stored: &str) -> bool {
        let (version, stored_hex) = split_stored(stored);
        let with = version.map_or(self.peppers.legacy(), HashedWith::Version);
        self.digest(with, secret)
            .is_some_and(|digest| same_hash(&to_hex(&digest), stored_hex))
    }

    /// Whether `stored` names a pepper version newer than every one this hasher holds.
    pub fn names_a_newer_version(&self, stored: &str) -> bool {
        split_stored(stored)
            .0
            .is_some_and(|version| self.peppers.is_newer(version))
    }

    /// A key derived from `seed` under the current pepper, and the version it used: a secret
    /// keygate must remake to use (a webhook's signing key), of which the table holds only
    /// the seed and the version. Without a pepper (development only) it is SHA-256 of the
    /// seed, so the table alone would give it away.
    pub fn derive(&self, seed: &str) -> (HashedWith, [u8; 32]) {
        let current = self.peppers.current();
        let key = self
            .digest(current, seed)
            .expect("the current pepper is accepted");
        (current, key)
    }

    /// The key [`CredentialHasher::derive`] made from `seed` under `with`; `None` once that
    /// pepper version is revoked or unknown.
    pub fn derive_again(&self, with: HashedWith, seed: &str) -> Option<[u8; 32]> {
        self.digest(with, seed)
    }

    fn digest(&self, with: HashedWith, secret: &str) -> Option<[u8; 32]> {
        match with {
            HashedWith::Nothing => Some(Sha256::digest(secret.as_bytes()).into()),
            HashedWith::Version(version) => {
                let pepper = self.peppers.accepted(version)?;
                let mut mac = Hmac::<Sha256>::new_from_slice(pepper)
                    .expect("HMAC accepts keys of any length");
                mac.update(secret.as_bytes());
                Some(mac.finalize().into_bytes().into())
            }
        }
    }
}

/// Constant-time comparison of two hashes' hex.
fn same_hash(presented_hash: &str, stored_hash: &str) -> bool {
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

    fn owner() -> Owner {
        Owner {
            tenant: new_ulid(),
            user: new_ulid(),
        }
    }

    /// A secret in the format made before owners rode in secrets.
    fn legacy(kind: CredentialKind, lineage: &[Ulid]) -> (Ulid, String) {
        let id = new_ulid();
        let mut secret = format!("{}{id}", kind.prefix());
        for ancestor in lineage {
            secret.push_str(&ancestor.to_string());
        }
        secret.push_str(&base62::encode(&[7u8; RANDOM_BYTES], RANDOM_CHARS));
        let crc = checksum(&secret);
        secret.push_str(&crc);
        (id, secret)
    }

    #[test]
    fn the_owner_rides_in_the_secret_and_earlier_secrets_still_parse() {
        let made_for = owner();
        let key = new_ulid();
        let token = generate(CredentialKind::AccessToken, made_for, &[key]);
        let parsed = parse(&token.secret).expect("a token with its owner");
        assert_eq!(parsed.owner, Some(made_for));
        assert_eq!(parsed.parent(), Some(key));
        assert!(made_for.is(&made_for.tenant.to_string(), &made_for.user.to_string()));
        assert!(!made_for.is(&made_for.user.to_string(), &made_for.tenant.to_string()));
        for (kind, lineage) in [
            (CredentialKind::ApiKey, vec![]),
            (CredentialKind::ApiKey, vec![key]),
            (CredentialKind::AccessToken, vec![key]),
        ] {
            let (id, secret) = legacy(kind, &lineage);
            let parsed = parse(&secret).expect("an earlier secret");
            assert_eq!((parsed.id, parsed.owner), (id, None));
            assert_eq!(parsed.lineage, lineage);
        }
        // One character more than whole ULIDs, but no marker: nothing keygate made.
        let marked = token
            .secret
            .replacen(&format!("{}o", token.id), &format!("{}x", token.id), 1);
        let crc_at = marked.len() - CRC_CHARS;
        let resigned = format!("{}{}", &marked[..crc_at], checksum(&marked[..crc_at]));
        assert!(parse(&resigned).is_none());
    }

    #[test]
    fn kinds_round_trip_and_secrets_have_their_stated_length() {
        for kind in [
            CredentialKind::ApiKey,
            CredentialKind::AccessToken,
            CredentialKind::Session,
        ] {
            assert_eq!(CredentialKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(CredentialKind::parse("password"), None);
        let key = new_ulid();
        for (kind, lineage) in [
            (CredentialKind::ApiKey, vec![]),
            (CredentialKind::ApiKey, vec![key, key]),
            (CredentialKind::AccessToken, vec![key]),
            (CredentialKind::Session, vec![]),
        ] {
            let secret = generate(kind, owner(), &lineage).secret;
            assert_eq!(secret.len(), kind.secret_len(lineage.len()), "{secret}");
            assert_eq!(
                secret.len(),
                kind.prefix().len() + 1 + (3 + lineage.len()) * 26 + RANDOM_CHARS + CRC_CHARS
            );
        }
    }

    #[test]
    fn generated_secrets_parse_back() {
        for kind in [
            CredentialKind::ApiKey,
            CredentialKind::AccessToken,
            CredentialKind::Session,
        ] {
            let parent = new_ulid();
            let new = generate(kind, owner(), &[parent]);
            let parsed = parse(&new.secret).expect("valid secret");
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.id, new.id);
            assert_eq!(parsed.parent(), kind.has_parent().then_some(parent));
        }
    }

    #[test]
    fn lineages_ride_in_the_secret_within_their_bound() {
        let chain: Vec<Ulid> = (0..=MAX_KEY_ANCESTORS).map(|_| new_ulid()).collect();
        let key = generate(CredentialKind::ApiKey, owner(), &chain[..MAX_KEY_ANCESTORS]);
        let parsed = parse(&key.secret).expect("a key at the depth bound");
        assert_eq!(parsed.key_ancestors(), &chain[..MAX_KEY_ANCESTORS]);
        assert_eq!(parsed.parent(), None);
        let token = generate(CredentialKind::AccessToken, owner(), &chain);
        let parsed = parse(&token.secret).expect("a token of a key at the bound");
        assert_eq!(parsed.parent(), Some(chain[0]));
        assert_eq!(parsed.key_ancestors(), &chain[1..]);
        let too_deep = generate(CredentialKind::ApiKey, owner(), &chain);
        assert!(parse(&too_deep.secret).is_none());
        let orphan = generate(CredentialKind::AccessToken, owner(), &[]);
        assert_eq!(
            parse(&orphan.secret).expect("a token of no key").parent(),
            None
        );
        let twice = generate(CredentialKind::ApiKey, owner(), &[chain[0], chain[0]]);
        assert!(parse(&twice.secret).is_none());
    }

    #[test]
    fn typos_and_random_strings_are_rejected() {
        let new = generate(CredentialKind::ApiKey, owner(), &[]);
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
        let new = generate(CredentialKind::ApiKey, owner(), &[]);
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
        let a = generate(CredentialKind::ApiKey, owner(), &[]);
        let b = generate(CredentialKind::ApiKey, owner(), &[]);
        assert_ne!(a.secret, b.secret);
        let plain = CredentialHasher::new(Peppers::none());
        let peppered = peppers(&[1], &[]);
        assert_ne!(plain.hash(&a.secret), peppered.hash(&a.secret));
        assert!(plain.matches(&a.secret, &plain.hash(&a.secret)));
        assert!(!plain.matches(&b.secret, &plain.hash(&a.secret)));
        assert_eq!(plain.hash(&a.secret).len(), 64);
        assert!(peppered.hash(&a.secret).starts_with("p1$"));
        assert!(!plain.matches(&a.secret, &peppered.hash(&a.secret)));
    }

    fn peppers(versions: &[u32], revoked: &[u32]) -> CredentialHasher {
        CredentialHasher::new(
            Peppers::new(
                versions
                    .iter()
                    .map(|v| (*v, format!("pepper {v}").into_bytes())),
                revoked.iter().copied().collect(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn older_pepper_versions_verify_until_revoked() {
        let new = generate(CredentialKind::ApiKey, owner(), &[]);
        let under_one = peppers(&[1], &[]).hash(&new.secret);
        let rotated = peppers(&[1, 2], &[]);
        assert!(rotated.matches(&new.secret, &under_one));
        let under_two = rotated.hash(&new.secret);
        assert!(under_two.starts_with("p2$"));
        assert_ne!(under_one, under_two);
        let one_revoked = peppers(&[1, 2], &[1]);
        assert!(!one_revoked.matches(&new.secret, &under_one));
        assert!(one_revoked.matches(&new.secret, &under_two));
        // A version the deployment does not know never matches; it is newer than those held.
        assert!(!peppers(&[1], &[]).matches(&new.secret, &under_two));
        assert!(peppers(&[1], &[]).names_a_newer_version(&under_two));
        assert!(!rotated.names_a_newer_version(&under_one));
    }

    #[test]
    fn a_hash_from_before_versions_is_read_as_version_one() {
        let new = generate(CredentialKind::ApiKey, owner(), &[]);
        let with_one = peppers(&[1, 2], &[]);
        let unversioned = with_one.hash(&new.secret).replace("p2$", "");
        assert!(
            !with_one.matches(&new.secret, &unversioned),
            "not version 2"
        );
        let before = peppers(&[1], &[]).hash(&new.secret).replace("p1$", "");
        assert!(with_one.matches(&new.secret, &before));
        assert!(!peppers(&[1, 2], &[1]).matches(&new.secret, &before));
    }

    #[test]
    fn the_secret_alone_is_hashed_and_listings_show_kind_and_id() {
        let new = generate(CredentialKind::ApiKey, owner(), &[]);
        let hasher = CredentialHasher::new(Peppers::none());
        let stored = hasher.hash(&new.secret);
        // Trimmed, and without Cogniac's `KEYID:`: what is hashed is the secret itself.
        for presented in [
            format!("  {}\n", new.secret),
            format!("{}:{}", new.id, new.secret),
        ] {
            let parsed = parse(&presented).unwrap();
            assert_eq!(parsed.secret(), new.secret);
            assert!(hasher.matches(parsed.secret(), &stored));
        }
        let other = generate(CredentialKind::ApiKey, owner(), &[]);
        assert!(!hasher.matches(parse(&other.secret).unwrap().secret(), &stored));
        assert_eq!(
            display_prefix(CredentialKind::AccessToken, new.id),
            format!("kgt_{}", new.id)
        );
        assert!(
            new.secret
                .starts_with(&display_prefix(CredentialKind::ApiKey, new.id))
        );
        let shown = format!("{new:?}");
        assert!(shown.contains(&format!("{:?}", new.id)), "{shown}");
        assert!(!shown.contains(&new.secret), "Debug never shows the secret");
    }

    #[test]
    fn ids_carry_the_millisecond_they_were_made() {
        let millis = || (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
        let before = millis();
        let id = new_ulid();
        let after = millis();
        assert!((before..=after).contains(&id.timestamp_ms()), "{id}");
    }
}
