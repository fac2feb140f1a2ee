//! The outbox: result messages and dead letters written in the same transaction as the
//! state change they report, then published by the relay with publisher confirms.
//!
//! The outbox is only appended to (and pruned): a message's row is never rewritten on its way
//! out. What the relay has yet to publish is the narrow table `outbox_waiting` (an id and the
//! relay's lease), which the insert fills (see `appends`); a confirmed message's id is deleted
//! from it. On PostgreSQL every rewrite of a row is a dead version of it, body included, and
//! the relay's lease and mark used to leave two per message until the next vacuum.
//!
//! A row the broker will not take after a few tries is *parked* (`parked_at`, `park_reason`):
//! the relay goes on with the rows behind it, and ops see it in [`Store::parked`] and in
//! `gateway_outbox_parked`.

use sqlx::{AnyConnection, Connection, Row};

use super::appends::{Appends, OutboxRowToInsert, PaymentKey};
use super::index_plans::fetch_lease;
use super::multi_row::parameter_list;
use super::properties::result_message_id;
use super::{now_ms, Backend, Store, StoredProperties};
use crate::payment::ResultMessage;

/// Where an outbox row goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxKind {
    /// To the results exchange, with the row's routing key.
    Result,
    /// To the dead-letter queue, with the original order's bytes and properties.
    DeadLetter,
}

impl OutboxKind {
    fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Result => "result",
            OutboxKind::DeadLetter => "dead_letter",
        }
    }
}

/// One message waiting to be published.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: OutboxKind,
    pub routing_key: String,
    pub properties: StoredProperties,
    pub body: Vec<u8>,
}

/// Queues a result message: of `payment` (whose id is the message's), or of an order that
/// never became a payment.
pub(super) fn insert_result(
    appends: &mut Appends,
    message: &ResultMessage,
    payment: Option<PaymentKey<'_>>,
) -> Result<(), sqlx::Error> {
    debug_assert_eq!(message.payment_id.as_deref(), payment.map(|payment| payment.id));
    let body = serde_json::to_vec(message).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let properties = StoredProperties {
        content_type: Some("application/json".to_string()),
        message_id: Some(result_message_id(&message.order_id, message.seq)),
        correlation_id: Some(message.order_id.clone()),
        headers: Default::default(),
    };
    insert(
        appends,
        OutboxKind::Result,
        payment,
        &message.routing_key(),
        &properties,
        &body,
    );
    Ok(())
}

/// Queues a dead letter: the original bytes and properties plus the gateway's headers.
pub(super) fn insert_dead_letter(
    appends: &mut Appends,
    payment: Option<PaymentKey<'_>>,
    raw_message: &[u8],
    properties: &StoredProperties,
) {
    insert(appends, OutboxKind::DeadLetter, payment, "", properties, raw_message);
}

/// Queues a message, written with the rest of its transaction's appends.
pub(super) fn insert(
    appends: &mut Appends,
    kind: OutboxKind,
    payment: Option<PaymentKey<'_>>,
    routing_key: &str,
    properties: &StoredProperties,
    body: &[u8],
) {
    // The relay could not publish a property AMQP cannot carry; the body keeps the full values.
    let bounded = properties.bounded();
    if bounded != *properties {
        metrics::counter!("gateway_outbox_properties_cut_total").increment(1);
        tracing::warn!(
            kind = kind.as_str(),
            "An outbox message had AMQP properties too long to send; they were cut, and its body keeps them whole."
        );
    }
    appends.outbox(OutboxRowToInsert {
        kind: kind.as_str(),
        payment_id: payment.map(|payment| payment.id.to_string()),
        payment_created_at: payment.map(|payment| payment.created_at),
        routing_key: routing_key.to_string(),
        headers: bounded.to_json(),
        body: body.to_vec(),
        created_at: now_ms(),
    });
}

/// A payment's latest result, found through `outbox_payment` by its `created_at` and id.
const LATEST_RESULT: &str =
    "SELECT routing_key, headers, body, payment_created_at FROM outbox WHERE payment_created_at = \
     (SELECT created_at FROM payments WHERE payment_id = $1) AND payment_id = $1 AND kind = 'result' \
     ORDER BY id DESC LIMIT 1";

