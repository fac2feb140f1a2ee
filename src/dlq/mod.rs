//! `gateway dlq list|show|replay|purge`: tools for the ops team watching `payments.dlq`.
//!
//! Every command reads the queue with `basic_get` on a channel of its own, with manual
//! acks, and reads only the messages that were there when it started ([`reader`]).
//!
//! - `list [--limit N]` and `show <message_id> [--unmasked]` never remove anything: they
//!   read, then close the channel without acking, so the messages go back to the queue. On
//!   a quorum queue that counts as a delivery (their `x-delivery-count` goes up); the DLQ is
//!   declared without a delivery limit, so nothing is dropped for it. Returned messages may
//!   come back in another order, so a position is only good for the listing it is in.
//! - `show` prints headers (`x-death` included) and the body as pretty JSON with the
//!   beneficiary's citizen id and name and the destination's account number, phone number
//!   and account name masked ([`mask`]); `--unmasked` prints them as they are. A body that
//!   is not JSON is printed only with `--unmasked`.
//! - `replay <message_id> | --reason R | --all [--dry-run]` republishes each selected
//!   message's original body and properties (content type, message id, correlation id, and
//!   its headers without `x-gateway-*`, `x-death` and the broker's other dead-letter
//!   headers, plus `x-replayed-from-dlq: <reason>`) to the orders queue, persistent and
//!   mandatory with a publisher confirm, and acks the dead letter only after the broker
//!   confirmed the copy; a nack or a returned message stops the replay with an error and
//!   leaves that dead letter where it was. A replayed order goes through the normal claim,
//!   so a replay can never pay twice: an order already claimed (`conflict`,
//!   `retries_exhausted`, `unknown_outcome`) is answered as a duplicate (or a conflict again)
//!   with its latest result. Replay helps orders that were never claimed: `delivery_limit`
//!   (e.g. the store was down) and `invalid` ones after a configuration fix (a new bank BIN).
//!   If the ack after a confirm is lost, the dead letter comes back and a second replay is,
//!   again, only a duplicate.
//! - `purge <message_id> | --reason R | --all --yes` acks (removes) the selected messages and
//!   prints a count. Without `--yes` it prints what it would remove, removes nothing and
//!   exits 1. It never uses `queue.purge`, so it removes only what it read and selected.
//!
//! A message id that matches nothing exits with code 2.

pub mod actions;
pub mod mask;
pub mod reader;

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, Subcommand};

pub use actions::{list, purge, replay, show, DeadLetterView, DlqError, Kept, Replayed, Selection};
pub use reader::{DeadLetterSummary, DlqReader, ORIGINAL_BYTES_HEADER};

use crate::config::Settings;
use crate::terminal::{shown, shown_lines};

/// `gateway dlq …` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum DlqCommand {
    /// List dead letters (reason, message id, order id, detail), without removing them.
    List {
        /// Read at most this many (from the head of the queue).
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Show one dead letter's headers and body (personal data masked), without removing it.
    Show {
        /// The AMQP message id (upstream's order id).
        message_id: String,
        /// Print account numbers, phone numbers, citizen ids and names as they are.
        #[arg(long)]
        unmasked: bool,
    },
    /// Republish dead letters to the orders queue (with a publisher confirm), then remove them.
    Replay {
        #[command(flatten)]
        select: SelectArgs,
        /// Only print what would be replayed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove dead letters for good; needs --yes.
    Purge {
        #[command(flatten)]
        select: SelectArgs,
        /// Really remove them; without it, only print what would be removed.
        #[arg(long)]
        yes: bool,
    },
}

/// Which dead letters `replay` and `purge` act on: exactly one of the three.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct SelectArgs {
    /// The AMQP message id (upstream's order id) of the dead letter(s).
    message_id: Option<String>,
    /// Every dead letter with this reason (`invalid`, `conflict`, `delivery_limit`, …).
    #[arg(long)]
    reason: Option<String>,
    /// Every dead letter in the queue.
    #[arg(long)]
    all: bool,
}

impl SelectArgs {
    fn selection(self) -> Selection {
        match (self.message_id, self.reason) {
            (Some(id), _) => Selection::MessageId(id),
            (None, Some(reason)) => Selection::Reason(reason),
            (None, None) => Selection::All,
        }
    }
}

