//! What `gateway bench` feeds the gateway — N valid orders with their sandbox accounts and a
//! fresh database (a SQLite file, or a PostgreSQL database created and dropped here) — and
//! the clean-up of the run's database and queues.

use anyhow::Context;
use clap::ValueEnum;
use sandbox_kit::{RegisteredAccount, Registration};
use secrecy::SecretString;
use sqlx::{Connection, Executor};

use crate::demo::{sample::COMMUNES, stack};
use crate::publish::PayoutRow;

/// Which channels the orders use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Channels {
    /// Every order a bank transfer (NAPAS through the sponsor bank).
    Bank,
    /// Round robin over bank transfer, VNPost account and the three wallets.
    Mix,
}

/// Which store the gateway runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

const FAMILY: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const GIVEN: [&str; 8] = ["An", "Bình", "Chi", "Dũng", "Giang", "Hương", "Lan", "Mai"];
const BINS: [&str; 6] = ["970405", "970436", "970415", "970418", "970449", "970422"];
const WALLETS: [(&str, &str); 3] = [
    ("viettel_money", "097"),
    ("vnpt_money", "091"),
    ("mobifone_money", "090"),
];

/// The ids of one run's orders, `BENCH-<run_id>-<serial>` with serial = index + 1, and the way
/// back from an id to its index (no map: the results reader looks up every result in O(1)).
#[derive(Clone, Debug)]
pub struct OrderIds {
    prefix: String,
}

impl OrderIds {
    pub fn new(run_id: &str) -> Self {
        Self {
            prefix: format!("BENCH-{run_id}-"),
        }
    }

    /// The id of the order at `index` (0-based).
    pub fn id(&self, index: usize) -> String {
        format!("{}{:07}", self.prefix, index + 1)
    }

    /// The index of order `order_id`, or `None` when it is not an id of this run.
    pub fn index_of(&self, order_id: &str) -> Option<usize> {
        let serial = order_id.strip_prefix(self.prefix.as_str())?;
        if serial.is_empty() || !serial.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        serial.parse::<usize>().ok()?.checked_sub(1)
    }
}

/// The orders of one run, made one at a time from their index, so that a province run does
/// not hold 172,000 rows (and their bodies) in memory while it publishes.
pub struct Workload {
    pub count: usize,
    pub ids: OrderIds,
    run_id: String,
    channels: Channels,
    /// The bank provider that pays a BIN (the routing).
    bank_for: Box<dyn Fn(&str) -> String + Send + Sync>,
}

impl Workload {
    pub fn new(
        count: usize,
        run_id: &str,
        channels: Channels,
        bank_for: Box<dyn Fn(&str) -> String + Send + Sync>,
    ) -> Self {
        Self {
            count,
            ids: OrderIds::new(run_id),
            run_id: run_id.to_string(),
            channels,
            bank_for,
        }
    }

    /// The order at `index` and the account that makes it succeed.
    pub fn order(&self, index: usize) -> (PayoutRow, Registration) {
        order(index, &self.run_id, self.channels, &*self.bank_for)
    }

    /// Every order's account, to open them in the sandbox before the run.
    pub fn accounts(&self) -> Vec<Registration> {
        (0..self.count).map(|index| self.order(index).1).collect()
    }
}

/// `count` valid orders (all must succeed) and the accounts that make them succeed. Every
/// order has its own beneficiary, account and wallet, so no guard or limit refuses one.
/// Supports up to 9,999,999 orders.
/// `bank_for` names the bank provider that pays a BIN (the routing).
pub fn orders(
    count: usize,
    run_id: &str,
    channels: Channels,
    bank_for: &dyn Fn(&str) -> String,
) -> (Vec<PayoutRow>, Vec<Registration>) {
    (0..count).map(|index| order(index, run_id, channels, bank_for)).unzip()
}

/// The order at `index` of run `run_id`, and its account.
pub fn order(
    index: usize,
    run_id: &str,
    channels: Channels,
    bank_for: &dyn Fn(&str) -> String,
) -> (PayoutRow, Registration) {
    let serial = index + 1;
    let full_name = format!(
        "{} Văn {}",
        FAMILY[index % FAMILY.len()],
        GIVEN[(index / FAMILY.len()) % GIVEN.len()]
    );
    let mut row = PayoutRow {
        order_id: format!("BENCH-{run_id}-{serial:07}"),
        batch_id: format!("BENCH-{run_id}"),
        program: "social_assistance".to_string(),
        period: "2026-12".to_string(),
        payment_type: "monthly".to_string(),
        beneficiary_id: format!("03418{serial:07}"),
        full_name: full_name.clone(),
        commune_code: COMMUNES[index % COMMUNES.len()].0.to_string(),
        amount: (500_000 * (2 + index % 4)).to_string(),
        memo: "Tro cap thang 2026-12".to_string(),
        ..PayoutRow::default()
    };
    let lane = match channels {
        Channels::Bank => 0,
        Channels::Mix => index % 5,
    };
    let (provider, account) = match lane {
        0 => {
            row.channel = "bank_transfer".to_string();
            row.bank_bin = BINS[index % BINS.len()].to_string();
            row.account_number = format!("9704{serial:09}");
            (bank_for(&row.bank_bin), row.account_number.clone())
        }
        1 => {
            row.channel = "vnpost_account".to_string();
            row.account_number = format!("88{serial:010}");
            ("vnpost_account".to_string(), row.account_number.clone())
        }
        wallet => {
            let (provider, prefix) = WALLETS[wallet - 2];
            row.channel = "mobile_money".to_string();
            row.wallet_provider = provider.to_string();
            row.phone_number = format!("{prefix}{serial:07}");
            (provider.to_string(), row.phone_number.clone())
        }
    };
    let account = RegisteredAccount {
        provider,
        account,
        holder_name: full_name,
        closed: false,
    };
    // A bank account is found under its own bank's BIN only, as a bank finds it.
    let account = if row.channel == "bank_transfer" {
        account.at_bank(row.bank_bin.clone())
    } else {
        account.into()
    };
    (row, account)
}

