//! A key's metadata: what its owner's own systems call it (`external_id`), how they group
//! it (`tags`), and a small JSON object of their own (`meta`). No rights ride on it; it is
//! stored on the key item, so verification reads it with the key (no extra read).

use serde_json::{Map, Value};

use super::Invalid;

pub const MAX_EXTERNAL_ID: usize = 128;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG: usize = 32;
/// `meta` serialized as compact JSON may take at most this many bytes.
pub const MAX_META_BYTES: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyMetadata {
    pub external_id: Option<String>,
    /// In the order given, each once.
    pub tags: Vec<String>,
    pub meta: Option<Map<String, Value>>,
}

impl KeyMetadata {
    pub fn is_empty(&self) -> bool {
        self.external_id.is_none() && self.tags.is_empty() && self.meta.is_none()
    }

    /// `meta` as the compact JSON stored and passed in the authorizer context.
    pub fn meta_json(&self) -> Option<String> {
        self.meta
            .as_ref()
            .map(|meta| Value::Object(meta.clone()).to_string())
    }
}

/// What a key list may be narrowed to: keys carrying a tag, or with an external id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyFilter {
    pub tag: Option<String>,
    pub external_id: Option<String>,
}

impl KeyFilter {
    /// Validates `?tag=` and `?external_id=` as the fields they filter by.
    pub fn parse(tag: Option<&str>, external_id: Option<&str>) -> Result<Self, Invalid> {
        Ok(Self {
            tag: tag
                .map(|raw| parse_tag("tag", raw).map(str::to_owned))
                .transpose()?,
            external_id: external_id
                .map(|raw| parse_external_id("external_id", raw))
                .transpose()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.tag.is_none() && self.external_id.is_none()
    }
}

/// 1 to 128 characters, none of them a control character.
pub fn parse_external_id(field: &str, raw: &str) -> Result<String, Invalid> {
    let length = raw.chars().count();
    if length == 0 || length > MAX_EXTERNAL_ID || raw.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!("must be 1 to {MAX_EXTERNAL_ID} characters, none a control character"),
        ));
    }
    Ok(raw.to_owned())
}

/// At most 10 tags of 1 to 32 of `a-z 0-9 : _ -`; a repeated tag is kept once.
pub fn parse_tags(field: &str, raw: &[String]) -> Result<Vec<String>, Invalid> {
    if raw.len() > MAX_TAGS {
        return Err(Invalid::new(
            field,
            format!("may list at most {MAX_TAGS} tags"),
        ));
    }
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for (index, tag) in raw.iter().enumerate() {
        let tag = parse_tag(&format!("{field}[{index}]"), tag)?;
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

/// One tag: 1 to 32 of `a-z 0-9 : _ -` (also what `?tag=` filters by).
pub fn parse_tag<'a>(field: &str, tag: &'a str) -> Result<&'a str, Invalid> {
    let valid = !tag.is_empty()
        && tag.len() <= MAX_TAG
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":_-".contains(&b));
    if valid {
        Ok(tag)
    } else {
        Err(Invalid::new(
            field,
            format!("each tag must be 1 to {MAX_TAG} of a-z, 0-9, ':', '_' or '-'"),
        ))
    }
}

/// A JSON object of at most 1 KB serialized.
pub fn parse_meta(field: &str, raw: &Value) -> Result<Map<String, Value>, Invalid> {
    let Value::Object(meta) = raw else {
        return Err(Invalid::new(field, "must be a JSON object"));
    };
    let size = raw.to_string().len();
    if size > MAX_META_BYTES {
        return Err(Invalid::new(
            field,
            format!("must be at most {MAX_META_BYTES} bytes as JSON (it is {size})"),
        ));
    }
    Ok(meta.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn external_ids_are_bounded_and_printable() {
        assert_eq!(
            parse_external_id("external_id", "cust-42").unwrap(),
            "cust-42"
        );
        assert!(parse_external_id("external_id", &"é".repeat(MAX_EXTERNAL_ID)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(MAX_EXTERNAL_ID + 1),
            "a\nb".into(),
        ] {
            assert_eq!(
                parse_external_id("external_id", &bad).unwrap_err().field,
                "external_id"
            );
        }
    }

    #[test]
    fn tags_are_few_short_and_lowercase() {
        let raw: Vec<String> = ["team:ml", "prod", "prod", "a_b-c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse_tags("tags", &raw).unwrap(),
            ["team:ml", "prod", "a_b-c"]
        );
        assert!(parse_tags("tags", &[]).unwrap().is_empty());
        let eleven: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(parse_tags("tags", &eleven).unwrap_err().field, "tags");
        for bad in ["Prod", "", "a b", &"x".repeat(MAX_TAG + 1), "ü"] {
            let error = parse_tags("tags", &["ok".into(), bad.into()]).unwrap_err();
            assert_eq!(error.field, "tags[1]", "{bad:?}");
        }
        assert!(parse_tag("tag", &"x".repeat(MAX_TAG)).is_ok());
    }

    #[test]
    fn a_list_filter_is_checked_as_the_fields_it_filters_by() {
        let filter = KeyFilter::parse(Some("team:ml"), Some("cust-1")).unwrap();
        assert_eq!(filter.tag.as_deref(), Some("team:ml"));
        assert!(!filter.is_empty() && KeyFilter::parse(None, None).unwrap().is_empty());
        assert_eq!(KeyFilter::parse(Some("A"), None).unwrap_err().field, "tag");
        assert_eq!(
            KeyFilter::parse(None, Some("")).unwrap_err().field,
            "external_id"
        );
    }

    #[test]
    fn meta_is_an_object_of_at_most_a_kilobyte() {
        let meta = parse_meta("meta", &json!({"plan": "pro", "seats": 3})).unwrap();
        assert_eq!(meta["seats"], 3);
        for bad in [json!([1]), json!("x"), json!(null), json!(7)] {
            assert_eq!(parse_meta("meta", &bad).unwrap_err().field, "meta");
        }
        // {"k":"…"} is 8 bytes around the value.
        let fits = json!({ "k": "x".repeat(MAX_META_BYTES - 8) });
        assert_eq!(fits.to_string().len(), MAX_META_BYTES);
        assert!(parse_meta("meta", &fits).is_ok());
        let over = json!({ "k": "x".repeat(MAX_META_BYTES - 7) });
        assert!(
            parse_meta("meta", &over)
                .unwrap_err()
                .message
                .contains("1024")
        );
    }
}
