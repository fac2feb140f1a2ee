//! `gateway demo` from the command line: exits 0 with a summary that adds up.

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
    for commune in ["Đề Thám", "Dũng Nghĩa"] {
        assert!(stdout.contains(commune), "the summary lists {commune}");
    }
    assert!(
        stdout.contains("rejected") && stdout.contains("failed"),
        "the sample shows rejections and failures"
    );
}
