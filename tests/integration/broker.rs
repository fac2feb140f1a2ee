//! The broker drops the gateway's connections while orders are in flight: the consumer and
//! the relay reconnect on fresh channels, and every order still ends paid once.

use std::time::Duration;

use gateway::payment::ResultStatus;
use sandbox_kit::Faults;

use crate::support::{bank_order, Db, TestStack, HOLDER};

crate::on_both_databases!(the_gateway_reconnects_after_the_broker_drops_its_connections);

/// Asks RabbitMQ to close every connection whose name contains `needle`; returns how many.
async fn close_connections(needle: &str) -> usize {
    let listing = tokio::process::Command::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties", "-q"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    let text = String::from_utf8_lossy(&listing.stdout);
    let mut closed = 0;
    for line in text.lines().filter(|line| line.contains(needle)) {
        let Some(pid) = line.split('\t').next() else { continue };
        let status = tokio::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "closed by the broker test"])
            .status()
            .await
            .expect("rabbitmqctl runs");
        closed += usize::from(status.success());
    }
    closed
}

async fn the_gateway_reconnects_after_the_broker_drops_its_connections(db: Db) {
    let mut stack = TestStack::start(db).await;
    stack.set_bank_faults(Faults {
        latency_ms: 100,
        ..Faults::default()
    });
    let orders: Vec<_> = (0..12).map(|i| bank_order(600_000 + i)).collect();
    for order in &orders[..6] {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    let first = orders[0]["order_id"].as_str().unwrap();
    stack
        .wait_for(first, |m| m.status == ResultStatus::Accepted, Duration::from_secs(20))
        .await;

    let queue = stack.settings.amqp.orders_queue.clone();
    let mut closed = 0;
    for role in ["orders", "relay"] {
        closed += close_connections(&format!("payout-gateway/{role} ({queue})")).await;
    }
    assert_eq!(closed, 2, "the consumer's and the relay's connections were closed");
    for order in &orders[6..] {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    for order in &orders {
        let order_id = order["order_id"].as_str().unwrap();
        let result = stack.final_result(order_id).await;
        assert_eq!(result.status, ResultStatus::Succeeded, "{order_id}");
        assert_eq!(stack.credits(order_id), 1, "{order_id} credited once");
    }
    stack.stop().await;
}
