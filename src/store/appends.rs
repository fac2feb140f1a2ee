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

use super::multi_row::{insert_rows, plain_row, rows_returning};
use super::text::storable;
use super::Backend;

/// The payment a line is about: its id, and its `created_at`, which files the line in the
/// event log's and the outbox's indexes by payment. The payments being worked on were claimed
/// lately, so their lines land together at the end of those indexes, not each on a page of its
/// own (see the migration `payment_clustered_indexes`).
#[derive(Clone, Copy, Debug)]
pub(super) struct PaymentKey<'a> {
    pub id: &'a str,
    pub created_at: i64,
}

/// The appends of one transaction, not yet written.
#[derive(Debug, Default)]
pub struct Appends {
    events: Vec<EventRow>,
    outbox: Vec<OutboxRowToInsert>,
}

#[derive(Debug)]
struct EventRow {
    payment_id: String,
    payment_created_at: i64,
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
    pub payment_created_at: Option<i64>,
    pub routing_key: String,
    pub headers: String,
    pub body: Vec<u8>,
    pub created_at: i64,
}

impl Appends {
    pub(super) fn event(
        &mut self,
        payment: PaymentKey<'_>,
        from_state: Option<&'static str>,
        to_state: &'static str,
        reason_code: Option<&str>,
        detail: &str,
        occurred_at: i64,
    ) {
        self.events.push(EventRow {
            payment_id: payment.id.to_string(),
            payment_created_at: payment.created_at,
            from_state,
            to_state,
            reason_code: reason_code.map(|code| storable(code).into_owned()),
            detail: storable(detail).into_owned(),
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
        insert_rows(
            connection,
            "INSERT INTO payment_events (payment_id, from_state, to_state, reason_code, detail, occurred_at, \
             payment_created_at) VALUES ",
            &plain_row(7),
            &events,
            |query, row| {
                query
                    .bind(row.payment_id.as_str())
                    .bind(row.from_state)
                    .bind(row.to_state)
                    .bind(row.reason_code.as_deref())
                    .bind(row.detail.as_str())
                    .bind(row.occurred_at)
                    .bind(row.payment_created_at)
            },
        )
        .await?;
        let outbox = std::mem::take(&mut self.outbox);
        // Every message written waits for the relay (`outbox_waiting`). On PostgreSQL this
        // statement writes both rows; on SQLite a trigger adds the waiting row (see the
        // migration `outbox_waiting`). The statement returns no rows.
        let (head, tail) = match Backend::of(connection) {
            Backend::Sqlite => (INSERT_OUTBOX, ""),
            Backend::Postgres => (INSERT_OUTBOX_WAITING_HEAD, INSERT_OUTBOX_WAITING_TAIL),
        };
        rows_returning(connection, head, &plain_row(7), tail, &outbox, |query, row| {
            query
                .bind(row.kind)
                .bind(row.payment_id.as_deref())
                .bind(row.routing_key.as_str())
                .bind(row.headers.as_str())
                .bind(row.body.as_slice())
                .bind(row.created_at)
                .bind(row.payment_created_at)
        })
        .await
        .map(drop)
    }
}

/// The outbox's insert, up to its rows.
const INSERT_OUTBOX: &str =
    "INSERT INTO outbox (kind, payment_id, routing_key, headers, body, created_at, payment_created_at) VALUES ";

/// The outbox's insert on PostgreSQL, which also enters each new row in `outbox_waiting`: up to
/// its rows, and after them.
const INSERT_OUTBOX_WAITING_HEAD: &str =
    "WITH written AS (INSERT INTO outbox (kind, payment_id, routing_key, headers, body, created_at, \
     payment_created_at) VALUES ";
const INSERT_OUTBOX_WAITING_TAIL: &str = " RETURNING id) INSERT INTO outbox_waiting (id) SELECT id FROM written";
