//! Layered settings: `config/default.toml`, then `config/<GATEWAY_ENV>.toml`, then
//! `GATEWAY__SECTION__KEY`; an unknown key or an inconsistent value is refused at load
//! ([`Settings::validate`], in `config/validate.rs`).

mod secret_files;
mod validate;

use std::path::Path;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::order::ChannelLimits;
use crate::providers::{ProvidersSettings, Routing, RoutingSettings};

pub use validate::{InvalidSettings, Problem, LEASE_MARGIN_MS, MIN_CALLBACK_EVENTS_DAYS};

/// Everything the gateway, the sandbox and the CLI read from configuration. Every section
/// refuses keys it does not know (`deny_unknown_fields`): a misspelt key would otherwise be
/// ignored and its default used without a word.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub amqp: AmqpSettings,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub dispatcher: DispatcherSettings,
    pub limits: ChannelLimits,
    pub providers: ProvidersSettings,
    /// Which bank provider pays which BINs (`[routing]`; the BINs are in the bank sections).
    #[serde(default)]
    pub routing: RoutingSettings,
    pub sandbox: SandboxSettings,
    pub log: LogSettings,
    /// How long published outbox rows and callback ids are kept.
    #[serde(default)]
    pub retention: RetentionSettings,
    /// Batch manifests: when an incomplete batch closes, how often open batches are checked.
    #[serde(default)]
    pub batches: crate::batch::BatchSettings,
    /// The ops dashboard on `/ops`; off unless `dashboard.token` is set.
    #[serde(default)]
    pub dashboard: crate::dashboard::DashboardSettings,
}

/// RabbitMQ connection and topology names. Names come from config so that tests (and a
/// second environment on the same broker) can use their own queues.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:port/vhost`; a secret because it carries the password.
    pub url: SecretString,
    /// Quorum queue the upstream system publishes payment orders to.
    pub orders_queue: String,
    /// Topic exchange results are published to, routing key `result.<channel>.<status>`
    /// (batch results: `batch.<status>`).
    pub results_exchange: String,
    /// Quorum queue bound to the results exchange with `result.#` and `batch.#`, for upstream
    /// to read.
    pub results_queue: String,
    /// Quorum queue the ops team watches; the gateway's own dead letters and the broker's
    /// (delivery limit exceeded) both land here.
    pub dlq_queue: String,
    /// Fanout exchange the orders queue dead-letters into; bound to `dlq_queue`.
    pub dead_letter_exchange: String,
    /// Unacknowledged orders one consumer holds at most: the backpressure towards RabbitMQ.
    pub prefetch: u16,
    /// Deliveries of one order before the broker dead-letters it (`x-delivery-limit`), so a
    /// message that crashes the gateway cannot loop forever.
    pub delivery_limit: u32,
    /// First wait before reconnecting after the broker went away; doubles up to 30 s
    /// (10 to 30,000).
    pub reconnect_delay_ms: u64,
    /// Times the broker may refuse one outbox message (nack, unroutable, or the channel
    /// closing on it) before the relay parks it, so it stops holding up the ones behind it.
    #[serde(default = "default_outbox_publish_attempts")]
    pub outbox_publish_attempts: i64,
    /// Publish the intermediate `accepted` and `pending` results (the default), or only what
    /// upstream must act on: final results and `needs_review`. The store writes them either
    /// way (their `seq` is taken), the relay only skips sending them.
    #[serde(default = "default_true")]
    pub publish_intermediate_results: bool,
}

fn default_true() -> bool {
    true
}

fn default_outbox_publish_attempts() -> i64 {
    5
}

/// Where payments are stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` (one gateway process) or `postgres://…` (several).
    pub url: SecretString,
    /// Pool size for PostgreSQL; SQLite always uses one writer connection.
    pub max_connections: u32,
    /// SQLite: run the group-commit writer on a thread of its own (the default), away from the
    /// wake-ups of every other task. Off, it shares the main runtime (tests that need every
    /// write queued before the writer runs turn it off).
    #[serde(default = "default_true")]
    pub writer_thread: bool,
    /// PostgreSQL: group-commit writers side by side, each with a shard of the keys (SQLite
    /// always has one). More writers commit smaller batches: more transactions per order.
    #[serde(default = "default_postgres_writers")]
    pub writers: usize,
}

