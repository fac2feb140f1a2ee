//! Publishes orders to the orders queue with publisher confirms, showing progress.

use anyhow::{bail, Context};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Confirmation};

use super::PayoutRow;
use crate::amqp;
use crate::config::AmqpSettings;
use crate::progress::Progress;
use crate::store::{bounded_id, SHORT_STRING_MAX_BYTES};

/// Confirms awaited together; each one is still checked.
const WINDOW: usize = 256;

/// How long a window of orders may wait to be taken and confirmed before `publish` gives up
/// (see [`publish_orders`]): a healthy broker confirms one in well under a second.
pub const CONFIRM_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// How a publish went.
#[derive(Clone, Debug, Default)]
pub struct PublishReport {
    pub published: usize,
}

/// The AMQP properties of a row's order: persistent, JSON, `message_id` its order id — cut to
/// AMQP's 255 bytes with a hash suffix if longer (lapin does not check that length in a
/// release build, and panics in its I/O task in a debug one). The body keeps the whole id,
/// and the gateway answers such an order `rejected` (`invalid_order_id`).
fn order_properties(row: &PayoutRow) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(bounded_id(&row.order_id, SHORT_STRING_MAX_BYTES).into())
}

/// Publishes one order per row (AMQP `message_id` = `order_id`, persistent, mandatory) and
/// returns once the broker confirmed every one. A nack or an unroutable message stops it
/// with an error naming the order, so the operator knows where to resume; so does a window of
/// orders not taken and confirmed within `confirm_within` ([`CONFIRM_WITHIN`] for the
/// commands): a broker in a memory or disk alarm reads nothing from publishers, and `publish`
/// waited for it without end.
pub async fn publish_orders(
    settings: &AmqpSettings,
    rows: &[PayoutRow],
    show_progress: bool,
    confirm_within: std::time::Duration,
) -> anyhow::Result<PublishReport> {
    let connection = amqp::connect(settings, "publish")
        .await
        .context("could not connect to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    amqp::topology::declare(&channel, settings)
        .await
        .context("could not declare the topology")?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    // The bar draws on a terminal only; in a log a line every tenth says how far a long list got.
    let mut progress = Progress::new(
        show_progress,
        rows.len(),
        "published",
        "orders",
        "publishing {bar:40} {pos}/{len} orders ({per_sec}, {eta} left)",
    );
    let mut report = PublishReport::default();
    let published = publish_windows(&channel, settings, rows, confirm_within, &mut progress, &mut report).await;
    progress.finish();
    if let Err(error) = published {
        // A failure half-way names the first order it hit; the operator also needs how far it
        // got and whether running the list again is safe.
        return Err(error.context(format!(
            "{} of {} orders were confirmed before it stopped; publishing the whole list again is safe: the \
             gateway answers an order it already took with its latest result and pays nothing twice",
            report.published,
            rows.len()
        )));
    }
    let _ = connection.close(200, "done".into()).await;
    Ok(report)
}

/// Publishes `rows` in windows of [`WINDOW`], each confirmed (within `confirm_within`) before
/// the next, counting the confirmed ones in `report`.
async fn publish_windows(
    channel: &lapin::Channel,
    settings: &AmqpSettings,
    rows: &[PayoutRow],
    confirm_within: std::time::Duration,
    progress: &mut Progress,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for window in rows.chunks(WINDOW) {
        let published = publish_window(channel, settings, window, &created_at, progress, report);
        match tokio::time::timeout(confirm_within, published).await {
            Ok(published) => published?,
            Err(_) => {
                // Confirmed in order: the first not confirmed is where the list stopped.
                let at = rows.get(report.published).map_or("?", |row| row.order_id.as_str());
                bail!(
                    "order {at} was not confirmed by the broker within {} s (is it in a memory or disk alarm?)",
                    confirm_within.as_secs_f64()
                );
            }
        }
    }
    Ok(())
}

/// Publishes one window of rows and waits for their confirms, counting them in `report`.
async fn publish_window(
    channel: &lapin::Channel,
    settings: &AmqpSettings,
    window: &[PayoutRow],
    created_at: &str,
    progress: &mut Progress,
    report: &mut PublishReport,
) -> anyhow::Result<()> {
    let mut confirms = Vec::with_capacity(window.len());
    for row in window {
        let body = serde_json::to_vec(&row.to_order_json(created_at))?;
        let properties = order_properties(row);
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
            .await
            // A lost connection names the order too, like a nack: where the list stopped.
            .with_context(|| format!("order {} could not be published", row.order_id))?;
        confirms.push((row.order_id.as_str(), confirm));
    }
    for (order_id, confirm) in confirms {
        let confirmed = confirm
            .await
            .with_context(|| format!("order {order_id} was not confirmed by the broker"))?;
        match confirmed {
            Confirmation::Ack(None) => {
                report.published += 1;
                progress.advance(report.published);
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_id_longer_than_amqp_allows_is_cut_in_its_message_id_and_kept_in_its_body() {
        let long = PayoutRow {
            order_id: "A".repeat(300),
            ..PayoutRow::default()
        };
        let message_id = order_properties(&long)
            .message_id()
            .clone()
            .expect("a message id")
            .to_string();
        assert!(message_id.len() <= 255, "{} bytes", message_id.len());
        assert!(message_id.starts_with("AAAA"), "{message_id}");
        assert_eq!(long.to_order_json("2026-12-07T00:00:00Z")["order_id"], "A".repeat(300));
        let short = PayoutRow {
            order_id: "TB-2026-12-000001".to_string(),
            ..PayoutRow::default()
        };
        let kept = order_properties(&short).message_id().clone().expect("a message id");
        assert_eq!(kept.as_str(), "TB-2026-12-000001");
    }
}
