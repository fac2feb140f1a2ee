//! The gateway killed with SIGKILL while orders are in flight (or while a burst of them is
//! being claimed in group commits), then restarted: every order ends with one final result
//! and the ledger shows no double credit.

use std::process::Stdio;
use std::time::Duration;

use gateway::config::Settings;
use gateway::payment::ResultStatus;
use sandbox_kit::Faults;
use secrecy::ExposeSecret;

use crate::support::{bank_order, test_settings, Db, TestStack, HOLDER};

crate::on_both_databases!(
    a_gateway_killed_mid_flight_and_restarted_pays_every_order_once,
    a_gateway_killed_while_it_claims_a_burst_in_group_commits_loses_nothing,
);

/// A SIGTERM while the gateway starts (here: held by a "broker" that accepts the connection
/// and never speaks AMQP) found no handler yet: outside a container it killed the process on
/// the spot, as PID 1 in one it was lost while the gateway went on starting. It now stops the
/// start-up and exits 130, as a stop does.
#[tokio::test]
async fn a_sigterm_during_start_up_stops_it_with_exit_130() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = silent.local_addr().expect("an address").port();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let folder = tempfile::tempdir().expect("a folder");
    let mut gateway = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("run")
        .env("GATEWAY__AMQP__URL", format!("amqp://guest:guest@127.0.0.1:{port}/%2f"))
        .env(
            "GATEWAY__DATABASE__URL",
            format!("sqlite://{}/gateway.db", folder.path().display()),
        )
        .env("GATEWAY__HTTP__LISTEN", "127.0.0.1:0")
        .env("GATEWAY__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the gateway binary starts");
    // Well inside the start-up: the topology waits up to 15 s for the silent broker.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let pid = gateway.id().expect("running").to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await;
    assert!(sent.is_ok_and(|status| status.success()), "SIGTERM sent");
    let status = tokio::time::timeout(Duration::from_secs(10), gateway.wait())
        .await
        .expect("the gateway stops within 10 s of SIGTERM")
        .expect("its status");
    assert_eq!(status.code(), Some(130), "{status:?}");
    held.abort();
}

/// Starts the real `gateway run` binary with the stack's settings in its environment.
fn spawn_gateway(settings: &Settings) -> tokio::process::Child {
    let amqp = &settings.amqp;
    let dispatcher = &settings.dispatcher;
    let bank: &adapter_bank_transfer::BankTransferConfig = settings.providers.config("bank_transfer").unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"));
    // Every provider's timeout as the tests set it (the lease must cover two of the slowest).
    for (key, timeout) in settings.providers.timeouts() {
        command.env(
            format!("GATEWAY__PROVIDERS__{}__TIMEOUT_MS", key.to_uppercase()),
            timeout.as_millis().to_string(),
        );
    }
    command
        .arg("run")
        .env("GATEWAY__AMQP__ORDERS_QUEUE", &amqp.orders_queue)
        .env("GATEWAY__AMQP__RESULTS_EXCHANGE", &amqp.results_exchange)
        .env("GATEWAY__AMQP__RESULTS_QUEUE", &amqp.results_queue)
        .env("GATEWAY__AMQP__DLQ_QUEUE", &amqp.dlq_queue)
        .env("GATEWAY__AMQP__DEAD_LETTER_EXCHANGE", &amqp.dead_letter_exchange)
        .env("GATEWAY__AMQP__PREFETCH", amqp.prefetch.to_string())
        .env("GATEWAY__DATABASE__URL", settings.database.url.expose_secret())
        .env("GATEWAY__HTTP__LISTEN", &settings.http.listen)
        .env("GATEWAY__PROVIDERS__BANK_TRANSFER__BASE_URL", &bank.base_url)
        .env("GATEWAY__DISPATCHER__LEASE_MS", dispatcher.lease_ms.to_string())
        .env("GATEWAY__DISPATCHER__TICK_MS", dispatcher.tick_ms.to_string())
        .env(
            "GATEWAY__DISPATCHER__PENDING_POLL_AFTER_MS",
            dispatcher.pending_poll_after_ms.to_string(),
        )
        .env(
            "GATEWAY__DISPATCHER__INQUIRY_DELAY_MS",
            dispatcher.inquiry_delay_ms.to_string(),
        )
        .env(
            "GATEWAY__DISPATCHER__BACKOFF_BASE_MS",
            dispatcher.backoff_base_ms.to_string(),
        )
        .env(
            "GATEWAY__DISPATCHER__BACKOFF_MAX_MS",
            dispatcher.backoff_max_ms.to_string(),
        )
        .env("GATEWAY__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the gateway binary starts")
}

