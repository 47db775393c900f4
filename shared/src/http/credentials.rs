//! Where a credential may be presented. Headers, in this order: `x-access-tokens`,
//! `Authorization: Bearer <secret>` or `Authorization: Key <secret>` (Cogniac),
//! `X-API-Key`, `vai_token` (VirtuousAI). Then cookies: `keygate_session` (the sign-in
//! session), `vai_token`. Header names are matched case-insensitively (HeaderMap does that).
//!
//! A browser attaches cookies to cross-site requests too, so a state-changing request
//! authenticated by a cookie alone must come from an allowed `Origin` or the request's own
//! (CSRF defence; `SameSite=Lax` already keeps the cookie off most cross-site subrequests).

use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method};

use crate::services::Error;

/// The sign-in session cookie.
pub const SESSION_COOKIE: &str = "keygate_session";
/// VirtuousAI's token header and cookie.
pub const VAI_TOKEN: &str = "vai_token";

/// How the credential arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Header,
    Cookie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented<'a> {
    pub secret: &'a str,
    pub source: Source,
}

/// The presented secret: from a header if any carries one, else from a cookie.
pub fn presented(headers: &HeaderMap) -> Option<Presented<'_>> {
    from_headers(headers)
        .map(|secret| Presented {
            secret,
            source: Source::Header,
        })
        .or_else(|| {
            from_cookies(&cookie_pairs(headers)).map(|secret| Presented {
                secret,
                source: Source::Cookie,
            })
        })
}

/// The secret carried by a header, if any.
pub fn from_headers(headers: &HeaderMap) -> Option<&str> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    header("x-access-tokens")
        .or_else(|| header(AUTHORIZATION.as_str()).and_then(|v| scheme(v, "bearer")))
        .or_else(|| header(AUTHORIZATION.as_str()).and_then(|v| scheme(v, "key")))
        .or_else(|| header("x-api-key"))
        .or_else(|| header(VAI_TOKEN))
}

/// The secret carried by a credential cookie among `name=value` pairs, if any.
pub fn from_cookies<'a>(pairs: &[(&'a str, &'a str)]) -> Option<&'a str> {
    [SESSION_COOKIE, VAI_TOKEN].into_iter().find_map(|wanted| {
        pairs
            .iter()
            .find(|(name, value)| *name == wanted && !value.is_empty())
            .map(|(_, value)| *value)
    })
}

/// Every `name=value` pair of the request's `Cookie` headers.
pub fn cookie_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_cookies)
        .collect()
}

/// Splits one `Cookie` header value (`a=1; b=2`) into pairs.
pub fn split_cookies(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        Some((name.trim(), value.trim().trim_matches('"')))
    })
}

/// The value of `Authorization: <scheme> <value>`, for a scheme named case-insensitively.
pub fn scheme<'a>(header: &'a str, wanted: &str) -> Option<&'a str> {
    let (name, value) = header.trim().split_once(' ')?;
    name.eq_ignore_ascii_case(wanted)
        .then(|| value.trim())
        .filter(|v| !v.is_empty())
}

/// HTTP Basic credentials (`Authorization: Basic base64(user:password)`), if presented.
/// Only surfaces that sign in with a password (Cogniac) read them.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let encoded = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| scheme(v, "basic"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The `Set-Cookie` value that hands a browser its session: never readable by scripts,
/// only over HTTPS, not sent on cross-site subrequests, gone when the session expires.
pub fn session_cookie(secret: &str, max_age_secs: i64) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={max_age_secs}"
    )
}

/// The `Set-Cookie` value that makes a browser drop its session cookie.
pub fn cleared_session_cookie() -> String {
    session_cookie("", 0)
}

/// Refuses a state-changing request authenticated by a cookie alone unless its `Origin`
/// is one of `allowed` (exact match, no trailing slash) or the request's own origin (see
/// [`own_origins`]): the dashboard keygate serves itself needs no configuration.
/// `gateway_domain` is API Gateway's `requestContext.domainName`, when there is one.
pub fn check_origin(
    method: &Method,
    headers: &HeaderMap,
    source: Source,
    allowed: &[String],
    gateway_domain: Option<&str>,
) -> Result<(), Error> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || source == Source::Header {
        return Ok(());
    }
    let origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.trim().trim_end_matches('/'));
    match origin {
        Some(origin)
            if allowed.iter().any(|a| a == origin)
                || own_origins(headers, gateway_domain)
                    .iter()
                    .any(|own| own.eq_ignore_ascii_case(origin)) =>
        {
            Ok(())
        }
        _ => Err(Error::Forbidden(
            "a request authenticated by a session cookie alone must come from an allowed Origin"
                .into(),
        )),
    }
}

