//! A provider statement as the reconciliation reads it, whatever its file format, and the
//! errors that make a statement unreadable.

use std::str::FromStr;

use chrono::NaiveDate;

/// What a statement line says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// The provider paid a beneficiary.
    Payout,
    /// A payout came back after it succeeded, with the provider's return reason code: a
    /// genuine return, which says why the beneficiary's side sent the money back.
    Return { reason_code: String },
    /// The provider reversed a payout entry (camt.053 `RvslInd`) without return information:
    /// usually the correction of an entry booked in error, such as a duplicate, which says
    /// nothing about whether the beneficiary was paid. Never applied as a return.
    Reversal,
}

/// One line of a provider statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    /// The provider's own reference for the line (unique per provider): what a return is
    /// remembered by, so that the same statement applied twice changes nothing.
    pub entry_ref: String,
    /// The client reference on the line: the gateway's payment id (sent as idempotency key)
    /// or, where the provider only carries the end-to-end id, the upstream order id.
    pub reference: String,
    /// Whole đồng.
    pub amount: u64,
    /// The Vietnam calendar day the line was booked.
    pub booked_on: NaiveDate,
    pub kind: LineKind,
}

/// A parsed statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedStatement {
    /// The Vietnam day the statement says it covers, when its format says (camt.053 does).
    pub date: Option<NaiveDate>,
    pub lines: Vec<StatementLine>,
}

impl ParsedStatement {
    /// The day to reconcile: the statement's own, else the one day all its lines were booked.
    pub fn day(&self) -> Option<NaiveDate> {
        self.date.or_else(|| {
            let first = self.lines.first()?.booked_on;
            self.lines.iter().all(|line| line.booked_on == first).then_some(first)
        })
    }
}

/// Why a statement could not be read. Each message names the place and the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the statement is not UTF-8 text")]
    NotUtf8,
    #[error("the statement is not well-formed XML: {0}")]
    Xml(String),
    #[error("the statement is not a camt.053.001.08 document: {0}")]
    NotCamt053(String),
    #[error("camt.053 entry {entry}: {problem}")]
    Entry { entry: usize, problem: String },
    #[error("the statement is not in the {layout} layout: {problem}")]
    Layout { layout: &'static str, problem: String },
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
}

/// Statements are cut at Vietnam midnight.
pub use gateway_adapter::vietnam_time::{date as vietnam_date, offset as vietnam};

/// Whole đồng from a statement amount: digits, optionally with a fraction of zeros only
/// (`2789000` or `2789000.00`); VND has no minor unit, so any other fraction is refused.
pub fn parse_dong(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("amount `{text}` is not a number of đồng"));
    }
    if !fraction.bytes().all(|b| b == b'0') {
        return Err(format!("amount `{text}` has a fraction; VND has no minor unit"));
    }
    u64::from_str(whole).map_err(|_| format!("amount `{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_dong() {
        assert_eq!(parse_dong("2789000"), Ok(2_789_000));
        assert_eq!(parse_dong(" 2789000.00 "), Ok(2_789_000));
        for bad in ["2789000.5", "", "-5", "1e6", "2.789.000", "99999999999999999999999"] {
            assert!(parse_dong(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_day_is_the_statements_own_or_the_one_day_of_its_lines() {
        let on = |day: u32| NaiveDate::from_ymd_opt(2026, 12, day).unwrap_or_default();
        let line = |day: u32| StatementLine {
            entry_ref: format!("E{day}"),
            reference: "pay_1".into(),
            amount: 1,
            booked_on: on(day),
            kind: LineKind::Payout,
        };
        let mut statement = ParsedStatement {
            date: None,
            lines: vec![line(3), line(3)],
        };
        assert_eq!(statement.day(), Some(on(3)));
        statement.lines.push(line(4));
        assert_eq!(statement.day(), None, "lines on two days and no date of its own");
        statement.date = Some(on(4));
        assert_eq!(statement.day(), Some(on(4)));
        assert_eq!(ParsedStatement::default().day(), None);
    }
}
