//! Progress of a long bench run on stderr, one line every few seconds (orders published, final
//! results received, their rates), so a province run is never silent for minutes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a progress line is printed.
pub const EVERY: Duration = Duration::from_secs(5);

/// Counters the publisher and the results reader move forward.
#[derive(Debug, Default)]
pub struct Counters {
    pub published: AtomicUsize,
    pub finals: AtomicUsize,
}

/// Prints a line every [`EVERY`] until dropped.
pub struct Reporter {
    task: tokio::task::JoinHandle<()>,
}

impl Reporter {
    pub fn start(counters: Arc<Counters>, total: usize) -> Self {
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
            let mut before = (started, 0usize);
            loop {
                ticks.tick().await;
                let now = Instant::now();
                let published = counters.published.load(Ordering::Relaxed);
                let finals = counters.finals.load(Ordering::Relaxed);
                eprintln!(
                    "{}",
                    line(
                        now - started,
                        published,
                        finals,
                        total,
                        finals.saturating_sub(before.1),
                        now - before.0
                    )
                );
                before = (now, finals);
            }
        });
        Self { task }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One progress line: `new_finals` arrived in the last `window`.
pub fn line(
    elapsed: Duration,
    published: usize,
    finals: usize,
    total: usize,
    new_finals: usize,
    window: Duration,
) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = |count: usize, over: Duration| {
        if over.as_secs_f64() > 0.0 {
            count as f64 / over.as_secs_f64()
        } else {
            0.0
        }
    };
    // Once everything is out, the publish rate over the whole run says nothing new.
    let publishing = if published >= total {
        format!("all {total} published")
    } else {
        format!("published {published}/{total} ({:.0}/s)", rate(published, elapsed))
    };
    format!(
        "bench: {secs:.0} s: {publishing}, final results {finals}/{total} \
         ({:.0}/s over the last {:.0} s, {:.0}/s overall)",
        rate(new_finals, window),
        window.as_secs_f64(),
        rate(finals, elapsed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_gives_counts_and_rates() {
        let text = line(
            Duration::from_secs(10),
            30_000,
            20_000,
            172_000,
            10_000,
            Duration::from_secs(5),
        );
        assert_eq!(
            text,
            "bench: 10 s: published 30000/172000 (3000/s), final results 20000/172000 \
             (2000/s over the last 5 s, 2000/s overall)"
        );
        assert!(line(Duration::ZERO, 0, 0, 10, 0, Duration::ZERO).contains("(0/s)"));
        let published = line(
            Duration::from_secs(60),
            172_000,
            30_000,
            172_000,
            2_500,
            Duration::from_secs(5),
        );
        assert!(published.starts_with("bench: 60 s: all 172000 published, final results 30000/172000 (500/s"));
    }
}
