//! The reconciliation as people read it: a table with a summary for the terminal, and CSV.

use std::fmt::Write as _;
use std::io::Write;

use gateway_adapter::money::format_dong;

use super::{Item, ItemKind, Reconciliation};
use crate::spreadsheet::text_cell;
use crate::terminal::shown;

/// The CSV header, one row per item.
pub const CSV_HEADER: [&str; 10] = [
    "kind",
    "entry_ref",
    "payment_id",
    "order_id",
    "gateway_amount",
    "statement_amount",
    "gateway_state",
    "return_reason",
    "booked_on",
    "note",
];

/// Items sorted for reading: discrepancies first, then returns and payments in transit, then
/// matched items.
fn sorted(reconciliation: &Reconciliation) -> Vec<&Item> {
    let rank = |kind: ItemKind| match kind {
        ItemKind::Matched => 2,
        ItemKind::Returned | ItemKind::InTransit => 1,
        _ => 0,
    };
    let mut items: Vec<&Item> = reconciliation.items.iter().collect();
    items.sort_by(|a, b| {
        (rank(a.kind), a.kind, &a.payment_id, &a.entry_ref).cmp(&(rank(b.kind), b.kind, &b.payment_id, &b.entry_ref))
    });
    items
}

fn dong(amount: Option<i64>) -> String {
    amount
        .and_then(|a| u64::try_from(a).ok())
        .map(format_dong)
        .unwrap_or_else(|| "-".to_string())
}

/// The table for the terminal, then a count and amount per kind, then the verdict.
pub fn table(reconciliation: &Reconciliation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reconciliation of {} for {} (Vietnam time)\n",
        reconciliation.provider, reconciliation.day
    );
    let _ = writeln!(
        out,
        "{:<22} {:<24} {:<34} {:<28} {:>15} {:>15} {:<12} {:<6} note",
        "kind", "entry", "payment", "order", "gateway ₫", "statement ₫", "state", "reason"
    );
    for item in sorted(reconciliation) {
        let _ = writeln!(
            out,
            "{:<22} {:<24} {:<34} {:<28} {:>15} {:>15} {:<12} {:<6} {}",
            item.kind.as_str(),
            shown(item.entry_ref.as_deref().unwrap_or("-")),
            if item.payment_id.is_empty() {
                "-".into()
            } else {
                shown(&item.payment_id)
            },
            shown(item.order_id.as_deref().unwrap_or("-")),
            dong(item.gateway_amount),
            dong(item.statement_amount.and_then(|a| i64::try_from(a).ok())),
            item.gateway_state.map(|s| s.as_str()).unwrap_or("-"),
            shown(item.return_reason.as_deref().unwrap_or("-")),
            shown(&item.note)
        );
    }
    let _ = writeln!(out);
    for kind in ItemKind::ALL {
        let items: Vec<&Item> = reconciliation.items.iter().filter(|i| i.kind == kind).collect();
        if items.is_empty() {
            continue;
        }
        // Each amount is at most i64::MAX (`parse_dong`); many of them can still pass u64::MAX.
        let amount = items
            .iter()
            .map(|i| {
                i.statement_amount
                    .or_else(|| i.gateway_amount.and_then(|a| u64::try_from(a).ok()))
                    .unwrap_or(0)
            })
            .fold(0_u64, u64::saturating_add);
        let _ = writeln!(
            out,
            "{:<22} {:>6} {:>18} ₫",
            kind.as_str(),
            items.len(),
            format_dong(amount)
        );
    }
    let problems = reconciliation.items.iter().filter(|i| !i.kind.balances()).count();
    let in_transit = reconciliation.count(ItemKind::InTransit);
    if problems == 0 && in_transit == 0 {
        let _ = writeln!(
            out,
            "The books balance: every statement line is matched or a return, and nothing is missing."
        );
    } else if problems == 0 {
        let _ = writeln!(
            out,
            "The books balance: every statement line is matched or a return, and nothing is missing \
             but {in_transit} payments sent just before midnight (in_transit: check them on the next day's statement)."
        );
    } else {
        let _ = writeln!(
            out,
            "The books do not balance: {problems} items need a person (see the kinds above)."
        );
    }
    out
}

