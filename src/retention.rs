//! The pruner: deletes published outbox rows and remembered callback ids past their
//! retention (`[retention]`), once at start-up and then every `prune_interval_ms`. The
//! least retention of callback ids is checked with the other settings (`Settings::validate`).
//! Beside it runs the vacuumer ([`crate::vacuum`]), for PostgreSQL servers without autovacuum.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::RetentionSettings;
use crate::store::{now_ms, PruneBefore, Store};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl RetentionSettings {
    /// The cut-off instants for a prune at `now_ms`.
    pub fn prune_before(&self, now_ms: i64) -> PruneBefore {
        PruneBefore {
            outbox_written_before_ms: now_ms - i64::from(self.outbox_published_days) * DAY_MS,
            callback_received_before_ms: now_ms - i64::from(self.callback_events_days) * DAY_MS,
        }
    }
}

/// Prunes (and vacuums, where the server does not) until `shutdown`.
pub async fn run(store: Store, settings: RetentionSettings, shutdown: CancellationToken) {
    let vacuum = crate::vacuum::run(store.clone(), settings.vacuum_interval_ms, shutdown.clone());
    tokio::join!(prune(store, &settings, shutdown), vacuum);
}

/// Prunes until `shutdown`. A failed prune is logged and tried again at the next interval.
async fn prune(store: Store, settings: &RetentionSettings, shutdown: CancellationToken) {
    if settings.prune_interval_ms == 0 {
        tracing::info!("Pruning is off (retention.prune_interval_ms = 0).");
        shutdown.cancelled().await;
        return;
    }
    loop {
        // A prune stops between chunks at shutdown: the pruner is stopped first, and a large
        // first prune (after an upgrade, or a week's rows) held the rest of the ordered stop.
        match store.prune(settings.prune_before(now_ms()), &shutdown).await {
            Ok(report) => {
                metrics::counter!("gateway_outbox_pruned_total").increment(report.outbox_rows);
                metrics::counter!("gateway_callback_events_pruned_total").increment(report.callback_events);
                if report.outbox_rows + report.callback_events > 0 {
                    tracing::info!(
                        outbox_rows = report.outbox_rows,
                        callback_events = report.callback_events,
                        "Pruned published outbox rows and callback ids past their retention."
                    );
                }
            }
            Err(error) => {
                tracing::warn!(%error, "Could not prune the store; it will try again at the next interval.");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(settings.prune_interval_ms)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_offs_are_the_retention_before_now() {
        let settings = RetentionSettings::default();
        let before = settings.prune_before(100 * DAY_MS);
        assert_eq!(before.outbox_written_before_ms, 93 * DAY_MS);
        assert_eq!(before.callback_received_before_ms, 65 * DAY_MS);
    }
}
