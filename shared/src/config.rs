//! Configuration from the environment, read once per cold start.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::domain::audit::DEFAULT_RETENTION_DAYS;
use crate::domain::password::{DEFAULT_LOCKOUT_SECS, HashCost};
use crate::domain::route_policy::RoutePolicy;
use crate::domain::secret_scanning::ReportKeys;
use crate::domain::webhook::PlainLoopback;

/// The route policy keygate ships (AskTable's asker routes): used when
/// `KEYGATE_ROUTE_POLICY` is empty or unset.
pub const SHIPPED_ROUTE_POLICY: &str = include_str!("../route-policy.json");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be set (see README.md, Configuration)")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The route policy's JSON, parsed on first use. The authorizer, which evaluates it on every
/// request, parses it at init (a bad policy stops it there, naming the entry); the functions
/// behind it read the admitted route and cost from its context and parse it only when they
/// are called without one (the local server, a direct call, the verify API), which keeps
/// ~0.2 M instructions out of their init (README, "Cold start").
pub struct RoutePolicySource {
    json: Option<String>,
    parsed: OnceLock<Result<RoutePolicy, ConfigError>>,
}

impl RoutePolicySource {
    pub fn new(json: Option<String>) -> Self {
        Self {
            json,
            parsed: OnceLock::new(),
        }
    }

    /// The parsed policy, or why `KEYGATE_ROUTE_POLICY` cannot be used.
    pub fn get(&self) -> Result<&RoutePolicy, &ConfigError> {
        self.parsed
            .get_or_init(|| {
                RoutePolicy::parse(
                    self.json.as_deref().unwrap_or(SHIPPED_ROUTE_POLICY),
                    crate::domain::route_table::KEYGATE_ROUTES,
                )
                .map_err(|error| ConfigError::Invalid {
                    name: "KEYGATE_ROUTE_POLICY",
                    reason: error.0,
                })
            })
            .as_ref()
    }
}

#[derive(Clone)]
pub struct Config {
    /// The single DynamoDB table (`KEYGATE_TABLE`).
    pub table_name: String,
    /// An emulator's endpoint, e.g. `http://127.0.0.1:5000` (`KEYGATE_DYNAMODB_ENDPOINT`).
    pub dynamodb_endpoint: Option<String>,
    /// A PEM file whose certificates replace the embedded Amazon roots as the DynamoDB
    /// client's trust store (`KEYGATE_TLS_CA_FILE`); read at init only when set.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// `AWS_REGION` (Lambda sets it), else `us-east-1`.
    pub region: String,
    /// The SSM Parameter Store parameter (a SecureString) whose versions are the server-side
    /// pepper (`KEYGATE_PEPPER_PARAMETER`): secrets are then stored as HMAC-SHA256 with the
    /// current version. Read once at init; the pepper itself is never an environment value.
    pub pepper_parameter: Option<String>,
    /// Pepper versions no longer accepted (`KEYGATE_PEPPER_REVOKED`, comma-separated).
    pub revoked_pepper_versions: BTreeSet<u32>,
    /// An emulator's endpoint for SSM (`KEYGATE_SSM_ENDPOINT`), as for DynamoDB.
    pub ssm_endpoint: Option<String>,
    /// Lifetime of tokens exchanged for an API key (`KEYGATE_ACCESS_TOKEN_TTL_SECS`, 24 h).
    pub access_token_ttl_secs: i64,
    /// Lifetime of sign-in sessions (`KEYGATE_SESSION_TTL_SECS`, 12 h).
    pub session_ttl_secs: i64,
    /// How long a verified credential is trusted from memory (`KEYGATE_AUTH_CACHE_SECS`,
    /// default 0 = off, at most 10). Opting in trades revocation: a credential revoked,
    /// paused or narrowed elsewhere keeps its old rights on a warm instance up to this long.
    pub auth_cache_ttl: Duration,
    /// Origins allowed to send state-changing requests with a session cookie alone
    /// (`KEYGATE_ALLOWED_ORIGINS`, comma-separated).
    pub allowed_origins: Vec<String>,
    /// Where the authorizer's "no" is answered (`KEYGATE_AUTHORIZER_DENY`).
    pub authorizer_deny: AuthorizerDeny,
    /// Argon2id cost of new password hashes (`KEYGATE_PASSWORD_MEMORY_KIB`, default 19456,
    /// and `KEYGATE_PASSWORD_ITERATIONS`, default 2). Existing hashes keep their own cost.
    pub password_cost: HashCost,
    /// How long repeated failed sign-ins lock an account (`KEYGATE_SIGN_IN_LOCKOUT_SECS`, 15 min).
    pub sign_in_lockout_secs: i64,
    /// Who may call which route of the API (`KEYGATE_ROUTE_POLICY`, JSON; empty = the
    /// shipped `shared/route-policy.json`), evaluated in memory after verification.
    pub route_policy: Arc<RoutePolicySource>,
    /// How long audit events are kept (`KEYGATE_AUDIT_RETENTION_DAYS`, default 400).
    pub audit_retention_days: i64,
    /// Public keys that sign secret-scanning reports (`KEYGATE_SECRET_SCANNING_KEYS`:
    /// GitHub's `{"public_keys": [{"key_identifier", "key"}]}` document, or its array).
    pub secret_scanning_keys: ReportKeys,
    /// How long one DynamoDB attempt may take (`KEYGATE_DYNAMODB_TIMEOUT_SECS`, default 3);
    /// a whole operation with its retries gets twice that plus 2 s.
    pub dynamodb_attempt_timeout: Duration,
    /// Whether user and tenant budgets exist in this deployment (`KEYGATE_OWNER_BUDGETS`,
    /// `on` by default). Every verification reads them (two read units); `off` saves that
    /// where none is wanted, and setting one is then refused.
    pub owner_budgets: bool,
    /// Whether a webhook may be plain `http://` to a loopback address
    /// (`KEYGATE_WEBHOOK_PLAIN_LOOPBACK=allow`): a development flag the local server sets;
    /// never set in AWS, where endpoints are `https` to public addresses only.
    pub webhook_plain_loopback: PlainLoopback,
    /// Names resolved from this map instead of DNS when webhook destinations are checked
    /// (`KEYGATE_WEBHOOK_HOSTS="name=addr[|addr],name2=addr"`), as `curl --resolve` does:
    /// for private DNS set-ups, and for the tests, which map names to forbidden addresses
    /// without asking DNS.
    pub webhook_hosts: BTreeMap<String, Vec<IpAddr>>,
    /// Whether the local server delivers webhooks itself (`KEYGATE_LOCAL_DELIVERY=on`): it
    /// reads the emulator's stream and sweeps due deliveries, as the notifier does in AWS.
    pub local_delivery: bool,
}

