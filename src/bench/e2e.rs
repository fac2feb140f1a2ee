//! The gateway end to end: sandbox + gateway in this process, N valid orders published with
//! their publish instants, final results read as they arrive, then checked against the ledger.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_lite::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation};
use sandbox_kit::{Faults, LedgerEntry};

use super::stats::{self, Memory};
use super::workload::{self, FreshDatabase};
use super::BenchArgs;
use crate::amqp;
use crate::app::RunningGateway;
use crate::config::{AmqpSettings, Settings};
use crate::demo::stack;
use crate::payment::{ResultMessage, ResultStatus};
use crate::publish::PayoutRow;

/// Every emulated provider, so none keeps the default faults.
const PROVIDERS: [&str; 5] = [
    "bank_transfer",
    "vnpost_account",
    "viettel_money",
    "vnpt_money",
    "mobifone_money",
];
/// The results reader's consumer tag.
const CONSUMER_TAG: &str = "bench-results";
/// Confirms awaited together while publishing orders.
const WINDOW: usize = 256;

/// When the final result of one order arrived, and what it said.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub at: Instant,
    pub status: ResultStatus,
    /// Distinct `seq`s of final results (a redelivered final has the same `seq`).
    pub final_seqs: BTreeSet<i64>,
}

/// What the gateway run measured and found.
#[derive(Debug)]
pub struct GatewayReport {
    pub orders: usize,
    pub first_publish: Instant,
    pub last_confirm: Instant,
    pub last_final: Option<Instant>,
    /// When the first final result arrived: how soon upstream sees anything finished.
    pub first_final: Option<Instant>,
    /// CPU time of the whole process (gateway, sandbox and bench) around the gateway phase.
    pub cpu_before: Option<Duration>,
    pub cpu_after: Option<Duration>,
    pub latencies: Vec<Duration>,
    /// Result messages of any status read until the last final one arrived.
    pub result_messages: usize,
    /// Distinct (order, seq) pairs among them: `result_messages / distinct_results` is how
    /// many times each result row was published (1.00 when no relay repeats a row).
    pub distinct_results: usize,
    pub succeeded: usize,
    pub credits: usize,
    pub memory_before: Option<Memory>,
    pub memory_after: Option<Memory>,
    pub problems: Vec<String>,
}

/// Applies the throughput tuning the command line asks for (see `BenchArgs`).
pub fn tune(settings: &mut Settings, args: &BenchArgs) {
    settings.amqp.prefetch = args.prefetch;
    settings.dispatcher.tick_ms = args.tick_ms;
    settings.dispatcher.batch_size = args.batch_size;
    settings.dispatcher.provider_concurrency = args.provider_concurrency;
    settings.amqp.publish_intermediate_results = !args.final_results_only;
}

