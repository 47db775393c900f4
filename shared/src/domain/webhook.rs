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
use url::{Host, Url};

use super::Invalid;
use super::audit::EventType;

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

/// At most this many endpoints per tenant (each event fans out to all of them).
pub const MAX_ENDPOINTS_PER_TENANT: u32 = 20;

pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// The events that are not audit events: a budget running low, a key about to expire, an
/// endpoint's test.
pub const NOTICE_TYPES: [&str; 3] = ["budget.threshold", "key.expiring", "webhook.test"];

/// Every event type an endpoint may ask for.
pub fn event_types() -> impl Iterator<Item = &'static str> {
    EventType::ALL
        .into_iter()
        .map(EventType::as_str)
        .chain(NOTICE_TYPES)
}

/// An endpoint's filter: the types it asked for, checked and without repeats; empty means
/// every type.
pub fn parse_event_types(field: &str, asked: &[String]) -> Result<Vec<String>, Invalid> {
    let mut kept: Vec<String> = Vec::new();
    for (index, name) in asked.iter().enumerate() {
        if !event_types().any(|known| known == name) {
            return Err(Invalid::new(
                format!("{field}[{index}]"),
                format!("unknown event type {name:?}"),
            ));
        }
        if !kept.contains(name) {
            kept.push(name.clone());
        }
    }
    Ok(kept)
}

/// Whether an endpoint with this filter gets events of this type.
pub fn wants(filter: &[String], event_type: &str) -> bool {
    filter.is_empty() || filter.iter().any(|wanted| wanted == event_type)
}

/// Where deliveries go, as registered: `https`, or plain `http` to a loopback address when
/// the deployment allows it for development.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    url: String,
    host: String,
    port: u16,
    /// The request target: the path and any query.
    target: String,
}

/// Whether plain `http://` to a loopback address is accepted (the local server's
/// development flag); never in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainLoopback {
    #[default]
    Refused,
    Allowed,
}

