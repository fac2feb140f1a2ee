//! What `gateway bench` prints: `key=value` figures, a summary in sentences, and the command
//! that repeats the run.

use std::process::ExitCode;

use super::baseline::{self, BaselineReport};
use super::disk_io::DiskIo;
use super::e2e::GatewayReport;
use super::postgres_wal::WalPosition;
use super::stats::{per_second, LatencySummary, Memory};
use super::store_work::StoreWork;
use super::workload::{self, Channels, DatabaseKind};
use super::BenchArgs;

/// Prints the figures and the summary; exit 1 when the check found a problem.
pub fn print(args: &BenchArgs, nproc: usize, base: &BaselineReport, gateway: &GatewayReport) -> ExitCode {
    let publish_elapsed = gateway.last_confirm.saturating_duration_since(gateway.first_publish);
    let end_to_end = gateway
        .last_final
        .map(|last| last.saturating_duration_since(gateway.first_publish))
        .unwrap_or_default();
    let orders_per_s = per_second(gateway.latencies.len(), end_to_end);
    let first_final_ms = gateway
        .first_final
        .map(|first| first.saturating_duration_since(gateway.first_publish).as_secs_f64() * 1000.0);
    let per_order = |cpu: Option<std::time::Duration>| match cpu {
        Some(cpu) if gateway.orders > 0 => format!("{:.3}", cpu.as_secs_f64() * 1000.0 / gateway.orders as f64),
        _ => "n/a".to_string(),
    };
    let process_cpu = gateway
        .cpu_after
        .zip(gateway.cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    // Every core over the span the machine's CPU was read over: what the machine could have
    // spent on each order, against what it did (`machine_cpu_ms_per_order`) in the same span.
    let available = gateway.machine_span.mul_f64(nproc as f64);
    let latency = LatencySummary::of(&gateway.latencies);
    let ratio = if base.relay_msgs_per_s() > 0.0 {
        orders_per_s / base.relay_msgs_per_s()
    } else {
        0.0
    };
    let kib = |memory: Option<Memory>, peak: bool| {
        memory.map_or_else(
            || "n/a".to_string(),
            |m| (if peak { m.peak_kib } else { m.resident_kib }).to_string(),
        )
    };
    let rss_growth = match (gateway.memory_before, gateway.memory_after) {
        (Some(before), Some(after)) => (after.resident_kib as i64 - before.resident_kib as i64).to_string(),
        _ => "n/a".to_string(),
    };
    let gateway_peak = gateway
        .gateway_peak_kib
        .map_or_else(|| "n/a".to_string(), |kib| kib.to_string());
    let database = database_name(args.database);
    let check = if gateway.problems.is_empty() { "ok" } else { "FAILED" };
    let command = reproduce(args);
    let publish_mode = match args.rate {
        Some(rate) => format!("rate {rate}/s"),
        None => "burst".to_string(),
    };

    let store_work = gateway.store_work.map(|work| work.per_order(gateway.orders));
    let mut lines: Vec<(&str, String)> = vec![
        ("machine_nproc", nproc.to_string()),
        ("command", command.clone()),
        ("baseline_queue", "quorum".to_string()),
        ("baseline_messages", base.messages.to_string()),
        ("baseline_body_bytes", baseline::BODY_BYTES.to_string()),
        ("baseline_prefetch", base.prefetch.to_string()),
        ("load_msgs_per_s", format!("{:.0}", base.load_msgs_per_s())),
        ("relay_msgs_per_s", format!("{:.0}", base.relay_msgs_per_s())),
        ("gateway_database", database.to_string()),
        ("gateway_channels", channels_name(args.channels).to_string()),
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
            "gateway_process",
            (if args.separate_process {
                "separate"
            } else {
                "in_process"
            })
            .to_string(),
        ),
        (
            "publish_mode",
            (if args.rate.is_some() { "rate" } else { "burst" }).to_string(),
        ),
        (
            "target_rate_orders_per_s",
            args.rate.map_or_else(|| "n/a".to_string(), |rate| rate.to_string()),
        ),
        (
            "achieved_publish_orders_per_s",
            format!("{:.0}", gateway.achieved_publish_rate),
        ),
        (
            "publish_lag_max_ms",
            format!("{:.1}", gateway.max_publish_lag.as_secs_f64() * 1000.0),
        ),
        (
            "publish_orders_per_s",
            format!("{:.0}", per_second(gateway.orders, publish_elapsed)),
        ),
        ("end_to_end_secs", format!("{:.3}", end_to_end.as_secs_f64())),
        (
            "first_final_ms",
            first_final_ms.map_or_else(|| "n/a".to_string(), |ms| format!("{ms:.1}")),
        ),
        ("process_cpu_ms_per_order", per_order(process_cpu)),
        ("gateway_cpu_ms_per_order", per_order(gateway.gateway_cpu)),
        ("gateway_vm_hwm_kib", gateway_peak.clone()),
        (
            "gateway_core_wait_ms_per_order",
            per_order(gateway.gateway_core_wait.map(|wait| wait.all)),
        ),
        (
            "store_core_wait_ms_per_order",
            per_order(gateway.gateway_core_wait.and_then(|wait| wait.store)),
        ),
        ("machine_cpu_ms_per_order", per_order(gateway.machine.machine)),
        ("machine_cpu_available_ms_per_order", per_order(Some(available))),
        ("broker_cpu_ms_per_order", per_order(gateway.machine.broker)),
        ("postgres_cpu_ms_per_order", per_order(gateway.machine.database)),
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
        ("vm_rss_growth_kib", rss_growth.clone()),
        ("ratio_gateway_orders_to_relay_msgs", format!("{ratio:.3}")),
        ("final_succeeded", format!("{}/{}", gateway.succeeded, gateway.orders)),
        ("ledger_credits", gateway.credits.to_string()),
        ("check", check.to_string()),
    ];
    // Counted by the gateway processes themselves; "n/a" when they run in this process.
    lines.extend(DiskIo::per_order(gateway.gateway_io, gateway.orders));
    lines.push(WalPosition::per_order(gateway.postgres_wal_bytes, gateway.orders));
    let absent = StoreWork::default().per_order(0);
    lines.extend(store_work.clone().unwrap_or(absent));
    for (key, value) in &lines {
        println!("{key}={value}");
    }

    println!();
    println!(
        "On {nproc} cores, RabbitMQ relays {:.0} quorum messages/s bare (load {:.0}/s); the gateway on {database} \
         pays {orders_per_s:.0} orders/s end to end ({:.1}% of the bare relay), published as a {publish_mode} \
         (achieved {:.0} orders/s).",
        base.relay_msgs_per_s(),
        base.load_msgs_per_s(),
        ratio * 100.0,
        gateway.achieved_publish_rate,
    );
    println!(
        "Per order, from its own publish to its final result: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms \
         (max {:.0} ms); the first final result came {} ms after the first publish.",
        latency.p50_ms,
        latency.p95_ms,
        latency.p99_ms,
        latency.max_ms,
        first_final_ms.map_or_else(|| "n/a".to_string(), |ms| format!("{ms:.0}")),
    );
    if let Some([commits, units, writer, leases, calls]) = &store_work {
        println!(
            "What the gateway did per order: {} group commits carrying {} write units, {} ms of the store \
             writer's time, {} dispatcher leases, {} provider calls.",
            commits.1, units.1, writer.1, leases.1, calls.1,
        );
    }
    if args.separate_process {
        println!(
            "The gateway process{} alone: {} ms CPU per order, peak RSS {gateway_peak} KiB. This process \
             (sandbox and bench): {} ms CPU per order, peak RSS {} KiB.",
            if args.gateways > 1 { "es" } else { "" },
            per_order(gateway.gateway_cpu),
            per_order(process_cpu),
            kib(gateway.memory_after, true),
        );
    } else {
        println!(
            "Gateway, sandbox and bench in one process: {} ms CPU per order, peak RSS {} KiB; RSS grew {rss_growth} KiB \
             during the run (--separate-process gives the gateway's own).",
            per_order(process_cpu),
            kib(gateway.memory_after, true),
        );
    }
    println!(
        "Where the machine's CPU went, per order: RabbitMQ {} ms, PostgreSQL {} ms, everything on the machine {} ms \
         of the {} ms its {nproc} cores had for each order over the run.",
        per_order(gateway.machine.broker),
        per_order(gateway.machine.database),
        per_order(gateway.machine.machine),
        per_order(Some(available)),
    );
    println!("Reproduce: {command}");
    if gateway.problems.is_empty() {
        println!(
            "Every order has exactly one final result, succeeded, and the ledger has exactly {} credits.",
            gateway.orders
        );
        ExitCode::SUCCESS
    } else {
        for problem in &gateway.problems {
            println!("PROBLEM: {problem}");
        }
        ExitCode::FAILURE
    }
}

