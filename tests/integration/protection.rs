//! Per-provider protection end to end: a wallet whose circuit breaker opens neither slows the
//! other channels nor fails its own payments, and a rate-limited bank never sees more than its
//! limit in any second, measured where the requests arrive (the sandbox).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::config::Settings;
use gateway::dispatcher::{Dispatcher, ProviderWakes};
use gateway::payment::{PaymentState, ResultStatus};
use gateway::providers::build_adapters;
use gateway::store::Store;
use gateway_adapter::protection::ProtectionConfig;
use sandbox_kit::Faults;
use serde_json::Value;
use tokio::sync::Notify;

use crate::support::{bank_order, test_settings, vnpost_order, wallet_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    the_dispatcher_leases_nothing_for_a_provider_whose_breaker_is_open,
    a_failing_wallet_opens_its_breaker_without_slowing_the_others_and_its_payments_succeed_after,
    a_rate_limited_bank_never_sees_more_than_its_limit_in_any_second,
    a_provider_never_has_more_calls_out_than_its_concurrency,
    a_call_held_at_the_rate_limit_past_its_lease_is_cut_short_and_its_payment_is_paid_once,
);

const WALLET: &str = "viettel_money";
const BANK_RATE: u32 = 5;

/// The breaker gauge is one per process and provider, and both databases' variants run in one
/// process: they take turns, so neither reads the other's breaker.
static BREAKER_GAUGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn order_id(order: &Value) -> String {
    order["order_id"].as_str().unwrap().to_string()
}

/// Test settings with the wallet's breaker opening after 3 failures in a row (or half of the
/// last 4 calls: its name inquiries keep answering) for half a second. Attempts are generous:
/// this is about the breaker, not about giving up.
fn breaker_settings() -> Settings {
    let mut settings = test_settings();
    settings.dispatcher.max_attempts = 20;
    let wallet = settings
        .providers
        .config_mut::<adapter_mobile_money::MobileMoneyConfig>("viettel_money")
        .expect("viettel_money is configured");
    wallet.http.protection = Some(ProtectionConfig {
        breaker_consecutive_failures: 3,
        breaker_failure_ratio: 0.5,
        breaker_window: 4,
        breaker_open_ms: 500,
        breaker_half_open_probes: 1,
        ..ProtectionConfig::default()
    });
    settings
}

/// `name{provider="<provider>"}` on the gateway's `/metrics`, if shown.
async fn provider_metric(stack: &TestStack, name: &str, provider: &str) -> Option<f64> {
    metric(stack, name, &format!("provider=\"{provider}\"")).await
}

/// `name{<labels>}` on the gateway's `/metrics` (labels as the exporter writes them), if shown.
pub(crate) async fn metric(stack: &TestStack, name: &str, labels: &str) -> Option<f64> {
    let text = reqwest::get(format!("{}/metrics", stack.gateway_url()))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|value| value.trim().parse().ok())
}

/// Puts `protection` on the bank.
fn protect_bank(settings: &mut Settings, protection: ProtectionConfig) {
    let bank = settings
        .providers
        .config_mut::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
        .expect("the bank is configured");
    bank.http.protection = Some(protection);
}

/// The wallet's `gateway_provider_breaker_state` on the gateway's `/metrics`, if shown.
async fn breaker_state(stack: &TestStack) -> Option<f64> {
    provider_metric(stack, "gateway_provider_breaker_state", WALLET).await
}

