//! Group commit: every write unit (a claim, a state change, a callback) waiting at the same
//! moment goes into one transaction, and one bad unit never fails the others.
//!
//! A commit waits for the disk (SQLite `synchronous = FULL`, PostgreSQL's WAL flush), so one
//! commit per unit bounds the whole gateway at the disk's flushes per second. Here a writer
//! task takes whatever is queued (up to [`MAX_BATCH`]), runs the units one after another in
//! one transaction, commits once, and only then tells each caller its own outcome. If a unit
//! fails, the batch is rolled back and run again with each unit in a savepoint of its own, so
//! the failing unit is rolled back alone and told so while the others go on (units are pure
//! database work, so running one twice is safe; savepoints cost two statements per unit, which
//! is why the common case goes without them). Nothing is acknowledged before the commit that
//! covers it, so durability is exactly what it was with one commit per unit. There is no
//! artificial linger: units that arrive while a commit is being flushed make the next batch.

use std::future::Future;
use std::pin::Pin;

use futures_lite::FutureExt;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use super::appends::Appends;
use super::callbacks::PendingCallback;
use super::index_plans::BEGIN_INDEXES_ONLY;
use super::intake::PendingClaim;
use super::order_locks::{fnv1a, lock_orders};
use super::payments::PendingApply;
use super::together::write_together;
use super::wallets::PendingReservation;
use super::StoreError;

/// The most units one transaction takes; bounds the time a batch holds the connection.
pub const MAX_BATCH: usize = 512;

/// A future borrowing the connection it writes on.
pub type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// One unit of work, type-erased for the queue: it runs on a savepoint's connection, keeps
/// its output, and hands it over only once the batch committed.
trait Unit: Send {
    /// The key it was routed by (a payment, an order, a wallet): batches run in key order.
    fn key(&self) -> &str;
    fn run<'c>(&'c mut self, connection: &'c mut AnyConnection, appends: &'c mut Appends) -> WriteFuture<'c, ()>;
    fn succeed(self: Box<Self>);
    fn fail(self: Box<Self>, error: StoreError);
    /// Whether writing together already gave it its outcome (then the fast path skips it).
    fn settled(&mut self) -> bool {
        false
    }
    /// What it is, if the batch can write it together with others of its kind.
    fn together(&mut self) -> Option<Together<'_>> {
        None
    }
    /// The order id it claims or rejects, if it does: the batch locks it first (see
    /// [`super::order_locks`]).
    fn order_id(&mut self) -> Option<&str> {
        None
    }
}

type Work<T> = Box<dyn for<'c> Fn(&'c mut AnyConnection, &'c mut Appends) -> WriteFuture<'c, T> + Send>;

struct Job<T> {
    key: String,
    /// Whether `key` is an order id that the work claims or rejects.
    of_order: bool,
    work: Work<T>,
    output: Option<T>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send + 'static> Unit for Job<T> {
    fn key(&self) -> &str {
        &self.key
    }

    fn run<'c>(&'c mut self, connection: &'c mut AnyConnection, appends: &'c mut Appends) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            self.output = Some((self.work)(connection, appends).await?);
            Ok(())
        })
    }

    fn succeed(self: Box<Self>) {
        let result = self
            .output
            .ok_or_else(|| unavailable("a write unit committed without an output"));
        let _ = self.reply.send(result);
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }

    fn order_id(&mut self) -> Option<&str> {
        self.of_order.then_some(self.key.as_str())
    }
}

/// A write a batch knows by its kind (a claim, a state change, a callback), so that it can write
/// the batch's writes of that kind together (see [`super::together`]) instead of one by one.
pub(super) trait Pending: Send + 'static {
    type Output: Send + 'static;
    /// Writes it on its own (the slow path, and what writing together left out), setting its
    /// outcome.
    fn run<'c>(&'c mut self, connection: &'c mut AnyConnection, appends: &'c mut Appends) -> WriteFuture<'c, ()>;
    /// Its outcome once written; writing together sets the outcomes of what it wrote.
    fn outcome(&mut self) -> &mut Option<Self::Output>;
    fn together(&mut self) -> Together<'_>;
}

