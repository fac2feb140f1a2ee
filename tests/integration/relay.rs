//! The outbox relay keeps publishing past messages it cannot publish as they are, parts
//! that die are started again (and `/readyz` says so meanwhile), old rows are pruned, and the
//! HTTP listener lets go of clients that stall.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gateway::config::DatabaseSettings;
use gateway::payment::ResultStatus;
use gateway::store::{now_ms, OutboxKind, OutboxWalk, Store};
use gateway::supervise::{supervise, Readiness, RestartDelay};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::support::{bank_order, drop_database, fresh_database, test_settings, Db, TestStack, HOLDER};

crate::on_both_databases!(
    poison_orders_are_dead_lettered_and_the_orders_behind_them_get_their_results,
    a_message_goes_out_without_its_outbox_row_being_rewritten,
    a_message_the_broker_cannot_route_is_parked_and_the_messages_behind_it_go_out,
    in_a_round_of_routed_and_returned_messages_exactly_the_returned_ones_are_refused,
    a_broker_that_refuses_messages_for_a_while_gets_them_all_afterwards_and_parks_none,
    pruning_deletes_only_published_rows_and_callback_ids_past_their_retention,
    releasing_a_parked_row_named_twice_releases_it_and_says_so,
    parking_a_row_that_no_longer_waits_parks_nothing_and_says_so,
);

/// Polls `check` until it holds (for state that has no event to await), or fails after 30 s.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn poison_orders_are_dead_lettered_and_the_orders_behind_them_get_their_results(db: Db) {
    let mut stack = TestStack::start(db).await;
    // 64 characters (what the rejection keeps of an id) but 256 bytes.
    let mut emoji = bank_order(500_000);
    let emoji_id = "😀".repeat(64);
    emoji["order_id"] = json!(emoji_id);
    let emoji_body = serde_json::to_vec(&emoji).unwrap();
    stack.publish_raw(&emoji_body, &format!("emoji-{}", stack.run_id)).await;
    // No readable id in the body, and the longest message id AMQP allows.
    let long_message_id = format!("{}-{}", stack.run_id, "x".repeat(255 - stack.run_id.len() - 1));
    assert_eq!(long_message_id.len(), 255);
    let unreadable_body = b"{\"order_id\": 7, \"amount\": ".to_vec();
    stack.publish_raw(&unreadable_body, &long_message_id).await;

    let order = bank_order(500_000);
    stack.open_bank_account(&order, HOLDER);
    stack.publish(&order).await;
    let result = stack.final_result(order["order_id"].as_str().unwrap()).await;
    assert_eq!(result.status, ResultStatus::Succeeded);

    // The rejection keeps the whole id in its body (its AMQP ids are cut to fit).
    assert_eq!(stack.final_result(&emoji_id).await.status, ResultStatus::Rejected);
    let mut dead_bodies = Vec::new();
    for _ in 0..2 {
        let dead = stack.next_dead_letter().await;
        assert_eq!(
            dead.headers.get("x-gateway-reason").map(String::as_str),
            Some("invalid")
        );
        dead_bodies.push(dead.body);
    }
    assert!(dead_bodies.contains(&emoji_body), "the emoji order is dead-lettered");
    assert!(
        dead_bodies.contains(&unreadable_body),
        "the unreadable order is dead-lettered"
    );
    stack.stop().await;
}

