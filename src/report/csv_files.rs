//! The report's CSV files, for spreadsheets and the evaluation's own tools: `summary.csv` (one
//! line per commune, program and channel) and `failure_reasons.csv` (one line per line and
//! reason). UTF-8, comma-separated; amounts are plain integers of whole đồng (`2789000`), so a
//! spreadsheet reads them as numbers; times are integer milliseconds.

use std::io::Write;

use super::aggregate::{Outcome, Report};
use super::communes::CommuneNames;
use crate::spreadsheet::text_cell;

/// The header of `summary.csv`.
pub fn summary_header() -> Vec<String> {
    let mut header = vec![
        "commune_code".to_string(),
        "commune".to_string(),
        "program".to_string(),
        "channel".to_string(),
    ];
    for outcome in Outcome::ALL {
        header.push(format!("{}_count", outcome.as_str()));
        header.push(format!("{}_amount_vnd", outcome.as_str()));
    }
    header.extend(
        [
            "total_count",
            "total_amount_vnd",
            "order_to_credit_median_ms",
            "order_to_credit_p95_ms",
        ]
        .map(str::to_string),
    );
    header
}

/// Writes `summary.csv`.
pub fn write_summary<W: Write>(out: W, report: &Report, names: &CommuneNames) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(summary_header())?;
    for (key, figures) in &report.lines {
        let mut record = vec![
            key.commune_code.clone(),
            text_cell(names.name(&key.commune_code)).into_owned(),
            key.program.clone(),
            key.channel.clone(),
        ];
        for outcome in Outcome::ALL {
            record.push(figures.count(outcome).to_string());
            record.push(figures.amount(outcome).to_string());
        }
        record.push(figures.total_count().to_string());
        record.push(figures.total_amount().to_string());
        record.push(figures.median_ms().map(|ms| ms.to_string()).unwrap_or_default());
        record.push(figures.p95_ms().map(|ms| ms.to_string()).unwrap_or_default());
        writer.write_record(record)?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes `failure_reasons.csv`.
pub fn write_reasons<W: Write>(out: W, report: &Report, names: &CommuneNames) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "commune_code",
        "commune",
        "program",
        "channel",
        "outcome",
        "reason_code",
        "count",
        "amount_vnd",
    ])?;
    for (key, reason) in &report.line_reasons {
        writer.write_record([
            key.commune_code.as_str(),
            &text_cell(names.name(&key.commune_code)),
            key.program.as_str(),
            key.channel.as_str(),
            reason.outcome.as_str(),
            &text_cell(&reason.reason_code),
            reason.count.to_string().as_str(),
            reason.amount.to_string().as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::aggregate::{aggregate, PaymentFact};

    fn facts() -> Vec<PaymentFact> {
        let base = PaymentFact {
            commune_code: "12454".to_string(),
            program: "meritorious".to_string(),
            channel: "bank_transfer".to_string(),
            outcome: Outcome::Paid,
            amount: 2_789_000,
            reason_code: None,
            order_to_credit_ms: Some(1_500),
        };
        vec![
            base.clone(),
            PaymentFact {
                outcome: Outcome::Failed,
                amount: 1_000_000,
                reason_code: Some("account_closed".to_string()),
                order_to_credit_ms: None,
                ..base
            },
        ]
    }

    #[test]
    fn the_summary_has_one_line_per_group_with_plain_integer_amounts() {
        let mut out = Vec::new();
        let written = write_summary(&mut out, &aggregate(&facts()), &CommuneNames::pilot());
        assert!(written.is_ok());
        let text = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("commune_code,commune,program,channel,paid_count,paid_amount_vnd,"));
        assert_eq!(
            lines[1],
            "12454,Đề Thám,meritorious,bank_transfer,1,2789000,1,1000000,0,0,0,0,0,0,0,0,2,3789000,1500,1500"
        );
    }

    /// A return reason comes from the provider's statement as it is: one that starts like a
    /// formula ran as one when the file was opened in a spreadsheet.
    #[test]
    fn a_reason_from_outside_that_looks_like_a_formula_is_written_as_text() {
        let mut facts = facts();
        facts[1].reason_code = Some("=HYPERLINK(\"http://x\",\"AC04\")".to_string());
        let mut out = Vec::new();
        assert!(write_reasons(&mut out, &aggregate(&facts), &CommuneNames::pilot()).is_ok());
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(text.contains(",failed,\"'=HYPERLINK("), "{text}");
    }

    #[test]
    fn reasons_are_listed_per_group() {
        let mut out = Vec::new();
        assert!(write_reasons(&mut out, &aggregate(&facts()), &CommuneNames::pilot()).is_ok());
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(
            text.contains("12454,Đề Thám,meritorious,bank_transfer,failed,account_closed,1,1000000"),
            "{text}"
        );
    }
}
