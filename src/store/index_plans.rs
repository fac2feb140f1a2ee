//! The gateway's own statements on PostgreSQL find their rows through indexes, whatever the
//! plan PostgreSQL made for them.
//!
//! Every statement of the hot path names its rows by key (a payment id, an outbox id, a
//! wallet) or takes the first `limit` rows in an index's order (the leases). Plans made while
//! the tables were small — a fresh database, autovacuum off, the gateway's own `ANALYZE` a
//! minute apart — read them all:
//! - the leases, planned on an empty table's statistics: a bitmap scan of *every* due row and
//!   a sort (`auto_explain`: 30–360 ms a lease in a 40,000-order burst);
//! - the lease's update, a batch's state changes (an `UPDATE … FROM` a list of rows) and the
//!   wallet reservations' read: sqlx prepares every statement, and PostgreSQL keeps the generic
//!   plan it made at the start of the run until the next `ANALYZE` — a hash join over a
//!   sequential scan of `payments` or `wallet_reservations`, 15–30 ms for 16 rows at 27,000
//!   payments, 37 s of the server's time in a 40-second run of 40,000 orders.
//!
//! So a lease runs in a transaction of its own, and every group commit's transaction begins,
//! with [`BEGIN_INDEXES_ONLY`]: sequential and bitmap scans, hash and merge joins and sorts
//! turned off for that transaction alone (`SET LOCAL`), which leaves the planner index scans,
//! in index order, and nested loops over them. A statement with no index to use still runs
//! (turned off is a cost, not a ban), so this decides plans, never results. It is sent with the
//! `BEGIN`, in one round trip.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection};

use super::multi_row::AnyQuery;
use super::Backend;

/// Begins a PostgreSQL transaction that leaves index scans and nested loops until it ends.
pub(super) const BEGIN_INDEXES_ONLY: &str = "BEGIN; SET LOCAL enable_seqscan = off; \
     SET LOCAL enable_bitmapscan = off; SET LOCAL enable_hashjoin = off; \
     SET LOCAL enable_mergejoin = off; SET LOCAL enable_sort = off";

