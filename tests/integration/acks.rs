//! Every order the gateway took is acked (a window of them at a time, `multiple = true`): once
//! the gateway has stopped, nothing it claimed is left in the orders queue to be redelivered.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

use crate::support::{bank_order, Db, TestStack, HOLDER};

crate::on_both_databases!(after_a_stop_no_taken_order_waits_in_the_queue);

async fn after_a_stop_no_taken_order_waits_in_the_queue(db: Db) {
    let mut stack = TestStack::start(db).await;
    let orders: Vec<_> = (0..40).map(|i| bank_order(700_000 + i * 1_000)).collect();
    for (index, order) in orders.iter().enumerate() {
        stack.open_bank_account(order, HOLDER);
        if index % 10 == 3 {
            // An invalid one in between: it is refused, dead-lettered and acked too.
            stack.publish_raw(b"{\"order_id\": 42}", &format!("bad-{index}")).await;
        }
        stack.publish(order).await;
    }
    for order in &orders {
        let order_id = order["order_id"].as_str().unwrap_or_default();
        stack.wait_for(order_id, |m| m.is_final, Duration::from_secs(30)).await;
    }
    // Stopping closes the consumer's channel: whatever it had not acked goes back to the queue.
    if let Some(gateway) = stack.gateway.take() {
        gateway.stop().await;
    }
    let connection = gateway::amqp::connect(&stack.settings.amqp, "acks-test")
        .await
        .expect("RabbitMQ answers");
    let channel = connection.create_channel().await.expect("a channel");
    let queue = channel
        .queue_declare(
            stack.settings.amqp.orders_queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the orders queue exists");
    assert_eq!(queue.message_count(), 0, "every taken order was acked");
    let _ = connection.close(200, "done".into()).await;
    stack.stop().await;
}
