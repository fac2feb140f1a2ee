//! Configuration of the VNPost-account adapter (`[providers.vnpost_account]` in the gateway's
//! config); the secret is a `SecretString` that never prints.

use provider_http::HttpConfig;
use secrecy::SecretString;
use serde::Deserialize;

/// How to reach and authenticate with the Post Office's payout API, and how to check its
/// callbacks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnpostAccountConfig {
    /// The API's base URL without a trailing slash, e.g. `https://api.vnpost.example/vnpost`;
    /// request paths (`/api/v1/payouts`) are appended to it.
    pub base_url: String,
    /// Our partner id at VNPost, sent as `partner_id` in every request body.
    pub partner_id: String,
    /// The shared secret: it signs every request and verifies every answer and callback
    /// (HMAC-SHA512 over the sorted body fields).
    pub secret: SecretString,
    /// How long one HTTP call may take. A payout that times out is an unknown outcome, so
    /// this should stay well above VNPost's normal answer time.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How far a callback's `timestamp` may be from our clock before it is refused as stale
    /// (replay protection).
    #[serde(default = "default_callback_tolerance_secs")]
    pub callback_tolerance_secs: i64,
    /// The longest `content` (transfer memo) VNPost accepts.
    #[serde(default = "default_memo_max_chars")]
    pub memo_max_chars: usize,
    /// Connect timeout, keep-alive pool, longest `Retry-After`, and the mutual-TLS files
    /// (`tls_client_cert_path`, `tls_client_key_path`, `tls_ca_path`): the keys every
    /// provider section shares, written flat in this section (see `provider-http`'s README).
    #[serde(flatten)]
    pub http: HttpConfig,
}

fn default_timeout_ms() -> u64 {
    5_000
}

fn default_callback_tolerance_secs() -> i64 {
    300
}

fn default_memo_max_chars() -> usize {
    50
}

/// Why the adapter or the sandbox could not be built: the error every provider crate shares.
pub use provider_http::ConfigError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_the_optional_fields_and_the_secret_never_prints() {
        let config: VnpostAccountConfig = serde_json::from_str(
            r#"{"base_url":"http://localhost/vnpost","partner_id":"GW01","secret":"s3cr3t-value"}"#,
        )
        .expect("valid config");
        assert_eq!(config.timeout_ms, 5_000);
        assert_eq!(config.callback_tolerance_secs, 300);
        assert_eq!(config.memo_max_chars, 50);
        assert!(!format!("{config:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let parsed = serde_json::from_str::<VnpostAccountConfig>(
            r#"{"base_url":"http://localhost/vnpost","partner_id":"GW01","secret":"s","timeout":1}"#,
        );
        assert!(parsed.is_err());
    }
}
