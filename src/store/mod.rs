//! The store: payments, their event log, the outbox and seen callbacks, on SQLite or PostgreSQL.
//!
//! One `sqlx::AnyPool` serves both backends; the SQL is the common dialect (`$N`
//! parameters, `ON CONFLICT DO NOTHING`, `RETURNING`), times are integer milliseconds and
//! amounts integer đồng, so no type differs between them. Each backend has its own
//! migrations, shipped inside the binary.

mod appends;
mod batches;
mod callbacks;
mod error;
mod index_plans;
mod intake;
mod multi_row;
mod ops;
mod order_locks;
mod outbox;
mod payments;
mod properties;
mod prune;
mod queries;
mod reconciliation;
mod report;
mod text;
mod together;
mod vacuum;
mod wallets;
mod writer;

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

pub use batches::{BatchRecord, ManifestOutcome};
pub use callbacks::{CallbackDecision, CallbackOutcome};
pub use error::StoreError;
pub use intake::{ClaimOutcome, Rejection};
pub use ops::StateChannelCount;
pub use outbox::{OutboxKind, OutboxRow, ParkedRow};
pub use payments::{Change, Inquiries, PaymentRecord};
pub use properties::StoredProperties;
pub(crate) use properties::{bounded_id, hash_suffix, SHORT_STRING_MAX_BYTES};
pub use prune::{OutboxWalk, PruneBefore, PruneReport};
pub use queries::{OrderView, PaymentEvent, PaymentFilter, PaymentListing, PaymentSummary};
pub use reconciliation::{
    CarriedPayment, ExtraPayout, ForgetOutcome, ReturnOutcome, ReturnToApply, Settlement, REFUNDED_UNCREDITED,
    RETURNED_BY_PROVIDER,
};
pub use report::{ReportFilter, ReportRow};
pub use wallets::WalletReservation;

use crate::config::DatabaseSettings;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database the pool talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The database `connection` talks to.
    pub(crate) fn of(connection: &sqlx::AnyConnection) -> Self {
        if connection.backend_name().eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

/// The gateway's source of truth once an order is claimed. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Every write goes through the group commit ([`writer`]); reads use the pool directly.
    writer: writer::Writer,
}

/// Milliseconds since 1970, the store's clock unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Connects to a store that must exist already, with this version's schema: the commands
    /// that read or repair what a gateway wrote (`report`, `orders`, `batches`, `outbox`,
    /// `reconcile`). A SQLite file that is not there is an error naming it ([`Store::connect`]
    /// would create an empty store at a mistyped path, and the command would report nothing
    /// and succeed), and so is a schema of another version: these commands never migrate, since
    /// an operator looking around with a new binary beside running gateways of the version
    /// before must not change the schema under them (some migrations need every gateway
    /// stopped: README, Known gaps).
    pub async fn connect_existing(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let url = settings.url.expose_secret();
        if let Some(path) = sqlite_file(url) {
            if !path.exists() {
                anyhow::bail!(
                    "there is no database at {} (database.url): a gateway creates it on its first run",
                    path.display()
                );
            }
        }
        Self::open(settings, Schema::MustBeCurrent).await
    }

    /// Connects, creating the SQLite file (and its folder) if needed, and runs the migrations.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        Self::open(settings, Schema::Migrate).await
    }

    async fn open(settings: &DatabaseSettings, schema: Schema) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let url = settings.url.expose_secret();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("database.url must start with sqlite: or postgres://");
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let pool = match backend {
            Backend::Sqlite => sqlite_pool().connect(&url).await,
            // No ping before each acquire either: it was a round trip to the server ahead of
            // every group commit and lease. A connection the server hung up on fails its next
            // statement, which the store reports as unavailable (its caller tries again), and
            // sqlx's ping on release then drops it from the pool.
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .test_before_acquire(false)
                    .connect(&url)
                    .await
            }
        }
        .context("could not connect to the database (database.url)")?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        match schema {
            Schema::Migrate => migrator
                .run(&pool)
                .await
                .context("could not run the database migrations")?,
            Schema::MustBeCurrent => schema_is_current(&pool, migrator).await?,
        }
        // PostgreSQL commits several batches side by side, one writer per key shard (two
        // writers sharing payments deadlocked each other: 74 orders/s against 430 with one).
        let writer_tasks = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => settings.writers.max(1),
        };
        let placement = match backend {
            Backend::Sqlite if settings.writer_thread => writer::Placement::OwnThread,
            _ => writer::Placement::Shared,
        };
        let connections = match backend {
            // The writer keeps a connection of its own; the readers share the pool's. Every
            // write goes through the writer, which begins `IMMEDIATE`, so the two never meet
            // on a lock upgrade. (An in-memory database is one per connection: there the
            // writer takes the pool's connection for each batch.)
            Backend::Sqlite if !is_in_memory(&url) => writer::Connections::Kept(
                sqlite_pool()
                    .connect(&url)
                    .await
                    .context("could not connect to the database (database.url)")?,
            ),
            _ => writer::Connections::PerBatch(pool.clone()),
        };
        let writer = writer::Writer::start(connections, writer_tasks, placement);
        Ok(Self { pool, backend, writer })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs a small write of the dispatcher's or the relay's (a lease, a mark) and returns its
    /// output once it is durable. On SQLite it rides in the next group commit: the writer's
    /// connection then does not stop between batches for a commit (a flush to disk) of its own,
    /// and such writes used to be two thirds of its commits. On PostgreSQL it runs on a pooled
    /// connection of its own, a short transaction apart from the batches (a lease with
    /// `SKIP LOCKED` must not hold its rows for a whole batch).
    pub(crate) async fn write_small<T, F>(&self, key: &str, work: F) -> Result<T, sqlx::Error>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut sqlx::AnyConnection) -> writer::WriteFuture<'c, T> + Send + 'static,
    {
        match self.backend {
            Backend::Sqlite => self
                .writer
                .write(writer::Key::Other(key), move |connection, _| work(connection))
                .await
                .map_err(StoreError::into_sqlx),
            Backend::Postgres => {
                let mut connection = self.pool.acquire().await?;
                work(&mut connection).await
            }
        }
    }

    /// Runs `work` in the next group commit of the writer `key` routes to (a payment id, a
    /// wallet, a batch: a `&str`; an order id it claims or rejects: [`writer::Key::Order`], whose
    /// batch locks it first on PostgreSQL) and returns its output once the commit that covers it
    /// is durable.
    pub(crate) async fn write<'k, T, F>(&self, key: impl Into<writer::Key<'k>>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut sqlx::AnyConnection, &'c mut appends::Appends) -> writer::WriteFuture<'c, T>
            + Send
            + 'static,
    {
        self.writer.write(key.into(), work).await
    }
}

