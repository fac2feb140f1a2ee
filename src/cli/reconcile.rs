//! `gateway reconcile --provider P --statement FILE [--date D] [--csv FILE]`: a provider's
//! statement against the gateway's books, printed as a table (and written as CSV), with the
//! exit code saying whether the books balance. The work is `reconcile::reconcile`.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;

use crate::config::Settings;
use crate::reconcile::{self, output, StatementFormat, EXIT_BAD_STATEMENT};
use crate::store::Store;

/// `gateway reconcile`.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// The provider key whose statement this is (`bank_transfer`, `vnpost_account`,
    /// `viettel_money`, …).
    #[arg(long)]
    pub provider: String,
    /// The statement file: camt.053.001.08 XML for banks, CSV for VNPost and the wallets.
    #[arg(long)]
    pub statement: PathBuf,
    /// The Vietnam day to reconcile (YYYY-MM-DD); by default the day the statement covers.
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Also write every item as CSV to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// The statement's format, when the provider's usual one does not apply.
    #[arg(long, value_enum)]
    pub format: Option<StatementFormat>,
}

/// Runs `gateway reconcile`: 0 the books balance, 3 they do not, 4 the statement cannot be
/// read; a store that cannot be reached is an error (1).
pub async fn run(settings: Settings, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let bytes = match std::fs::read(&args.statement) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!(
                "error: the statement {} cannot be read: {error}",
                args.statement.display()
            );
            return Ok(ExitCode::from(EXIT_BAD_STATEMENT));
        }
    };
    let format = args
        .format
        .unwrap_or_else(|| StatementFormat::for_provider(&args.provider));
    let store = Store::connect(&settings.database).await?;
    let reconciliation = match reconcile::reconcile(&store, &args.provider, format, &bytes, args.date).await {
        Ok(reconciliation) => reconciliation,
        Err(error) if error.is_bad_statement() => {
            eprintln!("error: {}: {error}", args.statement.display());
            return Ok(ExitCode::from(EXIT_BAD_STATEMENT));
        }
        Err(error) => return Err(error.into()),
    };
    print!("{}", output::table(&reconciliation));
    if let Some(path) = &args.csv {
        let file = std::fs::File::create(path)
            .map_err(|error| anyhow::anyhow!("could not create {}: {error}", path.display()))?;
        output::write_csv(&reconciliation, file)
            .map_err(|error| anyhow::anyhow!("could not write {}: {error}", path.display()))?;
        println!("CSV written to {}.", path.display());
    }
    Ok(ExitCode::from(reconciliation.exit_code()))
}
