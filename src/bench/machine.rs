//! Where the machine's CPU went during a run: the whole machine's busy time and that of the
//! programs beside the gateway (RabbitMQ, PostgreSQL), read from `/proc`, so that a run on a
//! shared machine says which program set its pace (Linux only; elsewhere nothing is read).

use std::time::Duration;

/// RabbitMQ's Erlang VM as `/proc/<pid>/stat` names it.
const BROKER_PROGRAM: &str = "beam.smp";
/// PostgreSQL's server processes (the postmaster and every backend).
const DATABASE_PROGRAM: &str = "postgres";

/// CPU time used so far: by the machine (every core, not idle), by RabbitMQ and by PostgreSQL
/// on this machine; `None` for what could not be read or does not run here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuUse {
    pub machine: Option<Duration>,
    pub broker: Option<Duration>,
    pub database: Option<Duration>,
}

impl CpuUse {
    pub fn read() -> Self {
        let processes = process_stats();
        Self {
            machine: std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|stat| machine_busy(&stat)),
            broker: program_cpu(&processes, BROKER_PROGRAM),
            database: program_cpu(&processes, DATABASE_PROGRAM),
        }
    }

    /// What was used between `before` and `self`.
    pub fn since(self, before: Self) -> Self {
        let between = |after: Option<Duration>, before: Option<Duration>| {
            after.zip(before).map(|(after, before)| after.saturating_sub(before))
        };
        Self {
            machine: between(self.machine, before.machine),
            broker: between(self.broker, before.broker),
            database: between(self.database, before.database),
        }
    }
}

/// Linux reports CPU time in USER_HZ, which is 100 on every platform Rust targets.
fn ticks(count: u64) -> Duration {
    Duration::from_millis(count * 10)
}

/// Busy time of all cores from `/proc/stat`'s `cpu` line: user, nice, system, irq, softirq
/// and steal (idle and I/O wait are not work).
fn machine_busy(stat: &str) -> Option<Duration> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&index| fields.get(index).copied().unwrap_or(0))
        .sum();
    Some(ticks(busy))
}

/// One process's name and CPU time, its own and that of its children it has reaped.
#[derive(Debug, PartialEq, Eq)]
struct ProcessCpu {
    name: String,
    cpu: Duration,
}

/// What a `/proc/<pid>/stat` line says of a process's CPU time.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct StatLine {
    pub name: String,
    /// utime + stime (fields 14 and 15).
    pub own: Duration,
    /// cutime + cstime (fields 16 and 17): children it waited for.
    pub reaped: Duration,
}

/// Parses a `/proc/<pid>/stat` line; the name is in parentheses and may hold spaces and
/// parentheses of its own, so the fields are counted from the last `)`.
pub(super) fn stat_line(stat: &str) -> Option<StatLine> {
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field N of the whole line is N - 3 after the name.
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some(StatLine {
        name,
        own: ticks(field(14)? + field(15)?),
        reaped: ticks(field(16)? + field(17)?),
    })
}

fn process_cpu(stat: &str) -> Option<ProcessCpu> {
    let line = stat_line(stat)?;
    Some(ProcessCpu {
        name: line.name,
        cpu: line.own + line.reaped,
    })
}

fn process_stats() -> Vec<ProcessCpu> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| process_cpu(&stat))
        .collect()
}

/// The CPU time of every process named `name`, children it reaped included: a PostgreSQL
/// backend that ended during the run counts through the postmaster that reaped it, one still
/// running through itself, so the sum only grows. `None` when no such process runs here.
fn program_cpu(processes: &[ProcessCpu], name: &str) -> Option<Duration> {
    let mut found = processes.iter().filter(|process| process.name == name).peekable();
    found.peek()?;
    Some(found.map(|process| process.cpu).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_is_busy_with_everything_but_idle_and_io_wait() {
        let stat = "cpu  100 20 30 5000 400 6 7 8 0 0\ncpu0 50 10 15 2500 200 3 3 4 0 0\nintr 1 2 3\n";
        // user 100 + nice 20 + system 30 + irq 6 + softirq 7 + steal 8 = 171 ticks.
        assert_eq!(machine_busy(stat), Some(Duration::from_millis(1_710)));
        assert_eq!(machine_busy("intr 1 2 3\n"), None);
        assert_eq!(machine_busy("cpu  1 2 x 4\n"), None);
    }

    #[test]
    fn a_process_line_gives_its_name_and_its_own_and_reaped_time() {
        let stat = "4242 (beam.smp) S 1 4242 4242 0 -1 4194560 9 0 0 0 150 50 7 3 20 0 30 0 100 200 300";
        let process = process_cpu(stat).expect("a stat line");
        assert_eq!(process.name, "beam.smp");
        assert_eq!(process.cpu, Duration::from_millis((150 + 50 + 7 + 3) * 10));
        // A name with spaces and parentheses of its own.
        let odd = "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0";
        assert_eq!(
            process_cpu(odd).map(|process| process.name),
            Some("a (b) c".to_string())
        );
        assert_eq!(process_cpu("7 (cut) R 1 2"), None);
    }

    #[test]
    fn a_program_sums_its_processes_and_is_absent_when_none_runs() {
        let processes = [
            ProcessCpu {
                name: "postgres".to_string(),
                cpu: Duration::from_millis(300),
            },
            ProcessCpu {
                name: "beam.smp".to_string(),
                cpu: Duration::from_millis(50),
            },
            ProcessCpu {
                name: "postgres".to_string(),
                cpu: Duration::from_millis(20),
            },
        ];
        assert_eq!(program_cpu(&processes, "postgres"), Some(Duration::from_millis(320)));
        assert_eq!(program_cpu(&processes, "mysqld"), None);
    }

    #[test]
    fn this_machine_is_read_and_its_use_never_goes_back() {
        let before = CpuUse::read();
        let mut spin = 0u64;
        for i in 0..5_000_000u64 {
            spin = spin.wrapping_add(i * i);
        }
        assert!(spin > 0);
        let used = CpuUse::read().since(before);
        assert!(used.machine.is_some(), "/proc/stat on Linux");
        let this_program = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| process_cpu(&stat))
            .expect("/proc/self/stat on Linux");
        assert!(program_cpu(&process_stats(), &this_program.name).is_some());
    }
}
