//! Test support: a sandbox and a gateway on a real RabbitMQ and a real database (SQLite
//! file or a fresh PostgreSQL database), with queue names of their own, and helpers to
//! publish orders and read results and dead letters.

use std::collections::HashMap;
use std::time::Duration;

use futures_lite::StreamExt;
use gateway::app::RunningGateway;
use gateway::config::Settings;
use gateway::demo::stack::{self, LocalSandbox};
use gateway::payment::ResultMessage;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use sandbox_kit::{Faults, RegisteredAccount};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// How long one scenario may run before it fails as hung. The slowest pass in well under a
/// minute on this machine; a scenario still waiting at this limit waits on something that will
/// not come.
const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

/// How long a clean-up step (deleting queues, dropping the database) may take: clean-up is not
/// what a test checks, so one that does not finish is left behind rather than waited for.
const CLEANUP_LIMIT: Duration = Duration::from_secs(10);

/// Who runs the operator's commands of the tests (`GATEWAY_OPERATOR`).
pub const OPERATOR: &str = "ops-test";

/// Runs the `gateway` binary with `args` against the store at `database_url` (an operator's
/// command: `orders show`, `outbox release`, …), bounded like a scenario, and returns its output.
pub async fn gateway_command(args: &[&str], database_url: &str) -> std::process::Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(args)
        .env("GATEWAY__DATABASE__URL", database_url)
        .env("GATEWAY__LOG__LEVEL", "warn")
        .env("GATEWAY_OPERATOR", OPERATOR)
        .kill_on_drop(true)
        .output();
    bounded(&format!("gateway {args:?}"), output)
        .await
        .expect("the gateway binary runs")
}

/// Runs `scenario`, failing it by `name` if it has not finished within [`SCENARIO_LIMIT`]. A
/// watchdog thread aborts the whole test binary a minute later if even that could not fire
/// (the runtime's threads blocked), so a hang is reported by name in minutes instead of
/// holding CI until its own time limit.
pub async fn bounded<F: std::future::Future>(name: &str, scenario: F) -> F::Output {
    bounded_by(SCENARIO_LIMIT, name, scenario).await
}

/// [`bounded`] with a limit of the caller's.
pub async fn bounded_by<F: std::future::Future>(limit: Duration, name: &str, scenario: F) -> F::Output {
    let (finished, watched) = std::sync::mpsc::channel::<()>();
    let watched_name = name.to_string();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watched.recv_timeout(limit + Duration::from_secs(60)) {
            eprintln!("{watched_name} hung past {limit:?} and its runtime could not fail it: aborting.");
            std::process::abort();
        }
    });
    let outcome = tokio::time::timeout(limit, scenario).await;
    drop(finished);
    outcome.unwrap_or_else(|_| panic!("{name} did not finish within {limit:?}"))
}

