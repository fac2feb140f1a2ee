//! `gateway bench`: throughput, latency and memory of the gateway end to end, against the
//! bare-relay baseline measured in the same run. Prints `key=value` lines and a summary.

pub mod baseline;
pub mod e2e;
pub mod stats;
pub mod workload;

use std::process::ExitCode;

use clap::Args;

use crate::config::Settings;
use crate::demo::stack;
use stats::{per_second, LatencySummary};
use workload::{Channels, DatabaseKind};

/// Options of `gateway bench`. The tuning options default to values an operator could run in
/// production; they apply to the gateway only (the baseline has no dispatcher).
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Orders per run (and messages relayed by the baseline).
    #[arg(long, default_value_t = 2000)]
    pub orders: usize,
    /// Unacknowledged deliveries per consumer, for the baseline relay and the gateway's
    /// orders consumer alike.
    #[arg(long, default_value_t = 200)]
    pub prefetch: u16,
    /// The gateway's store.
    #[arg(long, value_enum, default_value_t = DatabaseKind::Sqlite)]
    pub database: DatabaseKind,
    /// PostgreSQL server on which a fresh database is created (and dropped) for the run.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
    /// Channels of the orders.
    #[arg(long, value_enum, default_value_t = Channels::Bank)]
    pub channels: Channels,
    /// Payments in flight at once per provider (`dispatcher.provider_concurrency`).
    #[arg(long, default_value_t = 64)]
    pub provider_concurrency: usize,
    /// Payments leased per look (`dispatcher.batch_size`).
    #[arg(long, default_value_t = 256)]
    pub batch_size: i64,
    /// Dispatcher poll interval when nothing woke it (`dispatcher.tick_ms`).
    #[arg(long, default_value_t = 50)]
    pub tick_ms: u64,
    /// Sandbox time between booking a credit and completing it (sending the callback).
    #[arg(long, default_value_t = 5)]
    pub complete_after_ms: u64,
    /// Latency every emulated provider adds to each request (ms): 0, 50 and 200 show how
    /// much a slow provider costs.
    #[arg(long, default_value_t = 0)]
    pub provider_latency_ms: u64,
    /// Gateway processes sharing the work (PostgreSQL only): the extra ones run in this
    /// process with their own consumer, dispatcher and relay on the same database and queues.
    #[arg(long, default_value_t = 1)]
    pub gateways: usize,
    /// Publish only final results (`amqp.publish_intermediate_results = false`).
    #[arg(long)]
    pub final_results_only: bool,
    /// Give up waiting for final results after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

