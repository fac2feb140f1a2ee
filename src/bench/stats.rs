//! Small measuring helpers for `gateway bench`: percentiles, rates and the process's memory.

use std::time::{Duration, Instant};

/// The `p`-th percentile (0–100) of `sorted` by the nearest-rank method: the smallest value
/// such that at least `p` % of the values are at or below it. `None` for an empty slice.
/// `sorted` must be sorted ascending.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50, p95, p99 and the maximum of a set of latencies, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises `latencies` (any order); all zero when there are none.
    pub fn of(latencies: &[Duration]) -> Self {
        let mut millis: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1_000.0).collect();
        millis.sort_by(f64::total_cmp);
        let at = |p| percentile(&millis, p).unwrap_or(0.0);
        Self {
            p50_ms: at(50.0),
            p95_ms: at(95.0),
            p99_ms: at(99.0),
            max_ms: at(100.0),
        }
    }
}

/// Each order's latency from its own start (its publish instant, or under a rate the instant
/// it was due: see `Published::sent`) to its final result, for the orders that have both;
/// `sent` and `arrived` are indexed by order. Under a rate, orders go out over the whole run,
/// so latency must be measured per order, never from the first publish.
pub fn per_order_latencies(
    sent: &[Option<Instant>],
    arrived: impl IntoIterator<Item = Option<Instant>>,
) -> Vec<Duration> {
    sent.iter()
        .zip(arrived)
        .filter_map(|(sent, arrived)| Some(arrived?.saturating_duration_since((*sent)?)))
        .collect()
}

/// `count` per second over `elapsed`; zero when nothing elapsed.
pub fn per_second(count: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// The process's resident memory from `/proc/self/status`, in KiB (Linux only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Peak resident set size so far (`VmHWM`).
    pub peak_kib: u64,
    /// Resident set size now (`VmRSS`).
    pub resident_kib: u64,
}

impl Memory {
    /// Reads `/proc/self/status`; `None` where there is no such file.
    pub fn read() -> Option<Self> {
        Self::read_path("/proc/self/status")
    }

    /// Reads `/proc/<pid>/status` of another process (a child gateway, before it exits).
    pub fn read_of(pid: u32) -> Option<Self> {
        Self::read_path(&format!("/proc/{pid}/status"))
    }

    fn read_path(path: &str) -> Option<Self> {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|status| Self::parse(&status))
    }

    fn parse(status: &str) -> Option<Self> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        };
        Some(Self {
            peak_kib: field("VmHWM:")?,
            resident_kib: field("VmRSS:")?,
        })
    }
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`; `None`
/// where there is no such file.
pub fn process_cpu() -> Option<Duration> {
    cpu_at("/proc/self/stat")
}

/// CPU time (user + system) process `pid` has used so far (a child gateway, while it runs).
pub fn process_cpu_of(pid: u32) -> Option<Duration> {
    cpu_at(&format!("/proc/{pid}/stat"))
}

fn cpu_at(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    super::machine::stat_line(&stat).map(|line| line.own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_cpu_time_is_read_and_never_goes_back() {
        let before = process_cpu().expect("/proc/self/stat on Linux");
        let mut spin = 0u64;
        for i in 0..5_000_000u64 {
            spin = spin.wrapping_add(i * i);
        }
        assert!(spin > 0);
        let after = process_cpu().expect("/proc/self/stat on Linux");
        assert!(after >= before, "{after:?} < {before:?}");
    }

    #[test]
    fn another_process_is_read_by_its_pid() {
        let pid = std::process::id();
        assert!(process_cpu_of(pid).is_some());
        assert!(Memory::read_of(pid).is_some_and(|memory| memory.peak_kib >= memory.resident_kib));
        assert_eq!(process_cpu_of(u32::MAX), None);
    }

    #[test]
    fn latency_is_measured_from_each_orders_own_publish() {
        let start = Instant::now();
        let at = |millis| Some(start + Duration::from_millis(millis));
        // Published 1 ms apart at a rate; each final result comes 5 ms after its own publish.
        let sent = [at(0), at(1), at(2), None, at(4)];
        let arrived = [at(5), at(6), None, at(8), at(9)];
        let latencies = per_order_latencies(&sent, arrived);
        assert_eq!(latencies, vec![Duration::from_millis(5); 3]);
        // A result read before its publish was recorded counts as zero, never as negative.
        assert_eq!(per_order_latencies(&[at(3)], [at(1)]), vec![Duration::ZERO]);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 95.0), Some(95.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 51.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn latency_summary_sorts_its_input() {
        let latencies: Vec<Duration> = [30, 10, 20, 40].into_iter().map(Duration::from_millis).collect();
        let summary = LatencySummary::of(&latencies);
        assert_eq!(summary.p50_ms, 20.0);
        assert_eq!(summary.p99_ms, 40.0);
        assert_eq!(summary.max_ms, 40.0);
        assert_eq!(LatencySummary::of(&[]), LatencySummary::default());
    }

    #[test]
    fn memory_fields_are_read_from_proc_status() {
        let status = "Name:\tgateway\nVmHWM:\t  123456 kB\nVmRSS:\t   98765 kB\n";
        let memory = Memory::parse(status).expect("both fields");
        assert_eq!(memory.peak_kib, 123_456);
        assert_eq!(memory.resident_kib, 98_765);
        assert_eq!(Memory::parse("Name:\tgateway\n"), None);
    }
}
