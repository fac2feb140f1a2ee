//! Declares the queues and exchanges, idempotently, at start-up.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use crate::config::AmqpSettings;

/// Quorum queues everywhere: classic queues do not fsync before confirming. The orders
/// queue dead-letters at least once into the DLQ after `delivery_limit` deliveries.
pub async fn declare(channel: &Channel, settings: &AmqpSettings) -> lapin::Result<()> {
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
    channel
        .queue_bind(
            settings.dlq_queue.as_str().into(),
            settings.dead_letter_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

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
    declare_quorum(channel, &settings.orders_queue, orders).await?;

    declare_quorum(channel, &settings.results_queue, quorum_arguments()).await?;
    channel
        .queue_bind(
            settings.results_queue.as_str().into(),
            settings.results_exchange.as_str().into(),
            "result.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
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
