//! The vacuumer: on a PostgreSQL server whose `autovacuum` is off, vacuums the gateway's busy
//! tables every `retention.vacuum_interval_ms`. Every state change leaves a dead row version
//! behind; unvacuumed, the leases step over more of them with every order paid (measured: a
//! province run fell from about 330 to under 100 orders/s, and came back after one VACUUM).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Runs until `shutdown`; returns at once when there is nothing to do (SQLite, autovacuum on,
/// or an interval of 0). A failed vacuum is logged and tried again at the next interval.
pub async fn run(store: Store, interval_ms: u64, shutdown: CancellationToken) {
    if interval_ms == 0 {
        return;
    }
    match store.needs_own_vacuum().await {
        Ok(true) => tracing::warn!(
            interval_ms,
            "PostgreSQL's autovacuum is off on this server: the gateway vacuums its own tables \
             every retention.vacuum_interval_ms. Turning autovacuum on is better."
        ),
        Ok(false) => return,
        Err(error) => {
            tracing::warn!(%error, "Could not read PostgreSQL's autovacuum setting; the gateway does not vacuum.");
            return;
        }
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(interval_ms)) => {}
        }
        match store.vacuum_busy_tables().await {
            Ok(()) => metrics::counter!("gateway_store_vacuums_total").increment(1),
            Err(error) => tracing::warn!(%error, "Could not vacuum the store; it will try again at the next interval."),
        }
    }
}