/// Writes every item as CSV to `writer`.
pub fn write_csv(reconciliation: &Reconciliation, writer: impl Write) -> Result<(), csv::Error> {
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(CSV_HEADER)?;
    for item in sorted(reconciliation) {
        csv.write_record([
            item.kind.as_str().to_string(),
            text_cell(item.entry_ref.as_deref().unwrap_or_default()).into_owned(),
            text_cell(&item.payment_id).into_owned(),
            // Upstream's text, which may start with `-` (`-A1` is a formula to a spreadsheet).
            text_cell(item.order_id.as_deref().unwrap_or_default()).into_owned(),
            item.gateway_amount.map(|a| a.to_string()).unwrap_or_default(),
            item.statement_amount.map(|a| a.to_string()).unwrap_or_default(),
            item.gateway_state.map(|s| s.as_str().to_string()).unwrap_or_default(),
            text_cell(item.return_reason.as_deref().unwrap_or_default()).into_owned(),
            item.booked_on.map(|d| d.to_string()).unwrap_or_default(),
            item.note.clone(),
        ])?;
    }
    csv.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::payment::PaymentState;

    fn reconciliation() -> Reconciliation {
        let item = |kind, payment: &str, amount| Item {
            kind,
            entry_ref: Some(format!("FT-{payment}")),
            payment_id: payment.into(),
            order_id: Some(format!("TB-{payment}")),
            gateway_amount: Some(amount),
            statement_amount: u64::try_from(amount).ok(),
            gateway_state: Some(PaymentState::Succeeded),
            return_reason: None,
            booked_on: NaiveDate::from_ymd_opt(2026, 12, 3),
            note: "a, \"quoted\" note".into(),
            extra_payout: false,
            payout: false,
        };
        Reconciliation {
            provider: "bank_transfer".into(),
            day: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default(),
            items: vec![
                item(ItemKind::Matched, "pay_a", 1_000_000),
                item(ItemKind::AmountMismatch, "pay_b", 2_000_000),
            ],
        }
    }

    #[test]
    fn the_table_puts_discrepancies_first_and_gives_the_verdict() {
        let text = table(&reconciliation());
        let mismatch = text.find("amount_mismatch").unwrap_or(usize::MAX);
        let matched = text.find("matched ").unwrap_or(0);
        assert!(mismatch < matched, "{text}");
        assert!(text.contains("2.000.000"), "{text}");
        assert!(
            text.contains("The books do not balance: 1 items need a person"),
            "{text}"
        );
    }

    /// Three lines of the largest amount a statement may carry sum past u64: the total is
    /// capped, not a panic (nor, in a release build, a wrapped wrong number).
    #[test]
    fn the_totals_of_huge_lines_do_not_overflow() {
        let mut reconciliation = reconciliation();
        for item in &mut reconciliation.items {
            item.kind = ItemKind::UnknownToGateway;
            item.statement_amount = Some(i64::MAX as u64);
        }
        let third = reconciliation.items[0].clone();
        reconciliation.items.push(third);
        let text = table(&reconciliation);
        assert!(text.contains(&format_dong(u64::MAX)), "{text}");
    }

    #[test]
    fn payments_in_transit_are_shown_but_do_not_unbalance_the_books() {
        let mut reconciliation = reconciliation();
        reconciliation.items.retain(|item| item.kind == ItemKind::Matched);
        let mut late = reconciliation.items[0].clone();
        late.kind = ItemKind::InTransit;
        late.payment_id = "pay_late".into();
        late.entry_ref = None;
        late.statement_amount = None;
        reconciliation.items.push(late);
        assert_eq!(reconciliation.exit_code(), super::super::EXIT_BALANCED);
        let text = table(&reconciliation);
        assert!(text.contains("in_transit "), "{text}");
        assert!(text.contains("The books balance"), "{text}");
        assert!(text.contains("1 payments sent just before midnight"), "{text}");
        let mut bytes = Vec::new();
        write_csv(&reconciliation, &mut bytes).unwrap_or_else(|error| panic!("{error}"));
        let csv = String::from_utf8(bytes).unwrap_or_default();
        assert!(csv.contains("\nin_transit,,pay_late,"), "{csv}");
    }

    #[test]
    fn the_csv_has_one_row_per_item_and_quotes_what_needs_it() {
        let mut bytes = Vec::new();
        write_csv(&reconciliation(), &mut bytes).unwrap_or_else(|error| panic!("{error}"));
        let text = String::from_utf8(bytes).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("amount_mismatch,FT-pay_b,pay_b,TB-pay_b,2000000,2000000,succeeded,,2026-12-03,"));
        assert!(lines[1].ends_with("\"a, \"\"quoted\"\" note\""), "{}", lines[1]);
    }

    /// The statement line's reference and the return reason are the provider's text, and the
    /// order id upstream's (`[A-Za-z0-9._:-]`, so it may start with `-`): one that starts like
    /// a formula ran as one when the CSV was opened in a spreadsheet.
    #[test]
    fn the_providers_text_that_looks_like_a_formula_is_written_as_text() {
        let mut reconciliation = reconciliation();
        reconciliation.items[0].entry_ref = Some("=1+1".into());
        reconciliation.items[0].return_reason = Some("@SUM(A1)".into());
        reconciliation.items[0].order_id = Some("-A1".into());
        let mut bytes = Vec::new();
        write_csv(&reconciliation, &mut bytes).unwrap_or_else(|error| panic!("{error}"));
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert!(text.contains(",'=1+1,") && text.contains(",'@SUM(A1),"), "{text}");
        assert!(text.contains(",'-A1,"), "{text}");
    }

    /// A statement's reference is the provider's text: one holding an escape sequence rewrote
    /// the operator's terminal when the table was printed.
    #[test]
    fn the_providers_text_cannot_reach_the_terminal_as_escape_sequences() {
        let mut reconciliation = reconciliation();
        reconciliation.items[0].entry_ref = Some("FT1\u{1b}]0;owned\u{7}\u{1b}[2J".into());
        reconciliation.items[0].return_reason = Some("AC04\u{202e}".into());
        let text = table(&reconciliation);
        assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}'), "{text:?}");
        assert!(text.contains("FT1\\u{1b}]0;owned"), "{text}");
    }
}
