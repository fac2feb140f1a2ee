//! A local stack — the provider sandbox and a gateway wired to it on free ports, with queue
//! names of its own — for the demo and the integration tests.

use std::net::SocketAddr;

use sandbox_kit::{SandboxKit, SharedKit};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::app::RunningGateway;
use crate::config::{AmqpSettings, Settings};

/// A running sandbox whose callbacks go to a gateway port chosen up front.
pub struct LocalSandbox {
    pub address: SocketAddr,
    pub kit: SharedKit,
    shutdown: CancellationToken,
}

impl LocalSandbox {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

/// Gives `settings` queue names ending in `.<run_id>`, a free gateway port, and points the
/// providers at a sandbox started here. Returns the sandbox; start the gateway with the
/// returned settings (in process with [`RunningGateway::start`], or as a child process).
pub async fn prepare(mut settings: Settings, run_id: &str) -> anyhow::Result<(Settings, LocalSandbox)> {
    name_for_run(&mut settings.amqp, run_id);
    let gateway_port = free_port()?;
    settings.http.listen = format!("127.0.0.1:{gateway_port}");
    settings.sandbox.listen = "127.0.0.1:0".to_string();
    settings.sandbox.callback_base_url = format!("http://127.0.0.1:{gateway_port}/callbacks");

    let kit = SandboxKit::shared();
    let router = crate::providers::build_sandbox_router(&settings.sandbox, kit.clone())?;
    let shutdown = CancellationToken::new();
    let (address, _server) = crate::http::serve(&settings.sandbox.listen, router, shutdown.clone()).await?;
    let sandbox_url = |key: &str| format!("http://{address}{}", crate::providers::sandbox_path(key));
    for provider in settings.providers.iter_mut() {
        let callback_url = format!("http://127.0.0.1:{gateway_port}/callbacks/{}", provider.key);
        provider.config.point_at(&sandbox_url(&provider.key), &callback_url);
    }
    Ok((settings, LocalSandbox { address, kit, shutdown }))
}

/// Gives the run's queues and exchanges names of their own: `<configured name>.<run_id>`.
pub fn name_for_run(amqp: &mut AmqpSettings, run_id: &str) {
    for name in [
        &mut amqp.orders_queue,
        &mut amqp.results_exchange,
        &mut amqp.results_queue,
        &mut amqp.dlq_queue,
        &mut amqp.dead_letter_exchange,
    ] {
        *name = format!("{name}.{run_id}");
    }
}

/// Prepares the stack and starts the gateway in this process.
pub async fn start(settings: Settings, run_id: &str) -> anyhow::Result<(Settings, LocalSandbox, RunningGateway)> {
    let (settings, sandbox) = prepare(settings, run_id).await?;
    let gateway = RunningGateway::start(settings.clone()).await?;
    Ok((settings, sandbox, gateway))
}

/// A SQLite file in a fresh temporary folder.
pub fn temporary_sqlite_url(run_id: &str) -> anyhow::Result<SecretString> {
    let folder = temporary_sqlite_folder(run_id);
    std::fs::create_dir_all(&folder)?;
    Ok(sqlite_url_in(&folder))
}

/// The URL of the gateway's SQLite file in `folder`.
pub fn sqlite_url_in(folder: &std::path::Path) -> SecretString {
    SecretString::from(format!("sqlite://{}/gateway.db", folder.display()))
}

/// The temporary folder of run `run_id`'s SQLite file: `payout-gateway-<run_id>`.
pub fn temporary_sqlite_folder(run_id: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("payout-gateway-{run_id}"))
}

/// A port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A short id unique enough for queue and file names.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}
