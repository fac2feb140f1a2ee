//! `/healthz` (the process answers), `/readyz` (started, every part running, store reachable),
//! `/metrics`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Provider latency and the wait for a call permit as histograms (buckets from 5 ms to
        // 30 s), so they can be summed across gateways; group-commit sizes likewise.
        let latency_buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
        let batch_buckets = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("gateway_provider_request_seconds".into()),
                &latency_buckets,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("gateway_provider_permit_wait_seconds".into()),
                    &latency_buckets,
                )
            })
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Full("gateway_store_batch_units".into()), &batch_buckets)
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
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
