//! `gateway batches list|show`: batches with their progress, totals and differences.
//!
//! Only printing and exit codes live here; the views are `batch::BatchView` and its
//! renderers, which tests call directly.

use std::process::ExitCode;

use clap::Subcommand;

use crate::batch::{render_list, render_show, BatchView};
use crate::config::Settings;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum BatchesCommand {
    /// The latest batches, newest first: status, final/declared orders, totals, differences.
    List {
        /// Show at most this many (1 or more).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
    },
    /// One batch: progress, totals by outcome, and every difference from its manifest.
    Show {
        /// The batch id of the manifest.
        batch_id: String,
    },
}

/// Runs one `gateway batches …` command; exit 2 when the batch is unknown.
pub async fn run(settings: Settings, command: BatchesCommand) -> anyhow::Result<ExitCode> {
    let store = Store::connect_existing(&settings.database).await?;
    let close_after_ms = settings.batches.close_after_ms;
    match command {
        BatchesCommand::List { limit } => {
            // One more than shown, to say when there are more.
            let mut records = store.list_batches(limit.saturating_add(1)).await?;
            let more = records.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            records.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let mut views = Vec::new();
            for record in records {
                views.push(BatchView::load(&store, record, close_after_ms).await?);
            }
            print!("{}", render_list(&views));
            if more {
                println!("(the newest {limit} shown; there are more: raise --limit)");
            }
            Ok(ExitCode::SUCCESS)
        }
        BatchesCommand::Show { batch_id } => {
            let Some(record) = store.batch(&batch_id).await? else {
                eprintln!("No batch {batch_id} in the store (no manifest arrived for it).");
                return Ok(ExitCode::from(2));
            };
            print!(
                "{}",
                render_show(&BatchView::load(&store, record, close_after_ms).await?)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