/// Queues again the latest result of a payment, for a duplicate delivery of its order.
/// Flushes `appends` first, so a result queued earlier in the same transaction counts; on
/// PostgreSQL waits for a change of the payment committing meanwhile, so its result counts too.
pub(super) async fn republish_latest_result(
    transaction: &mut AnyConnection,
    appends: &mut Appends,
    payment_id: &str,
) -> Result<bool, sqlx::Error> {
    appends.flush(transaction).await?;
    if Backend::of(transaction) == Backend::Postgres {
        // A change of the payment may be committing in another writer's transaction (or another
        // gateway's): its result is not seen yet, and a copy of the one before it, written after
        // it, would be the payment's newest row (what a later duplicate copies, what the prune
        // keeps). The change holds the payment's row until it commits; waiting for it here makes
        // the next statement see it. (SQLite's one writer runs changes one after another.)
        sqlx::query("SELECT 1 FROM payments WHERE payment_id = $1 FOR SHARE")
            .bind(payment_id)
            .fetch_optional(&mut *transaction)
            .await?;
    }
    let latest = sqlx::query(LATEST_RESULT)
        .bind(payment_id)
        .fetch_optional(&mut *transaction)
        .await?;
    let Some(row) = latest else { return Ok(false) };
    let routing_key: String = row.try_get("routing_key")?;
    let headers: String = row.try_get("headers")?;
    let body: Vec<u8> = row.try_get("body")?;
    let created_at: i64 = row.try_get("payment_created_at")?;
    insert(
        appends,
        OutboxKind::Result,
        Some(PaymentKey {
            id: payment_id,
            created_at,
        }),
        &routing_key,
        &StoredProperties::from_json(&headers),
        &body,
    );
    Ok(true)
}

/// A message the relay gave up on, for ops to look at (and release with [`Store::unpark`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParkedRow {
    pub id: i64,
    pub kind: OutboxKind,
    pub payment_id: Option<String>,
    pub routing_key: String,
    pub message_id: Option<String>,
    /// Publish attempts the broker refused (or the relay could not make).
    pub publish_attempts: i64,
    /// Why the last attempt failed, as a sentence.
    pub park_reason: String,
    /// Milliseconds since 1970.
    pub created_at: i64,
    pub parked_at: i64,
}

/// The rows the relay may lease: waiting (not published, not parked) and not leased by a
/// relay now; on `outbox_waiting` (named `$table`), with `$now` the parameter of the time now.
macro_rules! free_to_lease {
    ($table:literal, $now:literal) => {
        concat!(
            "(",
            $table,
            ".relay_lease_until IS NULL OR ",
            $table,
            ".relay_lease_until < ",
            $now,
            ")"
        )
    };
}

/// The relay's lease on PostgreSQL: `$1` the lease's end, `$2` now, `$3` how many rows. The
/// waiting rows are picked and locked once, in a materialised CTE, skipping rows another relay
/// holds (as `id IN (SELECT … FOR UPDATE SKIP LOCKED)` PostgreSQL ran the locking subquery
/// again and again: one lease took over 15 s of CPU on a 30,000-row outbox, and the other
/// gateway's relay waited behind its locks); only their narrow `outbox_waiting` rows are
/// updated, and the messages are read by id.
pub(super) const LEASE_POSTGRES: &str = concat!(
    "WITH picked AS MATERIALIZED ( \
         SELECT id AS picked_id FROM outbox_waiting WHERE ",
    free_to_lease!("outbox_waiting", "$2"),
    " ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED), \
     leased AS (UPDATE outbox_waiting SET relay_lease_until = $1 FROM picked WHERE id = picked_id \
         RETURNING id AS leased_id) \
     SELECT id, kind, routing_key, headers, body FROM outbox JOIN leased ON id = leased_id"
);

/// The relay's lease on SQLite, in two statements (its `UPDATE … RETURNING` reads one table):
/// the messages of the first `$2` free waiting rows (`$1` now), then the lease of the same rows
/// (`$1` the lease's end, `$2` now, `$3` how many). SQLite has one writer, and both run in one
/// write of the group commit, so nothing comes between them.
pub(super) const WAITING_SQLITE: &str = concat!(
    "SELECT o.id, o.kind, o.routing_key, o.headers, o.body FROM outbox_waiting w JOIN outbox o ON o.id = w.id \
     WHERE ",
    free_to_lease!("w", "$1"),
    " ORDER BY w.id LIMIT $2"
);
const LEASE_SQLITE: &str = concat!(
    "UPDATE outbox_waiting SET relay_lease_until = $1 WHERE id IN ( \
         SELECT id FROM outbox_waiting WHERE ",
    free_to_lease!("outbox_waiting", "$2"),
    " ORDER BY id LIMIT $3)"
);

