//! The HTTP/1 listener: hyper with a header-read timeout (which `axum::serve` cannot set), a
//! timeout per request, and a graceful shutdown that lets requests in progress finish;
//! optionally over TLS (`http.tls_cert_path` and `http.tls_key_path`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretSlice};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::timeout::TimeoutLayer;

use crate::config::HttpSettings;

/// How long a client may take, so that a slow or stalled one cannot hold a connection (and
/// a task) forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Until a request's headers are in; also how long a keep-alive connection may sit idle.
    /// `None` for no limit.
    pub header_read: Option<Duration>,
    /// One request from its headers to the response, body included; answered 408 after it.
    /// `None` for no limit (the sandbox holds answers on purpose to emulate timeouts).
    pub request: Option<Duration>,
}

impl Timeouts {
    /// The gateway's, from `[http]`.
    pub fn from_settings(settings: &HttpSettings) -> Self {
        Self {
            header_read: Some(Duration::from_millis(settings.header_read_timeout_ms.max(1))),
            request: Some(Duration::from_millis(settings.request_timeout_ms.max(1))),
        }
    }
}

impl Default for Timeouts {
    /// No limits: what `axum::serve` does, kept for the sandbox, whose clients are the
    /// gateway and tests on the same machine.
    fn default() -> Self {
        Self {
            header_read: None,
            request: None,
        }
    }
}

/// The listener's TLS: the certificate chain and key from `[http]`, for HTTP/1.1 only.
#[derive(Clone)]
pub struct Tls(TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(..)")
    }
}

impl Tls {
    /// `None` when `http.tls_cert_path` and `http.tls_key_path` are unset (plain HTTP). An
    /// unreadable or unusable file is an error naming its key and path, never its contents.
    pub fn from_settings(settings: &HttpSettings) -> anyhow::Result<Option<Self>> {
        const CERT: &str = "http.tls_cert_path";
        const KEY: &str = "http.tls_key_path";
        let (cert_path, key_path) = match (&settings.tls_cert_path, &settings.tls_key_path) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => anyhow::bail!("{CERT} is set but {KEY} is not: TLS needs both, or neither"),
            (None, Some(_)) => anyhow::bail!("{KEY} is set but {CERT} is not: TLS needs both, or neither"),
        };
        let key_pem = read(KEY, key_path)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.expose_secret()).map_err(|_| {
            anyhow::anyhow!(
                "{KEY} names {}, which holds no usable PEM private key",
                key_path.display()
            )
        })?;
        let cert_pem = read(CERT, cert_path)?;
        let chain = CertificateDer::pem_slice_iter(cert_pem.expose_secret())
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .filter(|chain| !chain.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{CERT} names {}, which holds no usable PEM certificate",
                    cert_path.display()
                )
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| anyhow::anyhow!("TLS for the HTTP listener could not be set up: {error}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| {
                anyhow::anyhow!(
                    "{KEY} ({}) and {CERT} ({}) cannot serve TLS together: {error}",
                    key_path.display(),
                    cert_path.display()
                )
            })?;
        // The listener speaks HTTP/1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Self(TlsAcceptor::from(Arc::new(config)))))
    }
}

/// A file's bytes, held as a secret (wiped when dropped, never printed).
fn read(key: &str, path: &Path) -> anyhow::Result<SecretSlice<u8>> {
    std::fs::read(path)
        .map(SecretSlice::from)
        .map_err(|error| anyhow::anyhow!("{key} names {}, which cannot be read: {error}", path.display()))
}

