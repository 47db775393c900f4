//! Field validation errors and small parsed value types ("parse, don't validate").

use std::fmt;

/// A client input that broke a rule; names the field so the client can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A display name: 1..=255 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new(field, "must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Invalid::new(field, "must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A page size bounded by `min..=max`, defaulting when absent.
pub fn bounded_limit(
    field: &str,
    raw: Option<i64>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, Invalid> {
    match raw {
        None => Ok(default),
        Some(value) if value >= i64::from(min) && value <= i64::from(max) => Ok(value as u32),
        Some(_) => Err(Invalid::new(
            field,
            format!("must be an integer from {min} to {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("name", "  ci  ").unwrap().as_str(), "ci");
        assert_eq!(Name::parse("name", " ").unwrap_err().field, "name");
        assert!(Name::parse("name", &"x".repeat(255)).is_ok());
        assert!(Name::parse("name", &"x".repeat(256)).is_err());
        assert!(Name::parse("name", "a\u{0}b").is_err());
    }

    #[test]
    fn limits_default_and_reject_out_of_range() {
        assert_eq!(bounded_limit("limit", None, 50, 1, 200), Ok(50));
        assert_eq!(bounded_limit("limit", Some(200), 50, 1, 200), Ok(200));
        assert!(bounded_limit("limit", Some(0), 50, 1, 200).is_err());
        assert!(bounded_limit("limit", Some(201), 50, 1, 200).is_err());
    }
}
