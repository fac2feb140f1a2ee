//! `gateway publish <payout-list.csv>`: loads a payout list onto the orders queue.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Settings;
use crate::publish::{publish_orders, read_payout_list};

pub async fn file(settings: Settings, path: &Path) -> anyhow::Result<ExitCode> {
    let rows = read_payout_list(path)?;
    let report = publish_orders(&settings.amqp, &rows, true, crate::publish::CONFIRM_WITHIN).await?;
    println!(
        "Published {} orders from {} to {}.",
        report.published,
        path.display(),
        settings.amqp.orders_queue
    );
    Ok(ExitCode::SUCCESS)
}
