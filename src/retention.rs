//! The pruner: deletes published outbox rows and remembered callback ids past their
//! retention (`[retention]`), once at start-up and then every `prune_interval_ms`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::RetentionSettings;
use crate::store::{now_ms, PruneBefore, Store};

/// The least `callback_events_days` accepted: the wallet providers keep a `requestId` (and
/// may repeat its IPN) for at least 31 days, and a forgotten id would be applied again.
pub const MIN_CALLBACK_EVENTS_DAYS: u32 = 31;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl RetentionSettings {
    /// Refuses a retention that would forget callback ids a provider may still replay.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.callback_events_days < MIN_CALLBACK_EVENTS_DAYS {
            anyhow::bail!(
                "retention.callback_events_days is {}, but callback ids must be kept at least {MIN_CALLBACK_EVENTS_DAYS} days \
                 (the providers' replay window); a replayed callback would otherwise be applied again",
                self.callback_events_days
            );
        }
        Ok(())
    }

    /// The cut-off instants for a prune at `now_ms`.
    pub fn prune_before(&self, now_ms: i64) -> PruneBefore {
        PruneBefore {
            outbox_published_before_ms: now_ms - i64::from(self.outbox_published_days) * DAY_MS,
            callback_received_before_ms: now_ms - i64::from(self.callback_events_days) * DAY_MS,
        }
    }
}

/// Prunes until `shutdown`. A failed prune is logged and tried again at the next interval.
pub async fn run(store: Store, settings: RetentionSettings, shutdown: CancellationToken) {
    if settings.prune_interval_ms == 0 {
        tracing::info!("Pruning is off (retention.prune_interval_ms = 0).");
        shutdown.cancelled().await;
        return;
    }
    loop {
        match store.prune(settings.prune_before(now_ms())).await {
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
    fn a_callback_retention_shorter_than_the_replay_window_is_refused() {
        let mut settings = RetentionSettings::default();
        assert!(settings.check().is_ok());
        settings.callback_events_days = 30;
        let error = settings.check().expect_err("30 days is too short");
        assert!(error.to_string().contains("callback_events_days"));
    }

    #[test]
    fn cut_offs_are_the_retention_before_now() {
        let settings = RetentionSettings::default();
        let before = settings.prune_before(100 * DAY_MS);
        assert_eq!(before.outbox_published_before_ms, 93 * DAY_MS);
        assert_eq!(before.callback_received_before_ms, 65 * DAY_MS);
    }
}