impl EndpointUrl {
    pub fn parse(field: &str, raw: &str, plain_loopback: PlainLoopback) -> Result<Self, Invalid> {
        let refuse = |message: &str| Err(Invalid::new(field, message));
        if raw.chars().count() > MAX_URL_CHARS {
            return refuse("must be at most 2048 characters");
        }
        let Ok(url) = Url::parse(raw) else {
            return refuse("must be an absolute https:// URL");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("must not carry a user name or password");
        }
        if url.fragment().is_some() {
            return refuse("must not carry a #fragment");
        }
        let host = match url.host() {
            Some(Host::Domain(name)) => name.to_owned(),
            Some(Host::Ipv4(v4)) => v4.to_string(),
            Some(Host::Ipv6(v6)) => v6.to_string(),
            None => return refuse("must name a host"),
        };
        match url.scheme() {
            "https" => {}
            "http" if plain_loopback == PlainLoopback::Allowed && is_loopback_host(&host) => {}
            "http" => return refuse("must use https"),
            _ => return refuse("must be an absolute https:// URL"),
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        Ok(Self {
            url: url.into(),
            host,
            port,
            target,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host to resolve (a name, or an address literal).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the request line asks for: the path and any query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The `Host` header: the host, with the port when it is not the scheme's own.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.is_plain_loopback(), self.port) {
            (false, 443) | (true, 80) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }

    /// Whether this is the development exception (plain http to loopback), which skips the
    /// address rules.
    pub fn is_plain_loopback(&self) -> bool {
        self.url.starts_with("http:")
    }
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The first address of a destination that may not receive a delivery, and why; every
/// address a name resolves to is checked, so one internal answer refuses the whole name.
pub fn first_forbidden(addresses: &[IpAddr]) -> Option<(IpAddr, &'static str)> {
    addresses
        .iter()
        .find_map(|address| forbidden_address(*address).map(|why| (*address, why)))
}

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

/// Where an endpoint's signing secret comes from: a random seed, stored, and the pepper
/// version that turns it into the secret (0: none, development only). The secret itself is
/// never stored; keygate remakes it from the seed whenever it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSeed {
    pub seed: String,
    pub pepper_version: u32,
}

/// A fresh seed: 24 bytes from the operating system's CSPRNG, base64.
pub fn new_seed() -> String {
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).expect("the operating system's random source failed");
    STANDARD.encode(random)
}

/// What the pepper derives an endpoint's secret from: its id with the seed, so two
/// endpoints never share a secret even if a seed repeated.
pub fn derivation_input(endpoint_id: &str, seed: &str) -> String {
    format!("webhook-secret:{endpoint_id}:{seed}")
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub secret: SecretSeed,
    /// After a rotation: the previous secret, and until when it keeps signing.
    pub previous_secret: Option<(SecretSeed, i64)>,
    /// Why keygate disabled it (failing deliveries), when it did.
    pub disabled_reason: Option<String>,
    /// Since when every delivery to it has failed (none since its last success).
    pub failing_since: Option<i64>,
}

impl Endpoint {
    /// The secrets that sign at `now`: the current one, and the previous one during its
    /// overlap.
    pub fn signing_seeds(&self, now: i64) -> Vec<&SecretSeed> {
        let previous = self
            .previous_secret
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(seed, _)| seed);
        std::iter::once(&self.secret).chain(previous).collect()
    }
}

/// A new endpoint as a client asks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointInput {
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// A change to an endpoint: only what is given changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl EndpointPatch {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A description: at most 256 characters, no control characters; empty when absent.
pub fn parse_description(field: &str, raw: Option<&str>) -> Result<String, Invalid> {
    let text = raw.unwrap_or_default().trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Invalid::new(field, "must be at most 256 characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// A signing secret: 32 bytes made by the pepper from a seed. It is shown once, when made or rotated.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// The secret of this key material (made by the pepper from an endpoint's seed).
    pub fn from_key(key: [u8; 32]) -> Self {
        Self(key.to_vec())
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
    fn endpoint_urls_are_https_unless_the_development_flag_allows_loopback() {
        let ok = EndpointUrl::parse(
            "url",
            "https://hooks.example.com/k?x=1",
            PlainLoopback::Refused,
        )
        .unwrap();
        assert_eq!((ok.host(), ok.port()), ("hooks.example.com", 443));
        assert_eq!(
            (ok.target(), ok.host_header().as_str()),
            ("/k?x=1", "hooks.example.com")
        );
        for (raw, why) in [
            ("http://hooks.example.com/", "must use https"),
            ("http://127.0.0.1:9000/", "must use https"),
            (
                "ftp://hooks.example.com/",
                "must be an absolute https:// URL",
            ),
            ("/relative", "must be an absolute https:// URL"),
            (
                "https://user:pw@hooks.example.com/",
                "must not carry a user name or password",
            ),
            (
                "https://hooks.example.com/#frag",
                "must not carry a #fragment",
            ),
        ] {
            let refused = EndpointUrl::parse("url", raw, PlainLoopback::Refused).unwrap_err();
            assert_eq!(
                (refused.field.as_str(), refused.message.as_str()),
                ("url", why),
                "{raw}"
            );
        }
        let local =
            EndpointUrl::parse("url", "http://127.0.0.1:9000/h", PlainLoopback::Allowed).unwrap();
        assert!(local.is_plain_loopback());
        assert_eq!(local.port(), 9000);
        assert_eq!(
            (local.target(), local.host_header().as_str()),
            ("/h", "127.0.0.1:9000")
        );
        assert!(EndpointUrl::parse("url", "http://10.0.0.1/", PlainLoopback::Allowed).is_err());
    }

    #[test]
    fn event_type_filters_name_the_unknown_entry() {
        let kept = parse_event_types(
            "event_types",
            &[
                "key.created".into(),
                "key.created".into(),
                "budget.threshold".into(),
            ],
        )
        .unwrap();
        assert_eq!(kept, ["key.created", "budget.threshold"]);
        let refused = parse_event_types(
            "event_types",
            &["key.created".into(), "key.exploded".into()],
        )
        .unwrap_err();
        assert_eq!(refused.field, "event_types[1]");
        assert!(wants(&[], "key.revoked"));
        assert!(!wants(&kept, "key.revoked"));
    }

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

    fn random_secret() -> SigningSecret {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).unwrap();
        SigningSecret::from_key(key)
    }

    #[test]
    fn the_previous_secret_signs_only_during_its_overlap() {
        let seed = |s: &str| SecretSeed {
            seed: s.into(),
            pepper_version: 1,
        };
        let endpoint = Endpoint {
            id: "e".into(),
            tenant_id: "t".into(),
            url: "https://x.example/".into(),
            event_types: vec![],
            description: String::new(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
            secret: seed("new"),
            previous_secret: Some((seed("old"), 100)),
            disabled_reason: None,
            failing_since: None,
        };
        assert_eq!(endpoint.signing_seeds(99), [&seed("new"), &seed("old")]);
        assert_eq!(endpoint.signing_seeds(100), [&seed("new")]);
    }

    #[test]
    fn a_secret_round_trips_and_never_prints() {
        let secret = random_secret();
        let shown = secret.reveal();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&shown), Some(secret.clone()));
        assert_eq!(format!("{secret:?}"), "SigningSecret(..)");
        assert_eq!(SigningSecret::parse("whsec_"), None);
        assert_eq!(SigningSecret::parse("sk_abc"), None);
    }

    #[test]
    fn during_a_rotation_both_secrets_sign() {
        let (old, new) = (random_secret(), random_secret());
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
