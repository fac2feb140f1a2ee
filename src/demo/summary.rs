//! The demo's summary per commune and status, and its reconciliation against the sandbox ledger.

use std::collections::{BTreeMap, BTreeSet};

use gateway_adapter::money::format_dong;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use sandbox_kit::LedgerEntry;

use super::sample::COMMUNES;
use super::watch::ResultsByOrder;
use crate::payment::{ResultMessage, ResultStatus};
use crate::publish::PayoutRow;

/// Order counts and amounts (đồng, a fraction kept where a line asked for one) per key.
type Totals<K> = BTreeMap<K, (usize, Decimal)>;

fn add<K: Ord>(totals: &mut Totals<K>, key: K, amount: Decimal) {
    let cell = totals.entry(key).or_default();
    cell.0 += 1;
    cell.1 += amount;
}

fn line(place: &str, channel: &str, status: &str, count: usize, amount: Decimal) {
    println!(
        "{place:<14} {channel:<15} {status:<18} {count:>6} {:>18}",
        format_amount(amount)
    );
}

/// A line's amount as the list gives it. A fraction of a đồng (which the gateway rejects) is
/// kept, so that the rejected lines add up to what they asked for (they counted 0); an amount
/// that is not a number, or is negative, counts 0.
fn listed_amount(row: &PayoutRow) -> Decimal {
    row.amount
        .trim()
        .parse::<Decimal>()
        .ok()
        .filter(|amount| !amount.is_sign_negative())
        .unwrap_or_default()
}

/// `1.234.567 ₫`, or `1.234.567,5 ₫` with a fraction (Vietnamese writes a decimal comma).
fn format_amount(amount: Decimal) -> String {
    let whole = amount.trunc();
    let dong = format_dong(whole.to_u64().unwrap_or(u64::MAX));
    let fraction = (amount - whole).normalize();
    if fraction.is_zero() {
        format!("{dong} ₫")
    } else {
        let digits = fraction.to_string();
        format!("{dong},{} ₫", digits.trim_start_matches("0."))
    }
}

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

/// Prints counts and amounts per commune, channel and status, then per channel and per
/// status, then the reasons behind every rejected and failed line.
pub fn print(rows: &[PayoutRow], results: &ResultsByOrder) {
    let finals = final_results(results);
    let mut by_commune: Totals<(&str, &str, &str)> = BTreeMap::new();
    let mut by_channel: Totals<(&str, &str)> = BTreeMap::new();
    let mut by_status: Totals<&str> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for row in rows.iter().filter(|row| seen.insert(row.order_id.as_str())) {
        let status = finals
            .get(row.order_id.as_str())
            .map(|m| m.status.as_str())
            .unwrap_or("no final result");
        let amount = listed_amount(row);
        add(
            &mut by_commune,
            (row.commune_code.as_str(), row.channel.as_str(), status),
            amount,
        );
        add(&mut by_channel, (row.channel.as_str(), status), amount);
        add(&mut by_status, status, amount);
    }
    println!(
        "\n{:<14} {:<15} {:<18} {:>6} {:>18}",
        "commune", "channel", "status", "orders", "amount"
    );
    for ((commune_code, channel, status), (count, amount)) in &by_commune {
        let name = COMMUNES
            .iter()
            .find(|(code, _)| code == commune_code)
            .map(|(_, name)| *name)
            .unwrap_or(commune_code);
        line(name, channel, status, *count, *amount);
    }
    println!();
    for ((channel, status), (count, amount)) in &by_channel {
        line("all communes", channel, status, *count, *amount);
    }
    println!();
    for (status, (count, amount)) in &by_status {
        line("all communes", "all channels", status, *count, *amount);
    }
    let mut reasons: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (order_id, message) in &finals {
        if matches!(message.status, ResultStatus::Rejected | ResultStatus::Failed) {
            reasons
                .entry((message.status.as_str(), message.reason_code.as_deref().unwrap_or("")))
                .or_default()
                .push(order_id);
        }
    }
    if !reasons.is_empty() {
        println!("\nrejected and failed, by reason:");
        for ((status, code), orders) in &reasons {
            let example = finals.get(orders[0]).and_then(|m| m.reason.clone()).unwrap_or_default();
            println!(
                "  {status:<9} {code:<28} {:>4}  e.g. {} — {example}",
                orders.len(),
                orders[0]
            );
        }
    }
}

