//! `/healthz` (the process answers), `/readyz` (started, every part running, store reachable),
//! `/metrics`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be set (tests start several gateways): keep it.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 `ready` when the gateway has started, no supervised part (consumer, dispatcher,
/// relay) is down and the store answers; otherwise 503 with a sentence naming what is not.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(why) = state.readiness.verdict() {
        return (StatusCode::SERVICE_UNAVAILABLE, why);
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer".to_string()),
    }
}

pub async fn metrics() -> String {
    metrics_handle().render()
}
