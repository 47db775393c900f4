//! Datasets and the permissions their owners grant to other users of the same tenant.
//!
//! Names follow Ask Sage's rules: letters and digits only, a `CUI-` prefix marking
//! Controlled Unclassified Information, and a full name `user_custom_<USERID>_<NAME>_content`.

use super::Invalid;

const CUI_PREFIX: &str = "CUI-";
const FULL_NAME_PREFIX: &str = "user_custom_";
const FULL_NAME_SUFFIX: &str = "_content";

/// Why a new dataset's name was refused. Ask Sage answers a too-long name with its own
/// status (406), so it is kept apart from the other rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Invalid(Invalid),
    TooLong(Invalid),
}

/// A dataset's short name: ASCII letters and digits, optionally after a `CUI-` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetName {
    cui: bool,
    /// The letters and digits after any prefix.
    base: String,
}

impl DatasetName {
    /// At most this many letters and digits; the `CUI-` prefix does not count.
    pub const MAX_CHARS: usize = 64;

    pub fn parse(field: &str, raw: &str) -> Result<Self, NameError> {
        let (cui, base) = match raw.strip_prefix(CUI_PREFIX) {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        if base.is_empty() {
            return Err(NameError::Invalid(Invalid::new(field, "must not be empty")));
        }
        if !base.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(NameError::Invalid(Invalid::new(
                field,
                "must be letters and digits only (no spaces or punctuation); \
                 only a leading CUI- may precede them, marking CUI content",
            )));
        }
        if base.len() > Self::MAX_CHARS {
            return Err(NameError::TooLong(Invalid::new(
                field,
                format!(
                    "must be at most {} letters and digits (a CUI- prefix does not count)",
                    Self::MAX_CHARS
                ),
            )));
        }
        Ok(Self {
            cui,
            base: base.to_owned(),
        })
    }

    pub fn is_cui(&self) -> bool {
        self.cui
    }

    /// The same name marked CUI.
    pub fn into_cui(self) -> Self {
        Self { cui: true, ..self }
    }

    pub fn as_string(&self) -> String {
        if self.cui {
            format!("{CUI_PREFIX}{}", self.base)
        } else {
            self.base.clone()
        }
    }
}

/// The declared classification of new content; a `CUI-` name prefix says the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    Cui,
    Unclassified,
}

impl Classification {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        match raw {
            "cui" => Ok(Self::Cui),
            "unclassified" => Ok(Self::Unclassified),
            _ => Err(Invalid::new(field, "must be \"cui\" or \"unclassified\"")),
        }
    }

    pub const fn of(cui: bool) -> Self {
        if cui { Self::Cui } else { Self::Unclassified }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cui => "cui",
            Self::Unclassified => "unclassified",
        }
    }
}

/// The name a new dataset gets: a `cui` classification on an unprefixed name adds the
/// prefix (the name always shows the marking); an `unclassified` one on a `CUI-` name is a
/// contradiction.
pub fn classify(
    name: DatasetName,
    classification: Option<Classification>,
    field: &str,
) -> Result<DatasetName, Invalid> {
    match classification {
        None => Ok(name),
        Some(Classification::Cui) => Ok(name.into_cui()),
        Some(Classification::Unclassified) if name.is_cui() => Err(Invalid::new(
            field,
            "contradicts the name's CUI- prefix, which marks CUI content",
        )),
        Some(Classification::Unclassified) => Ok(name),
    }
}