/// Two writers: on two cores shared with RabbitMQ, four made twice the commits per order and
/// 10% more PostgreSQL CPU per order for no more orders/s (README, Performance).
fn default_postgres_writers() -> usize {
    2
}

/// The gateway's HTTP listener: callbacks, health and metrics.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: String,
    /// Largest callback body accepted; larger ones get 413 before anything reads them.
    pub max_body_bytes: usize,
    /// Longest time one request may take, body included; a slower one gets 408, so a client
    /// that sends its body a byte at a time cannot hold a connection and a handler forever.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Longest time a client may take to send a request's headers (and an idle keep-alive
    /// connection may wait for the next ones) before the connection is closed.
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// PEM certificate chain (leaf first) to serve TLS with; set with `tls_key_path` or not at
    /// all. Unset, the listener speaks plain HTTP.
    #[serde(default)]
    pub tls_cert_path: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert_path`'s certificate; read at
    /// start-up and never logged.
    #[serde(default)]
    pub tls_key_path: Option<std::path::PathBuf>,
}

fn default_request_timeout_ms() -> u64 {
    10_000
}

fn default_header_read_timeout_ms() -> u64 {
    10_000
}

/// What the background pruner deletes, and how often it looks.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days a published outbox row is kept (counted from when it was written), for looking back
    /// at what was sent; the latest result of each payment is kept regardless (a duplicate order
    /// is answered with it), and unpublished or parked rows are never deleted.
    pub outbox_published_days: u32,
    /// Days a provider's callback id is remembered. A replay of a forgotten id would be
    /// applied again, so this must outlast every provider's replay window: the wallets keep a
    /// `requestId` for at least 31 days, which is also the least this setting accepts
    /// ([`MIN_CALLBACK_EVENTS_DAYS`]).
    pub callback_events_days: u32,
    /// How often the pruner runs; 0 turns pruning off.
    pub prune_interval_ms: u64,
    /// On a PostgreSQL server whose `autovacuum` is off, how often the gateway vacuums its own
    /// busy tables (every state change leaves a dead row version behind, and leases slow down
    /// as they step over them); 0 never. With autovacuum on, PostgreSQL's default, the gateway
    /// leaves it to the server. Not used on SQLite.
    pub vacuum_interval_ms: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            outbox_published_days: 7,
            callback_events_days: 35,
            prune_interval_ms: 3_600_000,
            vacuum_interval_ms: 60_000,
        }
    }
}

/// How the dispatcher drives payments through their states.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatcherSettings {
    /// How often the dispatcher looks for due work when nothing woke it; at least 10 ms.
    pub tick_ms: u64,
    /// How long a wake (a claim, a finished step) waits before it leases, so that the wakes of
    /// those moments share one lease; at most `tick_ms`.
    pub lease_linger_ms: u64,
    /// Payments leased per look.
    pub batch_size: i64,
    /// How long one worker may hold a payment; a crashed worker's payment is picked up
    /// again after this, and a payment found in `submitting` is then inquired, not resent.
    /// A call goes out only if it can answer [`LEASE_MARGIN_MS`] before its lease ends, and a
    /// step makes up to two, so a lease must be at least twice the slowest provider's
    /// `timeout_ms` plus that margin.
    pub lease_ms: u64,
    /// Submission attempts (transient errors) before the payment fails `retries_exhausted`.
    pub max_attempts: i64,
    /// First retry delay; doubles per attempt, with jitter, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    /// The longest retry delay, and the longest `Retry-After` a provider is granted; at
    /// least `backoff_base_ms`.
    pub backoff_max_ms: u64,
    /// Status inquiries for an unknown outcome before the payment goes to `needs_review`.
    pub max_inquiries: i64,
    /// Wait before the first status inquiry after an unknown outcome. It may be longer than
    /// `backoff_max_ms`: only the waits after a failed inquiry are capped by that.
    pub inquiry_delay_ms: u64,
    /// A payment pending this long without a callback is asked about (callbacks get lost);
    /// shorter than `pending_max_age_ms`, or no poll would come before the payment goes to review.
    pub pending_poll_after_ms: u64,
    /// A payment still pending this long after it was first sent goes to `needs_review`
    /// (`pending_too_long`): a provider that never finishes needs a person, not more polls.
    pub pending_max_age_ms: u64,
    /// A sent payment in `needs_review` is asked about again after this, then twice as long
    /// each time (up to 64 times), so a definite answer from the provider settles it.
    pub review_inquiry_after_ms: u64,
    /// What to do with a second order for the same beneficiary, program, period and
    /// payment type: `reject` it, or hold it for `review`.
    pub duplicate_payment_policy: DuplicatePaymentPolicy,
    /// Payments in flight at once per provider, so one slow provider cannot starve others.
    pub provider_concurrency: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePaymentPolicy {
    Reject,
    Review,
}

/// The provider emulator (`gateway sandbox`, and the one `gateway demo` starts).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// Address the sandbox listens on.
    pub listen: String,
    /// Base URL of the gateway's callback routes, e.g. `http://127.0.0.1:8080/callbacks`;
    /// each provider calls `<base>/<provider key>`.
    pub callback_base_url: String,
    /// The emulated providers' own secrets and settings.
    pub providers: crate::providers::SandboxProvidersSettings,
    /// Faults each emulated provider starts with, by provider key; tests and the demo
    /// change them at run time with `PUT /sandbox/faults/{provider}`.
    #[serde(default)]
    pub faults: std::collections::HashMap<String, sandbox_kit::Faults>,
}

