//! `gateway outbox parked|release`: the outbox rows the broker would not take, for ops.
//!
//! A parked row is a result or dead letter the relay gave up on: one the broker could not route
//! (returned) or that broke the channel when sent alone, `amqp.outbox_publish_attempts` times,
//! or one that cannot be made into an AMQP message at all (at once). A nack (a full queue, a
//! quorum queue without its majority) never parks a row: it is held back and tried again. A
//! parked row stays in the store, never blocks the rows behind it, and goes out again once
//! released.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;
use crate::store::{OutboxKind, ParkedRow, Store};

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List parked rows: id, kind, message id, attempts, when and why it was parked.
    Parked {
        /// Show at most this many (1 or more).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
    },
    /// Give parked rows back to the relay (after the cause was fixed); the running gateway
    /// publishes them.
    Release {
        /// Outbox row ids from `gateway outbox parked`.
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
        /// Every parked row.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

pub async fn run(settings: Settings, command: OutboxCommand) -> anyhow::Result<ExitCode> {
    let store = Store::connect_existing(&settings.database).await?;
    match command {
        OutboxCommand::Parked { limit } => {
            let rows = store.parked(limit).await?;
            print!("{}", parked_table(&rows));
            let total = store.parked_count().await?;
            println!("{total} parked rows in all.");
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Release { ids, all } => {
            let mut ids: Vec<i64> = if all {
                store.parked(i64::MAX).await?.iter().map(|row| row.id).collect()
            } else {
                ids
            };
            // An id given twice is one row: `12 12` released everything asked and said it had not.
            ids.sort_unstable();
            ids.dedup();
            let released = store.unpark(&ids).await?;
            println!(
                "Released {released} of {} rows; the running gateway publishes them.",
                ids.len()
            );
            Ok(if released as usize == ids.len() {
                ExitCode::SUCCESS
            } else {
                eprintln!("Some ids were not parked rows (already published, or never parked).");
                ExitCode::from(2)
            })
        }
    }
}

fn parked_table(rows: &[ParkedRow]) -> String {
    let mut out = format!(
        "{:>8}  {:<11}  {:<40}  {:>8}  {:<19}  {}\n",
        "id", "kind", "message id", "attempts", "parked at", "reason"
    );
    for row in rows {
        let kind = match row.kind {
            OutboxKind::Result => "result",
            OutboxKind::DeadLetter => "dead_letter",
        };
        let parked_at = chrono::DateTime::from_timestamp_millis(row.parked_at)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let message_id: String = row.message_id.as_deref().unwrap_or("-").chars().take(40).collect();
        out.push_str(&format!(
            "{:>8}  {:<11}  {:<40}  {:>8}  {:<19}  {}\n",
            row.id, kind, message_id, row.publish_attempts, parked_at, row.park_reason
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parked_table_shows_one_line_per_row_with_its_reason() {
        let row = ParkedRow {
            id: 42,
            kind: OutboxKind::Result,
            payment_id: Some("pay_1".into()),
            routing_key: "result.bank_transfer.succeeded".into(),
            message_id: Some("TB-1:3".into()),
            publish_attempts: 5,
            park_reason: "the broker could not route it (NO_ROUTE)".into(),
            created_at: 0,
            parked_at: 0,
        };
        let table = parked_table(&[row]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("42") && lines[1].contains("TB-1:3") && lines[1].ends_with("(NO_ROUTE)"));
    }
}
