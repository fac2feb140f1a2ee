//! The bare-relay baseline, equivalent to `../shared/bench/broker-limit` with `QUORUM=1`:
//! load N persistent ~400-byte messages into a fresh quorum queue with publisher confirms,
//! then relay each to a second quorum queue with a confirm and ack the input after the
//! confirm. No parsing, no storage, no HTTP: the ceiling any queue-to-queue gateway has here.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_lite::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};

use super::stats::per_second;
use crate::amqp;
use crate::config::AmqpSettings;
use crate::demo::stack;

/// Confirms awaited together while loading (as broker-limit does).
const LOAD_WINDOW: usize = 1_000;
/// Size of each message body, about one payment order.
pub const BODY_BYTES: usize = 400;

/// What the baseline measured.
#[derive(Clone, Debug)]
pub struct BaselineReport {
    pub messages: usize,
    pub prefetch: u16,
    pub load_elapsed: Duration,
    pub relay_elapsed: Duration,
}

impl BaselineReport {
    pub fn load_msgs_per_s(&self) -> f64 {
        per_second(self.messages, self.load_elapsed)
    }

    pub fn relay_msgs_per_s(&self) -> f64 {
        per_second(self.messages, self.relay_elapsed)
    }
}

/// Runs the baseline on queues `bench.baseline.{in,out}.<run_id>` and deletes them afterwards.
pub async fn run(
    settings: &AmqpSettings,
    messages: usize,
    prefetch: u16,
    run_id: &str,
) -> anyhow::Result<BaselineReport> {
    let connection = amqp::connect(settings, "bench-baseline")
        .await
        .context("could not connect to RabbitMQ")?;
    let [input, output] = queues(run_id);
    let admin = connection.create_channel().await?;
    let outcome = measure(&connection, &admin, &input, &output, messages, prefetch).await;
    close(&[&admin]).await;
    let _ = connection.close(200, "done".into()).await;
    delete_queues(settings, run_id).await;
    outcome
}

/// The baseline's two queues: `bench.baseline.in.<run_id>` and `bench.baseline.out.<run_id>`.
fn queues(run_id: &str) -> [String; 2] {
    [
        format!("bench.baseline.in.{run_id}"),
        format!("bench.baseline.out.{run_id}"),
    ]
}

/// Deletes the baseline's queues of run `run_id` (after it measured, or after an interrupted
/// run, whose connection was dropped with it).
pub async fn delete_queues(settings: &AmqpSettings, run_id: &str) {
    let [input, output] = queues(run_id);
    stack::delete_named(settings, &[&input, &output], &[]).await;
}

