//! The orders consumer: manual acks after the durable claim (a window of them at once, with
//! `multiple = true`), bounded prefetch, reconnection.

use std::sync::Arc;

use anyhow::Context;
use futures_lite::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::ack_window::AckWindow;
use super::links::{BrokerLinks, CONSUMER as LINK};
use super::{connect, properties, reconnect_delay, topology};
use crate::config::AmqpSettings;
use crate::intake::{Intake, IntakeError};

/// What `/readyz/orders` says of a consumer that is not consuming.
const NOT_CONSUMING: &str = "not consuming orders (no broker connection, or the store does not answer); retrying";

/// Consumes orders until `shutdown`, reconnecting after broker failures. Deliveries of a
/// dead channel are never acked on a new one: each belongs to the channel it came on, and
/// RabbitMQ redelivers what that channel left unacked.
pub async fn run(intake: Arc<Intake>, settings: AmqpSettings, links: BrokerLinks, shutdown: CancellationToken) {
    let mut attempt = 0;
    while !shutdown.is_cancelled() {
        match consume(&intake, &settings, &links, &shutdown, &mut attempt).await {
            Ok(()) => return,
            Err(error) => {
                links.lost(LINK, NOT_CONSUMING);
                metrics::counter!("gateway_consumer_reconnects_total").increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "The orders consumer lost its broker connection; it will reconnect."
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

async fn consume(
    intake: &Arc<Intake>,
    settings: &AmqpSettings,
    links: &BrokerLinks,
    shutdown: &CancellationToken,
    attempt: &mut u32,
) -> anyhow::Result<()> {
    // Consume only while the store answers: an order that cannot be claimed would only go
    // back to the queue and use up its delivery limit. Until the store is back, this returns
    // an error and the reconnect delay keeps doubling.
    let set_up = async {
        intake
            .store
            .ping()
            .await
            .context("the store does not answer; not consuming orders until it does")?;
        let connection = connect(settings, "orders")
            .await
            .context("could not connect to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        topology::declare(&channel, settings)
            .await
            .context("could not declare the topology")?;
        channel.basic_qos(settings.prefetch, BasicQosOptions::default()).await?;
        let deliveries = channel
            .basic_consume(
                settings.orders_queue.as_str().into(),
                "payout-gateway".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        anyhow::Ok((connection, channel, deliveries))
    };
    let Some((connection, channel, mut deliveries)) = super::unless_stopped(shutdown, set_up).await? else {
        return Ok(());
    };
    // The reconnect delay starts over once the store took an order, or when the broker (not the
    // store) ended a session that had been consuming for longer than the wait that would follow
    // it: a store that answers the ping but refuses writes keeps the delays doubling, so
    // requeued orders do not burn through their delivery limit in seconds, and so does a broker
    // that ends each session as soon as it starts; while a broker that drops an idle consumer
    // now and then (the queue is empty most of the month) is rejoined within the first wait,
    // not the longest.
    let consuming_since = std::time::Instant::now();
    let broker_ended = |attempt: &mut u32| {
        if consuming_since.elapsed() >= reconnect_delay(settings, *attempt) {
            *attempt = 0;
        }
    };
    tracing::info!(queue = %settings.orders_queue, prefetch = settings.prefetch, "Consuming payment orders.");
    let connected = links.connected_while(LINK, NOT_CONSUMING);
    // Prefetch bounds how many deliveries are in flight, so this set stays small.
    let mut in_flight = JoinSet::new();
    let mut window = AckWindow::default();
    let store_failed = Arc::new(Notify::new());
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = store_failed.notified() => break Err(anyhow::anyhow!("the store failed while claiming an order")),
            Some(claimed) = in_flight.join_next(), if !in_flight.is_empty() => {
                settle(&channel, &mut window, claimed, attempt).await;
            }
            next = deliveries.next() => match next {
                Some(Ok(delivery)) => {
                    let tag = delivery.delivery_tag;
                    window.started(tag);
                    let (intake, store_failed) = (intake.clone(), store_failed.clone());
                    in_flight.spawn(async move {
                        let taken = std::panic::AssertUnwindSafe(handle(&intake, delivery, &store_failed))
                            .catch_unwind()
                            .await
                            .ok();
                        (tag, taken)
                    });
                }
                Some(Err(error)) => {
                    broker_ended(attempt);
                    break Err(error).context("the orders channel failed");
                }
                None => {
                    broker_ended(attempt);
                    break Err(anyhow::anyhow!("the broker cancelled the orders consumer"));
                }
            }
        }
    };
    // Not consuming from here on, whatever the claims in progress still take.
    connected.ending();
    if result.is_ok() {
        // Stopping: the broker sends no more. Without the cancel it refilled the prefetch
        // window with each ack of the drain below, and those deliveries went back to the
        // queue at the close, each a delivery counted against the order's delivery limit.
        let cancel = channel.basic_cancel(deliveries.tag().as_str().into(), BasicCancelOptions::default());
        let _ = tokio::time::timeout(super::GOODBYE_TIMEOUT, cancel).await;
    }
    // Let claims in progress finish and ack, so a shutdown leaves nothing half done.
    while let Some(claimed) = in_flight.join_next().await {
        settle(&channel, &mut window, claimed, attempt).await;
    }
    super::close_within_timeout(&connection, "shutdown").await;
    result
}

/// Records that the claim of one delivery finished, and acks every delivery up to the newest
/// one whose older deliveries are all settled, in one `basic.ack` with `multiple = true`. A
/// claim that panicked nacks its delivery back to the queue.
async fn settle(
    channel: &lapin::Channel,
    window: &mut AckWindow,
    claimed: Result<(u64, Option<bool>), tokio::task::JoinError>,
    attempt: &mut u32,
) {
    // Tasks are never aborted and catch their own panics, so a join error cannot name a tag.
    let Ok((tag, taken)) = claimed else {
        return;
    };
    let taken = match taken {
        Some(taken) => taken,
        None => {
            metrics::counter!("gateway_intake_failures_total", "kind" => "panic").increment(1);
            tracing::error!(
                delivery_tag = tag,
                "Taking an order panicked; it goes back to the queue."
            );
            // Sent before the ack below: an ack with `multiple = true` past this tag, sent
            // first, would take the delivery off the queue, and this nack would then name a
            // tag the broker no longer knows (and close the channel).
            let requeue = BasicNackOptions {
                requeue: true,
                ..Default::default()
            };
            if let Err(error) = channel.basic_nack(tag, requeue).await {
                tracing::warn!(%error, "Could not send a panicked order back to the queue; the broker redelivers it with the channel.");
            }
            false
        }
    };
    if taken {
        *attempt = 0;
    }
    if let Some(due) = window.settled(tag, taken) {
        if let Err(error) = channel.basic_ack(due, BasicAckOptions { multiple: true }).await {
            // The channel died after the claims committed: the broker redelivers the orders
            // and their claims answer them as duplicates. Nothing is paid twice.
            tracing::warn!(%error, "Could not ack orders after claiming them; they will be redelivered and deduplicated.");
        }
    }
}

/// Claims (or rejects) one order; the caller acks it once the claim is stored (see [`settle`]).
/// A store outage nacks it back to the queue
/// and stops the consumer until the store answers again; a message the store refuses even
/// as a rejection is nacked without requeue, so the broker dead-letters it at once (to
/// `payments.dlq`, `x-death` reason `rejected`) instead of looping to its delivery limit.
/// Returns whether the store took the order.
async fn handle(intake: &Intake, delivery: Delivery, store_failed: &Notify) -> bool {
    let stored = properties::from_amqp(&delivery.properties);
    match intake.take(&delivery.data, &stored).await {
        Ok(()) => true,
        Err(IntakeError::Unstorable(error)) => {
            metrics::counter!("gateway_intake_failures_total", "kind" => "unstorable").increment(1);
            tracing::error!(
                error = format!("{error:#}"),
                "The store refuses this message even as a rejection; the broker dead-letters it."
            );
            let _ = delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: false,
                    ..Default::default()
                })
                .await;
            false
        }
        Err(IntakeError::StoreUnavailable(error)) => {
            metrics::counter!("gateway_intake_failures_total", "kind" => "store_unavailable").increment(1);
            tracing::error!(
                error = format!("{error:#}"),
                "Could not store an order; it goes back to the queue."
            );
            store_failed.notify_one();
            let _ = delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
    use lapin::BasicProperties;

    use super::*;

    async fn next(deliveries: &mut lapin::Consumer) -> Delivery {
        tokio::time::timeout(std::time::Duration::from_secs(10), deliveries.next())
            .await
            .expect("a delivery comes")
            .expect("the consumer is open")
            .expect("the channel is open")
    }

    /// On a real broker: delivery 2 committed while 1 was still being taken, then taking 1
    /// panicked. The one `settle` that follows must send 1 back to the queue and ack 2, in that
    /// order: acking up to 2 first would drop 1 (the ack covers it), and its nack would close
    /// the channel.
    #[tokio::test]
    async fn a_panicked_delivery_goes_back_to_the_queue_though_a_later_one_is_acked_with_it() {
        let settings = crate::config::Settings::load(std::path::Path::new("config"))
            .expect("config/default.toml loads")
            .amqp;
        let connection = connect(&settings, "consumer-test").await.expect("RabbitMQ answers");
        let channel = connection.create_channel().await.expect("a channel");
        let queue = format!("test.consumer.settle.{}", crate::demo::stack::new_run_id());
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), exclusive, FieldTable::default())
            .await
            .expect("the test queue is declared");
        for body in [b"first", b"other"] {
            channel
                .basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    body,
                    BasicProperties::default(),
                )
                .await
                .expect("published");
        }
        channel
            .basic_qos(2, BasicQosOptions::default())
            .await
            .expect("prefetch set");
        let mut deliveries = channel
            .basic_consume(
                queue.as_str().into(),
                "settle-test".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consuming");
        let (first, other) = (next(&mut deliveries).await, next(&mut deliveries).await);
        assert_eq!(
            (first.data.as_slice(), other.data.as_slice()),
            (&b"first"[..], &b"other"[..])
        );

        let mut window = AckWindow::default();
        window.started(first.delivery_tag);
        window.started(other.delivery_tag);
        let mut attempt = 3;
        settle(
            &channel,
            &mut window,
            Ok((other.delivery_tag, Some(true))),
            &mut attempt,
        )
        .await;
        settle(&channel, &mut window, Ok((first.delivery_tag, None)), &mut attempt).await;

        let again = next(&mut deliveries).await;
        assert_eq!(again.data, b"first", "the panicked delivery is back");
        assert!(again.redelivered);
        assert!(window.is_empty());
        assert!(channel.status().connected(), "the channel is still open");
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = connection.close(200, "done".into()).await;
    }
}
