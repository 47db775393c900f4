//! Reading and writing DynamoDB attribute maps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

pub fn list<'a>(values: impl IntoIterator<Item = &'a str>) -> AttributeValue {
    AttributeValue::L(values.into_iter().map(s).collect())
}

/// Inserts `value` under `name` only when present.
pub fn put_opt(item: &mut Item, name: &str, value: Option<AttributeValue>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), value);
    }
}

/// Typed reads from an item, naming the attribute when it is missing or mistyped.
pub struct Reader<'a>(pub &'a Item);

impl Reader<'_> {
    pub fn string(&self, name: &str) -> Result<String, StoreError> {
        self.opt_string(name)
            .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} is missing")))
    }

    pub fn opt_string(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_number(name)
            .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} is missing")))
    }

    pub fn opt_number(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(AttributeValue::N(value)) => value.parse().ok(),
            _ => None,
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some(AttributeValue::Bool(true)))
    }

    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(AttributeValue::L(values)) => values
                .iter()
                .filter_map(|v| v.as_s().ok().cloned())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A JSON value stored as a string attribute.
    pub fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.opt_string(name)
            .and_then(|text| serde_json::from_str(&text).ok())
    }
}

/// Where the next page of a list starts: after the last item's id, when DynamoDB says more
/// may follow (`more`: the page's `LastEvaluatedKey` was set).
pub(super) fn resume_after<T>(more: bool, page: &[T], id: impl Fn(&T) -> &str) -> Option<String> {
    more.then(|| page.last().map(|item| id(item).to_owned()))
        .flatten()
}