/// Binds `listen` and serves `router` until `shutdown`, over TLS when `tls` is given; returns
/// the bound address (port 0 picks one) and the server's task, which ends once the
/// connections in progress have.
pub async fn serve_with(
    listen: &str,
    router: Router,
    shutdown: CancellationToken,
    timeouts: Timeouts,
    tls: Option<Tls>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("could not listen on {listen}: {error}"))?;
    let address = listener.local_addr()?;
    let router = match timeouts.request {
        Some(limit) => router.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limit)),
        None => router,
    };
    let task = tokio::spawn(async move {
        let connections = TaskTracker::new();
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of file descriptors, most likely: wait instead of spinning.
                        tracing::warn!(%error, "Could not accept an HTTP connection.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let service = TowerToHyperService::new(router.clone());
            let shutdown = shutdown.clone();
            let tls = tls.clone();
            connections.spawn(async move {
                match tls {
                    None => serve_connection(stream, service, timeouts, shutdown).await,
                    Some(Tls(acceptor)) => {
                        if let Some(stream) = handshake(&acceptor, stream, timeouts, &shutdown).await {
                            serve_connection(stream, service, timeouts, shutdown).await;
                        }
                    }
                }
            });
        }
        drop(listener);
        connections.close();
        connections.wait().await;
    });
    Ok((address, task))
}

/// The TLS handshake of one connection, bounded by the header-read timeout (a client that
/// stalls in it holds no task forever) and given up at shutdown; `None` when it failed.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeouts: Timeouts,
    shutdown: &CancellationToken,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let accept = acceptor.accept(stream);
    let bounded = async {
        match timeouts.header_read {
            Some(limit) => tokio::time::timeout(limit, accept)
                .await
                .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut))),
            None => accept.await,
        }
    };
    let accepted = tokio::select! {
        accepted = bounded => accepted,
        _ = shutdown.cancelled() => return None,
    };
    match accepted {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::debug!(%error, "A TLS handshake on the HTTP listener failed.");
            None
        }
    }
}

/// Serves HTTP/1 on one connection until it ends; at shutdown, lets the request in progress
/// finish.
async fn serve_connection<I>(
    io: I,
    service: TowerToHyperService<Router>,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "An HTTP connection ended with an error.");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(cert: Option<&Path>, key: Option<&Path>) -> HttpSettings {
        HttpSettings {
            listen: "127.0.0.1:0".to_string(),
            max_body_bytes: 1024,
            request_timeout_ms: 1_000,
            header_read_timeout_ms: 1_000,
            tls_cert_path: cert.map(Path::to_path_buf),
            tls_key_path: key.map(Path::to_path_buf),
        }
    }

    /// A self-signed certificate and its key as PEM files.
    fn files() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        (dir, cert, key)
    }

    #[test]
    fn without_files_the_listener_is_plain_http() {
        assert!(Tls::from_settings(&settings(None, None)).unwrap().is_none());
    }

    #[test]
    fn a_certificate_and_its_key_make_a_tls_listener() {
        let (_dir, cert, key) = files();
        assert!(Tls::from_settings(&settings(Some(&cert), Some(&key)))
            .unwrap()
            .is_some());
    }

    #[test]
    fn an_unreadable_or_unusable_file_is_refused_by_its_key_without_quoting_it() {
        let (dir, cert, key) = files();
        let absent = dir.path().join("absent.key");
        let error = Tls::from_settings(&settings(Some(&cert), Some(&absent)))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("http.tls_key_path names ") && error.contains("absent.key"),
            "{error}"
        );
        // A key file that holds the certificate instead, and a certificate file that holds the key.
        let error = Tls::from_settings(&settings(Some(&cert), Some(&cert)))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("http.tls_key_path names ") && error.contains("no usable PEM private key"),
            "{error}"
        );
        let error = Tls::from_settings(&settings(Some(&key), Some(&key)))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("http.tls_cert_path names ") && error.contains("no usable PEM certificate"),
            "{error}"
        );
        for error in [
            Tls::from_settings(&settings(Some(&cert), Some(&cert)))
                .unwrap_err()
                .to_string(),
            Tls::from_settings(&settings(Some(&key), Some(&key)))
                .unwrap_err()
                .to_string(),
        ] {
            assert!(!error.contains("BEGIN") && !error.contains("PRIVATE KEY"), "{error}");
        }
    }
}
