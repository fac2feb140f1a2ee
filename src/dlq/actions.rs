//! The DLQ operations as library calls: list, show, replay and purge. The CLI prints on top.
//!
//! Each call is one pass of a [`DlqReader`]: it reads the messages that were in the queue
//! when it started, settles the selected ones (replay: ack after the broker confirmed the
//! republished order; purge: ack) and closes its channel, which returns every other message
//! to the queue unchanged.

use std::collections::BTreeSet;

use anyhow::{bail, Context};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation};

use super::mask::render_body;
use super::reader::{render, DeadLetter, DeadLetterSummary, DlqReader};
use crate::config::AmqpSettings;
use crate::progress::Progress;
use crate::terminal::shown;

/// Header a replayed order carries: the reason it had been dead-lettered for.
pub const REPLAYED_HEADER: &str = "x-replayed-from-dlq";

/// What `replay` and `purge` act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every dead letter with this AMQP message id (an order dead-lettered twice is there twice).
    MessageId(String),
    /// Every dead letter with this reason (`invalid`, `delivery_limit`, …).
    Reason(String),
    All,
}

impl Selection {
    fn matches(&self, summary: &DeadLetterSummary) -> bool {
        match self {
            Selection::MessageId(id) => summary.message_id.as_deref() == Some(id.as_str()),
            Selection::Reason(reason) => summary.reason == *reason,
            Selection::All => true,
        }
    }
}

/// Errors the CLI turns into exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("There is no dead letter with message id {message_id} in {queue}.")]
    NotFound { message_id: String, queue: String },
    /// A reason no dead letter has: most likely a typo (`delivery-limit`), which would
    /// otherwise report "Replayed 0" and succeed.
    #[error(
        "No dead letter in {queue} has reason {reason}, which is not one a dead letter can have; the reasons there \
         are: {present}."
    )]
    NoSuchReason {
        reason: String,
        queue: String,
        present: String,
    },
}

/// One dead letter as `show` prints it.
#[derive(Clone, Debug)]
pub struct DeadLetterView {
    pub summary: DeadLetterSummary,
    pub content_type: Option<String>,
    pub correlation_id: Option<String>,
    /// Every header, values as text (`x-death` included), sorted by name.
    pub headers: Vec<(String, String)>,
    /// Pretty JSON, masked unless asked otherwise.
    pub body: String,
}

/// Reads up to `limit` dead letters (all when `None`) and returns them to the queue.
pub async fn list(settings: &AmqpSettings, limit: Option<usize>) -> anyhow::Result<Vec<DeadLetterSummary>> {
    let mut reader = DlqReader::open(settings, "dlq-list").await?;
    let mut found = Vec::new();
    while limit.is_none_or(|limit| found.len() < limit) {
        let Some(dead) = reader.next().await? else { break };
        found.push(dead.summary());
    }
    reader.close().await?;
    Ok(found)
}

/// Every dead letter with `message_id`, read and returned to the queue. With `show_progress`,
/// shows how far it went through the queue (it reads all of it to find every copy).
pub async fn show(
    settings: &AmqpSettings,
    message_id: &str,
    unmasked: bool,
    show_progress: bool,
) -> anyhow::Result<Vec<DeadLetterView>> {
    let mut reader = DlqReader::open(settings, "dlq-show").await?;
    let mut progress = pass_progress(show_progress, "reading");
    let mut found = Vec::new();
    while let Some(dead) = reader.next().await? {
        went_through(&mut progress, &reader, &dead);
        if dead.message_id().as_deref() == Some(message_id) {
            found.push(view(&dead, unmasked));
        }
    }
    progress.finish();
    reader.close().await?;
    not_found_if_empty(
        found.len(),
        &Selection::MessageId(message_id.to_string()),
        settings,
        &BTreeSet::new(),
    )?;
    Ok(found)
}

/// What a replay did with the dead letters it selected.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Put back on the orders queue and removed from the DLQ (with `dry_run`, would have been).
    pub replayed: Vec<DeadLetterSummary>,
    /// Selected but left in the DLQ, because a copy would not stand for them.
    pub kept: Vec<Kept>,
}

/// A selected dead letter a replay left where it is, and why.
#[derive(Debug)]
pub struct Kept {
    pub summary: DeadLetterSummary,
    pub why: &'static str,
}

