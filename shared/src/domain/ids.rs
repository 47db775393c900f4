//! keygate ids are ULIDs (26 characters of Crockford base32). A ULID is 128 bits, so it
//! can also be written as a UUID (`8-4-4-4-12` hex), which VirtuousAI's surface shows and
//! accepts. Both spellings name the same id.

use ulid::Ulid;

/// Whether `raw` is an id as keygate writes one: a ULID, 26 characters of upper-case
/// Crockford base32. Every id keygate issues (tenants, users, keys, tokens) has this shape,
/// so any other string names nothing and is answered without a read (an oversized one
/// would not even be a valid DynamoDB key).
pub fn is_id(raw: &str) -> bool {
    raw.len() == 26 && Ulid::from_string(raw).is_ok_and(|id| id.to_string() == raw)
}

/// The UUID spelling of a ULID string; `None` when `ulid` is not one.
pub fn ulid_to_uuid(ulid: &str) -> Option<String> {
    let bytes = Ulid::from_string(ulid).ok()?.to_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// The canonical ULID string of an id given as a ULID or as a UUID (any hex case, hyphens
/// optional); `None` when it is neither.
pub fn canonical_ulid(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() == 26 {
        // Round-tripping refuses what overflows 128 bits or uses Crockford's aliases.
        return Ulid::from_string(raw)
            .ok()
            .map(|id| id.to_string())
            .filter(|id| id.eq_ignore_ascii_case(raw));
    }
    let hex: String = raw.chars().filter(|&c| c != '-').collect();
    let well_placed = raw.len() == 32
        || (raw.len() == 36 && [8, 13, 18, 23].iter().all(|&i| raw.as_bytes()[i] == b'-'));
    if !well_placed || hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let value = u128::from_str_radix(&hex, 16).ok()?;
    Some(Ulid::from_bytes(value.to_be_bytes()).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_and_uuids_round_trip() {
        let ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        let uuid = ulid_to_uuid(ulid).unwrap();
        assert_eq!(uuid, "01563e3a-b5d3-d676-4c61-efb99302bd5b");
        assert_eq!(canonical_ulid(&uuid).as_deref(), Some(ulid));
        assert_eq!(
            canonical_ulid(&uuid.to_uppercase().replace('-', "")).as_deref(),
            Some(ulid)
        );
        assert_eq!(canonical_ulid(ulid).as_deref(), Some(ulid));
        assert_eq!(
            canonical_ulid("01arz3ndektsv4rrffq69g5fav").as_deref(),
            Some(ulid)
        );
    }

    #[test]
    fn ids_are_canonical_ulids() {
        assert!(is_id("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        for bad in [
            "",
            "123",
            "01arz3ndektsv4rrffq69g5fav",
            "01ARZ3NDEKTSV4RRFFQ69G5FA",
            "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "01ARZ3NDEKTSV4RRFFQ69G5FAU",
            "01ARZ3NDEKTSV4RRFFQ69G5FA\u{e9}",
        ] {
            assert!(!is_id(bad), "{bad}");
        }
        assert!(!is_id(&"Q".repeat(3000)));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "string",
            "497f6eca-6276-4993-bfeb-53cbbbba6f0",
            "497f6eca6-276-4993-bfeb-53cbbbba6f08",
            "497f6eca-6276-4993-bfeb-53cbbbba6f0g",
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        ] {
            assert_eq!(canonical_ulid(bad), None, "{bad}");
        }
        assert!(canonical_ulid("497f6eca-6276-4993-bfeb-53cbbbba6f08").is_some());
        assert_eq!(ulid_to_uuid("not-a-ulid"), None);
    }
}
