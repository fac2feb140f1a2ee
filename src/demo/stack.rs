//! A local stack — the provider sandbox and a gateway wired to it on free ports, with queue
//! names of its own — for the demo and the integration tests.

use std::net::SocketAddr;

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use sandbox_kit::{SandboxKit, SharedKit};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::amqp;
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

/// Deletes a run's queues and exchanges (named by [`name_for_run`]); `false` when something
/// may be left (see [`delete_named`]).
pub async fn delete_queues(settings: &AmqpSettings) -> bool {
    let queues = [&settings.orders_queue, &settings.results_queue, &settings.dlq_queue];
    let exchanges = [&settings.results_exchange, &settings.dead_letter_exchange];
    delete_named(settings, &queues, &exchanges).await
}

/// Deletes `queues` and `exchanges` on a connection of its own. RabbitMQ answers a delete of
/// what is already gone with success, so `false` means the broker could not be reached or
/// refused a delete: something may be left.
pub async fn delete_named(settings: &AmqpSettings, queues: &[&String], exchanges: &[&String]) -> bool {
    let Ok(connection) = amqp::connect(settings, "cleanup").await else {
        return false;
    };
    let mut deleted = false;
    if let Ok(channel) = connection.create_channel().await {
        deleted = true;
        for queue in queues {
            deleted &= channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await
                .is_ok();
        }
        for exchange in exchanges {
            deleted &= channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await
                .is_ok();
        }
        let _ = channel.close(200, "done".into()).await;
    }
    amqp::close_within_timeout(&connection, "done").await;
    deleted
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

/// A port on 127.0.0.1 that nothing listens on now, for a gateway that binds it a moment
/// later (its callback address is handed to the sandbox before it starts).
///
/// The port is taken below the kernel's ephemeral range (`ip_local_port_range`): a port from
/// binding port 0 is an ephemeral one, and in the moment between the check and the gateway's
/// bind an outgoing connection (to RabbitMQ, PostgreSQL or the sandbox, of this process or
/// another) could be given it — a test's gateway then failed to start with "address already
/// in use" on a busy machine. Successive calls in one process try successive ports from a
/// random start, so two stacks started together do not pick the same one.
pub fn free_port() -> std::io::Result<u16> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    if let Some((low, high)) = ports_below_ephemeral() {
        let span = u32::from(high - low) + 1;
        let start = *START.get_or_init(|| rand::random::<u32>() % span);
        for _ in 0..256 {
            let offset = (start + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) % span;
            // `offset` < `span` ≤ 65,536 - `low`, so the sum is a port.
            let port = low + u16::try_from(offset).unwrap_or_default();
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Ports 10,000 up to just below the kernel's ephemeral range; `None` where the range cannot
/// be read or leaves no room below it.
fn ports_below_ephemeral() -> Option<(u16, u16)> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let ephemeral_low: u16 = range.split_whitespace().next()?.parse().ok()?;
    const LOW: u16 = 10_000;
    (ephemeral_low > LOW + 1_000).then(|| (LOW, ephemeral_low - 1))
}

/// A short id unique enough for queue and file names.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_is_outside_the_ephemeral_range_free_and_not_handed_out_twice() {
        let Some((low, high)) = ports_below_ephemeral() else {
            // No readable range (not Linux): the port comes from binding port 0.
            assert!(free_port().is_ok());
            return;
        };
        let ports: Vec<u16> = (0..20).map(|_| free_port().expect("a free port")).collect();
        for port in &ports {
            // An outgoing connection is never given a port below the ephemeral range.
            assert!((low..=high).contains(port), "{port} not in {low}..={high}");
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok(),
                "{port} is free"
            );
        }
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    }
}