/// Runs the baseline, then the gateway; exits 1 if any order did not end `succeeded` exactly
/// once or the sandbox ledger does not hold exactly one credit per order.
pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.orders > 0, "--orders must be at least 1");
    anyhow::ensure!(args.gateways >= 1, "--gateways must be at least 1");
    anyhow::ensure!(
        args.gateways == 1 || args.database == DatabaseKind::Postgres,
        "--gateways above 1 needs --database postgres (SQLite serves one gateway process)"
    );
    let run_id = stack::new_run_id();
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "bench {run_id}: baseline bare relay of {} quorum messages...",
        args.orders
    );
    let base = baseline::run(&settings.amqp, args.orders, args.prefetch, &run_id).await?;
    eprintln!(
        "bench {run_id}: gateway end to end, {} orders on {:?}...",
        args.orders, args.database
    );
    let gateway = e2e::run(settings, &args, &run_id).await?;

    let publish_elapsed = gateway.last_confirm.saturating_duration_since(gateway.first_publish);
    let end_to_end = gateway
        .last_final
        .map(|last| last.saturating_duration_since(gateway.first_publish))
        .unwrap_or_default();
    let orders_per_s = per_second(gateway.latencies.len(), end_to_end);
    let first_final_ms = gateway
        .first_final
        .map(|first| first.saturating_duration_since(gateway.first_publish).as_secs_f64() * 1000.0);
    let cpu_ms_per_order = match (gateway.cpu_before, gateway.cpu_after) {
        (Some(before), Some(after)) if gateway.orders > 0 => {
            format!("{:.3}", (after - before).as_secs_f64() * 1000.0 / gateway.orders as f64)
        }
        _ => "n/a".to_string(),
    };
    let latency = LatencySummary::of(&gateway.latencies);
    let ratio = if base.relay_msgs_per_s() > 0.0 {
        orders_per_s / base.relay_msgs_per_s()
    } else {
        0.0
    };
    let kib = |memory: Option<stats::Memory>, peak: bool| {
        memory.map_or_else(
            || "n/a".to_string(),
            |m| (if peak { m.peak_kib } else { m.resident_kib }).to_string(),
        )
    };
    let rss_growth = match (gateway.memory_before, gateway.memory_after) {
        (Some(before), Some(after)) => (after.resident_kib as i64 - before.resident_kib as i64).to_string(),
        _ => "n/a".to_string(),
    };
    let database = match args.database {
        DatabaseKind::Sqlite => "sqlite",
        DatabaseKind::Postgres => "postgres",
    };
    let channels = match args.channels {
        Channels::Bank => "bank_transfer",
        Channels::Mix => "mix",
    };
    let check = if gateway.problems.is_empty() { "ok" } else { "FAILED" };
    let command = reproduce(&args);

    let lines: Vec<(&str, String)> = vec![
        ("machine_nproc", nproc.to_string()),
        ("command", command.clone()),
        ("baseline_queue", "quorum".to_string()),
        ("baseline_messages", base.messages.to_string()),
        ("baseline_body_bytes", baseline::BODY_BYTES.to_string()),
        ("baseline_prefetch", base.prefetch.to_string()),
        ("load_msgs_per_s", format!("{:.0}", base.load_msgs_per_s())),
        ("relay_msgs_per_s", format!("{:.0}", base.relay_msgs_per_s())),
        ("gateway_database", database.to_string()),
        ("gateway_channels", channels.to_string()),
        ("gateway_orders", gateway.orders.to_string()),
        ("gateway_prefetch", args.prefetch.to_string()),
        ("gateway_provider_concurrency", args.provider_concurrency.to_string()),
        ("gateway_batch_size", args.batch_size.to_string()),
        ("gateway_tick_ms", args.tick_ms.to_string()),
        ("sandbox_complete_after_ms", args.complete_after_ms.to_string()),
        ("sandbox_provider_latency_ms", args.provider_latency_ms.to_string()),
        ("gateway_final_results_only", args.final_results_only.to_string()),
        ("gateway_processes", args.gateways.to_string()),
        (
            "publish_orders_per_s",
            format!("{:.0}", per_second(gateway.orders, publish_elapsed)),
        ),
        ("end_to_end_secs", format!("{:.3}", end_to_end.as_secs_f64())),
        (
            "first_final_ms",
            first_final_ms.map_or_else(|| "n/a".to_string(), |ms| format!("{ms:.1}")),
        ),
        ("process_cpu_ms_per_order", cpu_ms_per_order),
        ("orders_per_s", format!("{orders_per_s:.0}")),
        ("latency_p50_ms", format!("{:.1}", latency.p50_ms)),
        ("latency_p95_ms", format!("{:.1}", latency.p95_ms)),
        ("latency_p99_ms", format!("{:.1}", latency.p99_ms)),
        ("latency_max_ms", format!("{:.1}", latency.max_ms)),
        ("result_messages_seen", gateway.result_messages.to_string()),
        (
            "publishes_per_result_row",
            if gateway.distinct_results > 0 {
                format!(
                    "{:.3}",
                    gateway.result_messages as f64 / gateway.distinct_results as f64
                )
            } else {
                "n/a".to_string()
            },
        ),
        ("vm_hwm_before_kib", kib(gateway.memory_before, true)),
        ("vm_hwm_after_kib", kib(gateway.memory_after, true)),
        ("vm_rss_before_kib", kib(gateway.memory_before, false)),
        ("vm_rss_after_kib", kib(gateway.memory_after, false)),
        ("vm_rss_growth_kib", rss_growth),
        ("ratio_gateway_orders_to_relay_msgs", format!("{ratio:.3}")),
        ("final_succeeded", format!("{}/{}", gateway.succeeded, gateway.orders)),
        ("ledger_credits", gateway.credits.to_string()),
        ("check", check.to_string()),
    ];
    for (key, value) in &lines {
        println!("{key}={value}");
    }

    println!();
    println!(
        "On {nproc} cores, RabbitMQ relays {:.0} quorum messages/s bare (load {:.0}/s); the gateway on {database} \
         pays {orders_per_s:.0} orders/s end to end ({:.1}% of the bare relay), publishing at {:.0} orders/s.",
        base.relay_msgs_per_s(),
        base.load_msgs_per_s(),
        ratio * 100.0,
        per_second(gateway.orders, publish_elapsed),
    );
    println!(
        "Per order, publish to final result: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms (max {:.0} ms). \
         Peak RSS {} KiB (sandbox and bench in the same process); RSS grew {} KiB during the run.",
        latency.p50_ms,
        latency.p95_ms,
        latency.p99_ms,
        latency.max_ms,
        kib(gateway.memory_after, true),
        lines
            .iter()
            .find(|(key, _)| *key == "vm_rss_growth_kib")
            .map_or("n/a", |(_, v)| v),
    );
    println!("Reproduce: {command}");
    if gateway.problems.is_empty() {
        println!(
            "Every order has exactly one final result, succeeded, and the ledger has exactly {} credits.",
            gateway.orders
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for problem in &gateway.problems {
            println!("PROBLEM: {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// The command line that repeats this run, with `RUST_LOG` if it was set.
fn reproduce(args: &BenchArgs) -> String {
    let mut command = String::new();
    if let Ok(filter) = std::env::var("RUST_LOG") {
        command.push_str(&format!("RUST_LOG={filter} "));
    }
    command.push_str(&format!(
        "cargo run --release -- bench --orders {} --prefetch {} --database {}",
        args.orders,
        args.prefetch,
        match args.database {
            DatabaseKind::Sqlite => "sqlite",
            DatabaseKind::Postgres => "postgres",
        }
    ));
    if args.database == DatabaseKind::Postgres {
        command.push_str(&format!(" --postgres-url {}", workload::redact(&args.postgres_url)));
    }
    command.push_str(&format!(
        " --channels {} --provider-concurrency {} --batch-size {} --tick-ms {} --complete-after-ms {} --provider-latency-ms {}",
        match args.channels {
            Channels::Bank => "bank",
            Channels::Mix => "mix",
        },
        args.provider_concurrency,
        args.batch_size,
        args.tick_ms,
        args.complete_after_ms,
        args.provider_latency_ms
    ));
    if args.final_results_only {
        command.push_str(" --final-results-only");
    }
    if args.gateways > 1 {
        command.push_str(&format!(" --gateways {}", args.gateways));
    }
    command
}
