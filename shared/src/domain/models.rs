//! Allowed models: which model names a credential may use. Like scopes, the list only
//! narrows down a key's lineage: a derived key names a subset, and a key's effective list
//! is what it and every key above it all allow.

use super::Invalid;

/// At most this many names on one list.
pub const MAX_MODELS: usize = 50;
/// At most this many characters in one name.
pub const MAX_MODEL_NAME: usize = 128;

/// The models a credential may use: any (no list), or only the names listed (sorted,
/// each once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedModels(Option<Vec<String>>);

impl AllowedModels {
    /// Any model.
    pub const fn any() -> Self {
        Self(None)
    }

    /// Only these names (as stored: trusted, sorted and made unique here).
    pub fn only<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort();
        names.dedup();
        Self(Some(names))
    }

    /// Validates client input: 1 to 50 names of 1 to 128 letters, digits or `._:/@+-`.
    pub fn parse(field: &str, raw: &[String]) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > MAX_MODELS {
            return Err(Invalid::new(
                field,
                format!("must name 1 to {MAX_MODELS} models (null allows any)"),
            ));
        }
        for (index, name) in raw.iter().enumerate() {
            parse_model(&format!("{field}[{index}]"), name)?;
        }
        Ok(Self::only(raw.iter().cloned()))
    }

    /// The names, or None for any model.
    pub fn names(&self) -> Option<&[String]> {
        self.0.as_deref()
    }

    pub fn allows(&self, model: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == model))
    }

    /// Every model this list allows is allowed by `other` too.
    pub fn within(&self, other: &AllowedModels) -> bool {
        match (&self.0, &other.0) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(mine), Some(_)) => mine.iter().all(|model| other.allows(model)),
        }
    }

    /// What both allow.
    pub fn intersection(&self, other: &AllowedModels) -> AllowedModels {
        match (&self.0, &other.0) {
            (None, _) => other.clone(),
            (_, None) => self.clone(),
            (Some(mine), Some(_)) => Self(Some(
                mine.iter().filter(|m| other.allows(m)).cloned().collect(),
            )),
        }
    }

    /// The list a derived credential asks for, checked against what its creator allows:
    /// none named takes the creator's; a name outside it is refused, naming `field`.
    pub fn derived(
        field: &str,
        wanted: Option<&[String]>,
        creator: &AllowedModels,
    ) -> Result<AllowedModels, Invalid> {
        let Some(raw) = wanted else {
            return Ok(creator.clone());
        };
        let wanted = Self::parse(field, raw)?;
        if let Some(outside) = wanted
            .names()
            .unwrap_or_default()
            .iter()
            .find(|model| !creator.allows(model))
        {
            return Err(Invalid::new(
                field,
                format!("'{outside}' is not among the models the creating credential may use"),
            ));
        }
        Ok(wanted)
    }
}

/// Validates one model name: 1 to 128 letters, digits or `._:/@+-`.
pub fn parse_model<'a>(field: &str, name: &'a str) -> Result<&'a str, Invalid> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_MODEL_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/@+-".contains(c));
    if valid {
        Ok(name)
    } else {
        Err(Invalid::new(
            field,
            format!("must be 1 to {MAX_MODEL_NAME} letters, digits or any of ._:/@+-"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn any_allows_everything_and_a_list_only_its_names() {
        assert!(AllowedModels::any().allows("gpt-4o"));
        let only = AllowedModels::only(["gpt-4o", "claude-3"]);
        assert!(only.allows("gpt-4o"));
        assert!(!only.allows("gpt-4"));
        assert!(!only.allows(""));
    }

    #[test]
    fn parse_bounds_the_list_and_each_name() {
        assert!(AllowedModels::parse("models", &[]).is_err());
        let fifty: Vec<String> = (0..MAX_MODELS).map(|i| format!("m{i}")).collect();
        assert!(AllowedModels::parse("models", &fifty).is_ok());
        let fifty_one: Vec<String> = (0..=MAX_MODELS).map(|i| format!("m{i}")).collect();
        assert_eq!(
            AllowedModels::parse("models", &fifty_one)
                .unwrap_err()
                .field,
            "models"
        );
        let longest = "a".repeat(MAX_MODEL_NAME);
        assert!(AllowedModels::parse("models", std::slice::from_ref(&longest)).is_ok());
        for bad in [
            format!("{longest}a"),
            String::new(),
            "a b".into(),
            "a,b".into(),
        ] {
            let error = AllowedModels::parse("models", &["ok".into(), bad]).unwrap_err();
            assert_eq!(error.field, "models[1]");
        }
        let parsed = AllowedModels::parse("models", &names(&["b", "a", "b"])).unwrap();
        assert_eq!(parsed.names(), Some(&names(&["a", "b"])[..]));
    }

    #[test]
    fn within_holds_only_for_a_subset() {
        let any = AllowedModels::any();
        let ab = AllowedModels::only(["a", "b"]);
        let a = AllowedModels::only(["a"]);
        assert!(a.within(&ab) && ab.within(&ab) && ab.within(&any) && any.within(&any));
        assert!(!ab.within(&a));
        assert!(!any.within(&ab));
    }

    #[test]
    fn intersection_keeps_what_both_allow() {
        let ab = AllowedModels::only(["a", "b"]);
        let bc = AllowedModels::only(["b", "c"]);
        assert_eq!(ab.intersection(&bc), AllowedModels::only(["b"]));
        assert_eq!(ab.intersection(&AllowedModels::any()), ab);
        assert_eq!(AllowedModels::any().intersection(&bc), bc);
        assert_eq!(
            ab.intersection(&AllowedModels::only(["c"])).names(),
            Some(&[][..])
        );
    }

    #[test]
    fn a_derived_list_is_the_creators_or_a_subset_of_it() {
        let ab = AllowedModels::only(["a", "b"]);
        assert_eq!(AllowedModels::derived("models", None, &ab).unwrap(), ab);
        assert_eq!(
            AllowedModels::derived("models", Some(&names(&["a"])), &ab).unwrap(),
            AllowedModels::only(["a"])
        );
        let error = AllowedModels::derived("models", Some(&names(&["a", "c"])), &ab).unwrap_err();
        assert_eq!(error.field, "models");
        assert!(error.message.contains("'c'"), "{}", error.message);
        let any = AllowedModels::any();
        assert_eq!(
            AllowedModels::derived("models", Some(&names(&["c"])), &any).unwrap(),
            AllowedModels::only(["c"])
        );
        assert_eq!(AllowedModels::derived("models", None, &any).unwrap(), any);
    }
}
