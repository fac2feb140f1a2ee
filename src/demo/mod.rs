//! `gateway demo`, the main job: sandbox + gateway + a sample payout list for the ten pilot
//! communes, end to end, with a summary checked against the sandbox ledger.

pub mod sample;
pub mod stack;
pub mod summary;
pub mod watch;

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use sandbox_kit::Faults;

use crate::config::Settings;
use crate::publish::{publish_orders, write_payout_list};

/// Options of `gateway demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Beneficiaries per commune (ten communes).
    #[arg(long, default_value_t = 20)]
    pub per_commune: usize,
    /// The payment period, `YYYY-MM`.
    #[arg(long, default_value = "2026-12", value_parser = period_arg)]
    pub period: String,
    /// Seed of the synthetic list (the same seed gives the same list).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Give up waiting for final results after this many seconds (at most a day).
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout_secs: u64,
    /// Keep the demo's queues afterwards (to look at them in the management UI).
    #[arg(long)]
    pub keep_queues: bool,
}

/// `--period`: a month, `YYYY-MM`. Any other text made every line of the list `rejected`
/// (`invalid_period`), and the demo, whose every order then had its one final result, said all
/// was well.
fn period_arg(text: &str) -> Result<String, String> {
    chrono::NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 7)
        .map(|_| text.to_string())
        .ok_or_else(|| format!("`{text}` is not a month written YYYY-MM (e.g. 2026-12)"))
}

/// Runs the demo; exits 1 if any order lacks exactly one final result or the ledger disagrees.
/// Stopped by Ctrl-C or SIGTERM, it stops its gateway and sandbox, deletes its queues (unless
/// `--keep-queues`) and exits 130; its store stays in its temporary folder, as after a finished
/// demo. A demo that fails (its gateway cannot start, the broker goes away) deletes its queues
/// too.
pub async fn run(settings: Settings, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let run_id = format!("demo-{}", stack::new_run_id());
    let mut amqp = settings.amqp.clone();
    stack::name_for_run(&mut amqp, &run_id);
    let paid = pay(settings, &args, &run_id).await;
    let queues = if args.keep_queues {
        "its queues are kept (--keep-queues)".to_string()
    } else if stack::delete_queues(&amqp).await {
        "its queues are deleted".to_string()
    } else {
        format!("its queues could not all be deleted (the broker did not answer): delete the queues and exchanges ending in .{run_id} by hand")
    };
    match paid {
        Ok(Some(code)) => Ok(code),
        Ok(None) => {
            eprintln!("Demo {run_id}: interrupted; {queues}.");
            Ok(ExitCode::from(crate::cli::run::INTERRUPTED))
        }
        Err(error) => Err(error.context(format!("the demo run {run_id} failed; {queues}"))),
    }
}

/// A demo should not sit out the production poll and retry intervals; but it never shortens
/// one below what the rest of the configuration needs (a lease that holds two calls of the
/// slowest provider, a poll before a pending payment is too old): with fixed values of its
/// own, a configuration that passes the checks failed them once the demo had changed it.
fn paced_for_a_demo(settings: &mut Settings) {
    let dispatcher = &mut settings.dispatcher;
    dispatcher.pending_poll_after_ms = dispatcher.pending_poll_after_ms.min(2_000);
    dispatcher.inquiry_delay_ms = dispatcher.inquiry_delay_ms.min(500);
    dispatcher.backoff_base_ms = dispatcher.backoff_base_ms.min(200);
    dispatcher.backoff_max_ms = dispatcher.backoff_max_ms.min(2_000);
    let slowest_call_ms = settings
        .providers
        .timeouts()
        .values()
        .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
        .max()
        .unwrap_or(0);
    let least_lease_ms = slowest_call_ms
        .saturating_mul(2)
        .saturating_add(crate::config::LEASE_MARGIN_MS);
    dispatcher.lease_ms = dispatcher.lease_ms.min(10_000).max(least_lease_ms);
}

