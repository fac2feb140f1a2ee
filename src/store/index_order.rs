//! Leases on PostgreSQL read their rows in index order and stop after the lease's `limit`,
//! whatever the table's statistics say.
//!
//! A lease takes the first `limit` due rows in the order of an index (`payments_provider_due`,
//! `outbox_unpublished`). With statistics from when the table was small — a fresh database,
//! autovacuum off, the gateway's own `ANALYZE` a minute apart — the planner expected a handful
//! of due rows and chose a bitmap scan of *every* due row and a sort, so each lease cost the
//! whole backlog: `auto_explain` logged leases of 30–360 ms in a 40,000-order burst, and the
//! server's CPU per order grew with the run (0.80 ms at 20,000 orders, 1.26 ms at 172,000).
//! Here a lease runs in a transaction of its own with bitmap scans and sorts turned off for
//! that transaction alone (`set_config(…, true)`), which leaves the planner one way to answer:
//! the index in order, stopping after `limit` rows.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection};

use super::multi_row::AnyQuery;
use super::Backend;

/// Turns bitmap scans and sorts off until the end of the current transaction.
const INDEX_ORDER_ONLY: &str =
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)";

/// Runs the lease `query` and returns its rows: on PostgreSQL in a transaction of its own where
/// only a scan in index order is left; on SQLite as it is (its planner keeps no statistics the
/// gateway would let go stale, and its one writer needs no transaction of the lease's own).
pub(super) async fn fetch_lease(
    connection: &mut AnyConnection,
    backend: Backend,
    query: AnyQuery<'_>,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    if backend == Backend::Sqlite {
        return query.fetch_all(connection).await;
    }
    let mut transaction = connection.begin().await?;
    index_order_only(&mut transaction).await?;
    let rows = query.fetch_all(&mut *transaction).await?;
    transaction.commit().await?;
    Ok(rows)
}

async fn index_order_only(transaction: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query(INDEX_ORDER_ONLY).execute(transaction).await.map(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sqlx::{Executor, Row};

    use super::*;
    use crate::store::outbox::lease_statement;
    use crate::store::payments::lease_due_statement;
    use crate::store::Store;

    /// The plan PostgreSQL picks for `statement` with `binds` (all integers but `$3` of the
    /// payments lease), with and without [`INDEX_ORDER_ONLY`].
    async fn plan(connection: &mut AnyConnection, statement: &str, provider: Option<&str>, pinned: bool) -> String {
        let mut transaction = connection.begin().await.unwrap();
        if pinned {
            index_order_only(&mut transaction).await.unwrap();
        }
        let now = 1_000_000_i64;
        let explain = format!("EXPLAIN {statement}");
        let mut query = sqlx::query(&explain).bind(now + 60_000).bind(now);
        query = match provider {
            Some(provider) => query.bind(provider).bind(256_i64),
            None => query.bind(256_i64),
        };
        let rows = query.fetch_all(&mut *transaction).await.unwrap();
        transaction.rollback().await.unwrap();
        rows.iter()
            .map(|row| row.try_get::<String, _>(0).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A backlog of 20,000 due payments and 20,000 unpublished results in tables last analysed
    /// empty: unpinned, the planner sorts every due row (the cost grew with the backlog);
    /// pinned, both leases read their index in order and stop at the limit.
    #[tokio::test]
    async fn leases_read_their_index_in_order_under_statistics_of_an_empty_table() {
        let admin = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let name = format!("index_order_{}", uuid::Uuid::new_v4().simple());
        let base = admin.rsplit_once('/').map(|(base, _)| base.to_string()).unwrap();
        let mut server = <sqlx::PgConnection as Connection>::connect(&admin).await.unwrap();
        server
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let url = format!("{base}/{name}");
        let store = Store::connect(&crate::config::DatabaseSettings {
            url: url.clone().into(),
            max_connections: 2,
            writer_thread: false,
        })
        .await
        .unwrap();
        let mut connection = AnyConnection::connect(&url).await.unwrap();
        connection.execute("ANALYZE payments, outbox").await.unwrap();
        connection
            .execute(
                "INSERT INTO payments (payment_id, idempotency_key, order_id, fingerprint, channel, provider, amount, \
                 batch_id, commune_code, state, created_at, updated_at, next_attempt_at) \
                 SELECT 'p' || i, 'k' || i, 'o' || i, 'f', 'bank_transfer', 'bank_transfer', 100000, 'b', 'c', \
                 'accepted', i, i, i FROM generate_series(1, 20000) AS i; \
                 INSERT INTO outbox (kind, routing_key, headers, body, created_at) \
                 SELECT 'result', 'payment.accepted', '{}', '\\x00', i FROM generate_series(1, 20000) AS i",
            )
            .await
            .unwrap();

        let leases = [
            (
                lease_due_statement(Backend::Postgres),
                Some("bank_transfer"),
                "payments_provider_due",
            ),
            (lease_statement(Backend::Postgres), None, "outbox_unpublished"),
        ];
        for (statement, provider, index) in &leases {
            let unpinned = plan(&mut connection, statement, *provider, false).await;
            assert!(
                unpinned.contains("Sort"),
                "without the pin the planner sorts the backlog (what this guards against):\n{unpinned}"
            );
            let pinned = plan(&mut connection, statement, *provider, true).await;
            assert!(
                !pinned.contains("Sort") && !pinned.contains("Bitmap"),
                "the pinned lease neither sorts nor scans a bitmap:\n{pinned}"
            );
            assert!(pinned.contains(&format!("Index Scan using {index}")), "{pinned}");
        }

        connection.close().await.unwrap();
        drop(store);
        server
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await
            .unwrap();
    }
}
