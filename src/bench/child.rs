//! `gateway bench --separate-process`: the gateway as a child `gateway run` (this executable),
//! configured by `GATEWAY__…` variables, so its CPU time and peak RSS are its own; the sandbox
//! and the bench stay in this process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gateway_adapter::Channel;
use secrecy::ExposeSecret;

use super::core_wait::ThreadWaits;
use super::disk_io::DiskIo;
use super::stats::{self, Memory};
use super::store_work::StoreWork;
use crate::config::Settings;

/// How long a child may take to answer `/readyz` (migrations included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The variables that make a `gateway run` child, loading the same configuration folder as
/// the bench, into the gateway `settings` describe: what `stack::prepare` and the bench changed
/// (queue names, tuning, database, listener), every provider's API pointed at the sandbox on
/// `sandbox`, and the wallets' IPN (their per-request callback URL) at the first gateway.
/// `listen` is this child's own HTTP address.
pub fn environment(settings: &Settings, sandbox: SocketAddr, listen: &str) -> Vec<(String, String)> {
    let amqp = &settings.amqp;
    let dispatcher = &settings.dispatcher;
    let mut variables: Vec<(String, String)> = [
        ("AMQP__ORDERS_QUEUE", amqp.orders_queue.clone()),
        ("AMQP__RESULTS_EXCHANGE", amqp.results_exchange.clone()),
        ("AMQP__RESULTS_QUEUE", amqp.results_queue.clone()),
        ("AMQP__DLQ_QUEUE", amqp.dlq_queue.clone()),
        ("AMQP__DEAD_LETTER_EXCHANGE", amqp.dead_letter_exchange.clone()),
        ("AMQP__PREFETCH", amqp.prefetch.to_string()),
        (
            "AMQP__PUBLISH_INTERMEDIATE_RESULTS",
            amqp.publish_intermediate_results.to_string(),
        ),
        ("DATABASE__URL", settings.database.url.expose_secret().to_string()),
        ("HTTP__LISTEN", listen.to_string()),
        ("DISPATCHER__TICK_MS", dispatcher.tick_ms.to_string()),
        ("DISPATCHER__BATCH_SIZE", dispatcher.batch_size.to_string()),
        (
            "DISPATCHER__PROVIDER_CONCURRENCY",
            dispatcher.provider_concurrency.to_string(),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (format!("GATEWAY__{key}"), value))
    .collect();
    for provider in settings.providers.iter() {
        let section = format!("GATEWAY__PROVIDERS__{}", provider.key.to_uppercase());
        let base_url = format!("http://{sandbox}{}", crate::providers::sandbox_path(&provider.key));
        variables.push((format!("{section}__BASE_URL"), base_url));
        // The one provider type told per request where to call back; [`check`] proves the key.
        if provider.provider_type.channel() == Channel::MobileMoney {
            let ipn_url = format!("{}/{}", settings.sandbox.callback_base_url, provider.key);
            variables.push((format!("{section}__IPN_URL"), ipn_url));
        }
    }
    variables
}

/// Loads the configuration as the child will (the folder, `environment`, the inherited
/// `GATEWAY__…` variables and `variables` over them) and refuses to go on unless it is the
/// gateway of `expected`: a child that paid a real provider URL, or used other queues, would
/// measure something else or nothing. Names the sections that differ.
pub fn check(
    config_dir: &Path,
    environment: Option<&str>,
    inherited: impl IntoIterator<Item = (String, String)>,
    variables: &[(String, String)],
    expected: &Settings,
) -> anyhow::Result<()> {
    let mut all: HashMap<String, String> = inherited.into_iter().collect();
    all.extend(variables.iter().cloned());
    let loaded = Settings::load_from(config_dir, environment, Some(all.into_iter().collect()))
        .context("the child gateway's configuration does not load")?;
    let sections = |settings: &Settings| {
        [
            ("amqp", format!("{:?}", settings.amqp)),
            ("amqp.url", settings.amqp.url.expose_secret().to_string()),
            ("database.url", settings.database.url.expose_secret().to_string()),
            ("database", format!("{:?}", settings.database.max_connections)),
            ("dispatcher", format!("{:?}", settings.dispatcher)),
            ("limits", format!("{:?}", settings.limits)),
            ("providers", format!("{:?}", settings.providers)),
            ("routing", format!("{:?}", settings.routing)),
            ("retention", format!("{:?}", settings.retention)),
            ("batches", format!("{:?}", settings.batches)),
        ]
    };
    let differ: Vec<&str> = sections(&loaded)
        .iter()
        .zip(sections(expected).iter())
        .filter(|(loaded, expected)| loaded.1 != expected.1)
        .map(|(loaded, _)| loaded.0)
        .collect();
    if !differ.is_empty() {
        bail!(
            "the child gateway would run with other settings than the bench prepared ({}); \
             see bench::child::environment",
            differ.join(", ")
        );
    }
    Ok(())
}

/// The `GATEWAY__…` variables of this process, which a child inherits.
pub fn inherited() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with("GATEWAY__"))
        .collect()
}

/// The configuration folder the bench was started with.
pub fn config_dir(given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("GATEWAY_CONFIG_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("config"))
}

/// CPU time, peak RSS and the threads' waits for a core of a child at one moment (or of all
/// children: their CPU summed, the largest peak RSS, each child's threads).
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub cpu: Option<Duration>,
    pub memory: Option<Memory>,
    /// Each thread's time waiting for a core so far (one entry per child gateway).
    pub threads: Vec<Option<ThreadWaits>>,
    /// Each child gateway's I/O counters so far (one entry per child gateway).
    pub io: Vec<Option<DiskIo>>,
}

