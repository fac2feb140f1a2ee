//! Batches in progress for the dashboard: the open batches (manifests whose orders are not all
//! final yet), each checked against its orders as `gateway batches show` does. A check reads
//! the batch's tallies computed in SQL (`Store::batch_facts`), and one reading is shared by
//! every viewer for `batches.check_interval_ms` (see `summary`), so the page does not add
//! checks to the closer's.

use serde::Serialize;

use crate::batch::{describe, rfc3339, BatchCheck, BatchView};
use crate::store::{now_ms, Store};

/// Open batches checked at most per reading (oldest first).
pub const BATCHES_SHOWN: usize = 20;

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
    /// The differences found so far, as sentences.
    pub differences: Vec<String>,
}

/// Reads and checks the open batches; a store error is reported inside, not raised, so the
/// rest of the dashboard still shows.
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
            Ok(view) => batches.shown.push(BatchProgress {
                batch_id: view.record.batch_id.clone(),
                program: view.record.program.clone(),
                period: view.record.period.clone(),
                commune_code: view.record.commune_code.clone(),
                received_at: rfc3339(view.record.received_at),
                age_ms: (now - view.record.received_at).max(0),
                deadline_at: view.record.deadline_at.map(rfc3339),
                differences: view.check.differences.iter().map(describe).collect(),
                check: view.check,
            }),
            // One batch that cannot be checked does not hide the others.
            Err(error) => {
                tracing::warn!(batch_id = %batch_id, error = %error, "The dashboard could not check a batch.");
                batches.error = Some(format!("Could not check batch {batch_id}: {error}."));
            }
        }
    }
    batches
}
