//! Configuration of one bank's adapter (`[providers.bank_transfer]`, or another bank's section
//! with `type = "bank_transfer"`); secrets are `SecretString`s that never print.

use provider_http::HttpConfig;
use secrecy::SecretString;
use serde::Deserialize;

/// How to reach and authenticate with the sponsor bank, and how to check its callbacks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankTransferConfig {
    /// The bank API's base URL without a trailing slash, e.g. `https://api.bank.example/bank`;
    /// request paths (`/v1/transfers`) are appended to it and signed without it.
    pub base_url: String,
    /// Our client id at the bank, sent as `X-Client-Id`.
    pub client_id: String,
    /// The shared secret that signs every request (`X-Signature`).
    pub request_secret: SecretString,
    /// The bank's webhook signing secrets, `whsec_<base64>`. Several are accepted at once so
    /// a secret can be rotated without refusing callbacks signed with the old one.
    /// A list, or one string of secrets separated by commas or line breaks (so they can come
    /// from `GATEWAY__PROVIDERS__<KEY>__WEBHOOK_SECRETS` or a `webhook_secrets_file`).
    #[serde(deserialize_with = "provider_http::registry::secret_list")]
    pub webhook_secrets: Vec<SecretString>,
    /// How long one HTTP call may take. A submit that times out is an unknown outcome, so
    /// this should stay well above the bank's normal answer time.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How far a callback's `webhook-timestamp` may be from our clock before it is refused
    /// as stale (replay protection).
    #[serde(default = "default_webhook_tolerance_secs")]
    pub webhook_tolerance_secs: i64,
    /// The longest transfer description the bank accepts; NAPAS memos are 25 characters,
    /// some banks allow fewer.
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

fn default_webhook_tolerance_secs() -> i64 {
    300
}

fn default_memo_max_chars() -> usize {
    25
}

/// Why the adapter or the sandbox could not be built: the error every provider crate shares.
pub use provider_http::ConfigError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_the_optional_fields() {
        let config: BankTransferConfig = serde_json::from_str(
            r#"{"base_url":"http://localhost/bank","client_id":"gw","request_secret":"s",
                "webhook_secrets":["whsec_c2VjcmV0"]}"#,
        )
        .expect("valid config");
        assert_eq!(config.timeout_ms, 5_000);
        assert_eq!(config.webhook_tolerance_secs, 300);
        assert_eq!(config.memo_max_chars, 25);
        assert_eq!(config.http, provider_http::HttpConfig::default());
        assert!(!format!("{config:?}").contains("whsec_c2VjcmV0"));
    }

    #[test]
    fn the_mutual_tls_keys_sit_flat_in_the_section_and_unknown_keys_are_still_refused() {
        let section = r#"{"base_url":"https://bank.example","client_id":"gw","request_secret":"s",
            "webhook_secrets":["whsec_c2VjcmV0"],"tls_client_cert_path":"/etc/gateway/bank.crt",
            "tls_client_key_path":"/run/secrets/bank.key","tls_ca_path":"/etc/gateway/bank-ca.pem",
            "pool_max_idle_per_host":32}"#;
        let config: BankTransferConfig = serde_json::from_str(section).expect("valid config");
        let tls = config.http.client_settings(config.timeout_ms).tls;
        assert_eq!(
            tls.client_key_path.as_deref(),
            Some(std::path::Path::new("/run/secrets/bank.key"))
        );
        assert_eq!(
            tls.ca_path.as_deref(),
            Some(std::path::Path::new("/etc/gateway/bank-ca.pem"))
        );
        assert_eq!(config.http.pool_max_idle_per_host, Some(32));
        let misspelt = section.replace("tls_ca_path", "tls_ca_file");
        assert!(serde_json::from_str::<BankTransferConfig>(&misspelt).is_err());
    }
}
