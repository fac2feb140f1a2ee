//! Batch manifests in the store: recording one (new, duplicate or conflict), rejecting an
//! invalid one, reading a batch with its orders, and closing it with its batch result in the
//! outbox — one transaction each, so a batch result is written exactly once.

use std::sync::Arc;

use gateway_adapter::Invalid;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::appends::Appends;
use super::multi_row::{insert_rows, plain_row};
use super::outbox::{insert, insert_dead_letter, OutboxKind};
use super::{now_ms, Backend, Store, StoreError, StoredProperties};
use crate::batch::{
    rfc3339, BatchFacts, BatchManifest, BatchRejection, BatchResult, BatchStatus, Declared, LineFacts, Outcome,
    ReceivedOrder, Tally, MAX_NAMED_EXTRA_ORDERS, REJECTED_ROUTING_KEY,
};
use crate::payment::PaymentState;

const BATCH_COLUMNS: &str = "batch_id, program, period, commune_code, order_count, total_amount, has_lines, \
     deadline_at, created_at, received_at, status, differences, closed_at, result_json";

/// What recording a manifest found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestOutcome {
    /// A new batch, now open.
    Recorded,
    /// The same manifest again: nothing changes (a closed batch's result is published again).
    Duplicate,
    /// Another manifest under a batch id already taken: dead-lettered `conflict`.
    Conflict,
}

/// One batch as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRecord {
    pub batch_id: String,
    pub program: String,
    pub period: String,
    pub commune_code: String,
    pub order_count: i64,
    pub total_amount: i64,
    pub has_lines: bool,
    /// The manifest's own deadline (milliseconds since 1970), if it had one.
    pub deadline_at: Option<i64>,
    pub created_at: Option<i64>,
    pub received_at: i64,
    pub status: BatchStatus,
    /// Differences found by the last check while open.
    pub differences: i64,
    pub closed_at: Option<i64>,
    /// The published batch result, once closed.
    pub result: Option<BatchResult>,
}

impl BatchRecord {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        let result: Option<String> = row.try_get("result_json")?;
        Ok(Self {
            batch_id: row.try_get("batch_id")?,
            program: row.try_get("program")?,
            period: row.try_get("period")?,
            commune_code: row.try_get("commune_code")?,
            order_count: row.try_get("order_count")?,
            total_amount: row.try_get("total_amount")?,
            has_lines: row.try_get::<i64, _>("has_lines")? != 0,
            deadline_at: row.try_get("deadline_at")?,
            created_at: row.try_get("created_at")?,
            received_at: row.try_get("received_at")?,
            status: BatchStatus::parse(&status)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown batch status {status}").into()))?,
            differences: row.try_get("differences")?,
            closed_at: row.try_get("closed_at")?,
            result: result.and_then(|json| serde_json::from_str(&json).ok()),
        })
    }

    /// When the batch closes at the latest: its own deadline, else `close_after_ms` after
    /// its manifest arrived.
    pub fn deadline_ms(&self, close_after_ms: u64) -> i64 {
        self.deadline_at.unwrap_or_else(|| {
            self.received_at
                .saturating_add(i64::try_from(close_after_ms).unwrap_or(i64::MAX))
        })
    }
}

impl Store {
    /// Records a valid manifest and its lines, or finds it a duplicate or a conflict (then
    /// dead-lettered with the original bytes), in one transaction.
    pub async fn record_manifest(
        &self,
        manifest: &BatchManifest,
        raw_message: &[u8],
        properties: &StoredProperties,
    ) -> Result<ManifestOutcome, StoreError> {
        let unit = Arc::new((manifest.clone(), raw_message.to_vec(), properties.clone()));
        let key = format!("batch:{}", manifest.batch_id.as_str());
        self.write(&key, move |connection, appends| {
            let unit = unit.clone();
            Box::pin(async move {
                let (manifest, raw_message, properties) = &*unit;
                record_in(connection, appends, manifest, raw_message, properties).await
            })
        })
        .await
    }