/// A batch's view of one [`Pending`] write.
pub(super) enum Together<'a> {
    Claim(&'a mut PendingClaim),
    Apply(&'a mut PendingApply),
    Callback(&'a mut PendingCallback),
    Reservation(&'a mut PendingReservation),
}

impl Together<'_> {
    /// The kind's name, for metrics.
    fn name(&self) -> &'static str {
        match self {
            Together::Claim(_) => "claim",
            Together::Apply(_) => "apply",
            Together::Callback(_) => "callback",
            Together::Reservation(_) => "reservation",
        }
    }
}

struct PendingJob<P: Pending> {
    key: String,
    pending: P,
    reply: oneshot::Sender<Result<P::Output, StoreError>>,
}

impl<P: Pending> Unit for PendingJob<P> {
    fn key(&self) -> &str {
        &self.key
    }

    fn run<'c>(&'c mut self, connection: &'c mut AnyConnection, appends: &'c mut Appends) -> WriteFuture<'c, ()> {
        self.pending.run(connection, appends)
    }

    fn succeed(mut self: Box<Self>) {
        let result = self
            .pending
            .outcome()
            .take()
            .ok_or_else(|| unavailable("a write committed without an outcome"));
        let _ = self.reply.send(result);
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }

    fn settled(&mut self) -> bool {
        self.pending.outcome().is_some()
    }

    fn together(&mut self) -> Option<Together<'_>> {
        Some(self.pending.together())
    }

    fn order_id(&mut self) -> Option<&str> {
        // A claim is routed by its order id.
        matches!(self.pending.together(), Together::Claim(_)).then_some(self.key.as_str())
    }
}

/// The queues in front of the writer tasks. Cheap to clone; the tasks end when the last
/// clone is dropped.
#[derive(Clone, Debug)]
pub struct Writer {
    /// One queue per writer task; a unit goes to the queue its key hashes to.
    queues: Vec<mpsc::UnboundedSender<Box<dyn Unit>>>,
}

impl Writer {
    /// Starts `tasks` writer tasks, each with its own queue, taking their connections as
    /// `connections` says. SQLite takes one (it has one writer anyway). On PostgreSQL several
    /// batches commit side by side; units are routed by a key (the payment, or the wallet), so
    /// two batches of this process never update the same payment and cannot deadlock each
    /// other on it.
    pub fn start(connections: Connections, tasks: usize, placement: Placement) -> Self {
        let queues = (0..tasks.max(1))
            .map(|_| {
                let (queue, mut receiver) = mpsc::unbounded_channel();
                let mut link = Link::new(connections.clone());
                let work = async move {
                    while let Some(batch) = next_batch(&mut receiver).await {
                        // A panic in a unit must not take the writer down with it: the batch's
                        // transaction is rolled back (dropped), its callers hear that the write
                        // was dropped (an outage to them, so they retry), and the writer goes on
                        // (on a connection it takes afresh).
                        let batch = std::panic::AssertUnwindSafe(link.commit(batch));
                        if batch.catch_unwind().await.is_err() {
                            metrics::counter!("gateway_store_writer_panics_total").increment(1);
                            tracing::error!(
                                "A store write panicked; its batch was rolled back and the writer goes on."
                            );
                        }
                    }
                };
                match placement {
                    Placement::OwnThread => run_on_own_thread(work),
                    Placement::Shared => {
                        tokio::spawn(work);
                    }
                }
                queue
            })
            .collect();
        Self { queues }
    }

    /// Runs `work` in the next group commit of the writer that `key` routes to, and returns its
    /// output once that committed. `work` may run twice (see the module doc), so it only
    /// touches the database.
    pub async fn write<T, F>(&self, key: Key<'_>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection, &'c mut Appends) -> WriteFuture<'c, T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let (key, of_order) = match key {
            Key::Order(order_id) => (order_id, true),
            Key::Other(key) => (key, false),
        };
        let job = Job {
            key: key.to_string(),
            of_order,
            work: Box::new(work),
            output: None,
            reply,
        };
        self.send(key, Box::new(job), answer).await
    }

    /// Writes `pending` in the next group commit of the writer that `key` routes to, together
    /// with the batch's other writes of its kind, and returns its outcome once that committed.
    pub(super) async fn submit<P: Pending>(&self, key: &str, pending: P) -> Result<P::Output, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = PendingJob {
            key: key.to_string(),
            pending,
            reply,
        };
        self.send(key, Box::new(job), answer).await
    }

    async fn send<T>(
        &self,
        key: &str,
        unit: Box<dyn Unit>,
        answer: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.queues[shard(key, self.queues.len())]
            .send(unit)
            .map_err(|_| unavailable("the store's writer has stopped"))?;
        answer
            .await
            .map_err(|_| unavailable("the store's writer dropped a write"))?
    }
}

