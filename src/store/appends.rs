//! Rows a write only appends — lines of the event log, outbox messages — kept in memory until
//! the end of its transaction and then written with multi-row inserts.
//!
//! Each statement is a round trip to the database (with SQLite, to its worker thread), and a
//! state change used to spend two of its three on these appends. Nothing reads them back in the
//! same transaction except [`republish_latest_result`](super::outbox), which flushes first; so
//! writing them later in the same transaction changes no outcome, only the number of round
//! trips. Rows keep the order they were appended in, so a payment's results keep their order
//! in the outbox.

use sqlx::AnyConnection;

/// The most rows one insert statement takes (six parameters each, far under both databases'
/// limits). Chunks are powers of two, so few distinct statements reach the statement cache.
const MAX_ROWS_PER_INSERT: usize = 256;

/// The appends of one transaction, not yet written.
#[derive(Debug, Default)]
pub struct Appends {
    events: Vec<EventRow>,
    outbox: Vec<OutboxRowToInsert>,
}

#[derive(Debug)]
struct EventRow {
    payment_id: String,
    from_state: Option<&'static str>,
    to_state: &'static str,
    reason_code: Option<String>,
    detail: String,
    occurred_at: i64,
}

#[derive(Debug)]
pub(super) struct OutboxRowToInsert {
    pub kind: &'static str,
    pub payment_id: Option<String>,
    pub routing_key: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub created_at: i64,
}

impl Appends {
    pub(super) fn event(
        &mut self,
        payment_id: &str,
        from_state: Option<&'static str>,
        to_state: &'static str,
        reason_code: Option<&str>,
        detail: &str,
        occurred_at: i64,
    ) {
        self.events.push(EventRow {
            payment_id: payment_id.to_string(),
            from_state,
            to_state,
            reason_code: reason_code.map(str::to_string),
            detail: detail.to_string(),
            occurred_at,
        });
    }

    pub(super) fn outbox(&mut self, row: OutboxRowToInsert) {
        self.outbox.push(row);
    }

    /// Writes everything appended so far on `connection` (inside the caller's transaction)
    /// and forgets it.
    pub async fn flush(&mut self, connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let events = std::mem::take(&mut self.events);
        for chunk in chunks(&events) {
            let mut query = String::from(
                "INSERT INTO payment_events (payment_id, from_state, to_state, reason_code, detail, occurred_at) VALUES ",
            );
            push_placeholders(&mut query, chunk.len(), 6);
            let mut insert = sqlx::query(&query);
            for row in chunk {
                insert = insert
                    .bind(row.payment_id.as_str())
                    .bind(row.from_state)
                    .bind(row.to_state)
                    .bind(row.reason_code.as_deref())
                    .bind(row.detail.as_str())
                    .bind(row.occurred_at);
            }
            insert.execute(&mut *connection).await?;
        }
        let outbox = std::mem::take(&mut self.outbox);
        for chunk in chunks(&outbox) {
            let mut query =
                String::from("INSERT INTO outbox (kind, payment_id, routing_key, headers, body, created_at) VALUES ");
            push_placeholders(&mut query, chunk.len(), 6);
            let mut insert = sqlx::query(&query);
            for row in chunk {
                insert = insert
                    .bind(row.kind)
                    .bind(row.payment_id.as_deref())
                    .bind(row.routing_key.as_str())
                    .bind(row.headers.as_str())
                    .bind(row.body.as_slice())
                    .bind(row.created_at);
            }
            insert.execute(&mut *connection).await?;
        }
        Ok(())
    }
}

/// `rows` in order, cut into chunks whose sizes are powers of two up to
/// [`MAX_ROWS_PER_INSERT`].
fn chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = if rows.len() >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            1 << rows.len().ilog2()
        };
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Appends `($1, …, $columns), (…)` for `rows` rows.
fn push_placeholders(query: &mut String, rows: usize, columns: usize) {
    use std::fmt::Write;
    for row in 0..rows {
        query.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let separator = if column == 0 { "" } else { ", " };
            let _ = write!(query, "{separator}${}", row * columns + column + 1);
        }
        query.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_in_order() {
        let rows: Vec<usize> = (0..600).collect();
        let sizes: Vec<usize> = chunks(&rows).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 256, 64, 16, 8]);
        let again: Vec<usize> = chunks(&rows).flatten().copied().collect();
        assert_eq!(again, rows);
        assert_eq!(chunks::<u8>(&[]).count(), 0);
    }

    #[test]
    fn placeholders_number_every_row() {
        let mut query = String::new();
        push_placeholders(&mut query, 2, 3);
        assert_eq!(query, "($1, $2, $3), ($4, $5, $6)");
    }
}
