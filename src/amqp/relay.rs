//! The outbox relay: publishes result messages and dead letters with publisher confirms,
//! and marks a row sent only after the broker confirmed it (a nack or a returned
//! `mandatory` message is a failure, and the row is tried again).
//!
//! One bad row must not stop the rest: a row that cannot become an AMQP message is parked at
//! once, and a row the broker returns (no queue takes it) `amqp.outbox_publish_attempts` times
//! is parked then. A nack is not held against a row: it says the broker cannot take messages
//! now (a full queue with `reject-publish`, a quorum queue without its majority), so the nacked
//! rows are held back for a while that grows as long as the nacks go on (from
//! `amqp.reconnect_delay_ms` up to 30 s) while the rows behind them go out — an outage of a
//! minute parks nothing that ops would have to release by hand.
//! When the broker closes the channel in the middle of a batch (it does that for a message it
//! cannot take, and no confirm says which), the rows of that batch are published one at a
//! time, so the failure lands on the row at fault.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::links::{BrokerLinks, Connected, RELAY as LINK};
use super::returns::{self, Answer, Sent};
use super::{close_within_timeout, connect, properties, reconnect_delay, topology};
use crate::config::AmqpSettings;
use crate::store::{OutboxKind, OutboxRow, Store};

/// Rows published per round; their confirms are awaited together, each checked.
const BATCH: i64 = 1024;

/// How long a relay holds the rows it is publishing before another relay may take them:
/// far longer than a round takes, short enough that a crashed relay's rows go out soon.
pub const RELAY_LEASE_MS: i64 = 15_000;

/// How long a relay asked to stop in the middle of a round still waits for its confirms
/// before it gives the round's rows back unconfirmed (they go out at the next start, or from
/// another gateway). The gateway's stop gave the outbox five seconds to empty before asking.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// How long a round's confirms may take before `/readyz/orders` says the relay is not
/// publishing (a round of 1,024 messages is confirmed in well under a second).
const SLOW_CONFIRMS: Duration = Duration::from_secs(5);

/// What `/readyz/orders` says of a relay that is not connected.
const NOT_PUBLISHING: &str = "not publishing results (no broker connection, or the store does not answer); retrying";

/// How often a relay refreshes the `gateway_outbox_parked` gauge, so that rows released (or
/// parked) by another process show up.
const PARKED_REPORT_INTERVAL: Duration = Duration::from_secs(30);

