//! The dashboard's bearer token: `Authorization: Bearer <token>`, compared in constant time
//! (HMAC tags of both, checked with `hmac`'s constant-time `verify_slice`), so neither the
//! content nor the length of the configured token leaks through response times.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gateway_adapter::signing::{hmac_sha256, verify_hmac_sha256};
use secrecy::{ExposeSecret, SecretString};

/// The HMAC key both tokens are tagged under; not a secret, it only makes the tags fixed-length.
const TAG_KEY: &[u8] = b"payout-gateway ops dashboard token";

/// Checks presented tokens against the configured one. `Debug` shows nothing of the token.
#[derive(Clone)]
pub struct TokenCheck {
    expected_tag: Vec<u8>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck(..)")
    }
}

impl TokenCheck {
    pub fn new(token: &SecretString) -> Self {
        Self {
            expected_tag: hmac_sha256(TAG_KEY, token.expose_secret().as_bytes()),
        }
    }

    /// Whether the request carries the right bearer token.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        bearer(headers).is_some_and(|presented| verify_hmac_sha256(TAG_KEY, presented.as_bytes(), &self.expected_tag))
    }
}

/// The token of an `Authorization: Bearer …` header (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// 401 with a `WWW-Authenticate` challenge and a JSON reason the page shows.
pub fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"unauthorized","message":"This needs the dashboard token: Authorization: Bearer <dashboard.token>."}"#,
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"ops\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn only_the_configured_bearer_token_is_allowed() {
        let check = TokenCheck::new(&SecretString::from("0123456789abcdef"));
        assert!(check.allows(&headers("Bearer 0123456789abcdef")));
        assert!(check.allows(&headers("bearer 0123456789abcdef")));
        assert!(!check.allows(&headers("Bearer 0123456789abcdeF")));
        assert!(!check.allows(&headers("Bearer 0123456789abcdef0")));
        assert!(!check.allows(&headers("Bearer ")));
        assert!(!check.allows(&headers("Basic 0123456789abcdef")));
        assert!(!check.allows(&headers("0123456789abcdef")));
        assert!(!check.allows(&HeaderMap::new()));
        assert_eq!(format!("{check:?}"), "TokenCheck(..)");
    }

    #[test]
    fn a_refusal_is_401_with_a_challenge() {
        let response = unauthorized();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"ops\"")
        );
    }
}
