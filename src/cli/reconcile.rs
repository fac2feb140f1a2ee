//! `gateway reconcile --provider P --statement FILE [--date D] [--csv FILE] [--grace-minutes N]`:
//! a provider's statement against the gateway's books, printed as a table (and written as CSV),
//! with the exit code saying whether the books balance. The work is `reconcile::reconcile`.
//!
//! The statement is read whole and parsed in memory, so a file larger than
//! [`MAX_STATEMENT_BYTES`] is refused (exit 4) before it is read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use gateway_adapter::Channel;

use crate::config::Settings;
use crate::reconcile::{self, output, StatementFormat, DEFAULT_GRACE_MINUTES, EXIT_BAD_STATEMENT, MAX_STATEMENT_BYTES};
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
    /// A payment sent in the last N minutes of the day and not on the statement is listed as
    /// `in_transit` (booked after midnight, on the next day's statement), not as missing.
    #[arg(long, default_value_t = DEFAULT_GRACE_MINUTES, value_parser = clap::value_parser!(u32).range(0..=1440))]
    pub grace_minutes: u32,
}

/// Reads the statement at `path`, refusing a file larger than `cap` bytes before reading it
/// (and one that grows past `cap` while it is read). The error is a sentence for stderr.
pub fn read_statement(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let cannot = |error: std::io::Error| format!("the statement {} cannot be read: {error}", path.display());
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let too_large = |size: String| {
        format!(
            "the statement {} is {size} bytes, larger than the {cap} bytes `gateway reconcile` reads \
             (it parses the whole file in memory); check that it is one provider's statement of one day",
            path.display()
        )
    };
    let length = file.metadata().map_err(cannot)?.len();
    if length > cap {
        return Err(too_large(length.to_string()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or_default());
    (&mut file)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > cap {
        return Err(too_large(format!("more than {cap}")));
    }
    Ok(bytes)
}

/// The exit code for a `--provider` that names neither a configured provider nor one the
/// store has payments of: a usage error, as clap's own are.
const EXIT_UNKNOWN_PROVIDER: u8 = 2;

/// Why `key` names no provider: neither configured nor in the store's payments (a provider
/// taken out of the configuration still has its statements and its carried payments).
pub(super) fn no_such_provider(settings: &Settings, key: &str) -> String {
    let configured: Vec<String> = settings.providers.iter().map(|provider| provider.key.clone()).collect();
    format!(
        "no provider {} is configured, and the store has no payment of it; the configured providers are: {}",
        crate::terminal::shown(&format!("{key:?}")),
        configured.join(", ")
    )
}

/// Runs `gateway reconcile`: 0 the books balance, 3 they do not, 4 the statement cannot be
/// read, 2 no such provider; a store that cannot be reached is an error (1).
pub async fn run(settings: Settings, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    // A mistyped key would find none of the provider's payments and report every line of a
    // good statement as a discrepancy. A provider taken out of the configuration still has its
    // last statements to reconcile (returns among them): the store knows what it paid.
    let (channel, store) = match settings.providers.get(&args.provider) {
        Some(provider) => (provider.provider_type.channel(), None),
        None => {
            let store = Store::connect_existing(&settings.database).await?;
            let paid = store.channel_paid_by(&args.provider).await?;
            let Some(channel) = paid.as_deref().and_then(Channel::parse) else {
                eprintln!("error: {}", no_such_provider(&settings, &args.provider));
                return Ok(ExitCode::from(EXIT_UNKNOWN_PROVIDER));
            };
            (channel, Some(store))
        }
    };
    let bytes = match read_statement(&args.statement, MAX_STATEMENT_BYTES) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(EXIT_BAD_STATEMENT));
        }
    };
    let format = args.format.unwrap_or_else(|| StatementFormat::for_channel(channel));
    let statement = match format.parse(&bytes) {
        Ok(statement) => statement,
        Err(error) => {
            eprintln!(
                "error: {}: the statement cannot be read: {error}",
                args.statement.display()
            );
            return Ok(ExitCode::from(EXIT_BAD_STATEMENT));
        }
    };
    drop(bytes);
    let store = match store {
        Some(store) => store,
        None => Store::connect_existing(&settings.database).await?,
    };
    let reconciliation =
        match reconcile::reconcile_parsed(&store, &args.provider, statement, args.date, args.grace_minutes).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_larger_than_the_cap_is_refused_before_it_is_read() {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = folder.path().join("statement.xml");
        std::fs::write(&path, b"0123456789").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(read_statement(&path, 10), Ok(b"0123456789".to_vec()));
        let refused = read_statement(&path, 9).expect_err("10 bytes are over a cap of 9");
        assert!(refused.contains("is 10 bytes, larger than the 9 bytes"), "{refused}");
        let absent = read_statement(&folder.path().join("absent.xml"), 9).expect_err("no file");
        assert!(absent.contains("cannot be read"), "{absent}");
        assert_eq!(MAX_STATEMENT_BYTES, 268_435_456);
    }
}
