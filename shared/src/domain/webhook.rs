//! Webhooks as the Standard Webhooks specification defines them (standardwebhooks.com), so
//! a receiver verifies keygate's events with any off-the-shelf library: the envelope, the
//! signing secret, the signature, where an endpoint may point and when a failed delivery is
//! tried again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// The prefix of a signing secret; the rest is the key, base64.
pub const SECRET_PREFIX: &str = "whsec_";

/// How long an endpoint's previous secret keeps signing beside the new one after a rotation.
pub const ROTATION_OVERLAP_SECS: i64 = 24 * 3600;

/// The waits before each retry of a failed delivery: the first within a minute, the whole
/// schedule over 27.6 hours (at least the 24 h a receiver's outage may last).
pub const RETRY_DELAYS_SECS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// An endpoint failing every delivery for this long is disabled.
pub const DISABLE_AFTER_FAILING_SECS: i64 = 3 * 24 * 3600;

/// A receiver's answer is read up to this many bytes, and never stored.
pub const MAX_RESPONSE_BYTES: usize = 1024;

/// One event as a receiver gets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339, UTC.
    pub timestamp: String,
    pub tenant_id: String,
    pub data: serde_json::Value,
}

/// A signing secret: 24 random bytes. It is shown once, when made or rotated.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 24];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        Self(key)
    }

    /// `whsec_<base64>`, as a receiver's library takes it.
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix(SECRET_PREFIX)?).ok()?;
        (!key.is_empty()).then_some(Self(key))
    }

    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{message_id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

/// The `webhook-signature` header: one signature per secret in use (the current one and,
/// during a rotation's overlap, the previous one), space-separated as the specification
/// allows, so a receiver holding either secret verifies.
pub fn signature_header(
    secrets: &[&SigningSecret],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The wait before the retry that follows `failed_attempts` failures, or `None` once the
/// schedule is spent.
pub fn retry_delay(failed_attempts: usize) -> Option<i64> {
    failed_attempts
        .checked_sub(1)
        .and_then(|i| RETRY_DELAYS_SECS.get(i).copied())
}

/// Why an address may not receive a delivery: an endpoint must not reach keygate's own
/// network (server-side request forgery). `None` for a public address.
pub fn forbidden_address(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = address.octets();
    if address == Ipv4Addr::new(169, 254, 169, 254) {
        Some("the instance metadata service")
    } else if address.is_loopback() {
        Some("loopback")
    } else if address.is_private() {
        Some("private")
    } else if address.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (carrier-grade NAT)")
    } else if address.is_unspecified() || address.is_broadcast() || address.is_multicast() || a == 0
    {
        Some("not a unicast host address")
    } else {
        None
    }
}

fn forbidden_v6(address: Ipv6Addr) -> Option<&'static str> {
    let first = address.segments()[0];
    if address == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("the instance metadata service")
    } else if address.is_loopback() {
        Some("loopback")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if address.is_unspecified() || address.is_multicast() {
        Some("not a unicast host address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        // The specification's reference vector (standard-webhooks libraries' own tests).
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_round_trips_and_never_prints() {
        let secret = SigningSecret::generate();
        let shown = secret.reveal();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&shown), Some(secret.clone()));
        assert_eq!(format!("{secret:?}"), "SigningSecret(..)");
        assert_eq!(SigningSecret::parse("whsec_"), None);
        assert_eq!(SigningSecret::parse("sk_abc"), None);
    }

    #[test]
    fn during_a_rotation_both_secrets_sign() {
        let (old, new) = (SigningSecret::generate(), SigningSecret::generate());
        let header = signature_header(&[&new, &old], "msg_1", 1, "{}");
        let signatures: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            signatures,
            [new.sign("msg_1", 1, "{}"), old.sign("msg_1", 1, "{}")]
        );
    }

    #[test]
    fn retries_start_within_a_minute_and_span_a_day() {
        assert_eq!(retry_delay(0), None);
        assert!(retry_delay(1).unwrap() < 60);
        assert!(RETRY_DELAYS_SECS.iter().sum::<i64>() >= 24 * 3600);
        assert_eq!(retry_delay(RETRY_DELAYS_SECS.len() + 1), None);
    }

    #[test]
    fn refuses_every_internal_address() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(
                forbidden_address(refused.parse().unwrap()).is_some(),
                "{refused} must be refused"
            );
        }
        for allowed in ["203.0.113.7", "8.8.8.8", "2001:db8::1", "2606:4700::1111"] {
            assert_eq!(
                forbidden_address(allowed.parse().unwrap()),
                None,
                "{allowed}"
            );
        }
    }
}
