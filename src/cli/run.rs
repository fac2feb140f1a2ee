//! `gateway run` and `gateway sandbox`: long-running processes that stop on Ctrl-C or SIGTERM.

use std::process::ExitCode;

use crate::app::RunningGateway;
use crate::config::Settings;

pub async fn gateway(settings: Settings) -> anyhow::Result<ExitCode> {
    let gateway = RunningGateway::start(settings).await?;
    wait_for_signal().await;
    tracing::info!("Stopping: no new orders are taken; steps in progress finish.");
    gateway.stop().await;
    Ok(ExitCode::SUCCESS)
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
