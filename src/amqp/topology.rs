//! Declares the queues and exchanges, idempotently, at start-up.
//!
//! Quorum queues everywhere: classic queues do not fsync before confirming. The orders
//! queue dead-letters at least once into the DLQ after `delivery_limit` deliveries.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use crate::config::AmqpSettings;

/// Everything: the orders queue and what the gateway publishes to. Used by the consumer and
/// the tools that publish orders.
pub async fn declare(channel: &Channel, settings: &AmqpSettings) -> lapin::Result<()> {
    declare_outputs(channel, settings).await?;
    let mut orders = quorum_arguments();
    orders.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(settings.delivery_limit)),
    );
    orders.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(settings.dead_letter_exchange.as_str().into()),
    );
    orders.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    orders.insert("x-overflow".into(), AMQPValue::LongString("reject-publish".into()));
    declare_quorum(channel, &settings.orders_queue, orders).await
}

/// Only what the gateway publishes to: the results exchange and queue, the dead-letter
/// exchange and queue. The relay declares just these, so a changed orders-queue argument
/// (which the broker refuses to redeclare) stops intake, never the publishing of results.
pub async fn declare_outputs(channel: &Channel, settings: &AmqpSettings) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            settings.dead_letter_exchange.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            settings.results_exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    declare_quorum(channel, &settings.dlq_queue, quorum_arguments()).await?;
    bind(channel, &settings.dlq_queue, &settings.dead_letter_exchange, "").await?;
    declare_quorum(channel, &settings.results_queue, quorum_arguments()).await?;
    bind(channel, &settings.results_queue, &settings.results_exchange, "result.#").await?;
    // Batch results (`batch.<status>`, see `crate::batch`) go to the same queue.
    bind(channel, &settings.results_queue, &settings.results_exchange, "batch.#").await
}

fn quorum_arguments() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    arguments
}

async fn declare_quorum(channel: &Channel, name: &str, arguments: FieldTable) -> lapin::Result<()> {
    let options = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel.queue_declare(name.into(), options, arguments).await.map(|_| ())
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, routing_key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}
