//! Batches in progress for the dashboard: the open batches (manifests whose orders are not all
//! final yet), each checked against its orders as `gateway batches show` does. A check reads
//! the batch's tallies computed in SQL (`Store::batch_facts`), and one reading is shared by
//! every viewer for `batches.check_interval_ms` (see `summary`), so the page does not add
//! checks to the closer's.

use serde::Serialize;

use super::reuse::Reuse;
use crate::batch::{describe, rfc3339, BatchCheck, BatchView};
use crate::store::{now_ms, Store};

/// Open batches checked at most per reading (oldest first).
pub const BATCHES_SHOWN: usize = 20;

/// Differences listed per batch; the rest are counted (`differences_total`). A batch whose
/// 10,000 orders all came with another amount has 10,000 differences, and every reading is
/// sent to every viewer every few seconds: listed in full, 20 such batches are tens of MB.
pub const DIFFERENCES_SHOWN: usize = 20;

/// The open batches.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Batches {
    /// Every open batch.
    pub open: usize,
    pub shown: Vec<BatchProgress>,
    /// Why the batches could not be read, as a sentence.
    pub error: Option<String>,
}

/// One open batch and how far it got.
#[derive(Clone, Debug, Serialize)]
pub struct BatchProgress {
    pub batch_id: String,
    pub program: String,
    pub period: String,
    pub commune_code: String,
    /// When its manifest arrived (RFC 3339) and how long ago.
    pub received_at: String,
    pub age_ms: i64,
    /// The manifest's own deadline, when it had one (else `batches.close_after_ms` applies).
    pub deadline_at: Option<String>,
    /// Declared, received, succeeded, failed, rejected, in progress, invalid; final orders.
    pub check: BatchCheck,
    /// The first [`DIFFERENCES_SHOWN`] differences found so far, as sentences (and in
    /// `check.differences`, as data).
    pub differences: Vec<String>,
    /// How many differences were found in all.
    pub differences_total: usize,
}

impl BatchProgress {
    /// What the page shows of `view` at `now`.
    fn of(view: BatchView, now: i64) -> Self {
        let mut check = view.check;
        let differences_total = check.differences.len();
        check.differences.truncate(DIFFERENCES_SHOWN);
        Self {
            batch_id: view.record.batch_id,
            program: view.record.program,
            period: view.record.period,
            commune_code: view.record.commune_code,
            received_at: rfc3339(view.record.received_at),
            age_ms: (now - view.record.received_at).max(0),
            deadline_at: view.record.deadline_at.map(rfc3339),
            differences: check.differences.iter().map(describe).collect(),
            differences_total,
            check,
        }
    }
}

/// Reads and checks the open batches; a store error is reported inside, not raised, so the
/// rest of the dashboard still shows.
/// [`in_progress`] within `within`, one reading shared by every viewer for a while
/// (`shared`). A reading that could not check every batch is shown but not kept: the next
/// refresh reads again; one that did not come in time finishes anyway and is kept for the next
/// (see [`Reuse::get_within`]).
pub async fn in_progress_within(
    shared: &std::sync::Arc<Reuse<Batches>>,
    store: &Store,
    within: std::time::Duration,
) -> Batches {
    let store = store.clone();
    let read = move || async move {
        let batches = in_progress(&store).await;
        match batches.error {
            None => Ok(batches),
            Some(_) => Err(batches),
        }
    };
    match shared.get_within(within, read).await {
        Some(Ok(batches) | Err(batches)) => batches,
        None => Batches {
            error: Some(format!(
                "The batches could not be read within {:.1} s.",
                within.as_secs_f64()
            )),
            ..Default::default()
        },
    }
}

pub async fn in_progress(store: &Store) -> Batches {
    let open = match store.open_batches().await {
        Ok(open) => open,
        Err(error) => {
            return Batches {
                error: Some(format!("Could not read the batches: {error}.")),
                ..Default::default()
            }
        }
    };
    let mut batches = Batches {
        open: open.len(),
        ..Default::default()
    };
    let now = now_ms();
    for record in open.into_iter().take(BATCHES_SHOWN) {
        let batch_id = record.batch_id.clone();
        // The deadline from `batches.close_after_ms` is not shown (the setting is not in reach
        // here), so the close-after value passed does not matter.
        match BatchView::load(store, record, 0).await {
            Ok(view) => batches.shown.push(BatchProgress::of(view, now)),
            // One batch that cannot be checked does not hide the others.
            Err(error) => {
                tracing::warn!(batch_id = %batch_id, error = %error, "The dashboard could not check a batch.");
                batches.error = Some(format!("Could not check batch {batch_id}: {error}."));
            }
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{BatchStatus, Difference, DifferenceKind};
    use crate::store::BatchRecord;

    #[test]
    fn a_batch_with_thousands_of_differences_lists_twenty_and_counts_the_rest() {
        let differences: Vec<Difference> = (0..10_000)
            .map(|n| Difference {
                kind: DifferenceKind::AmountMismatch,
                order_id: Some(format!("ORD-{n:05}")),
                declared: Some(1_500_000),
                actual: Some(1_500_001),
            })
            .collect();
        let view = BatchView {
            record: BatchRecord {
                batch_id: "B-1".to_string(),
                program: "social_assistance".to_string(),
                period: "2026-12".to_string(),
                commune_code: "00001".to_string(),
                order_count: 10_000,
                total_amount: 15_000_000_000,
                has_lines: true,
                deadline_at: None,
                created_at: None,
                received_at: 1_000,
                status: BatchStatus::Open,
                differences: 10_000,
                closed_at: None,
                result: None,
            },
            check: BatchCheck {
                differences,
                ..Default::default()
            },
            deadline_ms: 0,
            closed_by: None,
        };
        let shown = BatchProgress::of(view, 4_000);
        assert_eq!(shown.differences_total, 10_000);
        assert_eq!(shown.differences.len(), DIFFERENCES_SHOWN);
        assert_eq!(shown.check.differences.len(), DIFFERENCES_SHOWN);
        assert!(shown.differences[0].contains("ORD-00000"), "{}", shown.differences[0]);
        assert_eq!(shown.age_ms, 3_000);
        let json = serde_json::to_string(&shown).expect("a batch's progress serialises");
        assert!(json.len() < 16 * 1024, "{} bytes", json.len());
    }
}