/// An HTTP API answers an authorizer's `isAuthorized: false` with a bare 403, whatever the
/// failure. `Function` (the default) lets the request through with a denial marker instead,
/// so the function answers 401 in its surface's own shape (problem+json, Ask Sage's envelope
/// ...) without verifying again; `Gateway` stops it at API Gateway (cheaper under floods of
/// bad credentials, but every failure becomes 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerDeny {
    Function,
    Gateway,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("region", &self.region)
            .field("pepper_parameter", &self.pepper_parameter)
            .field("revoked_pepper_versions", &self.revoked_pepper_versions)
            .field("allowed_origins", &self.allowed_origins)
            .field("password_cost", &self.password_cost)
            .field("audit_retention_days", &self.audit_retention_days)
            .field(
                "secret_scanning_keys",
                &self.secret_scanning_keys.identifiers(),
            )
            .finish_non_exhaustive()
    }
}

pub const MAX_AUTH_CACHE_SECS: u64 = 10;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number =
            |name: &'static str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
                match value(name) {
                    None => Ok(default),
                    Some(raw) => match raw.trim().parse::<i64>() {
                        Ok(n) if (min..=max).contains(&n) => Ok(n),
                        _ => Err(ConfigError::Invalid {
                            name,
                            reason: format!("expected an integer from {min} to {max}, got {raw:?}"),
                        }),
                    },
                }
            };
        Ok(Self {
            table_name: value("KEYGATE_TABLE").ok_or(ConfigError::Missing("KEYGATE_TABLE"))?,
            dynamodb_endpoint: value("KEYGATE_DYNAMODB_ENDPOINT"),
            tls_ca_file: value("KEYGATE_TLS_CA_FILE").map(Into::into),
            region: value("AWS_REGION")
                .or_else(|| value("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            pepper_parameter: match value("KEYGATE_PEPPER") {
                // An earlier deployment's pepper must not be dropped silently: every
                // credential hashed with it would stop verifying.
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        name: "KEYGATE_PEPPER",
                        reason: "is no longer read: store its value as version 1 of an SSM \
                                 SecureString parameter and name that in \
                                 KEYGATE_PEPPER_PARAMETER (README, \"The pepper\")"
                            .into(),
                    });
                }
                None => value("KEYGATE_PEPPER_PARAMETER"),
            },
            revoked_pepper_versions: match value("KEYGATE_PEPPER_REVOKED") {
                None => BTreeSet::new(),
                Some(raw) => raw
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| match v.parse::<u32>() {
                        Ok(version) if version > 0 => Ok(version),
                        _ => Err(ConfigError::Invalid {
                            name: "KEYGATE_PEPPER_REVOKED",
                            reason: format!("expected version numbers like \"1,2\", got {v:?}"),
                        }),
                    })
                    .collect::<Result<_, _>>()?,
            },
            ssm_endpoint: value("KEYGATE_SSM_ENDPOINT"),
            access_token_ttl_secs: number(
                "KEYGATE_ACCESS_TOKEN_TTL_SECS",
                24 * 3600,
                60,
                7 * 24 * 3600,
            )?,
            session_ttl_secs: number("KEYGATE_SESSION_TTL_SECS", 12 * 3600, 60, 7 * 24 * 3600)?,
            auth_cache_ttl: Duration::from_secs(number(
                "KEYGATE_AUTH_CACHE_SECS",
                0,
                0,
                MAX_AUTH_CACHE_SECS as i64,
            )? as u64),
            allowed_origins: value("KEYGATE_ALLOWED_ORIGINS")
                .map(|raw| {
                    raw.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            authorizer_deny: match value("KEYGATE_AUTHORIZER_DENY").as_deref() {
                None | Some("function") => AuthorizerDeny::Function,
                Some("gateway") => AuthorizerDeny::Gateway,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "KEYGATE_AUTHORIZER_DENY",
                        reason: format!("expected \"function\" or \"gateway\", got {other:?}"),
                    });
                }
            },
            password_cost: HashCost {
                memory_kib: number("KEYGATE_PASSWORD_MEMORY_KIB", 19 * 1024, 64, 256 * 1024)?
                    as u32,
                iterations: number("KEYGATE_PASSWORD_ITERATIONS", 2, 1, 10)? as u32,
            },
            sign_in_lockout_secs: number(
                "KEYGATE_SIGN_IN_LOCKOUT_SECS",
                DEFAULT_LOCKOUT_SECS,
                1,
                24 * 3600,
            )?,
            route_policy: Arc::new(RoutePolicySource::new(value("KEYGATE_ROUTE_POLICY"))),
            audit_retention_days: number(
                "KEYGATE_AUDIT_RETENTION_DAYS",
                DEFAULT_RETENTION_DAYS,
                1,
                10 * 366,
            )?,
            secret_scanning_keys: match value("KEYGATE_SECRET_SCANNING_KEYS") {
                None => ReportKeys::default(),
                Some(raw) => ReportKeys::parse(&raw).map_err(|reason| ConfigError::Invalid {
                    name: "KEYGATE_SECRET_SCANNING_KEYS",
                    reason,
                })?,
            },
            dynamodb_attempt_timeout: Duration::from_secs(number(
                "KEYGATE_DYNAMODB_TIMEOUT_SECS",
                3,
                1,
                60,
            )? as u64),
            webhook_plain_loopback: match value("KEYGATE_WEBHOOK_PLAIN_LOOPBACK").as_deref() {
                None | Some("refuse") => PlainLoopback::Refused,
                Some("allow") => PlainLoopback::Allowed,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "KEYGATE_WEBHOOK_PLAIN_LOOPBACK",
                        reason: format!("expected \"allow\" or \"refuse\", got {other:?}"),
                    });
                }
            },
            webhook_hosts: match value("KEYGATE_WEBHOOK_HOSTS") {
                None => BTreeMap::new(),
                Some(raw) => parse_hosts(&raw).map_err(|reason| ConfigError::Invalid {
                    name: "KEYGATE_WEBHOOK_HOSTS",
                    reason,
                })?,
            },
            local_delivery: match value("KEYGATE_LOCAL_DELIVERY").as_deref() {
                None | Some("off") => false,
                Some("on") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "KEYGATE_LOCAL_DELIVERY",
                        reason: format!("expected \"on\" or \"off\", got {other:?}"),
                    });
                }
            },
            owner_budgets: match value("KEYGATE_OWNER_BUDGETS").as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "KEYGATE_OWNER_BUDGETS",
                        reason: format!("expected \"on\" or \"off\", got {other:?}"),
                    });
                }
            },
        })
    }
}

