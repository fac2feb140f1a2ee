//! Banks routed by BIN: the second bank of `config/default.toml` pays its own BIN, the
//! sponsor bank pays the rest, and a third bank joins by configuration alone. An order no
//! configured provider pays is refused at once.

use std::time::Duration;

use gateway::config::Settings;
use gateway::payment::ResultStatus;
use serde_json::Value;

use crate::support::{bank_order, test_settings, tuned_for_tests, wallet_order, Db, TestStack, HOLDER};

/// The provider whose sandbox ledger credited `order_id`.
fn paid_by(stack: &TestStack, order_id: &str) -> Vec<String> {
    stack
        .sandbox
        .kit
        .ledger
        .entries()
        .into_iter()
        .filter(|entry| entry.order_ref == order_id && entry.is_credited())
        .map(|entry| entry.provider)
        .collect()
}

fn order_at(bin: &str, amount: u64) -> Value {
    let mut order = bank_order(amount);
    order["destination"]["bank_bin"] = Value::from(bin);
    order
}

/// Publishes one order per BIN and returns each order's final status and the providers
/// whose ledger credited it.
async fn pay(stack: &mut TestStack, bins: &[&str]) -> Vec<(ResultStatus, Vec<String>)> {
    let orders: Vec<Value> = bins.iter().map(|bin| order_at(bin, 1_394_500)).collect();
    for order in &orders {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    let mut outcomes = Vec::new();
    for order in &orders {
        let order_id = order["order_id"].as_str().unwrap_or_default();
        let result = stack.wait_for(order_id, |m| m.is_final, Duration::from_secs(30)).await;
        outcomes.push((result.status, paid_by(stack, order_id)));
    }
    outcomes
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_bank_order_is_paid_by_the_bank_its_bin_routes_to() {
        let mut stack = TestStack::start(Db::Sqlite).await;
        // VietinBank (970415) is listed by [providers.bank_vietinbank]; Vietcombank (970436) and
        // BIDV (970418) are not, so the sponsor bank pays them through NAPAS.
        let outcomes = pay(&mut stack, &["970415", "970436", "970418"]).await;
        let expected = [
            (ResultStatus::Succeeded, vec!["bank_vietinbank".to_string()]),
            (ResultStatus::Succeeded, vec!["bank_transfer".to_string()]),
            (ResultStatus::Succeeded, vec!["bank_transfer".to_string()]),
        ];
        assert_eq!(outcomes, expected);
        stack.stop().await;
    }
}

crate::bounded_test! {
    /// A province with no MobiFone Money contract (no section for it): an order to a MobiFone
    /// wallet is a final `rejected`, `provider_not_configured`, and paid by nobody. (Before, it
    /// was claimed under a key no dispatcher loop steps: `accepted`, and then nothing for good.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_order_no_configured_provider_pays_is_rejected_at_once() {
        let mut settings = test_settings();
        settings
            .providers
            .remove("mobifone_money")
            .expect("config/default.toml configures MobiFone Money");
        let mut stack = TestStack::start_with(Db::Sqlite, settings, true).await;
        let order = wallet_order("mobifone_money", 500_000);
        let order_id = order["order_id"].as_str().unwrap_or_default().to_string();
        stack.publish(&order).await;
        let result = stack.wait_for(&order_id, |m| m.is_final, Duration::from_secs(30)).await;
        assert_eq!(
            (result.status, result.reason_code.as_deref()),
            (ResultStatus::Rejected, Some("provider_not_configured"))
        );
        assert!(paid_by(&stack, &order_id).is_empty());
        stack.stop().await;
    }
}

crate::bounded_test! {
    /// An order claimed while its provider was configured, delivered again once the section is
    /// gone (a redelivery, upstream sending it again): answered as the duplicate it is, with
    /// its latest result, not refused `provider_not_configured` with a dead letter for ops; and
    /// another order under its idempotency key is a conflict.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_order_claimed_before_its_provider_was_removed_is_still_a_duplicate() {
        let mut settings = test_settings();
        settings
            .providers
            .remove("mobifone_money")
            .expect("config/default.toml configures MobiFone Money");
        let stack = TestStack::start_with(Db::Sqlite, settings, false).await;
        let store = gateway::store::Store::connect(&stack.settings.database).await.unwrap();
        let order = wallet_order("mobifone_money", 500_000);
        crate::support::claim_fresh(&store, &stack.settings, &order, "mobifone_money").await;
        let order_id = stack.claim(&store, &order).await;

        let view = store.order_view(&order_id).await.unwrap().expect("the order is stored");
        assert!(
            view.results.iter().all(|result| result.status != ResultStatus::Rejected),
            "{:?}",
            view.results
        );
        let waiting = store.lease_unpublished(100, 60_000).await.unwrap();
        assert!(
            waiting.iter().all(|row| row.kind != gateway::store::OutboxKind::DeadLetter),
            "no dead letter for a duplicate"
        );
        assert!(
            waiting.len() >= 2,
            "the accepted result, and the same again for the duplicate: {}",
            waiting.len()
        );

        // Another order under the taken idempotency key is the conflict it is, as with any
        // provider (it was refused `provider_not_configured`, the key's reuse unsaid).
        let mut reused = order.clone();
        // The first order's key is its order id (it named none).
        reused["idempotency_key"] = serde_json::json!(order_id);
        reused["order_id"] = serde_json::json!(format!("{order_id}-other"));
        stack.claim(&store, &reused).await;
        let waiting = store.lease_unpublished(100, 60_000).await.unwrap();
        let reasons: Vec<&str> = waiting
            .iter()
            .filter(|row| row.kind == gateway::store::OutboxKind::DeadLetter)
            .filter_map(|row| row.properties.headers.get("x-gateway-reason").map(String::as_str))
            .collect();
        assert_eq!(reasons, ["conflict"]);
        stack.stop().await;
    }
}

