//! Builds the `reqwest` client of one provider: rustls, keep-alive pool, timeouts, the
//! mutual-TLS identity and CA read from PEM files, and no redirects followed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretSlice};

use crate::settings::{ClientSettings, TlsFiles};

/// How long an idle keep-alive connection is kept; below the 120 s many load balancers use,
/// so we never send on a connection the other side is about to close.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// TCP keep-alive probes on idle pooled connections, so a dead peer is noticed before use.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Why a provider's HTTP client could not be built, naming the config key at fault
/// (`providers.<provider key>.<key>`). Never quotes a file's contents.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("providers.{provider}.base_url is not a valid http(s) URL")]
    BadBaseUrl { provider: String },
    #[error("providers.{provider}.{key} names {}, which cannot be read: {source}", path.display())]
    Unreadable {
        provider: String,
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("providers.{provider}.{key} names {}, which holds no usable PEM {what}", path.display())]
    BadPem {
        provider: String,
        key: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error(
        "providers.{provider}.{given} is set but providers.{provider}.{missing} is not: a client \
         certificate needs its private key, and the key its certificate"
    )]
    HalfIdentity {
        provider: String,
        given: &'static str,
        missing: &'static str,
    },
    #[error(
        "providers.{provider}.{key} is set but providers.{provider}.base_url is http://, which never uses \
         TLS: the file would be ignored and payouts sent in clear text; make base_url https:// or remove \
         the TLS keys"
    )]
    TlsOverPlainHttp { provider: String, key: &'static str },
    #[error("the HTTP client for providers.{provider} could not be built: {source}")]
    Build { provider: String, source: reqwest::Error },
}

/// The client for `provider` (its key, for error messages).
pub fn build_client(provider: &str, settings: &ClientSettings) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(settings.timeout)
        .connect_timeout(connect_timeout(settings))
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_keepalive(TCP_KEEPALIVE)
        // A redirect is answered, never followed: following a 307 would send the signed payout
        // (personal data and all) to wherever `Location` points, and following a 303 would take
        // another resource's answer for the submit's. A 3xx is a transient answer
        // (`classify_status`), so a misdirected provider ends in an inquiry and review.
        .redirect(reqwest::redirect::Policy::none())
        // Public roots stay trusted next to a custom CA, as reqwest does by default.
        .tls_built_in_root_certs(true);
    if let Some(identity) = identity(provider, &settings.tls)? {
        builder = builder.identity(identity);
    }
    for certificate in custom_ca(provider, &settings.tls)? {
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|source| ClientError::Build {
        provider: provider.to_string(),
        source,
    })
}

/// Refuses TLS files for a plain-HTTP `base_url`: reqwest would build the client and simply
/// never use them, sending account numbers in clear text to a provider that was meant to
/// authenticate us (client certificate) or be authenticated (private CA), while the
/// configuration says mutual TLS is on. Checked before any file is read, so the operator is
/// told of the scheme first.
pub fn refuse_tls_over_plain_http(provider: &str, base_url: &reqwest::Url, tls: &TlsFiles) -> Result<(), ClientError> {
    if base_url.scheme() != "http" {
        return Ok(());
    }
    let configured = [
        ("tls_client_cert_path", &tls.client_cert_path),
        ("tls_client_key_path", &tls.client_key_path),
        ("tls_ca_path", &tls.ca_path),
    ]
    .into_iter()
    .find_map(|(key, path)| path.is_some().then_some(key));
    match configured {
        Some(key) => Err(ClientError::TlsOverPlainHttp {
            provider: provider.to_string(),
            key,
        }),
        None => Ok(()),
    }
}

/// How long connecting (TCP and TLS handshake) may take: `connect_timeout`, but never more
/// than three quarters of the whole-call `timeout`.
///
/// Only the connect timer's error says "nothing was sent" (`TransportFailure::Connect`,
/// transient `provider_unreachable`, safe to retry). If the whole-call timer fires first, a
/// stalled connect or handshake is a plain timeout, which on a submit is an unknown outcome
/// (inquiries, then manual review) though no byte of the payout left. The whole-call timer
/// starts with the call and the connect timer a moment later, after the pool checkout, so the
/// connect timer must be set strictly shorter, with room for that moment and for the
/// scheduler: a quarter of the call (500 ms of the 2 s default). A fraction, unlike a fixed
/// margin, still leaves a connect phase when `timeout` is short. With the shipped defaults
/// (`connect_timeout_ms` 3000, `timeout_ms` 2000) connecting may take 1.5 s.
fn connect_timeout(settings: &ClientSettings) -> Duration {
    settings.connect_timeout.min(settings.timeout / 4 * 3)
}

