//! The bench's check of a run: a fast wrong answer is not a result. Every order has exactly
//! one final result, `succeeded`, and the sandbox's ledger exactly one booking of it, credited.

use std::collections::HashMap;

use sandbox_kit::{LedgerEntry, LedgerStatus};

use super::collector::Arrival;
use super::workload::OrderIds;
use crate::payment::ResultStatus;

/// Checks `arrivals` (each order's final result, by index) against the `ledger`. Returns
/// (orders succeeded, credits, problems, at most 20). Linear in the orders and the ledger.
///
/// Bookings are counted, not only credits: a second booking of an order still processing when
/// the ledger is read is a second payout on its way, which counting completed credits alone
/// would not see.
pub fn verify(ids: &OrderIds, arrivals: &[Option<Arrival>], ledger: &[LedgerEntry]) -> (usize, usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut succeeded = 0;
    let mut missing = 0;
    for (index, arrival) in arrivals.iter().enumerate() {
        match arrival {
            None => missing += 1,
            Some(arrival) if arrival.final_results() > 1 => problems.push(format!(
                "order {} has {} final results",
                ids.id(index),
                arrival.final_results()
            )),
            Some(arrival) if arrival.status != ResultStatus::Succeeded => {
                problems.push(format!("order {} ended {}", ids.id(index), arrival.status.as_str()))
            }
            Some(_) => succeeded += 1,
        }
    }
    if missing > 0 {
        problems.push(format!("{missing} orders have no final result before the timeout"));
    }
    let mut bookings_by_order: HashMap<&str, usize> = HashMap::with_capacity(arrivals.len());
    let (mut credits, mut processing) = (0, 0);
    for entry in ledger {
        match entry.status {
            LedgerStatus::Failed { .. } => continue,
            LedgerStatus::Processing => processing += 1,
            LedgerStatus::Completed => credits += 1,
        }
        *bookings_by_order.entry(entry.order_ref.as_str()).or_default() += 1;
    }
    if credits != arrivals.len() {
        problems.push(format!(
            "the ledger has {credits} credits for {} orders",
            arrivals.len()
        ));
    }
    if processing > 0 {
        problems.push(format!("{processing} bookings are still processing at the provider"));
    }
    let paid_twice = bookings_by_order.values().filter(|count| **count > 1).count();
    if paid_twice > 0 {
        problems.push(format!("{paid_twice} orders were booked more than once"));
    }
    let foreign = bookings_by_order
        .keys()
        .filter(|order| ids.index_of(order).is_none_or(|index| index >= arrivals.len()))
        .count();
    if foreign > 0 {
        problems.push(format!("{foreign} booked orders are not orders of this run"));
    }
    problems.truncate(20);
    (succeeded, credits, problems)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn succeeded() -> Option<Arrival> {
        Some(Arrival {
            at: Instant::now(),
            status: ResultStatus::Succeeded,
            seq: 3,
            other_final_seqs: Vec::new(),
        })
    }

    fn booking(order: String, status: LedgerStatus) -> LedgerEntry {
        LedgerEntry {
            provider: "bank_transfer".into(),
            client_reference: format!("pay-{order}"),
            provider_ref: format!("FT-{order}"),
            order_ref: order,
            amount: 1_000,
            account: "0011004455667".into(),
            status,
            booked_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_run_paid_once_each_passes() {
        let ids = OrderIds::new("check");
        let ledger: Vec<LedgerEntry> = (0..2).map(|n| booking(ids.id(n), LedgerStatus::Completed)).collect();
        let (ok, credits, problems) = verify(&ids, &[succeeded(), succeeded()], &ledger);
        assert_eq!((ok, credits), (2, 2));
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// A second booking of an order, still processing when the ledger was read, passed: only
    /// completed credits were counted, and there were exactly N of them.
    #[test]
    fn a_second_booking_still_processing_is_a_problem() {
        let ids = OrderIds::new("check");
        let mut ledger: Vec<LedgerEntry> = (0..2).map(|n| booking(ids.id(n), LedgerStatus::Completed)).collect();
        ledger.push(booking(ids.id(1), LedgerStatus::Processing));
        let (_, credits, problems) = verify(&ids, &[succeeded(), succeeded()], &ledger);
        assert_eq!(credits, 2);
        assert!(
            problems
                .iter()
                .any(|p| p == "1 bookings are still processing at the provider"),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p == "1 orders were booked more than once"),
            "{problems:?}"
        );
        // A failed booking beside the credit is no second payout.
        let mut failed_once = ledger[..2].to_vec();
        failed_once.push(booking(ids.id(0), LedgerStatus::Failed { code: "X".into() }));
        let (_, _, problems) = verify(&ids, &[succeeded(), succeeded()], &failed_once);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
