//! Headless Chromium for the page tests: dump a page's DOM after its scripts ran, collect the
//! console lines Chromium logs, and take screenshots. Uses Debian's `chromium` (`CHROMIUM`
//! overrides the path); `.ci/run` installs it when missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A page as Chromium left it.
pub struct Rendered {
    /// The DOM after the scripts ran (`--dump-dom`).
    pub dom: String,
    /// Console messages and uncaught errors the page produced (Chromium's `CONSOLE` log lines).
    pub console: Vec<String>,
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "Chromium is needed for the page tests: apt-get install -y chromium (or set CHROMIUM)"
    );
    path
}

/// Runs Chromium headless with a fresh profile and `extra` arguments; returns stdout and stderr.
async fn run(extra: &[String], url: &str) -> (String, String) {
    let profile = tempfile::tempdir().expect("a temporary profile folder");
    let mut command = tokio::process::Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            // Long enough for the dashboard's first fetch and drawing; timers run in virtual time.
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("Chromium finished within 90 s")
        .expect("Chromium runs");
    assert!(
        output.status.success(),
        "Chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Opens `url` and returns its DOM and console lines.
pub async fn render(url: &str) -> Rendered {
    let (dom, stderr) = run(&["--dump-dom".to_string()], url).await;
    let console = stderr
        .lines()
        .filter(|line| line.contains(":CONSOLE") || line.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    Rendered { dom, console }
}

/// Saves a screenshot of `url` to `path` (1280 pixels wide, `height` high).
pub async fn screenshot(url: &str, path: &Path, height: u32) {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).expect("the screenshot folder");
    }
    run(
        &[
            format!("--screenshot={}", path.display()),
            format!("--window-size=1280,{height}"),
        ],
        url,
    )
    .await;
    assert!(path.exists(), "Chromium wrote {}", path.display());
}

/// Whether this run should refresh the committed screenshots in `docs/`
/// (`UPDATE_SCREENSHOTS=1 cargo test -p gateway --test integration report dashboard`).
pub fn update_screenshots() -> bool {
    std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|value| value == "1")
}

/// Where a committed screenshot lives.
pub fn docs_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(name)
}
