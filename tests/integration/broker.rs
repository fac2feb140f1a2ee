//! The broker drops the gateway's connections while orders are in flight: the consumer and
//! the relay reconnect on fresh channels, and every order still ends paid once.

use std::time::Duration;

use gateway::payment::ResultStatus;
use sandbox_kit::Faults;

use crate::support::{bank_order, Db, TestStack, HOLDER};

crate::on_both_databases!(the_gateway_reconnects_after_the_broker_drops_its_connections);

/// `(status, body)` of `GET <base>/<path>`.
async fn get(base: &str, path: &str) -> (u16, String) {
    let answer = reqwest::get(format!("{base}/{path}"))
        .await
        .expect("the gateway answers");
    (answer.status().as_u16(), answer.text().await.unwrap_or_default())
}

/// Waits (up to 20 s) until the gateway at `base` takes orders and sends results.
async fn orders_side_ready(base: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while get(base, "readyz/orders").await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "connected within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

crate::bounded_test! {
    /// `/readyz` stays 200 without the broker (callbacks are taken without it), and nothing
    /// said that orders were not: `/readyz/orders` does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readyz_orders_says_whether_orders_are_taken_and_results_sent() {
        let stack = TestStack::start(Db::Sqlite).await;
        let base = stack.gateway_url();
        orders_side_ready(&base).await;

        // A gateway on the same store whose broker cannot be reached.
        let mut settings = stack.settings.clone();
        settings.http.listen = "127.0.0.1:0".to_string();
        let port = gateway::demo::stack::free_port().expect("a free port");
        settings.amqp.url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f").into();
        let cut_off = gateway::app::RunningGateway::start(settings).await.expect("it starts");
        let cut_off_base = format!("http://{}", cut_off.http_address);
        // Until the first attempts fail, both are "not connected yet"; then both say why.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let why = loop {
            let (status, why) = get(&cut_off_base, "readyz/orders").await;
            assert_eq!(status, 503, "{why}");
            if why.matches("retrying").count() == 2 {
                break why;
            }
            assert!(tokio::time::Instant::now() < deadline, "both failed to connect within 20 s: {why}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            why.contains("the orders consumer: not consuming orders")
                && why.contains("the outbox relay: not publishing results"),
            "{why}"
        );
        assert_eq!(get(&cut_off_base, "readyz").await.0, 200, "callbacks are taken");
        cut_off.stop().await;
        stack.stop().await;
    }
}

crate::bounded_test! {
    /// A relay with nothing to send never looked at its connection: one the broker closed
    /// meanwhile was found only when the next result waited on it, and `/readyz/orders` said
    /// it was publishing all along. It now connects again while idle.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_relay_whose_connection_was_closed_connects_again() {
        let stack = TestStack::start(Db::Sqlite).await;
        let base = stack.gateway_url();
        orders_side_ready(&base).await;
        let needle = format!("payout-gateway/relay ({})", stack.settings.amqp.orders_queue);
        let before = connection_pids(&needle).await;
        assert_eq!(before.len(), 1, "{before:?}");
        assert_eq!(close_connections(&needle).await, 1);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let now = connection_pids(&needle).await;
            if now.iter().any(|pid| !before.contains(pid)) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the idle relay connected again within 15 s: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stack.stop().await;
    }
}

crate::bounded_test! {
    /// The consumer's reconnect wait started over only once the store took an order, so with
    /// the orders queue empty (most of the month) each connection the broker dropped doubled
    /// it: from the seventh on, every broker blip kept orders out for 30 s. A session the broker
    /// ended after it had been consuming now starts the waits over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_consumer_dropped_again_and_again_reconnects_within_the_first_wait() {
        let stack = TestStack::start(Db::Sqlite).await;
        orders_side_ready(&stack.gateway_url()).await;
        let needle = format!("payout-gateway/orders ({})", stack.settings.amqp.orders_queue);
        for drop in 1..=8 {
            let before = connection_pids(&needle).await;
            assert_eq!(close_connections(&needle).await, 1, "drop {drop}");
            let dropped_at = tokio::time::Instant::now();
            loop {
                let now = connection_pids(&needle).await;
                if now.iter().any(|pid| !before.contains(pid)) {
                    break;
                }
                assert!(
                    dropped_at.elapsed() < Duration::from_secs(8),
                    "drop {drop}: the consumer connected again within 8 s (the first wait is 0.5 s)"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        stack.stop().await;
    }
}

/// The broker's ids (Erlang pids) of the open connections whose name contains `needle`.
async fn connection_pids(needle: &str) -> Vec<String> {
    let listing = tokio::process::Command::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties", "-q"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter(|line| line.contains(needle))
        .filter_map(|line| line.split('\t').next())
        .map(str::to_string)
        .collect()
}

/// Asks RabbitMQ to close every connection whose name contains `needle`; returns how many.
async fn close_connections(needle: &str) -> usize {
    let mut closed = 0;
    for pid in connection_pids(needle).await {
        let status = tokio::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid.as_str(), "closed by the broker test"])
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
    // Both reconnected, and `/readyz/orders` says so (their old runs' marks did not linger).
    let (status, why) = get(&stack.gateway_url(), "readyz/orders").await;
    assert_eq!(status, 200, "{why}");
    stack.stop().await;
}