/// The outbox is only appended to: the relay leases and marks the narrow `outbox_waiting`
/// rows, never a message's own row (each rewrite of it was a dead row version on PostgreSQL,
/// body included, and what made the server's CPU per order grow with the run). Here the
/// database refuses any update of an outbox row, and orders are still paid and their results
/// all published.
async fn a_message_goes_out_without_its_outbox_row_being_rewritten(db: Db) {
    let mut stack = TestStack::start(db).await;
    let pool = raw_database(&stack.settings.database.url).await;
    let refuse_updates = match db {
        Db::Sqlite => vec![
            "CREATE TRIGGER outbox_append_only BEFORE UPDATE ON outbox \
             BEGIN SELECT RAISE(ABORT, 'outbox rows are only appended'); END",
        ],
        Db::Postgres => vec![
            "CREATE FUNCTION outbox_append_only() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'outbox rows are only appended'; END $$",
            "CREATE TRIGGER outbox_append_only BEFORE UPDATE ON outbox \
             FOR EACH ROW EXECUTE FUNCTION outbox_append_only()",
        ],
    };
    for statement in refuse_updates {
        pool.execute(statement).await.expect("the trigger is created");
    }

    let orders: Vec<_> = (1..=3).map(|n| bank_order(100_000 * n)).collect();
    for order in &orders {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    for order in &orders {
        let result = stack.final_result(order["order_id"].as_str().unwrap()).await;
        assert_eq!(result.status, ResultStatus::Succeeded);
    }
    let store = stack.gateway.as_ref().unwrap().store.clone();
    eventually("every message is published", || async {
        store.unpublished_count().await.unwrap() == 0
    })
    .await;
    let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        written >= 9,
        "accepted, pending and succeeded for each order: {written}"
    );
    pool.close().await;
    stack.stop().await;
}

/// A store on a fresh database, and a pool of its own on the same database for looking at rows.
async fn store_and_raw_pool(db: Db, run_id: &str) -> (Store, AnyPool) {
    let url = fresh_database(db, run_id).await;
    let store = Store::connect(&DatabaseSettings {
        url: url.clone(),
        max_connections: 2,
        writer_thread: true,
        writers: 2,
    })
    .await
    .unwrap();
    (store, raw_database(&url).await)
}

/// A second connection to the gateway's database, for rows no gateway code would write.
pub(crate) async fn raw_database(url: &SecretString) -> AnyPool {
    sqlx::any::install_default_drivers();
    let sqlite = url.expose_secret().starts_with("sqlite:");
    AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                if sqlite {
                    connection.execute("PRAGMA busy_timeout = 5000;").await?;
                }
                Ok(())
            })
        })
        .connect(url.expose_secret())
        .await
        .expect("the test database answers")
}

/// Writes a result row whose routing key no queue is bound to, waiting for the relay: the
/// broker returns it.
async fn insert_unroutable_result(pool: &AnyPool) {
    let inserted = insert_results(pool, &["nowhere.at.all"], "unroutable").await;
    assert_eq!(inserted.len(), 1);
}