/// Republishes the selected dead letters to the orders queue and acks each one only after
/// the broker confirmed its copy. Letters whose copy would not stand for them (see
/// [`DeadLetter::why_not_replayed`]) stay in the DLQ, and are named in what it returns. With
/// `dry_run`, only says what it would replay. With `show_progress`, shows how far it went
/// through the queue (each copy waits for its confirm, so a large DLQ takes a while).
pub async fn replay(
    settings: &AmqpSettings,
    selection: &Selection,
    dry_run: bool,
    show_progress: bool,
) -> anyhow::Result<Replayed> {
    let mut reader = DlqReader::open(settings, "dlq-replay").await?;
    let publisher = reader.connection().create_channel().await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut progress = pass_progress(show_progress, "replaying");
    let mut replayed = Vec::new();
    let mut kept = Vec::new();
    let mut reasons = BTreeSet::new();
    while let Some(dead) = reader.next().await? {
        went_through(&mut progress, &reader, &dead);
        let summary = dead.summary();
        reasons.insert(summary.reason.clone());
        if !selection.matches(&summary) {
            continue;
        }
        if let Some(why) = dead.why_not_replayed() {
            kept.push(Kept { summary, why });
            continue;
        }
        if !dry_run {
            republish(&publisher, settings, &dead, &summary.reason)
                .await
                .with_context(|| format!("replayed {} before this failed", replayed.len()))?;
            dead.ack().await?;
        }
        replayed.push(summary);
    }
    progress.finish();
    let _ = publisher.close(200, "done".into()).await;
    reader.close().await?;
    not_found_if_empty(replayed.len() + kept.len(), selection, settings, &reasons)?;
    Ok(Replayed { replayed, kept })
}

/// Acks (removes) the selected dead letters when `confirmed`; otherwise only says which ones
/// it would remove. Never uses `queue.purge`: it removes only what it read and selected.
/// With `show_progress`, shows how far it went through the queue.
pub async fn purge(
    settings: &AmqpSettings,
    selection: &Selection,
    confirmed: bool,
    show_progress: bool,
) -> anyhow::Result<Vec<DeadLetterSummary>> {
    let mut reader = DlqReader::open(settings, "dlq-purge").await?;
    let mut progress = pass_progress(show_progress, "purging");
    let mut removed = Vec::new();
    let mut reasons = BTreeSet::new();
    while let Some(dead) = reader.next().await? {
        went_through(&mut progress, &reader, &dead);
        let summary = dead.summary();
        reasons.insert(summary.reason.clone());
        if !selection.matches(&summary) {
            continue;
        }
        if confirmed {
            dead.ack().await?;
        }
        removed.push(summary);
    }
    progress.finish();
    reader.close().await?;
    not_found_if_empty(removed.len(), selection, settings, &reasons)?;
    Ok(removed)
}

/// How far a pass (`doing`: `replaying`, …) went through the queue; its total comes with the
/// first message read ([`went_through`]).
fn pass_progress(show: bool, doing: &str) -> Progress {
    Progress::new(
        show,
        0,
        "went through",
        "dead letters",
        &format!("{doing} {{bar:40}} {{pos}}/{{len}} dead letters gone through ({{eta}} left)"),
    )
}

/// Counts `dead` as gone through once read, whether it is selected or not.
fn went_through(progress: &mut Progress, reader: &DlqReader, dead: &DeadLetter) {
    if dead.position == 1 {
        progress.set_total(reader.count_at_start().unwrap_or_default());
    }
    progress.advance(dead.position);
}

/// The reasons a dead letter may have: the gateway's `x-gateway-reason`s, RabbitMQ's own
/// `x-death` reasons, and `unknown` for a letter with neither.
pub const KNOWN_REASONS: [&str; 10] = [
    "invalid",
    "conflict",
    "contradiction",
    "retries_exhausted",
    "unknown_outcome",
    "delivery_limit",
    "rejected",
    "expired",
    "maxlen",
    "unknown",
];

/// An error when a selection by message id found nothing, or one by a reason no dead letter
/// can have (a typo) found nothing (`reasons`: every reason the queue holds). A known reason
/// with nothing to act on, and `--all` of an empty queue, are fine: a cron job replaying
/// `delivery_limit` letters finds none most days.
fn not_found_if_empty(
    found: usize,
    selection: &Selection,
    settings: &AmqpSettings,
    reasons: &BTreeSet<String>,
) -> Result<(), DlqError> {
    match selection {
        Selection::MessageId(id) if found == 0 => Err(DlqError::NotFound {
            message_id: id.clone(),
            queue: settings.dlq_queue.clone(),
        }),
        Selection::Reason(reason) if found == 0 && !KNOWN_REASONS.contains(&reason.as_str()) => {
            Err(DlqError::NoSuchReason {
                reason: reason.clone(),
                queue: settings.dlq_queue.clone(),
                present: if reasons.is_empty() {
                    "none (the queue is empty)".to_string()
                } else {
                    // The reasons are the messages' own text, printed on a terminal.
                    let reasons: Vec<String> = reasons.iter().map(|reason| shown(reason).into_owned()).collect();
                    reasons.join(", ")
                },
            })
        }
        _ => Ok(()),
    }
}

