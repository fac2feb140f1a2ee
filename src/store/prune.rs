//! Pruning: published outbox rows and remembered callback ids older than their retention.
//! An outbox row's age counts from when it was written (a message is published within
//! moments of it, or it waits or is parked, and is kept).
//!
//! Deletes go in chunks, so SQLite's single writer is never held for long and a large first
//! prune does not stall claims. What is never deleted: unpublished or parked outbox rows
//! (they still have to reach RabbitMQ, or a person), and the latest result of each payment,
//! which a duplicate delivery of its order is answered with (found by the payment's claim time
//! and id, as every line of a payment is filed).
//!
//! The latest results are kept for good, so a walk from the outbox's oldest row passes over
//! one row per payment ever paid. A prune can start where the last one's cut-off was instead
//! ([`OutboxWalk::From`]): the rows before it were gone through then, and only one that became
//! deletable since (a parked row sent, a payment in review that got a later result) is left to
//! the next walk over everything ([`OutboxWalk::Everything`]; `retention` runs one a day).

use std::sync::Arc;

use sqlx::Row;
use tokio_util::sync::CancellationToken;

use super::{Store, StoreError};

/// Rows deleted per write: one unit of a group commit, so it holds SQLite's one writer for a
/// few milliseconds, and its ids fit any backend's parameter limit.
const CHUNK: i64 = 1_000;

/// What to delete: everything older than these instants (milliseconds since 1970).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PruneBefore {
    /// Published outbox rows written before this.
    pub outbox_written_before_ms: i64,
    /// Callback ids received before this.
    pub callback_received_before_ms: i64,
}

/// Which outbox rows a prune goes through (all of them are older than its cut-off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxWalk {
    /// From the oldest row.
    Everything,
    /// Only the rows written at or after this instant (milliseconds since 1970): an earlier
    /// prune, whose cut-off it was, went through the ones before.
    From(i64),
}

/// How many rows one prune deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub outbox_rows: u64,
    pub callback_events: u64,
}

/// Outbox rows that may go, from a place in the order of `created_at` and id on: published
/// (no `outbox_waiting` row), not parked, and not the latest result of their payment.
const DELETABLE_OUTBOX_ROWS: &str = "SELECT o.id, o.created_at FROM outbox o \
     WHERE o.created_at < $1 AND o.created_at >= $2 AND (o.created_at > $2 OR o.id > $3) \
     AND o.parked_at IS NULL \
     AND NOT EXISTS (SELECT 1 FROM outbox_waiting w WHERE w.id = o.id) \
     AND NOT (o.kind = 'result' AND o.payment_id IS NOT NULL AND o.id = \
       (SELECT MAX(l.id) FROM outbox l WHERE l.payment_created_at = o.payment_created_at \
         AND l.payment_id = o.payment_id AND l.kind = 'result')) \
     ORDER BY o.created_at, o.id LIMIT $4";

impl Store {
    /// Deletes published outbox rows and callback ids older than `before` (see the module
    /// docs for what stays), chunk by chunk, until nothing older is left or `shutdown`. Of the
    /// outbox, goes through the rows `walk` names.
    ///
    /// Each chunk is found on the readers' connection, from where the last one ended (the rows
    /// kept for good — each payment's latest result — are passed once per prune, not once per
    /// chunk), and deleted in a group commit like every other write: on SQLite a `DELETE` on
    /// the readers' connection took the one write lock for the whole scan, and the writer's
    /// `BEGIN IMMEDIATE` waited out its busy timeout and failed its batch of claims.
    pub async fn prune(
        &self,
        before: PruneBefore,
        walk: OutboxWalk,
        shutdown: &CancellationToken,
    ) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        // Rows at or after `from`: `created_at >= from`, and any id.
        let mut after = match walk {
            OutboxWalk::Everything => (i64::MIN, i64::MIN),
            OutboxWalk::From(from) => (from, i64::MIN),
        };
        while !shutdown.is_cancelled() {
            let rows = sqlx::query(DELETABLE_OUTBOX_ROWS)
                .bind(before.outbox_written_before_ms)
                .bind(after.0)
                .bind(after.1)
                .bind(CHUNK)
                .fetch_all(self.pool())
                .await?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                after = (row.try_get("created_at")?, id);
                ids.push(id);
            }
            if ids.is_empty() {
                break;
            }
            report.outbox_rows += self.delete_published(ids).await?;
            if rows.len() < CHUNK as usize {
                break;
            }
        }
        while !shutdown.is_cancelled() {
            let deleted = self
                .write("prune", move |connection, _appends| {
                    Box::pin(async move {
                        Ok(sqlx::query(
                            "DELETE FROM callback_events WHERE (provider, event_id) IN (\
                               SELECT provider, event_id FROM callback_events WHERE received_at < $1 LIMIT $2)",
                        )
                        .bind(before.callback_received_before_ms)
                        .bind(CHUNK)
                        .execute(&mut *connection)
                        .await?
                        .rows_affected())
                    })
                })
                .await?;
            report.callback_events += deleted;
            if deleted < CHUNK as u64 {
                break;
            }
        }
        Ok(report)
    }

    /// Deletes the outbox rows `ids` that are still published and not parked (a person may
    /// have parked or replayed one since it was found).
    async fn delete_published(&self, ids: Vec<i64>) -> Result<u64, StoreError> {
        let ids = Arc::new(ids);
        self.write("prune", move |connection, _appends| {
            let ids = ids.clone();
            Box::pin(async move {
                let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
                let sql = format!(
                    "DELETE FROM outbox WHERE id IN ({}) AND parked_at IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM outbox_waiting w WHERE w.id = outbox.id)",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query(&sql);
                for id in ids.iter() {
                    query = query.bind(*id);
                }
                Ok(query.execute(&mut *connection).await?.rows_affected())
            })
        })
        .await
    }
}
