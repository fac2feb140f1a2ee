//! `gateway demo` from the command line: exits 0 with a summary that adds up; stopped by
//! Ctrl-C, it deletes its queues and exits 130.

use std::process::Stdio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_pays_the_sample_list_and_its_summary_adds_up() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["demo", "--per-commune", "3", "--timeout-secs", "120"])
        .env("GATEWAY__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = crate::support::bounded("gateway demo", output)
        .await
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("nothing paid twice, nothing lost"), "{stdout}");
    // Ten communes of three; the line sent twice is one order (it was counted twice: 31).
    assert!(stdout.contains("\n30 orders, "), "{stdout}");
    // Its output is no terminal: the wait for final results is told a tenth at a time.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("final results for 30 of 30 orders (100%)"), "{stderr}");
    for commune in ["Đề Thám", "Dũng Nghĩa"] {
        assert!(stdout.contains(commune), "the summary lists {commune}");
    }
    assert!(
        stdout.contains("rejected") && stdout.contains("failed"),
        "the sample shows rejections and failures"
    );
}

/// A period that is no month is refused before anything runs (exit 2, naming it): every line
/// was then `rejected`, each order had its one final result, and the demo exited 0 saying all
/// was well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_period_that_is_no_month_is_refused() {
    for period in ["2026-13", "12/2026", "2026-1"] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["demo", "--per-commune", "1", "--period", period])
            .output()
            .await
            .expect("the gateway runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{period}: {stderr}");
        assert!(stderr.contains("is not a month written YYYY-MM"), "{period}: {stderr}");
    }
}

/// Ctrl-C while the demo pays: it stops, exits 130 and deletes the queues it made (each would
/// otherwise keep the orders and results of the run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_demo_deletes_its_queues() {
    use tokio::io::AsyncBufReadExt;
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["demo", "--per-commune", "300", "--timeout-secs", "120"])
        .env("GATEWAY__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the demo starts");
    let mut lines = tokio::io::BufReader::new(demo.stdout.take().expect("stdout is piped")).lines();
    let run_id = crate::support::bounded("the demo names its run", async {
        while let Some(line) = lines.next_line().await.expect("stdout reads") {
            if let Some(id) = line.strip_prefix("Demo ").and_then(|rest| rest.split(':').next()) {
                return id.to_string();
            }
        }
        panic!("the demo ended before it named its run");
    })
    .await;
    let orders = format!("payments.orders.{run_id}");
    assert!(
        crate::support::queue_exists(&orders).await,
        "{orders} exists while the demo runs"
    );

    let status = crate::support::interrupt(&mut demo, &mut lines, "demo").await;
    assert_eq!(status.code(), Some(130), "{status}");
    for queue in [
        orders,
        format!("payments.results.{run_id}"),
        format!("payments.dlq.{run_id}"),
    ] {
        assert!(!crate::support::queue_exists(&queue).await, "{queue} is deleted");
    }
}

/// A demo whose gateway could not start (its TLS files are missing) returned with its queues,
/// declared by then, left on the broker. (This relies on the gateway declaring its topology
/// before it reads its TLS files, as `RunningGateway::start` does; were the TLS files read
/// first, nothing would be declared and this would hold trivially.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_whose_gateway_cannot_start_deletes_its_queues() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["demo", "--per-commune", "1", "--timeout-secs", "30"])
        .env("GATEWAY__HTTP__TLS_CERT_PATH", "/nonexistent/gateway-cert.pem")
        .env("GATEWAY__HTTP__TLS_KEY_PATH", "/nonexistent/gateway-key.pem")
        .env("GATEWAY__LOG__LEVEL", "warn")
        .kill_on_drop(true)
        .output();
    let output = crate::support::bounded("a demo that cannot start", output)
        .await
        .expect("the demo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let run_id = stderr
        .split("the demo run ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the error names the run: {stderr}"));
    for queue in ["payments.orders", "payments.results", "payments.dlq"] {
        let name = format!("{queue}.{run_id}");
        assert!(
            !crate::support::queue_exists(&name).await,
            "{name} was deleted: {stderr}"
        );
    }
}
