//! The dispatcher's lease loop run with its timers (`Dispatcher::run`, no gateway around it),
//! for what only its waits can show.

use std::sync::Arc;
use std::time::Duration;

use gateway::dispatcher::{Dispatcher, ProviderWakes};
use gateway::providers::build_adapters;
use gateway::store::Store;
use sandbox_kit::Faults;
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::support::{bank_order, set_provider_timeouts, test_settings, Db, TestStack, HOLDER};

crate::on_both_databases!(a_payment_is_leased_at_the_tick_while_wakes_keep_coming_faster_than_it);

/// A provider whose breaker check panics: its lease loop panics at its first lease.
struct Panicky;

#[async_trait::async_trait]
impl gateway_adapter::PayoutAdapter for Panicky {
    fn channel(&self) -> gateway_adapter::Channel {
        gateway_adapter::Channel::BankTransfer
    }
    fn provider_key(&self) -> &str {
        "panicky"
    }
    async fn submit(
        &self,
        _: &gateway_adapter::PayoutRequest,
    ) -> Result<gateway_adapter::ProviderStatus, gateway_adapter::AdapterError> {
        Err(gateway_adapter::AdapterError::transient("test", "never called"))
    }
    async fn query_status(
        &self,
        _: &gateway_adapter::PayoutRequest,
    ) -> Result<gateway_adapter::ProviderStatus, gateway_adapter::AdapterError> {
        Err(gateway_adapter::AdapterError::transient("test", "never called"))
    }
    fn verify_callback(
        &self,
        _: &axum::http::HeaderMap,
        _: &[u8],
        _: i64,
    ) -> Result<(), gateway_adapter::CallbackError> {
        Ok(())
    }
    fn parse_callback(
        &self,
        _: &axum::http::HeaderMap,
        _: &[u8],
    ) -> Result<gateway_adapter::CallbackEvent, gateway_adapter::CallbackError> {
        Err(gateway_adapter::CallbackError::Malformed("never called".into()))
    }
    fn unavailable_for(&self) -> Option<Duration> {
        panic!("a test provider's breaker check panics");
    }
}

crate::bounded_test! {
    /// A provider's lease loop that panics ends `Dispatcher::run` as a panic, so that the
    /// supervisor (and `/readyz`) says the dispatcher "panicked". (Before, the run caught the
    /// loop's panic and returned, which read as "it stopped on its own".)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lease_loop_that_panics_ends_the_dispatcher_as_a_panic() {
        let run_id = gateway::demo::stack::new_run_id();
        let (settings, store) = crate::support::store_for_one_batch(Db::Sqlite, &run_id).await;
        let adapters: gateway::providers::Adapters = Arc::new(
            [("panicky".to_string(), Arc::new(Panicky) as Arc<dyn gateway_adapter::PayoutAdapter>)].into(),
        );
        let dispatcher = Arc::new(Dispatcher::new(
            store,
            adapters,
            &std::collections::HashMap::new(),
            settings.dispatcher.clone(),
            &settings.limits,
            ProviderWakes::default(),
            Arc::new(Notify::new()),
        ));
        let ended = tokio::spawn(dispatcher.run(CancellationToken::new())).await;
        assert!(ended.is_err_and(|error| error.is_panic()), "the run ends as a panic");
    }
}

/// Eight step slots (four call permits), seven of them held by payments whose slow calls take
/// seconds, and wakes coming every 20 ms, faster than the 100 ms tick: a wake leases only once a
/// quarter of the slots (two) is free, so the payment claimed meanwhile is the tick's to lease,
/// and it is leased within the tick, not once the slow calls end. (Before, the tick's sleep was
/// made again after each wake, so under a steady stream of wakes it never ran out: the payment
/// waited about four seconds, for a slow step to finish and free a second slot.)
async fn a_payment_is_leased_at_the_tick_while_wakes_keep_coming_faster_than_it(db: Db) {
    let mut settings = test_settings();
    settings.dispatcher.provider_concurrency = 4;
    settings.dispatcher.batch_size = 64;
    settings.dispatcher.tick_ms = 100;
    settings.dispatcher.lease_linger_ms = 0;
    settings.dispatcher.lease_ms = 60_000;
    set_provider_timeouts(&mut settings, 10_000);
    let stack = TestStack::start_with(db, settings, false).await;
    stack.set_bank_faults(Faults {
        latency_ms: 2_000,
        complete_after_ms: 3_600_000,
        ..Faults::default()
    });
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let mut connection = sqlx::AnyConnection::connect(stack.settings.database.url.expose_secret())
        .await
        .unwrap();
    let claim = async |order: Value| {
        stack.open_bank_account(&order, HOLDER);
        stack.claim(&store, &order).await
    };
    for amount in 1..=7 {
        claim(bank_order(1_000_000 + amount)).await;
    }
    let provider = stack.bank_for(&bank_order(1)).to_string();

    let adapters = build_adapters(
        &stack.settings.providers,
        stack.settings.dispatcher.provider_concurrency,
    )
    .unwrap();
    let wakes = ProviderWakes::new(adapters.keys());
    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        adapters,
        &stack.settings.providers.timeouts(),
        stack.settings.dispatcher.clone(),
        &stack.settings.limits,
        wakes.clone(),
        Arc::new(Notify::new()),
    ));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(dispatcher.run(shutdown.clone()));
    let leased = "SELECT COUNT(*) FROM payments WHERE lease_until IS NOT NULL";
    until(
        &mut connection,
        leased,
        7,
        Duration::from_secs(10),
        "the seven are leased at once",
    )
    .await;
    let waking = tokio::spawn({
        let (wakes, provider) = (wakes.clone(), provider.clone());
        async move {
            loop {
                wakes.wake(&provider);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    let late = claim(bank_order(2_000_000)).await;
    let late_leased = format!("SELECT COUNT(*) FROM payments WHERE lease_until IS NOT NULL AND order_id = '{late}'");
    until(
        &mut connection,
        &late_leased,
        1,
        Duration::from_secs(2),
        "the payment claimed meanwhile is leased at the tick, while the seven are still at the bank",
    )
    .await;

    waking.abort();
    shutdown.cancel();
    running.await.expect("the dispatcher stops");
    let _ = connection.close().await;
    stack.stop().await;
}

/// Waits until `count` (a `SELECT COUNT(*)`) reads `expected`, for at most `within`.
async fn until(connection: &mut sqlx::AnyConnection, count: &str, expected: i64, within: Duration, what: &str) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let found: i64 = sqlx::query_scalar(count).fetch_one(&mut *connection).await.unwrap();
        if found == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {found} of {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