/// Runs the gateway phase; the stack, its queues and the database are removed afterwards.
pub async fn run(mut settings: Settings, args: &BenchArgs, run_id: &str) -> anyhow::Result<GatewayReport> {
    let database = FreshDatabase::create(args.database, &args.postgres_url, run_id).await?;
    settings.database.url = database.url();
    tune(&mut settings, args);
    let (rows, accounts) = workload::orders(args.orders, run_id, args.channels);
    let memory_before = Memory::read();
    let cpu_before = stats::process_cpu();
    let (settings, sandbox, gateway) = match stack::start(settings, &format!("bench-{run_id}")).await {
        Ok(started) => started,
        Err(error) => {
            database.remove().await;
            return Err(error);
        }
    };
    for provider in PROVIDERS {
        let faults = Faults {
            complete_after_ms: args.complete_after_ms,
            latency_ms: args.provider_latency_ms,
            ..Faults::default()
        };
        sandbox.kit.set_faults(provider, faults);
    }
    sandbox.kit.directory.register(accounts);
    let mut extra_gateways = Vec::new();
    for _ in 1..args.gateways {
        let mut more = settings.clone();
        more.http.listen = "127.0.0.1:0".to_string();
        match RunningGateway::start(more).await {
            Ok(extra) => extra_gateways.push(extra),
            Err(error) => {
                for extra in extra_gateways {
                    extra.stop().await;
                }
                gateway.stop().await;
                sandbox.stop();
                database.remove().await;
                return Err(error.context("could not start another gateway"));
            }
        }
    }

    let progress = MultiProgress::new();
    let measured = measure(&settings.amqp, &rows, args, &progress).await;
    let memory_after = Memory::read();
    let cpu_after = stats::process_cpu();
    for extra in extra_gateways {
        extra.stop().await;
    }
    gateway.stop().await;
    let ledger = sandbox.kit.ledger.entries();
    sandbox.stop();
    workload::delete_queues(&settings.amqp).await;
    database.remove().await;
    let (first_publish, last_confirm, sent, arrivals, (result_messages, distinct_results)) = measured?;

    let mut latencies = Vec::with_capacity(rows.len());
    for (row, sent_at) in rows.iter().zip(&sent) {
        if let Some(arrival) = arrivals.get(&row.order_id) {
            latencies.push(arrival.at.saturating_duration_since(*sent_at));
        }
    }
    let (succeeded, credits, problems) = verify(&rows, &arrivals, &ledger);
    Ok(GatewayReport {
        orders: rows.len(),
        first_publish,
        last_confirm,
        last_final: arrivals.values().map(|arrival| arrival.at).max(),
        first_final: arrivals.values().map(|arrival| arrival.at).min(),
        cpu_before,
        cpu_after,
        latencies,
        result_messages,
        distinct_results,
        succeeded,
        credits,
        memory_before,
        memory_after,
        problems,
    })
}

/// First publish, last confirm, each order's send time, final arrivals, and the result
/// messages read (all, and distinct (order, seq) pairs).
type Measured = (Instant, Instant, Vec<Instant>, HashMap<String, Arrival>, (usize, usize));