/// A dataset's unique full name, `user_custom_<USERID>_<NAME>_content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn new(owner_id: &str, name: &DatasetName) -> Self {
        Self(format!(
            "{FULL_NAME_PREFIX}{owner_id}_{}{FULL_NAME_SUFFIX}",
            name.as_string()
        ))
    }

    /// Reads a full name; the owner id is letters and digits (keygate's are ULIDs).
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let rule = || {
            Invalid::new(
                field,
                "must be a full dataset name, user_custom_<USERID>_<NAME>_content",
            )
        };
        let inner = raw
            .strip_prefix(FULL_NAME_PREFIX)
            .and_then(|rest| rest.strip_suffix(FULL_NAME_SUFFIX))
            .ok_or_else(rule)?;
        let (owner_id, name) = inner.split_once('_').ok_or_else(rule)?;
        let owner_ok = !owner_id.is_empty()
            && owner_id.len() <= 64
            && owner_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !owner_ok || DatasetName::parse(field, name).is_err() {
            return Err(rule());
        }
        Ok(Self(raw.to_owned()))
    }

    /// What a request names: a full name, or the short name of one of the caller's own
    /// datasets. `None` when nothing is named at all.
    pub fn resolve(field: &str, raw: &str, caller_id: &str) -> Result<Option<Self>, Invalid> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.starts_with(FULL_NAME_PREFIX) {
            return Self::parse(field, raw).map(Some);
        }
        match DatasetName::parse(field, raw) {
            Ok(name) => Ok(Some(Self::new(caller_id, &name))),
            Err(NameError::Invalid(invalid) | NameError::TooLong(invalid)) => Err(invalid),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a grantee may do with a dataset; each level includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    Read,
    Write,
    Admin,
}

impl Permission {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        match raw {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            "admin" => Ok(Self::Admin),
            _ => Err(Invalid::new(
                field,
                "must be \"read\", \"write\" or \"admin\"",
            )),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// One user's access to a dataset they do not own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user_id: String,
    pub email: String,
    pub permission: Permission,
    pub granted_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub tenant_id: String,
    pub full_name: FullName,
    /// The short name, `CUI-` prefix included.
    pub name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub cui: bool,
    pub created_at: i64,
    /// Every grantee, by email.
    pub grants: Vec<Grant>,
    /// Raised by every change to the grants; changes are conditioned on the value read.
    pub revision: i64,
}

impl Dataset {
    /// At most this many grantees per dataset, so that deleting a dataset with all its
    /// grants always fits in one transaction.
    pub const MAX_GRANTS: usize = 50;

    /// The user's permission: the owner holds admin; others what they were granted.
    pub fn permission_of(&self, user_id: &str) -> Option<Permission> {
        if user_id == self.owner_id {
            return Some(Permission::Admin);
        }
        self.grants
            .iter()
            .find(|grant| grant.user_id == user_id)
            .map(|grant| grant.permission)
    }

    pub fn grant_to_email(&self, email: &str) -> Option<&Grant> {
        self.grants.iter().find(|grant| grant.email == email)
    }