/// Runs the lease `query` and returns its rows: on PostgreSQL in a transaction of its own that
/// reads through indexes only; on SQLite as it is (its planner keeps no statistics the gateway
/// would let go stale, and its one writer needs no transaction of the lease's own).
pub(super) async fn fetch_lease(
    connection: &mut AnyConnection,
    backend: Backend,
    query: AnyQuery<'_>,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    if backend == Backend::Sqlite {
        return query.fetch_all(connection).await;
    }
    let mut transaction = connection.begin_with(BEGIN_INDEXES_ONLY).await?;
    let rows = query.fetch_all(&mut *transaction).await?;
    transaction.commit().await?;
    Ok(rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sqlx::{Executor, Row};

    use super::*;
    use crate::store::multi_row::postgres_statement;
    use crate::store::outbox::LEASE_POSTGRES;
    use crate::store::payments::{lease_due_statement, CHANGES_HEAD, CHANGES_ROW, CHANGES_TAIL};
    use crate::store::wallets::{HELD_HEAD, HELD_ROW, HELD_TAIL};
    use crate::store::Store;

    const NOW: i64 = 1_000_000;

    /// Payments `from..=to` (due), as many unpublished results and wallet reservations.
    async fn fill(connection: &mut AnyConnection, from: i64, to: i64) {
        connection
            .execute(
                format!(
                    "INSERT INTO payments (payment_id, idempotency_key, order_id, fingerprint, channel, provider, \
                     amount, batch_id, commune_code, state, created_at, updated_at, next_attempt_at) \
                     SELECT 'p' || i, 'k' || i, 'o' || i, 'f', 'bank_transfer', 'bank_transfer', 100000, 'b', 'c', \
                     'accepted', i, i, i FROM generate_series({from}, {to}) AS i; \
                     INSERT INTO outbox (kind, routing_key, headers, body, created_at) \
                     SELECT 'result', 'payment.accepted', '{{}}', '\\x00', i FROM generate_series({from}, {to}) AS i; \
                     INSERT INTO outbox_waiting (id) SELECT id FROM outbox WHERE created_at BETWEEN {from} AND {to}; \
                     INSERT INTO wallet_reservations (payment_id, provider, msisdn, month, amount) \
                     SELECT 'p' || i, 'momo', '09' || lpad(i::text, 8, '0'), '2026-12', 100000 \
                     FROM generate_series({from}, {to}) AS i"
                )
                .as_str(),
            )
            .await
            .unwrap();
    }

    /// The plan of prepared statement `name` run with `arguments` (SQL literals), in a
    /// transaction pinned or not.
    async fn plan(connection: &mut AnyConnection, name: &str, arguments: &str, pinned: bool) -> String {
        let mut transaction = if pinned {
            connection.begin_with(BEGIN_INDEXES_ONLY).await.unwrap()
        } else {
            connection.begin().await.unwrap()
        };
        let rows = transaction
            .fetch_all(format!("EXPLAIN EXECUTE {name}({arguments})").as_str())
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        rows.iter()
            .map(|row| row.try_get::<String, _>(0).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn seqscan_setting(connection: &mut AnyConnection) -> crate::store::writer::WriteFuture<'_, String> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT current_setting('enable_seqscan')")
                .fetch_one(connection)
                .await
        })
    }

    /// The gateway's statements are prepared (sqlx caches them per connection), and PostgreSQL
    /// keeps a prepared statement's generic plan, made while the tables were small at the start
    /// of a run, until the next `ANALYZE`. Here each statement is planned at 100 rows and its
    /// plan read back at 20,000: unpinned, it still scans or sorts the whole table (the cost that
    /// grew with the run); pinned, it reads only its rows, through an index. A group commit's
    /// transaction is pinned, and the pin ends with it.
    #[tokio::test]
    async fn the_gateways_statements_read_through_indexes_whatever_the_plan_was_made_for() {
        let admin = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let name = format!("index_plans_{}", uuid::Uuid::new_v4().simple());
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
            writers: 2,
        })
        .await
        .unwrap();
        let mut connection = AnyConnection::connect(&url).await.unwrap();
        fill(&mut connection, 1, 100).await;
        connection
            .execute("ANALYZE payments, outbox, outbox_waiting, wallet_reservations; SET plan_cache_mode = force_generic_plan")
            .await
            .unwrap();

        let sixteen = |row: &dyn Fn(i64) -> String| (0..16).map(|n| row(n * 1_000 + 1)).collect::<Vec<_>>().join(", ");
        let statements = [
            (
                "payments_lease",
                lease_due_statement(Backend::Postgres),
                format!("{}, {NOW}, 'bank_transfer', 256", NOW + 60_000),
                "Index Scan using payments_provider_due",
            ),
            (
                "outbox_lease",
                LEASE_POSTGRES.to_string(),
                format!("{}, {NOW}, 256", NOW + 60_000),
                "Index Scan using outbox_waiting_pkey",
            ),
            (
                "state_changes",
                postgres_statement(CHANGES_HEAD, CHANGES_ROW, CHANGES_TAIL, 16),
                sixteen(&|n| {
                    format!(
                        "'p{n}', 0, 'submitting', 1, 1, 1, 0, {}, NULL, NULL, NULL, {NOW}, {NOW}",
                        NOW + 60_000
                    )
                }),
                "Index Scan using payments_pkey",
            ),
            (
                "wallets_held",
                postgres_statement(HELD_HEAD, HELD_ROW, HELD_TAIL, 16),
                sixteen(&|n| format!("'momo', '09{n:08}', '2026-12'")),
                "Index Scan using wallet_reservations_wallet",
            ),
        ];
        for (what, statement, arguments, _) in &statements {
            for pinned in [false, true] {
                let name = format!("{what}_{pinned}");
                connection
                    .execute(format!("PREPARE {name} AS {statement}").as_str())
                    .await
                    .unwrap();
                plan(&mut connection, &name, arguments, pinned).await;
            }
        }
        fill(&mut connection, 101, 20_000).await;
        for (what, _, arguments, index) in &statements {
            let unpinned = plan(&mut connection, &format!("{what}_false"), arguments, false).await;
            assert!(
                ["Seq Scan", "Sort", "Bitmap", "Hash"]
                    .iter()
                    .any(|whole| unpinned.contains(whole)),
                "{what}: the plan made for 100 rows reads all 20,000 (what this guards against):\n{unpinned}"
            );
            let pinned = plan(&mut connection, &format!("{what}_true"), arguments, true).await;
            for whole in ["Seq Scan", "Sort", "Bitmap", "Hash", "Merge"] {
                assert!(!pinned.contains(whole), "{what}: pinned, no {whole}:\n{pinned}");
            }
            assert!(pinned.contains(index), "{what}: pinned, through {index}:\n{pinned}");
        }

        let in_a_group_commit = store
            .write("any", |connection, _| seqscan_setting(connection))
            .await
            .unwrap();
        assert_eq!(in_a_group_commit, "off", "a group commit's transaction is pinned");
        let outside: String = sqlx::query_scalar("SELECT current_setting('enable_seqscan')")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(outside, "on", "the pin ends with the transaction");

        connection.close().await.unwrap();
        drop(store);
        server
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await
            .unwrap();
    }
}
