//! [`Settings::validate`]: the values that load but make no sense together — zeros, a lease
//! shorter than a provider call, a poll that comes after the give-up — refused at start-up,
//! all at once, each with the key and what to do.

use std::fmt;

use tracing_subscriber::EnvFilter;

use super::Settings;

/// How long before a dispatcher lease ends the slowest answer of a provider call must come. A
/// call goes out only if its timeout ends this long before its step's lease does (see
/// `dispatcher::limits`): a lease that ran out while the call was still out would let another
/// worker inquire (or, before `submitting` is committed, send) the same payment at the same
/// time. A step makes up to two calls (the name inquiry, then the submit), so a lease must be
/// at least twice the slowest provider's `timeout_ms` plus this, or a slow first call would
/// leave no lease for the second.
pub const LEASE_MARGIN_MS: u64 = 1_000;

/// The least `retention.callback_events_days`: the wallet providers keep a `requestId` (and
/// may repeat its IPN) for at least 31 days, and a forgotten callback id would be applied again.
pub const MIN_CALLBACK_EVENTS_DAYS: u32 = 31;

/// The shortest dispatcher tick and reconnect delay the code honours (it never polls or
/// reconnects faster), so a smaller setting would be silently raised.
const SHORTEST_WAIT_MS: u64 = 10;

/// The AMQP reconnect delay doubles up to this; a first delay above it would be cut.
const LONGEST_RECONNECT_DELAY_MS: u64 = 30_000;

/// One thing wrong with the settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The key at fault, as written in the TOML files (`dispatcher.lease_ms`).
    pub key: String,
    /// What is wrong and what to do, as a sentence.
    pub message: String,
}

/// Every problem found in the settings; its `Display` lists them one per line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct InvalidSettings {
    pub problems: Vec<Problem>,
}

impl fmt::Display for InvalidSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(f, "{count} setting{} must be fixed:", if count == 1 { "" } else { "s" })?;
        for problem in &self.problems {
            write!(f, "\n  - {}: {}", problem.key, problem.message)?;
        }
        Ok(())
    }
}

/// The longest any dispatcher wait may be set to: 30 days in milliseconds. Waits are added to
/// the time now (milliseconds since 1970, an `i64`) and the inquiry waits multiplied by up to
/// 64, so this also keeps every due time a real one.
const LONGEST_WAIT_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// The shortest `memo_max_chars` a provider section may have: the default memo's length
/// (`Tro cap BTXH 07/2025`), so that the memo a payment carries when upstream gave none, or
/// one a provider could not print, always reaches the beneficiary whole.
const SHORTEST_MEMO_CHARS: usize = 20;

/// Collects problems; `check(ok, key, message)` records one when `ok` is false.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn check(&mut self, ok: bool, key: &str, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(Problem {
                key: key.to_string(),
                message: message(),
            });
        }
    }

    /// A count, size or wait that must not be zero (or negative).
    fn positive(&mut self, value: i128, key: &str, why: &str) {
        self.check(value > 0, key, || {
            format!("is {value}, but it must be at least 1: {why}")
        });
    }
}

/// One configured provider section, as far as the gateway's checks go.
struct ProviderSection<'a> {
    key: &'a str,
    timeout_ms: u64,
    /// The transport settings every provider section shares (pool, timeouts, TLS, protection).
    http: &'a provider_http::HttpConfig,
    /// The name of its callback timestamp tolerance key, and the value.
    tolerance: (&'static str, i64),
    memo_max_chars: usize,
}

