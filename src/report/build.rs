//! Makes the report from a store: reads the period's payments, adds them up and writes
//! `summary.csv`, `failure_reasons.csv` and `report.html` into a folder. The CLI and the tests
//! both call [`write_report`].

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::aggregate::{aggregate, Outcome, PaymentFact, Report};
use super::communes::CommuneNames;
use super::{csv_files, html, Scope};
use crate::store::{ReportFilter, ReportRow, Store};

/// What [`write_report`] wrote.
#[derive(Clone, Debug)]
pub struct Written {
    pub report: Report,
    pub html: PathBuf,
    pub summary_csv: PathBuf,
    pub reasons_csv: PathBuf,
    /// Payments of the batch asked for that belong to other periods, and are not in the report.
    pub batch_elsewhere: i64,
}

/// The fact the report counts for one stored payment. A returned payment's reason is the
/// provider's return reason (`returned_by_provider` when it gave none).
pub fn fact_of(row: &ReportRow) -> PaymentFact {
    let outcome = Outcome::of(row.state, row.returned);
    let reason_code = if outcome == Outcome::Returned {
        Some(
            row.return_reason_code
                .clone()
                .unwrap_or_else(|| crate::store::RETURNED_BY_PROVIDER.to_string()),
        )
    } else {
        row.reason_code.clone()
    };
    PaymentFact {
        commune_code: row.commune_code.clone(),
        program: row.program.clone(),
        channel: row.channel.clone(),
        outcome,
        amount: row.amount,
        reason_code,
        // A payout the provider refunded uncredited never reached the beneficiary: it has no
        // time to credit, though the gateway once recorded it succeeded.
        order_to_credit_ms: row
            .credited_at
            .filter(|_| row.return_reason_code.as_deref() != Some(crate::store::REFUNDED_UNCREDITED))
            .map(|credited| credited - row.claimed_at),
    }
}

/// The sentences under the report's tables: how each figure is counted.
pub fn notes() -> Vec<String> {
    vec![
        "Counts and amounts are per payment the gateway claimed for the period; amounts are whole đồng.".to_string(),
        "Paid: credited by the provider. Pending: accepted, being sent, waiting for the provider or for a retry. \
         Needs review: waiting for a person (gateway orders list)."
            .to_string(),
        "Time from order to credit: from the moment the gateway took the order off the queue to the moment it \
         learnt of the credit (callback or status inquiry); median and 95th percentile by nearest rank."
            .to_string(),
        "Rejected: refused by the gateway's rules after the order was taken (e.g. a possible duplicate payment). \
         Orders refused as invalid at the queue are not in this report: the store keeps only their order id; \
         their rejected results are on payments.results and their dead letters on payments.dlq."
            .to_string(),
        "Returned: credited, then sent back by the provider, as `gateway reconcile` recorded it from a \
         statement, or never credited and refunded, as a person recorded it (`gateway carried forget --as \
         refunded`, reason refunded_uncredited: not in the times to credit); not counted as paid. A return not \
         reconciled yet is still counted as paid."
            .to_string(),
    ]
}

/// Reads, adds up and writes the report into `out_dir` (created if needed).
pub async fn write_report(
    store: &Store,
    filter: &ReportFilter,
    names: &CommuneNames,
    out_dir: &Path,
    progress: impl FnMut(u64),
) -> anyhow::Result<Written> {
    let rows = store
        .report_rows(filter, progress)
        .await
        .context("could not read the payments from the store")?;
    let batch_elsewhere = store
        .report_batch_elsewhere(filter)
        .await
        .context("could not count the batch's payments of other periods")?;
    let facts: Vec<PaymentFact> = rows.iter().map(fact_of).collect();
    let report = aggregate(&facts);
    std::fs::create_dir_all(out_dir).with_context(|| format!("could not create {}", out_dir.display()))?;
    let summary_csv = out_dir.join("summary.csv");
    let reasons_csv = out_dir.join("failure_reasons.csv");
    let html_path = out_dir.join("report.html");
    let create =
        |path: &Path| std::fs::File::create(path).with_context(|| format!("could not write {}", path.display()));
    csv_files::write_summary(create(&summary_csv)?, &report, names)
        .with_context(|| format!("could not write {}", summary_csv.display()))?;
    csv_files::write_reasons(create(&reasons_csv)?, &report, names)
        .with_context(|| format!("could not write {}", reasons_csv.display()))?;
    let scope = Scope {
        period: filter.period.clone(),
        batch_id: filter.batch_id.clone(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let mut notes = notes();
    if let (Some(batch_id), true) = (&filter.batch_id, batch_elsewhere > 0) {
        notes.insert(0, elsewhere_note(batch_id, batch_elsewhere));
    }
    let page = html::render(&report, &scope, names, &notes);
    std::fs::write(&html_path, page).with_context(|| format!("could not write {}", html_path.display()))?;
    Ok(Written {
        report,
        html: html_path,
        summary_csv,
        reasons_csv,
        batch_elsewhere,
    })
}

/// What a report of one period and one batch says of the batch's payments of other periods.
pub fn elsewhere_note(batch_id: &str, count: i64) -> String {
    format!(
        "Batch {batch_id} also holds {count} payment(s) of other periods (arrears, say), which are not in this \
         report: each is in the report of its own period."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::PaymentState;

    fn row(state: PaymentState, credited_at: Option<i64>) -> ReportRow {
        ReportRow {
            payment_id: "pay_1".to_string(),
            commune_code: "12454".to_string(),
            program: "meritorious".to_string(),
            channel: "bank_transfer".to_string(),
            state,
            amount: 2_789_000,
            reason_code: None,
            claimed_at: 1_000,
            credited_at,
            returned: false,
            return_reason_code: None,
        }
    }

    #[test]
    fn a_stored_payment_becomes_a_fact_with_its_credit_time() {
        let fact = fact_of(&row(PaymentState::Succeeded, Some(4_500)));
        assert_eq!(fact.outcome, Outcome::Paid);
        assert_eq!(fact.order_to_credit_ms, Some(3_500));
        let pending = fact_of(&row(PaymentState::Pending, None));
        assert_eq!(pending.outcome, Outcome::Pending);
        assert_eq!(pending.order_to_credit_ms, None);
    }

    #[test]
    fn a_recorded_return_turns_a_success_into_returned_with_the_providers_reason() {
        let returned = ReportRow {
            returned: true,
            return_reason_code: Some("AC04".to_string()),
            ..row(PaymentState::Succeeded, Some(2_000))
        };
        let fact = fact_of(&returned);
        assert_eq!(fact.outcome, Outcome::Returned);
        assert_eq!(fact.reason_code.as_deref(), Some("AC04"));
        let without_reason = ReportRow {
            return_reason_code: None,
            ..returned
        };
        assert_eq!(
            fact_of(&without_reason).reason_code.as_deref(),
            Some("returned_by_provider")
        );
    }
}
