//! Opaque pagination cursors: the last id of a page, base64url-encoded. The store rebuilds
//! the start key from it within the caller's own partition, so a forged cursor can only
//! move within the caller's data.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::Invalid;

pub fn encode(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_id)
}

pub fn decode(field: &str, cursor: Option<&str>) -> Result<Option<String>, Invalid> {
    decode_checked(field, cursor, 64, |b| b.is_ascii_alphanumeric())
}

/// Decodes a cursor that carries a short text rather than one id; the service that wrote
/// the text checks its shape.
pub fn decode_text(field: &str, cursor: Option<&str>) -> Result<Option<String>, Invalid> {
    decode_checked(field, cursor, 256, |b| b.is_ascii_graphic())
}

/// Decodes a cursor (absent or empty: none) whose text must be 1..=`max_len` bytes, each
/// one `allowed`.
fn decode_checked(
    field: &str,
    cursor: Option<&str>,
    max_len: usize,
    allowed: fn(&u8) -> bool,
) -> Result<Option<String>, Invalid> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| {
            !text.is_empty() && text.len() <= max_len && text.bytes().all(|b| allowed(&b))
        })
        .map(Some)
        .ok_or_else(|| Invalid::new(field, "is not a cursor this API returned"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(
            decode("cursor", Some(&encode("01ABC"))).unwrap().as_deref(),
            Some("01ABC")
        );
        assert_eq!(decode("cursor", None).unwrap(), None);
        assert!(decode("cursor", Some("!!")).is_err());
        assert!(decode("cursor", Some(&encode("a#b"))).is_err());
        assert_eq!(
            decode_text("cursor", Some(&encode("owned.a_b-c")))
                .unwrap()
                .as_deref(),
            Some("owned.a_b-c")
        );
        assert!(decode_text("cursor", Some(&encode("a b"))).is_err());
    }
}