/// What a write is routed by.
#[derive(Clone, Copy, Debug)]
pub enum Key<'a> {
    /// The order id it claims or rejects: routed by it, and locked by its batch on PostgreSQL
    /// so that two gateways take turns on it (see [`super::order_locks`]).
    Order(&'a str),
    /// Anything else: a payment, a batch, a provider.
    Other(&'a str),
}

impl<'a> From<&'a str> for Key<'a> {
    fn from(key: &'a str) -> Self {
        Key::Other(key)
    }
}

impl<'a> From<&'a String> for Key<'a> {
    fn from(key: &'a String) -> Self {
        Key::Other(key)
    }
}

/// Where a writer task takes the connection it commits on.
#[derive(Clone, Debug)]
pub enum Connections {
    /// A pool of the writer's own (one connection, SQLite): it takes the connection once and
    /// keeps it from batch to batch. A connection given back to a sqlx pool is pinged first (a
    /// spawned task, and on SQLite a round trip to the connection's worker thread), and the
    /// store's readers took turns on the same connection: the wait for it and the `BEGIN` took
    /// 0.59 ms of every group commit, the `BEGIN` alone on a kept connection 0.44 ms (20,000
    /// orders, 50 ms provider latency; README, Performance).
    Kept(AnyPool),
    /// The store's pool, a connection taken for each batch and given back after it
    /// (PostgreSQL, whose readers and leases share the pool with the writers).
    PerBatch(AnyPool),
}

/// A writer task's way to its connection: the one it keeps, if it keeps one.
struct Link {
    pool: AnyPool,
    keep: bool,
    kept: Option<PoolConnection<Any>>,
    /// The statement its transactions begin with (see [`begin_statement`]).
    begin: &'static str,
}

impl Link {
    fn new(connections: Connections) -> Self {
        let (pool, keep) = match connections {
            Connections::Kept(pool) => (pool, true),
            Connections::PerBatch(pool) => (pool, false),
        };
        let begin = begin_statement(&pool);
        Self {
            pool,
            keep,
            kept: None,
            begin,
        }
    }

    /// Commits `batch` on the kept connection, or on one taken now. A connection whose
    /// transaction could not begin, commit or roll back (or that was in use when a unit
    /// panicked) is not kept: it goes back to the pool, which tests it and replaces it if it is
    /// broken.
    async fn commit(&mut self, batch: Vec<Box<dyn Unit>>) {
        let mut connection = match self.kept.take() {
            Some(connection) => connection,
            None => match self.pool.acquire().await {
                Ok(connection) => connection,
                Err(error) => return fail_all(batch, &error),
            },
        };
        let fit = commit_batch(&mut connection, self.begin, batch).await;
        if self.keep && fit == Fit::Keep {
            self.kept = Some(connection);
        }
    }
}

/// Whether a connection is fit to write the next batch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fit {
    Keep,
    /// Its transaction's `BEGIN`, `COMMIT` or `ROLLBACK` failed.
    Replace,
}

/// Where a writer task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On a thread of its own, with a runtime of its own. The writer waits for the database
    /// once per statement; on the shared runtime each of those wake-ups queued behind the
    /// HTTP, AMQP and dispatcher tasks (interleaved runs of 20,000 orders on SQLite: 940 and
    /// 1,003 orders/s on its own thread against 829 and 880 on the shared runtime, with less
    /// CPU per order). SQLite's one writer runs here: its connection's I/O is sqlx's own worker
    /// thread, not a runtime's.
    OwnThread,
    /// On the shared runtime: PostgreSQL's writers, whose pooled connections' sockets belong to
    /// the runtime that opened them.
    Shared,
}

