//! Reads the results queue until every expected order has a final result, showing progress.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;

use crate::amqp;
use crate::config::AmqpSettings;
use crate::payment::ResultMessage;
use crate::progress::Progress;

/// Every result message seen, by order id, in arrival order.
pub type ResultsByOrder = BTreeMap<String, Vec<ResultMessage>>;

/// Consumes `results_queue` until each of `expected` has a final result or `timeout` passed.
/// Returns what arrived; the caller decides whether it is complete.
pub async fn collect_results(
    settings: &AmqpSettings,
    expected: &HashSet<String>,
    timeout: Duration,
    show_progress: bool,
) -> anyhow::Result<ResultsByOrder> {
    let connection = amqp::connect(settings, "results-reader")
        .await
        .context("could not connect to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    amqp::topology::declare(&channel, settings).await?;
    channel.basic_qos(500, BasicQosOptions::default()).await?;
    let mut deliveries = channel
        .basic_consume(
            settings.results_queue.as_str().into(),
            "demo-results".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    // A bar on a terminal, a line per tenth in a log (the bar alone said nothing there while
    // the demo waited, up to `--timeout-secs`).
    let mut progress = Progress::new(
        show_progress,
        expected.len(),
        "final results for",
        "orders",
        "final results {bar:40} {pos}/{len} orders ({elapsed})",
    );
    let mut results = ResultsByOrder::new();
    let mut finished = HashSet::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while finished.len() < expected.len() {
        let delivery = match tokio::time::timeout_at(deadline, deliveries.next()).await {
            Err(_) => break,
            // Not the deadline: the broker ended the consumer (the queue was deleted, the
            // channel closed). The orders still waiting are not the gateway's to blame.
            Ok(None) => anyhow::bail!(
                "the broker ended the demo's consumer of its results queue with {} of {} orders final",
                finished.len(),
                expected.len()
            ),
            Ok(Some(delivery)) => delivery?,
        };
        delivery.acker.ack(BasicAckOptions::default()).await?;
        let message: ResultMessage = match serde_json::from_slice(&delivery.data) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "A result message does not follow contract v1.");
                continue;
            }
        };
        if message.is_final && expected.contains(&message.order_id) && finished.insert(message.order_id.clone()) {
            progress.advance(finished.len());
        }
        results.entry(message.order_id.clone()).or_default().push(message);
    }
    progress.finish();
    // Cancel while the consumer is alive, so dropping it sends no second cancel that would
    // race the connection's close.
    let _ = channel
        .basic_cancel("demo-results".into(), BasicCancelOptions::default())
        .await;
    drop(deliveries);
    let _ = connection.close(200, "done".into()).await;
    Ok(results)
}