fn view(dead: &DeadLetter, unmasked: bool) -> DeadLetterView {
    let properties = &dead.delivery.properties;
    let headers = dead
        .headers()
        .map(|table| table.inner().iter().map(|(k, v)| (k.to_string(), render(v))).collect())
        .unwrap_or_default();
    DeadLetterView {
        summary: dead.summary(),
        content_type: properties.content_type().as_ref().map(ToString::to_string),
        correlation_id: properties.correlation_id().as_ref().map(ToString::to_string),
        headers,
        body: render_body(&dead.delivery.data, unmasked),
    }
}

/// Whether a header is the DLQ's own bookkeeping, left out of a replayed order.
fn is_dead_letter_header(key: &str) -> bool {
    key.starts_with("x-gateway-")
        || key == "x-death"
        || key.starts_with("x-first-death-")
        || key.starts_with("x-last-death-")
        || key == "x-delivery-count"
        || key == REPLAYED_HEADER
}

/// The original order's properties, persistent, with the dead-letter headers swapped for
/// `x-replayed-from-dlq: <reason>`.
pub fn replay_properties(original: &BasicProperties, reason: &str) -> BasicProperties {
    let mut properties = BasicProperties::default().with_delivery_mode(2);
    if let Some(content_type) = original.content_type() {
        properties = properties.with_content_type(content_type.clone());
    }
    if let Some(message_id) = original.message_id() {
        properties = properties.with_message_id(message_id.clone());
    }
    if let Some(correlation_id) = original.correlation_id() {
        properties = properties.with_correlation_id(correlation_id.clone());
    }
    let mut headers: std::collections::BTreeMap<ShortString, AMQPValue> = original
        .headers()
        .as_ref()
        .map(|table| {
            table
                .inner()
                .iter()
                .filter(|(key, _)| !is_dead_letter_header(key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    headers.insert(REPLAYED_HEADER.into(), AMQPValue::LongString(reason.into()));
    properties.with_headers(FieldTable::from(headers))
}

/// Publishes one dead letter's body to the orders queue (mandatory) and waits for the
/// confirm; a nack or a returned message is an error.
async fn republish(channel: &Channel, settings: &AmqpSettings, dead: &DeadLetter, reason: &str) -> anyhow::Result<()> {
    let name = dead.message_id().unwrap_or_else(|| format!("#{}", dead.position));
    let confirm = channel
        .basic_publish(
            "".into(),
            settings.orders_queue.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &dead.delivery.data,
            replay_properties(&dead.delivery.properties, reason),
        )
        .await?
        .await?;
    match confirm {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => bail!("{name} could not be routed to {}", settings.orders_queue),
        Confirmation::Nack(_) => bail!("the broker refused {name} (is {} full?)", settings.orders_queue),
        Confirmation::NotRequested => bail!("publisher confirms are not enabled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_order_keeps_its_headers_but_not_the_dead_letter_ones() {
        let mut headers = FieldTable::default();
        headers.insert("x-gateway-reason".into(), AMQPValue::LongString("invalid".into()));
        headers.insert(
            "x-gateway-detail".into(),
            AMQPValue::LongString("unknown_bank: …".into()),
        );
        headers.insert("x-death".into(), AMQPValue::FieldArray(Default::default()));
        headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(3));
        headers.insert("trace-id".into(), AMQPValue::LongString("abc".into()));
        let original = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id("TB-1".into())
            .with_correlation_id("c-1".into())
            .with_headers(headers);
        let replayed = replay_properties(&original, "invalid");
        let keys: Vec<&str> = replayed
            .headers()
            .iter()
            .flat_map(|table| table.inner().keys())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["trace-id", REPLAYED_HEADER]);
        assert_eq!(replayed.message_id().as_ref().map(|m| m.as_str()), Some("TB-1"));
        assert_eq!(replayed.correlation_id().as_ref().map(|m| m.as_str()), Some("c-1"));
        assert_eq!(replayed.delivery_mode(), &Some(2));
    }
}
