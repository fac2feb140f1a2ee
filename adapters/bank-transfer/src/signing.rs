//! The bank style's two signatures: HMAC-SHA256 request signing (`X-Signature` over
//! timestamp, method, path and body) and Standard Webhooks callback signing.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use gateway_adapter::signing::{hmac_sha256, tags_equal, verify_hmac_sha256};
use gateway_adapter::CallbackError;

/// Our client id at the bank.
pub const HEADER_CLIENT_ID: &str = "x-client-id";
/// Unix seconds when the request was signed.
pub const HEADER_TIMESTAMP: &str = "x-timestamp";
/// Lowercase hex HMAC-SHA256 of the signing string.
pub const HEADER_SIGNATURE: &str = "x-signature";
/// The bank's idempotency header; we send the payment id.
pub const HEADER_IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Standard Webhooks: the event id, reused by a duplicate delivery.
pub const HEADER_WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks: unix seconds when the callback was signed.
pub const HEADER_WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks: space-separated `v1,<base64>` signatures.
pub const HEADER_WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// The most signatures one `webhook-signature` header may carry: a bank signs with one secret,
/// two while it rotates them. A longer list is refused before any is checked, so a header
/// cannot make the gateway compare a body against thousands of tags.
pub const MAX_WEBHOOK_SIGNATURES: usize = 16;

/// The bytes a request signature covers: `"{timestamp}\n{METHOD}\n{path}\n{body}"`, where
/// `path` is the API path (`/v1/transfers`), without the base URL's own path prefix.
pub fn request_signing_bytes(timestamp: i64, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{timestamp}\n{method}\n{path}\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The `X-Signature` value: lowercase hex HMAC-SHA256 of the signing bytes.
pub fn sign_request(secret: &[u8], timestamp: i64, method: &str, path: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(
        secret,
        &request_signing_bytes(timestamp, method, path, body),
    ))
}

/// A request as received, with its signature headers, for [`verify_request`].
#[derive(Clone, Copy, Debug)]
pub struct ReceivedRequest<'a> {
    /// The `X-Timestamp` header.
    pub timestamp: &'a str,
    pub method: &'a str,
    /// The API path (`/v1/transfers`), as the router sees it after any prefix is stripped.
    pub path: &'a str,
    pub body: &'a [u8],
    /// The `X-Signature` header.
    pub signature_hex: &'a str,
}

/// Checks a request signature in constant time, refusing timestamps more than
/// `tolerance_secs` away from `now_unix`.
pub fn verify_request(secret: &[u8], request: &ReceivedRequest<'_>, now_unix: i64, tolerance_secs: i64) -> bool {
    let Ok(timestamp) = request.timestamp.trim().parse::<i64>() else {
        return false;
    };
    if now_unix.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return false;
    }
    let Ok(tag) = hex::decode(request.signature_hex.trim()) else {
        return false;
    };
    let signed = request_signing_bytes(timestamp, request.method, request.path, request.body);
    verify_hmac_sha256(secret, &signed, &tag)
}