/// A database made for one run.
pub enum FreshDatabase {
    Sqlite {
        url: SecretString,
        folder: std::path::PathBuf,
    },
    Postgres {
        url: SecretString,
        admin_url: String,
        name: String,
    },
}

impl FreshDatabase {
    /// A SQLite file in a new temporary folder, or `CREATE DATABASE gateway_bench_<run_id>`
    /// on the server of `admin_url`.
    pub async fn create(kind: DatabaseKind, admin_url: &str, run_id: &str) -> anyhow::Result<Self> {
        let database = Self::of_run(kind, admin_url, run_id);
        match &database {
            Self::Sqlite { folder, .. } => std::fs::create_dir_all(folder)?,
            Self::Postgres { name, .. } => {
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .with_context(|| format!("could not connect to PostgreSQL at {}", redact(admin_url)))?;
                admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
                let _ = admin.close().await;
            }
        }
        Ok(database)
    }

    /// The database run `run_id` uses, named but not created: [`Self::create`] makes it, and
    /// an interrupted run removes it with [`Self::remove`] whether or not it got that far.
    pub fn of_run(kind: DatabaseKind, admin_url: &str, run_id: &str) -> Self {
        match kind {
            DatabaseKind::Sqlite => {
                let folder = stack::temporary_sqlite_folder(run_id);
                Self::Sqlite {
                    url: stack::sqlite_url_in(&folder),
                    folder,
                }
            }
            DatabaseKind::Postgres => {
                let name = format!("gateway_bench_{run_id}");
                let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
                Self::Postgres {
                    url: SecretString::from(format!("{base}/{name}")),
                    admin_url: admin_url.to_string(),
                    name,
                }
            }
        }
    }

    pub fn url(&self) -> SecretString {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url.clone(),
        }
    }

    /// Removes the SQLite folder or drops the PostgreSQL database; failures are only reported.
    pub async fn remove(self) {
        match self {
            Self::Sqlite { folder, .. } => match std::fs::remove_dir_all(&folder) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    eprintln!("note: could not remove {}: {error}", folder.display());
                }
                _ => {}
            },
            Self::Postgres { admin_url, name, .. } => {
                let dropped = async {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                    admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await?;
                    admin.close().await
                };
                if let Err(error) = dropped.await {
                    eprintln!("note: could not drop database {name}: {error}");
                }
            }
        }
    }
}

/// `url` with the password, if any, replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_unique_and_mixed_when_asked() {
        let (rows, accounts) = orders(10, "abc", Channels::Mix, &|_| "bank_transfer".to_string());
        assert_eq!(rows.len(), 10);
        assert_eq!(accounts.len(), 10);
        let ids: std::collections::HashSet<_> = rows.iter().map(|row| row.beneficiary_id.clone()).collect();
        assert_eq!(ids.len(), 10);
        assert!(rows.iter().all(|row| row.beneficiary_id.len() == 12));
        let channels: std::collections::HashSet<_> = rows.iter().map(|row| row.channel.as_str()).collect();
        assert_eq!(channels.len(), 3);
        let (bank, _) = orders(3, "abc", Channels::Bank, &|_| "bank_transfer".to_string());
        assert!(bank.iter().all(|row| row.channel == "bank_transfer"));
    }

    #[test]
    fn an_order_id_leads_back_to_its_index_and_nothing_else_does() {
        let ids = OrderIds::new("abc");
        let (rows, _) = orders(3, "abc", Channels::Bank, &|_| "bank_transfer".to_string());
        for (index, row) in rows.iter().enumerate() {
            assert_eq!(ids.id(index), row.order_id);
            assert_eq!(ids.index_of(&row.order_id), Some(index));
        }
        assert_eq!(ids.index_of("BENCH-abc-0172000"), Some(171_999));
        for foreign in [
            "BENCH-abd-0000001",
            "BENCH-abc-",
            "BENCH-abc-0000000",
            "BENCH-abc-12x4",
            "BENCH-abc--1",
            "x",
        ] {
            assert_eq!(ids.index_of(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn the_workload_makes_the_same_orders_one_at_a_time() {
        let workload = Workload::new(7, "abc", Channels::Mix, Box::new(|_| "bank_transfer".to_string()));
        let (rows, accounts) = orders(7, "abc", Channels::Mix, &|_| "bank_transfer".to_string());
        for index in 0..7 {
            let (row, account) = workload.order(index);
            assert_eq!(row.order_id, rows[index].order_id);
            assert_eq!(account.account, accounts[index].account);
        }
        assert_eq!(workload.accounts().len(), 7);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
    }
}