/// Starts the results reader, publishes every order, and waits for every final result.
async fn measure(
    amqp_settings: &AmqpSettings,
    rows: &[PayoutRow],
    args: &BenchArgs,
    progress: &MultiProgress,
) -> anyhow::Result<Measured> {
    let connection = amqp::connect(amqp_settings, "bench")
        .await
        .context("could not connect to RabbitMQ")?;
    let reader = connection.create_channel().await?;
    amqp::topology::declare(&reader, amqp_settings).await?;
    let mut deliveries = reader
        .basic_consume(
            amqp_settings.results_queue.as_str().into(),
            CONSUMER_TAG.into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let results_bar = progress.add(bar(rows.len(), "final results"));
    let expected: HashSet<String> = rows.iter().map(|row| row.order_id.clone()).collect();
    let timeout = Duration::from_secs(args.timeout_secs);
    let reader_channel = reader.clone();
    let collector = tokio::spawn(async move {
        let mut arrivals: HashMap<String, Arrival> = HashMap::with_capacity(expected.len());
        let mut messages = 0usize;
        let mut distinct: HashSet<(String, i64)> = HashSet::with_capacity(expected.len() * 3);
        let deadline = tokio::time::Instant::now() + timeout;
        while arrivals.len() < expected.len() {
            let Ok(Some(delivery)) = tokio::time::timeout_at(deadline, deliveries.next()).await else {
                break;
            };
            let at = Instant::now();
            let delivery = delivery?;
            messages += 1;
            let Ok(message) = serde_json::from_slice::<ResultMessage>(&delivery.data) else {
                continue;
            };
            distinct.insert((message.order_id.clone(), message.seq));
            if !message.is_final || !expected.contains(&message.order_id) {
                continue;
            }
            let arrival = arrivals.entry(message.order_id).or_insert_with(|| {
                results_bar.inc(1);
                Arrival {
                    at,
                    status: message.status,
                    final_seqs: BTreeSet::new(),
                }
            });
            arrival.final_seqs.insert(message.seq);
        }
        results_bar.finish_and_clear();
        // Cancel while the consumer is alive, so dropping it sends no second cancel.
        reader_channel
            .basic_cancel(CONSUMER_TAG.into(), BasicCancelOptions::default())
            .await?;
        drop(deliveries);
        anyhow::Ok((arrivals, (messages, distinct.len())))
    });

    let publisher = connection.create_channel().await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    let publish_bar = progress.add(bar(rows.len(), "publishing   "));
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let bodies = rows
        .iter()
        .map(|row| serde_json::to_vec(&row.to_order_json(&created_at)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sent = Vec::with_capacity(rows.len());
    let first_publish = Instant::now();
    for (window_rows, window_bodies) in rows.chunks(WINDOW).zip(bodies.chunks(WINDOW)) {
        let mut confirms = Vec::with_capacity(window_rows.len());
        for (row, body) in window_rows.iter().zip(window_bodies) {
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(row.order_id.as_str().into());
            let options = BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            sent.push(Instant::now());
            let queue = amqp_settings.orders_queue.as_str().into();
            confirms.push(
                publisher
                    .basic_publish("".into(), queue, options, body, properties)
                    .await?,
            );
        }
        for confirm in confirms {
            match confirm.await? {
                Confirmation::Ack(None) => publish_bar.inc(1),
                Confirmation::Ack(Some(_)) => bail!("an order could not be routed to the orders queue"),
                Confirmation::Nack(_) => bail!("the broker refused an order (nack)"),
                Confirmation::NotRequested => bail!("publisher confirms are not enabled"),
            }
        }
    }
    let last_confirm = Instant::now();
    publish_bar.finish_and_clear();
    let (arrivals, messages) = collector.await??;
    let _ = connection.close(200, "done".into()).await;
    Ok((first_publish, last_confirm, sent, arrivals, messages))
}

/// Every order has exactly one final result, `succeeded`, and exactly one credit in the
/// ledger; the ledger has no other credits. Returns (succeeded, credits, problems).
fn verify(
    rows: &[PayoutRow],
    arrivals: &HashMap<String, Arrival>,
    ledger: &[LedgerEntry],
) -> (usize, usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut succeeded = 0;
    let mut missing = 0;
    for row in rows {
        match arrivals.get(&row.order_id) {
            None => missing += 1,
            Some(arrival) if arrival.final_seqs.len() > 1 => problems.push(format!(
                "order {} has {} final results",
                row.order_id,
                arrival.final_seqs.len()
            )),
            Some(arrival) if arrival.status != ResultStatus::Succeeded => {
                problems.push(format!("order {} ended {}", row.order_id, arrival.status.as_str()))
            }
            Some(_) => succeeded += 1,
        }
    }
    if missing > 0 {
        problems.push(format!("{missing} orders have no final result before the timeout"));
    }
    let mut credits_by_order: HashMap<&str, usize> = HashMap::new();
    for entry in ledger.iter().filter(|entry| entry.is_credited()) {
        *credits_by_order.entry(entry.order_ref.as_str()).or_default() += 1;
    }
    let credits: usize = credits_by_order.values().sum();
    if credits != rows.len() {
        problems.push(format!("the ledger has {credits} credits for {} orders", rows.len()));
    }
    let paid_twice = credits_by_order.values().filter(|count| **count > 1).count();
    if paid_twice > 0 {
        problems.push(format!("{paid_twice} orders were credited more than once"));
    }
    problems.truncate(20);
    (succeeded, credits, problems)
}

fn bar(length: usize, label: &str) -> ProgressBar {
    let progress = ProgressBar::new(length as u64);
    let template = format!("{label} {{bar:40}} {{pos}}/{{len}} orders ({{per_sec}}, {{elapsed}})");
    progress.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    progress
}
