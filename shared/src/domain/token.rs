//! Access tokens: short-lived, minted from an API key, optionally carrying a chat role.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Invalid;
use super::allowed_ips::AllowedIps;
use super::credential::{CredentialKind, Unusable};
use super::scope::{KeyType, Scopes, UserRole};

/// Tokens exchanged for an API key live 24 hours.
pub const EXCHANGED_TOKEN_TTL_SECS: i64 = 24 * 60 * 60;
/// Temp tokens default to one hour and may live at most 24 hours.
pub const TEMP_TOKEN_DEFAULT_TTL_SECS: i64 = 60 * 60;
pub const TEMP_TOKEN_MAX_TTL_SECS: i64 = 24 * 60 * 60;

/// AskTable's chat role: which role a chat assumes and the variables it fills in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRole {
    #[serde(default, deserialize_with = "scalar_as_string")]
    pub role_id: Option<String>,
    /// AskTable's own example spells it `role_vars`; both are accepted.
    #[serde(default, alias = "role_vars", skip_serializing_if = "Option::is_none")]
    pub role_variables: Option<Map<String, Value>>,
}

/// Ids that clients send as strings or as numbers (`"1"` or `1`, AskTable's role ids, Ask
/// Sage's `{"id": 123}`); both name the same thing.
pub fn scalar_as_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(serde::de::Error::custom("must be a string or a number")),
    }
}

/// How a token came to be; it decides what the token may manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// Exchanged for an API key: acts as that key, within the key's rights as they are now.
    Exchange,
    /// AskTable's temp token (`/v1/auth/tokens`), handed to browsers and end users: it may
    /// use what its key allows but never create or manage keys, users or passwords.
    Temp,
    /// A sign-in session (email and password).
    SignIn,
}

impl TokenOrigin {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Exchange => "exchange",
            Self::Temp => "temp",
            Self::SignIn => "sign_in",
        }
    }

    /// Reads a stored origin; a token stored without one counts as a temp token (the
    /// narrowest), a session as a sign-in.
    pub fn from_stored(raw: Option<&str>, kind: CredentialKind) -> Self {
        match (raw, kind) {
            (Some("exchange"), CredentialKind::AccessToken) => Self::Exchange,
            (_, CredentialKind::Session) => Self::SignIn,
            _ => Self::Temp,
        }
    }
}

/// A stored access token or session (never the secret).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    pub id: String,
    pub kind: CredentialKind,
    pub origin: TokenOrigin,
    pub tenant_id: String,
    pub user_id: String,
    pub email: String,
    pub user_role: UserRole,
    /// The API key that minted it; sessions have none.
    pub key_id: Option<String>,
    pub key_type: KeyType,
    pub scopes: Scopes,
    pub chat_role: Option<ChatRole>,
    pub user_profile: Option<Map<String, Value>>,
    /// The end user a temp token was minted for (its key's end-user budget applies).
    pub end_user: Option<String>,
    /// The source networks a temp token may be used from besides its key's lists (any:
    /// only those hold it).
    pub allowed_ips: AllowedIps,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl AccessToken {
    pub fn is_usable(&self, now: i64) -> bool {
        self.unusable(now).is_none()
    }

    /// Why the token authenticates nothing right now, if it does not.
    pub fn unusable(&self, now: i64) -> Option<Unusable> {
        if self.revoked_at.is_some() {
            Some(Unusable::Revoked)
        } else if self.expires_at <= now {
            Some(Unusable::Expired)
        } else {
            None
        }
    }
}

/// Validates a temp token lifetime in seconds.
/// Validates an end user's name: 1 to 128 of `[A-Za-z0-9._@:-]`.
pub fn parse_end_user(field: &str, raw: &str) -> Result<String, Invalid> {
    let valid = (1..=128).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@:-".contains(c));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::new(
            field,
            "must be 1 to 128 letters, digits or any of ._@:-",
        ))
    }
}

pub fn temp_token_ttl(raw: Option<i64>) -> Result<i64, Invalid> {
    match raw {
        None => Ok(TEMP_TOKEN_DEFAULT_TTL_SECS),
        Some(ttl) if ttl > 0 && ttl <= TEMP_TOKEN_MAX_TTL_SECS => Ok(ttl),
        Some(_) => Err(Invalid::new(
            "token_ttl",
            format!("must be from 1 to {TEMP_TOKEN_MAX_TTL_SECS} seconds"),
        )),
    }
}

