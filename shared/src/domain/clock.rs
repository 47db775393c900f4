//! Time as the domain sees it: epoch seconds in storage, RFC 3339 on the wire.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Invalid;

/// Seconds since the Unix epoch, now.
pub fn now_epoch() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Renders epoch seconds as RFC 3339 in UTC (`2026-11-25T14:00:00Z`).
pub fn to_rfc3339(epoch_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an ISO 8601 / RFC 3339 timestamp with an offset into epoch seconds.
pub fn parse_rfc3339(field: &str, raw: &str) -> Result<i64, Invalid> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| {
            Invalid::new(
                field,
                "must be an ISO 8601 date-time with a time zone, e.g. 2030-01-31T12:00:00Z",
            )
        })
}

/// Parses a future expiry; a past or present instant is refused.
pub fn parse_future(field: &str, raw: &str, now: i64) -> Result<i64, Invalid> {
    let at = parse_rfc3339(field, raw)?;
    if at <= now {
        return Err(Invalid::new(field, "must be in the future"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let at = parse_rfc3339("expires_at", "2030-01-31T12:00:00Z").unwrap();
        assert_eq!(to_rfc3339(at), "2030-01-31T12:00:00Z");
        assert!(parse_rfc3339("expires_at", "2030-01-31").is_err());
        assert!(parse_future("expires_at", "2001-01-01T00:00:00Z", now_epoch()).is_err());
    }
}