    /// Records an invalid manifest: a `batch.rejected` result and a dead letter `invalid`.
    pub async fn reject_manifest(
        &self,
        batch_id: &str,
        invalid: &Invalid,
        raw_message: &[u8],
        properties: &StoredProperties,
    ) -> Result<(), StoreError> {
        let rejection = BatchRejection {
            batch_id: batch_id.to_string(),
            status: "rejected".to_string(),
            reason_code: invalid.code.to_string(),
            reason: invalid.message.clone(),
            occurred_at: rfc3339(now_ms()),
        };
        let body = serde_json::to_vec(&rejection)
            .map_err(|error| StoreError::Unstorable(sqlx::Error::Encode(Box::new(error))))?;
        // Two different invalid manifests for one batch id get two message ids.
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw_message));
        let result_properties = result_properties(batch_id, format!("batch:{batch_id}:rejected:{}", &digest[..16]));
        let dead = properties.with_dead_letter("invalid", &format!("{}: {}", invalid.code, invalid.message));
        let unit = Arc::new((body, result_properties, raw_message.to_vec(), dead));
        self.write(&format!("batch:{batch_id}"), move |_, appends| {
            let unit = unit.clone();
            Box::pin(async move {
                let (body, result_properties, raw_message, dead) = &*unit;
                insert(
                    appends,
                    OutboxKind::Result,
                    None,
                    REJECTED_ROUTING_KEY,
                    result_properties,
                    body,
                );
                insert_dead_letter(appends, None, raw_message, dead);
                Ok(())
            })
        })
        .await
    }

    /// Closes an open batch with `result` and queues the result, in one transaction. Returns
    /// false when the batch was not open any more (another gateway closed it): nothing is
    /// written, so each batch result is queued once.
    pub async fn close_batch(&self, result: &BatchResult) -> Result<bool, StoreError> {
        let body = serde_json::to_string(result)
            .map_err(|error| StoreError::Unstorable(sqlx::Error::Encode(Box::new(error))))?;
        let properties = result_properties(&result.batch_id, format!("batch:{}", result.batch_id));
        let unit = Arc::new((result.clone(), body, properties));
        self.write(&format!("batch:{}", result.batch_id), move |connection, appends| {
            let unit = unit.clone();
            Box::pin(async move {
                let (result, body, properties) = &*unit;
                let closed = sqlx::query(
                    "UPDATE batches SET status = $1, closed_at = $2, result_json = $3, differences = $4 \
                     WHERE batch_id = $5 AND status = 'open'",
                )
                .bind(result.status.as_str())
                .bind(now_ms())
                .bind(body.as_str())
                .bind(result.differences.len() as i64)
                .bind(result.batch_id.as_str())
                .execute(&mut *connection)
                .await?;
                if closed.rows_affected() == 0 {
                    return Ok(false);
                }
                let routing_key = result.routing_key();
                insert(
                    appends,
                    OutboxKind::Result,
                    None,
                    &routing_key,
                    properties,
                    body.as_bytes(),
                );
                Ok(true)
            })
        })
        .await
    }

    /// Remembers how many differences an open batch has so far.
    pub async fn note_batch_differences(&self, batch_id: &str, differences: i64) -> Result<(), StoreError> {
        let batch_id = batch_id.to_string();
        self.write(&format!("batch:{batch_id}"), move |connection, _| {
            let batch_id = batch_id.clone();
            Box::pin(async move {
                sqlx::query("UPDATE batches SET differences = $1 WHERE batch_id = $2 AND status = 'open'")
                    .bind(differences)
                    .bind(batch_id)
                    .execute(connection)
                    .await
                    .map(|_| ())
            })
        })
        .await
    }

    /// One batch.
    pub async fn batch(&self, batch_id: &str) -> Result<Option<BatchRecord>, sqlx::Error> {
        sqlx::query(&format!("SELECT {BATCH_COLUMNS} FROM batches WHERE batch_id = $1"))
            .bind(batch_id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| BatchRecord::from_row(&row))
            .transpose()
    }

    /// Whether anything names `batch_id`: a payment, a manifest or a rejected order.
    pub async fn batch_named(&self, batch_id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar::<_, i64>(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM payments WHERE batch_id = $1) \
             OR EXISTS (SELECT 1 FROM batches WHERE batch_id = $1) \
             OR EXISTS (SELECT 1 FROM rejected_orders WHERE batch_id = $1) THEN 1 ELSE 0 END",
        )
        .bind(batch_id)
        .fetch_one(self.pool())
        .await
        .map(|named| named == 1)
    }

    /// Open batches, oldest first.
    pub async fn open_batches(&self) -> Result<Vec<BatchRecord>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE status = 'open' ORDER BY received_at, batch_id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(BatchRecord::from_row).collect()
    }

    /// The latest `limit` batches, newest first.
    pub async fn list_batches(&self, limit: i64) -> Result<Vec<BatchRecord>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {BATCH_COLUMNS} FROM batches ORDER BY received_at DESC, batch_id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(BatchRecord::from_row).collect()
    }

    /// What a batch's manifest declared, every line of it. The closer and the views read
    /// [`Store::batch_facts`] instead; this is for tools and tests.
    pub async fn batch_declared(&self, batch: &BatchRecord) -> Result<Declared, sqlx::Error> {
        let lines = if batch.has_lines {
            let rows = sqlx::query("SELECT order_id, amount FROM batch_lines WHERE batch_id = $1 ORDER BY order_id")
                .bind(&batch.batch_id)
                .fetch_all(self.pool())
                .await?;
            let lines = rows
                .iter()
                .map(|row| Ok((row.try_get("order_id")?, amount(row.try_get("amount")?))))
                .collect::<Result<Vec<(String, u64)>, sqlx::Error>>()?;
            Some(lines)
        } else {
            None
        };
        Ok(Declared {
            order_count: amount(batch.order_count),
            total_amount: amount(batch.total_amount),
            lines,
        })
    }

    /// Every order of a batch the store knows: its payments, and its declared orders (for a
    /// manifest without lines, its orders by batch id) that were refused as invalid before any
    /// payment was claimed for them. Reads one row per
    /// order (a batch may have a million): the closer and the views read
    /// [`Store::batch_facts`] instead; this is for tools and tests.
    pub async fn batch_orders(&self, batch_id: &str) -> Result<Vec<ReceivedOrder>, sqlx::Error> {
        let payments = sqlx::query("SELECT order_id, amount, state FROM payments WHERE batch_id = $1")
            .bind(batch_id)
            .fetch_all(self.pool())
            .await?;
        let mut orders = payments
            .iter()
            .map(|row| {
                let state = super::state_column(row, "state")?;
                Ok(ReceivedOrder {
                    order_id: row.try_get("order_id")?,
                    amount: amount(row.try_get("amount")?),
                    outcome: Outcome::from_state(state),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let invalid = sqlx::query(&format!("SELECT l.order_id, l.amount {INVALID_LINES}"))
            .bind(batch_id)
            .fetch_all(self.pool())
            .await?;
        for row in &invalid {
            orders.push(ReceivedOrder {
                order_id: row.try_get("order_id")?,
                amount: amount(row.try_get("amount")?),
                outcome: Outcome::Invalid,
            });
        }
        let invalid_unlisted = sqlx::query(&format!("SELECT r.order_id {INVALID_BY_BATCH_ID}"))
            .bind(batch_id)
            .fetch_all(self.pool())
            .await?;
        for row in &invalid_unlisted {
            orders.push(ReceivedOrder {
                order_id: row.try_get("order_id")?,
                amount: 0,
                outcome: Outcome::Invalid,
            });
        }
        Ok(orders)
    }

    /// What the check of a batch needs, computed in SQL from one consistent snapshot: its
    /// payments counted and summed by state, and, for a manifest with lines, the lines matched
    /// with the payments. Rows are read only for orders a difference names: amount mismatches
    /// and invalid orders (at most the 10,000 lines), the first
    /// [`MAX_NAMED_EXTRA_ORDERS`] extra orders, and, when `closing`, the missing orders. A
    /// clean batch costs a few rows however many orders it has.
    pub async fn batch_facts(&self, batch: &BatchRecord, closing: bool) -> Result<BatchFacts, sqlx::Error> {
        self.batch_facts_counting_rows(batch, closing)
            .await
            .map(|(facts, _)| facts)
    }

    /// [`Store::batch_facts`] and how many rows it read, so tests can hold it to its bound.
    #[doc(hidden)]
    pub async fn batch_facts_counting_rows(
        &self,
        batch: &BatchRecord,
        closing: bool,
    ) -> Result<(BatchFacts, usize), sqlx::Error> {
        let mut transaction = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            // One snapshot for every query below (SQLite's read transaction is one already).
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *transaction)
                .await?;
        }
        let read = facts_in(&mut transaction, self.backend(), batch, closing).await;
        transaction.rollback().await?;
        read
    }
}

/// The declared lines of batch `$1` refused as invalid: rejected before any payment was
/// claimed for their order id (in this batch or another).
const INVALID_LINES: &str = "FROM batch_lines l JOIN rejected_orders r ON r.order_id = l.order_id \
     WHERE l.batch_id = $1 AND NOT EXISTS (SELECT 1 FROM payments q WHERE q.order_id = l.order_id)";

/// The orders refused as invalid that named batch `$1`, a manifest without lines, and never
/// became a payment: counted as final, at no amount (an invalid order's amount is not taken
/// at its word). A manifest with lines counts its declared lines instead ([`INVALID_LINES`]).
const INVALID_BY_BATCH_ID: &str = "FROM rejected_orders r JOIN batches b ON b.batch_id = r.batch_id \
     WHERE r.batch_id = $1 AND b.has_lines = 0 \
     AND NOT EXISTS (SELECT 1 FROM payments q WHERE q.order_id = r.order_id)";

/// The facts of one batch inside a read transaction (see [`Store::batch_facts`]), with the
/// number of rows read.
async fn facts_in(
    connection: &mut AnyConnection,
    backend: Backend,
    batch: &BatchRecord,
    closing: bool,
) -> Result<(BatchFacts, usize), sqlx::Error> {
    let batch_id = batch.batch_id.as_str();
    let mut facts = BatchFacts {
        declared: Tally {
            orders: amount(batch.order_count),
            amount: amount(batch.total_amount),
        },
        ..BatchFacts::default()
    };
    let by_state = sqlx::query(
        "SELECT state, COUNT(*) AS n, COALESCE(CAST(SUM(amount) AS BIGINT), 0) AS total \
         FROM payments WHERE batch_id = $1 GROUP BY state",
    )
    .bind(batch_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut rows_read = by_state.len();
    let mut claimed = 0;
    for row in &by_state {
        let orders = amount(row.try_get("n")?);
        let total = amount(row.try_get("total")?);
        claimed += orders;
        let tally = match Outcome::from_state(super::state_column(row, "state")?) {
            Outcome::Succeeded => &mut facts.succeeded,
            Outcome::Failed => &mut facts.failed,
            Outcome::Rejected => &mut facts.rejected,
            Outcome::InProgress | Outcome::Invalid => &mut facts.in_progress,
        };
        tally.orders += orders;
        tally.amount = tally.amount.saturating_add(total);
    }
    if !batch.has_lines {
        // Without lines, an order refused as invalid is the batch's by the batch id it named.
        let invalid: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {INVALID_BY_BATCH_ID}"))
            .bind(batch_id)
            .fetch_one(&mut *connection)
            .await?;
        rows_read += 1;
        facts.invalid.orders = amount(invalid);
        return Ok((facts, rows_read));
    }

    // One pass over the lines (each looked up by order id) for the counts; names only for
    // what differs.
    let final_states = [PaymentState::Succeeded, PaymentState::Failed, PaymentState::Rejected]
        .map(|state| format!("'{}'", state.as_str()))
        .join(", ");
    let counts = sqlx::query(&format!(
        "SELECT COUNT(*) AS lines, COUNT(p.order_id) AS arrived, \
         CAST(COALESCE(SUM(CASE WHEN p.state IN ({final_states}) THEN 1 ELSE 0 END), 0) AS BIGINT) AS arrived_final, \
         CAST(COALESCE(SUM(CASE WHEN p.amount <> l.amount THEN 1 ELSE 0 END), 0) AS BIGINT) AS mismatched, \
         CAST(COALESCE(SUM(CASE WHEN p.order_id IS NULL AND r.order_id IS NOT NULL \
              AND NOT EXISTS (SELECT 1 FROM payments q WHERE q.order_id = l.order_id) THEN 1 ELSE 0 END), 0) AS BIGINT) AS invalid \
         FROM batch_lines l \
         LEFT JOIN payments p ON p.order_id = l.order_id AND p.batch_id = l.batch_id \
         LEFT JOIN rejected_orders r ON r.order_id = l.order_id \
         WHERE l.batch_id = $1"
    ))
    .bind(batch_id)
    .fetch_one(&mut *connection)
    .await?;
    rows_read += 1;
    let lines = amount(counts.try_get("lines")?);
    let arrived = amount(counts.try_get("arrived")?);
    let mut found = LineFacts {
        lines,
        arrived,
        arrived_final: amount(counts.try_get("arrived_final")?),
        extra_orders: claimed.saturating_sub(arrived),
        ..LineFacts::default()
    };
    let mismatched = amount(counts.try_get("mismatched")?);
    let invalid = amount(counts.try_get("invalid")?);

    if mismatched > 0 {
        let rows = sqlx::query(
            "SELECT l.order_id, l.amount AS declared, p.amount AS actual FROM batch_lines l \
             JOIN payments p ON p.order_id = l.order_id AND p.batch_id = l.batch_id \
             WHERE l.batch_id = $1 AND p.amount <> l.amount",
        )
        .bind(batch_id)
        .fetch_all(&mut *connection)
        .await?;
        rows_read += rows.len();
        for row in &rows {
            found.mismatched.push((
                row.try_get("order_id")?,
                amount(row.try_get("declared")?),
                amount(row.try_get("actual")?),
            ));
        }
    }
    if invalid > 0 {
        let rows = sqlx::query(&format!("SELECT l.order_id, l.amount {INVALID_LINES}"))
            .bind(batch_id)
            .fetch_all(&mut *connection)
            .await?;
        rows_read += rows.len();
        for row in &rows {
            let amount_declared = amount(row.try_get("amount")?);
            found.invalid_orders.push((row.try_get("order_id")?, amount_declared));
            facts.invalid.orders += 1;
            facts.invalid.amount = facts.invalid.amount.saturating_add(amount_declared);
        }
    }
    if closing && found.missing_orders() > 0 {
        let rows = sqlx::query(
            "SELECT l.order_id, l.amount FROM batch_lines l WHERE l.batch_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = l.order_id AND p.batch_id = l.batch_id) \
             AND NOT (EXISTS (SELECT 1 FROM rejected_orders r WHERE r.order_id = l.order_id) \
                      AND NOT EXISTS (SELECT 1 FROM payments q WHERE q.order_id = l.order_id))",
        )
        .bind(batch_id)
        .fetch_all(&mut *connection)
        .await?;
        rows_read += rows.len();
        for row in &rows {
            found
                .missing
                .push((row.try_get("order_id")?, amount(row.try_get("amount")?)));
        }
    }
    if found.extra_orders > 0 {
        // Byte order, as Rust sorts: the same first orders named on both databases.
        let collate = match backend {
            Backend::Sqlite => "",
            Backend::Postgres => " COLLATE \"C\"",
        };
        let rows = sqlx::query(&format!(
            "SELECT p.order_id, p.amount FROM payments p WHERE p.batch_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM batch_lines l WHERE l.batch_id = p.batch_id AND l.order_id = p.order_id) \
             ORDER BY p.order_id{collate} LIMIT $2"
        ))
        .bind(batch_id)
        .bind(MAX_NAMED_EXTRA_ORDERS as i64)
        .fetch_all(&mut *connection)
        .await?;
        rows_read += rows.len();
        for row in &rows {
            found
                .extra
                .push((row.try_get("order_id")?, amount(row.try_get("amount")?)));
        }
    }
    found.missing.sort();
    found.mismatched.sort();
    found.invalid_orders.sort();
    found.extra.sort();
    facts.lines = Some(found);
    Ok((facts, rows_read))
}

/// Amounts and counts are stored as non-negative BIGINTs.
fn amount(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn result_properties(batch_id: &str, message_id: String) -> StoredProperties {
    StoredProperties {
        content_type: Some("application/json".to_string()),
        message_id: Some(message_id),
        correlation_id: Some(batch_id.to_string()),
        headers: Default::default(),
    }
}

/// The manifest recording inside a transaction (see [`Store::record_manifest`]).
async fn record_in(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    manifest: &BatchManifest,
    raw_message: &[u8],
    properties: &StoredProperties,
) -> Result<ManifestOutcome, sqlx::Error> {
    let fingerprint = manifest.fingerprint();
    let batch_id = manifest.batch_id.as_str();
    let inserted = sqlx::query(
        "INSERT INTO batches (batch_id, fingerprint, program, period, commune_code, order_count, total_amount, \
         has_lines, deadline_at, created_at, received_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open') ON CONFLICT DO NOTHING",
    )
    .bind(batch_id)
    .bind(&fingerprint)
    .bind(manifest.program.as_str())
    .bind(manifest.period.as_str())
    .bind(manifest.commune_code.as_str())
    .bind(i64::try_from(manifest.order_count).unwrap_or(i64::MAX))
    .bind(manifest.total_amount.as_i64())
    .bind(i64::from(manifest.lines.is_some()))
    .bind(manifest.deadline.map(|time| time.timestamp_millis()))
    .bind(manifest.created_at.map(|time| time.timestamp_millis()))
    .bind(now_ms())
    .execute(&mut *transaction)
    .await?;
    if inserted.rows_affected() == 0 {
        let existing = sqlx::query("SELECT fingerprint, result_json FROM batches WHERE batch_id = $1")
            .bind(batch_id)
            .fetch_one(&mut *transaction)
            .await?;
        let existing_fingerprint: String = existing.try_get("fingerprint")?;
        if existing_fingerprint != fingerprint {
            let detail = format!("conflict: batch {batch_id} already has another manifest; this one was not recorded");
            insert_dead_letter(
                appends,
                None,
                raw_message,
                &properties.with_dead_letter("conflict", &detail),
            );
            return Ok(ManifestOutcome::Conflict);
        }
        // Like a duplicate order: answered with the batch result, once the batch closed.
        let result: Option<String> = existing.try_get("result_json")?;
        if let Some(body) = result {
            if let Ok(parsed) = serde_json::from_str::<BatchResult>(&body) {
                let properties = result_properties(batch_id, format!("batch:{batch_id}"));
                insert(
                    appends,
                    OutboxKind::Result,
                    None,
                    &parsed.routing_key(),
                    &properties,
                    body.as_bytes(),
                );
            }
        }
        return Ok(ManifestOutcome::Duplicate);
    }
    if let Some(lines) = &manifest.lines {
        insert_rows(
            transaction,
            "INSERT INTO batch_lines (batch_id, order_id, amount) VALUES ",
            &plain_row(3),
            lines,
            |query, line| {
                query
                    .bind(batch_id.to_string())
                    .bind(line.order_id.as_str())
                    .bind(line.amount.as_i64())
            },
        )
        .await?;
    }
    Ok(ManifestOutcome::Recorded)
}
