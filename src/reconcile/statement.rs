//! A provider statement as the reconciliation reads it, whatever its file format, and the
//! errors that make a statement unreadable.

use std::str::FromStr;

use chrono::NaiveDate;

/// What a statement line says happened.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// The provider paid a beneficiary.
    Payout,
    /// A payout came back after it succeeded, with the provider's return reason code: a
    /// genuine return, which says why the beneficiary's side sent the money back.
    Return { reason_code: String },
    /// The provider reversed an entry (camt.053 `RvslInd`) without return information:
    /// usually the correction of an entry booked in error, such as a duplicate payout, or a
    /// return taken back (a reversed credit), which says nothing certain about whether the
    /// beneficiary was paid. Never applied as a return.
    Reversal,
    /// Money into the disbursement account with neither return information nor a reversal
    /// indicator. The account being funded, unless its reference names a payment: then maybe a
    /// return the bank booked without saying so. Never applied as a return; one that names no
    /// payment is not listed at all.
    Credit,
}

/// One line of a provider statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StatementLine {
    /// The provider's own reference for the line (unique per provider): what a return is
    /// remembered by, so that the same statement applied twice changes nothing.
    pub entry_ref: String,
    /// The provider's reference for the booking, where it is not `entry_ref`: a line of a
    /// camt.053 batch entry whose transactions share the entry's reference is named
    /// `<ref>/<position>`, and booked as `<ref>`, which is what the provider reports.
    pub booked_as: Option<String>,
    /// The client reference on the line: the gateway's payment id (sent as idempotency key)
    /// or, where the provider only carries the end-to-end id, the upstream order id.
    pub reference: String,
    /// A second client reference the line carries (camt.053's `EndToEndId` beside an
    /// `InstrId`): tried when `reference` names no payment, since a bank may put its own id in
    /// `InstrId` of a return while the end-to-end id still names the order.
    pub other_reference: Option<String>,
    /// Whole đồng.
    pub amount: u64,
    /// The Vietnam calendar day the line was booked.
    pub booked_on: NaiveDate,
    pub kind: LineKind,
}

/// A parsed statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedStatement {
    /// The Vietnam day the statement says it covers, when its format says (camt.053 does) and
    /// it is one day.
    pub date: Option<NaiveDate>,
    /// The first and last Vietnam day of a statement that says it covers more than one (a
    /// bank whose day is cut at another hour than midnight, or a weekend's statement): it is
    /// reconciled one day of it at a time, named by `--date`.
    pub several_days: Option<(NaiveDate, NaiveDate)>,
    pub lines: Vec<StatementLine>,
}

impl ParsedStatement {
    /// The day to reconcile: the statement's own, else the one day all its lines were booked.
    pub fn day(&self) -> Option<NaiveDate> {
        if self.several_days.is_some() {
            return None;
        }
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
/// The dot is a decimal point here, as in XML (camt.053); CSV amounts go through
/// [`parse_csv_dong`] first.
pub fn parse_dong(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("amount `{text}` is not a number of đồng"));
    }
    if !fraction.bytes().all(|b| b == b'0') {
        return Err(format!("amount `{text}` has a fraction; VND has no minor unit"));
    }
    // No payment is larger than a signed 64-bit count of đồng (the gateway's amounts), and a
    // line beyond it could only be a corrupt file: refused, so that sums of lines stay exact.
    u64::from_str(whole)
        .ok()
        .filter(|amount| i64::try_from(*amount).is_ok())
        .ok_or_else(|| format!("amount `{text}` is too large"))
}

/// Whole đồng from an amount in a CSV statement (VNPost, the wallets), where a person or a
/// spreadsheet may have written it the Vietnamese way, `500.000` for five hundred thousand:
/// read as a decimal point that would be 500 đồng, a thousandfold short. An amount whose `.`
/// or `,` each stand before exactly three digits is digit grouping, and refused with a message
/// that says so, never guessed; anything else is read as [`parse_dong`] reads it.
pub fn parse_csv_dong(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let mut groups = text.split(['.', ',']);
    let first = groups.next().unwrap_or_default();
    let mut rest = groups.peekable();
    // Grouping puts one to three digits before the first separator: `2789000.000` is a
    // decimal point, `2.789.000` grouping.
    let grouped = rest.peek().is_some()
        && (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && rest.all(|group| group.len() == 3 && group.bytes().all(|b| b.is_ascii_digit()));
    if grouped {
        return Err(format!(
            "amount `{text}` has digit grouping (`.` or `,` before three digits); write whole đồng without separators, as `{}`",
            text.replace(['.', ','], "")
        ));
    }
    parse_dong(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_dong() {
        assert_eq!(parse_dong("2789000"), Ok(2_789_000));
        assert_eq!(parse_dong(" 2789000.00 "), Ok(2_789_000));
        assert_eq!(parse_dong("9223372036854775807"), Ok(i64::MAX as u64));
        for bad in [
            "2789000.5",
            "",
            "-5",
            "1e6",
            "2.789.000",
            "99999999999999999999999",
            "9223372036854775808",
            "18446744073709551615",
        ] {
            assert!(parse_dong(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_dong("2.789.000"),
            Err("amount `2.789.000` is not a number of đồng".to_string()),
            "two points are not a fraction"
        );
    }

    /// `500.000` is how a Vietnamese spreadsheet writes five hundred thousand đồng; read with
    /// the dot as a decimal point it was 500 đồng, and the line became an amount mismatch with
    /// every total a thousandfold short.
    #[test]
    fn a_csv_amount_with_digit_grouping_is_refused_not_read_a_thousandfold_short() {
        for grouped in ["500.000", "2.789.000", "500,000", "1,500,000"] {
            let error = parse_csv_dong(grouped).expect_err(grouped);
            assert!(error.contains("digit grouping"), "{grouped}: {error}");
        }
        assert_eq!(parse_csv_dong("500000"), Ok(500_000));
        assert_eq!(parse_csv_dong(" 2789000.00 "), Ok(2_789_000));
        assert_eq!(parse_csv_dong("2789000.0"), Ok(2_789_000));
        assert_eq!(
            parse_csv_dong("2789000.000"),
            Ok(2_789_000),
            "a decimal point, not grouping"
        );
        for bad in ["5.5", "5,5", "", ".000", "-500.000"] {
            assert!(parse_csv_dong(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_day_is_the_statements_own_or_the_one_day_of_its_lines() {
        let on = |day: u32| NaiveDate::from_ymd_opt(2026, 12, day).unwrap_or_default();
        let line = |day: u32| StatementLine {
            entry_ref: format!("E{day}"),
            booked_as: None,
            reference: "pay_1".into(),
            other_reference: None,
            amount: 1,
            booked_on: on(day),
            kind: LineKind::Payout,
        };
        let mut statement = ParsedStatement {
            date: None,
            several_days: None,
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