/// Runs a writer loop on a new thread with a current-thread runtime (made on that thread, so
/// that it is never dropped inside the shared one); on the shared runtime if the thread or its
/// runtime cannot be made.
fn run_on_own_thread(work: impl Future<Output = ()> + Send + 'static) {
    let shared = tokio::runtime::Handle::current();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(work)));
    let on_thread = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("store-writer".to_string())
        .spawn(move || {
            let Some(work) = take(&on_thread) else {
                return;
            };
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(work),
                Err(error) => {
                    tracing::warn!(%error, "Could not give the store's writer a runtime of its own; it shares the main one.");
                    shared.spawn(work);
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "Could not start the store's writer thread; it shares the main runtime.");
        if let Some(work) = take(&slot) {
            tokio::spawn(work);
        }
    }
}

/// Takes the writer loop out of the slot it is handed over in (once).
fn take<W>(slot: &std::sync::Mutex<Option<W>>) -> Option<W> {
    slot.lock().ok().and_then(|mut work| work.take())
}

/// The writer a key goes to: a stable hash (FNV-1a) modulo the number of writers.
fn shard(key: &str, writers: usize) -> usize {
    (fnv1a(key) % writers as u64) as usize
}

/// Waits for one unit, then takes whatever else is queued, up to [`MAX_BATCH`], in key order.
///
/// Units of one batch were all waiting at once, so none depends on another's outcome and any
/// order is theirs to run in. Key order makes every batch, of every gateway on the database,
/// lock the rows it updates in one global order, so two gateways' batches wait for each other
/// but never deadlock (PostgreSQL would break the cycle only after `deadlock_timeout`, 1 s,
/// and fail a whole batch). The sort is stable: a key's units keep their arrival order.
async fn next_batch(receiver: &mut mpsc::UnboundedReceiver<Box<dyn Unit>>) -> Option<Vec<Box<dyn Unit>>> {
    let first = receiver.recv().await?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(unit) => batch.push(unit),
            Err(_) => break,
        }
    }
    batch.sort_by(|a, b| a.key().cmp(b.key()));
    Some(batch)
}

async fn commit_batch(connection: &mut AnyConnection, begin: &'static str, mut batch: Vec<Box<dyn Unit>>) -> Fit {
    metrics::histogram!("gateway_store_batch_units").record(batch.len() as f64);
    let started = std::time::Instant::now();
    let fit = match run_together(connection, begin, &mut batch).await {
        Ok(()) => {
            batch.into_iter().for_each(|unit| unit.succeed());
            Fit::Keep
        }
        Err(Unfinished::CommitFailed(error)) => {
            fail_all(batch, &error);
            Fit::Replace
        }
        Err(Unfinished::UnitFailed) => {
            metrics::counter!("gateway_store_batch_retries_total").increment(1);
            commit_one_by_one(connection, begin, batch).await
        }
    };
    metrics::histogram!("gateway_store_batch_seconds").record(started.elapsed().as_secs_f64());
    fit
}

/// Why the fast path did not commit.
enum Unfinished {
    /// A unit failed: nothing was committed, the batch goes again unit by unit.
    UnitFailed,
    /// The commit itself failed: the store is taken as unavailable.
    CommitFailed(sqlx::Error),
}

/// The fast path: every unit in one transaction, no savepoints; first the claims, state changes
/// and callbacks of the batch, written together kind by kind in a few multi-row statements
/// instead of one or more each (every batch of every gateway takes them in the same order, so
/// lock order stays the same everywhere); then the other units one by one; then the appends of
/// all of them, together.
async fn run_together(
    connection: &mut AnyConnection,
    begin: &'static str,
    batch: &mut [Box<dyn Unit>],
) -> Result<(), Unfinished> {
    let mut stages = Stages::start("gateway_store_batch_stage_seconds");
    let mut transaction = connection.begin_with(begin).await.map_err(Unfinished::CommitFailed)?;
    if let Err(error) = lock_orders(&mut transaction, batch.iter_mut().filter_map(|unit| unit.order_id())).await {
        // Not a unit's fault: the connection (or the server) is not fit to write on.
        let _ = transaction.rollback().await;
        return Err(Unfinished::CommitFailed(error));
    }
    stages.done("begin");
    let mut appends = Appends::default();
    let kinds = batch.iter_mut().filter_map(|unit| unit.together()).collect();
    if write_together(&mut transaction, &mut appends, kinds).await.is_err() {
        let _ = transaction.rollback().await;
        return Err(Unfinished::UnitFailed);
    }
    stages.done("together");
    let mut alone = Vec::new();
    for unit in batch.iter_mut() {
        // Written together above; what that left out is written on its own here.
        if unit.settled() {
            continue;
        }
        alone.push(Alone::of(unit.together()));
        if unit.run(&mut transaction, &mut appends).await.is_err() {
            let _ = transaction.rollback().await;
            return Err(Unfinished::UnitFailed);
        }
    }
    stages.done("alone");
    if appends.flush(&mut transaction).await.is_err() {
        // Which unit's row it was, the slow path finds out.
        let _ = transaction.rollback().await;
        return Err(Unfinished::UnitFailed);
    }
    stages.done("appends");
    let committed = transaction.commit().await.map_err(Unfinished::CommitFailed);
    stages.done("commit");
    if committed.is_ok() {
        Alone::count(&alone);
    }
    committed
}

