//! Batch manifests end to end: control totals checked against the orders that arrived, one
//! batch result per batch on `payments.results` (`batch.<status>`), the same differences in
//! `gateway batches show`, and invalid or conflicting manifests dead-lettered.

use std::time::Duration;

use futures_lite::StreamExt;
use gateway::app::RunningGateway;
use gateway::batch::{render_show, BatchSettings, BatchView};
use gateway::payment::ResultStatus;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::support::{bank_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    a_batch_with_one_order_missing_and_one_amount_altered_reports_exactly_those_two_differences,
    a_clean_batch_whose_manifest_comes_first_is_balanced_and_a_repeated_manifest_is_a_duplicate_or_a_conflict,
    an_invalid_manifest_is_rejected_with_its_code_and_dead_lettered,
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
