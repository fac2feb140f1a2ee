//! The vacuumer: on a PostgreSQL server whose `autovacuum` is off, vacuums the gateway's busy
//! tables every `retention.vacuum_interval_ms`. Every state change leaves a dead row version
//! behind; unvacuumed, the leases step over more of them with every order paid (measured: a
//! province run fell from about 330 to under 100 orders/s, and came back after one VACUUM).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Runs until `shutdown` (SQLite: returns at once; an interval of 0: never vacuums). The
/// server's setting is read again before each vacuum, so a store unreachable at start-up, or
/// autovacuum switched off later, still gets vacuumed. A vacuum in progress at shutdown is
/// abandoned (the server rolls it back; nothing it does matters to a payment).
pub async fn run(store: Store, interval_ms: u64, shutdown: CancellationToken) {
    if interval_ms == 0 || store.backend() != crate::store::Backend::Postgres {
        return;
    }
    let mut warned = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            vacuumed = vacuum_if_needed(&store, &mut warned, interval_ms) => {
                if let Err(error) = vacuumed {
                    tracing::warn!(%error, "Could not vacuum the store; it will try again at the next interval.");
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(interval_ms)) => {}
        }
    }
}

/// Vacuums when the server does not; warns the first time it finds that so.
async fn vacuum_if_needed(store: &Store, warned: &mut bool, interval_ms: u64) -> Result<(), sqlx::Error> {
    if !store.needs_own_vacuum().await? {
        return Ok(());
    }
    if !*warned {
        *warned = true;
        tracing::warn!(
            interval_ms,
            "PostgreSQL's autovacuum is off on this server: the gateway vacuums its own tables \
             every retention.vacuum_interval_ms. Turning autovacuum on is better."
        );
    }
    store.vacuum_busy_tables().await?;
    metrics::counter!("gateway_store_vacuums_total").increment(1);
    Ok(())
}
