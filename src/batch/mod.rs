//! Batch manifests and control totals: a manifest declares a payout list (count, total and,
//! optionally, each order's id and amount); the closer checks the orders that arrived against
//! it and publishes one batch result per batch (`batch.<status>` on `payments.results`).
//!
//! Parsing ([`manifest`]) and the check ([`check`]) are pure; the store keeps batches
//! (`store/batches.rs`) and computes a batch's tallies in SQL (`Store::batch_facts`, read
//! by [`assess`]), [`closer`] runs the checks, [`view`] renders them for the CLI.

mod check;
pub mod closer;
mod intake;
mod manifest;
mod result;
mod settings;
mod view;

#[cfg(test)]
mod tests;

pub use check::{
    assess, check, facts, BatchCheck, BatchFacts, BatchStatus, Declared, Difference, DifferenceKind, LineFacts,
    Outcome, ReceivedOrder, Tally, MAX_NAMED_EXTRA_ORDERS,
};
pub use manifest::{
    is_manifest, parse_manifest, BatchManifest, ManifestLine, MANIFEST_KIND, MAX_MANIFEST_BYTES, MAX_MANIFEST_LINES,
    MAX_ORDER_COUNT,
};
pub(crate) use manifest::{LINE_FIELDS as MANIFEST_LINE_FIELDS, MANIFEST_FIELDS};
pub use result::{rfc3339, BatchHeader, BatchRejection, BatchResult, ClosedBy, REJECTED_ROUTING_KEY};
pub use settings::{BatchSettings, DEFAULT_CHECK_INTERVAL_MS, DEFAULT_CLOSE_AFTER_MS};
pub use view::{describe, render_list, render_show, BatchView};

/// Every reason code a manifest can be rejected with that orders do not have (it shares
/// the others: `malformed_json`, `unknown_field`, `invalid_batch_id`, `amount_fractional`, …).
pub const MANIFEST_REASON_CODES: &[(&str, &str)] = &[
    ("manifest_too_large", "the manifest body is larger than 1 MiB"),
    ("unknown_message_kind", "kind is not batch_manifest"),
    ("invalid_order_count", "order_count is not from 1 to 1,000,000"),
    ("too_many_manifest_lines", "orders lists more than 10,000 lines"),
    ("duplicate_manifest_line", "orders lists the same order id twice"),
    (
        "manifest_count_mismatch",
        "the number of lines in orders is not order_count",
    ),
    (
        "manifest_total_mismatch",
        "the amounts in orders do not add up to total_amount",
    ),
    ("invalid_deadline", "deadline is not an RFC 3339 timestamp"),
    (
        "unstorable_manifest",
        "the gateway's store refuses a value of the manifest",
    ),
];
