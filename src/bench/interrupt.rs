//! A bench stopped by Ctrl-C or SIGTERM removes what its run made: a province run leaves
//! 172,000 persistent messages in quorum queues otherwise, which slow every later run on the
//! broker, and a database per run on the PostgreSQL server.

use std::process::ExitCode;

use super::workload::FreshDatabase;
use super::{baseline, e2e, BenchArgs};
use crate::config::Settings;
use crate::demo::stack;

/// Removes run `run_id`'s queues, exchanges and database, whichever of them it had made.
/// Its gateway processes are gone already: each is killed when the run that started it is
/// dropped.
pub async fn remove_leftovers(settings: &Settings, args: &BenchArgs, run_id: &str) -> ExitCode {
    eprintln!("bench {run_id}: interrupted; removing its queues and database...");
    baseline::delete_queues(&settings.amqp, run_id).await;
    let mut amqp = settings.amqp.clone();
    stack::name_for_run(&mut amqp, &e2e::stack_run_id(run_id));
    stack::delete_queues(&amqp).await;
    FreshDatabase::of_run(args.database, &args.postgres_url, run_id)
        .remove()
        .await;
    eprintln!("bench {run_id}: removed; no figures, the run did not finish");
    ExitCode::from(crate::cli::run::INTERRUPTED)
}