/// The origins the request was addressed to: `scheme://host` for the `Host` header and for
/// API Gateway's domain name. The scheme is the first `X-Forwarded-Proto` (API Gateway sets
/// it), else `https` behind API Gateway and `http` elsewhere (the local server). A browser
/// sets `Host` itself and a cross-site page cannot add `X-Forwarded-Proto` without a CORS
/// preflight keygate never grants, so a foreign page cannot make its `Origin` match.
pub fn own_origins(headers: &HeaderMap, gateway_domain: Option<&str>) -> Vec<String> {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| matches!(*v, "http" | "https"));
    let scheme = forwarded_proto.unwrap_or(if gateway_domain.is_some() {
        "https"
    } else {
        "http"
    });
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    [host, gateway_domain.map(str::trim)]
        .into_iter()
        .flatten()
        .filter(|host| !host.is_empty())
        .map(|host| format!("{scheme}://{host}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    #[test]
    fn reads_each_header_form() {
        for (name, value) in [
            ("x-access-tokens", "s1"),
            ("Authorization", "Bearer s1"),
            ("Authorization", "Key s1"),
            ("X-Api-Key", "s1"),
            ("vai_token", "s1"),
            ("authorization", "bearer  s1 "),
        ] {
            let headers = headers(&[(name, value)]);
            let presented = presented(&headers).unwrap();
            assert_eq!(presented.secret, "s1", "{name}");
            assert_eq!(presented.source, Source::Header);
        }
        assert_eq!(presented(&headers(&[("Authorization", "Basic abc")])), None);
        assert_eq!(presented(&HeaderMap::new()), None);
    }

    #[test]
    fn reads_cookies_after_headers() {
        let cookie = headers(&[
            ("cookie", "theme=dark; keygate_session=s2"),
            ("cookie", "x=1"),
        ]);
        assert_eq!(
            presented(&cookie),
            Some(Presented {
                secret: "s2",
                source: Source::Cookie
            })
        );
        let vai = headers(&[("cookie", "vai_token=s3")]);
        assert_eq!(presented(&vai).unwrap().secret, "s3");
        let both = headers(&[("cookie", "keygate_session=s2"), ("x-api-key", "s1")]);
        assert_eq!(presented(&both).unwrap().source, Source::Header);
        assert_eq!(presented(&headers(&[("cookie", "keygate_session=")])), None);
    }

    #[test]
    fn reads_basic_credentials() {
        let encoded = headers(&[("authorization", "Basic YWRhQGV4YW1wbGUuY29tOnA6dw==")]);
        assert_eq!(
            basic(&encoded),
            Some(("ada@example.com".to_owned(), "p:w".to_owned()))
        );
        assert_eq!(basic(&headers(&[("authorization", "Basic !!")])), None);
        assert_eq!(basic(&headers(&[("authorization", "Bearer x")])), None);
    }

    #[test]
    fn cookie_only_writes_need_an_allowed_origin() {
        let allowed = vec!["https://app.example.com".to_owned()];
        let from = |origin: &str| headers(&[("origin", origin)]);
        let check = |method: Method, h: &HeaderMap, source| {
            check_origin(&method, h, source, &allowed, None).is_ok()
        };
        assert!(check(
            Method::POST,
            &from("https://app.example.com"),
            Source::Cookie
        ));
        assert!(check(
            Method::POST,
            &from("https://app.example.com/"),
            Source::Cookie
        ));
        assert!(!check(
            Method::POST,
            &from("https://evil.example"),
            Source::Cookie
        ));
        assert!(!check(Method::DELETE, &HeaderMap::new(), Source::Cookie));
        assert!(check(Method::GET, &HeaderMap::new(), Source::Cookie));
        assert!(check(
            Method::POST,
            &from("https://evil.example"),
            Source::Header
        ));
    }

    #[test]
    fn cookie_only_writes_may_come_from_the_request_own_origin() {
        let none: Vec<String> = Vec::new();
        let check = |pairs: &[(&str, &str)], domain: Option<&str>| {
            check_origin(
                &Method::POST,
                &headers(pairs),
                Source::Cookie,
                &none,
                domain,
            )
            .is_ok()
        };
        // The local server: plain http, the Host header.
        assert!(check(
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000")
            ],
            None
        ));
        assert!(!check(
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "https://127.0.0.1:3000")
            ],
            None
        ));
        assert!(!check(
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3001")
            ],
            None
        ));
        // Behind API Gateway: https, its domain name or the Host header.
        assert!(check(
            &[("origin", "https://abc.execute-api.us-east-1.amazonaws.com")],
            Some("abc.execute-api.us-east-1.amazonaws.com")
        ));
        assert!(check(
            &[
                ("host", "keys.example.com"),
                ("x-forwarded-proto", "https"),
                ("origin", "https://keys.example.com")
            ],
            Some("abc.execute-api.us-east-1.amazonaws.com")
        ));
        assert!(!check(
            &[
                ("host", "keys.example.com"),
                ("origin", "https://evil.example")
            ],
            Some("keys.example.com")
        ));
        assert!(!check(
            &[("host", "keys.example.com"), ("origin", "null")],
            None
        ));
        assert!(!check(&[("host", "keys.example.com")], None));
    }
}