/// Checks the invariants on what the demo saw. Returns one sentence per problem.
pub fn reconcile(rows: &[PayoutRow], results: &ResultsByOrder, ledger: &[LedgerEntry]) -> Vec<String> {
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
        credits.entry(entry.order_ref.as_str()).or_default().push(entry);
    }
    for (order_id, entries) in &credits {
        if entries.len() > 1 {
            problems.push(format!("order {order_id} was credited {} times", entries.len()));
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
            None => problems.push(format!("order {order_id} was credited but has no final result")),
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

/// Prints the sandbox ledger's credits per provider: which bank (or VNPost, or wallet
/// provider) paid how many orders and how much.
pub fn print_credits_by_provider(ledger: &[LedgerEntry]) {
    let mut by_provider: Totals<&str> = BTreeMap::new();
    for entry in ledger.iter().filter(|entry| entry.is_credited()) {
        add(&mut by_provider, entry.provider.as_str(), Decimal::from(entry.amount));
    }
    println!("\ncredits in the sandbox ledger, by provider:");
    for (provider, (count, amount)) in &by_provider {
        println!("  {provider:<18} {count:>6} {:>18}", format_amount(*amount));
    }
}

/// Bank orders credited by another bank than the one routing names for their BIN.
pub fn misrouted(rows: &[PayoutRow], ledger: &[LedgerEntry], bank_for: &dyn Fn(&str) -> String) -> Vec<String> {
    let bank_rows: BTreeMap<&str, &PayoutRow> = rows
        .iter()
        .filter(|row| row.channel == "bank_transfer")
        .map(|row| (row.order_id.as_str(), row))
        .collect();
    ledger
        .iter()
        .filter(|entry| entry.is_credited())
        .filter_map(|entry| {
            let row = bank_rows.get(entry.order_ref.as_str())?;
            let expected = bank_for(&row.bank_bin);
            (entry.provider != expected).then(|| {
                format!(
                    "order {} (BIN {}) was paid by {}, but routing names {expected}",
                    row.order_id, row.bank_bin, entry.provider
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use sandbox_kit::LedgerStatus;

    use super::*;

    fn credit(provider: &str, order_ref: &str) -> LedgerEntry {
        LedgerEntry {
            provider: provider.into(),
            client_reference: format!("pay-{order_ref}"),
            provider_ref: "FT1".into(),
            order_ref: order_ref.into(),
            amount: 1_000_000,
            account: "0011004455667".into(),
            status: LedgerStatus::Completed,
            booked_at: chrono::Utc::now(),
        }
    }

    /// A line asking for a fraction of a đồng (rejected) counted 0 in the totals.
    #[test]
    fn a_listed_amount_keeps_its_fraction_and_prints_with_a_decimal_comma() {
        let row = |amount: &str| PayoutRow {
            amount: amount.into(),
            ..PayoutRow::default()
        };
        assert_eq!(listed_amount(&row("1000000.5")), Decimal::new(10_000_005, 1));
        assert_eq!(listed_amount(&row("2789000")), Decimal::from(2_789_000));
        assert_eq!(listed_amount(&row("-5")), Decimal::ZERO);
        assert_eq!(listed_amount(&row("abc")), Decimal::ZERO);
        assert_eq!(format_amount(Decimal::new(10_000_005, 1)), "1.000.000,5 ₫");
        assert_eq!(format_amount(Decimal::new(278_900_000, 2)), "2.789.000 ₫");
    }

    #[test]
    fn a_bank_order_paid_by_another_bank_than_its_route_is_a_problem() {
        let row = |order_id: &str, bin: &str| PayoutRow {
            order_id: order_id.into(),
            channel: "bank_transfer".into(),
            bank_bin: bin.into(),
            ..PayoutRow::default()
        };
        let rows = [row("A", "970415"), row("B", "970436")];
        let bank_for = |bin: &str| {
            if bin == "970415" {
                "bank_vietinbank"
            } else {
                "bank_transfer"
            }
            .to_string()
        };
        let right = [credit("bank_vietinbank", "A"), credit("bank_transfer", "B")];
        assert!(misrouted(&rows, &right, &bank_for).is_empty());
        let wrong = [credit("bank_transfer", "A"), credit("bank_transfer", "B")];
        assert_eq!(
            misrouted(&rows, &wrong, &bank_for),
            ["order A (BIN 970415) was paid by bank_transfer, but routing names bank_vietinbank"]
        );
    }
}
