//! How the runner's HTTP client is built for one provider: timeouts, keep-alive pool, the
//! longest `Retry-After` honoured, and the mutual-TLS files. [`HttpConfig`] is the part of
//! every `[providers.<key>]` section that says so (flattened into it: the keys sit next to
//! the adapter's own); [`ClientSettings`] is what the runner is built from.

use std::path::PathBuf;
use std::time::Duration;

use gateway_adapter::protection::ProtectionConfig;
use serde::Deserialize;

/// The HTTP keys every provider section has, besides the adapter's own `timeout_ms`. Adapters
/// hold it as `#[serde(flatten)] pub http: HttpConfig`, so the keys are written flat:
/// `[providers.bank_transfer] tls_ca_path = "…"`. Every key has a default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// How long connecting (TCP and TLS handshake) may take. A connect that fails sent
    /// nothing, so it is retried safely, and a provider that does not accept a connection in
    /// this time is down: waiting the whole `timeout_ms` for it only delays the retry. The
    /// client uses at most three quarters of `timeout_ms` whatever this says, so a stalled
    /// connect is always told from a call that may have been sent (see `client`).
    pub connect_timeout_ms: u64,
    /// Idle keep-alive connections kept to the provider. Unset, the gateway makes it as many
    /// as the calls it runs at once to the provider (`dispatcher.provider_concurrency`), so a
    /// busy provider does not cost a TCP and TLS handshake per call; a smaller pool closes
    /// the connections above it after every call.
    pub pool_max_idle_per_host: Option<usize>,
    /// The longest `Retry-After` honoured; a provider asking for more is waited on this long,
    /// so one answer cannot park our payments for a day.
    pub retry_after_max_ms: u64,
    /// Our client certificate (PEM, leaf first), for a provider that requires mutual TLS. Set
    /// together with `tls_client_key_path`.
    pub tls_client_cert_path: Option<PathBuf>,
    /// The private key of that certificate (PEM: PKCS#8, PKCS#1 or SEC1). A secret: read from
    /// this file when the adapter is built, never logged; the file, not the config, holds it.
    pub tls_client_key_path: Option<PathBuf>,
    /// A CA (PEM, one or more certificates) to trust for the provider's server certificate,
    /// next to the public roots: banks often serve their API under a private CA.
    pub tls_ca_path: Option<PathBuf>,
    /// The provider's rate limit and circuit breaker, as the nested table
    /// `[providers.<key>.protection]` (keys in `gateway_adapter::protection::ProtectionConfig`).
    /// Without the table the provider is sent to unguarded, as before protection existed.
    pub protection: Option<ProtectionConfig>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: defaults::connect_timeout_ms(),
            pool_max_idle_per_host: None,
            retry_after_max_ms: defaults::retry_after_max_ms(),
            tls_client_cert_path: None,
            tls_client_key_path: None,
            tls_ca_path: None,
            protection: None,
        }
    }
}

impl HttpConfig {
    /// The runner's settings, with the adapter's whole-call `timeout_ms`.
    pub fn client_settings(&self, timeout_ms: u64) -> ClientSettings {
        ClientSettings {
            timeout: Duration::from_millis(timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            pool_max_idle_per_host: self
                .pool_max_idle_per_host
                .unwrap_or_else(defaults::pool_max_idle_per_host),
            retry_after_max: Duration::from_millis(self.retry_after_max_ms),
            tls: TlsFiles {
                client_cert_path: self.tls_client_cert_path.clone(),
                client_key_path: self.tls_client_key_path.clone(),
                ca_path: self.tls_ca_path.clone(),
            },
            protection: self.protection.clone(),
        }
    }
}

/// The HTTP client settings of one provider.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSettings {
    /// The whole call, connect to last byte of the answer (`timeout_ms`). A submit that runs
    /// out of it is an unknown outcome, so it stays well above the provider's answer time.
    pub timeout: Duration,
    /// Connecting alone (TCP and TLS handshake, `connect_timeout_ms`), as configured; the
    /// client cuts it to three quarters of `timeout`, so the connect timer always fires
    /// before the whole-call one. A connect that fails sent nothing, so it is safely retried.
    pub connect_timeout: Duration,
    /// Idle keep-alive connections kept per provider host (`pool_max_idle_per_host`): as
    /// many as the calls the gateway runs at once to that provider, so a busy provider does
    /// not pay a TCP and TLS handshake per payout.
    pub pool_max_idle_per_host: usize,
    /// The longest `Retry-After` honoured (`retry_after_max_ms`); a longer one is cut to it.
    pub retry_after_max: Duration,
    /// Client certificate, key and custom CA, for providers that require mutual TLS.
    pub tls: TlsFiles,
    /// The provider's rate limit and circuit breaker; `None` sends unguarded.
    pub protection: Option<ProtectionConfig>,
}

impl ClientSettings {
    /// Settings with every default, for `timeout_ms` and no TLS files.
    pub fn with_timeout_ms(timeout_ms: u64) -> Self {
        HttpConfig::default().client_settings(timeout_ms)
    }
}

/// PEM files for mutual TLS. The key file is a secret: it is read once when the client is
/// built, never logged, and a missing or unreadable file is a config error naming its key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// Our client certificate chain, leaf first (`tls_client_cert_path`).
    pub client_cert_path: Option<PathBuf>,
    /// The private key of that certificate, PKCS#8, PKCS#1 or SEC1 (`tls_client_key_path`).
    pub client_key_path: Option<PathBuf>,
    /// One or more CA certificates to trust for this provider besides the public roots
    /// (`tls_ca_path`): banks often serve their API with a private CA.
    pub ca_path: Option<PathBuf>,
}

/// Defaults of the [`HttpConfig`] keys.
pub mod defaults {
    /// `connect_timeout_ms`: a provider that does not accept a connection in 3 s is down (cut
    /// to three quarters of `timeout_ms` when that is shorter: 1.5 s with the 2 s default).
    pub fn connect_timeout_ms() -> u64 {
        3_000
    }

    /// `pool_max_idle_per_host` when the gateway has not sized it: its default
    /// `provider_concurrency`.
    pub fn pool_max_idle_per_host() -> usize {
        16
    }

    /// `retry_after_max_ms`: five minutes.
    pub fn retry_after_max_ms() -> u64 {
        300_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_default() {
        let config: HttpConfig = serde_json::from_str("{}").expect("an empty section loads");
        assert_eq!(config, HttpConfig::default());
        let settings = config.client_settings(2_000);
        assert_eq!(settings.timeout, Duration::from_secs(2));
        assert_eq!(settings.connect_timeout, Duration::from_secs(3));
        assert_eq!(settings.pool_max_idle_per_host, 16);
        assert_eq!(settings.tls, TlsFiles::default());
        assert_eq!(settings.protection, None);
    }

    #[test]
    fn protection_is_a_nested_table() {
        let config: HttpConfig =
            serde_json::from_str(r#"{"protection": {"rate_limit_per_second": 20}}"#).expect("loads");
        let protection = config.protection.expect("a protection table");
        assert_eq!(protection.rate_limit_per_second, Some(20));
        assert_eq!(protection.breaker_consecutive_failures, 5);
    }
}