/// Runs until `shutdown`, reconnecting after broker failures.
pub async fn run(
    store: Store,
    settings: AmqpSettings,
    wake: Arc<Notify>,
    links: BrokerLinks,
    shutdown: CancellationToken,
) {
    let mut attempt = 0;
    let mut progress = Progress::default();
    report_parked(&store).await;
    while !shutdown.is_cancelled() {
        match relay(&store, &settings, &wake, &links, &shutdown, &mut attempt, &mut progress).await {
            Ok(()) => return,
            Err(error) => {
                links.lost(LINK, NOT_PUBLISHING);
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

/// What a relay knows of the rows behind it, kept across its reconnects.
#[derive(Default)]
struct Progress {
    /// Rows still to publish one at a time since a batch broke the channel.
    one_by_one: usize,
    /// Nacked rows held back in the store.
    held_back: HeldBack,
}

/// Nacked rows held back, across rounds and reconnects: the wait grows with every round that
/// has nacks until the rows held back have gone out (a round of other rows going out says
/// nothing of them), and the relay is not publishing until then.
#[derive(Debug, Default)]
struct HeldBack {
    /// Rounds with nacks since nothing was held back: how long the next nacked rows wait.
    nacked_rounds: u32,
    /// Until when the last of them are held (ms since 1970); `None`: nothing is held back.
    until: Option<i64>,
}

impl HeldBack {
    /// A round had nacked rows at `now` (ms since 1970): how long they are held back.
    fn nacked(&mut self, settings: &AmqpSettings, now: i64) -> Duration {
        let wait = reconnect_delay(settings, self.nacked_rounds);
        self.nacked_rounds = self.nacked_rounds.saturating_add(1);
        let until = now + wait.as_millis() as i64;
        // Rows held back longer earlier are still held: a shorter wait does not end theirs.
        self.until = Some(self.until.map_or(until, |earlier| earlier.max(until)));
        wait
    }

    /// A round leased at `leased_at` (ms since 1970) had no nacked row: once every wait was
    /// over before it was leased, the rows held back were leased again (the oldest go first)
    /// and went out, or another gateway sent them, and the waits start short again. Returns
    /// whether nothing is held back.
    fn went_out(&mut self, leased_at: i64) -> bool {
        if self.until.is_some_and(|until| leased_at < until) {
            return false;
        }
        *self = Self::default();
        true
    }
}

async fn relay(
    store: &Store,
    settings: &AmqpSettings,
    wake: &Notify,
    links: &BrokerLinks,
    shutdown: &CancellationToken,
    attempt: &mut u32,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let Progress { one_by_one, held_back } = progress;
    let set_up = async {
        let connection = connect(settings, "relay")
            .await
            .context("could not connect to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        topology::declare_outputs(&channel, settings)
            .await
            .context("could not declare the topology")?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        anyhow::Ok((connection, channel))
    };
    let Some((connection, channel)) = super::unless_stopped(shutdown, set_up).await? else {
        return Ok(());
    };
    // The back-off starts again once a round goes out whole (or there is nothing to send), not
    // at the connection: a broker that refuses every round keeps the waits growing.
    tracing::info!("The outbox relay is connected.");
    // Publishing once a round is confirmed whole, or there is nothing to send: a connection
    // alone says nothing (a broker in an alarm takes connections and confirms nothing).
    let connected = links.connected_while(LINK, NOT_PUBLISHING);
    connected.impaired("connected to RabbitMQ; no round of results confirmed yet");
    let mut parked_reported_at = tokio::time::Instant::now();
    loop {
        if shutdown.is_cancelled() {
            // Asked to stop with rows still waiting (the gateway's stop gave them its five
            // seconds already): they go out at the next start.
            close_within_timeout(&connection, "shutdown").await;
            return Ok(());
        }
        // Checked idle too: a connection the broker closed (or a heartbeat lost) while there
        // was nothing to send is found at the next poll, not when the next result waits on it;
        // and before the lease, so no row is leased on a channel that is gone.
        if !channel.status().connected() {
            bail!("the relay channel closed");
        }
        let limit = if *one_by_one > 0 { 1 } else { BATCH };
        let started = std::time::Instant::now();
        let leased_at = crate::store::now_ms();
        let rows = store
            .lease_unpublished(limit, RELAY_LEASE_MS)
            .await
            .context("could not read the outbox")?;
        metrics::histogram!("gateway_relay_stage_seconds", "stage" => "lease").record(started.elapsed().as_secs_f64());
        // Busy or idle: rows released (or parked) by another process show up within the
        // interval, not only once this relay's outbox runs empty.
        if parked_reported_at.elapsed() >= PARKED_REPORT_INTERVAL {
            report_parked(store).await;
            parked_reported_at = tokio::time::Instant::now();
        }
        if rows.is_empty() {
            *one_by_one = 0;
            *attempt = 0;
            // Nothing to send, and nothing held back past its wait (it went out, from here or
            // from another gateway): publishing.
            if held_back.went_out(leased_at) {
                connected.working();
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    close_within_timeout(&connection, "shutdown").await;
                    return Ok(());
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            continue;
        }
        let started = std::time::Instant::now();
        let Some(round) = publish_unless_stopped(&channel, settings, &rows, &connected, shutdown).await? else {
            // No confirm came within the grace (a broker in a memory or disk alarm stops
            // reading): none of the round is marked sent, and its rows are given back.
            tracing::warn!(
                rows = rows.len(),
                "Stopping while the broker has not confirmed a round of outbox messages; they stay in the \
                 outbox and go out again at the next start (upstream may see some of them twice)."
            );
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            if let Err(error) = store.release_outbox_leases(&ids).await {
                tracing::warn!(%error, "Could not give back outbox leases; they run out by themselves.");
            }
            close_within_timeout(&connection, "shutdown").await;
            return Ok(());
        };
        metrics::histogram!("gateway_relay_stage_seconds", "stage" => "publish")
            .record(started.elapsed().as_secs_f64());
        let started = std::time::Instant::now();
        store
            .mark_published(&round.confirmed)
            .await
            .context("could not mark outbox rows as published")?;
        metrics::histogram!("gateway_relay_stage_seconds", "stage" => "mark").record(started.elapsed().as_secs_f64());
        metrics::histogram!("gateway_relay_round_rows").record(rows.len() as f64);
        metrics::counter!("gateway_outbox_published_total").increment(round.confirmed.len() as u64);
        for (id, reason) in &round.unpublishable {
            if store.park(*id, reason).await.context("could not park an outbox row")? {
                parked(store, *id, reason).await;
            }
        }
        for (id, reason) in &round.returned {
            tracing::error!(outbox_id = id, reason = %reason, "The broker refused an outbox message.");
            count_failure(store, settings, *id, reason).await?;
        }
        let nacked = !round.nacked.is_empty();
        if nacked {
            connected.impaired(
                "the broker refuses results (nack: a full queue, a quorum queue without its majority); retrying",
            );
            // The channel is fine and so are the other rows: the nacked ones keep their lease
            // for a while that grows as long as the nacks go on, and the rows behind them go
            // out meanwhile.
            let now = crate::store::now_ms();
            let wait = held_back.nacked(settings, now);
            tracing::warn!(
                rows = round.nacked.len(),
                wait_ms = wait.as_millis() as u64,
                "The broker refused outbox messages (nack): it cannot take them now (a full queue, a quorum \
                 queue without its majority). They are tried again after the wait; they are not parked for it."
            );
            let until = now + wait.as_millis() as i64;
            if let Err(error) = store.defer_outbox(&round.nacked, until).await {
                tracing::warn!(%error, "Could not hold back nacked outbox rows; their leases run out by themselves.");
            }
        }
        let refused = round.returned.len();
        if round.broken.is_some() || refused > 0 || round.unmatched_returns > 0 {
            // This relay is about to reconnect: what it did not get confirmed goes back now.
            let settled: std::collections::HashSet<i64> =
                round.confirmed.iter().chain(&round.nacked).copied().collect();
            let open: Vec<i64> = rows
                .iter()
                .map(|row| row.id)
                .filter(|id| !settled.contains(id))
                .collect();
            if let Err(error) = store.release_outbox_leases(&open).await {
                tracing::warn!(%error, "Could not give back outbox leases; they run out by themselves.");
            }
        }
        if let Some(error) = round.broken {
            // Only a row sent on its own, after a batch it was in broke, is blamed, and only
            // when the broker closed the channel: a connection lost while a lone row is in
            // flight (a broker restart, the network) is nobody's fault, and blaming it parked
            // a healthy row after a few of them.
            if let ([row], true) = (rows.as_slice(), *one_by_one > 0) {
                if blames_the_message(&error) {
                    let reason = format!("the broker closed the channel while taking it ({error})");
                    count_failure(store, settings, row.id, &reason).await?;
                }
            } else {
                *one_by_one = rows.len() - round.confirmed.len();
                tracing::warn!(
                    rows = *one_by_one,
                    "The channel broke during a batch; its rows go one at a time to find the one at fault."
                );
            }
            return Err(error.context("the relay channel failed while publishing"));
        }
        *one_by_one = one_by_one.saturating_sub(rows.len());
        if refused > 0 {
            // Reconnecting declares the topology again, which fixes a deleted queue.
            bail!("{refused} outbox messages were refused by the broker");
        }
        if round.unmatched_returns > 0 {
            bail!(
                "the broker returned {} messages that match no row of the round; its rows go out again",
                round.unmatched_returns
            );
        }
        *attempt = 0;
        // A round confirmed whole, and what was held back has had its turn again (the oldest
        // rows are leased first): publishing.
        if !nacked && held_back.went_out(leased_at) {
            connected.working();
        }
    }
}

/// Whether a failure while a lone message went out may be the message's doing: the broker
/// closed the channel or the connection over it (a message it will not take, a frame it
/// cannot read). Not when the connection went for another reason — a broker restart
/// (`CONNECTION_FORCED`), the network, a missed heartbeat — or the channel was closed before
/// the message was sent.
fn blames_the_message(error: &anyhow::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPHardError};
    use lapin::ErrorKind;
    let Some(error) = error.downcast_ref::<lapin::Error>() else {
        return true;
    };
    match error.kind() {
        ErrorKind::IOError(_)
        | ErrorKind::RuntimeShutdownError(_)
        | ErrorKind::InvalidConnectionState(_)
        | ErrorKind::InvalidChannelState(..)
        | ErrorKind::MissingHeartbeatError => false,
        ErrorKind::ProtocolError(amqp) => !matches!(amqp.kind(), AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED)),
        _ => true,
    }
}

/// What became of one round of rows.
#[derive(Default)]
struct Round {
    /// Acked and routed: mark published.
    confirmed: Vec<i64>,
    /// Returned (no queue took it): count a failure, park at the limit.
    returned: Vec<(i64, String)>,
    /// Nacked (the broker cannot take messages now): held back for a while that grows as long
    /// as nacks go on, then sent again; never counted towards parking.
    nacked: Vec<i64>,
    /// Cannot become an AMQP message at all: park now.
    unpublishable: Vec<(i64, String)>,
    /// The channel failed; the rows neither confirmed nor refused are tried again.
    broken: Option<anyhow::Error>,
    /// Returned messages that matched no row: no ack of the round is believed, and its rows
    /// neither confirmed nor refused are tried again.
    unmatched_returns: usize,
}

/// [`publish`], unless a stop comes first and the round's confirms do not follow within
/// [`STOP_GRACE`]: then `None`, with what the broker confirmed meanwhile unknown. Confirms
/// that take longer than [`SLOW_CONFIRMS`] (a broker in a memory or disk alarm reads nothing
/// from publishers) mark the relay impaired for `/readyz/orders` while it goes on waiting.
async fn publish_unless_stopped(
    channel: &Channel,
    settings: &AmqpSettings,
    rows: &[OutboxRow],
    connected: &Connected,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Round>> {
    let publishing = publish(channel, settings, rows);
    tokio::pin!(publishing);
    let slow = tokio::time::sleep(SLOW_CONFIRMS);
    tokio::pin!(slow);
    let mut told = false;
    loop {
        tokio::select! {
            round = &mut publishing => return round.map(Some),
            () = &mut slow, if !told => {
                told = true;
                connected.impaired(&format!(
                    "the broker has not confirmed a round of results for {} s (a memory or disk alarm?); waiting",
                    SLOW_CONFIRMS.as_secs()
                ));
            }
            _ = shutdown.cancelled() => {
                return match tokio::time::timeout(STOP_GRACE, publishing).await {
                    Ok(round) => round.map(Some),
                    Err(_) => Ok(None),
                };
            }
        }
    }
}

/// Publishes `rows` on `channel` and awaits every confirm. Only a setup fault (confirms not
/// enabled) is an error here; anything a row or the broker did is in the [`Round`]. Which row a
/// returned message was is read from the message, not from the confirm lapin hands it to (see
/// [`returns`]).
async fn publish(channel: &Channel, settings: &AmqpSettings, rows: &[OutboxRow]) -> anyhow::Result<Round> {
    let mut round = Round::default();
    let mut sent: Vec<Sent<'_>> = Vec::with_capacity(rows.len());
    let mut confirms: Vec<PublisherConfirm> = Vec::with_capacity(rows.len());
    for row in rows {
        if !settings.publish_intermediate_results && is_intermediate(row) {
            // Upstream asked for final results only: settled without sending.
            round.confirmed.push(row.id);
            continue;
        }
        let (exchange, routing_key, properties) = match prepare(row, settings) {
            Ok(prepared) => prepared,
            Err(reason) => {
                round.unpublishable.push((row.id, reason));
                continue;
            }
        };
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let message_id = properties.message_id().clone();
        match channel
            .basic_publish(exchange, routing_key, options, &row.body, properties)
            .await
        {
            Ok(confirm) => {
                confirms.push(confirm);
                let (exchange, routing_key) = destination(row, settings);
                sent.push(Sent {
                    id: row.id,
                    exchange,
                    routing_key,
                    message_id,
                    body: &row.body,
                });
            }
            Err(error) => {
                round.broken = Some(error.into());
                break;
            }
        }
    }
    let mut answers = Vec::with_capacity(confirms.len());
    let mut returned = Vec::new();
    for confirm in confirms {
        match confirm.await {
            Ok(Confirmation::Ack(message)) => {
                answers.push(Answer::Ack);
                returned.extend(message);
            }
            Ok(Confirmation::Nack(message)) => {
                answers.push(Answer::Nack);
                returned.extend(message);
            }
            Ok(Confirmation::NotRequested) => bail!("publisher confirms are not enabled on the relay channel"),
            Err(error) => {
                answers.push(Answer::None);
                round.broken.get_or_insert(error.into());
            }
        }
    }
    let settled = returns::settle(&sent, &answers, &returned);
    round.confirmed.extend(settled.confirmed);
    round.returned = settled.returned;
    round.nacked = settled.nacked;
    round.unmatched_returns = settled.unmatched_returns;
    Ok(round)
}

/// An `accepted` or `pending` result: routing key `result.<channel>.<status>`.
fn is_intermediate(row: &OutboxRow) -> bool {
    row.kind == OutboxKind::Result && (row.routing_key.ends_with(".accepted") || row.routing_key.ends_with(".pending"))
}

/// The exchange and routing key a row is published to.
fn destination<'a>(row: &'a OutboxRow, settings: &'a AmqpSettings) -> (&'a str, &'a str) {
    match row.kind {
        OutboxKind::Result => (settings.results_exchange.as_str(), row.routing_key.as_str()),
        OutboxKind::DeadLetter => ("", settings.dlq_queue.as_str()),
    }
}

/// The exchange, routing key and properties of a row, checked so that nothing in lapin can
/// panic on them; `Err` says why this row can never be published as it is.
fn prepare(row: &OutboxRow, settings: &AmqpSettings) -> Result<(ShortString, ShortString, BasicProperties), String> {
    let (exchange, routing_key) = destination(row, settings);
    let exchange =
        ShortString::try_new(exchange).map_err(|_| "the exchange name is longer than AMQP's 255 bytes".to_string())?;
    let routing_key =
        ShortString::try_new(routing_key).map_err(|_| "the routing key is longer than AMQP's 255 bytes".to_string())?;
    let properties = catch_unwind(AssertUnwindSafe(|| properties::to_amqp(&row.properties)))
        .map_err(|_| "its AMQP properties could not be built".to_string())?;
    Ok((exchange, routing_key, properties))
}

/// Counts a refusal of row `id`, parking it at the limit.
async fn count_failure(store: &Store, settings: &AmqpSettings, id: i64, reason: &str) -> anyhow::Result<()> {
    let now_parked = store
        .record_publish_failure(id, reason, settings.outbox_publish_attempts)
        .await
        .context("could not count a failed publish")?;
    if now_parked {
        parked(store, id, reason).await;
    }
    Ok(())
}

/// Tells ops a row was parked: a log line, the counter, and the gauge.
async fn parked(store: &Store, id: i64, reason: &str) {
    metrics::counter!("gateway_outbox_parked_total").increment(1);
    tracing::error!(
        outbox_id = id,
        reason,
        "Parked an outbox message the broker will not take; the messages behind it go on. \
         It stays in the outbox (parked_at) until someone releases it."
    );
    report_parked(store).await;
}

/// Sets the `gateway_outbox_parked` gauge to the number of parked rows.
async fn report_parked(store: &Store) {
    if let Ok(count) = store.parked_count().await {
        metrics::gauge!("gateway_outbox_parked").set(count as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredProperties;

    #[test]
    fn nacked_rows_wait_longer_each_round_until_they_went_out_whatever_other_rows_do() {
        let settings = AmqpSettings {
            reconnect_delay_ms: 500,
            ..settings()
        };
        let mut held = HeldBack::default();
        assert!(held.went_out(0), "nothing held back");
        assert_eq!(held.nacked(&settings, 1_000), Duration::from_millis(500));
        // Rounds of other rows going out before the wait is over say nothing of the held rows,
        // and the next nacks wait longer.
        assert!(!held.went_out(1_200));
        assert_eq!(held.nacked(&settings, 1_300), Duration::from_millis(1_000));
        assert!(!held.went_out(1_600), "held until 2,300, past the first wait's end");
        assert_eq!(held.nacked(&settings, 1_700), Duration::from_millis(2_000));
        assert!(!held.went_out(3_699));
        assert!(held.went_out(3_700), "leased after every wait was over: they went out");
        assert_eq!(held.nacked(&settings, 4_000), Duration::from_millis(500), "short again");
    }

    #[test]
    fn only_the_broker_closing_over_the_message_blames_it() {
        use lapin::protocol::AMQPError;
        let from_broker = |code| -> anyhow::Error {
            let error = AMQPError::from_id(code, "closed".into()).expect("a known reply code");
            lapin::Error::from(lapin::ErrorKind::ProtocolError(error)).into()
        };
        assert!(
            blames_the_message(&from_broker(406)),
            "PRECONDITION_FAILED: the message"
        );
        assert!(blames_the_message(&from_broker(501)), "FRAME_ERROR: maybe the message");
        assert!(!blames_the_message(&from_broker(320)), "CONNECTION_FORCED: a restart");
        let closed_before: anyhow::Error = lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
            lapin::ChannelState::Closing,
            "basic.publish",
        ))
        .into();
        assert!(!blames_the_message(&closed_before), "closed before it was sent");
        let lost: anyhow::Error = lapin::Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset)).into();
        assert!(!blames_the_message(&lost), "the network");
        let heartbeat: anyhow::Error = lapin::Error::from(lapin::ErrorKind::MissingHeartbeatError).into();
        assert!(!blames_the_message(&heartbeat));
    }

    #[test]
    fn a_shorter_wait_does_not_end_a_longer_one() {
        let settings = AmqpSettings {
            reconnect_delay_ms: 500,
            ..settings()
        };
        let mut held = HeldBack {
            nacked_rounds: 5,
            until: None,
        };
        assert_eq!(held.nacked(&settings, 0), Duration::from_millis(16_000));
        held.nacked_rounds = 0;
        assert_eq!(held.nacked(&settings, 1_000), Duration::from_millis(500));
        assert!(!held.went_out(2_000), "the rows held for 16 s are still held");
        assert!(held.went_out(16_000));
    }

    fn settings() -> AmqpSettings {
        crate::config::Settings::load(std::path::Path::new("config"))
            .expect("config/default.toml loads")
            .amqp
    }

    fn row(routing_key: &str, properties: StoredProperties) -> OutboxRow {
        OutboxRow {
            id: 1,
            kind: OutboxKind::Result,
            routing_key: routing_key.to_string(),
            properties,
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn a_row_with_ids_too_long_for_amqp_is_prepared_without_panicking() {
        let properties = StoredProperties {
            message_id: Some(format!("{}:1", "😀".repeat(64))),
            correlation_id: Some("😀".repeat(64)),
            ..Default::default()
        };
        let (_, routing_key, properties) =
            prepare(&row("result.bank_transfer.rejected", properties), &settings()).expect("publishable");
        assert_eq!(routing_key.as_str(), "result.bank_transfer.rejected");
        assert!(properties
            .message_id()
            .as_ref()
            .is_some_and(|id| id.as_str().len() <= 255));
    }

    #[test]
    fn a_routing_key_too_long_for_amqp_makes_the_row_unpublishable() {
        let reason = prepare(&row(&"r".repeat(256), StoredProperties::default()), &settings())
            .expect_err("a routing key over 255 bytes cannot be sent");
        assert!(reason.contains("routing key"));
    }
}
