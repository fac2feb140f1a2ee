//! Progress of a long operator command: a bar on a terminal, and in a log (cron, CI, `| tee`)
//! a line for each tenth done.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// How far a command got through `total` items.
pub struct Progress {
    bar: ProgressBar,
    lines: Option<TenthLines>,
}

impl Progress {
    /// Shown only when `show`; `verb` and `noun` name the work (`published`, `orders`). The
    /// bar's template is `bar_template` (indicatif's), for the rate or time left to be shown.
    pub fn new(show: bool, total: usize, verb: &'static str, noun: &'static str, bar_template: &str) -> Self {
        let bar = if show {
            ProgressBar::new(total as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(ProgressStyle::with_template(bar_template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        let lines = (show && !std::io::stderr().is_terminal()).then(|| TenthLines::new(total, verb, noun));
        Self { bar, lines }
    }

    /// The total once it is known (a queue's count comes with its first message).
    pub fn set_total(&mut self, total: usize) {
        self.bar.set_length(total as u64);
        if let Some(lines) = self.lines.as_mut() {
            lines.total = total;
        }
    }

    /// `done` items are done; in a log, prints the line of a tenth just completed.
    pub fn advance(&mut self, done: usize) {
        self.bar.set_position(done as u64);
        if let Some(line) = self.lines.as_mut().and_then(|lines| lines.at(done)) {
            eprintln!("{line}");
        }
    }

    /// Takes the bar off the terminal.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// A progress line for each tenth done, for output that is not a terminal.
struct TenthLines {
    total: usize,
    verb: &'static str,
    noun: &'static str,
    /// The tenths told so far.
    told: usize,
}

impl TenthLines {
    fn new(total: usize, verb: &'static str, noun: &'static str) -> Self {
        Self {
            total,
            verb,
            noun,
            told: 0,
        }
    }

    /// The line to print once `done` items are done, if it completes another tenth.
    fn at(&mut self, done: usize) -> Option<String> {
        let tenths = (done * 10).checked_div(self.total)?.min(10);
        if tenths <= self.told {
            return None;
        }
        self.told = tenths;
        Some(format!(
            "{} {done} of {} {} ({}%)",
            self.verb,
            self.total,
            self.noun,
            tenths * 10
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_gets_a_line_for_each_tenth_done() {
        let mut lines = TenthLines::new(172_000, "published", "orders");
        assert_eq!(lines.at(256), None);
        assert_eq!(
            lines.at(17_408).as_deref(),
            Some("published 17408 of 172000 orders (10%)")
        );
        assert_eq!(lines.at(17_664), None, "once per tenth");
        assert_eq!(
            lines.at(172_000).as_deref(),
            Some("published 172000 of 172000 orders (100%)")
        );
        assert_eq!(TenthLines::new(0, "replayed", "dead letters").at(0), None);
    }
}