/// Log output.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `json` for machines, `pretty` for people at a terminal (nothing else is accepted).
    pub format: String,
    /// A `tracing` filter such as `info` or `gateway=debug,info`; `RUST_LOG` wins if set.
    pub level: String,
}

/// Whether a variable's text is what parsing it gives back: `true`, `false`, `200`, `0.5`, not
/// `007`, `TRUE` or `1.50` (which are kept as text).
fn parses_as_itself(text: &str) -> bool {
    matches!(text, "true" | "false")
        || text.parse::<i64>().is_ok_and(|number| number.to_string() == text)
        || (text.parse::<i64>().is_err() && text.parse::<f64>().is_ok_and(|number| number.to_string() == text))
}

impl Settings {
    /// Loads `<dir>/default.toml`, then `<dir>/<GATEWAY_ENV>.toml` if `GATEWAY_ENV` is set,
    /// then environment variables `GATEWAY__SECTION__KEY` (e.g. `GATEWAY__AMQP__URL`), reads
    /// secrets named by `<key>_file` keys from their files (`secret_files`), and
    /// refuses the result if a key is unknown or a value inconsistent ([`Settings::validate`]).
    /// (`GATEWAY_CONFIG_DIR`, read by the command line as `--config-dir`, chooses `config_dir`;
    /// like `GATEWAY_ENV` it has a single underscore, so it is not read as a key.)
    pub fn load(config_dir: &Path) -> anyhow::Result<Self> {
        let environment = std::env::var("GATEWAY_ENV").ok().filter(|name| !name.is_empty());
        Self::load_from(config_dir, environment.as_deref(), None)
    }