/// Our client certificate and key, if configured; both or neither.
fn identity(provider: &str, tls: &TlsFiles) -> Result<Option<reqwest::Identity>, ClientError> {
    const CERT: &str = "tls_client_cert_path";
    const KEY: &str = "tls_client_key_path";
    let (cert_path, key_path) = match (&tls.client_cert_path, &tls.client_key_path) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => return Err(half(provider, CERT, KEY)),
        (None, Some(_)) => return Err(half(provider, KEY, CERT)),
    };
    let key = read(provider, KEY, key_path)?;
    let cert = read(provider, CERT, cert_path)?;
    // reqwest wants key and chain in one PEM buffer; it holds key bytes, so it is a secret too.
    let mut pem = key.expose_secret().to_vec();
    pem.push(b'\n');
    pem.extend_from_slice(cert.expose_secret());
    let pem = SecretSlice::from(pem);
    reqwest::Identity::from_pem(pem.expose_secret())
        .map(Some)
        .map_err(|_| ClientError::BadPem {
            provider: provider.to_string(),
            key: KEY,
            path: key_path.clone(),
            what: "private key matching the certificate in tls_client_cert_path",
        })
}

/// The CA certificates in `tls_ca_path`, if configured.
fn custom_ca(provider: &str, tls: &TlsFiles) -> Result<Vec<reqwest::Certificate>, ClientError> {
    const CA: &str = "tls_ca_path";
    let Some(path) = &tls.ca_path else {
        return Ok(Vec::new());
    };
    let pem = read(provider, CA, path)?;
    match reqwest::Certificate::from_pem_bundle(pem.expose_secret()) {
        Ok(certificates) if !certificates.is_empty() => Ok(certificates),
        _ => Err(ClientError::BadPem {
            provider: provider.to_string(),
            key: CA,
            path: path.clone(),
            what: "CA certificate",
        }),
    }
}

/// A file's bytes, held as a secret (wiped when dropped, never printed).
fn read(provider: &str, key: &'static str, path: &Path) -> Result<SecretSlice<u8>, ClientError> {
    std::fs::read(path)
        .map(SecretSlice::from)
        .map_err(|source| ClientError::Unreadable {
            provider: provider.to_string(),
            key,
            path: path.to_path_buf(),
            source,
        })
}

fn half(provider: &str, given: &'static str, missing: &'static str) -> ClientError {
    ClientError::HalfIdentity {
        provider: provider.to_string(),
        given,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(tls: TlsFiles) -> ClientSettings {
        ClientSettings {
            tls,
            ..ClientSettings::with_timeout_ms(1_000)
        }
    }

    #[test]
    fn the_connect_phase_always_ends_a_quarter_of_the_call_before_the_whole_call_timeout() {
        let connect = |connect_ms: u64, timeout_ms: u64| {
            connect_timeout(&ClientSettings {
                connect_timeout: Duration::from_millis(connect_ms),
                ..ClientSettings::with_timeout_ms(timeout_ms)
            })
        };
        assert_eq!(
            connect(3_000, 2_000),
            Duration::from_millis(1_500),
            "the shipped defaults"
        );
        assert_eq!(connect(2_000, 2_000), Duration::from_millis(1_500));
        assert_eq!(connect(500, 2_000), Duration::from_millis(500), "a shorter one is kept");
        assert_eq!(connect(3_000, 10), Duration::from_micros(7_500));
    }

    #[test]
    fn a_client_without_tls_files_builds() {
        assert!(build_client("bank_transfer", &settings(TlsFiles::default())).is_ok());
    }

    #[test]
    fn a_missing_key_file_is_a_config_error_naming_its_key() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, "not used").expect("writable");
        let error = build_client(
            "bank_transfer",
            &settings(TlsFiles {
                client_cert_path: Some(cert),
                client_key_path: Some(dir.path().join("missing-key.pem")),
                ca_path: None,
            }),
        )
        .expect_err("refused");
        let text = error.to_string();
        assert!(
            text.starts_with("providers.bank_transfer.tls_client_key_path names ") && text.contains("missing-key.pem"),
            "{text}"
        );
    }

    #[test]
    fn a_certificate_without_its_key_is_refused_by_name() {
        let error = build_client(
            "vnpost_account",
            &settings(TlsFiles {
                client_cert_path: Some("client.pem".into()),
                ..TlsFiles::default()
            }),
        )
        .expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("tls_client_cert_path is set but providers.vnpost_account.tls_client_key_path"),
            "{error}"
        );
    }

    #[test]
    fn key_material_is_never_quoted_in_errors() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("writable");
        std::fs::write(&key, "SECRET-KEY-MATERIAL").expect("writable");
        let error = build_client(
            "viettel_money",
            &settings(TlsFiles {
                client_cert_path: Some(cert),
                client_key_path: Some(key),
                ca_path: None,
            }),
        )
        .expect_err("refused");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("SECRET-KEY-MATERIAL"), "{text}");
        assert!(text.contains("tls_client_key_path"), "{text}");
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "nothing here").expect("writable");
        let error = build_client(
            "bank_transfer",
            &settings(TlsFiles {
                ca_path: Some(ca),
                ..TlsFiles::default()
            }),
        )
        .expect_err("refused");
        assert!(
            error.to_string().contains("providers.bank_transfer.tls_ca_path"),
            "{error}"
        );
    }
}