impl Settings {
    /// Refuses settings that would load but not work: every problem is collected and
    /// reported together, each naming its key and saying what to do. [`Settings::load`]
    /// calls this, and so does `RunningGateway::start` (the demo, the benchmark and tests
    /// change settings after loading them).
    ///
    /// Not refused, on purpose: a per-order `limits.mobile_money_max` above
    /// `limits.wallet_monthly_max` (the defaults are 100,000,000 and 10,000,000: an order above
    /// the monthly cap fails `wallet_monthly_limit` before anything is sent, which is the
    /// rule, not a contradiction); an `inquiry_delay_ms` above `backoff_max_ms` (only the waits
    /// after a failed inquiry are capped); `outbox_published_days = 0` and
    /// `prune_interval_ms = 0` (documented meanings).
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let mut problems = Problems::default();
        self.validate_amqp(&mut problems);
        self.validate_dispatcher(&mut problems);
        self.validate_rest(&mut problems);
        if problems.0.is_empty() {
            Ok(())
        } else {
            Err(InvalidSettings { problems: problems.0 })
        }
    }

    fn validate_amqp(&self, problems: &mut Problems) {
        let amqp = &self.amqp;
        // A URL the broker client cannot read was only found when connecting, and its error,
        // logged on every reconnect, quoted the whole URL with its password. Neither the URL
        // nor the parser's message (which may quote it) is shown.
        problems.check(
            secrecy::ExposeSecret::expose_secret(&amqp.url)
                .parse::<lapin::uri::AMQPUri>()
                .is_ok(),
            "amqp.url",
            || "is not an AMQP URL (value not shown): write it as amqp://user:password@host:5672/%2f".to_string(),
        );
        problems.positive(
            amqp.prefetch.into(),
            "amqp.prefetch",
            "RabbitMQ reads 0 as \"no limit\", and the consumer would lose its backpressure",
        );
        problems.positive(
            amqp.delivery_limit.into(),
            "amqp.delivery_limit",
            "it is how many times an order may be delivered before the broker dead-letters it",
        );
        problems.positive(
            amqp.outbox_publish_attempts.into(),
            "amqp.outbox_publish_attempts",
            "the relay would park every outbox message without trying to publish it",
        );
        problems.check(
            (SHORTEST_WAIT_MS..=LONGEST_RECONNECT_DELAY_MS).contains(&amqp.reconnect_delay_ms),
            "amqp.reconnect_delay_ms",
            || {
                format!(
                    "is {}, but it must be between {SHORTEST_WAIT_MS} and {LONGEST_RECONNECT_DELAY_MS}: \
                     the first reconnect wait doubles up to 30 s, and the code would silently raise or cut anything else",
                    amqp.reconnect_delay_ms
                )
            },
        );
        let names = [
            ("amqp.orders_queue", &amqp.orders_queue),
            ("amqp.results_queue", &amqp.results_queue),
            ("amqp.dlq_queue", &amqp.dlq_queue),
            ("amqp.results_exchange", &amqp.results_exchange),
            ("amqp.dead_letter_exchange", &amqp.dead_letter_exchange),
        ];
        for (key, name) in names {
            problems.check(!name.trim().is_empty(), key, || {
                "is empty: give the queue or exchange a name (RabbitMQ would make one up)".to_string()
            });
        }
        let queues = &names[..3];
        for (index, (key, name)) in queues.iter().enumerate() {
            for (other_key, other) in &queues[index + 1..] {
                problems.check(name != other, other_key, || {
                    format!("is \"{other}\", the same queue as {key}: give each of the three queues its own name")
                });
            }
        }
        problems.check(
            amqp.results_exchange != amqp.dead_letter_exchange,
            "amqp.dead_letter_exchange",
            || "is the same exchange as amqp.results_exchange: dead letters would be published as results".to_string(),
        );
    }

    fn validate_dispatcher(&self, problems: &mut Problems) {
        let dispatcher = &self.dispatcher;
        problems.check(dispatcher.tick_ms >= SHORTEST_WAIT_MS, "dispatcher.tick_ms", || {
            format!(
                "is {}, but the dispatcher looks for due work at most every {SHORTEST_WAIT_MS} ms; set {SHORTEST_WAIT_MS} or more",
                dispatcher.tick_ms
            )
        });
        // Against a tick that is itself refused, the linger is not a problem of its own.
        problems.check(
            dispatcher.lease_linger_ms <= dispatcher.tick_ms || dispatcher.tick_ms < SHORTEST_WAIT_MS,
            "dispatcher.lease_linger_ms",
            || {
                format!(
                    "is {} ms, longer than dispatcher.tick_ms ({} ms): a wake would lease later than the tick does; set it to the tick or less",
                    dispatcher.lease_linger_ms, dispatcher.tick_ms
                )
            },
        );
        problems.positive(
            dispatcher.batch_size.into(),
            "dispatcher.batch_size",
            "the dispatcher would never lease a payment",
        );
        problems.positive(
            dispatcher.provider_concurrency as i128,
            "dispatcher.provider_concurrency",
            "no payment could be in flight to any provider",
        );
        problems.positive(
            dispatcher.max_attempts.into(),
            "dispatcher.max_attempts",
            "a payment that was never sent would fail without a single submission",
        );
        problems.positive(
            dispatcher.max_inquiries.into(),
            "dispatcher.max_inquiries",
            "an unknown outcome would go to review without one status inquiry",
        );
        let waits = [
            ("dispatcher.backoff_base_ms", dispatcher.backoff_base_ms),
            ("dispatcher.inquiry_delay_ms", dispatcher.inquiry_delay_ms),
            ("dispatcher.pending_poll_after_ms", dispatcher.pending_poll_after_ms),
            ("dispatcher.review_inquiry_after_ms", dispatcher.review_inquiry_after_ms),
        ];
        for (key, value) in waits {
            problems.positive(
                value.into(),
                key,
                "with no wait the dispatcher would ask the provider again at once, over and over",
            );
        }
        let bounded = waits.into_iter().chain([
            ("dispatcher.backoff_max_ms", dispatcher.backoff_max_ms),
            ("dispatcher.pending_max_age_ms", dispatcher.pending_max_age_ms),
            ("dispatcher.lease_ms", dispatcher.lease_ms),
        ]);
        for (key, value) in bounded {
            problems.check(value <= LONGEST_WAIT_MS, key, || {
                format!(
                    "is {value}, over {LONGEST_WAIT_MS} (30 days): a payment would wait a month or more for its \
                     next step, and a value near 2^63 turns negative in a timestamp, so the payment would be \
                     asked about on every tick instead"
                )
            });
        }
        problems.check(
            dispatcher.backoff_base_ms <= dispatcher.backoff_max_ms,
            "dispatcher.backoff_max_ms",
            || {
                format!(
                    "is {}, below dispatcher.backoff_base_ms ({}): the longest retry delay cannot be shorter than the first; \
                     raise backoff_max_ms or lower backoff_base_ms",
                    dispatcher.backoff_max_ms, dispatcher.backoff_base_ms
                )
            },
        );
        problems.check(
            dispatcher.pending_poll_after_ms < dispatcher.pending_max_age_ms,
            "dispatcher.pending_max_age_ms",
            || {
                format!(
                    "is {}, not above dispatcher.pending_poll_after_ms ({}): a pending payment would go to review \
                     before it was ever asked about; raise pending_max_age_ms or lower pending_poll_after_ms",
                    dispatcher.pending_max_age_ms, dispatcher.pending_poll_after_ms
                )
            },
        );
        // The first of the slowest, in the order of the config file.
        let slowest = self
            .provider_sections()
            .into_iter()
            .rev()
            .max_by_key(|section| section.timeout_ms);
        if let Some(slowest) = slowest {
            let least = slowest.timeout_ms.saturating_mul(2).saturating_add(LEASE_MARGIN_MS);
            problems.check(dispatcher.lease_ms >= least, "dispatcher.lease_ms", || {
                format!(
                    "is {}, but a lease must cover a step's two slowest provider calls (providers.{}.timeout_ms = {}) \
                     and {LEASE_MARGIN_MS} ms more, or a step's second call could not go out within its lease; \
                     set lease_ms to at least {least} or lower that timeout",
                    dispatcher.lease_ms, slowest.key, slowest.timeout_ms
                )
            });
        } else {
            problems.positive(
                dispatcher.lease_ms.into(),
                "dispatcher.lease_ms",
                "every leased payment would be free for another worker at once",
            );
        }
    }

    fn validate_rest(&self, problems: &mut Problems) {
        problems.positive(
            self.database.max_connections.into(),
            "database.max_connections",
            "the PostgreSQL pool could open no connection",
        );
        let postgres = {
            let url = secrecy::ExposeSecret::expose_secret(&self.database.url);
            url.starts_with("postgres://") || url.starts_with("postgresql://")
        };
        problems.positive(
            self.database.writers as i128,
            "database.writers",
            "nothing would ever be written",
        );
        let writers = self.database.writers;
        let least = u32::try_from(writers).unwrap_or(u32::MAX).saturating_add(2);
        problems.check(
            !postgres || self.database.max_connections >= least,
            "database.max_connections",
            || {
                format!(
                    "is {}, but on PostgreSQL the store's {writers} group-commit writers (database.writers) each \
                     hold a connection while they commit, and leasing, the relay and /readyz need more; set it \
                     to at least {least}",
                    self.database.max_connections
                )
            },
        );
        let http = &self.http;
        problems.positive(
            http.max_body_bytes as i128,
            "http.max_body_bytes",
            "every callback would be refused as too large",
        );
        problems.positive(
            http.request_timeout_ms.into(),
            "http.request_timeout_ms",
            "every request would time out",
        );
        problems.positive(
            http.header_read_timeout_ms.into(),
            "http.header_read_timeout_ms",
            "every connection would be closed before its headers arrived",
        );
        for (given, missing, ok) in [
            (
                "http.tls_cert_path",
                "http.tls_key_path",
                http.tls_cert_path.is_none() || http.tls_key_path.is_some(),
            ),
            (
                "http.tls_key_path",
                "http.tls_cert_path",
                http.tls_key_path.is_none() || http.tls_cert_path.is_some(),
            ),
        ] {
            problems.check(ok, given, || {
                format!("is set but {missing} is not: TLS needs both the certificate and its key, or neither")
            });
        }
        let limits = &self.limits;
        for (key, value) in [
            ("limits.bank_transfer_max", limits.bank_transfer_max),
            ("limits.vnpost_account_max", limits.vnpost_account_max),
            ("limits.mobile_money_max", limits.mobile_money_max),
            ("limits.wallet_monthly_max", limits.wallet_monthly_max),
        ] {
            problems.positive(
                value.into(),
                key,
                "every order on that channel would be refused; to stop a channel, remove its providers instead",
            );
        }
        for section in self.provider_sections() {
            problems.positive(
                section.timeout_ms.into(),
                &format!("providers.{}.timeout_ms", section.key),
                "every call to the provider would time out, an unknown outcome each time",
            );
            problems.check(
                section.memo_max_chars >= SHORTEST_MEMO_CHARS,
                &format!("providers.{}.memo_max_chars", section.key),
                || {
                    format!(
                        "is {}, below {SHORTEST_MEMO_CHARS}: the default memo (`Tro cap BTXH 07/2025`) would be cut, and at 0 \
                         every payment would reach its beneficiary with an empty description",
                        section.memo_max_chars
                    )
                },
            );
            let (name, tolerance) = section.tolerance;
            problems.positive(
                tolerance.into(),
                &format!("providers.{}.{name}", section.key),
                "every callback would be refused as stale",
            );
            problems.positive(
                section.http.connect_timeout_ms.into(),
                &format!("providers.{}.connect_timeout_ms", section.key),
                "every connection attempt would time out before it starts",
            );
            if let Some(pool) = section.http.pool_max_idle_per_host {
                problems.positive(
                    pool as i128,
                    &format!("providers.{}.pool_max_idle_per_host", section.key),
                    "no connection would be kept alive, so every call would open a new one",
                );
            }
            if let Some(protection) = &section.http.protection {
                if let Err(invalid) = protection.validate() {
                    problems.check(
                        false,
                        &format!("providers.{}.protection.{}", section.key, invalid.key),
                        || invalid.problem.to_string(),
                    );
                }
            }
        }
        for (key, message) in self.batches.problems() {
            problems.check(false, key, || message);
        }
        for message in self.dashboard.problems() {
            problems.check(false, "dashboard", || message);
        }
        if let Err(problem) = self.routing_table() {
            problems.check(false, "routing", || problem.to_string());
        }
        let retention = &self.retention;
        problems.check(
            retention.callback_events_days >= MIN_CALLBACK_EVENTS_DAYS,
            "retention.callback_events_days",
            || {
                format!(
                    "is {}, but callback ids must be kept at least {MIN_CALLBACK_EVENTS_DAYS} days (the providers' replay \
                     window), or a replayed callback would be applied again; set {MIN_CALLBACK_EVENTS_DAYS} or more",
                    retention.callback_events_days
                )
            },
        );
        let log = &self.log;
        problems.check(matches!(log.format.as_str(), "json" | "pretty"), "log.format", || {
            format!("is \"{}\", but it must be \"json\" or \"pretty\"", log.format)
        });
        if let Err(error) = EnvFilter::try_new(&log.level) {
            problems.check(false, "log.level", || {
                format!(
                    "is \"{}\", which is not a tracing filter ({error}); write e.g. \"info\" or \"gateway=debug,info\"",
                    log.level
                )
            });
        } else {
            problems.check(crate::telemetry::has_default_level(&log.level), "log.level", || {
                format!(
                    "is \"{}\", which sets no level for everything it does not name: every other log line \
                     (other crates', the adapters') would be off. A bare word that is not one of trace, debug, \
                     info, warn, error, off (or 0 to 5) is read as a target, and so is a level with a space \
                     around it; write e.g. \"warn\" or \"gateway=debug,info\"",
                    log.level
                )
            });
        }
    }

    /// The configured provider sections, as their provider types read them.
    fn provider_sections(&self) -> Vec<ProviderSection<'_>> {
        self.providers
            .iter()
            .map(|provider| ProviderSection {
                key: &provider.key,
                timeout_ms: provider.config.timeout_ms(),
                http: provider.config.http(),
                tolerance: provider.config.callback_tolerance(),
                memo_max_chars: provider.config.memo_max_chars(),
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