/// A pool of one SQLite connection: the readers' pool, and the writer's own.
///
/// `synchronous = FULL` in WAL mode: a commit is on disk when it returns. `temp_store = MEMORY`
/// keeps statement journals in memory: a multi-row statement inside the batch's transaction
/// journals every page it changes, and past 64 KiB SQLite spilled that to a temporary file
/// (5.5% of the gateway's CPU in `perf`, most of it in the kernel's write path). No ping before
/// each acquire: the connection lives in this process and cannot have been hung up on, and
/// each ping was a round trip to sqlx's worker thread.
fn sqlite_pool() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; \
                         PRAGMA temp_store = MEMORY;",
                    )
                    .await?;
                Ok(())
            })
        })
}

/// What opening a store does with its schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Schema {
    /// Applies this version's migrations that are not applied yet (`gateway run`, the tools
    /// that start a gateway).
    Migrate,
    /// Refuses a store whose applied migrations are not exactly this version's.
    MustBeCurrent,
}

/// An error unless the store's applied migrations are exactly `migrator`'s.
async fn schema_is_current(pool: &AnyPool, migrator: &sqlx::migrate::Migrator) -> anyhow::Result<()> {
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .context("the database holds no gateway store (database.url): a gateway creates one on its first run")?;
    let ours: Vec<i64> = migrator.iter().map(|migration| migration.version).collect();
    if let Some(newer) = applied.iter().find(|version| !ours.contains(version)) {
        anyhow::bail!(
            "the store (database.url) was migrated by a newer gateway (migration {newer}, which this binary does not \
             know): use that version's binary"
        );
    }
    let pending: Vec<i64> = ours.into_iter().filter(|version| !applied.contains(version)).collect();
    if let Some(first) = pending.first() {
        anyhow::bail!(
            "the store (database.url) is of an older gateway: {} migration(s) of this version are not applied \
             (the first {first}); this command does not change a schema: start this version's `gateway run` to \
             upgrade it (read the upgrade notes first: some need every gateway stopped), or use the older binary",
            pending.len()
        );
    }
    Ok(())
}

