//! `gateway run` and `gateway sandbox`: long-running processes that stop on Ctrl-C or SIGTERM.

use std::process::ExitCode;

use crate::app::RunningGateway;
use crate::config::Settings;

/// Runs the gateway until Ctrl-C or SIGTERM, then stops it in order. A signal during start-up
/// stops it there (as the first thing a container's `docker stop` sends, it used to be lost
/// while the gateway, PID 1 without a handler yet, went on starting); a second signal while it
/// stops ends the process at once (exit 130): what was in flight is found again at the next
/// start — orders not acked are redelivered, payments sent are asked about, never resent.
pub async fn gateway(settings: Settings) -> anyhow::Result<ExitCode> {
    let gateway = tokio::select! {
        started = RunningGateway::start(settings) => started?,
        () = wait_for_signal() => {
            tracing::info!("Stopped during start-up.");
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    wait_for_signal().await;
    tracing::info!(
        "Stopping: no new orders are taken; steps in progress finish. A second Ctrl-C or SIGTERM stops at once."
    );
    tokio::select! {
        () = gateway.stop() => Ok(ExitCode::SUCCESS),
        () = wait_for_signal() => {
            tracing::warn!("Stopped at once by a second signal; what was in flight is resolved at the next start.");
            Ok(ExitCode::from(INTERRUPTED))
        }
    }
}

pub async fn sandbox(settings: Settings) -> anyhow::Result<ExitCode> {
    let kit = sandbox_kit::SandboxKit::shared();
    let router = crate::providers::build_sandbox_router(&settings.sandbox, kit)?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (address, server) = crate::http::serve(&settings.sandbox.listen, router, shutdown.clone()).await?;
    tracing::info!(%address, "The provider sandbox is running; its ledger is at /sandbox/ledger.");
    wait_for_signal().await;
    shutdown.cancel();
    let _ = server.await;
    Ok(ExitCode::SUCCESS)
}

/// The exit code of a command stopped by Ctrl-C or SIGTERM before it finished (128 + SIGINT,
/// as a shell reports Ctrl-C).
pub(crate) const INTERRUPTED: u8 = 130;

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