/// Role variables and user profiles are flat objects of strings, numbers and booleans,
/// small enough to travel in every verification (and in the authorizer's context): at most
/// 64 entries, names of 1 to 64 characters, strings of at most 1024.
pub fn flat_object(field: &str, value: &Map<String, Value>) -> Result<(), Invalid> {
    const MAX_ENTRIES: usize = 64;
    const MAX_NAME_CHARS: usize = 64;
    const MAX_STRING_CHARS: usize = 1024;
    if value.len() > MAX_ENTRIES {
        return Err(Invalid::new(
            field,
            format!("must have at most {MAX_ENTRIES} entries"),
        ));
    }
    for (name, entry) in value {
        let length = name.chars().count();
        if length == 0 || length > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(Invalid::new(
                field,
                format!(
                    "entry names must be 1 to {MAX_NAME_CHARS} characters without control characters"
                ),
            ));
        }
        if !(entry.is_string() || entry.is_number() || entry.is_boolean()) {
            return Err(Invalid::new(
                format!("{field}.{name}"),
                "must be a string, number or boolean",
            ));
        }
        if entry
            .as_str()
            .is_some_and(|text| text.chars().count() > MAX_STRING_CHARS)
        {
            return Err(Invalid::new(
                format!("{field}.{name}"),
                format!("must be at most {MAX_STRING_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_objects_are_bounded() {
        let object = |value: Value| value.as_object().unwrap().clone();
        assert!(
            flat_object(
                "p",
                &object(serde_json::json!({"a": "x", "b": 1, "c": true}))
            )
            .is_ok()
        );
        let refused = [
            serde_json::json!({"": "x"}),
            serde_json::json!({ "n".repeat(65): "x" }),
            serde_json::json!({"a": "x".repeat(1025)}),
            serde_json::json!({"a": {"nested": 1}}),
        ];
        for value in refused {
            assert!(flat_object("p", &object(value.clone())).is_err(), "{value}");
        }
    }

    #[test]
    fn temp_token_ttl_is_bounded() {
        assert_eq!(temp_token_ttl(None), Ok(TEMP_TOKEN_DEFAULT_TTL_SECS));
        assert_eq!(temp_token_ttl(Some(60)), Ok(60));
        assert!(temp_token_ttl(Some(0)).is_err());
        assert!(temp_token_ttl(Some(-5)).is_err());
        assert!(temp_token_ttl(Some(TEMP_TOKEN_MAX_TTL_SECS + 1)).is_err());
    }

    #[test]
    fn token_lifetimes_are_a_day_and_an_hour() {
        assert_eq!(EXCHANGED_TOKEN_TTL_SECS, 86_400);
        assert_eq!(TEMP_TOKEN_DEFAULT_TTL_SECS, 3_600);
        assert_eq!(TEMP_TOKEN_MAX_TTL_SECS, 86_400);
        assert_eq!(temp_token_ttl(Some(1)), Ok(1));
        assert_eq!(
            temp_token_ttl(Some(TEMP_TOKEN_MAX_TTL_SECS)),
            Ok(TEMP_TOKEN_MAX_TTL_SECS)
        );
    }

    #[test]
    fn an_end_user_is_one_to_128_of_its_characters() {
        assert_eq!(
            parse_end_user("end_user", "cust.42@acme:eu-1_x"),
            Ok("cust.42@acme:eu-1_x".into())
        );
        assert!(parse_end_user("end_user", &"a".repeat(128)).is_ok());
        for bad in [
            String::new(),
            "a".repeat(129),
            "a b".into(),
            "a/b".into(),
            "é".into(),
        ] {
            assert_eq!(
                parse_end_user("end_user", &bad).unwrap_err().field,
                "end_user"
            );
        }
    }

    fn token() -> AccessToken {
        AccessToken {
            id: "t1".into(),
            kind: CredentialKind::AccessToken,
            origin: TokenOrigin::Exchange,
            tenant_id: "t".into(),
            user_id: "u".into(),
            email: "a@example.com".into(),
            user_role: UserRole::Admin,
            key_id: Some("k".into()),
            key_type: KeyType::Admin,
            scopes: Scopes::all(),
            chat_role: None,
            user_profile: None,
            end_user: None,
            allowed_ips: AllowedIps::any(),
            created_at: 0,
            expires_at: 1000,
            revoked_at: None,
        }
    }

    #[test]
    fn a_token_is_unusable_from_its_expiry_on_or_once_revoked() {
        let mut t = token();
        assert_eq!(t.unusable(999), None);
        assert!(t.is_usable(999));
        assert_eq!(t.unusable(1000), Some(Unusable::Expired));
        assert!(!t.is_usable(1000));
        t.revoked_at = Some(5);
        assert_eq!(t.unusable(999), Some(Unusable::Revoked));
        assert_eq!(t.unusable(1000), Some(Unusable::Revoked));
    }

    #[test]
    fn an_origin_is_read_narrowest_when_unknown() {
        use CredentialKind::{AccessToken, Session};
        assert_eq!(
            [
                TokenOrigin::Exchange,
                TokenOrigin::Temp,
                TokenOrigin::SignIn
            ]
            .map(TokenOrigin::as_str),
            ["exchange", "temp", "sign_in"]
        );
        assert_eq!(
            TokenOrigin::from_stored(Some("exchange"), AccessToken),
            TokenOrigin::Exchange
        );
        assert_eq!(
            TokenOrigin::from_stored(None, AccessToken),
            TokenOrigin::Temp
        );
        assert_eq!(
            TokenOrigin::from_stored(Some("sign_in"), AccessToken),
            TokenOrigin::Temp
        );
        assert_eq!(
            TokenOrigin::from_stored(Some("exchange"), Session),
            TokenOrigin::SignIn
        );
    }

    #[test]
    fn flat_objects_are_bounded_at_their_limits() {
        let many = |n: usize| -> Map<String, Value> {
            (0..n).map(|i| (format!("k{i}"), Value::from(i))).collect()
        };
        assert!(flat_object("p", &many(64)).is_ok());
        assert!(flat_object("p", &many(65)).is_err());
        let one = |name: String, value: Value| -> Map<String, Value> {
            std::iter::once((name, value)).collect()
        };
        assert!(flat_object("p", &one("n".repeat(64), Value::from(1))).is_ok());
        assert!(flat_object("p", &one("é".repeat(64), Value::from(1))).is_ok());
        assert!(flat_object("p", &one("a\u{7}".into(), Value::from(1))).is_err());
        assert!(flat_object("p", &one("a".into(), Value::from("x".repeat(1024)))).is_ok());
        assert!(flat_object("p", &one("a".into(), Value::from("é".repeat(1024)))).is_ok());
        assert!(flat_object("p", &one("a".into(), Value::from(false))).is_ok());
        assert!(flat_object("p", &one("a".into(), Value::Null)).is_err());
    }

    #[test]
    fn ids_are_read_from_strings_or_numbers() {
        let role: ChatRole = serde_json::from_str(r#"{"role_id": 7}"#).unwrap();
        assert_eq!(role.role_id.as_deref(), Some("7"));
        let role: ChatRole = serde_json::from_str(r#"{"role_id": "r"}"#).unwrap();
        assert_eq!(role.role_id.as_deref(), Some("r"));
        let role: ChatRole = serde_json::from_str(r#"{"role_id": null}"#).unwrap();
        assert_eq!(role.role_id, None);
        assert!(serde_json::from_str::<ChatRole>(r#"{"role_id": [1]}"#).is_err());
    }

    #[test]
    fn flat_objects_refuse_nesting() {
        let ok: Map<String, Value> = serde_json::from_str(r#"{"a":"x","b":1,"c":true}"#).unwrap();
        assert!(flat_object("role_variables", &ok).is_ok());
        let nested: Map<String, Value> = serde_json::from_str(r#"{"a":{"b":1}}"#).unwrap();
        assert_eq!(
            flat_object("role_variables", &nested).unwrap_err().field,
            "role_variables.a"
        );
    }
}
