//! Batch manifests end to end: control totals checked against the orders that arrived, one
//! batch result per batch on `payments.results` (`batch.<status>`), the same differences in
//! `gateway batches show`, and invalid or conflicting manifests dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use futures_lite::StreamExt;
use gateway::app::RunningGateway;
use gateway::batch::{
    assess, check, closer, render_show, BatchSettings, BatchStatus, BatchView, DifferenceKind, MAX_NAMED_EXTRA_ORDERS,
};
use gateway::intake::Intake;
use gateway::payment::ResultStatus;
use gateway::store::{now_ms, BatchRecord, Store, StoredProperties};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::mpsc;

use crate::support::{bank_order, test_settings, Db, TestStack, HOLDER};

crate::on_both_databases!(
    a_batch_with_one_order_missing_and_one_amount_altered_reports_exactly_those_two_differences,
    a_clean_batch_whose_manifest_comes_first_is_balanced_and_a_repeated_manifest_is_a_duplicate_or_a_conflict,
    an_invalid_manifest_is_rejected_with_its_code_and_dead_lettered,
    a_manifest_that_is_not_valid_json_as_a_whole_is_rejected_as_a_manifest_not_as_an_order,
    the_tallies_computed_in_sql_equal_the_check_of_every_order_and_read_a_bounded_number_of_rows,
    one_batch_that_cannot_be_checked_does_not_keep_the_others_from_closing,
    a_manifest_without_lines_counts_an_order_of_its_batch_refused_as_invalid_as_final,
    a_batch_counts_as_refused_its_orders_alone_and_one_refused_twice_once_a_copy_names_it,
);

/// A batch result as read from the results exchange.
struct BatchMessage {
    routing_key: String,
    message_id: String,
    body: Value,
}

/// Reads every `batch.#` message of the stack's results exchange through a queue of its own
/// (the stack's reader of the results queue only understands order results).
async fn listen_for_batches(stack: &TestStack) -> mpsc::UnboundedReceiver<BatchMessage> {
    let connection = gateway::amqp::connect(&stack.settings.amqp, "batch-test")
        .await
        .expect("RabbitMQ answers");
    let channel = connection.create_channel().await.expect("a channel");
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("a queue of the test's own");
    channel
        .queue_bind(
            queue.name().as_str().into(),
            stack.settings.amqp.results_exchange.as_str().into(),
            "batch.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bound to batch results");
    let mut consumer = channel
        .basic_consume(
            queue.name().as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _keep = (connection, channel);
        while let Some(Ok(delivery)) = consumer.next().await {
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            let message = BatchMessage {
                routing_key: delivery.routing_key.to_string(),
                message_id: delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                body: serde_json::from_slice(&delivery.data).unwrap_or(Value::Null),
            };
            if sender.send(message).is_err() {
                break;
            }
        }
    });
    receiver
}

async fn next_batch_message(receiver: &mut mpsc::UnboundedReceiver<BatchMessage>) -> BatchMessage {
    tokio::time::timeout(Duration::from_secs(60), receiver.recv())
        .await
        .expect("a batch result within 60 s")
        .expect("the batch reader runs")
}

/// Bank orders of one batch, their accounts open at the sandbox bank.
fn orders_of_batch(stack: &TestStack, batch_id: &str, amounts: &[u64]) -> Vec<Value> {
    amounts
        .iter()
        .map(|amount| {
            let mut order = bank_order(*amount);
            order["batch_id"] = json!(batch_id);
            stack.open_bank_account(&order, HOLDER);
            order
        })
        .collect()
}