/// The demo itself: pays the sample list and checks the results against the ledger; `None`
/// when a signal stopped it. Its gateway and sandbox are stopped before it returns, so that
/// nothing of the run declares its queues again once they are deleted.
async fn pay(mut settings: Settings, args: &DemoArgs, run_id: &str) -> anyhow::Result<Option<ExitCode>> {
    let started = Instant::now();
    settings.database.url = stack::temporary_sqlite_url(run_id)?;
    paced_for_a_demo(&mut settings);
    // The ops dashboard, with a token of this run's own.
    let dashboard_token = hex::encode(rand::random::<[u8; 16]>());
    settings.dashboard.token = Some(dashboard_token.clone().into());
    let (settings, sandbox, gateway) = tokio::select! {
        started = stack::start(settings, run_id) => started?,
        () = crate::cli::run::wait_for_signal() => return Ok(None),
    };
    let outcome = tokio::select! {
        outcome = pay_the_list(&settings, args, run_id, &sandbox, &gateway, &dashboard_token) => Some(outcome),
        () = crate::cli::run::wait_for_signal() => None,
    };
    // A second signal while the gateway stops (its drain, steps waiting on a hung provider)
    // ends the demo at once, as it ends `gateway run`.
    let stopped = tokio::select! {
        () = gateway.stop() => true,
        () = crate::cli::run::wait_for_signal() => false,
    };
    let ledger = sandbox.kit.ledger.entries();
    sandbox.stop();
    let (Some(outcome), true) = (outcome, stopped) else {
        return Ok(None);
    };
    let (sample, results) = outcome?;
    let routing = settings.routing_table()?;

    summary::print(&sample.rows, &results);
    summary::print_credits_by_provider(&ledger);
    let mut problems = summary::reconcile(&sample.rows, &results, &ledger);
    problems.extend(summary::misrouted(&sample.rows, &ledger, &|bin| {
        routing.bank_for_bin(bin).to_string()
    }));
    let credited = ledger.iter().filter(|entry| entry.is_credited()).count();
    if credited == 0 {
        problems.push("no order was paid: the sample's valid lines should have been".to_string());
    }
    // The list sends one line twice; that is one order.
    let orders: std::collections::BTreeSet<&str> = sample.rows.iter().map(|row| row.order_id.as_str()).collect();
    println!(
        "\n{} orders, {} credits in the sandbox ledger, {:.1} s.",
        orders.len(),
        credited,
        started.elapsed().as_secs_f64()
    );
    if problems.is_empty() {
        println!("Every order has exactly one final result and the ledger agrees: nothing paid twice, nothing lost.");
        Ok(Some(ExitCode::SUCCESS))
    } else {
        for problem in &problems {
            println!("PROBLEM: {problem}");
        }
        Ok(Some(ExitCode::FAILURE))
    }
}

/// Sets the providers' faults, writes and publishes the sample list, and waits for every
/// order's final result (or the timeout).
async fn pay_the_list(
    settings: &Settings,
    args: &DemoArgs,
    run_id: &str,
    sandbox: &stack::LocalSandbox,
    gateway: &crate::app::RunningGateway,
    dashboard_token: &str,
) -> anyhow::Result<(sample::Sample, watch::ResultsByOrder)> {
    // Providers misbehave a little, as they do: the gateway must still pay each order once.
    for provider in settings.providers.iter().map(|provider| provider.key.as_str()) {
        sandbox.kit.set_faults(
            provider,
            Faults {
                error_5xx_rate: 0.05,
                lost_callback_rate: 0.1,
                duplicate_callback_rate: 0.1,
                timeout_after_booking_next: 1,
                duplicate_in_flight_next: u32::from(provider == "viettel_money"),
                hang_ms: 3_000,
                ..Faults::default()
            },
        );
    }
    let routing = settings.routing_table()?;
    let sample = sample::generate(args.per_commune, &args.period, args.seed, &|bin| {
        routing.bank_for_bin(bin).to_string()
    });
    sandbox.kit.directory.register(sample.accounts.clone());
    let list_path = std::env::temp_dir()
        .join(format!("payout-gateway-{run_id}"))
        .join("payout-list.csv");
    write_payout_list(&list_path, &sample.rows)?;
    println!(
        "Demo {run_id}: {} lines for {} communes written to {}; sandbox at {}, gateway at {}.",
        sample.rows.len(),
        sample::COMMUNES.len(),
        list_path.display(),
        sandbox.url(),
        gateway.http_address
    );
    println!(
        "Ops dashboard (while the demo runs): http://{}/ops#token={dashboard_token}",
        gateway.http_address
    );

    publish_orders(&settings.amqp, &sample.rows, true, crate::publish::CONFIRM_WITHIN).await?;
    let expected: HashSet<String> = sample.rows.iter().map(|row| row.order_id.clone()).collect();
    let results =
        watch::collect_results(&settings.amqp, &expected, Duration::from_secs(args.timeout_secs), true).await?;
    Ok((sample, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slow provider (5 s) in a configuration that passes its checks: the demo set its lease
    /// to 10 s, under the two calls and a margin a lease must hold, and failed to start on a
    /// value nobody had configured.
    #[test]
    fn the_demos_pace_keeps_a_configuration_that_passes_its_checks_passing() {
        let mut settings = Settings::load(std::path::Path::new("config")).expect("config/default.toml loads");
        settings
            .providers
            .config_mut::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
            .expect("the sandbox bank")
            .timeout_ms = 5_000;
        settings.validate().expect("valid as configured");
        paced_for_a_demo(&mut settings);
        settings.validate().expect("still valid, paced for the demo");
        assert_eq!(settings.dispatcher.lease_ms, 11_000, "two 5 s calls and the margin");
        assert_eq!(settings.dispatcher.pending_poll_after_ms, 2_000);
    }
}