/// A Standard Webhooks signing secret: the bytes behind `whsec_<base64>`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Parses `whsec_<base64>`; `None` if the prefix or the base64 is wrong, or it is empty.
    pub fn parse(text: &str) -> Option<Self> {
        let encoded = text.trim().strip_prefix("whsec_")?;
        let bytes = BASE64.decode(encoded).ok()?;
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The `whsec_<base64>` form, for handing the same secret to a sandbox.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", BASE64.encode(&self.0))
    }

    /// The `webhook-signature` value for one delivery: `v1,<base64 HMAC-SHA256>` over
    /// `"{id}.{timestamp}.{body}"`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = hmac_sha256(&self.0, &webhook_signing_bytes(id, timestamp, body));
        format!("v1,{}", BASE64.encode(tag))
    }

    fn tag_of(&self, message: &[u8]) -> Vec<u8> {
        hmac_sha256(&self.0, message)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

fn webhook_signing_bytes(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{id}.{timestamp}.").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Verifies a Standard Webhooks delivery on the raw bytes, before anything parses the body:
/// the three headers must be present, the timestamp within `tolerance_secs` of `now_unix`,
/// and one `v1` signature must match one of `secrets` (constant-time comparison).
pub fn verify_webhook(
    secrets: &[WebhookSecret],
    headers: &http::HeaderMap,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), CallbackError> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header(HEADER_WEBHOOK_ID),
        header(HEADER_WEBHOOK_TIMESTAMP),
        header(HEADER_WEBHOOK_SIGNATURE),
    ) else {
        return Err(CallbackError::MissingSignature);
    };
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| CallbackError::Malformed("webhook-timestamp is not unix seconds".into()))?;
    if now_unix.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(CallbackError::StaleTimestamp);
    }
    if signatures.split_whitespace().nth(MAX_WEBHOOK_SIGNATURES).is_some() {
        return Err(CallbackError::Malformed(format!(
            "webhook-signature carries more than {MAX_WEBHOOK_SIGNATURES} signatures"
        )));
    }
    // One HMAC per secret, whatever the header holds; each tag given is compared with them.
    let message = webhook_signing_bytes(id, timestamp, body);
    let expected: Vec<Vec<u8>> = secrets.iter().map(|secret| secret.tag_of(&message)).collect();
    let verified = signatures
        .split_whitespace()
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .any(|tag| expected.iter().any(|expected| tags_equal(expected, &tag)));
    if verified {
        Ok(())
    } else {
        Err(CallbackError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_secrets_need_the_whsec_prefix_and_base64() {
        assert!(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(WebhookSecret::parse("whsec_not base64!").is_none());
        assert!(WebhookSecret::parse("whsec_").is_none());
        let secret = WebhookSecret::from_bytes(b"secret".to_vec());
        assert_eq!(WebhookSecret::parse(&secret.to_whsec()), Some(secret));
    }

    fn webhook_headers(id: &str, timestamp: i64, signatures: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_WEBHOOK_ID, id.parse().expect("a header value"));
        headers.insert(
            HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string().parse().expect("a header value"),
        );
        headers.insert(HEADER_WEBHOOK_SIGNATURE, signatures.parse().expect("a header value"));
        headers
    }

    #[test]
    fn a_signature_header_is_checked_against_each_secret_and_its_length_is_bounded() {
        let (old, new) = (
            WebhookSecret::from_bytes(b"old".to_vec()),
            WebhookSecret::from_bytes(b"new".to_vec()),
        );
        let secrets = [old, new.clone()];
        let body = br#"{"status":"COMPLETED"}"#;
        let valid = new.sign("msg_1", 1_000, body);
        let wrong = WebhookSecret::from_bytes(b"forged".to_vec()).sign("msg_1", 1_000, body);
        let listing = |wrong_ones: usize| {
            let mut list = vec![wrong.clone(); wrong_ones];
            list.push(valid.clone());
            list.join(" ")
        };
        // A rotation's second secret, behind wrong tags, up to the bound.
        let at_the_bound = webhook_headers("msg_1", 1_000, &listing(MAX_WEBHOOK_SIGNATURES - 1));
        assert_eq!(verify_webhook(&secrets, &at_the_bound, body, 1_000, 300), Ok(()));
        let forged_only = webhook_headers("msg_1", 1_000, &wrong);
        assert_eq!(
            verify_webhook(&secrets, &forged_only, body, 1_000, 300),
            Err(CallbackError::BadSignature)
        );
        // One more, and the header is refused before any tag is compared: a header of 100,000
        // tags (hyper allows 400 KB of headers) would otherwise cost an HMAC of the body each.
        for length in [MAX_WEBHOOK_SIGNATURES, 100_000] {
            let over = webhook_headers("msg_1", 1_000, &listing(length));
            assert!(
                matches!(
                    verify_webhook(&secrets, &over, body, 1_000, 300),
                    Err(CallbackError::Malformed(reason)) if reason.contains("more than 16 signatures")
                ),
                "{} signatures",
                length + 1
            );
        }
    }

    #[test]
    fn request_signatures_outside_the_window_are_refused() {
        let signature = sign_request(b"k", 1_000, "GET", "/v1/transfers/p", b"");
        let request = ReceivedRequest {
            timestamp: "1000",
            method: "GET",
            path: "/v1/transfers/p",
            body: b"",
            signature_hex: &signature,
        };
        assert!(verify_request(b"k", &request, 1_300, 300));
        assert!(!verify_request(b"k", &request, 1_301, 300));
        let other_path = ReceivedRequest {
            path: "/v1/transfers/q",
            ..request
        };
        assert!(!verify_request(b"k", &other_path, 1_000, 300));
    }
}
