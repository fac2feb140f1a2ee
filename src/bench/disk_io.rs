//! A child gateway's reads, writes and bytes sent to the disk, read from `/proc/<pid>/io`.
//!
//! CPU per order says how much a gateway worked; these say on what, in counts that do not
//! drift with the machine's speed: `syscr`/`syscw` (read and write calls — on SQLite every page
//! its cache let go of is a read call again, so a store that costs more per order as the run
//! grows shows it here first) and `write_bytes` (what the process caused to be written to
//! storage: the WAL, the database file at checkpoints).

use std::ops::Add;

/// One process's I/O counters at one moment (or their growth over a span).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskIo {
    /// Read calls (`syscr`): files, sockets and pipes alike.
    pub read_calls: u64,
    /// Write calls (`syscw`).
    pub write_calls: u64,
    /// Bytes the process caused to be sent to storage (`write_bytes`).
    pub storage_write_bytes: u64,
}

impl DiskIo {
    /// Reads process `pid`'s counters; `None` where `/proc/<pid>/io` cannot be read (not
    /// Linux, a kernel without task I/O accounting, another user's process, or it is gone).
    pub fn read_of(pid: u32) -> Option<Self> {
        parse(&std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?)
    }

    /// What grew between `before` and `self`.
    pub fn since(&self, before: &Self) -> Self {
        Self {
            read_calls: self.read_calls.saturating_sub(before.read_calls),
            write_calls: self.write_calls.saturating_sub(before.write_calls),
            storage_write_bytes: self.storage_write_bytes.saturating_sub(before.storage_write_bytes),
        }
    }

    /// `key=value` figures per order (`n/a` for all when `io` is `None` or there were no orders).
    pub fn per_order(io: Option<Self>, orders: usize) -> Vec<(&'static str, String)> {
        let figure = |value: fn(&Self) -> f64, decimals: usize| match io {
            Some(io) if orders > 0 => format!("{:.decimals$}", value(&io) / orders as f64),
            _ => "n/a".to_string(),
        };
        vec![
            ("gateway_read_calls_per_order", figure(|io| io.read_calls as f64, 1)),
            ("gateway_write_calls_per_order", figure(|io| io.write_calls as f64, 1)),
            (
                "gateway_disk_write_kib_per_order",
                figure(|io| io.storage_write_bytes as f64 / 1024.0, 2),
            ),
        ]
    }
}

impl Add for DiskIo {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            read_calls: self.read_calls + other.read_calls,
            write_calls: self.write_calls + other.write_calls,
            storage_write_bytes: self.storage_write_bytes + other.storage_write_bytes,
        }
    }
}

/// The three counters of a `/proc/<pid>/io` text; `None` if any is missing or not a number.
fn parse(text: &str) -> Option<DiskIo> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    Some(DiskIo {
        read_calls: field("syscr")?,
        write_calls: field("syscw")?,
        storage_write_bytes: field("write_bytes")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "rchar: 323934931\nwchar: 323929600\nsyscr: 632687\nsyscw: 632675\n\
                          read_bytes: 0\nwrite_bytes: 323932160\ncancelled_write_bytes: 0\n";

    #[test]
    fn the_counters_are_read_by_name_not_by_place() {
        assert_eq!(
            parse(SAMPLE),
            Some(DiskIo {
                read_calls: 632_687,
                write_calls: 632_675,
                storage_write_bytes: 323_932_160,
            })
        );
        // `cancelled_write_bytes` ends in `write_bytes` too, and comes first here.
        let reordered = "cancelled_write_bytes: 7\nwrite_bytes: 9\nsyscw: 2\nsyscr: 1\n";
        assert_eq!(
            parse(reordered),
            Some(DiskIo {
                read_calls: 1,
                write_calls: 2,
                storage_write_bytes: 9,
            })
        );
    }

    #[test]
    fn a_text_missing_a_counter_or_holding_a_word_is_no_reading() {
        assert_eq!(parse("syscr: 1\nsyscw: 2\n"), None);
        assert_eq!(parse("syscr: many\nsyscw: 2\nwrite_bytes: 3\n"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn a_span_is_the_growth_and_figures_are_per_order() {
        let before = DiskIo {
            read_calls: 100,
            write_calls: 50,
            storage_write_bytes: 4096,
        };
        let after = DiskIo {
            read_calls: 2_100,
            write_calls: 1_050,
            storage_write_bytes: 4096 + 2_048_000,
        };
        let span = after.since(&before);
        assert_eq!(span.read_calls, 2_000);
        assert_eq!(
            span + span,
            DiskIo {
                read_calls: 4_000,
                write_calls: 2_000,
                storage_write_bytes: 4_096_000,
            }
        );
        assert_eq!(
            DiskIo::per_order(Some(span), 1_000),
            vec![
                ("gateway_read_calls_per_order", "2.0".to_string()),
                ("gateway_write_calls_per_order", "1.0".to_string()),
                ("gateway_disk_write_kib_per_order", "2.00".to_string()),
            ]
        );
        assert!(DiskIo::per_order(None, 1_000).iter().all(|(_, value)| value == "n/a"));
        assert!(DiskIo::per_order(Some(span), 0).iter().all(|(_, value)| value == "n/a"));
    }

    #[test]
    fn this_process_s_counters_can_be_read() {
        if !std::path::Path::new("/proc/self/io").exists() {
            // A kernel without task I/O accounting: the bench prints n/a.
            assert_eq!(DiskIo::read_of(std::process::id()), None);
            return;
        }
        let first = DiskIo::read_of(std::process::id()).expect("/proc/self/io of this process");
        let second = DiskIo::read_of(std::process::id()).expect("/proc/self/io of this process");
        assert!(
            second.since(&first).read_calls > 0,
            "reading the counters the first time was a read call"
        );
    }
}