/// Writes one result row per routing key, waiting for the relay, in one transaction (so that
/// a relay takes them in one round), with message ids `<prefix>:1`, `<prefix>-2:1`, … and
/// bodies of their own; returns their ids in the same order.
pub(crate) async fn insert_results(pool: &AnyPool, routing_keys: &[&str], prefix: &str) -> Vec<i64> {
    let mut transaction = pool.begin().await.expect("a transaction");
    let mut ids = Vec::with_capacity(routing_keys.len());
    for (index, routing_key) in routing_keys.iter().enumerate() {
        let message_id = match index {
            0 => format!("{prefix}:1"),
            _ => format!("{prefix}-{}:1", index + 1),
        };
        let properties = json!({
            "content_type": "application/json",
            "message_id": message_id,
            "correlation_id": null,
            "headers": {},
        });
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (kind, payment_id, routing_key, headers, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind("result")
        .bind(None::<String>)
        .bind(*routing_key)
        .bind(properties.to_string())
        .bind(json!({ "n": index }).to_string().into_bytes())
        .bind(chrono::Utc::now().timestamp_millis())
        .fetch_one(&mut *transaction)
        .await
        .expect("insert an outbox row");
        // SQLite's trigger has entered it as waiting already; the gateway's insert on PostgreSQL does.
        sqlx::query("INSERT INTO outbox_waiting (id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(id)
            .execute(&mut *transaction)
            .await
            .expect("enter the row as waiting");
        ids.push(id);
    }
    transaction.commit().await.expect("commit the rows");
    ids
}

/// The broker returns an unroutable message and then acks it, often together with routed
/// ones (`multiple`), and lapin hands the return to whichever of those confirms it completes
/// first. A round of routed and unroutable rows must still refuse exactly the unroutable ones:
/// a routed row taken as returned would be sent again, and — worse — an unroutable row taken
/// as routed would be marked published and its result never sent.
async fn in_a_round_of_routed_and_returned_messages_exactly_the_returned_ones_are_refused(db: Db) {
    let mut settings = test_settings();
    // Parked at the first refusal, so the parked rows are exactly the ones refused.
    settings.amqp.outbox_publish_attempts = 1;
    let stack = TestStack::start_with(db, settings, true).await;
    let store = stack.gateway.as_ref().unwrap().store.clone();
    let pool = raw_database(&stack.settings.database.url).await;
    let routing_keys: Vec<&str> = (0..300)
        .map(|index| match index % 3 {
            0 => "nowhere.at.all",
            _ => "result.bank_transfer.succeeded",
        })
        .collect();
    let ids = insert_results(&pool, &routing_keys, "mixed").await;
    let unroutable: std::collections::BTreeSet<i64> = ids
        .iter()
        .zip(&routing_keys)
        .filter(|(_, key)| key.starts_with("nowhere"))
        .map(|(id, _)| *id)
        .collect();

    eventually("every row is published or parked", || async {
        store.unpublished_count().await.unwrap() == 0
    })
    .await;
    let parked: std::collections::BTreeSet<i64> = store.parked(1_000).await.unwrap().iter().map(|row| row.id).collect();
    let published_but_unroutable: Vec<&i64> = unroutable.difference(&parked).collect();
    let parked_but_routed: Vec<&i64> = parked.difference(&unroutable).collect();
    assert!(
        published_but_unroutable.is_empty() && parked_but_routed.is_empty(),
        "marked published though returned: {published_but_unroutable:?}; refused though routed: {parked_but_routed:?}"
    );
    pool.close().await;
    stack.stop().await;
}

/// A queue that is full with `overflow = reject-publish` (or a quorum queue that lost its
/// majority) nacks every publish routed to it for as long as it lasts. That says nothing
/// against the rows: none may be parked for it (which would leave their results unsent until
/// someone released them by hand), the rows behind them — more than one round's worth back —
/// still go out meanwhile, and all go out once the broker takes messages again.
async fn a_broker_that_refuses_messages_for_a_while_gets_them_all_afterwards_and_parks_none(db: Db) {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions};
    use lapin::types::{AMQPValue, FieldTable};

    let mut settings = test_settings();
    settings.amqp.outbox_publish_attempts = 2;
    let stack = TestStack::start_with(db, settings, true).await;
    let store = stack.gateway.as_ref().unwrap().store.clone();
    let pool = raw_database(&stack.settings.database.url).await;
    // A second queue bound to the results, always full: every result routed to it is nacked.
    let connection = gateway::amqp::connect(&stack.settings.amqp, "full-queue-test")
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let full = format!("full-{}", stack.run_id);
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongInt(0));
    arguments.insert("x-overflow".into(), AMQPValue::LongString("reject-publish".into()));
    channel
        .queue_declare(full.as_str().into(), QueueDeclareOptions::default(), arguments)
        .await
        .unwrap();
    channel
        .queue_bind(
            full.as_str().into(),
            stack.settings.amqp.results_exchange.as_str().into(),
            "result.bank_transfer.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    // More nacked rows than one round takes (1,024), then rows no full queue is bound to.
    const NACKED: i64 = 1_100;
    let mut routing_keys = vec!["result.bank_transfer.succeeded"; NACKED as usize];
    routing_keys.extend(["result.vnpost_account.succeeded"; 5]);
    insert_results(&pool, &routing_keys, "refused-for-a-while").await;
    eventually("the rows behind the refused ones go out meanwhile", || async {
        store.unpublished_count().await.unwrap() == NACKED
    })
    .await;
    // Long enough for several more rounds of nacks (two refusals parked a row before).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        store.parked_count().await.unwrap(),
        0,
        "nothing parked for a full queue"
    );
    assert_eq!(
        store.unpublished_count().await.unwrap(),
        NACKED,
        "nothing nacked marked sent either"
    );

    channel
        .queue_delete(full.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    eventually("every row is published once the broker takes messages", || async {
        store.unpublished_count().await.unwrap() == 0
    })
    .await;
    assert_eq!(store.parked_count().await.unwrap(), 0);
    let _ = connection.close(200, "done".into()).await;
    pool.close().await;
    stack.stop().await;
}

async fn a_message_the_broker_cannot_route_is_parked_and_the_messages_behind_it_go_out(db: Db) {
    let mut settings = test_settings();
    settings.amqp.outbox_publish_attempts = 3;
    let mut stack = TestStack::start_with(db, settings, true).await;
    let store = stack.gateway.as_ref().unwrap().store.clone();
    let pool = raw_database(&stack.settings.database.url).await;
    insert_unroutable_result(&pool).await;

    let order = bank_order(500_000);
    stack.open_bank_account(&order, HOLDER);
    stack.publish(&order).await;
    let result = stack.final_result(order["order_id"].as_str().unwrap()).await;
    assert_eq!(result.status, ResultStatus::Succeeded);

    eventually("the unroutable message is parked", || async {
        store.parked_count().await.unwrap() == 1
    })
    .await;
    let parked = store.parked(10).await.unwrap();
    assert_eq!(parked.len(), 1);
    let row = &parked[0];
    assert_eq!(
        (row.kind, row.routing_key.as_str(), row.publish_attempts),
        (OutboxKind::Result, "nowhere.at.all", 3)
    );
    assert!(row.park_reason.contains("could not route"), "{}", row.park_reason);
    assert_eq!(row.message_id.as_deref(), Some("unroutable:1"));

    // Behind the parked message, the relay goes on; the parked one waits for a person.
    let later = bank_order(600_000);
    stack.open_bank_account(&later, HOLDER);
    stack.publish(&later).await;
    let result = stack.final_result(later["order_id"].as_str().unwrap()).await;
    assert_eq!(result.status, ResultStatus::Succeeded);
    eventually("everything but the parked message is published", || async {
        store.unpublished_count().await.unwrap() == 0
    })
    .await;
    let metrics = reqwest::get(format!("{}/metrics", stack.gateway_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("gateway_outbox_parked_total"), "{metrics}");
    assert!(
        metrics.contains("gateway_outbox_parked "),
        "the gauge is there: {metrics}"
    );

    // Released, it is tried again (and, still unroutable, parked again).
    assert_eq!(store.unpark(&[row.id]).await.unwrap(), 1);
    eventually("the released message is parked again", || async {
        store
            .parked(10)
            .await
            .unwrap()
            .first()
            .is_some_and(|again| again.parked_at > row.parked_at)
    })
    .await;
    pool.close().await;
    stack.stop().await;
}

/// Writes an outbox row as it stands once published, parked or still waiting for the relay
/// (in `outbox_waiting`), `age_days` old.
async fn insert_row(
    pool: &AnyPool,
    kind: &str,
    payment_id: Option<&str>,
    published: bool,
    parked: bool,
    age_days: i64,
) -> i64 {
    let at = now_ms() - age_days * 24 * 60 * 60 * 1000;
    // A payment's lines carry its claim time, as the gateway writes them (these payments were
    // all claimed at one instant, in November 2023).
    let payment_created_at = payment_id.map(|_| 1_700_000_000_000_i64);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (kind, payment_id, payment_created_at, routing_key, headers, body, created_at, \
         parked_at, park_reason) \
         VALUES ($1, $2, $3, 'result.bank_transfer.succeeded', '{}', $4, $5, $6, $7) RETURNING id",
    )
    .bind(kind)
    .bind(payment_id.map(str::to_string))
    .bind(payment_created_at)
    .bind(b"{}".to_vec())
    .bind(at)
    .bind(parked.then_some(at))
    .bind(parked.then(|| "the broker could not route it".to_string()))
    .fetch_one(pool)
    .await
    .expect("insert an outbox row");
    // SQLite's trigger enters every new row as waiting; the gateway's insert on PostgreSQL does.
    sqlx::query("DELETE FROM outbox_waiting WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .expect("clear the row's waiting state");
    if !published && !parked {
        sqlx::query("INSERT INTO outbox_waiting (id) VALUES ($1)")
            .bind(id)
            .execute(pool)
            .await
            .expect("enter the row as waiting");
    }
    id
}

async fn insert_callback_id(pool: &AnyPool, event_id: &str, age_days: i64) {
    sqlx::query("INSERT INTO callback_events (provider, event_id, payment_id, received_at) VALUES ($1, $2, $3, $4)")
        .bind("bank_transfer")
        .bind(event_id)
        .bind("p-1")
        .bind(now_ms() - age_days * 24 * 60 * 60 * 1000)
        .execute(pool)
        .await
        .expect("insert a callback id");
}

/// A prune now, at the default retention, through the rows `walk` names.
async fn prune_now(store: &Store, walk: OutboxWalk) -> gateway::store::PruneReport {
    let retention = gateway::config::RetentionSettings::default();
    store
        .prune(retention.prune_before(now_ms()), walk, &CancellationToken::new())
        .await
        .unwrap()
}

async fn pruning_deletes_only_published_rows_and_callback_ids_past_their_retention(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (store, pool) = store_and_raw_pool(db, &run_id).await;
    let retention = gateway::config::RetentionSettings::default();
    assert_eq!(
        (retention.outbox_published_days, retention.callback_events_days),
        (7, 35)
    );

    let old_result = insert_row(&pool, "result", Some("p-1"), true, false, 30).await;
    let latest_of_p1 = insert_row(&pool, "result", Some("p-1"), true, false, 20).await;
    let old_dead_letter = insert_row(&pool, "dead_letter", None, true, false, 30).await;
    let old_rejection = insert_row(&pool, "result", None, true, false, 8).await;
    let recent = insert_row(&pool, "result", Some("p-2"), true, false, 6).await;
    let unpublished = insert_row(&pool, "result", Some("p-3"), false, false, 30).await;
    let parked = insert_row(&pool, "dead_letter", Some("p-4"), false, true, 30).await;
    let old_of_p5 = insert_row(&pool, "result", Some("p-5"), true, false, 30).await;
    let unpublished_of_p5 = insert_row(&pool, "result", Some("p-5"), false, false, 30).await;
    insert_callback_id(&pool, "old", 36).await;
    insert_callback_id(&pool, "recent", 34).await;

    let report = prune_now(&store, OutboxWalk::Everything).await;
    assert_eq!((report.outbox_rows, report.callback_events), (4, 1));
    let mut left: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    left.sort_unstable();
    assert_eq!(
        left,
        vec![latest_of_p1, recent, unpublished, parked, unpublished_of_p5],
        "gone: {:?}",
        [old_result, old_dead_letter, old_rejection, old_of_p5]
    );
    let callbacks: Vec<String> = sqlx::query_scalar("SELECT event_id FROM callback_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(callbacks, vec!["recent".to_string()]);
    let again = prune_now(&store, OutboxWalk::Everything).await;
    assert_eq!(
        (again.outbox_rows, again.callback_events),
        (0, 0),
        "a second prune finds nothing"
    );

    // A prune from an earlier one's cut-off goes through only the rows written since: a row
    // older than that, deletable since (the parked one, sent by hand), waits for the next
    // walk over everything.
    sqlx::query("UPDATE outbox SET parked_at = NULL, park_reason = NULL WHERE id = $1")
        .bind(parked)
        .execute(&pool)
        .await
        .expect("the parked row is sent");
    let old_of_p7 = insert_row(&pool, "result", Some("p-7"), true, false, 20).await;
    insert_row(&pool, "result", Some("p-7"), true, false, 19).await;
    let earlier_cut_off = now_ms() - 25 * 24 * 60 * 60 * 1000;
    let since = prune_now(&store, OutboxWalk::From(earlier_cut_off)).await;
    assert_eq!(
        since.outbox_rows, 1,
        "only {old_of_p7}, written since the earlier cut-off"
    );
    let exists = |id: i64| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
    };
    assert_eq!(
        (exists(old_of_p7).await.unwrap(), exists(parked).await.unwrap()),
        (0, 1)
    );
    let everything = prune_now(&store, OutboxWalk::Everything).await;
    assert_eq!(everything.outbox_rows, 1, "the walk over everything takes {parked}");
    assert_eq!(exists(parked).await.unwrap(), 0);

    // At shutdown a prune stops between chunks: one asked to stop deletes nothing more.
    let old_of_p6 = insert_row(&pool, "result", Some("p-6"), true, false, 30).await;
    insert_row(&pool, "result", Some("p-6"), true, false, 29).await;
    insert_callback_id(&pool, "older", 40).await;
    let stopping = CancellationToken::new();
    stopping.cancel();
    let stopped = store
        .prune(retention.prune_before(now_ms()), OutboxWalk::Everything, &stopping)
        .await
        .unwrap();
    assert_eq!((stopped.outbox_rows, stopped.callback_events), (0, 0));
    let after = prune_now(&store, OutboxWalk::Everything).await;
    assert_eq!(
        (after.outbox_rows, after.callback_events),
        (1, 1),
        "{old_of_p6} goes at the next prune"
    );

    pool.close().await;
    drop(store);
    drop_database(db, &run_id).await;
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection of a stalled client")
        .expect("the connection reads");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A stack whose HTTP listener gives a client 300 ms for its headers and for its request.
async fn impatient_stack() -> TestStack {
    let mut settings = test_settings();
    settings.http.header_read_timeout_ms = 300;
    settings.http.request_timeout_ms = 300;
    TestStack::start_with(Db::Sqlite, settings, true).await
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_stalls_in_its_headers_is_disconnected() {
        let stack = impatient_stack().await;
        let mut stream = tokio::net::TcpStream::connect(&stack.settings.http.listen)
            .await
            .unwrap();
        stream
            .write_all(b"POST /callbacks/bank_transfer HTTP/1.1\r\nHost: gateway\r\nContent-Ty")
            .await
            .unwrap();
        let answer = read_to_close(&mut stream).await;
        assert!(!answer.contains("200 OK"), "no request was served: {answer}");
        stack.stop().await;
    }
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_stalls_in_its_body_gets_408_and_is_disconnected() {
        let stack = impatient_stack().await;
        let mut stream = tokio::net::TcpStream::connect(&stack.settings.http.listen)
            .await
            .unwrap();
        stream
            .write_all(
                b"POST /callbacks/bank_transfer HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"type\":",
            )
            .await
            .unwrap();
        let answer = read_to_close(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "answered {answer}");
        stack.stop().await;
    }
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_part_that_panics_is_started_again_and_readyz_names_it_meanwhile() {
        let run_id = gateway::demo::stack::new_run_id();
        let url = fresh_database(Db::Sqlite, &run_id).await;
        let store = Store::connect(&DatabaseSettings {
            url,
            max_connections: 1,
            writer_thread: true,
            writers: 2,
        })
        .await
        .unwrap();
        let readiness = Readiness::new();
        let state = gateway::http::AppState {
            store,
            adapters: Arc::new(HashMap::new()),
            relay_wake: Arc::new(tokio::sync::Notify::new()),
            readiness: readiness.clone(),
            links: gateway::amqp::links::BrokerLinks::default(),
            pending_poll_after_ms: 1_000,
            review_inquiry_after_ms: 1_000,
            store_answer_within: gateway::http::health::store_answer_within(10_000),
        };
        let shutdown = CancellationToken::new();
        let (address, server) = gateway::http::serve("127.0.0.1:0", gateway::http::router(state, 1024), shutdown.clone())
            .await
            .unwrap();
        let readyz = || async move {
            let answer = reqwest::get(format!("http://{address}/readyz")).await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        };
        assert_eq!(readyz().await.0, 503, "not ready before it started");

        let mut changes = readiness.subscribe();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let (restarted, mut restarted_events) = tokio::sync::mpsc::unbounded_channel();
        let delay = RestartDelay {
            first: Duration::from_secs(2),
            max: Duration::from_secs(2),
        };
        let part_shutdown = CancellationToken::new();
        let supervisor = supervise("relay", readiness.clone(), delay, part_shutdown.clone(), move |token| {
            let run = counter.fetch_add(1, Ordering::SeqCst);
            let restarted = restarted.clone();
            async move {
                assert!(run > 0, "the first run of the relay dies");
                let _ = restarted.send(());
                token.cancelled().await;
            }
        });
        readiness.mark_started();
        changes
            .wait_for(|state| state.down.contains_key("relay"))
            .await
            .unwrap();
        let (status, body) = readyz().await;
        assert_eq!(status, 503);
        assert!(
            body.contains("the relay is down") && body.contains("panicked"),
            "{body}"
        );

        restarted_events.recv().await.expect("the relay is started again");
        changes.wait_for(|state| state.down.is_empty()).await.unwrap();
        assert_eq!(readyz().await, (200, "ready".to_string()));

        part_shutdown.cancel();
        supervisor.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        shutdown.cancel();
        server.await.unwrap();
        drop_database(Db::Sqlite, &run_id).await;
    }
}

crate::bounded_test! {
    /// On a PostgreSQL server without autovacuum (this machine's), the gateway vacuums its busy
    /// tables itself; with autovacuum on, it leaves them to the server. Unvacuumed, a province run
    /// fell from about 330 to under 100 orders/s as the leases stepped over dead row versions.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gateway_vacuums_its_tables_when_the_server_does_not() {
        let run_id = gateway::demo::stack::new_run_id();
        let (store, pool) = store_and_raw_pool(Db::Postgres, &run_id).await;
        let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(store.needs_own_vacuum().await.unwrap(), autovacuum == "off");

        let shutdown = CancellationToken::new();
        let vacuumer = tokio::spawn(gateway::vacuum::run(store.clone(), 100, shutdown.clone()));
        let vacuumed = || async {
            // The payments, and the relay's narrow table, which every message enters and leaves.
            let vacuumed: i64 = sqlx::query_scalar(
                "SELECT COUNT(last_vacuum) FROM pg_stat_user_tables WHERE relname IN ('payments', 'outbox_waiting')",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            vacuumed == 2
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(if autovacuum == "off" { 20 } else { 2 });
        while !vacuumed().await && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            vacuumed().await,
            autovacuum == "off",
            "vacuumed by the gateway exactly when the server's autovacuum is off"
        );
        shutdown.cancel();
        vacuumer.await.unwrap();
        drop((store, pool));
        drop_database(Db::Postgres, &run_id).await;
    }
}

/// `gateway outbox release 12 12` released the row, then compared 1 released with 2 ids and
/// said some were not parked (exit 2); and a negative `--limit` reached the SQL.
async fn releasing_a_parked_row_named_twice_releases_it_and_says_so(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let url = fresh_database(db, &run_id).await;
    let settings = DatabaseSettings {
        url: url.clone(),
        max_connections: 2,
        writer_thread: true,
        writers: 2,
    };
    let store = Store::connect(&settings).await.unwrap();
    let pool = raw_database(&url).await;
    let parked = insert_row(&pool, "result", Some("p-1"), false, true, 0).await;
    let parked = parked.to_string();
    let twice = crate::support::gateway_command(&["outbox", "release", &parked, &parked], url.expose_secret()).await;
    let stdout = String::from_utf8_lossy(&twice.stdout);
    assert_eq!(
        twice.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    assert!(stdout.contains("Released 1 of 1 rows"), "{stdout}");
    let negative = crate::support::gateway_command(&["outbox", "parked", "--limit", "-1"], url.expose_secret()).await;
    assert_eq!(negative.status.code(), Some(2), "a usage error");
    pool.close().await;
    drop(store);
    drop_database(db, &run_id).await;
}

/// A row that no longer waits (another gateway's relay published it after this one's lease
/// ran out) is not parked, and `park` says so, so that the relay neither logs a parked row at
/// error level nor counts one; a row still waiting is parked.
async fn parking_a_row_that_no_longer_waits_parks_nothing_and_says_so(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = crate::support::store_for_one_batch(db, &run_id).await;
    for amount in [500_000, 510_000] {
        crate::support::claim_fresh(&store, &settings, &bank_order(amount), "bank_transfer").await;
    }
    let rows = store
        .lease_unpublished(10, 60_000)
        .await
        .expect("the results are leased");
    assert_eq!(rows.len(), 2, "one accepted result each");
    store.mark_published(&[rows[0].id]).await.expect("marked");
    assert!(!store
        .park(rows[0].id, "test: published meanwhile")
        .await
        .expect("answered"));
    assert!(store.park(rows[1].id, "test: cannot be sent").await.expect("answered"));
    let parked: Vec<i64> = store
        .parked(10)
        .await
        .expect("listed")
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(parked, [rows[1].id]);
    drop(store);
    drop_database(db, &run_id).await;
}