async fn a_gateway_killed_mid_flight_and_restarted_pays_every_order_once(db: Db) {
    let mut stack = TestStack::start_with(db, test_settings(), false).await;
    // A slow bank that loses some callbacks keeps payments in every state when the kill lands.
    stack.set_bank_faults(Faults {
        latency_ms: 150,
        lost_callback_rate: 0.3,
        complete_after_ms: 300,
        ..Faults::default()
    });
    let orders: Vec<_> = (0..24).map(|i| bank_order(500_000 + i * 1_000)).collect();
    for order in &orders {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    let mut gateway = spawn_gateway(&stack.settings);
    let first = orders[0]["order_id"].as_str().unwrap();
    stack
        .wait_for(first, |m| m.status == ResultStatus::Accepted, Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    kill(&mut gateway).await;

    let mut gateway = spawn_gateway(&stack.settings);
    assert_every_order_paid_once(&mut stack, &orders).await;
    kill(&mut gateway).await;
    stack.stop().await;
}

/// A burst far larger than one group commit is waiting when the gateway starts; it is killed
/// as soon as the first claim is published, so batches of claims are in every stage (queued,
/// written, committing, acked or not). After a restart every order is paid exactly once.
async fn a_gateway_killed_while_it_claims_a_burst_in_group_commits_loses_nothing(db: Db) {
    let mut settings = test_settings();
    settings.amqp.prefetch = 200;
    let mut stack = TestStack::start_with(db, settings, false).await;
    let orders: Vec<_> = (0..300).map(|i| bank_order(400_000 + i * 1_000)).collect();
    for order in &orders {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    let mut gateway = spawn_gateway(&stack.settings);
    stack
        .wait_for(
            orders[0]["order_id"].as_str().unwrap(),
            |m| m.status == ResultStatus::Accepted,
            Duration::from_secs(30),
        )
        .await;
    kill(&mut gateway).await;

    let mut gateway = spawn_gateway(&stack.settings);
    assert_every_order_paid_once(&mut stack, &orders).await;
    kill(&mut gateway).await;
    stack.stop().await;
}

/// SIGKILLs the gateway and reaps it, failing the test if it is not gone within 10 s.
async fn kill(gateway: &mut tokio::process::Child) {
    tokio::time::timeout(Duration::from_secs(10), gateway.kill())
        .await
        .expect("a SIGKILLed gateway exits within 10 s")
        .expect("SIGKILL");
}

/// After the restart: every order ends `succeeded`, is credited exactly once, and has one
/// final result (a repeat of it shares its `seq`).
async fn assert_every_order_paid_once(stack: &mut TestStack, orders: &[serde_json::Value]) {
    for order in orders {
        let order_id = order["order_id"].as_str().unwrap();
        let result = stack.final_result(order_id).await;
        assert_eq!(
            result.status,
            ResultStatus::Succeeded,
            "{order_id}: {:?}",
            result.reason
        );
    }
    stack.drain_results(Duration::from_millis(500)).await;
    for order in orders {
        let order_id = order["order_id"].as_str().unwrap();
        assert_eq!(stack.credits(order_id), 1, "{order_id} credited once");
        let finals: std::collections::BTreeSet<i64> = stack.seen[order_id]
            .iter()
            .filter(|m| m.is_final)
            .map(|m| m.seq)
            .collect();
        assert_eq!(
            finals.len(),
            1,
            "{order_id}: one final result (repeats share their seq)"
        );
    }
}
