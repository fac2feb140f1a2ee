//! RabbitMQ: connection, topology, the orders consumer and the outbox relay.

pub mod ack_window;
pub mod consumer;
pub mod links;
pub mod properties;
pub mod relay;
pub mod returns;
pub mod topology;

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret;

use crate::config::AmqpSettings;

/// The longest a connection to RabbitMQ may take, TCP and AMQP handshake together. lapin
/// bounds neither (heartbeats start after the handshake), so a broker address that swallows
/// packets, or a port that answers but never speaks AMQP, held a task — the start-up's
/// topology, a consumer being stopped — for as long as the kernel retried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens a connection named after its role and the orders queue it serves
/// (`payout-gateway/orders (payments.orders)`), so the management UI shows who is who.
/// Automatic recovery stays off: each task reconnects itself and starts from a clean channel,
/// so a delivery tag from a dead channel can never be acked on a new one.
pub async fn connect(settings: &AmqpSettings, role: &str) -> lapin::Result<Connection> {
    let name = format!("payout-gateway/{role} ({})", settings.orders_queue);
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect(settings.url.expose_secret(), properties),
    )
    .await
    {
        Ok(connected) => connected,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "RabbitMQ did not complete the connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        )
        .into()),
    }
}

/// Runs a part's set-up with the broker (connect, open a channel, declare, consume) unless
/// `shutdown` comes first: `Ok(None)` then, and what was opened is dropped. A broker that takes
/// the connection and never answers (or a host that swallows packets, for up to
/// [`CONNECT_TIMEOUT`] an attempt) held the gateway's stop for as long as it did.
pub async fn unless_stopped<T>(
    shutdown: &tokio_util::sync::CancellationToken,
    setup: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<Option<T>> {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => Ok(None),
        done = setup => done.map(Some),
    }
}

/// The longest a stopping task waits for the broker to answer its goodbye (a `close`, a
/// consumer's `cancel`): a broker in a memory or disk alarm stops reading from publishers, and
/// a stop must not wait for the alarm to end.
pub const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

/// Closes `connection`, waiting at most [`GOODBYE_TIMEOUT`] for the broker's answer; either
/// way the connection is done with.
pub async fn close_within_timeout(connection: &Connection, reason: &str) {
    let _ = tokio::time::timeout(GOODBYE_TIMEOUT, connection.close(200, reason.into())).await;
}

/// The waits between reconnect attempts, from `reconnect_delay_ms` doubling up to 30 s and
/// then staying there, for as long as the broker stays away: a broker restart is retried
/// quickly and an outage is not hammered. No jitter, as before; a fresh sequence starts
/// once a connection succeeded.
pub fn reconnect_delays(settings: &AmqpSettings) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(settings.reconnect_delay_ms.max(10)).min(LONGEST_RECONNECT_DELAY))
        .with_factor(2.0)
        .with_max_delay(LONGEST_RECONNECT_DELAY)
        .without_max_times()
        .build()
        // `backon` doubles in `f32` seconds; whole milliseconds keep the waits exact.
        .map(|delay| Duration::from_millis((delay.as_secs_f64() * 1_000.0).round() as u64))
}

/// The wait before reconnect attempt `attempt` (0-based): the `attempt`-th of
/// [`reconnect_delays`], for a caller that counts its attempts itself.
pub fn reconnect_delay(settings: &AmqpSettings, attempt: u32) -> Duration {
    // From the 16th on every wait is the cap (10 ms · 2^15 > 30 s), so no need to walk further.
    reconnect_delays(settings)
        .nth(attempt.min(16) as usize)
        .unwrap_or(LONGEST_RECONNECT_DELAY)
}

/// The longest wait between reconnect attempts.
const LONGEST_RECONNECT_DELAY: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(reconnect_delay_ms: u64) -> AmqpSettings {
        let mut settings = crate::config::Settings::load_from(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("config")
                .as_path(),
            None,
            Some(Default::default()),
        )
        .expect("config/default.toml loads")
        .amqp;
        settings.reconnect_delay_ms = reconnect_delay_ms;
        settings
    }

    #[test]
    fn reconnect_delays_double_from_the_setting_up_to_thirty_seconds() {
        let waits: Vec<u64> = reconnect_delays(&settings(100))
            .take(12)
            .map(|wait| wait.as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000]
        );
        assert_eq!(reconnect_delay(&settings(500), 0), Duration::from_millis(500));
        assert_eq!(reconnect_delay(&settings(500), 3), Duration::from_millis(4_000));
        assert_eq!(reconnect_delay(&settings(500), u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn an_out_of_range_setting_is_held_to_ten_milliseconds_and_thirty_seconds() {
        assert_eq!(reconnect_delay(&settings(0), 0), Duration::from_millis(10));
        assert_eq!(reconnect_delay(&settings(120_000), 0), Duration::from_secs(30));
    }
}
