//! Route policies: which credentials may call which route of the API, and what a call costs.
//!
//! keygate gates the platform's own routes (its chat completions, its queries), not only its
//! own. A route is written as API Gateway writes a `routeKey`: `METHOD /path/{param}/{proxy+}`,
//! `ANY` for every method. A rule says who may call it (key types, required scopes) or that it
//! is public, and what a call costs (for metering; default 1). Routes the policy does not name
//! fall to its default rule, except keygate's own routes, whose functions check their callers
//! themselves (a rule naming one of those must agree with that check). Evaluation is in
//! memory: the policy is parsed once per cold start.

use std::cmp::Ordering;

use serde::Deserialize;

use super::principal::Principal;
use super::scope::{KeyType, Scope, Scopes};

/// What a call costs when its rule names no cost.
pub const DEFAULT_COST: u32 = 1;
pub const MAX_COST: u32 = 1_000_000;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Why a policy cannot be used, naming the entry (`routes[2] ("POST /v1/x"): ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// `METHOD /path` with `{param}` segments and an optional trailing `{proxy+}`. Two patterns
/// are the same route when they differ only in parameter names (as API Gateway sees them).
#[derive(Debug, Clone)]
pub struct RoutePattern {
    text: String,
    /// `None` for `ANY`.
    method: Option<&'static str>,
    segments: Vec<PatternSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternSegment {
    Literal(Box<str>),
    Param,
    Greedy,
}

impl PatternSegment {
    /// Rank for API Gateway's choice: a literal beats a parameter, which beats `{proxy+}`.
    fn rank(&self) -> u8 {
        match self {
            PatternSegment::Greedy => 0,
            PatternSegment::Param => 1,
            PatternSegment::Literal(_) => 2,
        }
    }
}

impl PartialEq for RoutePattern {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method && self.segments == other.segments
    }
}

impl Eq for RoutePattern {}

impl RoutePattern {
    // Every function parses ~50 patterns at init: no formatting or scratch vectors on the
    // happy path (README, "Cold start").
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (method, path) = raw.trim().split_once(' ').ok_or_else(|| {
            "expected \"METHOD /path\", e.g. \"POST /v1/single-turn/q2a\"".to_owned()
        })?;
        let method = match method {
            "ANY" => None,
            m => match METHODS.iter().find(|known| **known == m) {
                Some(known) => Some(*known),
                None => {
                    return Err(format!(
                        "unknown method {m:?}; expected ANY or one of {}",
                        METHODS.join(", ")
                    ));
                }
            },
        };
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(format!("the path {path:?} must start with '/'"));
        }
        let mut text = String::with_capacity(raw.len());
        text.push_str(method.unwrap_or("ANY"));
        text.push_str(" /");
        let mut segments = Vec::new();
        let mut raw_segments = path.split('/').filter(|s| !s.is_empty()).peekable();
        while let Some(segment) = raw_segments.next() {
            let last = raw_segments.peek().is_none();
            let parsed = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.ends_with('+') && last => PatternSegment::Greedy,
                Some(name) if name.ends_with('+') => {
                    return Err(format!("the greedy segment {{{name}}} must come last"));
                }
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                    PatternSegment::Param
                }
                Some(_) => return Err(format!("the segment {segment:?} is not a valid parameter")),
                None if segment.contains(['{', '}']) => {
                    return Err(format!(
                        "the segment {segment:?} mixes text and a parameter"
                    ));
                }
                None => PatternSegment::Literal(segment.into()),
            };
            if !segments.is_empty() {
                text.push('/');
            }
            text.push_str(segment);
            segments.push(parsed);
        }
        Ok(Self {
            text,
            method,
            segments,
        })
    }

    /// The route as written, normalised (`POST /v1/single-turn/q2a`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn matches<'a>(&self, method: &str, path: impl IntoIterator<Item = &'a str>) -> bool {
        if self.method.is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
            return false;
        }
        let mut rest = path.into_iter();
        for segment in &self.segments {
            match segment {
                PatternSegment::Greedy => return rest.next().is_some(),
                PatternSegment::Param => {
                    if rest.next().is_none() {
                        return false;
                    }
                }
                PatternSegment::Literal(text) => {
                    if rest.next() != Some(&**text) {
                        return false;
                    }
                }
            }
        }
        rest.next().is_none()
    }

    /// API Gateway's choice among matching routes: left to right, a literal segment beats a
    /// parameter, which beats a greedy `{proxy+}`; then a named method beats `ANY`.
    fn more_specific_than(&self, other: &Self) -> Ordering {
        self.segments
            .iter()
            .map(PatternSegment::rank)
            .cmp(other.segments.iter().map(PatternSegment::rank))
            .then(self.method.is_some().cmp(&other.method.is_some()))
    }

    /// Whether requests `other` matches can reach this pattern too (used to find the policy
    /// rules that stand in front of one of keygate's routes).
    fn covers(&self, other: &Self) -> bool {
        let method = match (self.method, other.method) {
            (Some(a), Some(b)) if a != b => return false,
            (Some(m), _) | (None, Some(m)) => m,
            (None, None) => "GET",
        };
        let sample = other.segments.iter().map(|s| match s {
            PatternSegment::Literal(text) => &**text,
            PatternSegment::Param | PatternSegment::Greedy => "x",
        });
        self.matches(method, sample)
    }
}

/// Who may call a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No credential needed.
    Public,
    /// A credential of one of these key types holding every one of these scopes.
    Credential {
        key_types: Vec<KeyType>,
        scopes: Scopes,
    },
}

impl Access {
    fn admits(&self, principal: &Principal) -> Result<(), String> {
        let Access::Credential { key_types, scopes } = self else {
            return Ok(());
        };
        if !key_types.contains(&principal.key_type) {
            return Err(format!(
                "{} credentials may not call this route",
                principal.key_type.as_str()
            ));
        }
        if let Some(missing) = scopes.iter().find(|s| !principal.scopes.contains(*s)) {
            return Err(format!("this route needs the '{}' scope", missing.as_str()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub pattern: RoutePattern,
    pub access: Access,
    pub cost: u32,
}

/// Who one of keygate's own routes admits, as its function checks it (weakest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Any credential, askers included.
    AnyKey,
    /// An admin-type credential.
    FullKey,
    /// An admin-type credential that is not a temp token (managing keys).
    Manager,
    /// Every right a credential can hold (setting a password).
    FullRights,
    /// A tenant admin's manager credential with the `admin` scope.
    TenantAdmin,
}

/// One of keygate's own routes and the check its function makes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeygateRoute {
    pub route: &'static str,
    /// Public at the gateway (the function checks a password or nothing).
    pub public: bool,
    /// Who the function admits (ignored when public).
    pub needs: Needs,
    /// A scope the function requires of every caller, if one.
    pub scope: Option<Scope>,
}

impl KeygateRoute {
    pub const fn public(route: &'static str) -> Self {
        Self {
            route,
            public: true,
            needs: Needs::AnyKey,
            scope: None,
        }
    }

    pub const fn full(route: &'static str, scope: Option<Scope>) -> Self {
        Self::needing(route, Needs::FullKey, scope)
    }

    pub const fn askers_too(route: &'static str, scope: Option<Scope>) -> Self {
        Self::needing(route, Needs::AnyKey, scope)
    }

    pub const fn needing(route: &'static str, needs: Needs, scope: Option<Scope>) -> Self {
        Self {
            route,
            public: false,
            needs,
            scope,
        }
    }

    /// Whether the function admits asker credentials.
    pub const fn admits_askers(&self) -> bool {
        matches!(self.needs, Needs::AnyKey)
    }

    /// The route-level check the function makes, made here too so that the authorizer and
    /// the verify API decide as the function would (object-level checks stay the
    /// function's: whose key, which dataset).
    pub fn admits(&self, principal: &Principal) -> Result<(), String> {
        if self.public {
            return Ok(());
        }
        let checked = match self.needs {
            Needs::AnyKey => Ok(()),
            Needs::FullKey => principal.require_full_key(),
            Needs::Manager => principal.require_manager(),
            Needs::FullRights => principal.require_full_rights(),
            Needs::TenantAdmin => principal.require_tenant_admin(),
        };
        checked.map_err(|denied| denied.0)?;
        match self.scope {
            Some(scope) => principal.require_scope(scope).map_err(|denied| denied.0),
            None => Ok(()),
        }
    }

    /// A policy rule agrees with the function when it is public exactly when the function is,
    /// admits exactly the key types the function admits, and requires no scope the function
    /// does not (it may require fewer: the function still checks).
    pub fn agrees_with(&self, access: &Access) -> Result<(), String> {
        match access {
            Access::Public if self.public => Ok(()),
            Access::Public => Err("the function needs a credential there".into()),
            Access::Credential { .. } if self.public => {
                Err("the function serves it without a credential".into())
            }
            Access::Credential { key_types, scopes } => {
                let mut expected = vec![KeyType::Admin];
                if self.admits_askers() {
                    expected.push(KeyType::Asker);
                }
                let same_types = expected.iter().all(|t| key_types.contains(t))
                    && key_types.iter().all(|t| expected.contains(t));
                if !same_types {
                    let names: Vec<&str> = expected.iter().map(|t| t.as_str()).collect();
                    return Err(format!(
                        "the function admits key types [{}]",
                        names.join(", ")
                    ));
                }
                if let Some(extra) = scopes.iter().find(|s| Some(*s) != self.scope) {
                    return Err(format!(
                        "the function does not require the '{}' scope",
                        extra.as_str()
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The rule that applies to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched<'a> {
    Rule(&'a RouteRule),
    /// One of keygate's own routes, not named by the policy: its function decides.
    Keygate(&'a KeygateRoute),
    Default(&'a RouteRule),
}

impl Matched<'_> {
    /// The rule's route as written, `default` for the default rule.
    pub fn route(&self) -> &str {
        match self {
            Matched::Rule(rule) => rule.pattern.as_str(),
            Matched::Keygate(route) => route.route,
            Matched::Default(_) => "default",
        }
    }

    pub fn is_public(&self) -> bool {
        match self {
            Matched::Rule(rule) | Matched::Default(rule) => rule.access == Access::Public,
            Matched::Keygate(route) => route.public,
        }
    }

    /// What an admitted call costs: keygate's own routes cost nothing.
    pub fn cost(&self) -> u32 {
        match self {
            Matched::Rule(rule) | Matched::Default(rule) => rule.cost,
            Matched::Keygate(_) => 0,
        }
    }

    /// The decision for a verified caller.
    pub fn evaluate(&self, principal: &Principal) -> Decision {
        let verdict = match self {
            Matched::Rule(rule) | Matched::Default(rule) => rule.access.admits(principal),
            Matched::Keygate(route) => route.admits(principal),
        };
        Decision {
            allowed: verdict.is_ok(),
            reason: verdict.err(),
            cost: self.cost(),
            route: self.route().to_owned(),
        }
    }
}

/// The policy's answer for one caller on one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Why not, for the client (names the route's requirement, never the policy's text).
    pub reason: Option<String>,
    /// What the call costs when admitted.
    pub cost: u32,
    /// The rule that decided (its route, `default`, or keygate's own route).
    pub route: String,
}

#[derive(Debug, Clone)]
pub struct RoutePolicy {
    rules: Vec<RouteRule>,
    default: RouteRule,
    keygate: Vec<(RoutePattern, KeygateRoute)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Option<u32>,
    default: Option<RawDefault>,
    #[serde(default)]
    routes: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefault {
    key_types: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    cost: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    route: String,
    key_types: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    #[serde(default)]
    public: bool,
    cost: Option<u32>,
}

/// Why `json` is not a policy, naming where (`routes[2].cost: invalid type ...`).
fn explain_bad_json(json: &str) -> PolicyError {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    if let Err(e) = serde_path_to_error::deserialize::<_, RawPolicy>(&mut deserializer) {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        return PolicyError(format!("{at}{}", e.into_inner()));
    }
    match deserializer.end() {
        Err(e) => PolicyError(format!("data after the policy: {e}")),
        Ok(()) => PolicyError("the policy is not valid JSON".to_owned()),
    }
}

fn parse_key_types(entry: &str, raw: Option<&[String]>) -> Result<Vec<KeyType>, PolicyError> {
    let Some(raw) = raw else {
        return Ok(vec![KeyType::Admin]);
    };
    if raw.is_empty() {
        return Err(PolicyError(format!(
            "{entry}: key_types must name at least one key type (admin, asker)"
        )));
    }
    raw.iter()
        .map(|name| {
            KeyType::parse(name).ok_or_else(|| {
                PolicyError(format!(
                    "{entry}: unknown key type {name:?}; known: admin, asker"
                ))
            })
        })
        .collect()
}

fn parse_scopes(entry: &str, raw: Option<&[String]>) -> Result<Scopes, PolicyError> {
    raw.unwrap_or_default()
        .iter()
        .map(|name| {
            Scope::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                PolicyError(format!(
                    "{entry}: unknown scope {name:?}; known: {}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

fn parse_cost(entry: &str, raw: Option<u32>) -> Result<u32, PolicyError> {
    match raw {
        None => Ok(DEFAULT_COST),
        Some(cost) if cost <= MAX_COST => Ok(cost),
        Some(cost) => Err(PolicyError(format!(
            "{entry}: cost {cost} is above the maximum {MAX_COST}"
        ))),
    }
}

impl RoutePolicy {
    /// Parses a policy (JSON) in front of keygate's own routes.
    pub fn parse(json: &str, keygate_routes: &[KeygateRoute]) -> Result<Self, PolicyError> {
        // The path-tracking deserializer only runs to explain a policy that does not parse.
        let raw: RawPolicy = serde_json::from_str(json).map_err(|_| explain_bad_json(json))?;
        if let Some(version) = raw.version
            && version != 1
        {
            return Err(PolicyError(format!(
                "version: unknown version {version}; this keygate reads version 1"
            )));
        }
        let default = match &raw.default {
            None => RouteRule {
                pattern: RoutePattern::parse("ANY /{proxy+}").expect("a valid pattern"),
                access: Access::Credential {
                    key_types: vec![KeyType::Admin],
                    scopes: Scopes::from_iter([Scope::Chat]),
                },
                cost: DEFAULT_COST,
            },
            Some(d) => RouteRule {
                pattern: RoutePattern::parse("ANY /{proxy+}").expect("a valid pattern"),
                access: Access::Credential {
                    key_types: parse_key_types("default", d.key_types.as_deref())?,
                    scopes: parse_scopes("default", d.scopes.as_deref())?,
                },
                cost: parse_cost("default", d.cost)?,
            },
        };
        let keygate: Vec<(RoutePattern, KeygateRoute)> = keygate_routes
            .iter()
            .map(|route| {
                let pattern = RoutePattern::parse(route.route)
                    .unwrap_or_else(|e| panic!("keygate route {:?}: {e}", route.route));
                (pattern, *route)
            })
            .collect();
        let mut rules: Vec<RouteRule> = Vec::with_capacity(raw.routes.len());
        for (index, rule) in raw.routes.iter().enumerate() {
            let entry = format!("routes[{index}] ({:?})", rule.route);
            let pattern = RoutePattern::parse(&rule.route)
                .map_err(|reason| PolicyError(format!("{entry}: {reason}")))?;
            if let Some(earlier) = rules.iter().position(|r| r.pattern == pattern) {
                return Err(PolicyError(format!(
                    "{entry}: the same route as routes[{earlier}]"
                )));
            }
            let access = if rule.public {
                if rule.key_types.is_some() || rule.scopes.is_some() {
                    return Err(PolicyError(format!(
                        "{entry}: a public route takes no key_types or scopes"
                    )));
                }
                Access::Public
            } else {
                Access::Credential {
                    key_types: parse_key_types(&entry, rule.key_types.as_deref())?,
                    scopes: parse_scopes(&entry, rule.scopes.as_deref())?,
                }
            };
            // A rule that would be chosen over one of keygate's own routes must agree with
            // the check that route's function makes.
            for (own_pattern, own) in &keygate {
                if pattern.covers(own_pattern)
                    && pattern.more_specific_than(own_pattern) != Ordering::Less
                    && let Err(reason) = own.agrees_with(&access)
                {
                    return Err(PolicyError(format!(
                        "{entry}: disagrees with keygate's own route {}: {reason}",
                        own.route
                    )));
                }
            }
            rules.push(RouteRule {
                pattern,
                access,
                cost: parse_cost(&entry, rule.cost)?,
            });
        }
        Ok(Self {
            rules,
            default,
            keygate,
        })
    }

    /// The rule for a request, chosen as API Gateway chooses a route: the most specific
    /// pattern matching the method and path wins; a policy rule wins over keygate's own route
    /// of the same specificity; nothing matching means the default rule.
    pub fn matching(&self, method: &str, path: &str) -> Matched<'_> {
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let best_rule = self
            .rules
            .iter()
            .filter(|r| r.pattern.matches(method, segments.iter().copied()))
            .max_by(|a, b| a.pattern.more_specific_than(&b.pattern));
        let best_own = self
            .keygate
            .iter()
            .filter(|(p, _)| p.matches(method, segments.iter().copied()))
            .max_by(|a, b| a.0.more_specific_than(&b.0));
        match (best_rule, best_own) {
            (Some(rule), Some((own_pattern, own))) => {
                if rule.pattern.more_specific_than(own_pattern) == Ordering::Less {
                    Matched::Keygate(own)
                } else {
                    Matched::Rule(rule)
                }
            }
            (Some(rule), None) => Matched::Rule(rule),
            (None, Some((_, own))) => Matched::Keygate(own),
            (None, None) => Matched::Default(&self.default),
        }
    }

    /// The rule for API Gateway's `routeKey` when the policy names that route exactly (it is
    /// then what API Gateway selected); otherwise the rule matching method and path.
    pub fn for_request(&self, route_key: Option<&str>, method: &str, path: &str) -> Matched<'_> {
        route_key
            .and_then(|key| RoutePattern::parse(key).ok())
            .and_then(|key| self.rules.iter().find(|r| r.pattern == key))
            .map_or_else(|| self.matching(method, path), Matched::Rule)
    }

    /// The rule for a route written `METHOD /path` (the verify API's `route`): the rule naming
    /// it exactly, else the one its path matches.
    pub fn for_route(&self, route: &str) -> Result<Matched<'_>, String> {
        let pattern = RoutePattern::parse(route)?;
        let (method, path) = route.trim().split_once(' ').unwrap_or_default();
        Ok(self.for_request(Some(pattern.as_str()), method, path.trim()))
    }

    /// The decision for a verified caller of `method path`.
    pub fn evaluate(&self, method: &str, path: &str, principal: &Principal) -> Decision {
        self.matching(method, path).evaluate(principal)
    }

    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credential::CredentialKind;
    use crate::domain::scope::UserRole;

    const OWN: &[KeygateRoute] = &[
        KeygateRoute::askers_too("GET /v1/auth/me", None),
        KeygateRoute::full("ANY /v1/api-keys", None),
        KeygateRoute::full("ANY /v1/api-keys/{proxy+}", None),
        KeygateRoute::askers_too("ANY /v1/chats/{proxy+}", Some(Scope::Chat)),
        KeygateRoute::public("POST /v1/auth/token"),
    ];

    const POLICY: &str = r#"{
        "version": 1,
        "default": {"key_types": ["admin"], "scopes": ["chat"]},
        "routes": [
            {"route": "POST /v1/single-turn/q2a", "key_types": ["admin", "asker"], "scopes": ["chat"], "cost": 5},
            {"route": "GET /v1/bots/{id}", "key_types": ["admin", "asker"], "scopes": ["chat"]},
            {"route": "ANY /v1/platform/{proxy+}", "key_types": ["admin"], "scopes": ["read"]},
            {"route": "GET /v1/platform/status", "public": true},
            {"route": "ANY /v1/chats/{proxy+}", "key_types": ["admin", "asker"], "scopes": ["chat"]}
        ]
    }"#;

    fn principal(key_type: KeyType, scopes: &[Scope]) -> Principal {
        Principal {
            tenant_id: "t".into(),
            user_id: "u".into(),
            email: "e@example.com".into(),
            user_role: UserRole::Member,
            kind: CredentialKind::ApiKey,
            credential_id: "k".into(),
            key_id: Some("k".into()),
            key_lineage: Vec::new(),
            key_type,
            scopes: scopes.iter().copied().collect(),
            expires_at: None,
            key_expires_at: None,
            chat_role: None,
            user_profile: None,
            temporary: false,
            metering: Default::default(),
            meter_id: Some("k".into()),
            inherited_budgets: Vec::new(),
            models: Default::default(),
            owner_models: Default::default(),
            end_user: None,
            end_user_budgets: Vec::new(),
            team_id: None,
            key_metadata: Default::default(),
            allowed_ips: Default::default(),
        }
    }

    fn policy() -> RoutePolicy {
        RoutePolicy::parse(POLICY, OWN).unwrap()
    }

    #[test]
    fn askers_reach_what_the_policy_grants_and_nothing_else() {
        let policy = policy();
        let asker = principal(KeyType::Asker, &[Scope::Chat]);
        let q2a = policy.evaluate("POST", "/v1/single-turn/q2a", &asker);
        assert!(q2a.allowed);
        assert_eq!(q2a.cost, 5);
        assert_eq!(q2a.route, "POST /v1/single-turn/q2a");
        assert!(policy.evaluate("GET", "/v1/bots/7", &asker).allowed);
        let refused = policy.evaluate("DELETE", "/v1/bots/7", &asker);
        assert!(!refused.allowed);
        assert_eq!(refused.route, "default");
        assert_eq!(
            refused.reason.as_deref(),
            Some("asker credentials may not call this route")
        );
        assert!(
            !policy
                .evaluate("GET", "/v1/single-turn/q2a", &asker)
                .allowed
        );
    }

    #[test]
    fn required_scopes_and_the_default_rule_apply_to_admins() {
        let policy = policy();
        let reader = principal(KeyType::Admin, &[Scope::Read]);
        let refused = policy.evaluate("POST", "/v1/single-turn/q2a", &reader);
        assert_eq!(
            refused.reason.as_deref(),
            Some("this route needs the 'chat' scope")
        );
        assert!(!policy.evaluate("POST", "/v1/anything", &reader).allowed);
        let chatter = principal(KeyType::Admin, &[Scope::Chat]);
        assert!(policy.evaluate("POST", "/v1/anything", &chatter).allowed);
        assert!(
            policy
                .evaluate("GET", "/v1/platform/reports/9", &reader)
                .allowed
        );
    }

    #[test]
    fn the_most_specific_route_wins() {
        let policy = policy();
        assert!(policy.matching("GET", "/v1/platform/status").is_public());
        assert!(!policy.matching("POST", "/v1/platform/status").is_public());
        assert_eq!(
            policy.matching("GET", "/v1/platform/a/b").route(),
            "ANY /v1/platform/{proxy+}"
        );
        // keygate's own routes cost nothing and are judged as their function judges them:
        // the verify API and the authorizer agree with the function.
        let own = policy.matching("PATCH", "/v1/api-keys/01K");
        assert_eq!(own, Matched::Keygate(&OWN[2]));
        assert_eq!(own.cost(), 0);
        let refused = own.evaluate(&principal(KeyType::Asker, &[]));
        assert!(!refused.allowed);
        assert!(refused.reason.unwrap().contains("asker"));
        assert!(own.evaluate(&principal(KeyType::Admin, &[])).allowed);
        assert!(policy.matching("POST", "/v1/auth/token").is_public());
        // A rule naming one of keygate's routes applies there (it agrees with the function).
        assert_eq!(
            policy.matching("GET", "/v1/chats/1").route(),
            "ANY /v1/chats/{proxy+}"
        );
        assert_eq!(
            policy
                .for_request(Some("GET /v1/bots/{id}"), "GET", "/v1/bots/1")
                .route(),
            "GET /v1/bots/{id}"
        );
        assert_eq!(
            policy.for_route("GET /v1/bots/{id}").unwrap().route(),
            "GET /v1/bots/{id}"
        );
        assert_eq!(
            policy.for_route("GET /v1/bots/42").unwrap().route(),
            "GET /v1/bots/{id}"
        );
        assert!(policy.for_route("FETCH /v1").is_err());
    }

    #[test]
    fn keygate_routes_need_what_their_functions_need() {
        let member = principal(KeyType::Admin, &Scope::ALL);
        let mut admin = member.clone();
        admin.user_role = UserRole::Admin;
        let mut temp = admin.clone();
        temp.temporary = true;
        let tenant = KeygateRoute::needing("ANY /v1/users", Needs::TenantAdmin, None);
        assert!(tenant.admits(&member).is_err());
        assert!(tenant.admits(&admin).is_ok());
        assert!(tenant.admits(&temp).is_err());
        let manager = KeygateRoute::needing("ANY /v1/api-keys", Needs::Manager, None);
        assert!(manager.admits(&member).is_ok());
        assert!(manager.admits(&temp).is_err());
        let scoped = KeygateRoute::askers_too("ANY /v1/chats", Some(Scope::Chat));
        assert!(
            scoped
                .admits(&principal(KeyType::Asker, &[Scope::Chat]))
                .is_ok()
        );
        assert!(
            scoped
                .admits(&principal(KeyType::Asker, &[Scope::Read]))
                .is_err()
        );
        let mut expiring = admin.clone();
        expiring.key_expires_at = Some(1);
        let password = KeygateRoute::needing("PUT /v1/users/me/password", Needs::FullRights, None);
        assert!(password.admits(&admin).is_ok());
        assert!(password.admits(&expiring).is_err());
        assert!(KeygateRoute::public("GET /").admits(&temp).is_ok());
    }

    #[test]
    fn errors_name_the_entry() {
        let error = |json: &str| RoutePolicy::parse(json, OWN).unwrap_err().0;
        assert!(error("{").contains("EOF"), "{}", error("{"));
        assert_eq!(
            error(r#"{"routes": [{"route": "GET /a"}, {"route": "GET /b", "scopes": ["chatt"]}]}"#),
            "routes[1] (\"GET /b\"): unknown scope \"chatt\"; known: chat, read, write, admin, verify, usage"
        );
        assert_eq!(
            error(r#"{"routes": [{"route": "GET /a", "key_types": ["root"]}]}"#),
            "routes[0] (\"GET /a\"): unknown key type \"root\"; known: admin, asker"
        );
        assert!(
            error(r#"{"routes": [{"route": "FETCH /a"}]}"#)
                .starts_with("routes[0] (\"FETCH /a\"): unknown method")
        );
        assert!(error(r#"{"routes": [{"route": "GET /{p+}/x"}]}"#).contains("must come last"));
        assert!(
            error(r#"{"routes": [{"route": "GET /a", "cots": 1}]}"#)
                .starts_with("routes[0].cots: unknown field `cots`")
        );
        assert!(
            error(r#"{"routes": [{"route": "GET /a"}, {"route": "GET /a/"}]}"#)
                .contains("the same route as routes[0]")
        );
        assert!(
            error(r#"{"routes": [{"route": "GET /b/{id}"}, {"route": "GET /b/{key}"}]}"#)
                .contains("the same route as routes[0]")
        );
        assert!(
            error(r#"{"routes": [{"route": "GET /a", "public": true, "scopes": []}]}"#)
                .contains("public")
        );
        assert!(
            error(r#"{"default": {"scopes": ["nope"]}}"#).starts_with("default: unknown scope")
        );
        assert!(error(r#"{"version": 2}"#).starts_with("version:"));
        assert_eq!(
            error(r#"{"routes": [{"route": "GET /v1/api-keys", "scopes": ["chat"]}]}"#),
            "routes[0] (\"GET /v1/api-keys\"): disagrees with keygate's own route ANY /v1/api-keys: the function does not require the 'chat' scope"
        );
        assert!(
            error(r#"{"routes": [{"route": "GET /v1/auth/me", "key_types": ["admin"]}]}"#)
                .contains("admits key types [admin, asker]")
        );
        // A broad rule behind keygate's more specific routes does not reach them.
        assert!(
            RoutePolicy::parse(
                r#"{"routes": [{"route": "ANY /v1/{proxy+}", "scopes": ["write"]}]}"#,
                OWN
            )
            .is_ok()
        );
    }

    #[test]
    fn malformed_parameters_are_refused() {
        for (route, reason) in [
            ("GET /a/{}", "is not a valid parameter"),
            ("GET /a/{x{y}", "is not a valid parameter"),
            ("GET /a/b{id}", "mixes text and a parameter"),
            ("GET /a/b}", "mixes text and a parameter"),
        ] {
            let error = RoutePattern::parse(route).unwrap_err();
            assert!(error.contains(reason), "{route}: {error}");
        }
        assert!(RoutePattern::parse("GET /a/{id}/{proxy+}").is_ok());
    }

    #[test]
    fn a_rule_on_a_keygate_route_is_public_exactly_when_the_function_is() {
        let error = |json: &str| RoutePolicy::parse(json, OWN).unwrap_err().0;
        assert!(
            error(r#"{"routes": [{"route": "GET /v1/auth/me", "public": true}]}"#)
                .contains("the function needs a credential there")
        );
        assert!(
            error(
                r#"{"routes": [{"route": "POST /v1/auth/token", "key_types": ["admin", "asker"]}]}"#
            )
            .contains("the function serves it without a credential")
        );
        let public = RoutePolicy::parse(
            r#"{"routes": [{"route": "POST /v1/auth/token", "public": true}]}"#,
            OWN,
        )
        .unwrap();
        assert!(public.matching("POST", "/v1/auth/token").is_public());
        // Another method of the same path is another route: it need not agree.
        assert!(
            RoutePolicy::parse(
                r#"{"routes": [{"route": "POST /v1/auth/me", "key_types": ["admin"], "scopes": ["write"]}]}"#,
                OWN
            )
            .is_ok()
        );
    }

    #[test]
    fn a_broader_rule_does_not_judge_a_keygate_route() {
        let broad = RoutePolicy::parse(
            r#"{"routes": [{"route": "ANY /v1/{proxy+}", "public": true}]}"#,
            OWN,
        )
        .unwrap();
        let own = broad.matching("PATCH", "/v1/api-keys/01K");
        assert_eq!(own, Matched::Keygate(&OWN[2]));
        assert!(!own.is_public());
        assert!(!own.evaluate(&principal(KeyType::Asker, &[])).allowed);
        assert!(broad.matching("GET", "/v1/other").is_public());
        // The same specificity: the policy's rule decides.
        let policy = policy();
        assert!(matches!(
            policy.matching("GET", "/v1/chats/1"),
            Matched::Rule(rule) if rule.cost == DEFAULT_COST
        ));
    }

    #[test]
    fn a_cost_is_at_most_the_maximum() {
        let cost = |cost: u32| {
            RoutePolicy::parse(
                &format!(r#"{{"routes": [{{"route": "GET /a", "cost": {cost}}}]}}"#),
                OWN,
            )
            .map(|policy| policy.matching("GET", "/a").cost())
        };
        assert_eq!(cost(MAX_COST), Ok(MAX_COST));
        assert_eq!(cost(0), Ok(0));
        let error = cost(MAX_COST + 1).unwrap_err().0;
        assert!(error.contains("is above the maximum"), "{error}");
    }
}
