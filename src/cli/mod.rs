//! Command-line interface: `run`, `sandbox`, `demo`, `publish`, `dlq`, `bench`, `outbox`, `orders show|list|resolve`, `report`, `batches list|show`, `reconcile`.

mod batches;
mod carried;
mod orders;
mod outbox;
mod publish;
mod reconcile;
mod report;
pub(crate) mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;

/// Payout gateway: payment orders from RabbitMQ to bank, VNPost and mobile-money providers.
#[derive(Debug, Parser)]
#[command(name = "gateway", version, about)]
pub struct Cli {
    /// Folder with `default.toml` (and `<GATEWAY_ENV>.toml`).
    #[arg(long, global = true, env = "GATEWAY_CONFIG_DIR", default_value = "config")]
    pub config_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: consume orders, pay through the providers, publish results.
    Run,
    /// Run the provider sandbox (emulated bank, VNPost and wallets) with its ledger.
    Sandbox,
    /// Start the sandbox and the gateway, pay a sample payout list end to end, and check
    /// the sandbox ledger against the results. Exits non-zero if anything does not add up.
    Demo(crate::demo::DemoArgs),
    /// Load an upstream payout list (CSV) onto the orders queue, with publisher confirms.
    Publish {
        /// The payout list; see the README for its columns.
        file: PathBuf,
    },
    /// Tools for the dead-letter queue: list, show, replay, purge.
    Dlq {
        #[command(subcommand)]
        command: crate::dlq::DlqCommand,
    },
    /// Measure throughput and memory against the bare-relay baseline; prints figures.
    Bench(crate::bench::BenchArgs),
    /// Outbox rows the broker would not take (parked): list them, release them.
    Outbox {
        #[command(subcommand)]
        command: outbox::OutboxCommand,
    },
    /// Look at orders in the store.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Batches (payout lists with a manifest): progress, totals and differences.
    Batches {
        #[command(subcommand)]
        command: batches::BatchesCommand,
    },
    /// Write the payout report of a period: CSV files and one HTML page with charts.
    Report(report::ReportArgs),
    /// Match a provider's statement against the gateway's books; returns become `returned`
    /// results. Exit code 0: the books balance; 3: they do not; 4: the statement cannot be read.
    Reconcile(reconcile::ReconcileArgs),
    /// Payments reconciliation carries from day to day (expected on later statements): list
    /// them, or stop expecting one that was settled with its provider.
    Carried {
        #[command(subcommand)]
        command: carried::CarriedCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Show one order: its payment, event log and result messages.
    Show {
        /// Upstream's order id (or the gateway's payment id).
        order_id: String,
    },
    /// List payments in one state (by default the ones waiting for a person), oldest first.
    List {
        /// The state to list: accepted, submitting, pending, unknown, retry_scheduled,
        /// succeeded, failed, rejected or needs_review.
        #[arg(long, default_value = "needs_review", value_parser = orders::parse_state)]
        state: crate::payment::PaymentState,
        /// Only this channel (`mobile_money`) or provider (`viettel_money`).
        #[arg(long)]
        channel: Option<String>,
        /// Only this batch.
        #[arg(long = "batch")]
        batch_id: Option<String>,
        /// Show at most this many; the total line counts them all.
        #[arg(long, default_value_t = 200)]
        limit: i64,
    },
    /// Settle a payment in needs_review after checking with the provider. The gateway asks
    /// the provider first and writes nothing if the answer contradicts yours.
    Resolve {
        /// Upstream's order id (or the gateway's payment id).
        order_id: String,
        /// What the provider confirmed: succeeded or failed.
        #[arg(long = "as", value_name = "succeeded|failed")]
        verdict: crate::review::Verdict,
        /// What was confirmed and how (ticket, call); kept in the event log. No personal data.
        #[arg(long)]
        note: String,
        /// The provider's reference for the transfer, if you have it.
        #[arg(long)]
        provider_ref: Option<String>,
        /// With `--as failed` for a payment that was sent: the provider confirmed it has no
        /// record and will never book this request (its idempotency window has passed).
        #[arg(long)]
        no_record_confirmed: bool,
        /// For a sent payment whose stored order no longer reads back
        /// (`unreadable_stored_order`), which the gateway cannot ask the provider about: you
        /// confirmed the outcome with the provider yourself. Refused for any other payment.
        #[arg(long)]
        without_inquiry: bool,
    },
}

/// Runs a command; the exit code says whether it did what was asked.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(&cli.config_dir)?;
    // The long-running services log at the configured level; the one-shot commands print
    // their own output and log only warnings, unless the level is set explicitly.
    let explicit_level = std::env::var_os("RUST_LOG").is_some() || std::env::var_os("GATEWAY__LOG__LEVEL").is_some();
    if !explicit_level && !matches!(cli.command, Command::Run | Command::Sandbox) {
        settings.log.level = "warn".to_string();
    }
    crate::telemetry::init(&settings.log);
    match cli.command {
        Command::Run => run::gateway(settings).await,
        Command::Sandbox => run::sandbox(settings).await,
        Command::Demo(args) => crate::demo::run(settings, args).await,
        Command::Publish { file } => publish::file(settings, &file).await,
        Command::Dlq { command } => crate::dlq::run(settings, command).await,
        Command::Bench(mut args) => {
            // A child gateway (`--separate-process`) loads the same configuration folder.
            args.config_dir = Some(cli.config_dir.clone());
            crate::bench::run(settings, args).await
        }
        Command::Outbox { command } => outbox::run(settings, command).await,
        Command::Orders { command } => orders::run(settings, command).await,
        Command::Batches { command } => batches::run(settings, command).await,
        Command::Report(args) => report::run(settings, args).await,
        Command::Reconcile(args) => reconcile::run(settings, args).await,
        Command::Carried { command } => carried::run(settings, command).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    /// A timeout near `u64::MAX` seconds overflowed the deadline (`Instant + Duration`), and
    /// the demo panicked after publishing its orders.
    #[test]
    fn a_timeout_past_a_day_is_refused_before_anything_runs() {
        for command in ["demo", "bench"] {
            let error = Cli::try_parse_from(["gateway", command, "--timeout-secs", "18446744073709551615"])
                .expect_err("a timeout of 584 billion years");
            assert!(error.to_string().contains("--timeout-secs"), "{error}");
            assert!(Cli::try_parse_from(["gateway", command, "--timeout-secs", "86400"]).is_ok());
        }
    }
}
