//! Supervision: a part of the gateway (consumer, dispatcher, relay) that ends while nobody
//! asked it to — a panic, or a return — is started again after a growing delay, and
//! [`Readiness`] tells `/readyz` which part is down meanwhile.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A part that ran this long before it ended starts again after the first delay, not after
/// a longer one: it was healthy, and this is a new fault.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Whether the gateway has started, and which supervised parts are down and why. Cheap to
/// clone; every clone sees the same state.
#[derive(Clone, Debug)]
pub struct Readiness {
    state: Arc<watch::Sender<ReadinessState>>,
}

/// What `/readyz` reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadinessState {
    pub started: bool,
    /// Part name → why it is down, as a sentence.
    pub down: BTreeMap<&'static str, String>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    pub fn new() -> Self {
        Self {
            state: Arc::new(watch::Sender::new(ReadinessState::default())),
        }
    }

    /// Called once every part was spawned.
    pub fn mark_started(&self) {
        self.state.send_modify(|state| state.started = true);
    }

    pub fn mark_down(&self, part: &'static str, why: String) {
        self.state.send_modify(|state| {
            state.down.insert(part, why);
        });
    }

    pub fn mark_up(&self, part: &'static str) {
        self.state.send_modify(|state| {
            state.down.remove(part);
        });
    }

    /// `Ok` when started and no part is down; otherwise the sentence `/readyz` answers with.
    pub fn verdict(&self) -> Result<(), String> {
        let state = self.state.borrow();
        if !state.started {
            return Err("starting".to_string());
        }
        if state.down.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = state
            .down
            .iter()
            .map(|(part, why)| format!("the {part} is down: {why}"))
            .collect();
        Err(parts.join("; "))
    }

    /// Changes as they happen, for tests and anything else that waits on them.
    pub fn subscribe(&self) -> watch::Receiver<ReadinessState> {
        self.state.subscribe()
    }
}

/// How long to wait before starting a part again: `first`, doubling per failure in a row,
/// up to `max`.
#[derive(Clone, Copy, Debug)]
pub struct RestartDelay {
    pub first: Duration,
    pub max: Duration,
}

impl RestartDelay {
    /// The waits after one failure, two in a row, and so on, without end. No jitter: the
    /// parts fail for different reasons and do not restart in a herd.
    fn delays(self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::new()
            .with_min_delay(self.first.min(self.max))
            .with_factor(2.0)
            .with_max_delay(self.max)
            .without_max_times()
            .build()
            // `backon` doubles in `f32` seconds; whole milliseconds keep the waits exact.
            .map(|delay| Duration::from_millis((delay.as_secs_f64() * 1_000.0).round() as u64))
    }
}

/// Runs `start(shutdown)` as `part` until `shutdown` is cancelled, starting it again (after
/// [`RestartDelay`]) each time it panics or returns before that. Returns the supervisor's
/// handle: cancel `shutdown` and await it to stop the part in order.
pub fn supervise<F, Fut>(
    part: &'static str,
    readiness: Readiness,
    delay: RestartDelay,
    shutdown: CancellationToken,
    mut start: F,
) -> JoinHandle<()>
where
    F: FnMut(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut delays = delay.delays();
        loop {
            let started_at = Instant::now();
            let ended = tokio::spawn(start(shutdown.clone())).await;
            if shutdown.is_cancelled() {
                if ended.as_ref().is_err_and(|error| error.is_panic()) {
                    tracing::error!(part, "A part of the gateway panicked while it was stopping.");
                }
                return;
            }
            // The panic message went to stderr through the panic hook; it is not repeated in
            // the log or in `/readyz`, where it could carry data from the message at fault.
            let why = match ended {
                Ok(()) => "it stopped on its own",
                Err(error) if error.is_panic() => "it panicked",
                Err(_) => "it was cancelled",
            };
            if started_at.elapsed() >= HEALTHY_RUN {
                delays = delay.delays();
            }
            let wait = delays.next().unwrap_or(delay.max);
            metrics::counter!("gateway_task_restarts_total", "part" => part).increment(1);
            tracing::error!(
                part,
                reason = why,
                restart_in_ms = wait.as_millis() as u64,
                "A part of the gateway ended unexpectedly; it will be started again."
            );
            readiness.mark_down(part, format!("{why}; starting again in {} ms", wait.as_millis()));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            readiness.mark_up(part);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_part_that_panics_is_started_again_and_readiness_names_it_meanwhile() {
        let readiness = Readiness::new();
        readiness.mark_started();
        let mut changes = readiness.subscribe();
        let runs = Arc::new(AtomicU32::new(0));
        let (second_run_started, mut second_run) = tokio::sync::mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let delay = RestartDelay {
            first: Duration::from_millis(50),
            max: Duration::from_secs(1),
        };
        let counter = runs.clone();
        let supervisor = supervise("relay", readiness.clone(), delay, shutdown.clone(), move |token| {
            let run = counter.fetch_add(1, Ordering::SeqCst);
            let second_run_started = second_run_started.clone();
            async move {
                if run == 0 {
                    panic!("the first run fails");
                }
                let _ = second_run_started.send(());
                token.cancelled().await;
            }
        });

        let down = changes
            .wait_for(|state| !state.down.is_empty())
            .await
            .expect("readiness changes")
            .clone();
        assert!(down.down["relay"].contains("panicked"));
        let verdict = readiness.verdict().expect_err("not ready while the relay is down");
        assert!(verdict.contains("the relay is down"), "{verdict}");

        second_run.recv().await.expect("the relay runs a second time");
        changes
            .wait_for(|state| state.down.is_empty())
            .await
            .expect("readiness changes");
        assert_eq!(readiness.verdict(), Ok(()));

        shutdown.cancel();
        supervisor.await.expect("the supervisor ends");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "not started again after a shutdown");
    }

    #[tokio::test]
    async fn a_part_that_returns_early_is_started_again_but_not_after_shutdown() {
        let readiness = Readiness::new();
        let shutdown = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let stopper = shutdown.clone();
        let delay = RestartDelay {
            first: Duration::from_millis(1),
            max: Duration::from_millis(5),
        };
        let supervisor = supervise("consumer", readiness, delay, shutdown, move |_token| {
            let run = counter.fetch_add(1, Ordering::SeqCst);
            let stopper = stopper.clone();
            async move {
                if run == 2 {
                    stopper.cancel();
                }
            }
        });
        supervisor.await.expect("the supervisor ends");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn restart_delays_double_up_to_the_cap() {
        let delay = RestartDelay {
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let waits: Vec<Duration> = delay.delays().take(61).collect();
        assert_eq!(waits[0], Duration::from_millis(100));
        assert_eq!(waits[3], Duration::from_millis(800));
        assert_eq!(waits[4], Duration::from_secs(1));
        assert_eq!(waits[60], Duration::from_secs(1));
    }
}
