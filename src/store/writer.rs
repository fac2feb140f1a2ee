//! Group commit: every write unit (a claim, a state change, a callback) waiting at the same
//! moment goes into one transaction, each in a savepoint of its own.
//!
//! A commit waits for the disk (SQLite `synchronous = FULL`, PostgreSQL's WAL flush), so one
//! commit per unit bounds the whole gateway at the disk's flushes per second. Here a writer
//! task takes whatever is queued (up to [`MAX_BATCH`]), runs each unit inside a savepoint —
//! a unit that fails is rolled back alone and told so, the others go on — commits once, and
//! only then tells each caller its own outcome. Nothing is acknowledged before the commit that
//! covers it, so durability is exactly what it was with one commit per unit. There is no
//! artificial linger: units that arrive while a commit is being flushed make the next batch.

use std::future::Future;
use std::pin::Pin;

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::StoreError;

/// The most units one transaction takes; bounds the time a batch holds the connection.
pub const MAX_BATCH: usize = 512;

/// A future borrowing the connection it writes on.
pub type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// One unit of work, type-erased for the queue: it runs on a savepoint's connection, keeps
/// its output, and hands it over only once the batch committed.
trait Unit: Send {
    fn run<'c>(&'c mut self, connection: &'c mut AnyConnection) -> WriteFuture<'c, ()>;
    fn succeed(self: Box<Self>);
    fn fail(self: Box<Self>, error: StoreError);
}

type Work<T> = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> WriteFuture<'c, T> + Send>;

struct Job<T> {
    work: Option<Work<T>>,
    output: Option<T>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send + 'static> Unit for Job<T> {
    fn run<'c>(&'c mut self, connection: &'c mut AnyConnection) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            let work = self
                .work
                .take()
                .ok_or_else(|| sqlx::Error::Protocol("a write unit ran twice".into()))?;
            self.output = Some(work(connection).await?);
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
}

/// The queue in front of the writer tasks. Cheap to clone; the tasks end when the last
/// clone is dropped.
#[derive(Clone, Debug)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Unit>>,
}

impl Writer {
    /// Starts `tasks` writer tasks on `pool` (one for SQLite, which has one writer anyway;
    /// a few for PostgreSQL, whose pool can run batches side by side).
    pub fn start(pool: AnyPool, tasks: usize) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        for _ in 0..tasks.max(1) {
            let (pool, receiver) = (pool.clone(), receiver.clone());
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&receiver).await {
                    commit_batch(&pool, batch).await;
                }
            });
        }
        Self { queue }
    }

    /// Runs `work` in the next group commit and returns its output once that committed.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work: Some(Box::new(work)),
            output: None,
            reply,
        };
        self.queue
            .send(Box::new(job))
            .map_err(|_| unavailable("the store's writer has stopped"))?;
        answer
            .await
            .map_err(|_| unavailable("the store's writer dropped a write"))?
    }
}

/// Waits for one unit, then takes whatever else is queued, up to [`MAX_BATCH`].
async fn next_batch(receiver: &Mutex<mpsc::UnboundedReceiver<Box<dyn Unit>>>) -> Option<Vec<Box<dyn Unit>>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(unit) => batch.push(unit),
            Err(_) => break,
        }
    }
    Some(batch)
}

async fn commit_batch(pool: &AnyPool, batch: Vec<Box<dyn Unit>>) {
    metrics::histogram!("gateway_store_batch_units").record(batch.len() as f64);
    let mut transaction = match pool.begin().await {
        Ok(transaction) => transaction,
        Err(error) => return fail_all(batch, &error),
    };
    let mut written = Vec::with_capacity(batch.len());
    for mut unit in batch {
        let mut savepoint = match (*transaction).begin().await {
            Ok(savepoint) => savepoint,
            Err(error) => {
                unit.fail(error.into());
                continue;
            }
        };
        match unit.run(&mut savepoint).await {
            Ok(()) => match savepoint.commit().await {
                Ok(()) => written.push(unit),
                Err(error) => unit.fail(error.into()),
            },
            Err(error) => {
                let _ = savepoint.rollback().await;
                unit.fail(error.into());
            }
        }
    }
    match transaction.commit().await {
        Ok(()) => written.into_iter().for_each(|unit| unit.succeed()),
        Err(error) => fail_all(written, &error),
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
