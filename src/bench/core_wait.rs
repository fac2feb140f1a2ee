//! How long a child gateway's threads were ready to run but waited for a core, read from
//! `/proc/<pid>/task/<tid>/schedstat` (its second field: nanoseconds spent on a run queue).
//!
//! CPU time says what a thread did; this says what it could not do while the cores were
//! taken by others (RabbitMQ, PostgreSQL, the bench, the gateway's other threads). For the
//! store's threads — SQLite's one writer and sqlx's worker thread it hands each statement to —
//! that wait is part of every group commit's time, so it bounds throughput as surely as the
//! disk does.

use std::collections::HashMap;
use std::ops::Add;
use std::time::Duration;

/// Thread names (as `/proc` shortens them to 15 bytes) of the store's threads: the
/// group-commit writer's own thread and sqlx's SQLite worker threads (`sqlx-sqlite-worker-N`).
const STORE_THREADS: [&str; 2] = ["store-writer", "sqlx-sqlite-wor"];

/// One process's threads at one moment: each thread's name and run-queue wait so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadWaits {
    by_thread: HashMap<u32, (String, Duration)>,
}

/// Run-queue wait over a span: every thread's, and the store's threads' (`None` where the
/// process has none, as with PostgreSQL, whose writers run on the shared runtime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreWait {
    pub all: Duration,
    pub store: Option<Duration>,
}

impl ThreadWaits {
    /// Reads every thread of process `pid`; `None` where `/proc` has no `schedstat` (not
    /// Linux, or a kernel without scheduler statistics) or the process is gone.
    pub fn read_of(pid: u32) -> Option<Self> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut by_thread = HashMap::new();
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
                continue;
            };
            // A thread that ended between the listing and either read is left out (it was read
            // with an empty name when it ended between the two).
            let read = |file: &str| std::fs::read_to_string(task.path().join(file));
            let (Ok(schedstat), Ok(name)) = (read("schedstat"), read("comm")) else {
                continue;
            };
            if let Some(wait) = run_queue_wait(&schedstat) {
                by_thread.insert(tid, (name.trim_end().to_string(), wait));
            }
        }
        (!by_thread.is_empty()).then_some(Self { by_thread })
    }

    /// What the threads present at both moments waited between `before` and `self` (a thread
    /// started or ended in between is left out: its wait cannot be split at the span's start).
    pub fn since(&self, before: &Self) -> CoreWait {
        let mut wait = CoreWait::default();
        for (tid, (name, after)) in &self.by_thread {
            let Some((_, earlier)) = before.by_thread.get(tid) else {
                continue;
            };
            let waited = after.saturating_sub(*earlier);
            wait.all += waited;
            if STORE_THREADS.contains(&name.as_str()) {
                wait.store = Some(wait.store.unwrap_or_default() + waited);
            }
        }
        wait
    }
}

impl Add for CoreWait {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        let store = match (self.store, other.store) {
            (None, None) => None,
            (one, two) => Some(one.unwrap_or_default() + two.unwrap_or_default()),
        };
        Self {
            all: self.all + other.all,
            store,
        }
    }
}

/// The second of `schedstat`'s three fields: time on a run queue, waiting for a core.
fn run_queue_wait(schedstat: &str) -> Option<Duration> {
    let mut fields = schedstat.split_whitespace();
    let _on_cpu = fields.next()?;
    fields.next()?.parse::<u64>().ok().map(Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(threads: &[(u32, &str, u64)]) -> ThreadWaits {
        ThreadWaits {
            by_thread: threads
                .iter()
                .map(|(tid, name, ms)| (*tid, (name.to_string(), Duration::from_millis(*ms))))
                .collect(),
        }
    }

    #[test]
    fn the_run_queue_wait_is_the_second_field() {
        assert_eq!(
            run_queue_wait("3721000000 3534000000 129135\n"),
            Some(Duration::from_millis(3534))
        );
        assert_eq!(run_queue_wait("3721000000\n"), None);
        assert_eq!(run_queue_wait("3721000000 soon 1\n"), None);
    }

    #[test]
    fn a_span_counts_the_threads_present_at_both_ends_and_names_the_store_s() {
        let before = waits(&[
            (1, "gateway", 10),
            (2, "store-writer", 100),
            (3, "sqlx-sqlite-wor", 200),
            (4, "gone", 5),
        ]);
        let after = waits(&[
            (1, "gateway", 15),
            (2, "store-writer", 160),
            (3, "sqlx-sqlite-wor", 290),
            (9, "new", 50),
        ]);
        assert_eq!(
            after.since(&before),
            CoreWait {
                all: Duration::from_millis(5 + 60 + 90),
                store: Some(Duration::from_millis(60 + 90)),
            }
        );
    }

    #[test]
    fn a_process_without_store_threads_has_no_store_wait_and_sums_keep_it_absent() {
        let before = waits(&[(1, "tokio-rt-worker", 10)]);
        let after = waits(&[(1, "tokio-rt-worker", 30)]);
        let one = after.since(&before);
        assert_eq!(one.store, None);
        assert_eq!((one + one).store, None);
        assert_eq!((one + one).all, Duration::from_millis(40));
        let with_store = CoreWait {
            all: Duration::from_millis(7),
            store: Some(Duration::from_millis(7)),
        };
        assert_eq!((one + with_store).store, Some(Duration::from_millis(7)));
    }

    #[test]
    fn this_process_s_threads_are_read_with_their_names() {
        if !std::path::Path::new("/proc/self/schedstat").exists() {
            // A kernel without scheduler statistics: the bench prints n/a.
            assert_eq!(ThreadWaits::read_of(std::process::id()), None);
            return;
        }
        let mine = ThreadWaits::read_of(std::process::id()).expect("schedstat of this process");
        assert!(mine.by_thread.values().all(|(name, _)| !name.is_empty()));
        assert!(
            mine.since(&mine).all.is_zero(),
            "nothing waited between a moment and itself"
        );
    }
}
