//! Pruning: published outbox rows and remembered callback ids older than their retention.
//! An outbox row's age counts from when it was written (a message is published within
//! moments of it, or it waits or is parked, and is kept).
//!
//! Deletes go in chunks, so SQLite's single writer is never held for long and a large first
//! prune does not stall claims. What is never deleted: unpublished or parked outbox rows
//! (they still have to reach RabbitMQ, or a person), and the latest result of each payment,
//! which a duplicate delivery of its order is answered with (found by the payment's claim time
//! and id, as every line of a payment is filed).

use super::Store;

/// Rows deleted per statement.
const CHUNK: i64 = 5_000;

/// What to delete: everything older than these instants (milliseconds since 1970).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PruneBefore {
    /// Published outbox rows written before this.
    pub outbox_written_before_ms: i64,
    /// Callback ids received before this.
    pub callback_received_before_ms: i64,
}

/// How many rows one prune deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub outbox_rows: u64,
    pub callback_events: u64,
}

impl Store {
    /// Deletes published outbox rows and callback ids older than `before` (see the module
    /// docs for what stays), chunk by chunk.
    pub async fn prune(&self, before: PruneBefore) -> Result<PruneReport, sqlx::Error> {
        let mut report = PruneReport::default();
        loop {
            let deleted = sqlx::query(
                "DELETE FROM outbox WHERE id IN (\
                   SELECT o.id FROM outbox o WHERE o.created_at < $1 AND o.parked_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM outbox_waiting w WHERE w.id = o.id) \
                   AND NOT (o.kind = 'result' AND o.payment_id IS NOT NULL AND o.id = \
                     (SELECT MAX(l.id) FROM outbox l WHERE l.payment_created_at = o.payment_created_at \
                       AND l.payment_id = o.payment_id AND l.kind = 'result')) \
                   LIMIT $2)",
            )
            .bind(before.outbox_written_before_ms)
            .bind(CHUNK)
            .execute(self.pool())
            .await?
            .rows_affected();
            report.outbox_rows += deleted;
            if deleted < CHUNK as u64 {
                break;
            }
        }
        loop {
            let deleted = sqlx::query(
                "DELETE FROM callback_events WHERE (provider, event_id) IN (\
                   SELECT provider, event_id FROM callback_events WHERE received_at < $1 LIMIT $2)",
            )
            .bind(before.callback_received_before_ms)
            .bind(CHUNK)
            .execute(self.pool())
            .await?
            .rows_affected();
            report.callback_events += deleted;
            if deleted < CHUNK as u64 {
                break;
            }
        }
        Ok(report)
    }
}
