//! One reading shared by every viewer for a while: what the dashboard reads from the store at
//! a cost that grows with the data (the payment counts, the batch checks) is read at most once
//! per interval, however many pages ask.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The last reading of a `T` and when it was taken.
#[derive(Debug)]
pub struct Reuse<T> {
    refresh: Duration,
    /// The lock also makes concurrent requests share one reading.
    last: tokio::sync::Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Reuse<T> {
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The last reading if it is younger than the interval, else a new one from `read`. A
    /// failed reading is not kept: the next request tries again.
    pub async fn get<E, F, Fut>(&self, read: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut last = self.last.lock().await;
        if let Some((taken, value)) = last.as_ref() {
            if taken.elapsed() < self.refresh {
                return Ok(value.clone());
            }
        }
        let value = read().await?;
        *last = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

impl<T: Clone + Send + 'static> Reuse<T> {
    /// [`Reuse::get`] on a task of its own, waited for `within` at most; `None` when the
    /// reading did not come in time. The reading still finishes, and is kept for the callers
    /// after it: dropped with a caller that stopped waiting, a reading slower than the bound
    /// was started again, and given up again, by every refresh of every viewer.
    pub async fn get_within<E, F, Fut>(self: &Arc<Self>, within: Duration, read: F) -> Option<Result<T, E>>
    where
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let shared = Arc::clone(self);
        let reading = tokio::spawn(async move { shared.get(read).await });
        match tokio::time::timeout(within, reading).await {
            Ok(Ok(read)) => Some(read),
            Ok(Err(failed)) => {
                tracing::error!(error = %failed, "A dashboard reading failed to finish.");
                None
            }
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A reading slower than the caller's bound: the caller gets `None`, and the reading is
    /// kept for the next caller, who gets it at once.
    #[tokio::test]
    async fn a_reading_slower_than_the_bound_is_kept_for_the_next_caller() {
        let shared = Arc::new(Reuse::new(Duration::from_secs(60)));
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, ()>(7)
        };
        assert_eq!(shared.get_within(Duration::from_millis(50), slow).await, None);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let fresh = || async { Ok::<_, ()>(8) };
        assert_eq!(
            shared.get_within(Duration::from_millis(50), fresh).await,
            Some(Ok(7)),
            "the slow reading finished and was kept"
        );
    }

    #[tokio::test]
    async fn a_reading_is_reused_within_the_interval_and_a_failure_is_not_kept() {
        let reads = AtomicUsize::new(0);
        let read = || async { Ok::<_, ()>(reads.fetch_add(1, Ordering::SeqCst)) };
        let shared = Reuse::new(Duration::from_secs(60));
        assert_eq!(shared.get(read).await, Ok(0));
        assert_eq!(shared.get(read).await, Ok(0), "reused");
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        let fresh = Reuse::new(Duration::ZERO);
        assert_eq!(fresh.get(read).await, Ok(1));
        assert_eq!(fresh.get(read).await, Ok(2), "read again once the interval passed");

        let failing = Reuse::<usize>::new(Duration::from_secs(60));
        assert_eq!(failing.get(|| async { Err::<usize, _>("down") }).await, Err("down"));
        assert_eq!(
            failing.get(|| async { Ok::<_, &str>(7) }).await,
            Ok(7),
            "a failure is not kept"
        );
    }
}
