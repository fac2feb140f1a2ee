//! Publishes orders to the orders queue with publisher confirms, showing progress.

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Confirmation};

use super::PayoutRow;
use crate::amqp;
use crate::config::AmqpSettings;

/// Confirms awaited together; each one is still checked.
const WINDOW: usize = 256;

/// How a publish went.
#[derive(Clone, Debug, Default)]
pub struct PublishReport {
    pub published: usize,
}

/// Publishes one order per row (AMQP `message_id` = `order_id`, persistent, mandatory) and
/// returns once the broker confirmed every one. A nack or an unroutable message stops it
/// with an error naming the order, so the operator knows where to resume.
pub async fn publish_orders(
    settings: &AmqpSettings,
    rows: &[PayoutRow],
    show_progress: bool,
) -> anyhow::Result<PublishReport> {
    let connection = amqp::connect(settings, "publish")
        .await
        .context("could not connect to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    amqp::topology::declare(&channel, settings)
        .await
        .context("could not declare the topology")?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let progress = if show_progress {
        ProgressBar::new(rows.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("publishing {bar:40} {pos}/{len} orders ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut report = PublishReport::default();
    for window in rows.chunks(WINDOW) {
        let mut confirms = Vec::with_capacity(window.len());
        for row in window {
            let body = serde_json::to_vec(&row.to_order_json(&created_at))?;
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(row.order_id.as_str().into());
            let confirm = channel
                .basic_publish(
                    "".into(),
                    settings.orders_queue.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &body,
                    properties,
                )
                .await?;
            confirms.push((row.order_id.as_str(), confirm));
        }
        for (order_id, confirm) in confirms {
            match confirm.await? {
                Confirmation::Ack(None) => {
                    report.published += 1;
                    progress.inc(1);
                }
                Confirmation::Ack(Some(_)) => {
                    bail!("order {order_id} could not be routed to {}", settings.orders_queue)
                }
                Confirmation::Nack(_) => bail!(
                    "the broker refused order {order_id} (is {} full?)",
                    settings.orders_queue
                ),
                Confirmation::NotRequested => bail!("publisher confirms are not enabled"),
            }
        }
    }
    progress.finish_and_clear();
    let _ = connection.close(200, "done".into()).await;
    Ok(report)
}