fn database_name(database: DatabaseKind) -> &'static str {
    match database {
        DatabaseKind::Sqlite => "sqlite",
        DatabaseKind::Postgres => "postgres",
    }
}

fn channels_name(channels: Channels) -> &'static str {
    match channels {
        Channels::Bank => "bank_transfer",
        Channels::Mix => "mix",
    }
}

/// The command line that repeats this run, with `RUST_LOG` if it was set.
pub fn reproduce(args: &BenchArgs) -> String {
    let mut command = String::new();
    if let Ok(filter) = std::env::var("RUST_LOG") {
        command.push_str(&format!("RUST_LOG={filter} "));
    }
    command.push_str(&format!(
        "cargo run --release -- bench --orders {} --prefetch {} --database {}",
        args.orders,
        args.prefetch,
        database_name(args.database)
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
    if let Some(rate) = args.rate {
        command.push_str(&format!(" --rate {rate}"));
    }
    if args.separate_process {
        command.push_str(" --separate-process");
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn the_reproduce_line_repeats_the_new_modes() {
        let command = Command::parse_from(["bench", "--orders", "40", "--rate", "200", "--separate-process"]);
        let line = reproduce(&command.args);
        assert!(line.contains("--orders 40 "), "{line}");
        assert!(line.ends_with(" --rate 200 --separate-process"), "{line}");
        let burst = Command::parse_from(["bench"]);
        assert!(!reproduce(&burst.args).contains("--rate"));
    }
}
