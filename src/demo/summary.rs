//! The demo's summary per commune and status, and its reconciliation against the sandbox ledger.

use std::collections::{BTreeMap, BTreeSet};

use gateway_adapter::money::format_dong;
use sandbox_kit::LedgerEntry;

use super::sample::COMMUNES;
use super::watch::ResultsByOrder;
use crate::payment::{ResultMessage, ResultStatus};
use crate::publish::PayoutRow;

/// The final result of each order (the one with the highest `seq` among final ones).
pub fn final_results(results: &ResultsByOrder) -> BTreeMap<&str, &ResultMessage> {
    results
        .iter()
        .filter_map(|(order_id, messages)| {
            messages
                .iter()
                .filter(|m| m.is_final)
                .max_by_key(|m| m.seq)
                .map(|m| (order_id.as_str(), m))
        })
        .collect()
}

/// Prints counts and amounts per commune and status, then the reasons behind every
/// rejected and failed line.
pub fn print(rows: &[PayoutRow], results: &ResultsByOrder) {
    let finals = final_results(results);
    let mut table: BTreeMap<(&str, &str), (usize, u64)> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for row in rows.iter().filter(|row| seen.insert(row.order_id.as_str())) {
        let status = finals
            .get(row.order_id.as_str())
            .map(|m| m.status.as_str())
            .unwrap_or("no final result");
        let cell = table
            .entry((row.commune_code.as_str(), status))
            .or_default();
        cell.0 += 1;
        cell.1 += row.amount.parse::<u64>().unwrap_or(0);
    }
    println!(
        "\n{:<14} {:<15} {:<18} {:>6} {:>18}",
        "commune", "channel", "status", "orders", "amount"
    );
    let mut by_status: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for ((commune_code, status), (count, amount)) in &table {
        let name = COMMUNES
            .iter()
            .find(|(code, _)| code == commune_code)
            .map(|(_, name)| *name)
            .unwrap_or(commune_code);
        println!(
            "{name:<14} {:<15} {status:<18} {count:>6} {:>18}",
            "bank_transfer",
            format!("{} ₫", format_dong(*amount))
        );
        let total = by_status.entry(status).or_default();
        total.0 += count;
        total.1 += amount;
    }
    println!();
    for (status, (count, amount)) in &by_status {
        println!(
            "{:<14} {:<15} {status:<18} {count:>6} {:>18}",
            "all communes",
            "",
            format!("{} ₫", format_dong(*amount))
        );
    }
    let mut reasons: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (order_id, message) in &finals {
        if matches!(
            message.status,
            ResultStatus::Rejected | ResultStatus::Failed
        ) {
            reasons
                .entry((
                    message.status.as_str(),
                    message.reason_code.as_deref().unwrap_or(""),
                ))
                .or_default()
                .push(order_id);
        }
    }
    if !reasons.is_empty() {
        println!("\nrejected and failed, by reason:");
        for ((status, code), orders) in &reasons {
            let example = finals
                .get(orders[0])
                .and_then(|m| m.reason.clone())
                .unwrap_or_default();
            println!(
                "  {status:<9} {code:<28} {:>4}  e.g. {} — {example}",
                orders.len(),
                orders[0]
            );
        }
    }
}

/// Checks the invariants on what the demo saw. Returns one sentence per problem.
pub fn reconcile(
    rows: &[PayoutRow],
    results: &ResultsByOrder,
    ledger: &[LedgerEntry],
) -> Vec<String> {
    let mut problems = Vec::new();
    let finals = final_results(results);
    let order_ids: BTreeSet<&str> = rows.iter().map(|row| row.order_id.as_str()).collect();
    for order_id in &order_ids {
        let distinct_finals: BTreeSet<(i64, &str)> = results
            .get(*order_id)
            .map(|messages| {
                messages
                    .iter()
                    .filter(|m| m.is_final)
                    .map(|m| (m.seq, m.status.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        if distinct_finals.len() != 1 {
            problems.push(format!(
                "order {order_id} has {} distinct final results instead of one",
                distinct_finals.len()
            ));
        }
    }
    let mut credits: BTreeMap<&str, Vec<&LedgerEntry>> = BTreeMap::new();
    for entry in ledger.iter().filter(|entry| entry.is_credited()) {
        credits
            .entry(entry.order_ref.as_str())
            .or_default()
            .push(entry);
    }
    for (order_id, entries) in &credits {
        if entries.len() > 1 {
            problems.push(format!(
                "order {order_id} was credited {} times",
                entries.len()
            ));
        }
        match finals.get(order_id) {
            Some(message) if message.status == ResultStatus::Succeeded => {
                if message.amount != Some(entries[0].amount) {
                    problems.push(format!(
                        "order {order_id}: the result's amount differs from the credited amount"
                    ));
                }
            }
            Some(message) => problems.push(format!(
                "order {order_id} was credited but its result is {}",
                message.status.as_str()
            )),
            None => problems.push(format!(
                "order {order_id} was credited but has no final result"
            )),
        }
    }
    for (order_id, message) in &finals {
        if message.status == ResultStatus::Succeeded && !credits.contains_key(order_id) {
            problems.push(format!(
                "order {order_id} succeeded but the ledger has no credit for it"
            ));
        }
    }
    problems
}
