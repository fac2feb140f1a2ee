//! RabbitMQ: connection, topology, the orders consumer and the outbox relay.

pub mod consumer;
pub mod properties;
pub mod relay;
pub mod topology;

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret;

use crate::config::AmqpSettings;

/// Opens a connection named after its role and the orders queue it serves
/// (`payout-gateway/orders (payments.orders)`), so the management UI shows who is who.
/// Automatic recovery stays off: each task reconnects itself and starts from a clean channel,
/// so a delivery tag from a dead channel can never be acked on a new one.
pub async fn connect(settings: &AmqpSettings, role: &str) -> lapin::Result<Connection> {
    let name = format!("payout-gateway/{role} ({})", settings.orders_queue);
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(settings.url.expose_secret(), properties).await
}

/// The wait before reconnect attempt `attempt` (0-based): doubling from the configured
/// delay up to 30 s, so a broker restart is retried quickly and an outage is not hammered.
pub fn reconnect_delay(settings: &AmqpSettings, attempt: u32) -> Duration {
    let base = settings.reconnect_delay_ms.max(10);
    Duration::from_millis(base.saturating_mul(1 << attempt.min(12)).min(30_000))
}