/// Messages waiting for the relay (parked messages wait for a person, not in this table).
const UNPUBLISHED_COUNT: &str = "SELECT COUNT(*) FROM outbox_waiting";

/// Runs `statement` (which ends in `id IN`) on the rows `ids`, in chunks that stay under both
/// databases' limits on bound parameters; returns the rows changed.
async fn change_chunked(connection: &mut AnyConnection, statement: &str, ids: &[i64]) -> Result<u64, sqlx::Error> {
    const CHUNK: usize = 500;
    let mut changed = 0;
    for chunk in ids.chunks(CHUNK) {
        let sql = format!("{statement} ({})", parameter_list(connection, 0, chunk.len()));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        changed += query.execute(&mut *connection).await?.rows_affected();
    }
    Ok(changed)
}

/// Takes row `id` out of the relay's way (it was parked).
async fn stop_waiting(connection: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM outbox_waiting WHERE id = $1")
        .bind(id)
        .execute(connection)
        .await
        .map(drop)
}

fn outbox_kind(raw: &str) -> OutboxKind {
    if raw == "result" {
        OutboxKind::Result
    } else {
        OutboxKind::DeadLetter
    }
}

impl Store {
    /// The oldest messages not yet confirmed by the broker, in the order they were written;
    /// parked messages are left out.
    /// Leases them for `lease_ms`: another relay (another gateway on the same PostgreSQL)
    /// skips leased rows, so each row is published once unless a relay dies holding it or is
    /// blocked past the lease (a broker alarm); upstream deduplicates by `order_id` + `seq`.
    pub async fn lease_unpublished(&self, limit: i64, lease_ms: i64) -> Result<Vec<OutboxRow>, sqlx::Error> {
        let backend = self.backend();
        let mut rows = self
            .write_small("outbox", move |connection| {
                Box::pin(async move {
                    let now = now_ms();
                    match backend {
                        Backend::Postgres => {
                            let query = sqlx::query(LEASE_POSTGRES).bind(now + lease_ms).bind(now).bind(limit);
                            fetch_lease(connection, backend, query).await
                        }
                        Backend::Sqlite => {
                            let rows = sqlx::query(WAITING_SQLITE)
                                .bind(now)
                                .bind(limit)
                                .fetch_all(&mut *connection)
                                .await?;
                            sqlx::query(LEASE_SQLITE)
                                .bind(now + lease_ms)
                                .bind(now)
                                .bind(limit)
                                .execute(&mut *connection)
                                .await?;
                            Ok(rows)
                        }
                    }
                })
            })
            .await?;
        // The join has no order; results of one payment go out in the order they were written.
        rows.sort_by_key(|row| row.try_get::<i64, _>("id").unwrap_or(i64::MAX));
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let headers: String = row.try_get("headers")?;
                Ok(OutboxRow {
                    id: row.try_get("id")?,
                    kind: outbox_kind(&kind),
                    routing_key: row.try_get("routing_key")?,
                    properties: StoredProperties::from_json(&headers),
                    body: row.try_get("body")?,
                })
            })
            .collect()
    }

    /// Gives leased rows back at once (the relay lost its channel before they were confirmed),
    /// so they need not wait for the lease to run out.
    pub async fn release_outbox_leases(&self, ids: &[i64]) -> Result<(), sqlx::Error> {
        self.change_each("UPDATE outbox_waiting SET relay_lease_until = NULL WHERE id IN", ids)
            .await
    }

    /// Holds rows back from the relay until `until_ms` (milliseconds since 1970): the broker
    /// refused them for now, and the rows behind them go first.
    pub async fn defer_outbox(&self, ids: &[i64], until_ms: i64) -> Result<(), sqlx::Error> {
        let statement = format!("UPDATE outbox_waiting SET relay_lease_until = {until_ms} WHERE id IN");
        self.change_each(&statement, ids).await
    }

    /// Marks rows the broker confirmed: they wait no more. Their messages stay in the outbox as
    /// written (for a duplicate order's republish, and for ops) until the pruner deletes them.
    pub async fn mark_published(&self, ids: &[i64]) -> Result<(), sqlx::Error> {
        self.change_each("DELETE FROM outbox_waiting WHERE id IN", ids).await
    }

    /// Counts a failed publish of row `id`; at `max_attempts` failures the row is parked with
    /// `reason`. Returns true when this failure parked it.
    pub async fn record_publish_failure(&self, id: i64, reason: &str, max_attempts: i64) -> Result<bool, sqlx::Error> {
        let failure = std::sync::Arc::new((reason.to_string(), max_attempts.max(1)));
        self.write_small("outbox", move |connection| {
            let failure = failure.clone();
            Box::pin(async move {
                let (reason, max_attempts) = &*failure;
                // Atomic on its own on PostgreSQL; a savepoint inside SQLite's group commit.
                let mut transaction = connection.begin().await?;
                let parked_at: Option<Option<i64>> = sqlx::query_scalar(
                    "UPDATE outbox SET publish_attempts = publish_attempts + 1, \
                     parked_at = CASE WHEN publish_attempts + 1 >= $2 THEN $3 ELSE NULL END, park_reason = $4 \
                     WHERE id = $1 AND EXISTS (SELECT 1 FROM outbox_waiting w WHERE w.id = $1) RETURNING parked_at",
                )
                .bind(id)
                .bind(*max_attempts)
                .bind(now_ms())
                .bind(reason.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
                let parked = matches!(parked_at, Some(Some(_)));
                if parked {
                    stop_waiting(&mut transaction, id).await?;
                }
                transaction.commit().await?;
                Ok(parked)
            })
        })
        .await
    }

    /// Parks row `id` at once: it can never be published as it is (a failure that reaches
    /// any count of attempts). Returns false when the row no longer waits (another gateway's
    /// relay published it after this one's lease ran out): nothing was parked.
    pub async fn park(&self, id: i64, reason: &str) -> Result<bool, sqlx::Error> {
        self.record_publish_failure(id, reason, 1).await
    }

    /// Parked messages, oldest first, for an ops command to show.
    pub async fn parked(&self, limit: i64) -> Result<Vec<ParkedRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, kind, payment_id, routing_key, headers, publish_attempts, park_reason, created_at, parked_at \
             FROM outbox WHERE parked_at IS NOT NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let headers: String = row.try_get("headers")?;
                let reason: Option<String> = row.try_get("park_reason")?;
                Ok(ParkedRow {
                    id: row.try_get("id")?,
                    kind: outbox_kind(&kind),
                    payment_id: row.try_get("payment_id")?,
                    routing_key: row.try_get("routing_key")?,
                    message_id: StoredProperties::from_json(&headers).message_id,
                    publish_attempts: row.try_get("publish_attempts")?,
                    park_reason: reason.unwrap_or_default(),
                    created_at: row.try_get("created_at")?,
                    parked_at: row.try_get("parked_at")?,
                })
            })
            .collect()
    }

    /// How many messages are parked (the `gateway_outbox_parked` gauge).
    pub async fn parked_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE parked_at IS NOT NULL")
            .fetch_one(self.pool())
            .await
    }

    /// Gives parked rows back to the relay (after ops fixed what refused them), with a fresh
    /// count of attempts. Returns how many were released.
    pub async fn unpark(&self, ids: &[i64]) -> Result<u64, sqlx::Error> {
        let ids = std::sync::Arc::new(ids.to_vec());
        self.write_small("outbox", move |connection| {
            let ids = ids.clone();
            Box::pin(async move {
                // Atomic on its own on PostgreSQL; a savepoint inside SQLite's group commit.
                let mut transaction = connection.begin().await?;
                let waiting =
                    "INSERT INTO outbox_waiting (id) SELECT id FROM outbox WHERE parked_at IS NOT NULL AND id IN";
                change_chunked(&mut transaction, waiting, &ids).await?;
                let unparked = "UPDATE outbox SET parked_at = NULL, park_reason = NULL, publish_attempts = 0 \
                                WHERE parked_at IS NOT NULL AND id IN";
                let released = change_chunked(&mut transaction, unparked, &ids).await?;
                transaction.commit().await?;
                Ok(released)
            })
        })
        .await
    }

    /// Runs `statement` (which ends in `id IN`) on the rows `ids` in one write.
    async fn change_each(&self, statement: &str, ids: &[i64]) -> Result<(), sqlx::Error> {
        let ids = std::sync::Arc::new(ids.to_vec());
        let statement: std::sync::Arc<str> = statement.into();
        self.write_small("outbox", move |connection| {
            let (ids, statement) = (ids.clone(), statement.clone());
            Box::pin(async move { change_chunked(connection, &statement, &ids).await.map(drop) })
        })
        .await
    }

    /// How many messages wait to be published (for metrics and the demo's progress); parked
    /// messages wait for a person, not for the relay, and are not counted.
    pub async fn unpublished_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(UNPUBLISHED_COUNT).fetch_one(self.pool()).await
    }

    /// The newest message waiting for the relay (its row id), if any: with
    /// [`Store::unpublished_up_to`], what a stopping gateway waits for, not what other
    /// gateways on the same database write after it.
    pub async fn newest_unpublished(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT MAX(id) FROM outbox_waiting")
            .fetch_one(self.pool())
            .await
    }

    /// How many messages up to row `id` still wait for the relay.
    pub async fn unpublished_up_to(&self, id: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox_waiting WHERE id <= $1")
            .bind(id)
            .fetch_one(self.pool())
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::config::DatabaseSettings;

    /// The plan SQLite picks for `statement` (numeric parameters, the last one a limit), one
    /// line per step.
    async fn plan(store: &Store, statement: &str, parameters: usize) -> String {
        let sql = format!("EXPLAIN QUERY PLAN {statement}");
        let mut explain = sqlx::query(&sql);
        for _ in 1..parameters {
            explain = explain.bind(1_i64);
        }
        if parameters > 0 {
            explain = explain.bind(256_i64);
        }
        let rows = explain.fetch_all(store.pool()).await.unwrap();
        rows.iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The relay leases and counts through `outbox_waiting`, and reads a message by its id:
    /// were it to walk the outbox (every message ever written, until pruned), each lease would
    /// slow down with every order paid.
    #[tokio::test]
    async fn the_relay_reads_only_waiting_rows_on_sqlite() {
        let folder = std::env::temp_dir().join(format!("outbox-plan-{}", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}/gateway.db", folder.display());
        let store = Store::connect(&DatabaseSettings {
            url: url.into(),
            max_connections: 1,
            writer_thread: true,
            writers: 2,
        })
        .await
        .unwrap();
        for (statement, parameters) in [(WAITING_SQLITE, 2), (LEASE_SQLITE, 3), (UNPUBLISHED_COUNT, 0)] {
            let plan = plan(&store, statement, parameters).await;
            let walks_the_outbox = plan.lines().any(|line| {
                line == "SCAN o"
                    || line.starts_with("SCAN o ")
                    || (line.starts_with("SCAN outbox") && !line.starts_with("SCAN outbox_waiting"))
            });
            assert!(
                plan.contains("outbox_waiting") || plan.contains("SCAN w"),
                "{statement}\nis planned as\n{plan}"
            );
            assert!(!walks_the_outbox, "{statement}\nwalks the outbox:\n{plan}");
        }
        // The dispatcher's lease finds due payments by provider and due time.
        let statement = super::super::payments::lease_due_statement(Backend::Sqlite);
        let plan = plan(&store, &statement, 4).await;
        assert!(
            plan.contains("payments_provider_due"),
            "{statement}\nis planned as\n{plan}"
        );
        // A payment's lines are found by its claim time and id, not by a walk of the outbox or
        // of the event log.
        for (statement, index) in [
            (
                LATEST_RESULT.to_string(),
                "outbox_payment (payment_created_at=? AND payment_id=?)",
            ),
            (
                super::super::queries::EVENTS_OF_PAYMENT.to_string(),
                "payment_events_payment (payment_created_at=? AND payment_id=?)",
            ),
        ] {
            let planned = self::plan(&store, &statement, 1).await;
            assert!(planned.contains(index), "{statement}\nis planned as\n{planned}");
        }
        let _ = std::fs::remove_dir_all(folder);
    }
}