/// A running `gateway run` child.
pub struct ChildGateway {
    child: tokio::process::Child,
    pid: u32,
    listen: String,
}

impl ChildGateway {
    /// Starts `gateway --config-dir <config_dir> run` with `variables` and waits until its
    /// `/readyz` answers 200.
    pub async fn start(config_dir: &Path, variables: &[(String, String)], listen: &str) -> anyhow::Result<Self> {
        let executable = std::env::current_exe().context("could not find this executable")?;
        let mut command = tokio::process::Command::new(executable);
        command
            .arg("--config-dir")
            .arg(config_dir)
            .arg("run")
            .envs(variables.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if std::env::var_os("RUST_LOG").is_none() && std::env::var_os("GATEWAY__LOG__LEVEL").is_none() {
            command.env("GATEWAY__LOG__LEVEL", "warn");
        }
        let child = command.spawn().context("could not start the gateway process")?;
        let Some(pid) = child.id() else {
            bail!("the gateway process ended as soon as it started");
        };
        let mut gateway = Self {
            child,
            pid,
            listen: listen.to_string(),
        };
        gateway.wait_ready().await?;
        Ok(gateway)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let url = format!("http://{}/readyz", self.listen);
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the gateway process exited before it was ready ({status})");
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("the gateway process was not ready at {url} after {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its CPU time, peak RSS, its threads' waits for a core and its I/O counters so far (read from
    /// `/proc/<pid>`).
    pub fn sample(&self) -> Sample {
        Sample {
            cpu: stats::process_cpu_of(self.pid),
            memory: Memory::read_of(self.pid),
            threads: vec![ThreadWaits::read_of(self.pid)],
            io: vec![DiskIo::read_of(self.pid)],
        }
    }

    /// Its group commits, write units, leases and provider calls so far (its `/metrics`).
    pub async fn store_work(&self, client: &reqwest::Client) -> Option<StoreWork> {
        StoreWork::fetch(client, &self.listen).await
    }

    /// SIGTERM (the gateway's clean stop), then waits; killed if it has not stopped in 30 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let terminated = tokio::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if terminated.is_ok_and(|status| status.success()) {
            if let Ok(exit) = tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
                let status = exit?;
                if !status.success() {
                    bail!("the gateway process stopped with {status}");
                }
                return Ok(());
            }
        }
        self.child.kill().await?;
        bail!("the gateway process did not stop on SIGTERM and was killed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn config() -> &'static Path {
        Path::new("config")
    }

    /// What the bench does to the settings before it starts a gateway.
    fn prepared(sandbox: SocketAddr) -> Settings {
        let mut settings = Settings::load_from(config(), None, Some(Default::default())).expect("default.toml loads");
        settings.amqp.orders_queue = "payments.orders.bench1".to_string();
        settings.amqp.results_queue = "payments.results.bench1".to_string();
        settings.amqp.prefetch = 200;
        settings.amqp.publish_intermediate_results = false;
        settings.dispatcher.batch_size = 256;
        settings.dispatcher.tick_ms = 50;
        settings.dispatcher.provider_concurrency = 64;
        settings.database.url = SecretString::from("sqlite:///tmp/payout-gateway-bench1/gateway.db");
        settings.http.listen = "127.0.0.1:41001".to_string();
        settings.sandbox.callback_base_url = "http://127.0.0.1:41001/callbacks".to_string();
        for provider in settings.providers.iter_mut() {
            let base = format!("http://{sandbox}/{}", provider.key);
            let callback = format!("http://127.0.0.1:41001/callbacks/{}", provider.key);
            provider.config.point_at(&base, &callback);
        }
        settings
    }

    #[test]
    fn the_child_environment_reproduces_the_prepared_gateway() {
        let sandbox: SocketAddr = "127.0.0.1:41002".parse().expect("address");
        let settings = prepared(sandbox);
        let variables = environment(&settings, sandbox, &settings.http.listen);
        let value = |key: &str| {
            variables
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(value("GATEWAY__AMQP__ORDERS_QUEUE"), Some("payments.orders.bench1"));
        assert_eq!(
            value("GATEWAY__PROVIDERS__BANK_VIETINBANK__BASE_URL"),
            Some("http://127.0.0.1:41002/bank_vietinbank")
        );
        assert_eq!(
            value("GATEWAY__PROVIDERS__VIETTEL_MONEY__IPN_URL"),
            Some("http://127.0.0.1:41001/callbacks/viettel_money")
        );
        assert_eq!(value("GATEWAY__PROVIDERS__BANK_TRANSFER__IPN_URL"), None);
        check(config(), None, Vec::new(), &variables, &settings).expect("the child loads the same gateway");
    }

    #[test]
    fn a_child_that_would_pay_elsewhere_is_refused_naming_the_section() {
        let sandbox: SocketAddr = "127.0.0.1:41002".parse().expect("address");
        let settings = prepared(sandbox);
        let mut variables = environment(&settings, sandbox, &settings.http.listen);
        variables.retain(|(key, _)| key != "GATEWAY__PROVIDERS__VNPOST_ACCOUNT__BASE_URL");
        variables.retain(|(key, _)| key != "GATEWAY__DISPATCHER__TICK_MS");
        let error = check(config(), None, Vec::new(), &variables, &settings).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("dispatcher, providers"), "{message}");
    }

    #[test]
    fn the_config_dir_is_the_one_given() {
        assert_eq!(
            config_dir(Some(Path::new("/etc/gateway"))),
            PathBuf::from("/etc/gateway")
        );
    }
}