async fn measure(
    connection: &lapin::Connection,
    admin: &Channel,
    input: &str,
    output: &str,
    messages: usize,
    prefetch: u16,
) -> anyhow::Result<BaselineReport> {
    let mut quorum = FieldTable::default();
    quorum.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    for queue in [input, output] {
        let options = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        admin.queue_declare(queue.into(), options, quorum.clone()).await?;
    }
    let body = order_like_body();
    let properties = BasicProperties::default().with_delivery_mode(2);

    // Load: persistent messages, confirms pipelined in windows.
    let publisher = connection.create_channel().await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    let progress = bar(messages, "baseline load ");
    let started = Instant::now();
    let mut pending = Vec::with_capacity(LOAD_WINDOW);
    for _ in 0..messages {
        let confirm = publisher
            .basic_publish(
                "".into(),
                input.into(),
                BasicPublishOptions::default(),
                &body,
                properties.clone(),
            )
            .await?;
        pending.push(confirm);
        if pending.len() == LOAD_WINDOW {
            await_confirms(pending.drain(..), &progress).await?;
        }
    }
    await_confirms(pending.drain(..), &progress).await?;
    let load_elapsed = started.elapsed();
    progress.finish_and_clear();

    // Relay: consume, publish with a confirm, ack the input once the confirm is in.
    let consumer_channel = connection.create_channel().await?;
    let relay_channel = connection.create_channel().await?;
    relay_channel.confirm_select(ConfirmSelectOptions::default()).await?;
    consumer_channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut deliveries = consumer_channel
        .basic_consume(
            input.into(),
            "bench-relay".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let progress = bar(messages, "baseline relay");
    let started = Instant::now();
    let (sender, mut receiver) =
        tokio::sync::mpsc::channel::<(lapin::Acker, PublisherConfirm)>(usize::from(prefetch.max(1)) * 2);
    let acker_progress = progress.clone();
    let acker = tokio::spawn(async move {
        let mut done = 0usize;
        while done < messages {
            let Some((acker, confirm)) = receiver.recv().await else {
                bail!("the relay stopped after {done} of {messages} messages");
            };
            check(confirm.await?)?;
            acker.ack(BasicAckOptions::default()).await?;
            done += 1;
            acker_progress.inc(1);
        }
        anyhow::Ok(())
    });
    let mut relayed = 0usize;
    while relayed < messages {
        let Some(delivery) = deliveries.next().await else {
            bail!("the broker cancelled the baseline consumer");
        };
        let delivery = delivery?;
        let confirm = relay_channel
            .basic_publish(
                "".into(),
                output.into(),
                BasicPublishOptions::default(),
                &delivery.data,
                properties.clone(),
            )
            .await?;
        sender
            .send((delivery.acker, confirm))
            .await
            .context("the acker stopped")?;
        relayed += 1;
    }
    acker.await??;
    let relay_elapsed = started.elapsed();
    // Cancel while the consumer is alive, so dropping it sends no second cancel.
    consumer_channel
        .basic_cancel("bench-relay".into(), BasicCancelOptions::default())
        .await?;
    drop(deliveries);
    close(&[&publisher, &consumer_channel, &relay_channel]).await;
    progress.finish_and_clear();
    Ok(BaselineReport {
        messages,
        prefetch,
        load_elapsed,
        relay_elapsed,
    })
}

/// Closes `channels` and waits for the broker's answer. A channel left to be closed by its
/// drop is still closing when the connection closes, and lapin logs that as a connection
/// error, an `ERROR` line in a run that went well.
async fn close(channels: &[&Channel]) {
    for channel in channels {
        let _ = channel.close(200, "done".into()).await;
    }
}

async fn await_confirms(
    confirms: impl Iterator<Item = PublisherConfirm>,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    for confirm in confirms {
        check(confirm.await?)?;
        progress.inc(1);
    }
    Ok(())
}

fn check(confirmation: Confirmation) -> anyhow::Result<()> {
    match confirmation {
        Confirmation::Ack(_) => Ok(()),
        Confirmation::Nack(_) => bail!("the broker refused a baseline message (nack)"),
        Confirmation::NotRequested => bail!("publisher confirms are not enabled"),
    }
}

/// An order-shaped JSON body of exactly [`BODY_BYTES`] bytes (the memo is padded).
fn order_like_body() -> Vec<u8> {
    let head = r#"{"order_id":"TB-2026-12-000001","batch_id":"TB-2026-12","program":"meritorious","period":"2026-12","payment_type":"monthly","beneficiary":{"id":"034187000001","full_name":"Nguyen Van Duc","commune_code":"12454"},"amount":"2789000","currency":"VND","channel":"bank_transfer","destination":{"bank_bin":"970436","account_number":"0011004455667"},"memo":""#;
    let tail = r#""}"#;
    let mut body = head.as_bytes().to_vec();
    body.resize(BODY_BYTES.saturating_sub(tail.len()).max(head.len()), b' ');
    body.extend_from_slice(tail.as_bytes());
    body
}

fn bar(length: usize, label: &str) -> ProgressBar {
    let progress = ProgressBar::new(length as u64);
    let template = format!("{label} {{bar:40}} {{pos}}/{{len}} messages ({{per_sec}})");
    progress.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    progress
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_json_of_the_stated_size() {
        let body = order_like_body();
        assert_eq!(body.len(), BODY_BYTES);
        let value: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(value["order_id"], "TB-2026-12-000001");
    }
}
