//! Two gateways on one PostgreSQL database and one set of queues share the work without
//! doing it twice: every order is paid once and every result row is published once.

use std::collections::HashMap;
use std::time::Duration;

use gateway::app::RunningGateway;
use gateway::payment::ResultStatus;

use crate::support::{bank_order, test_settings, Db, TestStack, HOLDER};

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_gateways_on_postgres_pay_each_order_once_and_publish_each_result_once() {
        let mut stack = TestStack::start_with(Db::Postgres, test_settings(), true).await;
        let mut second = stack.settings.clone();
        second.http.listen = "127.0.0.1:0".to_string();
        let second = RunningGateway::start(second).await.expect("a second gateway starts");

        let orders: Vec<_> = (0..120).map(|i| bank_order(300_000 + i * 1_000)).collect();
        for order in &orders {
            stack.open_bank_account(order, HOLDER);
            stack.publish(order).await;
        }
        for order in &orders {
            let order_id = order["order_id"].as_str().unwrap();
            let result = stack.final_result(order_id).await;
            assert_eq!(
                result.status,
                ResultStatus::Succeeded,
                "{order_id}: {:?}",
                result.reason
            );
        }
        stack.drain_results(Duration::from_secs(2)).await;

        let mut publishes: HashMap<(String, i64), usize> = HashMap::new();
        for (order_id, results) in &stack.seen {
            for result in results {
                *publishes.entry((order_id.clone(), result.seq)).or_default() += 1;
            }
        }
        let repeated: Vec<_> = publishes.iter().filter(|(_, count)| **count > 1).collect();
        assert!(repeated.is_empty(), "results published more than once: {repeated:?}");
        for order in &orders {
            let order_id = order["order_id"].as_str().unwrap();
            assert_eq!(stack.credits(order_id), 1, "{order_id} credited once");
        }
        second.stop().await;
        stack.stop().await;
    }
}
