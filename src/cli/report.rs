//! `gateway report --period YYYY-MM [--batch ID] --out DIR [--communes FILE]`: writes the payout
//! report (`summary.csv`, `failure_reasons.csv`, `report.html`) and prints where, with totals.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::order::Period;
use crate::report::format::{count, dong, duration};
use crate::report::{write_report, CommuneNames, Outcome};
use crate::store::{ReportFilter, Store};

/// `gateway report` arguments.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The orders' period, `YYYY-MM`.
    #[arg(long, value_parser = parse_period)]
    pub period: String,
    /// Only this batch.
    #[arg(long = "batch")]
    pub batch_id: Option<String>,
    /// The folder to write the files to (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// A CSV of `commune_code,name` for the communes' names; without it the pilot's ten
    /// communes are named and others shown by code.
    #[arg(long)]
    pub communes: Option<PathBuf>,
}

fn parse_period(value: &str) -> Result<String, String> {
    Period::try_from(value)
        .map(|period| period.to_string())
        .map_err(|invalid| invalid.to_string())
}

pub async fn run(settings: Settings, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let names = match &args.communes {
        Some(path) => CommuneNames::from_csv_file(path)?,
        None => CommuneNames::pilot(),
    };
    let store = Store::connect_existing(&settings.database).await?;
    // A batch nothing names (a typo) wrote a report of zeros and exited 0: read as done, and
    // as "nothing was paid", by a scripted end-of-period run.
    if let Some(batch_id) = &args.batch_id {
        if !store.batch_named(batch_id).await? {
            eprintln!(
                "error: no order, manifest or rejection names batch {}; nothing was written",
                crate::terminal::shown(&format!("{batch_id:?}"))
            );
            return Ok(ExitCode::from(2));
        }
    }
    let filter = ReportFilter {
        period: args.period.clone(),
        batch_id: args.batch_id.clone(),
    };
    let expected = store.report_count(&filter).await?;
    // A bar on a terminal only (indicatif hides it otherwise); large periods take seconds.
    let progress = ProgressBar::new(u64::try_from(expected).unwrap_or(0));
    progress.set_style(
        ProgressStyle::with_template("reading payments {bar:40} {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let written = write_report(&store, &filter, &names, &args.out, |read| progress.set_position(read)).await;
    progress.finish_and_clear();
    let written = written?;
    let total = &written.report.total;
    println!(
        "{} payments for {}{}: {} ({}).",
        count(total.total_count()),
        args.period,
        args.batch_id
            .as_ref()
            .map(|batch| format!(", batch {batch}"))
            .unwrap_or_default(),
        Outcome::ALL
            .iter()
            .map(|outcome| format!("{} {}", outcome.as_str(), count(total.count(*outcome))))
            .collect::<Vec<_>>()
            .join(", "),
        dong(total.total_amount())
    );
    println!(
        "Paid {}; order to credit: median {}, p95 {}.",
        dong(total.amount(Outcome::Paid)),
        duration(total.median_ms()),
        duration(total.p95_ms())
    );
    if let (Some(batch_id), true) = (&args.batch_id, written.batch_elsewhere > 0) {
        println!("{}", crate::report::elsewhere_note(batch_id, written.batch_elsewhere));
    }
    for path in [&written.html, &written.summary_csv, &written.reasons_csv] {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