/// A config folder holding the repository's `default.toml` and an environment file that
/// adds a third bank for BIDV's BIN, with its own secrets, and its emulation.
fn config_with_a_third_bank() -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("a temporary folder");
    std::fs::copy("config/default.toml", folder.path().join("default.toml")).expect("default.toml copies");
    let webhook_secret = "whsec_dGhpcmQtYmFuay13ZWJob29rLXNlY3JldA==";
    let third = format!(
        r#"
[providers.bank_bidv]
type = "bank_transfer"
bins = ["970418"]
base_url = "http://127.0.0.1:8090/bank_bidv"
client_id = "province-tb"
request_secret = "third-bank-request-secret"
webhook_secrets = ["{webhook_secret}"]
timeout_ms = 2000

[sandbox.providers.bank_bidv]
type = "bank_transfer"
request_secret = "third-bank-request-secret"
webhook_secret = "{webhook_secret}"
"#
    );
    std::fs::write(folder.path().join("third.toml"), third).expect("third.toml writes");
    folder
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_third_bank_is_added_by_configuration_alone() {
        let folder = config_with_a_third_bank();
        let settings = Settings::load_from(folder.path(), Some("third"), None).expect("the configuration loads");
        let mut stack = TestStack::start_with(Db::Sqlite, tuned_for_tests(settings), true).await;
        let outcomes = pay(&mut stack, &["970418", "970415", "970436"]).await;
        let expected = [
            (ResultStatus::Succeeded, vec!["bank_bidv".to_string()]),
            (ResultStatus::Succeeded, vec!["bank_vietinbank".to_string()]),
            (ResultStatus::Succeeded, vec!["bank_transfer".to_string()]),
        ];
        assert_eq!(outcomes, expected);
        stack.stop().await;
    }
}

#[test]
fn a_bin_claimed_by_two_banks_is_refused_at_start_up() {
    let folder = config_with_a_third_bank();
    let third = folder.path().join("third.toml");
    let text = std::fs::read_to_string(&third).expect("third.toml reads");
    std::fs::write(&third, text.replace("970418", "970415")).expect("third.toml writes");
    let error = Settings::load_from(folder.path(), Some("third"), None).expect_err("refused");
    let text = format!("{error:#}");
    assert!(
        text.contains(
            "BIN 970415 (VietinBank) is in the bins of both providers.bank_bidv and providers.bank_vietinbank"
        ),
        "{text}"
    );
}

/// A provider section renamed or removed while some of its payments are not final leaves them
/// waiting: the dispatcher steps configured providers only. At start-up the gateway says so —
/// an error in its log and `gateway_payments_of_unconfigured_provider{provider}` on `/metrics` —
/// for that provider only, not for a configured one with payments on their way too. (Before,
/// nothing said it.)
#[tokio::test]
async fn payments_of_a_provider_no_longer_configured_are_counted_at_start() {
    let mut stack = TestStack::start_with(Db::Sqlite, crate::support::test_settings(), false).await;
    let store = gateway::store::Store::connect(&stack.settings.database).await.unwrap();
    let retired = format!("bank_retired_{}", stack.run_id);
    for provider in [retired.as_str(), retired.as_str(), "bank_transfer"] {
        crate::support::claim_fresh(&store, &stack.settings, &bank_order(500_000), provider).await;
    }
    stack.gateway = Some(
        gateway::app::RunningGateway::start(stack.settings.clone())
            .await
            .unwrap(),
    );

    let counted = |provider: &str| {
        let labels = format!("provider=\"{provider}\"");
        let stack = &stack;
        async move { crate::protection::metric(stack, "gateway_payments_of_unconfigured_provider", &labels).await }
    };
    assert_eq!(counted(&retired).await, Some(2.0));
    assert_eq!(
        counted("bank_transfer").await,
        None,
        "a configured provider is not counted"
    );
    stack.stop().await;
}