/// Whether a `sqlite:` URL names an in-memory database (one per connection).
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The file a `sqlite:` URL names; `None` for another database or an in-memory one.
fn sqlite_file(url: &str) -> Option<&Path> {
    let path = url.strip_prefix("sqlite:")?;
    let path = path.strip_prefix("//").unwrap_or(path);
    let path = path.split('?').next().unwrap_or_default();
    (!is_in_memory(url) && !path.is_empty()).then(|| Path::new(path))
}

/// Makes sure the folder of a `sqlite:` file exists and that the file will be created.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    if let Some(path) = sqlite_file(url) {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("could not create the database folder {}", parent.display()))?;
        }
    }
    Ok(if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Reads a column that holds a `PaymentState` name.
fn state_column(row: &AnyRow, column: &str) -> Result<crate::payment::PaymentState, sqlx::Error> {
    let raw: String = row.try_get(column)?;
    crate::payment::PaymentState::from_str(&raw).map_err(|message| sqlx::Error::Decode(message.into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The SQLite connection keeps its durability (`synchronous = FULL` in WAL mode: a commit
    /// is on disk when it returns) and keeps statement journals in memory.
    #[tokio::test]
    async fn the_sqlite_connection_is_durable_and_journals_statements_in_memory() {
        let folder = std::env::temp_dir().join(format!("store-pragmas-{}", uuid::Uuid::new_v4().simple()));
        let store = Store::connect(&DatabaseSettings {
            url: format!("sqlite://{}/gateway.db", folder.display()).into(),
            max_connections: 1,
            writer_thread: true,
            writers: 2,
        })
        .await
        .unwrap();
        let pragma = |name: &'static str| {
            let pool = store.pool().clone();
            async move {
                let row = sqlx::query(&format!("PRAGMA {name}")).fetch_one(&pool).await.unwrap();
                match row.try_get::<i64, _>(0) {
                    Ok(number) => number.to_string(),
                    Err(_) => row.try_get::<String, _>(0).unwrap(),
                }
            }
        };
        assert_eq!(pragma("journal_mode").await, "wal");
        assert_eq!(pragma("synchronous").await, "2", "FULL");
        assert_eq!(pragma("temp_store").await, "2", "MEMORY");
        let _ = std::fs::remove_dir_all(folder);
    }

    /// `gateway report` with a mistyped SQLite path created an empty store there, reported no
    /// payments and succeeded; the commands that read a gateway's store now say it is missing.
    #[tokio::test]
    async fn a_store_that_must_exist_is_not_created_at_a_mistyped_path() {
        let folder = std::env::temp_dir().join(format!("store-existing-{}", uuid::Uuid::new_v4().simple()));
        let settings = DatabaseSettings {
            url: format!("sqlite://{}/gateway.db", folder.display()).into(),
            max_connections: 1,
            writer_thread: true,
            writers: 2,
        };
        let error = Store::connect_existing(&settings)
            .await
            .expect_err("no store there")
            .to_string();
        assert!(error.contains("there is no database at"), "{error}");
        assert!(!folder.exists(), "nothing was created");
        let made = Store::connect(&settings).await.unwrap();
        assert!(
            Store::connect_existing(&settings).await.is_ok(),
            "one a gateway made is opened"
        );

        // An operator's new binary beside a store of the version before: told, not migrated.
        let last = SQLITE_MIGRATIONS.iter().map(|m| m.version).max().unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
            .bind(last)
            .execute(made.pool())
            .await
            .unwrap();
        let error = Store::connect_existing(&settings).await.expect_err("older").to_string();
        assert!(error.contains("is of an older gateway: 1 migration(s)"), "{error}");
        let still: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = $1")
            .bind(last)
            .fetch_one(made.pool())
            .await
            .unwrap();
        assert_eq!(still, 0, "nothing was migrated");
        // And an older binary beside a newer store.
        for version in [last, 99_991_231_000_001] {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
                 SELECT $1, 'from elsewhere', installed_on, success, checksum, 0 FROM _sqlx_migrations LIMIT 1",
            )
            .bind(version)
            .execute(made.pool())
            .await
            .unwrap();
        }
        let error = Store::connect_existing(&settings).await.expect_err("newer").to_string();
        assert!(
            error.contains("migrated by a newer gateway (migration 99991231000001"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(folder);
    }

    #[test]
    fn a_sqlite_url_names_its_file_and_a_memory_one_none() {
        assert_eq!(sqlite_file("sqlite:///tmp/g.db?mode=rwc"), Some(Path::new("/tmp/g.db")));
        assert_eq!(sqlite_file("sqlite://data/g.db"), Some(Path::new("data/g.db")));
        assert_eq!(sqlite_file("sqlite:g.db"), Some(Path::new("g.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/test"), None);
    }
}