/// A unit that writing together left to be written on its own: its kind and, for a callback,
/// why it was left.
struct Alone {
    kind: &'static str,
    why: Option<&'static str>,
}

impl Alone {
    fn of(unit: Option<Together<'_>>) -> Self {
        let why = match &unit {
            Some(Together::Callback(callback)) => callback.left_alone,
            _ => None,
        };
        Self {
            kind: unit.map_or("other", |kind| kind.name()),
            why,
        }
    }

    /// Counts a pass's units written alone, once that pass has committed: a pass rolled back,
    /// whose batch then goes again one by one, counts nothing.
    fn count(alone: &[Alone]) {
        metrics::histogram!("gateway_store_batch_units_alone").record(alone.len() as f64);
        for unit in alone {
            metrics::counter!("gateway_store_units_alone_total", "kind" => unit.kind).increment(1);
            if let Some(why) = unit.why {
                metrics::counter!("gateway_store_callbacks_alone_total", "why" => why).increment(1);
            }
        }
    }
}

/// Times the stages of a group commit, each from the end of the one before, into the histogram
/// `metric` labelled by stage: `gateway_store_batch_stage_seconds{stage}` (the `BEGIN`, the
/// writes together, the writes alone, the appends, the commit, which is the flush to disk) and,
/// within the writes together, `gateway_store_together_seconds{stage}` (claims, changes,
/// reservations).
pub(super) struct Stages {
    metric: &'static str,
    last: std::time::Instant,
}

impl Stages {
    pub(super) fn start(metric: &'static str) -> Self {
        Self {
            metric,
            last: std::time::Instant::now(),
        }
    }

    pub(super) fn done(&mut self, stage: &'static str) {
        let now = std::time::Instant::now();
        metrics::histogram!(self.metric, "stage" => stage).record(now.duration_since(self.last).as_secs_f64());
        self.last = now;
    }
}

/// The statement a batch's transaction begins with. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a transaction begun plainly takes it at its first write, and if it read
/// before that while another connection wrote to the file (the store's readers, an ops
/// command's store, a test's second store), it fails at once with "database is locked" instead
/// of waiting for the lock as `busy_timeout` allows. On PostgreSQL its statements find their
/// rows through indexes whatever the statistics say (see [`super::index_plans`]).
fn begin_statement(pool: &AnyPool) -> &'static str {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        "BEGIN IMMEDIATE"
    } else {
        BEGIN_INDEXES_ONLY
    }
}

/// The slow path, after a unit failed: each unit in a savepoint of its own, with its appends
/// written inside it, so only the failing ones are rolled back and told.
async fn commit_one_by_one(connection: &mut AnyConnection, begin: &'static str, mut batch: Vec<Box<dyn Unit>>) -> Fit {
    let mut transaction = match connection.begin_with(begin).await {
        Ok(transaction) => transaction,
        Err(error) => {
            fail_all(batch, &error);
            return Fit::Replace;
        }
    };
    if let Err(error) = lock_orders(&mut transaction, batch.iter_mut().filter_map(|unit| unit.order_id())).await {
        let _ = transaction.rollback().await;
        fail_all(batch, &error);
        return Fit::Replace;
    }
    let mut written = Vec::with_capacity(batch.len());
    for mut unit in batch {
        let mut savepoint = match (*transaction).begin().await {
            Ok(savepoint) => savepoint,
            Err(error) => {
                unit.fail(error.into());
                continue;
            }
        };
        let mut appends = Appends::default();
        let ran = match unit.run(&mut savepoint, &mut appends).await {
            Ok(()) => appends.flush(&mut savepoint).await,
            Err(error) => Err(error),
        };
        match ran {
            Ok(()) => match savepoint.commit().await {
                Ok(()) => written.push(unit),
                Err(error) => unit.fail(error.into()),
            },
            Err(error) => {
                unit.fail(error.into());
                if let Err(rollback) = savepoint.rollback().await {
                    // The transaction may be left aborted; nothing in it can be trusted.
                    let _ = transaction.rollback().await;
                    fail_all(written, &rollback);
                    return Fit::Replace;
                }
            }
        }
    }
    match transaction.commit().await {
        Ok(()) => {
            written.into_iter().for_each(|unit| unit.succeed());
            Fit::Keep
        }
        Err(error) => {
            fail_all(written, &error);
            Fit::Replace
        }
    }
}

