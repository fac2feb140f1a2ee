//! Configuration of the mobile-money adapter: one `[providers.<provider key>]` section per
//! wallet provider (`viettel_money`, `vnpt_money`, `mobifone_money`), all of this shape.
//! The secret is a `SecretString` that never prints.

use provider_http::HttpConfig;
use secrecy::SecretString;
use serde::Deserialize;

/// How to reach one wallet provider's disbursement API and check its IPN callbacks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileMoneyConfig {
    /// The provider API's base URL without a trailing slash, e.g.
    /// `https://api.wallet.example` or, for the sandbox, `http://127.0.0.1:8090/viettel_money`;
    /// request paths (`/v2/disbursement/pay`) are appended to it.
    pub base_url: String,
    /// Our partner code at this provider (`partnerCode` in every request and callback).
    pub partner_code: String,
    /// The shared HMAC-SHA256 key that signs requests and that the provider signs its answers
    /// and IPN callbacks with.
    pub secret_key: SecretString,
    /// The gateway's callback route for this provider, sent as `ipnUrl` with every
    /// disbursement, e.g. `http://127.0.0.1:8080/callbacks/viettel_money`.
    pub ipn_url: String,
    /// How long one HTTP call may take. A disbursement that times out is an unknown outcome,
    /// so this should stay well above the provider's normal answer time.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How far an IPN's `responseTime` may be from our clock before it is refused as stale
    /// (replay protection).
    #[serde(default = "default_callback_tolerance_secs")]
    pub callback_tolerance_secs: i64,
    /// The longest `orderInfo` the provider accepts.
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

/// True for an absolute `http://` or `https://` URL with something after the scheme.
pub(crate) fn is_http_url(url: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|scheme| url.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_the_optional_fields_and_the_secret_never_prints() {
        let config: MobileMoneyConfig = serde_json::from_str(
            r#"{"base_url":"http://localhost/wallet/viettel_money","partner_code":"GW",
                "secret_key":"very-secret-key","ipn_url":"http://localhost/callbacks/viettel_money"}"#,
        )
        .expect("valid config");
        assert_eq!(config.timeout_ms, 5_000);
        assert_eq!(config.callback_tolerance_secs, 300);
        assert_eq!(config.memo_max_chars, 50);
        assert!(!format!("{config:?}").contains("very-secret-key"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let result = serde_json::from_str::<MobileMoneyConfig>(
            r#"{"base_url":"http://localhost","partner_code":"GW","secret_key":"k",
                "ipn_url":"http://localhost/cb","ipn_path":"/cb"}"#,
        );
        assert!(result.is_err());
    }

    #[test]
    fn only_absolute_http_urls_pass() {
        assert!(is_http_url("http://127.0.0.1:8080/callbacks/viettel_money"));
        assert!(is_http_url("https://api.example"));
        assert!(!is_http_url("ftp://api.example"));
        assert!(!is_http_url("http://"));
        assert!(!is_http_url("/callbacks/viettel_money"));
    }
}
