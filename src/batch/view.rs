//! What `gateway batches list|show` print: a batch's progress, totals and differences — live
//! for an open batch, as published for a closed one — rendered as text.

use std::fmt::Write;

use gateway_adapter::money::format_dong;

use super::check::{assess, BatchCheck, BatchStatus, Difference, DifferenceKind, Tally};
use super::result::{rfc3339, BatchResult, ClosedBy};
use crate::store::{BatchRecord, Store, StoreError};

/// One batch as an operator sees it.
#[derive(Clone, Debug)]
pub struct BatchView {
    pub record: BatchRecord,
    /// Live while open (missing orders are still awaited); the published result once closed.
    pub check: BatchCheck,
    /// When it closes (or closed) at the latest, milliseconds since 1970.
    pub deadline_ms: i64,
    pub closed_by: Option<ClosedBy>,
}

impl BatchView {
    /// The view of `record`, checking an open batch against its orders now.
    pub async fn load(store: &Store, record: BatchRecord, close_after_ms: u64) -> Result<Self, StoreError> {
        let deadline_ms = record.deadline_ms(close_after_ms);
        let (check, closed_by) = match &record.result {
            Some(result) => (from_result(result), Some(result.closed_by)),
            None => (assess(&store.batch_facts(&record, false).await?, false), None),
        };
        Ok(Self {
            record,
            check,
            deadline_ms,
            closed_by,
        })
    }
}

fn from_result(result: &BatchResult) -> BatchCheck {
    BatchCheck {
        declared: result.declared,
        received: result.received,
        succeeded: result.succeeded,
        failed: result.failed,
        rejected: result.rejected,
        in_progress: result.in_progress,
        invalid: result.invalid,
        final_orders: result.final_orders,
        complete: result.status == BatchStatus::Balanced,
        differences: result.differences.clone(),
    }
}

/// `gateway batches list`: one line per batch and a header.
pub fn render_list(views: &[BatchView]) -> String {
    let header = [
        "BATCH",
        "STATUS",
        "FINAL/DECLARED",
        "RECEIVED",
        "DECLARED ₫",
        "RECEIVED ₫",
        "DIFFERENCES",
        "DEADLINE",
    ];
    let rows: Vec<[String; 8]> = views
        .iter()
        .map(|view| {
            [
                view.record.batch_id.clone(),
                view.record.status.as_str().to_string(),
                format!("{}/{}", view.check.final_orders, view.check.declared.orders),
                view.check.received.orders.to_string(),
                format_dong(view.check.declared.amount),
                format_dong(view.check.received.amount),
                view.check.differences.len().to_string(),
                rfc3339(view.deadline_ms),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    let _ = writeln!(out, "{} batch{}", views.len(), if views.len() == 1 { "" } else { "es" });
    out
}

/// `gateway batches show`: progress, totals by outcome, and every difference.
pub fn render_show(view: &BatchView) -> String {
    let (record, check) = (&view.record, &view.check);
    let mut out = String::new();
    let _ = writeln!(out, "batch        {}", record.batch_id);
    let status = match (view.closed_by, record.closed_at) {
        (Some(by), Some(at)) => format!(
            "{} (closed {} at {})",
            record.status.as_str(),
            closed_by(by),
            rfc3339(at)
        ),
        _ => format!(
            "{} (closes at {} at the latest)",
            record.status.as_str(),
            rfc3339(view.deadline_ms)
        ),
    };
    let _ = writeln!(out, "status       {status}");
    let _ = writeln!(
        out,
        "list         {} {} commune {}",
        record.program, record.period, record.commune_code
    );
    let _ = writeln!(
        out,
        "progress     {} of {} declared orders final, {} received",
        check.final_orders, check.declared.orders, check.received.orders
    );
    let _ = writeln!(out, "\n{:<13}{:>8}  {:>16}", "", "orders", "amount ₫");
    let tallies: [(&str, Tally); 7] = [
        ("declared", check.declared),
        ("received", check.received),
        ("succeeded", check.succeeded),
        ("failed", check.failed),
        ("rejected", check.rejected),
        ("in progress", check.in_progress),
        ("invalid", check.invalid),
    ];
    for (name, tally) in tallies {
        let _ = writeln!(out, "{name:<13}{:>8}  {:>16}", tally.orders, format_dong(tally.amount));
    }
    if check.differences.is_empty() {
        let _ = writeln!(out, "\nno differences");
    } else {
        let _ = writeln!(out, "\ndifferences ({}):", check.differences.len());
        for difference in &check.differences {
            let _ = writeln!(out, "  {}", describe(difference));
        }
    }
    out
}

fn closed_by(by: ClosedBy) -> &'static str {
    match by {
        ClosedBy::Complete => "complete",
        ClosedBy::Deadline => "by its deadline",
    }
}

/// One difference as a line: kind, order, declared and actual (amounts in đồng, or counts).
pub fn describe(difference: &Difference) -> String {
    let counts = matches!(
        difference.kind,
        DifferenceKind::MissingOrders | DifferenceKind::ExtraOrders | DifferenceKind::InvalidOrders
    );
    let value = |value: Option<u64>| match value {
        None => "-".to_string(),
        Some(count) if counts => format!("{count} orders"),
        Some(amount) => format!("{} ₫", format_dong(amount)),
    };
    format!(
        "{:<16} {:<24} declared {:>16}  actual {:>16}",
        difference.kind.as_str(),
        difference.order_id.as_deref().unwrap_or("-"),
        value(difference.declared),
        value(difference.actual)
    )
}
