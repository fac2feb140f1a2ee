//! The outbox relay: publishes result messages and dead letters with publisher confirms,
//! and marks a row sent only after the broker confirmed it (a nack or a returned
//! `mandatory` message is a failure, and the row is tried again).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::Confirmation;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{connect, properties, reconnect_delay, topology};
use crate::config::AmqpSettings;
use crate::store::{OutboxKind, Store};

/// Rows published per round; their confirms are awaited together, each checked.
const BATCH: i64 = 256;

/// Runs until `shutdown`, reconnecting after broker failures.
pub async fn run(store: Store, settings: AmqpSettings, wake: Arc<Notify>, shutdown: CancellationToken) {
    let mut attempt = 0;
    while !shutdown.is_cancelled() {
        match relay(&store, &settings, &wake, &shutdown, &mut attempt).await {
            Ok(()) => return,
            Err(error) => {
                metrics::counter!("gateway_relay_failures_total").increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "The outbox relay lost its broker connection; it will reconnect."
                );
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(reconnect_delay(&settings, attempt)) => {}
        }
        attempt += 1;
    }
}

async fn relay(
    store: &Store,
    settings: &AmqpSettings,
    wake: &Notify,
    shutdown: &CancellationToken,
    attempt: &mut u32,
) -> anyhow::Result<()> {
    let connection = connect(settings, "relay")
        .await
        .context("could not connect to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    topology::declare_outputs(&channel, settings)
        .await
        .context("could not declare the topology")?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    *attempt = 0;
    tracing::info!("The outbox relay is connected.");
    loop {
        let rows = store.unpublished(BATCH).await.context("could not read the outbox")?;
        if rows.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let _ = connection.close(200, "shutdown".into()).await;
                    return Ok(());
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            continue;
        }
        let mut confirms = Vec::with_capacity(rows.len());
        for row in &rows {
            let (exchange, routing_key) = match row.kind {
                OutboxKind::Result => (settings.results_exchange.as_str(), row.routing_key.as_str()),
                OutboxKind::DeadLetter => ("", settings.dlq_queue.as_str()),
            };
            let confirm = channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &row.body,
                    properties::to_amqp(&row.properties),
                )
                .await?;
            confirms.push((row.id, confirm));
        }
        let mut confirmed = Vec::with_capacity(confirms.len());
        let mut refused = 0;
        for (id, confirm) in confirms {
            match confirm.await? {
                Confirmation::Ack(None) => confirmed.push(id),
                Confirmation::Ack(Some(returned)) => {
                    refused += 1;
                    tracing::error!(outbox_id = id, reply = %returned.reply_text, "The broker could not route an outbox message; is the topology declared?");
                }
                Confirmation::Nack(_) => {
                    refused += 1;
                    tracing::error!(outbox_id = id, "The broker refused an outbox message (nack).");
                }
                Confirmation::NotRequested => {
                    bail!("publisher confirms are not enabled on the relay channel")
                }
            }
        }
        store
            .mark_published(&confirmed)
            .await
            .context("could not mark outbox rows as published")?;
        metrics::counter!("gateway_outbox_published_total").increment(confirmed.len() as u64);
        if refused > 0 {
            bail!("{refused} outbox messages were refused by the broker");
        }
    }
}
