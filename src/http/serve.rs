//! The HTTP/1 listener: hyper with a header-read timeout (which `axum::serve` cannot set), a
//! timeout per request, and a graceful shutdown that lets requests in progress finish.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::task::JoinHandle;
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

/// Binds `listen` and serves `router` until `shutdown`; returns the bound address (port 0
/// picks one) and the server's task, which ends once the connections in progress have.
pub async fn serve_with(
    listen: &str,
    router: Router,
    shutdown: CancellationToken,
    timeouts: Timeouts,
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
            connections.spawn(async move {
                let mut builder = http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(timeouts.header_read);
                let connection = builder.serve_connection(TokioIo::new(stream), service);
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
            });
        }
        drop(listener);
        connections.close();
        connections.wait().await;
    });
    Ok((address, task))
}
