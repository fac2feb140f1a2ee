//! `gateway bench`: throughput, latency and memory of the gateway end to end, against the
//! bare-relay baseline measured in the same run. Prints `key=value` lines and a summary.

pub mod baseline;
pub mod check;
pub mod child;
pub mod collector;
pub mod core_wait;
pub mod disk_io;
pub mod e2e;
pub mod interrupt;
pub mod machine;
pub mod pacing;
pub mod postgres_wal;
pub mod progress;
pub mod publisher;
pub mod report;
pub mod stats;
pub mod store_work;
pub mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::Settings;
use crate::demo::stack;
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
    /// Gateway processes sharing the work (PostgreSQL only), each with its own consumer,
    /// dispatcher and relay on the same database and queues: child processes with
    /// `--separate-process` (CPU summed over them, peak RSS the largest), else all in this one.
    #[arg(long, default_value_t = 1)]
    pub gateways: usize,
    /// Publish only final results (`amqp.publish_intermediate_results = false`).
    #[arg(long)]
    pub final_results_only: bool,
    /// Publish open loop at this many orders per second (paced by a timer; publishing never
    /// waits for results), and measure each order's latency from its own publish. Without it
    /// every order is published at once, then the bench waits (a burst).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Run each gateway as its own process (`gateway run`, configured through `GATEWAY__…`
    /// variables), so CPU per order and peak RSS are the gateway's alone; the sandbox and the
    /// bench stay in this process.
    #[arg(long)]
    pub separate_process: bool,
    /// Give up waiting for final results after this many seconds (after the last order is
    /// due, under `--rate`; at most a day).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout_secs: u64,
    /// The configuration folder a child gateway loads (`--config-dir`; set by the command
    /// line, not a flag of `bench`).
    #[arg(skip)]
    pub config_dir: Option<PathBuf>,
}

/// Runs the baseline, then the gateway; exits 1 if any order did not end `succeeded` exactly
/// once or the sandbox ledger does not hold exactly one credit per order. Stopped by Ctrl-C or
/// SIGTERM, it removes the run's queues and database and exits 130.
pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.orders > 0, "--orders must be at least 1");
    anyhow::ensure!(args.orders <= 9_999_999, "--orders must be at most 9,999,999");
    anyhow::ensure!(args.gateways >= 1, "--gateways must be at least 1");
    anyhow::ensure!(
        args.gateways == 1 || args.database == DatabaseKind::Postgres,
        "--gateways above 1 needs --database postgres (SQLite serves one gateway process)"
    );
    anyhow::ensure!(args.rate != Some(0), "--rate must be at least 1 order per second");
    let run_id = stack::new_run_id();
    let measured = tokio::select! {
        measured = measure(settings.clone(), &args, &run_id) => Some(measured),
        () = crate::cli::run::wait_for_signal() => None,
    };
    // An interrupted run was dropped above (its gateway processes killed with it).
    match measured {
        Some(measured) => measured,
        None => Ok(interrupt::remove_leftovers(&settings, &args, &run_id).await),
    }
}

/// The baseline, then the gateway, then the figures.
async fn measure(settings: Settings, args: &BenchArgs, run_id: &str) -> anyhow::Result<ExitCode> {
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "bench {run_id}: baseline bare relay of {} quorum messages...",
        args.orders
    );
    let base = baseline::run(&settings.amqp, args.orders, args.prefetch, run_id).await?;
    eprintln!(
        "bench {run_id}: gateway end to end, {} orders on {:?}{}{}...",
        args.orders,
        args.database,
        args.rate
            .map_or_else(String::new, |rate| format!(", open loop at {rate} orders/s")),
        if args.separate_process {
            ", gateway in its own process"
        } else {
            ""
        },
    );
    let gateway = e2e::run(settings, args, run_id).await?;
    Ok(report::print(args, nproc, &base, &gateway))
}
