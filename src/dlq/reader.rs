//! Reads the dead-letter queue with `basic_get` and manual acks, and reads a dead letter's headers.
//!
//! A [`DlqReader`] holds its own connection and channel. Every message it hands out stays
//! unacked on that channel until it is [acked](DeadLetter::ack) (removed for good) or the
//! reader is [closed](DlqReader::close): closing the channel returns every unacked message
//! to the queue. It reads at most as many messages as the queue held when it started, so
//! dead letters arriving meanwhile are not part of this pass.

use anyhow::Context;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection};
use serde::Serialize;

use crate::amqp;
use crate::config::AmqpSettings;

/// Header the gateway puts on its own dead letters: `invalid`, `conflict`, …
pub const REASON_HEADER: &str = "x-gateway-reason";
/// Header with the sentence explaining a gateway dead letter.
pub const DETAIL_HEADER: &str = "x-gateway-detail";
/// Header on the dead letter of an order over the size limit, whose body was cut to the limit:
/// how many bytes the order had.
pub const ORIGINAL_BYTES_HEADER: &str = "x-gateway-original-bytes";

/// One line of `gateway dlq list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetterSummary {
    /// 1-based position in the queue at the time it was read.
    pub position: usize,
    /// `x-gateway-reason`, else the broker's `x-death` reason (`delivery_limit`, …), else `unknown`.
    pub reason: String,
    pub message_id: Option<String>,
    /// `order_id` from the JSON body, when the body parses.
    pub order_id: Option<String>,
    /// `x-gateway-detail`, or for a broker dead letter where it came from.
    pub detail: Option<String>,
}

/// A message read from the DLQ and not yet settled.
pub struct DeadLetter {
    pub position: usize,
    pub delivery: Delivery,
}

impl DeadLetter {
    pub fn headers(&self) -> Option<&FieldTable> {
        self.delivery.properties.headers().as_ref()
    }

    fn header(&self, key: &str) -> Option<&AMQPValue> {
        self.headers().and_then(|table| table.inner().get(key))
    }

    /// The first table of the broker's `x-death` array (the most recent dead-lettering).
    fn first_death(&self) -> Option<&FieldTable> {
        match self.header("x-death")? {
            AMQPValue::FieldArray(array) => array.as_slice().iter().find_map(|value| match value {
                AMQPValue::FieldTable(table) => Some(table),
                _ => None,
            }),
            _ => None,
        }
    }

    pub fn reason(&self) -> String {
        self.header(REASON_HEADER)
            .and_then(text)
            .or_else(|| {
                self.first_death()
                    .and_then(|death| death.inner().get("reason"))
                    .and_then(text)
            })
            .or_else(|| self.header("x-first-death-reason").and_then(text))
            .unwrap_or_else(|| "unknown".to_string())
    }

    pub fn detail(&self) -> Option<String> {
        if let Some(detail) = self.header(DETAIL_HEADER).and_then(text) {
            return Some(detail);
        }
        let death = self.first_death()?.inner();
        let queue = death.get("queue").and_then(text).unwrap_or_default();
        let count = death.get("count").map(render).unwrap_or_default();
        Some(format!("dead-lettered by the broker from {queue} (count {count})"))
    }

    /// Why a replay must leave this dead letter where it is, if it must: a replay removes the
    /// letter once its copy is on the orders queue, and for these the copy would not stand for
    /// it — the letter would only be lost.
    pub fn why_not_replayed(&self) -> Option<&'static str> {
        if self.reason() == "contradiction" {
            return Some(
                "a report for a person, not an order to claim: its payment is final and a replay would \
                 only be answered as a duplicate; purge it once it is handled",
            );
        }
        if self.header(ORIGINAL_BYTES_HEADER).is_some() {
            return Some(
                "the order was over the size limit and only its first bytes were kept: a replay would \
                 not send the order that arrived",
            );
        }
        None
    }

    pub fn message_id(&self) -> Option<String> {
        self.delivery.properties.message_id().as_ref().map(ToString::to_string)
    }

    pub fn order_id(&self) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(&self.delivery.data).ok()?;
        body.get("order_id")?.as_str().map(str::to_string)
    }

    pub fn summary(&self) -> DeadLetterSummary {
        DeadLetterSummary {
            position: self.position,
            reason: self.reason(),
            message_id: self.message_id(),
            order_id: self.order_id(),
            detail: self.detail(),
        }
    }

    /// Removes the message from the queue for good.
    pub async fn ack(&self) -> anyhow::Result<()> {
        let acked = self
            .delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .context("could not ack a dead letter")?;
        anyhow::ensure!(acked, "could not ack a dead letter: its channel is gone");
        Ok(())
    }
}