/// `name=addr[|addr],…` → each name's addresses.
fn parse_hosts(raw: &str) -> Result<BTreeMap<String, Vec<IpAddr>>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, addresses) = entry
                .split_once('=')
                .ok_or_else(|| format!("expected name=address, got {entry:?}"))?;
            let addresses = addresses
                .split('|')
                .map(|a| a.trim().parse::<IpAddr>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("{entry:?} has an address that is not an IP address"))?;
            Ok((name.trim().to_ascii_lowercase(), addresses))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_hosts_map_names_to_addresses() {
        let hosts = parse_hosts("Meta.test=169.254.169.254, two.test=10.0.0.1|::1").unwrap();
        assert_eq!(
            hosts["meta.test"],
            ["169.254.169.254".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(hosts["two.test"].len(), 2);
        assert!(parse_hosts("nope").is_err());
        assert!(parse_hosts("x=not-an-ip").is_err());
    }

    #[test]
    fn the_pepper_is_named_never_given_and_revoked_versions_are_numbers() {
        let config = |extra: &[(&str, &str)]| {
            Config::from_lookup(|name| {
                extra
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
                    .or_else(|| (name == "KEYGATE_TABLE").then(|| "t".to_owned()))
            })
        };
        let named = config(&[
            ("KEYGATE_PEPPER_PARAMETER", "/keygate/pepper"),
            ("KEYGATE_PEPPER_REVOKED", "1, 3"),
        ])
        .unwrap();
        assert_eq!(named.pepper_parameter.as_deref(), Some("/keygate/pepper"));
        assert_eq!(named.revoked_pepper_versions, BTreeSet::from([1, 3]));
        let given = config(&[("KEYGATE_PEPPER", "a secret value")]).unwrap_err();
        assert!(matches!(
            given,
            ConfigError::Invalid {
                name: "KEYGATE_PEPPER",
                ..
            }
        ));
        assert!(!given.to_string().contains("a secret value"));
        for bad in ["one", "0", "1,-2"] {
            assert!(matches!(
                config(&[("KEYGATE_PEPPER_REVOKED", bad)]),
                Err(ConfigError::Invalid {
                    name: "KEYGATE_PEPPER_REVOKED",
                    ..
                })
            ));
        }
    }

    #[test]
    fn table_is_required_and_numbers_are_checked() {
        assert!(matches!(
            Config::from_lookup(|_| None),
            Err(ConfigError::Missing("KEYGATE_TABLE"))
        ));
        let config =
            Config::from_lookup(|n| (n == "KEYGATE_TABLE").then(|| "t".to_owned())).unwrap();
        assert_eq!(config.access_token_ttl_secs, 86_400);
        assert_eq!(
            config.auth_cache_ttl,
            Duration::ZERO,
            "revocation is immediate by default"
        );
        assert_eq!(config.password_cost, HashCost::default());
        assert_eq!(config.sign_in_lockout_secs, 900);
        let too_long = Config::from_lookup(|n| match n {
            "KEYGATE_TABLE" => Some("t".into()),
            "KEYGATE_AUTH_CACHE_SECS" => Some("60".into()),
            _ => None,
        });
        assert!(matches!(too_long, Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn owner_budgets_are_on_unless_turned_off() {
        let with = |value: &'static str| {
            Config::from_lookup(move |n| match n {
                "KEYGATE_TABLE" => Some("t".into()),
                "KEYGATE_OWNER_BUDGETS" => Some(value.into()),
                _ => None,
            })
        };
        assert!(with("").unwrap().owner_budgets, "on by default");
        assert!(with("on").unwrap().owner_budgets);
        assert!(!with("off").unwrap().owner_budgets);
        assert!(matches!(
            with("maybe"),
            Err(ConfigError::Invalid {
                name: "KEYGATE_OWNER_BUDGETS",
                ..
            })
        ));
    }

    #[test]
    fn a_bad_route_policy_stops_init_naming_the_entry() {
        let with_policy = |policy: &'static str| {
            let config = Config::from_lookup(move |n| match n {
                "KEYGATE_TABLE" => Some("t".into()),
                "KEYGATE_ROUTE_POLICY" => Some(policy.into()),
                _ => None,
            })
            .unwrap();
            config
                .route_policy
                .get()
                .map(|policy| policy.rules().len())
                .map_err(ToString::to_string)
        };
        assert!(with_policy("").unwrap() >= 6, "the shipped policy is used");
        let error = with_policy(r#"{"routes": [{"route": "POST /v1/x", "key_types": ["guest"]}]}"#)
            .unwrap_err();
        assert_eq!(
            error,
            "KEYGATE_ROUTE_POLICY is invalid: routes[0] (\"POST /v1/x\"): unknown key type \"guest\"; known: admin, asker"
        );
        let error = with_policy("not json").unwrap_err();
        assert!(
            error.starts_with("KEYGATE_ROUTE_POLICY is invalid: expected"),
            "{error}"
        );
    }

    #[test]
    fn audit_retention_and_scanner_keys_are_checked() {
        let with = |name: &'static str, value: &'static str| {
            Config::from_lookup(move |n| match n {
                "KEYGATE_TABLE" => Some("t".into()),
                n if n == name => Some(value.into()),
                _ => None,
            })
        };
        let config = with("KEYGATE_AUDIT_RETENTION_DAYS", "30").unwrap();
        assert_eq!(config.audit_retention_days, 30);
        assert!(config.secret_scanning_keys.identifiers().is_empty());
        assert!(with("KEYGATE_AUDIT_RETENTION_DAYS", "0").is_err());
        assert!(matches!(
            with("KEYGATE_SECRET_SCANNING_KEYS", "not json"),
            Err(ConfigError::Invalid {
                name: "KEYGATE_SECRET_SCANNING_KEYS",
                ..
            })
        ));
    }
}
