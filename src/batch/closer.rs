//! The batch closer: checks every open batch against its orders every
//! `batches.check_interval_ms`, logs differences as they appear, and closes a batch (its
//! result into the outbox) once every declared order is final or its deadline has passed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::check::check;
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
/// this round closed.
pub async fn check_open_batches(store: &Store, settings: &BatchSettings, now: i64) -> Result<usize, StoreError> {
    let mut closed = 0;
    for batch in store.open_batches().await? {
        if check_one(store, settings, &batch, now).await? {
            closed += 1;
        }
    }
    Ok(closed)
}

async fn check_one(store: &Store, settings: &BatchSettings, batch: &BatchRecord, now: i64) -> Result<bool, StoreError> {
    let declared = store.batch_declared(batch).await?;
    let orders = store.batch_orders(&batch.batch_id).await?;
    let progress = check(&declared, &orders, false);
    let past_deadline = now >= batch.deadline_ms(settings.close_after_ms);
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
    let result = BatchResult::new(&header, &check(&declared, &orders, true), closed_by, now);
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