    /// The dataset as `user_id` sees it, every grantee included when asked for; `None`
    /// when it is not theirs to see.
    pub fn seen_by(self, user_id: &str, with_grants: bool) -> Option<VisibleDataset> {
        let permission = self.permission_of(user_id)?;
        Some(VisibleDataset {
            full_name: self.full_name,
            name: self.name,
            owner_id: self.owner_id,
            owner_email: self.owner_email,
            cui: self.cui,
            created_at: self.created_at,
            permission,
            grants: with_grants.then_some(self.grants),
        })
    }
}

/// A dataset as one user sees it in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleDataset {
    pub full_name: FullName,
    pub name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub cui: bool,
    pub created_at: i64,
    /// The viewer's own permission.
    pub permission: Permission,
    /// Every grantee, when asked for.
    pub grants: Option<Vec<Grant>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_alphanumeric_with_an_optional_cui_prefix() {
        let plain = DatasetName::parse("name", "MyDataset123").unwrap();
        assert!(!plain.is_cui());
        assert_eq!(plain.as_string(), "MyDataset123");
        let cui = DatasetName::parse("name", "CUI-Secret1").unwrap();
        assert!(cui.is_cui());
        assert_eq!(cui.as_string(), "CUI-Secret1");
        for bad in [
            "",
            "CUI-",
            "my data",
            "a-b",
            "a_b",
            "cui-x",
            "CUI-CUI-x",
            "é",
            " x",
        ] {
            assert!(
                matches!(DatasetName::parse("name", bad), Err(NameError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn too_long_names_are_told_apart() {
        assert!(DatasetName::parse("name", &"a".repeat(64)).is_ok());
        assert!(DatasetName::parse("name", &format!("CUI-{}", "a".repeat(64))).is_ok());
        assert!(matches!(
            DatasetName::parse("name", &"a".repeat(65)),
            Err(NameError::TooLong(_))
        ));
        // A broken name is reported as broken, whatever its length.
        assert!(matches!(
            DatasetName::parse("name", &"a b".repeat(40)),
            Err(NameError::Invalid(_))
        ));
    }

    #[test]
    fn classification_and_prefix_agree() {
        let name = || DatasetName::parse("name", "Notes").unwrap();
        let cui = classify(name(), Some(Classification::Cui), "classification").unwrap();
        assert_eq!(cui.as_string(), "CUI-Notes");
        assert!(classify(name(), None, "classification").is_ok_and(|n| !n.is_cui()));
        let marked = DatasetName::parse("name", "CUI-Notes").unwrap();
        assert!(classify(marked, Some(Classification::Unclassified), "classification").is_err());
        assert!(Classification::parse("classification", "secret").is_err());
    }

    #[test]
    fn full_names_are_built_parsed_and_resolved() {
        let name = DatasetName::parse("name", "CUI-Notes").unwrap();
        let full = FullName::new("01ABC", &name);
        assert_eq!(full.as_str(), "user_custom_01ABC_CUI-Notes_content");
        assert_eq!(FullName::parse("dataset", full.as_str()).unwrap(), full);
        assert!(FullName::parse("dataset", "user_custom_123_MyDataset_content").is_ok());
        for bad in [
            "user_custom__x_content",
            "user_custom_1_content",
            "user_custom_1_a b_content",
            "user_custom_1_x",
            "custom_1_x_content",
            "user_custom_1#_x_content",
        ] {
            assert!(FullName::parse("dataset", bad).is_err(), "{bad}");
        }
        assert_eq!(
            FullName::resolve("dataset", "Notes", "01ABC").unwrap(),
            Some(FullName("user_custom_01ABC_Notes_content".into()))
        );
        assert_eq!(
            FullName::resolve("dataset", full.as_str(), "someone").unwrap(),
            Some(full)
        );
        assert_eq!(FullName::resolve("dataset", "  ", "01ABC").unwrap(), None);
        assert!(FullName::resolve("dataset", "no such!", "01ABC").is_err());
    }

    #[test]
    fn owners_hold_admin_and_grantees_their_level() {
        let dataset = Dataset {
            tenant_id: "t".into(),
            full_name: FullName("user_custom_o_x_content".into()),
            name: "x".into(),
            owner_id: "o".into(),
            owner_email: "o@example.com".into(),
            cui: false,
            created_at: 0,
            grants: vec![Grant {
                user_id: "g".into(),
                email: "g@example.com".into(),
                permission: Permission::Read,
                granted_at: 0,
            }],
            revision: 1,
        };
        assert_eq!(dataset.permission_of("o"), Some(Permission::Admin));
        assert_eq!(dataset.permission_of("g"), Some(Permission::Read));
        assert_eq!(dataset.permission_of("x"), None);
        assert!(dataset.grant_to_email("g@example.com").is_some());
        let seen = dataset.clone().seen_by("g", false).unwrap();
        assert_eq!(seen.permission, Permission::Read);
        assert_eq!(seen.grants, None);
        assert_eq!(
            dataset
                .clone()
                .seen_by("o", true)
                .unwrap()
                .grants
                .unwrap()
                .len(),
            1
        );
        assert!(dataset.seen_by("x", true).is_none());
        assert!(Permission::Admin > Permission::Write && Permission::Write > Permission::Read);
        assert!(Permission::parse("permission", "owner").is_err());
    }
}