/// A pass over the DLQ on a channel of its own.
pub struct DlqReader {
    connection: Connection,
    channel: Channel,
    queue: String,
    /// Messages left to read in this pass; `None` before the first `basic_get`.
    remaining: Option<u32>,
    position: usize,
}

impl DlqReader {
    /// Connects and checks (passively) that the DLQ exists; creates nothing.
    pub async fn open(settings: &AmqpSettings, role: &str) -> anyhow::Result<Self> {
        let connection = amqp::connect(settings, role)
            .await
            .context("could not connect to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        channel
            .queue_declare(settings.dlq_queue.as_str().into(), passive, FieldTable::default())
            .await
            .with_context(|| format!("the queue {} does not exist on the broker", settings.dlq_queue))?;
        Ok(Self {
            connection,
            channel,
            queue: settings.dlq_queue.clone(),
            remaining: None,
            position: 0,
        })
    }

    /// The connection, to open more channels on it (replay publishes on its own channel).
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// How many messages the queue held when the first one was read (`None` before).
    pub fn count_at_start(&self) -> Option<usize> {
        self.remaining.map(|left| self.position + left as usize)
    }

    /// The next message, unacked; `None` once the messages present at the start were read.
    pub async fn next(&mut self) -> anyhow::Result<Option<DeadLetter>> {
        if self.remaining == Some(0) {
            return Ok(None);
        }
        let got = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("could not read from {}", self.queue))?;
        let Some(got) = got else {
            self.remaining = Some(0);
            return Ok(None);
        };
        self.remaining = Some(match self.remaining {
            None => got.message_count,
            Some(left) => left.saturating_sub(1),
        });
        self.position += 1;
        Ok(Some(DeadLetter {
            position: self.position,
            delivery: got.delivery,
        }))
    }

    /// Closes the channel, which returns every unacked message to the queue, then the connection.
    pub async fn close(self) -> anyhow::Result<()> {
        self.channel
            .close(200, "done".into())
            .await
            .context("could not close the DLQ channel")?;
        let _ = self.connection.close(200, "done".into()).await;
        Ok(())
    }
}

/// The text of a string header.
pub fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_string()),
        _ => None,
    }
}

/// Any header value as text, tables and arrays included (`x-death`).
pub fn render(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(_) | AMQPValue::ShortString(_) => text(value).unwrap_or_default(),
        AMQPValue::Boolean(v) => v.to_string(),
        AMQPValue::ShortShortInt(v) => v.to_string(),
        AMQPValue::ShortShortUInt(v) => v.to_string(),
        AMQPValue::ShortInt(v) => v.to_string(),
        AMQPValue::ShortUInt(v) => v.to_string(),
        AMQPValue::LongInt(v) => v.to_string(),
        AMQPValue::LongUInt(v) => v.to_string(),
        AMQPValue::LongLongInt(v) => v.to_string(),
        AMQPValue::Timestamp(seconds) => i64::try_from(*seconds)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| seconds.to_string()),
        AMQPValue::FieldArray(array) => {
            let items: Vec<String> = array.as_slice().iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        AMQPValue::FieldTable(table) => {
            let items: Vec<String> = table
                .inner()
                .iter()
                .map(|(k, v)| format!("{k}: {}", render(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}
