//! `/healthz` (the process answers), `/readyz` (started, every part running, store reachable),
//! `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
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
        keep_up(handle.clone());
        handle
    })
}

/// How often the recorder's histogram samples are folded into their buckets and quantiles.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How many upkeeps ran since the process started.
static UPKEEPS: AtomicU64 = AtomicU64::new(0);

/// Runs the recorder's upkeep every [`UPKEEP_INTERVAL`], on a thread of its own for the rest
/// of the process. A recorder built this way (not installed with its own HTTP listener) keeps
/// every histogram sample until a scrape renders them or an upkeep runs: a gateway nobody
/// scraped held each provider call's, each relay round's and each commit's samples — tens a
/// second while idle — for as long as it ran.
fn keep_up(handle: PrometheusHandle) {
    let upkeep = move || loop {
        std::thread::sleep(UPKEEP_INTERVAL);
        handle.run_upkeep();
        UPKEEPS.fetch_add(1, Ordering::Relaxed);
    };
    if let Err(error) = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(upkeep) {
        tracing::error!(%error, "Could not start the metrics' upkeep; histogram samples gather until /metrics is scraped.");
    }
}

/// How many times the recorder's upkeep has run in this process.
pub fn upkeeps() -> u64 {
    UPKEEPS.load(Ordering::Relaxed)
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 `ready` when the gateway has started, no supervised part (consumer, dispatcher,
/// relay) is down and the store answers; otherwise 503 with a sentence naming what is not.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    answer(ready(&state).await)
}

/// `/readyz`, and the orders side too: 200 `ready` when, besides, the orders consumer consumes
/// and the outbox relay is connected to RabbitMQ; otherwise 503 with a sentence naming what is
/// not. `/readyz` does not fail with the broker — callbacks are taken without it, and a wallet
/// sends its callback once — so a load balancer in front of the callbacks reads `/readyz`, and
/// whoever watches the payouts reads this.
pub async fn readyz_orders(State(state): State<AppState>) -> (StatusCode, String) {
    let verdict = match ready(&state).await {
        Ok(()) => state.links.verdict(),
        not_ready => not_ready,
    };
    answer(verdict)
}

/// How long a handler waits for the store's answer: three quarters of the listener's request
/// timeout (`http.request_timeout_ms`), so that its own answer still goes out. A store that is
/// gone (PostgreSQL down, its address refusing connections) is not an error at once: the pool
/// tries again for a connection for up to 30 s, past the request timeout, and `/readyz` and
/// the dashboard got a 408 with no body instead of their 503 with its sentence. A store that is
/// only slow (a long read ahead on SQLite's one reader connection) still answers in time.
pub fn store_answer_within(request_timeout_ms: u64) -> Duration {
    Duration::from_millis((request_timeout_ms.saturating_mul(3) / 4).max(1))
}

/// `read` of the store, as an error ([`sqlx::Error::PoolTimedOut`]) once `within` has passed
/// without its answer (see [`store_answer_within`]).
pub async fn store_read_within<T>(
    within: Duration,
    read: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    tokio::time::timeout(within, read)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

async fn ready(state: &AppState) -> Result<(), String> {
    state.readiness.verdict()?;
    store_read_within(state.store_answer_within, state.store.ping())
        .await
        .map_err(|_| "the store does not answer".to_string())
}

fn answer(verdict: Result<(), String>) -> (StatusCode, String) {
    match verdict {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

pub async fn metrics() -> String {
    metrics_handle().render()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without an upkeep, the recorder kept every histogram sample of a gateway that nobody
    /// scraped, for as long as it ran.
    #[test]
    fn the_recorder_is_kept_up_without_a_scrape() {
        metrics_handle();
        let before = upkeeps();
        let deadline = std::time::Instant::now() + UPKEEP_INTERVAL * 3;
        while upkeeps() == before {
            assert!(
                std::time::Instant::now() < deadline,
                "an upkeep within {UPKEEP_INTERVAL:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
