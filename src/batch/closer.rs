//! The batch closer: checks every open batch against its orders every
//! `batches.check_interval_ms`, logs differences as they appear, and closes a batch (its
//! result into the outbox) once every declared order is final or its deadline has passed.
//!
//! A check reads the batch's tallies from the store (`Store::batch_facts`: counts and sums in
//! SQL, rows only for the orders a difference names), not its orders, and a batch whose check
//! or close fails is logged and skipped, so it never holds the others open.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::check::assess;
use super::result::{BatchHeader, BatchResult, ClosedBy};
use super::settings::BatchSettings;
use crate::store::{now_ms, BatchRecord, Store, StoreError};

/// Checks open batches until `shutdown`. A failed round is logged and tried again at the
/// next interval; closing is a compare-and-set, so several gateways may run this at once.
pub async fn run(store: Store, settings: BatchSettings, relay_wake: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        match check_open_batches(&store, &settings, now_ms()).await {
            Ok(0) => {}
            Ok(_) => relay_wake.notify_one(),
            Err(error) => {
                tracing::warn!(error = %error, "Could not check the open batches; trying again at the next interval.");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(settings.check_interval_ms.max(10))) => {}
        }
    }
}

/// One round over the open batches at `now` (milliseconds since 1970). Returns how many
/// this round closed; fails only when the open batches cannot be listed. A batch whose check
/// or close fails is logged with its id, counted (`gateway_batch_check_failures_total`) and
/// tried again at the next round, while the round goes on with the others.
pub async fn check_open_batches(store: &Store, settings: &BatchSettings, now: i64) -> Result<usize, StoreError> {
    let mut closed = 0;
    for batch in store.open_batches().await? {
        match check_one(store, settings, &batch, now).await {
            Ok(true) => closed += 1,
            Ok(false) => {}
            Err(error) => {
                metrics::counter!("gateway_batch_check_failures_total").increment(1);
                tracing::warn!(
                    batch_id = %batch.batch_id,
                    error = %error,
                    "Could not check or close a batch; the other batches go on, and this one is tried again at the next interval."
                );
            }
        }
    }
    Ok(closed)
}

async fn check_one(store: &Store, settings: &BatchSettings, batch: &BatchRecord, now: i64) -> Result<bool, StoreError> {
    let past_deadline = now >= batch.deadline_ms(settings.close_after_ms);
    // Missing orders are named only when the batch closes; a batch that closes complete has
    // none, so they are read only at the deadline.
    let facts = store.batch_facts(batch, past_deadline).await?;
    let progress = assess(&facts, false);
    if !progress.complete && !past_deadline {
        let found = progress.differences.len() as i64;
        if found > batch.differences {
            tracing::warn!(
                batch_id = %batch.batch_id,
                differences = found,
                "A batch's orders differ from its manifest while it is still open."
            );
            store.note_batch_differences(&batch.batch_id, found).await?;
        }
        return Ok(false);
    }
    let closed_by = if progress.complete {
        ClosedBy::Complete
    } else {
        ClosedBy::Deadline
    };
    let header = BatchHeader {
        batch_id: &batch.batch_id,
        program: &batch.program,
        period: &batch.period,
        commune_code: &batch.commune_code,
    };
    let result = BatchResult::new(&header, &assess(&facts, true), closed_by, now);
    let won = store.close_batch(&result).await?;
    if won {
        metrics::counter!("gateway_batches_closed_total", "status" => result.status.as_str()).increment(1);
        tracing::info!(
            batch_id = %batch.batch_id,
            status = result.status.as_str(),
            differences = result.differences.len(),
            "Closed a batch; its result is on its way to upstream."
        );
    }
    Ok(won)
}