/// Publishes `count` bank orders, waits until each has succeeded and was credited once, and
/// returns when each request reached the bank (a name inquiry and a submit per order at least).
async fn pay_bank_orders(stack: &mut TestStack, count: usize) -> Vec<Instant> {
    let orders: Vec<Value> = (0..count).map(|_| bank_order(1_000_000)).collect();
    for order in &orders {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    for order in &orders {
        let result = stack.final_result(&order_id(order)).await;
        assert_eq!(result.status, ResultStatus::Succeeded, "{:?}", result.reason);
        assert_eq!(stack.credits(&order_id(order)), 1);
    }
    let arrivals = stack.sandbox.kit.arrivals("bank_transfer");
    assert!(
        arrivals.len() >= 2 * count,
        "a name inquiry and a submit per order reached the bank: {}",
        arrivals.len()
    );
    arrivals
}

/// Polls `/metrics` until the wallet's breaker gauge shows `state`, or fails after `within`.
async fn wait_for_breaker(stack: &TestStack, state: f64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let shown = breaker_state(stack).await;
        if shown == Some(state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{WALLET}'s breaker gauge never showed {state} within {within:?}; last {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes a bank and a VNPost order per round and waits until all have succeeded; how long
/// that took.
async fn pay_other_channels(stack: &mut TestStack, rounds: usize) -> Duration {
    let orders: Vec<Value> = (0..rounds)
        .flat_map(|_| [bank_order(1_500_000), vnpost_order(2_789_000)])
        .collect();
    for order in &orders {
        stack.open_account(order, HOLDER);
    }
    let started = Instant::now();
    for order in &orders {
        stack.publish(order).await;
    }
    for order in &orders {
        let result = stack.final_result(&order_id(order)).await;
        assert_eq!(
            result.status,
            ResultStatus::Succeeded,
            "{}: {:?}",
            order["channel"],
            result.reason
        );
    }
    let took = started.elapsed();
    for order in &orders {
        assert_eq!(stack.credits(&order_id(order)), 1, "{} credited once", order["channel"]);
    }
    took
}

async fn a_failing_wallet_opens_its_breaker_without_slowing_the_others_and_its_payments_succeed_after(db: Db) {
    let _gauge = BREAKER_GAUGE.lock().await;
    let mut stack = TestStack::start_with(db, breaker_settings(), true).await;
    // No gauge is asserted before the first transition: a guard built before the process's
    // recorder was installed (the first gateway in a process) shows none until then.
    let healthy = pay_other_channels(&mut stack, 3).await;

    stack.set_faults(
        WALLET,
        Faults {
            error_5xx_rate: 1.0,
            ..Faults::default()
        },
    );
    let wallets: Vec<Value> = (0..4).map(|_| wallet_order(WALLET, 500_000)).collect();
    for order in &wallets {
        stack.open_account(order, HOLDER);
        stack.publish(order).await;
    }
    wait_for_breaker(&stack, 2.0, Duration::from_secs(5)).await;
    let failing = pay_other_channels(&mut stack, 3).await;
    assert!(
        failing <= healthy * 2 + Duration::from_millis(500),
        "the other channels took {failing:?} beside the failing wallet, {healthy:?} when all were healthy"
    );
    for order in &wallets {
        assert!(
            !stack
                .seen
                .get(&order_id(order))
                .is_some_and(|results| results.iter().any(|r| r.is_final)),
            "no wallet payment is final while the wallet fails: {:?}",
            stack.seen.get(&order_id(order))
        );
    }

    stack.set_faults(WALLET, Faults::default());
    for order in &wallets {
        let result = stack.final_result(&order_id(order)).await;
        assert_eq!(result.status, ResultStatus::Succeeded, "{:?}", result.reason);
        assert_eq!(stack.credits(&order_id(order)), 1, "the wallet credited once");
    }
    wait_for_breaker(&stack, 0.0, Duration::from_secs(5)).await;
    stack.stop().await;
}

/// The most instants in any one-second window `[t, t + 1 s)`.
fn most_in_any_second(arrivals: &[Instant]) -> usize {
    arrivals
        .iter()
        .enumerate()
        .map(|(first, start)| {
            arrivals[first..]
                .iter()
                .take_while(|at| at.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

async fn a_rate_limited_bank_never_sees_more_than_its_limit_in_any_second(db: Db) {
    let mut settings = test_settings();
    protect_bank(
        &mut settings,
        ProtectionConfig {
            rate_limit_per_second: Some(BANK_RATE),
            ..ProtectionConfig::default()
        },
    );
    let mut stack = TestStack::start_with(db, settings, true).await;
    let arrivals = pay_bank_orders(&mut stack, 15).await;
    let most = most_in_any_second(&arrivals);
    assert!(
        most <= BANK_RATE as usize + 1,
        "{most} requests reached the bank within one second; the limit is {BANK_RATE}/s (+1 for network delay)"
    );
    stack.stop().await;
}

/// `dispatcher.provider_concurrency` bounds the calls out at the provider, though the dispatcher
/// steps more payments than that at once (the others wait for the store's commits). Every call
/// stays at the bank at least its latency, so three arrivals within less than that would be
/// three calls out at once.
async fn a_provider_never_has_more_calls_out_than_its_concurrency(db: Db) {
    const CONCURRENCY: usize = 2;
    const LATENCY: Duration = Duration::from_millis(300);
    let mut settings = test_settings();
    settings.dispatcher.provider_concurrency = CONCURRENCY;
    let mut stack = TestStack::start_with(db, settings, true).await;
    stack.set_bank_faults(Faults {
        latency_ms: LATENCY.as_millis() as u64,
        ..Faults::default()
    });
    let arrivals = pay_bank_orders(&mut stack, 8).await;
    for (at, window) in arrivals.windows(CONCURRENCY + 1).enumerate() {
        let spread = window[CONCURRENCY].duration_since(window[0]);
        assert!(
            spread >= LATENCY,
            "requests {at}..={} reached the bank within {spread:?}, less than its {LATENCY:?} latency: \
             more than {CONCURRENCY} calls were out at once",
            at + CONCURRENCY
        );
    }
    // Every call waited for its permit, some of them for a while: ops see it on /metrics.
    let waits = provider_metric(&stack, "gateway_provider_permit_wait_seconds_count", "bank_transfer").await;
    assert!(waits >= Some(arrivals.len() as f64), "permit waits {waits:?}");
    let waited = provider_metric(&stack, "gateway_provider_permit_wait_seconds_sum", "bank_transfer").await;
    assert!(waited > Some(0.0), "permit wait seconds {waited:?}");
    stack.stop().await;
}

/// A bank allowing 2 requests a second and 8 calls at once: 8 steps get their permits together
/// and queue at the rate limit inside the adapter, the last ones for about 4 s, past their
/// leases (3 s, cut a second before the end). Those calls are cut short rather than left out
/// while another worker may take their payments; the payments are taken up again after their
/// leases and each is paid exactly once.
async fn a_call_held_at_the_rate_limit_past_its_lease_is_cut_short_and_its_payment_is_paid_once(db: Db) {
    let mut settings = test_settings();
    settings.dispatcher.provider_concurrency = 8;
    settings.dispatcher.max_attempts = 20;
    protect_bank(
        &mut settings,
        ProtectionConfig {
            rate_limit_per_second: Some(2),
            ..ProtectionConfig::default()
        },
    );
    let mut stack = TestStack::start_with(db, settings, true).await;
    pay_bank_orders(&mut stack, 8).await;
    let cut_short = metric(
        &stack,
        "gateway_provider_calls_out_of_lease_total",
        "provider=\"bank_transfer\",outcome=\"cut_short\"",
    )
    .await;
    assert!(
        cut_short >= Some(1.0),
        "calls cut short at their lease's end: {cut_short:?}"
    );
    stack.stop().await;
}

/// Step by step with `Dispatcher::run_once` (no gateway, no timers): one failed submit opens the
/// bank's breaker for a minute; a bank payment claimed after that is not leased at all (still
/// `accepted`, no attempt, nothing reaches the bank), while a VNPost payment goes on as usual.
async fn the_dispatcher_leases_nothing_for_a_provider_whose_breaker_is_open(db: Db) {
    let mut settings = test_settings();
    settings.dispatcher.backoff_base_ms = 60_000;
    settings.dispatcher.backoff_max_ms = 60_000;
    settings.dispatcher.pending_poll_after_ms = 60_000;
    protect_bank(
        &mut settings,
        ProtectionConfig {
            breaker_consecutive_failures: 1,
            breaker_open_ms: 60_000,
            ..ProtectionConfig::default()
        },
    );
    let stack = TestStack::start_with(db, settings, false).await;
    stack.set_bank_faults(Faults {
        error_5xx_rate: 1.0,
        ..Faults::default()
    });
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let dispatcher = Dispatcher::new(
        store.clone(),
        build_adapters(
            &stack.settings.providers,
            stack.settings.dispatcher.provider_concurrency,
        )
        .unwrap(),
        &stack.settings.providers.timeouts(),
        stack.settings.dispatcher.clone(),
        &stack.settings.limits,
        ProviderWakes::default(),
        Arc::new(Notify::new()),
    );

    let first = bank_order(1_000_000);
    stack.open_bank_account(&first, HOLDER);
    let first_id = stack.claim(&store, &first).await;
    assert_eq!(
        dispatcher.run_once().await,
        1,
        "the first bank payment is sent and refused 503"
    );
    let refused = store.order_view(&first_id).await.unwrap().expect("stored");
    assert_eq!(refused.payment.state, PaymentState::RetryScheduled);
    let reached_bank = stack.sandbox.kit.arrival_count("bank_transfer");

    let second = bank_order(2_000_000);
    stack.open_bank_account(&second, HOLDER);
    let second_id = stack.claim(&store, &second).await;
    let vnpost = vnpost_order(2_789_000);
    stack.open_account(&vnpost, HOLDER);
    let vnpost_id = stack.claim(&store, &vnpost).await;
    assert_eq!(dispatcher.run_once().await, 1, "only the VNPost payment is stepped");
    let waiting = store.order_view(&second_id).await.unwrap().expect("stored");
    assert_eq!(
        (waiting.payment.state, waiting.payment.attempts, waiting.events.len()),
        (PaymentState::Accepted, 0, 1),
        "the bank payment is left as claimed: {:?}",
        waiting.events
    );
    assert_eq!(
        stack.sandbox.kit.arrival_count("bank_transfer"),
        reached_bank,
        "nothing more reached the bank"
    );
    let other = store.order_view(&vnpost_id).await.unwrap().expect("stored");
    assert_ne!(other.payment.state, PaymentState::Accepted, "VNPost was paid through");
    assert_eq!(dispatcher.run_once().await, 0, "still nothing leased for the bank");
    stack.stop().await;
}
