//! `gateway bench` from the command line on SQLite: open loop with the gateway as its own
//! process, and the default burst in one process, both exiting 0 with the figures they
//! promise; and a run stopped by Ctrl-C, which leaves nothing of itself behind.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

/// Runs `gateway bench <args>` and returns its `key=value` figures; fails on a non-zero exit
/// or an `ERROR` log line.
async fn bench(args: &[&str]) -> HashMap<String, String> {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("bench")
        .args(args)
        .args(["--timeout-secs", "60"])
        .env("GATEWAY__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = crate::support::bounded(&format!("gateway bench {args:?}"), output)
        .await
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("the ledger has exactly"), "{stdout}");
    // A run that went well logs no error (an ops reader takes an `ERROR` line at its word).
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("ERROR"), "bench {args:?} logged an error:\n{stderr}");
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn number(figures: &HashMap<String, String>, key: &str) -> f64 {
    let value = figures
        .get(key)
        .unwrap_or_else(|| panic!("{key} is printed: {figures:?}"));
    value.parse().unwrap_or_else(|_| panic!("{key}={value} is a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_run_with_the_gateway_in_its_own_process_reports_the_gateways_own_figures() {
    let figures = bench(&["--orders", "40", "--rate", "200", "--separate-process"]).await;
    assert_eq!(figures["check"], "ok");
    assert_eq!(figures["final_succeeded"], "40/40");
    assert_eq!(figures["gateway_process"], "separate");
    assert_eq!(figures["publish_mode"], "rate");
    assert_eq!(figures["target_rate_orders_per_s"], "200");
    // 40 orders at 200/s go out over about 195 ms; a busy machine may stretch that a little.
    let achieved = number(&figures, "achieved_publish_orders_per_s");
    assert!((50.0..=260.0).contains(&achieved), "achieved {achieved}/s");
    assert!(number(&figures, "gateway_cpu_ms_per_order") > 0.0);
    assert!(number(&figures, "gateway_vm_hwm_kib") > 1_000.0);
    // How long its threads, and of them the SQLite writer's two, waited for a core.
    let waited = number(&figures, "gateway_core_wait_ms_per_order");
    let store_waited = number(&figures, "store_core_wait_ms_per_order");
    assert!(
        (0.0..=waited).contains(&store_waited),
        "store {store_waited} of {waited}"
    );
    // Where the machine's CPU went: the broker runs on this machine, so it is found and read.
    assert!(number(&figures, "machine_cpu_ms_per_order") > 0.0);
    assert!(number(&figures, "machine_cpu_available_ms_per_order") > 0.0);
    assert!(number(&figures, "broker_cpu_ms_per_order") >= 0.0);
    let (p50, p99) = (number(&figures, "latency_p50_ms"), number(&figures, "latency_p99_ms"));
    assert!(p50 > 0.0 && p99 >= p50, "p50 {p50} p99 {p99}");
    assert!(number(&figures, "first_final_ms") > 0.0);
    // The gateway's own counters: every order was claimed and moved in group commits, and a
    // bank payout asks the bank's name inquiry and then submits (two calls at least).
    let commits = number(&figures, "group_commits_per_order");
    assert!(commits > 0.0, "group commits {commits}");
    assert!(number(&figures, "store_units_per_order") >= commits);
    // Each commit waits for the disk, so the writer's time cannot be nothing.
    assert!(number(&figures, "writer_ms_per_order") > 0.0);
    assert!(number(&figures, "leases_per_order") > 0.0);
    let calls = number(&figures, "provider_calls_per_order");
    assert!(calls >= 2.0, "provider calls per order {calls}");
    // Its own I/O: it reads every order off a socket and writes its payments to SQLite's WAL.
    assert!(number(&figures, "gateway_read_calls_per_order") > 0.0);
    assert!(number(&figures, "gateway_write_calls_per_order") > 0.0);
    assert!(number(&figures, "gateway_disk_write_kib_per_order") >= 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_in_one_process_still_reports_latency_and_checks_the_ledger() {
    let figures = bench(&["--orders", "40", "--channels", "mix"]).await;
    assert_eq!(figures["check"], "ok");
    assert_eq!(figures["ledger_credits"], "40");
    assert_eq!(figures["gateway_process"], "in_process");
    assert_eq!(figures["publish_mode"], "burst");
    assert_eq!(figures["gateway_cpu_ms_per_order"], "n/a");
    assert_eq!(figures["store_core_wait_ms_per_order"], "n/a");
    assert_eq!(figures["gateway_read_calls_per_order"], "n/a");
    assert_eq!(
        figures["group_commits_per_order"], "n/a",
        "only a separate gateway's are its own"
    );
    assert!(number(&figures, "process_cpu_ms_per_order") > 0.0);
    assert!(number(&figures, "latency_p99_ms") > 0.0);
    assert_eq!(figures["postgres_wal_kib_per_order"], "n/a", "a SQLite run");
}

/// On PostgreSQL the bench counts what the server wrote to its WAL per order: each order is
/// claimed (its row, its stored order, the beneficiary's period, each with its index
/// entries), moved three times and its results appended, kilobytes in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_run_counts_the_servers_wal_written_per_order() {
    let url = crate::support::postgres_admin_url();
    let figures = bench(&[
        "--orders",
        "40",
        "--channels",
        "mix",
        "--database",
        "postgres",
        "--postgres-url",
        &url,
    ])
    .await;
    assert_eq!(figures["check"], "ok");
    let kib = number(&figures, "postgres_wal_kib_per_order");
    assert!(kib > 1.0, "WAL KiB per order {kib}");
}

/// Ctrl-C in the middle of the gateway phase: the bench stops, exits 130, and leaves none of
/// its run behind — no queue (a province's would hold 172,000 persistent messages), no
/// database and no gateway process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_bench_removes_its_queues_database_and_gateway_process() {
    use tokio::io::AsyncBufReadExt;
    // One call at a time, each 200 ms: thousands of orders take far longer than the test.
    let mut bench = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args([
            "bench",
            "--orders",
            "3000",
            "--separate-process",
            "--provider-latency-ms",
            "200",
        ])
        .args(["--provider-concurrency", "1", "--timeout-secs", "120"])
        .env("GATEWAY__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the bench starts");
    let mut lines = tokio::io::BufReader::new(bench.stderr.take().expect("stderr is piped")).lines();
    let run_id = crate::support::bounded("the bench's gateway phase starts", async {
        let mut run_id = None;
        while let Some(line) = lines.next_line().await.expect("stderr reads") {
            if let Some(id) = line.strip_prefix("bench ").and_then(|rest| rest.split(':').next()) {
                run_id.get_or_insert_with(|| id.to_string());
            }
            if line.contains("gateway end to end") {
                return run_id.expect("the bench names its run first");
            }
        }
        panic!("the bench ended before its gateway phase");
    })
    .await;
    // Let the child gateway start and payments flow.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let folder = std::env::temp_dir().join(format!("payout-gateway-{run_id}"));
    assert!(folder.exists(), "the run's SQLite folder {} exists", folder.display());
    assert!(
        !processes_of(&run_id).is_empty(),
        "a child gateway of the run is running"
    );
    assert!(crate::support::queue_exists(&format!("payments.orders.bench-{run_id}")).await);

    let status = crate::support::interrupt(&mut bench, &mut lines, "bench").await;
    assert_eq!(status.code(), Some(130), "{status}");

    assert!(!folder.exists(), "{} is removed", folder.display());
    for queue in [
        format!("payments.orders.bench-{run_id}"),
        format!("payments.results.bench-{run_id}"),
        format!("payments.dlq.bench-{run_id}"),
        format!("bench.baseline.in.{run_id}"),
        format!("bench.baseline.out.{run_id}"),
    ] {
        assert!(!crate::support::queue_exists(&queue).await, "{queue} is deleted");
    }
    // The child was sent SIGKILL when its run was dropped; give the kernel a moment to reap it.
    let gone = async {
        while !processes_of(&run_id).is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    crate::support::bounded_by(Duration::from_secs(10), "the child gateway is gone", gone).await;
}

/// Processes whose environment names run `run_id` (a child gateway's queue names do).
fn processes_of(run_id: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = format!("bench-{run_id}");
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| String::from_utf8_lossy(&environ).contains(&needle))
        })
        .collect()
}