/// Tells every unit of a batch that could not be committed; the store is taken as unavailable.
fn fail_all(units: Vec<Box<dyn Unit>>, error: &sqlx::Error) {
    tracing::warn!(%error, units = units.len(), "A group commit failed; its writes are not stored.");
    for unit in units {
        unit.fail(unavailable(&format!("the group commit failed: {error}")));
    }
}

fn unavailable(message: &str) -> StoreError {
    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(message.to_string())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sqlx::any::AnyPoolOptions;
    use sqlx::Executor;

    use super::*;

    fn work<T, F>(work: F) -> Work<T>
    where
        F: for<'c> Fn(&'c mut AnyConnection, &'c mut Appends) -> WriteFuture<'c, T> + Send + 'static,
    {
        Box::new(work)
    }

    fn insert(value: Option<i64>) -> (Box<dyn Unit>, oneshot::Receiver<Result<u64, StoreError>>) {
        keyed_insert(&format!("{value:?}"), value)
    }

    /// Inserts `value` into the table `t`; answers the rows inserted.
    fn insert_work(value: Option<i64>) -> Work<u64> {
        work(move |connection, _| {
            Box::pin(async move {
                let done = sqlx::query("INSERT INTO t (x) VALUES ($1)")
                    .bind(value)
                    .execute(connection)
                    .await?;
                Ok(done.rows_affected())
            })
        })
    }

    fn keyed_insert(key: &str, value: Option<i64>) -> (Box<dyn Unit>, oneshot::Receiver<Result<u64, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            key: key.to_string(),
            of_order: false,
            work: insert_work(value),
            output: None,
            reply,
        };
        (Box::new(job), answer)
    }

    /// A folder of its own and the URL of a SQLite file in it.
    fn scratch_database() -> (std::path::PathBuf, String) {
        sqlx::any::install_default_drivers();
        let folder = std::env::temp_dir().join(format!("writer-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&folder).unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", folder.display());
        (folder, url)
    }

    /// A pool of one connection on `url`, with the table `t` made.
    async fn with_table_t(url: &str) -> AnyPool {
        let pool = AnyPoolOptions::new().max_connections(1).connect(url).await.unwrap();
        pool.execute("CREATE TABLE t (x BIGINT NOT NULL UNIQUE)").await.unwrap();
        pool
    }

    #[tokio::test]
    async fn one_failing_unit_is_rolled_back_alone_and_the_rest_of_its_batch_commits() {
        let (folder, url) = scratch_database();
        let pool = with_table_t(&url).await;

        let (first, first_answer) = insert(Some(1));
        let (bad, bad_answer) = insert(None);
        let (third, third_answer) = insert(Some(3));
        let mut connection = pool.acquire().await.unwrap();
        let fit = commit_batch(&mut connection, "BEGIN IMMEDIATE", vec![first, bad, third]).await;
        assert_eq!(fit, Fit::Keep, "a unit's failure leaves the connection fit to write on");
        drop(connection);

        assert_eq!(first_answer.await.unwrap().unwrap(), 1);
        assert!(matches!(bad_answer.await.unwrap(), Err(StoreError::Unstorable(_))));
        assert_eq!(third_answer.await.unwrap().unwrap(), 1);
        let kept: Vec<i64> = sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(
            kept,
            vec![1, 3],
            "each good unit committed once, the bad one not at all"
        );
        drop(pool);
        let _ = std::fs::remove_dir_all(folder);
    }

    /// A unit that reads before it writes, while another connection (another process's store)
    /// holds the write lock: begun plainly, its read took a snapshot that the other commit made
    /// stale, and its write then failed at once with "database is locked"; begun `IMMEDIATE`,
    /// the batch waits for the lock and reads after the other commit.
    #[tokio::test]
    async fn a_unit_that_reads_first_waits_for_another_writer_on_sqlite() {
        let (folder, url) = scratch_database();
        let options = AnyPoolOptions::new().max_connections(1).after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
                    .await
                    .map(|_| ())
            })
        });
        let pool = options.clone().connect(&url).await.unwrap();
        let other = options.connect(&url).await.unwrap();
        pool.execute("CREATE TABLE t (x BIGINT NOT NULL UNIQUE)").await.unwrap();
        pool.execute("INSERT INTO t (x) VALUES (1)").await.unwrap();

        let mut holder = other.begin().await.unwrap();
        sqlx::query("INSERT INTO t (x) VALUES (2)")
            .execute(&mut *holder)
            .await
            .unwrap();
        let (reply, answer) = oneshot::channel();
        let read_then_write = Job {
            key: "k".to_string(),
            of_order: false,
            work: work(move |connection, _| {
                Box::pin(async move {
                    let highest: i64 = sqlx::query_scalar("SELECT MAX(x) FROM t")
                        .fetch_one(&mut *connection)
                        .await?;
                    sqlx::query("INSERT INTO t (x) VALUES ($1)")
                        .bind(highest + 10)
                        .execute(&mut *connection)
                        .await?;
                    Ok(u64::try_from(highest).unwrap_or_default())
                })
            }),
            output: None,
            reply,
        };
        let batch = tokio::spawn({
            let pool = pool.clone();
            async move {
                let mut connection = pool.acquire().await.unwrap();
                commit_batch(&mut connection, "BEGIN IMMEDIATE", vec![Box::new(read_then_write)]).await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        holder.commit().await.unwrap();
        assert_eq!(batch.await.unwrap(), Fit::Keep);
        assert_eq!(
            answer.await.unwrap().unwrap(),
            2,
            "the unit read after the other writer's commit and wrote after it"
        );
        let kept: Vec<i64> = sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(kept, vec![1, 2, 12]);
        drop((pool, other));
        let _ = std::fs::remove_dir_all(folder);
    }

    /// The SQLite writer keeps its connection from batch to batch: giving it back to the pool
    /// after each batch cost a ping on its worker thread, and the next batch waited for it.
    #[tokio::test]
    async fn a_writer_with_a_kept_connection_holds_it_between_batches() {
        let (folder, url) = scratch_database();
        let pool = with_table_t(&url).await;
        let shared = AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();

        let kept = Writer::start(Connections::Kept(pool.clone()), 1, Placement::Shared);
        let per_batch = Writer::start(Connections::PerBatch(shared.clone()), 1, Placement::Shared);
        for value in [1, 2] {
            assert_eq!(kept.write(Key::Other("k"), insert_work(Some(value))).await.unwrap(), 1);
        }
        assert_eq!(per_batch.write(Key::Other("k"), insert_work(Some(3))).await.unwrap(), 1);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            (pool.size(), pool.num_idle()),
            (1, 0),
            "the kept connection stays with its writer"
        );
        assert_eq!(
            (shared.size(), shared.num_idle()),
            (1, 1),
            "a per-batch connection goes back to its pool"
        );
        drop((kept, per_batch, pool, shared));
        let _ = std::fs::remove_dir_all(folder);
    }

    #[tokio::test]
    async fn a_batch_runs_in_key_order() {
        let (queue, mut receiver) = mpsc::unbounded_channel::<Box<dyn Unit>>();
        let mut answers = Vec::new();
        for (key, value) in [("pay_b", 1), ("pay_a", 2), ("pay_b", 3), ("0912", 4)] {
            let (unit, answer) = keyed_insert(key, Some(value));
            answers.push(answer);
            queue.send(unit).unwrap();
        }
        let batch = next_batch(&mut receiver).await.unwrap();
        let keys: Vec<&str> = batch.iter().map(|unit| unit.key()).collect();
        assert_eq!(keys, ["0912", "pay_a", "pay_b", "pay_b"]);
    }
}
