//! Publishes the bench's orders — in a burst, or open loop at a rate paced by a tokio interval —
//! recording each order's publish instant by its index; confirms are checked by a task of
//! their own, so publishing never waits for results (nor, within a window, for confirms).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Confirmation, PublisherConfirm};
use tokio::time::MissedTickBehavior;

use super::pacing::Pacing;
use super::progress::Counters;
use super::workload::Workload;
use crate::config::AmqpSettings;

/// Publishes awaiting their confirm at most, in a burst (as the bench always did).
const BURST_IN_FLIGHT: usize = 256;
/// Publishes awaiting their confirm at most, at a rate: enough that a broker hiccup does not
/// hold the schedule back (the lag is reported if it does).
const RATE_IN_FLIGHT: usize = 8_192;

/// What publishing took.
#[derive(Debug)]
pub struct Published {
    pub first: Instant,
    pub last: Instant,
    /// When the broker confirmed the last order.
    pub last_confirm: Instant,
    /// Where each order's latency starts, by index (`None` only if publishing stopped early):
    /// its publish instant in a burst, the instant it was due under a rate.
    pub sent: Vec<Option<Instant>>,
    /// The longest any order went out after its due time (open loop only; a burst is never
    /// late). Latency is measured from the real publish instant, so a large lag here means
    /// the schedule, not the gateway, held orders back.
    pub max_lag: Duration,
}

impl Published {
    /// Orders per second between the first and the last publish.
    pub fn achieved_rate(&self) -> f64 {
        let orders = self.sent.iter().filter(|sent| sent.is_some()).count();
        super::stats::per_second(
            orders.saturating_sub(1),
            self.last.saturating_duration_since(self.first),
        )
    }
}

/// Publishes every order of `workload` on `settings.orders_queue` as `pacing` says.
pub async fn publish(
    connection: &lapin::Connection,
    settings: &AmqpSettings,
    workload: &Workload,
    pacing: Pacing,
    counters: Arc<Counters>,
) -> anyhow::Result<Published> {
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let in_flight = match pacing {
        Pacing::Burst => BURST_IN_FLIGHT,
        Pacing::Rate(_) => RATE_IN_FLIGHT,
    };
    let (confirms, mut pending) = tokio::sync::mpsc::channel::<PublisherConfirm>(in_flight);
    let checker = tokio::spawn(async move {
        while let Some(confirm) = pending.recv().await {
            check(confirm.await?)?;
            counters.published.fetch_add(1, Ordering::Relaxed);
        }
        anyhow::Ok(Instant::now())
    });

    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let total = workload.count;
    let mut sent = vec![None; total];
    let mut max_lag = Duration::ZERO;
    let mut ticks = tokio::time::interval(pacing.tick());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let first = Instant::now();
    let mut last = first;
    let mut next = 0;
    'publishing: while next < total {
        if pacing != Pacing::Burst {
            ticks.tick().await;
        }
        let due = pacing.due_by(first.elapsed(), total);
        while next < due {
            let (row, _) = workload.order(next);
            let body = serde_json::to_vec(&row.to_order_json(&created_at))?;
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(row.order_id.as_str().into());
            let options = BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            let now = Instant::now();
            // Under a rate an order's latency runs from when it was due, not from when it went
            // out: a publisher held up (by the machine, by the broker's flow control) delays
            // the orders behind it, and that wait is part of what upstream would see.
            sent[next] = Some(match pacing {
                Pacing::Rate(_) => {
                    let due = first + pacing.due_at(next);
                    max_lag = max_lag.max(now.saturating_duration_since(due));
                    due.min(now)
                }
                Pacing::Burst => now,
            });
            last = now;
            let queue = settings.orders_queue.as_str().into();
            let confirm = channel
                .basic_publish("".into(), queue, options, &body, properties)
                .await?;
            if confirms.send(confirm).await.is_err() {
                // The checker stopped on a refused order; its error is the answer.
                break 'publishing;
            }
            next += 1;
        }
    }
    drop(confirms);
    let last_confirm = checker.await??;
    let _ = channel.close(200, "done".into()).await;
    Ok(Published {
        first,
        last,
        last_confirm,
        sent,
        max_lag,
    })
}

fn check(confirmation: Confirmation) -> anyhow::Result<()> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => bail!("an order could not be routed to the orders queue"),
        Confirmation::Nack(_) => bail!("the broker refused an order (nack)"),
        Confirmation::NotRequested => bail!("publisher confirms are not enabled"),
    }
}