/// Awaits a clean-up step for at most [`CLEANUP_LIMIT`], ignoring its outcome.
pub async fn cleanup<F: std::future::Future>(step: F) {
    let _ = tokio::time::timeout(CLEANUP_LIMIT, step).await;
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The server that hands out fresh PostgreSQL databases (`TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database URL of the kind asked for, fresh for this test.
pub async fn fresh_database(db: Db, run_id: &str) -> SecretString {
    match db {
        Db::Sqlite => stack::temporary_sqlite_url(run_id).expect("a temporary folder"),
        Db::Postgres => {
            use sqlx::Executor;
            let admin = postgres_admin_url();
            let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("PostgreSQL answers at TEST_POSTGRES_URL");
            let name = format!("gateway_test_{run_id}");
            connection
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create a test database");
            let base = admin
                .rsplit_once('/')
                .map(|(base, _)| base.to_string())
                .unwrap_or(admin);
            SecretString::from(format!("{base}/{name}"))
        }
    }
}

/// Test settings and a store on a fresh database whose writer runs on the caller's runtime: on
/// a current-thread runtime every write queued before the test awaits shares one group commit
/// (on SQLite, one writer; on PostgreSQL, batches by key shard).
pub async fn store_for_one_batch(db: Db, run_id: &str) -> (Settings, gateway::store::Store) {
    let mut settings = test_settings();
    settings.database.url = fresh_database(db, run_id).await;
    settings.database.writer_thread = false;
    let store = gateway::store::Store::connect(&settings.database)
        .await
        .expect("the store connects");
    (settings, store)
}

/// Waits, up to 20 s, until a session of the PostgreSQL database `pool` is on waits on a lock
/// (of the kind `event` names — `transactionid`, `advisory`, `tuple` — or any), or until `done()`
/// says the work that would wait has finished without waiting; panics saying `what` was
/// expected otherwise.
pub async fn until_waiting_on_a_lock(pool: &sqlx::AnyPool, event: Option<&str>, done: impl Fn() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND ($1 = '' OR wait_event = $1)",
        )
        .bind(event.unwrap_or_default())
        .fetch_one(pool)
        .await
        .expect("pg_stat_activity is read");
        if waiting > 0 || done() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Claims `order`, which must be new, for `provider`; returns its payment id.
pub async fn claim_fresh(store: &gateway::store::Store, settings: &Settings, order: &Value, provider: &str) -> String {
    use gateway::store::{ClaimOutcome, StoredProperties};
    let order = gateway::order::parse_order(&serde_json::to_vec(order).expect("json"), &settings.limits)
        .expect("a valid order");
    let claimed = store
        .claim(
            &order,
            provider,
            b"{}",
            &StoredProperties::default(),
            gateway::config::DuplicatePaymentPolicy::Review,
        )
        .await
        .expect("the claim is written");
    let ClaimOutcome::Claimed { payment_id, .. } = claimed else {
        panic!("a fresh order is claimed: {claimed:?}");
    };
    payment_id
}

/// Removes what [`fresh_database`] made (a test that fails leaves it for a look).
pub async fn drop_database(db: Db, run_id: &str) {
    match db {
        Db::Sqlite => {
            let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("payout-gateway-{run_id}")));
        }
        Db::Postgres => {
            use sqlx::Executor;
            if let Ok(mut connection) = <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_admin_url()).await {
                let sql = format!("DROP DATABASE IF EXISTS gateway_test_{run_id} WITH (FORCE)");
                let _ = connection.execute(sql.as_str()).await;
            }
        }
    }
}

/// Settings for tests: fast polls and retries, short leases, a short bank timeout.
pub fn test_settings() -> Settings {
    tuned_for_tests(Settings::load(std::path::Path::new("config")).expect("config/default.toml loads"))
}

/// `settings` with the test values of [`test_settings`].
pub fn tuned_for_tests(mut settings: Settings) -> Settings {
    settings.log.level = "warn".to_string();
    let dispatcher = &mut settings.dispatcher;
    dispatcher.tick_ms = 50;
    dispatcher.lease_ms = 3_000;
    dispatcher.backoff_base_ms = 100;
    dispatcher.backoff_max_ms = 1_000;
    dispatcher.inquiry_delay_ms = 200;
    dispatcher.pending_poll_after_ms = 1_000;
    dispatcher.max_attempts = 4;
    settings.amqp.reconnect_delay_ms = 100;
    settings.batches.check_interval_ms = 200;
    set_provider_timeouts(&mut settings, 1_000);
    settings
}

/// Sets every provider's `timeout_ms`, whatever its type.
pub fn set_provider_timeouts(settings: &mut Settings, timeout_ms: u64) {
    use adapter_bank_transfer::BankTransferConfig;
    use adapter_mobile_money::MobileMoneyConfig;
    use adapter_vnpost_account::VnpostAccountConfig;
    let keys: Vec<String> = settings.providers.iter().map(|provider| provider.key.clone()).collect();
    for key in keys {
        let providers = &mut settings.providers;
        if let Some(bank) = providers.config_mut::<BankTransferConfig>(&key) {
            bank.timeout_ms = timeout_ms;
        } else if let Some(vnpost) = providers.config_mut::<VnpostAccountConfig>(&key) {
            vnpost.timeout_ms = timeout_ms;
        } else if let Some(wallet) = providers.config_mut::<MobileMoneyConfig>(&key) {
            wallet.timeout_ms = timeout_ms;
        }
    }
}

/// A running stack plus a reader of its results and dead-letter queues.
pub struct TestStack {
    pub settings: Settings,
    pub sandbox: LocalSandbox,
    pub gateway: Option<RunningGateway>,
    pub run_id: String,
    db: Db,
    connection: lapin::Connection,
    channel: lapin::Channel,
    results: mpsc::UnboundedReceiver<ResultMessage>,
    dead_letters: mpsc::UnboundedReceiver<DeadLetter>,
    /// Every result read so far, by order id.
    pub seen: HashMap<String, Vec<ResultMessage>>,
    /// Which provider pays which order, as the gateway routes them.
    pub routing: gateway::providers::Routing,
}

/// A message read from the dead-letter queue.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    pub body: Vec<u8>,
    pub headers: HashMap<String, String>,
}

impl TestStack {
    /// Sandbox and gateway in this process.
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, test_settings(), true).await
    }

    /// `start_gateway = false` prepares everything but leaves the gateway to the test
    /// (to run it as a child process).
    pub async fn start_with(db: Db, mut settings: Settings, start_gateway: bool) -> Self {
        let run_id = stack::new_run_id();
        settings.database.url = fresh_database(db, &run_id).await;
        let (settings, sandbox) = stack::prepare(settings, &run_id).await.expect("the sandbox starts");
        let gateway = if start_gateway {
            Some(
                RunningGateway::start(settings.clone())
                    .await
                    .expect("the gateway starts"),
            )
        } else {
            None
        };
        let connection = gateway::amqp::connect(&settings.amqp, "test")
            .await
            .expect("RabbitMQ answers");
        let channel = connection.create_channel().await.expect("a channel");
        gateway::amqp::topology::declare(&channel, &settings.amqp)
            .await
            .expect("the topology declares");
        channel.confirm_select(Default::default()).await.expect("confirms");
        let results = spawn_reader(&connection, &settings.amqp.results_queue, |body, _| {
            serde_json::from_slice::<ResultMessage>(body).ok()
        })
        .await;
        let dead_letters = spawn_reader(&connection, &settings.amqp.dlq_queue, |body, headers| {
            Some(DeadLetter {
                body: body.to_vec(),
                headers,
            })
        })
        .await;
        Self {
            routing: settings.routing_table().expect("valid routing"),
            settings,
            sandbox,
            gateway,
            run_id,
            db,
            connection,
            channel,
            results,
            dead_letters,
            seen: HashMap::new(),
        }
    }

    /// Publishes raw bytes as an order, with confirms.
    pub async fn publish_raw(&self, body: &[u8], message_id: &str) {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message_id.into());
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.settings.amqp.orders_queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                properties,
            )
            .await
            .expect("publish");
        let confirm = tokio::time::timeout(Duration::from_secs(30), confirm)
            .await
            .expect("the broker confirms an order within 30 s")
            .expect("confirm");
        assert!(confirm.is_ack(), "the broker confirmed the order");
    }

    pub async fn publish(&self, order: &Value) {
        let order_id = order["order_id"].as_str().unwrap_or_default().to_string();
        self.publish_raw(&serde_json::to_vec(order).expect("json"), &order_id)
            .await;
    }

    /// Waits for the final result of `order_id` (reading and remembering everything else).
    pub async fn final_result(&mut self, order_id: &str) -> ResultMessage {
        self.wait_for(order_id, |m| m.is_final, Duration::from_secs(60)).await
    }

    /// Waits for a result of `order_id` that satisfies `accept`.
    pub async fn wait_for(
        &mut self,
        order_id: &str,
        accept: impl Fn(&ResultMessage) -> bool,
        timeout: Duration,
    ) -> ResultMessage {
        if let Some(found) = self.seen.get(order_id).and_then(|ms| ms.iter().find(|m| accept(m))) {
            return found.clone();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let message = tokio::time::timeout_at(deadline, self.results.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no matching result for {order_id} within {timeout:?}; seen {:?}",
                        self.seen.get(order_id)
                    )
                })
                .expect("the results reader runs");
            self.seen
                .entry(message.order_id.clone())
                .or_default()
                .push(message.clone());
            if message.order_id == order_id && accept(&message) {
                return message;
            }
        }
    }

    /// Reads results for `duration` and remembers them (to check that nothing more came).
    pub async fn drain_results(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, self.results.recv()).await {
            self.seen.entry(message.order_id.clone()).or_default().push(message);
        }
    }

    pub async fn next_dead_letter(&mut self) -> DeadLetter {
        tokio::time::timeout(Duration::from_secs(30), self.dead_letters.recv())
            .await
            .expect("a dead letter within 30 s")
            .expect("the dead-letter reader runs")
    }

    /// Credited ledger entries for an order, read from the sandbox's ledger (it runs in this
    /// process: the read waits on nothing).
    pub fn credits(&self, order_id: &str) -> u64 {
        self.sandbox.kit.ledger.credits_for_order(order_id) as u64
    }

    pub fn set_bank_faults(&self, faults: Faults) {
        self.set_faults("bank_transfer", faults);
    }

    pub fn set_faults(&self, provider: &str, faults: Faults) {
        self.sandbox.kit.set_faults(provider, faults);
    }

    /// Registers the account (or wallet) an order pays into, at the provider that holds it.
    pub fn open_account(&self, order: &Value, holder_name: &str) {
        let destination = &order["destination"];
        let (provider, account) = match order["channel"].as_str() {
            Some("mobile_money") => (
                destination["wallet_provider"].as_str(),
                destination["phone_number"].as_str(),
            ),
            Some("bank_transfer") => (Some(self.bank_for(order)), destination["account_number"].as_str()),
            Some(channel) => (Some(channel), destination["account_number"].as_str()),
            None => (None, None),
        };
        // Providers know wallets by the national form of the phone number.
        let account = account.unwrap_or_default();
        let account = gateway_adapter::Msisdn::try_from(account)
            .map(|m| m.as_str().to_string())
            .unwrap_or(account.to_string());
        let registered = RegisteredAccount {
            provider: provider.unwrap_or_default().to_string(),
            account,
            holder_name: holder_name.to_string(),
            closed: false,
        };
        // A bank account is the bank's: the sandbox finds it under its BIN only, as a bank does.
        let registration = match destination["bank_bin"].as_str() {
            Some(bin) if order["channel"].as_str() == Some("bank_transfer") => registered.at_bank(bin),
            _ => registered.into(),
        };
        self.sandbox.kit.directory.register([registration]);
    }

    /// An intake on `store`, as the consumer runs it (nothing to wake: tests drive the rest).
    pub fn intake(&self, store: &gateway::store::Store) -> gateway::intake::Intake {
        let relay_wake = std::sync::Arc::new(tokio::sync::Notify::new());
        gateway::intake::Intake::new(
            store.clone(),
            &self.settings,
            gateway::dispatcher::ProviderWakes::default(),
            relay_wake,
        )
        .expect("valid routing")
    }

    /// Claims `order` on `store` as the consumer would, and returns its order id.
    pub async fn claim(&self, store: &gateway::store::Store, order: &Value) -> String {
        let order_id = order["order_id"].as_str().unwrap_or_default().to_string();
        let properties = gateway::store::StoredProperties {
            content_type: Some("application/json".into()),
            message_id: Some(order_id.clone()),
            ..Default::default()
        };
        let body = serde_json::to_vec(order).expect("an order serialises");
        self.intake(store)
            .take(&body, &properties)
            .await
            .expect("the order is taken");
        order_id
    }

    /// The bank provider that routing names for a bank order's BIN.
    pub fn bank_for<'a>(&'a self, order: &Value) -> &'a str {
        let bin = order["destination"]["bank_bin"].as_str().unwrap_or_default();
        self.routing.bank_for_bin(bin)
    }

    /// Registers the bank account of an order, at the bank routing sends it to, with the
    /// holder name the bank will report.
    pub fn open_bank_account(&self, order: &Value, holder_name: &str) {
        let registered = RegisteredAccount {
            provider: self.bank_for(order).to_string(),
            account: order["destination"]["account_number"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            holder_name: holder_name.to_string(),
            closed: false,
        };
        let bin = order["destination"]["bank_bin"].as_str().unwrap_or_default();
        self.sandbox.kit.directory.register([registered.at_bank(bin)]);
    }

    /// Publishes a bank order the bank keeps processing (no callback of its own) and returns
    /// (order id, payment id) once it is pending.
    pub async fn pending_bank_order(&mut self, amount: u64) -> (String, String) {
        self.set_bank_faults(Faults {
            complete_after_ms: 600_000,
            ..Faults::default()
        });
        let order = bank_order(amount);
        self.open_bank_account(&order, HOLDER);
        self.publish(&order).await;
        let order_id = order["order_id"].as_str().unwrap_or_default().to_string();
        let pending = self
            .wait_for(
                &order_id,
                |m| m.status == gateway::payment::ResultStatus::Pending,
                Duration::from_secs(20),
            )
            .await;
        (
            order_id,
            pending.payment_id.expect("a pending result names its payment"),
        )
    }

    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.settings.http.listen)
    }

    pub async fn stop(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.stop().await;
        }
        self.sandbox.stop();
        for queue in [
            &self.settings.amqp.orders_queue,
            &self.settings.amqp.results_queue,
            &self.settings.amqp.dlq_queue,
        ] {
            cleanup(
                self.channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default()),
            )
            .await;
        }
        for exchange in [
            &self.settings.amqp.results_exchange,
            &self.settings.amqp.dead_letter_exchange,
        ] {
            cleanup(
                self.channel
                    .exchange_delete(exchange.as_str().into(), Default::default()),
            )
            .await;
        }
        cleanup(self.connection.close(200, "done".into())).await;
        cleanup(drop_database(self.db, &self.run_id)).await;
    }
}

/// Consumes `queue` in the background and sends what `decode` makes of each message.
async fn spawn_reader<T: Send + 'static>(
    connection: &lapin::Connection,
    queue: &str,
    decode: impl Fn(&[u8], HashMap<String, String>) -> Option<T> + Send + 'static,
) -> mpsc::UnboundedReceiver<T> {
    let channel = connection.create_channel().await.expect("a channel");
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _channel = channel;
        while let Some(Ok(delivery)) = consumer.next().await {
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            let headers = delivery
                .properties
                .headers()
                .as_ref()
                .map(|table| {
                    table
                        .inner()
                        .iter()
                        .map(|(key, value)| {
                            let text = match value {
                                AMQPValue::LongString(text) => text.to_string(),
                                other => format!("{other:?}"),
                            };
                            (key.to_string(), text)
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some(item) = decode(&delivery.data, headers) {
                if sender.send(item).is_err() {
                    break;
                }
            }
        }
    });
    receiver
}

/// A valid bank-transfer order with a fresh order id and beneficiary.
/// A beneficiary serial no other order of this test process has: a random one could repeat
/// within a burst of hundreds of orders, and the duplicate-payment guard would hold the second.
fn next_beneficiary_serial() -> u64 {
    static NEXT: std::sync::OnceLock<std::sync::atomic::AtomicU64> = std::sync::OnceLock::new();
    let next = NEXT.get_or_init(|| std::sync::atomic::AtomicU64::new(rand::random_range(0..1_000_000)));
    next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000
}

pub fn bank_order(amount: u64) -> Value {
    let serial = next_beneficiary_serial();
    let account: u64 = rand::random_range(1_000_000_000..9_999_999_999);
    json!({
        "order_id": format!("TB-2026-12-{}", stack::new_run_id()),
        "batch_id": "TB-2026-12-TEST",
        "program": "meritorious",
        "period": "2026-12",
        "payment_type": "monthly",
        "beneficiary": { "id": format!("034187{serial:06}"), "full_name": "Nguyễn Văn Đức", "commune_code": "12454" },
        "amount": amount.to_string(),
        "currency": "VND",
        "channel": "bank_transfer",
        "destination": { "bank_bin": "970436", "account_number": format!("00{account}") },
        "memo": "Trợ cấp ưu đãi tháng 12/2026",
        "created_at": "2026-11-28T08:00:00+07:00"
    })
}

/// A valid VNPost-account order.
pub fn vnpost_order(amount: u64) -> Value {
    let mut order = bank_order(amount);
    order["channel"] = json!("vnpost_account");
    let account: u64 = rand::random_range(100_000_000_000..999_999_999_999);
    order["destination"] = json!({ "account_number": account.to_string() });
    order
}

/// A valid mobile-money order to a fresh wallet of `provider`.
pub fn wallet_order(provider: &str, amount: u64) -> Value {
    let mut order = bank_order(amount);
    order["channel"] = json!("mobile_money");
    let number: u32 = rand::random_range(0..10_000_000);
    order["destination"] = json!({ "wallet_provider": provider, "phone_number": format!("+8498{number:07}") });
    order
}

/// The holder name the bank reports for `bank_order`'s beneficiary.
pub const HOLDER: &str = "NGUYEN VAN DUC";

/// The sandbox bank's webhook secret (Standard Webhooks form), as in `config/default.toml`.
pub const BANK_WEBHOOK_SECRET: &str = "whsec_c2FuZGJveC1iYW5rLXdlYmhvb2stc2VjcmV0LTAwMDE=";

/// The body of a bank `transfer.completed` callback for a payment.
pub fn completed_bank_callback(payment_id: &str, order_id: &str, amount: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "transfer.completed",
        "data": {
            "transfer_id": "TRF-TEST-1",
            "client_reference": payment_id,
            "end_to_end_id": order_id,
            "amount": amount,
            "status": "COMPLETED",
            "reason_code": null
        }
    }))
    .expect("a JSON body")
}

/// Polls every future once before any of them can finish (so every claim is queued before the
/// writer task runs), then until all are done; their outputs in order.
pub async fn all_at_once<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                if let Poll::Ready(value) = future.as_mut().poll(context) {
                    *output = Some(value);
                }
            }
        }
        if outputs.iter().all(Option::is_some) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Sends SIGINT to `child` (as Ctrl-C would), reads what is left of its `output` (so that a
/// full pipe never holds it up) and waits for it to exit, 60 s at most; its exit status.
pub async fn interrupt<R: tokio::io::AsyncBufRead + Unpin>(
    child: &mut tokio::process::Child,
    output: &mut tokio::io::Lines<R>,
    name: &str,
) -> std::process::ExitStatus {
    let pid = child.id().expect("a running child has a pid");
    let sent = tokio::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(sent.success(), "SIGINT reaches {name}");
    let stopped = async {
        while output.next_line().await.ok().flatten().is_some() {}
        child.wait().await.expect("the child is reaped")
    };
    bounded_by(
        Duration::from_secs(60),
        &format!("the interrupted {name} stops"),
        stopped,
    )
    .await
}

/// Whether queue `name` exists on the broker (a passive declare answers 404 when it does not).
pub async fn queue_exists(name: &str) -> bool {
    let settings = test_settings();
    let connection = gateway::amqp::connect(&settings.amqp, "queue-check")
        .await
        .expect("RabbitMQ answers");
    let channel = connection.create_channel().await.expect("a channel");
    let declared = channel
        .queue_declare(
            name.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await;
    let _ = connection.close(200, "done".into()).await;
    declared.is_ok()
}

#[tokio::test]
#[should_panic(expected = "a stuck scenario did not finish within 50ms")]
async fn a_scenario_past_its_limit_fails_by_name() {
    bounded_by(
        Duration::from_millis(50),
        "a stuck scenario",
        std::future::pending::<()>(),
    )
    .await;
}
