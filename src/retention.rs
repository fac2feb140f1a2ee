//! The pruner: deletes published outbox rows and remembered callback ids past their
//! retention (`[retention]`), once at start-up and then every `prune_interval_ms`. The
//! least retention of callback ids is checked with the other settings (`Settings::validate`).
//! Each prune goes through the outbox rows written since the last one's cut-off; the first,
//! and then one a day, through all of them (see [`OutboxWalks`]).
//! Beside it runs the vacuumer ([`crate::vacuum`]), for PostgreSQL servers without autovacuum.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::RetentionSettings;
use crate::store::{now_ms, OutboxWalk, PruneBefore, Store};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How often a prune goes through the whole outbox again, for the rows that became deletable
/// after an earlier prune passed them (a parked row sent since, a payment in review that got
/// a later result): each payment's latest result is kept for good, so a walk over everything
/// passes one row per payment ever paid, which an hourly prune need not do.
const WALK_EVERYTHING_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Which outbox rows the next prune goes through.
#[derive(Debug, Default)]
struct OutboxWalks {
    /// The cut-off of the last prune that finished (rows before it were gone through).
    finished_below_ms: Option<i64>,
    /// When the last walk over everything started.
    last_everything: Option<Instant>,
}

impl OutboxWalks {
    fn next(&self, now: Instant) -> OutboxWalk {
        match (self.finished_below_ms, self.last_everything) {
            (Some(from), Some(last)) if now.duration_since(last) < WALK_EVERYTHING_EVERY => OutboxWalk::From(from),
            _ => OutboxWalk::Everything,
        }
    }

    /// `walk`, started at `started` with cut-off `below_ms`, finished: the next starts there.
    /// (One that failed is not told: the next goes through its rows again.)
    fn finished(&mut self, walk: OutboxWalk, started: Instant, below_ms: i64) {
        self.finished_below_ms = Some(below_ms);
        if walk == OutboxWalk::Everything {
            self.last_everything = Some(started);
        }
    }
}

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
    let mut walks = OutboxWalks::default();
    loop {
        let started = Instant::now();
        let before = settings.prune_before(now_ms());
        let walk = walks.next(started);
        // A prune stops between chunks at shutdown: the pruner is stopped first, and a large
        // first prune (after an upgrade, or a week's rows) held the rest of the ordered stop.
        match store.prune(before, walk, &shutdown).await {
            Ok(report) => {
                // (One cut short by a shutdown is told too: nothing runs after it.)
                walks.finished(walk, started, before.outbox_written_before_ms);
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

    #[test]
    fn a_prune_goes_on_from_the_last_cut_off_and_through_everything_once_a_day() {
        let start = Instant::now();
        let mut walks = OutboxWalks::default();
        assert_eq!(walks.next(start), OutboxWalk::Everything, "the first");
        walks.finished(OutboxWalk::Everything, start, 1_000);
        let hour = Duration::from_secs(3_600);
        assert_eq!(walks.next(start + hour), OutboxWalk::From(1_000));
        walks.finished(OutboxWalk::From(1_000), start + hour, 2_000);
        assert_eq!(
            walks.next(start + 2 * hour),
            OutboxWalk::From(2_000),
            "from the last cut-off"
        );
        // A prune that failed is not told: the next goes through its rows again.
        assert_eq!(walks.next(start + 3 * hour), OutboxWalk::From(2_000));
        assert_eq!(
            walks.next(start + WALK_EVERYTHING_EVERY),
            OutboxWalk::Everything,
            "a day after the last walk over everything"
        );
        walks.finished(OutboxWalk::Everything, start + WALK_EVERYTHING_EVERY, 9_000);
        assert_eq!(
            walks.next(start + WALK_EVERYTHING_EVERY + hour),
            OutboxWalk::From(9_000)
        );
    }
}