pub async fn run(settings: Settings, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let amqp = &settings.amqp;
    let outcome = match command {
        // One more than asked, only to know whether there are more.
        DlqCommand::List { limit } => list(amqp, Some(limit.saturating_add(1))).await.map(|mut found| {
            let more = found.len() > limit;
            found.truncate(limit);
            print_table(&found);
            print_counts(&found);
            if more {
                println!("(the first {limit}; there are more: --limit to read them)");
            }
            ExitCode::SUCCESS
        }),
        DlqCommand::Show { message_id, unmasked } => show(amqp, &message_id, unmasked, true).await.map(|views| {
            views.iter().for_each(print_view);
            ExitCode::SUCCESS
        }),
        DlqCommand::Replay { select, dry_run } => replay(amqp, &select.selection(), dry_run, true).await.map(|done| {
            if !done.replayed.is_empty() || done.kept.is_empty() {
                print_table(&done.replayed);
            }
            let verb = if dry_run { "Would replay" } else { "Replayed" };
            println!("{verb} {} dead letters to {}.", done.replayed.len(), amqp.orders_queue);
            print_kept(&done.kept, &amqp.dlq_queue)
        }),
        DlqCommand::Purge { select, yes } => purge(amqp, &select.selection(), yes, true).await.map(|done| {
            print_table(&done);
            if yes {
                println!("Removed {} dead letters from {}.", done.len(), amqp.dlq_queue);
                ExitCode::SUCCESS
            } else {
                println!(
                    "Would remove {} dead letters; nothing removed. Add --yes to remove them.",
                    done.len()
                );
                ExitCode::FAILURE
            }
        }),
    };
    match outcome {
        Err(error) if error.downcast_ref::<DlqError>().is_some() => {
            eprintln!("{error}");
            Ok(ExitCode::from(2))
        }
        other => other,
    }
}

fn print_table(rows: &[DeadLetterSummary]) {
    if rows.is_empty() {
        println!("No dead letters.");
        return;
    }
    println!(
        "{:>5}  {:<18} {:<28} {:<28} detail",
        "#", "reason", "message id", "order id"
    );
    for row in rows {
        println!(
            "{:>5}  {:<18} {:<28} {:<28} {}",
            row.position,
            shown(&row.reason),
            shown(row.message_id.as_deref().unwrap_or("-")),
            shown(row.order_id.as_deref().unwrap_or("-")),
            shown(&shorten(row.detail.as_deref().unwrap_or(""), 70))
        );
    }
}

/// Names the dead letters a replay left in the DLQ, and why; exit 1 if there are any (not
/// everything selected was replayed).
fn print_kept(kept: &[Kept], dlq: &str) -> ExitCode {
    if kept.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!(
        "Left {} selected dead letters in {dlq}; a replay would only lose them:",
        kept.len()
    );
    for Kept { summary, why } in kept {
        println!(
            "{:>5}  {:<18} {:<28} {why}",
            summary.position,
            shown(&summary.reason),
            shown(summary.message_id.as_deref().unwrap_or("-")),
        );
    }
    ExitCode::FAILURE
}

fn print_counts(rows: &[DeadLetterSummary]) {
    let mut counts = BTreeMap::<&str, usize>::new();
    for row in rows {
        *counts.entry(row.reason.as_str()).or_default() += 1;
    }
    if !counts.is_empty() {
        println!("\nby reason:");
    }
    for (reason, count) in counts {
        println!("  {:<18} {count:>6}", shown(reason));
    }
}

fn print_view(view: &DeadLetterView) {
    let summary = &view.summary;
    println!("position        {}", summary.position);
    // Every part of a dead letter is the publisher's text (or the broker's copy of it).
    println!("reason          {}", shown(&summary.reason));
    println!(
        "message id      {}",
        shown(summary.message_id.as_deref().unwrap_or("-"))
    );
    println!("order id        {}", shown(summary.order_id.as_deref().unwrap_or("-")));
    println!("content type    {}", shown(view.content_type.as_deref().unwrap_or("-")));
    println!(
        "correlation id  {}",
        shown(view.correlation_id.as_deref().unwrap_or("-"))
    );
    println!("headers:");
    for (key, value) in &view.headers {
        println!("  {}: {}", shown(key), shown(value));
    }
    println!("body:\n{}\n", shown_lines(&view.body));
}

/// At most `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}
