//! The gateway's HTTP side (axum): provider callbacks, health, readiness and metrics.

mod callbacks;
pub mod health;
pub mod serve;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::amqp::links::BrokerLinks;
use crate::providers::Adapters;
use crate::store::Store;
use crate::supervise::Readiness;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub adapters: Adapters,
    pub relay_wake: Arc<Notify>,
    /// Whether the gateway has started and which of its parts are down; `/readyz` reports it.
    pub readiness: Readiness,
    /// Whether the consumer and the relay are connected to RabbitMQ; `/readyz/orders` reports it.
    pub links: BrokerLinks,
    /// When a payment a callback marks pending is polled next.
    pub pending_poll_after_ms: u64,
    /// When a payment a callback sends to review is asked about again.
    pub review_inquiry_after_ms: u64,
    /// How long `/readyz` and a callback wait for the store ([`health::store_answer_within`]).
    pub store_answer_within: std::time::Duration,
}

/// The routes. Bodies above `max_body_bytes` are refused with 413 before any handler reads them.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/callbacks/{provider}", post(callbacks::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/readyz/orders", get(health::readyz_orders))
        .route("/metrics", get(health::metrics))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Binds `listen` and serves plain HTTP until `shutdown` without timeouts (the sandbox); returns the
/// bound address (port 0 picks one). The gateway itself uses [`serve::serve_with`].
pub async fn serve(
    listen: &str,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve::serve_with(listen, router, shutdown, serve::Timeouts::default(), None).await
}
