//! Where a credential may be presented: `x-access-tokens`, `Authorization: Bearer`,
//! `X-API-Key`. Header names are matched case-insensitively (HeaderMap does that).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// The presented secret, if any header carries one.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    header("x-access-tokens")
        .or_else(|| header(AUTHORIZATION.as_str()).and_then(bearer))
        .or_else(|| header("x-api-key"))
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_header_form() {
        for (name, value) in [
            ("x-access-tokens", "s1"),
            ("Authorization", "Bearer s1"),
            ("X-Api-Key", "s1"),
            ("authorization", "bearer  s1 "),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
            assert_eq!(presented(&headers), Some("s1"), "{name}");
        }
        let mut basic = HeaderMap::new();
        basic.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(presented(&basic), None);
        assert_eq!(presented(&HeaderMap::new()), None);
    }
}
