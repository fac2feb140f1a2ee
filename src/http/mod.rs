//! The gateway's HTTP side (axum): provider callbacks, health, readiness and metrics.

mod callbacks;
pub mod health;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::providers::Adapters;
use crate::store::Store;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub adapters: Adapters,
    pub relay_wake: Arc<Notify>,
    /// Set once the consumer and relay have started; `/readyz` reports it.
    pub started: Arc<AtomicBool>,
    /// When a payment a callback marks pending is polled next.
    pub pending_poll_after_ms: u64,
}

/// The routes. Bodies above `max_body_bytes` are refused with 413 before any handler reads them.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/callbacks/{provider}", post(callbacks::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Binds `listen` and serves until `shutdown`; returns the bound address (port 0 picks one).
pub async fn serve(
    listen: &str,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("could not listen on {listen}: {error}"))?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(error) = server.await {
            tracing::error!(%error, "The HTTP server stopped with an error.");
        }
    });
    Ok((address, task))
}