    /// [`Settings::load`] with its inputs given: `environment` is what `GATEWAY_ENV` would
    /// say, and `variables` stand for the process environment when `Some` (tests use this, so
    /// that they need not change the environment of a process whose tests run in parallel).
    pub fn load_from(
        config_dir: &Path,
        environment: Option<&str>,
        variables: Option<config::Map<String, String>>,
    ) -> anyhow::Result<Self> {
        let mut builder =
            config::Config::builder().add_source(config::File::from(config_dir.join("default.toml")).required(true));
        if let Some(environment) = environment {
            builder =
                builder.add_source(config::File::from(config_dir.join(format!("{environment}.toml"))).required(true));
        }
        // A variable is parsed (`GATEWAY__AMQP__PREFETCH=200` is a number) only where its text
        // is the number's or the boolean's own: a provider's partner id `007` or a secret
        // `TRUE` stays the text written, not 7 or true (which would sign every call wrong).
        // A text key given a plain number (`PARTNER_ID=10023`) is read back as that text by the
        // provider's section (`provider_http::registry::read_section`).
        let (parsed_variables, text_variables): (config::Map<String, String>, config::Map<String, String>) = variables
            .unwrap_or_else(|| {
                // Variables that are not text are left out, as the config crate left them out.
                std::env::vars_os()
                    .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
                    .collect()
            })
            .into_iter()
            .partition(|(_, value)| parses_as_itself(value));
        let environment = |variables: config::Map<String, String>, parse: bool| {
            config::Environment::with_prefix("GATEWAY")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(parse)
                .source(Some(variables))
        };
        let loaded = builder
            .add_source(environment(parsed_variables, true))
            .add_source(environment(text_variables, false))
            .build()
            .and_then(|loaded| config::Source::collect(&loaded))
            .with_context(|| format!("could not load the configuration from {}", config_dir.display()))?;
        let mut root = loaded;
        secret_files::resolve(&mut root)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("could not read a secret file named in {}", config_dir.display()))?;
        let settings: Self = config::Value::new(None, config::ValueKind::Table(root))
            .try_deserialize()
            .with_context(|| format!("could not load the configuration from {}", config_dir.display()))?;
        settings
            .validate()
            .with_context(|| format!("the configuration in {} cannot be used", config_dir.display()))?;
        Ok(settings)
    }

    /// Which provider pays which order, checked against the configured providers.
    pub fn routing_table(&self) -> anyhow::Result<Routing> {
        Routing::new(&self.providers, &self.routing).map_err(anyhow::Error::msg)
    }

    /// Refuses to run with the sandbox's published secrets when `GATEWAY_ENV` names a real
    /// environment (anything but unset, `dev`, `test`, `demo` or `sandbox`): a gateway that
    /// verified callbacks with a secret from this repository would accept forged results.
    pub fn refuse_sandbox_secrets_in_production(&self) -> anyhow::Result<()> {
        self.refuse_sandbox_secrets_in(&std::env::var("GATEWAY_ENV").unwrap_or_default())
    }

    /// [`Settings::refuse_sandbox_secrets_in_production`] for the environment named `environment`.
    pub fn refuse_sandbox_secrets_in(&self, environment: &str) -> anyhow::Result<()> {
        if matches!(environment, "" | "dev" | "test" | "demo" | "sandbox") {
            return Ok(());
        }
        // The sandbox sections loaded now, and those this repository publishes (a production
        // config folder without sandbox sections must not switch the check off).
        let mut sandbox_secrets = string_values(self.sandbox.providers.values());
        sandbox_secrets.extend(published_sandbox_secrets());
        let in_use: Vec<(String, String)> = self
            .providers
            .iter()
            .flat_map(|provider| {
                provider
                    .config
                    .secrets()
                    .into_iter()
                    .map(|(name, secret)| (format!("{}.{name}", provider.key), secret.expose_secret().to_string()))
            })
            .collect();
        if let Some((name, _)) = in_use.iter().find(|(_, secret)| sandbox_secrets.contains(secret)) {
            anyhow::bail!(
                "providers.{name} is the sandbox's published secret, and GATEWAY_ENV={environment} is not a sandbox; \
                 set the real secret with GATEWAY__PROVIDERS__... environment variables"
            );
        }
        Ok(())
    }
}

/// The shipped `config/default.toml`, compiled in: its sandbox secrets are public.
const SHIPPED_DEFAULTS: &str = include_str!("../config/default.toml");

/// Every string in the `[sandbox.providers.*]` sections of the shipped defaults.
fn published_sandbox_secrets() -> Vec<String> {
    let shipped = config::Config::builder()
        .add_source(config::File::from_str(SHIPPED_DEFAULTS, config::FileFormat::Toml))
        .build()
        .and_then(|shipped| shipped.get::<serde_json::Value>("sandbox.providers"));
    match shipped {
        Ok(sections) => string_values(std::iter::once(&sections)),
        Err(error) => {
            tracing::warn!(%error, "The shipped defaults could not be read for the sandbox-secrets check.");
            Vec::new()
        }
    }
}

/// Every string in the sandbox sections (their secrets among them), for the production check.
fn string_values<'a>(sections: impl Iterator<Item = &'a serde_json::Value>) -> Vec<String> {
    fn collect(value: &serde_json::Value, into: &mut Vec<String>) {
        match value {
            serde_json::Value::String(text) => into.push(text.clone()),
            serde_json::Value::Array(values) => values.iter().for_each(|value| collect(value, into)),
            serde_json::Value::Object(map) => map.values().for_each(|value| collect(value, into)),
            _ => {}
        }
    }
    let mut strings = Vec::new();
    sections.for_each(|section| collect(section, &mut strings));
    strings
}