/// The manifest that lists `orders` as they are.
fn manifest_of(batch_id: &str, orders: &[Value]) -> Value {
    let lines: Vec<Value> = orders
        .iter()
        .map(|order| json!({ "order_id": order["order_id"], "amount": order["amount"] }))
        .collect();
    let total: u64 = orders
        .iter()
        .map(|order| {
            order["amount"]
                .as_str()
                .and_then(|a| a.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    json!({
        "kind": "batch_manifest",
        "batch_id": batch_id,
        "program": "meritorious",
        "period": "2026-12",
        "commune_code": "12454",
        "order_count": orders.len(),
        "total_amount": total.to_string(),
        "created_at": "2026-11-28T08:00:00+07:00",
        "orders": lines
    })
}

async fn publish_manifest(stack: &TestStack, manifest: &Value) {
    let batch_id = manifest["batch_id"].as_str().unwrap_or_default();
    stack
        .publish_raw(&serde_json::to_vec(manifest).unwrap(), &format!("manifest-{batch_id}"))
        .await;
}

/// What `gateway batches show <batch_id>` prints, once the manifest is stored.
async fn shown(stack: &TestStack, batch_id: &str) -> String {
    let store = &stack.gateway.as_ref().unwrap().store;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let record = loop {
        if let Some(record) = store.batch(batch_id).await.unwrap() {
            break record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the manifest is stored within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let view = BatchView::load(store, record, BatchSettings::default().close_after_ms)
        .await
        .unwrap();
    render_show(&view)
}

async fn a_batch_with_one_order_missing_and_one_amount_altered_reports_exactly_those_two_differences(db: Db) {
    let mut stack = TestStack::start(db).await;
    let mut batches = listen_for_batches(&stack).await;
    let batch_id = format!("TB-2026-12-{}", stack.run_id);
    let orders = orders_of_batch(&stack, &batch_id, &[1_000_000, 2_000_000, 3_000_000]);
    let mut manifest = manifest_of(&batch_id, &orders);
    // The third order never comes, so the batch closes at its deadline.
    let deadline = chrono::Utc::now() + chrono::Duration::seconds(8);
    manifest["deadline"] = json!(deadline.to_rfc3339());
    let mut altered = orders[1].clone();
    altered["amount"] = json!("2500000");
    let (first_id, altered_id, missing_id) = (
        orders[0]["order_id"].as_str().unwrap().to_string(),
        orders[1]["order_id"].as_str().unwrap().to_string(),
        orders[2]["order_id"].as_str().unwrap().to_string(),
    );

    stack.publish(&orders[0]).await;
    stack.publish(&altered).await;
    publish_manifest(&stack, &manifest).await;
    assert_eq!(stack.final_result(&first_id).await.status, ResultStatus::Succeeded);
    assert_eq!(stack.final_result(&altered_id).await.status, ResultStatus::Succeeded);

    let message = next_batch_message(&mut batches).await;
    assert_eq!(message.routing_key, "batch.unbalanced");
    assert_eq!(message.message_id, format!("batch:{batch_id}"));
    let result = &message.body;
    assert_eq!(result["batch_id"], batch_id.as_str());
    assert_eq!(result["closed_by"], "deadline");
    assert_eq!(result["declared"], json!({ "orders": 3, "amount": 6_000_000 }));
    assert_eq!(result["received"], json!({ "orders": 2, "amount": 3_500_000 }));
    assert_eq!(result["succeeded"], json!({ "orders": 2, "amount": 3_500_000 }));
    assert_eq!(
        result["differences"],
        json!([
            { "kind": "missing_order", "order_id": missing_id, "declared": 3_000_000, "actual": null },
            { "kind": "amount_mismatch", "order_id": altered_id, "declared": 2_000_000, "actual": 2_500_000 }
        ]),
        "exactly the two differences"
    );

    let text = shown(&stack, &batch_id).await;
    assert!(text.contains("unbalanced (closed by its deadline"), "{text}");
    assert!(text.contains("2 of 3 declared orders final, 2 received"), "{text}");
    assert!(text.contains("differences (2):"), "{text}");
    let difference_lines: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.starts_with("differences"))
        .skip(1)
        .collect();
    assert_eq!(difference_lines.len(), 2, "{text}");
    assert!(difference_lines[0].contains("missing_order") && difference_lines[0].contains(&missing_id));
    assert!(difference_lines[0].contains("3.000.000 ₫"), "{text}");
    assert!(difference_lines[1].contains("amount_mismatch") && difference_lines[1].contains(&altered_id));
    assert!(difference_lines[1].contains("2.000.000 ₫") && difference_lines[1].contains("2.500.000 ₫"));

    // Published once, across a restart too: later checks find the batch closed.
    stack.gateway.take().unwrap().stop().await;
    stack.gateway = Some(RunningGateway::start(stack.settings.clone()).await.unwrap());
    let again = tokio::time::timeout(Duration::from_secs(6), batches.recv()).await;
    assert!(again.is_err(), "a second batch result came");
    stack.stop().await;
}

async fn a_clean_batch_whose_manifest_comes_first_is_balanced_and_a_repeated_manifest_is_a_duplicate_or_a_conflict(
    db: Db,
) {
    let mut stack = TestStack::start(db).await;
    let mut batches = listen_for_batches(&stack).await;
    let batch_id = format!("TB-2026-12-{}", stack.run_id);
    let orders = orders_of_batch(&stack, &batch_id, &[1_500_000, 2_789_000]);
    let manifest = manifest_of(&batch_id, &orders);

    publish_manifest(&stack, &manifest).await;
    let open = shown(&stack, &batch_id).await;
    assert!(open.contains("open (closes at"), "{open}");
    for order in &orders {
        stack.publish(order).await;
    }
    for order in &orders {
        let result = stack.final_result(order["order_id"].as_str().unwrap()).await;
        assert_eq!(result.status, ResultStatus::Succeeded);
    }
    let message = next_batch_message(&mut batches).await;
    assert_eq!(message.routing_key, "batch.balanced");
    assert_eq!(message.body["closed_by"], "complete");
    assert_eq!(message.body["differences"], json!([]));
    assert_eq!(message.body["succeeded"], json!({ "orders": 2, "amount": 4_289_000 }));
    let text = shown(&stack, &batch_id).await;
    assert!(
        text.contains("balanced (closed complete") && text.contains("no differences"),
        "{text}"
    );

    // The same manifest again is a duplicate, answered with the batch result again.
    publish_manifest(&stack, &manifest).await;
    let repeated = next_batch_message(&mut batches).await;
    assert_eq!(repeated.message_id, format!("batch:{batch_id}"));
    assert_eq!(repeated.body, message.body);
    // Another manifest under the same batch id is a conflict: dead-lettered, nothing changes.
    let mut other = manifest.clone();
    other["order_count"] = json!(1);
    other["total_amount"] = orders[0]["amount"].clone();
    other["orders"] = json!([manifest["orders"][0]]);
    publish_manifest(&stack, &other).await;
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("conflict")
    );
    assert_eq!(serde_json::from_slice::<Value>(&dead.body).unwrap(), other);
    let still = shown(&stack, &batch_id).await;
    assert!(still.contains("2 of 2 declared orders final"), "{still}");
    stack.stop().await;
}

async fn an_invalid_manifest_is_rejected_with_its_code_and_dead_lettered(db: Db) {
    let mut stack = TestStack::start(db).await;
    let mut batches = listen_for_batches(&stack).await;
    let batch_id = format!("TB-2026-12-{}", stack.run_id);
    let orders = orders_of_batch(&stack, &batch_id, &[1_000_000, 2_000_000]);
    let mut manifest = manifest_of(&batch_id, &orders);
    manifest["total_amount"] = json!("3000001");

    publish_manifest(&stack, &manifest).await;
    let message = next_batch_message(&mut batches).await;
    assert_eq!(message.routing_key, "batch.rejected");
    assert_eq!(message.body["batch_id"], batch_id.as_str());
    assert_eq!(message.body["status"], "rejected");
    assert_eq!(message.body["reason_code"], "manifest_total_mismatch");
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("invalid")
    );
    let detail = dead.headers.get("x-gateway-detail").cloned().unwrap_or_default();
    assert!(detail.starts_with("manifest_total_mismatch:"), "{detail}");
    assert_eq!(serde_json::from_slice::<Value>(&dead.body).unwrap(), manifest);
    let store = &stack.gateway.as_ref().unwrap().store;
    assert!(store.batch(&batch_id).await.unwrap().is_none(), "nothing recorded");

    // Orders on the same queue keep working.
    stack.publish(&orders[0]).await;
    let result = stack.final_result(orders[0]["order_id"].as_str().unwrap()).await;
    assert_eq!(result.status, ResultStatus::Succeeded);
    stack.stop().await;
}

async fn a_manifest_that_is_not_valid_json_as_a_whole_is_rejected_as_a_manifest_not_as_an_order(db: Db) {
    let mut stack = TestStack::start(db).await;
    let mut batches = listen_for_batches(&stack).await;
    let batch_id = format!("TB-2026-12-{}", stack.run_id);
    let orders = orders_of_batch(&stack, &batch_id, &[1_000_000]);
    let body = serde_json::to_string(&manifest_of(&batch_id, &orders)).unwrap();

    // The `kind` key twice: a manifest refused as `duplicate_field` on `batch.rejected`.
    let twice = body.replacen('{', r#"{"kind":"batch_manifest","#, 1);
    stack
        .publish_raw(twice.as_bytes(), &format!("manifest-{batch_id}"))
        .await;
    let message = next_batch_message(&mut batches).await;
    assert_eq!(message.routing_key, "batch.rejected");
    assert_eq!(message.body["batch_id"], batch_id.as_str());
    assert_eq!(message.body["reason_code"], "duplicate_field");
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("invalid")
    );
    let detail = dead.headers.get("x-gateway-detail").cloned().unwrap_or_default();
    assert!(detail.starts_with("duplicate_field:"), "{detail}");
    assert_eq!(dead.body, twice.as_bytes());

    // Bytes after the manifest: `malformed_json`, still naming the batch.
    let trailing = format!("{body} x");
    stack
        .publish_raw(trailing.as_bytes(), &format!("manifest-{batch_id}-2"))
        .await;
    let message = next_batch_message(&mut batches).await;
    assert_eq!(message.routing_key, "batch.rejected");
    assert_eq!(message.body["batch_id"], batch_id.as_str());
    assert_eq!(message.body["reason_code"], "malformed_json");

    // Neither was answered as an order (a `rejected` order result keyed on the message id).
    stack.drain_results(Duration::from_millis(500)).await;
    for message_id in [format!("manifest-{batch_id}"), format!("manifest-{batch_id}-2")] {
        assert!(
            !stack.seen.contains_key(&message_id),
            "{message_id} was answered as an order"
        );
    }
    let store = &stack.gateway.as_ref().unwrap().store;
    assert!(store.batch(&batch_id).await.unwrap().is_none(), "nothing recorded");
    stack.stop().await;
}

/// Takes every message in, many at a time (so the group commit batches them), as the consumer
/// would.
async fn take_all(intake: &Arc<Intake>, messages: Vec<Value>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (n, message) in messages.into_iter().enumerate() {
        let intake = intake.clone();
        tasks.spawn(async move {
            let message_id = message["order_id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("message-{n}"));
            let properties = StoredProperties {
                content_type: Some("application/json".into()),
                message_id: Some(message_id),
                ..StoredProperties::default()
            };
            intake
                .take(&serde_json::to_vec(&message).unwrap(), &properties)
                .await
                .unwrap();
        });
        if tasks.len() >= 256 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// Sets payments' states directly in the database, as if the dispatcher had moved them.
async fn set_states(stack: &TestStack, states: &[(String, &str)]) {
    let mut connection = sqlx::AnyConnection::connect(stack.settings.database.url.expose_secret())
        .await
        .unwrap();
    let mut transaction = connection.begin().await.unwrap();
    for (order_id, state) in states {
        let updated = sqlx::query("UPDATE payments SET state = $1 WHERE order_id = $2")
            .bind(*state)
            .bind(order_id.as_str())
            .execute(&mut *transaction)
            .await
            .unwrap();
        assert_eq!(updated.rows_affected(), 1, "{order_id}");
    }
    transaction.commit().await.unwrap();
    let _ = connection.close().await;
}

async fn stored_batch(store: &Store, batch_id: &str) -> BatchRecord {
    store.batch(batch_id).await.unwrap().expect("the manifest is stored")
}

async fn the_tallies_computed_in_sql_equal_the_check_of_every_order_and_read_a_bounded_number_of_rows(db: Db) {
    const LINES: usize = 3_000;
    const MISSING: usize = 5;
    const INVALID: usize = 5;
    const EXTRA: usize = MAX_NAMED_EXTRA_ORDERS + 20;
    let stack = TestStack::start_with(db, test_settings(), false).await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let intake = Arc::new(stack.intake(&store));
    let batch_id = format!("TB-2026-12-{}", stack.run_id);
    let order_id = |n: usize| format!("{batch_id}-{n:05}");

    // 3,000 declared orders: most arrive as declared, 6 with another amount, 5 refused as
    // invalid, 5 never; and 120 orders of the batch the manifest does not list.
    let mut orders = Vec::new();
    let mut lines = Vec::new();
    for n in 0..LINES {
        let amount = 100_000 + n as u64;
        lines.push(json!({ "order_id": order_id(n), "amount": amount }));
        if n >= LINES - MISSING {
            continue;
        }
        let mut order = bank_order(amount);
        order["order_id"] = json!(order_id(n));
        order["batch_id"] = json!(batch_id);
        if n % 500 == 7 {
            order["amount"] = json!((amount + 1).to_string());
        }
        if n >= LINES - MISSING - INVALID {
            order["amount"] = json!("not a number");
        }
        orders.push(order);
    }
    for n in 0..EXTRA {
        let mut order = bank_order(50_000);
        order["order_id"] = json!(format!("{batch_id}-X{n:04}"));
        order["batch_id"] = json!(batch_id);
        orders.push(order);
    }
    let total: u64 = (0..LINES as u64).map(|n| 100_000 + n).sum();
    let manifest = json!({
        "kind": "batch_manifest",
        "batch_id": batch_id,
        "program": "meritorious",
        "period": "2026-12",
        "commune_code": "12454",
        "order_count": LINES,
        "total_amount": total,
        "orders": lines
    });
    take_all(&intake, vec![manifest]).await;
    take_all(&intake, orders).await;

    // Every state an order can be in.
    let mut states = Vec::new();
    for n in 0..LINES - MISSING - INVALID {
        let state = match n % 6 {
            0 | 1 => "succeeded",
            2 => "failed",
            3 => "rejected",
            4 => "needs_review",
            _ => continue,
        };
        states.push((order_id(n), state));
    }
    for n in 0..EXTRA / 2 {
        states.push((format!("{batch_id}-X{n:04}"), "succeeded"));
    }
    set_states(&stack, &states).await;

    let record = stored_batch(&store, &batch_id).await;
    let declared = store.batch_declared(&record).await.unwrap();
    let every_order = store.batch_orders(&batch_id).await.unwrap();
    assert_eq!(every_order.len(), LINES - MISSING + EXTRA);
    for closing in [false, true] {
        let listed = check(&declared, &every_order, closing);
        let (facts, rows_read) = store.batch_facts_counting_rows(&record, closing).await.unwrap();
        let from_sql = assess(&facts, closing);
        assert_eq!(from_sql, listed, "closing: {closing}");
        // Rows for the states, the line counts, and the orders a difference names: not one per
        // order.
        let named = 6 + INVALID + MAX_NAMED_EXTRA_ORDERS + if closing { MISSING } else { 0 };
        assert!(
            rows_read <= 9 + 1 + named,
            "{rows_read} rows read for {} orders",
            every_order.len()
        );
    }
    let closing = assess(&store.batch_facts(&record, true).await.unwrap(), true);
    let count = |kind| closing.differences.iter().filter(|d| d.kind == kind).count();
    assert_eq!(count(DifferenceKind::MissingOrder), MISSING);
    assert_eq!(count(DifferenceKind::InvalidOrder), INVALID);
    assert_eq!(count(DifferenceKind::AmountMismatch), 6);
    assert_eq!(count(DifferenceKind::ExtraOrder), MAX_NAMED_EXTRA_ORDERS);
    let unnamed = closing
        .differences
        .iter()
        .find(|d| d.kind == DifferenceKind::ExtraOrders)
        .expect("the extra orders not named, counted");
    assert_eq!(unnamed.actual, Some((EXTRA - MAX_NAMED_EXTRA_ORDERS) as u64));
    assert_eq!(closing.received.orders, (LINES - MISSING - INVALID + EXTRA) as u64);
    assert_eq!(closing.invalid.orders, INVALID as u64);
    stack.stop().await;
}

async fn one_batch_that_cannot_be_checked_does_not_keep_the_others_from_closing(db: Db) {
    let stack = TestStack::start_with(db, test_settings(), false).await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let intake = Arc::new(stack.intake(&store));
    // The batch that cannot be checked is the older one, so it comes first in a round.
    let broken_id = format!("TB-2026-12-A{}", stack.run_id);
    let good_id = format!("TB-2026-12-B{}", stack.run_id);
    let mut ids = Vec::new();
    for batch_id in [&broken_id, &good_id] {
        let mut order = bank_order(1_000_000);
        order["batch_id"] = json!(batch_id);
        ids.push(order["order_id"].as_str().unwrap().to_string());
        take_all(&intake, vec![manifest_of(batch_id, std::slice::from_ref(&order))]).await;
        take_all(&intake, vec![order]).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A state the store cannot read makes the broken batch's check fail every time.
    set_states(
        &stack,
        &[(ids[0].clone(), "no_such_state"), (ids[1].clone(), "succeeded")],
    )
    .await;

    let closed = closer::check_open_batches(&store, &BatchSettings::default(), now_ms())
        .await
        .expect("a round goes on past a batch it cannot check");
    assert_eq!(closed, 1);
    assert_eq!(stored_batch(&store, &good_id).await.status, BatchStatus::Balanced);
    assert_eq!(stored_batch(&store, &broken_id).await.status, BatchStatus::Open);
    stack.stop().await;
}

/// A manifest without lines declares a count and a total only. An order that names the batch
/// and is refused as invalid has had its final `rejected` result: the batch closes once the
/// other orders are final too, not at its deadline a week later with that order "missing".
async fn a_manifest_without_lines_counts_an_order_of_its_batch_refused_as_invalid_as_final(db: Db) {
    let stack = TestStack::start_with(db, test_settings(), false).await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let intake = Arc::new(stack.intake(&store));
    let batch_id = format!("TB-2026-12-N{}", stack.run_id);
    let mut orders = Vec::new();
    for amount in ["1500000", "1500000.5"] {
        let mut order = bank_order(1_500_000);
        order["batch_id"] = json!(batch_id);
        order["amount"] = json!(amount);
        orders.push(order);
    }
    let mut manifest = manifest_of(&batch_id, &orders);
    manifest.as_object_mut().unwrap().remove("orders");
    manifest["total_amount"] = json!("3000000");
    take_all(&intake, vec![manifest]).await;
    take_all(&intake, orders.clone()).await;
    let valid = orders[0]["order_id"].as_str().unwrap().to_string();
    set_states(&stack, &[(valid, "succeeded")]).await;

    let record = stored_batch(&store, &batch_id).await;
    assert!(!record.has_lines);
    let open = assess(&store.batch_facts(&record, false).await.unwrap(), false);
    assert_eq!(open.invalid.orders, 1, "{open:?}");
    assert_eq!(open.final_orders, 2, "{open:?}");
    assert!(open.complete, "every order of the batch has its final result: {open:?}");
    // The list-based check (tools, tests) sees the same.
    let declared = store.batch_declared(&record).await.unwrap();
    let every_order = store.batch_orders(&batch_id).await.unwrap();
    assert_eq!(check(&declared, &every_order, false), open);

    let closed = closer::check_open_batches(&store, &BatchSettings::default(), now_ms())
        .await
        .unwrap();
    assert_eq!(closed, 1, "closed once complete, not at the deadline");
    let closing = assess(&store.batch_facts(&record, true).await.unwrap(), true);
    let kinds: Vec<DifferenceKind> = closing.differences.iter().map(|d| d.kind).collect();
    assert!(!kinds.contains(&DifferenceKind::MissingOrders), "{kinds:?}");
    // Nothing was paid for the invalid order: the total is short, and the refusal is a
    // difference of its own (a total made up by another order paid more would hide it).
    assert_eq!(
        kinds,
        vec![DifferenceKind::TotalMismatch, DifferenceKind::InvalidOrders]
    );
    assert_ne!(stored_batch(&store, &batch_id).await.status, BatchStatus::Open);
    stack.stop().await;
}

/// Two batches with manifests without lines. The first's manifest came first with its `kind`
/// misspelt, so it was refused down the order path: that is no order of the batch, and the
/// batch of one valid order paid is balanced (before, it counted as an order refused, and the
/// batch closed `unbalanced` with an invalid order and a shortfall). The second's invalid order
/// came first without its `batch_id`, then again with it: the batch counts it (before, the
/// first refusal's row was kept as it was, naming no batch, and the batch waited a week for it).
async fn a_batch_counts_as_refused_its_orders_alone_and_one_refused_twice_once_a_copy_names_it(db: Db) {
    let stack = TestStack::start_with(db, test_settings(), false).await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let intake = Arc::new(stack.intake(&store));
    let without_lines = |batch_id: &str, orders: &[Value], total: &str| {
        let mut manifest = manifest_of(batch_id, orders);
        manifest.as_object_mut().unwrap().remove("orders");
        manifest["total_amount"] = json!(total);
        manifest
    };
    let order_of = |batch_id: &str, amount: &str| {
        let mut order = bank_order(1_500_000);
        order["batch_id"] = json!(batch_id);
        order["amount"] = json!(amount);
        order
    };

    let misspelt_batch = format!("TB-2026-12-K{}", stack.run_id);
    let paid = order_of(&misspelt_batch, "1500000");
    let mut misspelt = without_lines(&misspelt_batch, std::slice::from_ref(&paid), "1500000");
    misspelt["kind"] = json!("batch_manifests");
    take_all(&intake, vec![misspelt]).await;
    take_all(
        &intake,
        vec![without_lines(&misspelt_batch, std::slice::from_ref(&paid), "1500000")],
    )
    .await;
    take_all(&intake, vec![paid.clone()]).await;
    set_states(&stack, &[(paid["order_id"].as_str().unwrap().to_string(), "succeeded")]).await;
    let record = stored_batch(&store, &misspelt_batch).await;
    let facts = assess(&store.batch_facts(&record, true).await.unwrap(), true);
    assert_eq!((facts.invalid.orders, facts.final_orders), (0, 1), "{facts:?}");
    assert!(facts.differences.is_empty(), "{facts:?}");

    let twice_batch = format!("TB-2026-12-T{}", stack.run_id);
    let valid = order_of(&twice_batch, "1500000");
    let invalid = order_of(&twice_batch, "1500000.5");
    let mut nameless = invalid.clone();
    nameless.as_object_mut().unwrap().remove("batch_id");
    take_all(&intake, vec![nameless]).await;
    take_all(&intake, vec![invalid.clone()]).await;
    take_all(
        &intake,
        vec![without_lines(&twice_batch, &[valid.clone(), invalid], "3000000")],
    )
    .await;
    take_all(&intake, vec![valid.clone()]).await;
    set_states(
        &stack,
        &[(valid["order_id"].as_str().unwrap().to_string(), "succeeded")],
    )
    .await;
    let record = stored_batch(&store, &twice_batch).await;
    let open = assess(&store.batch_facts(&record, false).await.unwrap(), false);
    assert_eq!((open.invalid.orders, open.final_orders), (1, 2), "{open:?}");
    assert!(open.complete, "the refused order is final: {open:?}");
    stack.stop().await;
}
