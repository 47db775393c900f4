//! Secret-scanning partner reports (GitHub's format): a JSON array of found tokens, signed
//! with ECDSA P-256 / SHA-256 over the raw body by a key the scanner publishes. The keys
//! are configuration, never fetched while a report waits.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The public keys reports may be signed with, by identifier.
#[derive(Clone, Default)]
pub struct ReportKeys {
    keys: Vec<(String, VerifyingKey)>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Published {
    Document { public_keys: Vec<PublishedKey> },
    List(Vec<PublishedKey>),
}

/// Why a report was refused before anything was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureRefused {
    MissingHeaders,
    UnknownKey,
    BadSignature,
}

impl SignatureRefused {
    pub const fn reason(self) -> &'static str {
        match self {
            Self::MissingHeaders => "the report's signature headers are missing",
            Self::UnknownKey => "the report is signed with an unknown key",
            Self::BadSignature => "the report's signature does not match its body",
        }
    }
}

impl ReportKeys {
    /// Parses GitHub's published document (`{"public_keys": [{"key_identifier", "key"}]}`,
    /// as `GET /meta/public_keys/secret_scanning` answers it) or just its array; each key
    /// is a PEM `PUBLIC KEY` on P-256.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let published: Published = serde_json::from_str(raw).map_err(|e| {
            format!("expected {{\"public_keys\": [{{\"key_identifier\", \"key\"}}]}}: {e}")
        })?;
        let list = match published {
            Published::Document { public_keys } => public_keys,
            Published::List(list) => list,
        };
        let mut keys = Vec::with_capacity(list.len());
        for entry in list {
            let key = VerifyingKey::from_public_key_pem(entry.key.trim()).map_err(|_| {
                format!(
                    "key {:?} is not a PEM P-256 public key",
                    entry.key_identifier
                )
            })?;
            keys.push((entry.key_identifier, key));
        }
        Ok(Self { keys })
    }

    pub fn identifiers(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Checks that `body` was signed by the key named `key_id`; `signature` is base64 of
    /// the DER-encoded ECDSA signature.
    pub fn verify(
        &self,
        key_id: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureRefused> {
        let (Some(key_id), Some(signature)) = (key_id, signature) else {
            return Err(SignatureRefused::MissingHeaders);
        };
        let key = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id.trim())
            .map(|(_, key)| key)
            .ok_or(SignatureRefused::UnknownKey)?;
        let der = STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureRefused::BadSignature)?;
        let signature = Signature::from_der(&der).map_err(|_| SignatureRefused::BadSignature)?;
        // Either form of `s` is a valid ECDSA signature; accept the high one too.
        let signature = signature.normalize_s().unwrap_or(signature);
        key.verify(body, &signature)
            .map_err(|_| SignatureRefused::BadSignature)
    }
}

/// One token a scanner found, as reported.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportedToken {
    pub token: String,
    #[serde(rename = "type", default)]
    pub token_type: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub source: String,
}

/// A report may name at most this many tokens (GitHub sends a few at a time; each costs a read, so a report stays well within a function timeout).
pub const MAX_REPORTED_TOKENS: usize = 100;

/// The feedback label of one reported token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A real credential of ours (now revoked, or already revoked before).
    TruePositive,
    /// Not one of ours: malformed, failing the checksum, unknown, or a wrong secret.
    FalsePositive,
}

impl Label {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TruePositive => "true_positive",
            Self::FalsePositive => "false_positive",
        }
    }
}

/// Hex SHA-256 of a reported token, as the feedback names it (never the token itself).
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked() {
        assert!(ReportKeys::parse("[]").unwrap().identifiers().is_empty());
        assert!(ReportKeys::parse(r#"{"public_keys": []}"#).is_ok());
        assert!(ReportKeys::parse(r#"[{"key_identifier": "a", "key": "nope"}]"#).is_err());
        assert!(ReportKeys::parse("pem").is_err());
    }

    #[test]
    fn unsigned_or_unknown_reports_are_refused() {
        let keys = ReportKeys::default();
        assert_eq!(
            keys.verify(None, Some("x"), b"[]"),
            Err(SignatureRefused::MissingHeaders)
        );
        assert_eq!(
            keys.verify(Some("k"), Some("x"), b"[]"),
            Err(SignatureRefused::UnknownKey)
        );
    }

    #[test]
    fn token_hash_is_plain_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
