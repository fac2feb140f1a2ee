//! The three-way match, as a pure function: what the gateway instructed (its payments and
//! their amounts), what callbacks and inquiries said (each payment's state and provider
//! reference), and what the provider's statement booked.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use crate::payment::PaymentState;

use super::statement::{LineKind, StatementLine};

/// One payment as the gateway knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayPayment {
    pub payment_id: String,
    pub order_id: String,
    /// Whole đồng, as instructed.
    pub amount: i64,
    /// Where callbacks and inquiries left it.
    pub state: PaymentState,
    /// The provider's reference, as its answers and callbacks reported it.
    pub provider_ref: Option<String>,
    /// When it was first handed to the provider (ms since 1970).
    pub submitted_at: Option<i64>,
}

/// What one reconciliation item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// Booked by the provider as the gateway recorded it.
    Matched,
    /// Succeeded at the gateway, sent that day, but not on the statement.
    MissingAtProvider,
    /// On the statement, but no payment of this provider has its reference.
    UnknownToGateway,
    /// Booked with another amount than the gateway instructed.
    AmountMismatch,
    /// Booked (or returned) by the provider, but the gateway's payment is not `succeeded`.
    StatusMismatch,
    /// Booked under another provider reference than the provider reported to the gateway.
    ReferenceMismatch,
    /// A second payout line for one payment: the provider paid it twice.
    DuplicateOnStatement,
    /// A payout that came back; upstream gets a `returned` result.
    Returned,
}

impl ItemKind {
    pub const ALL: [ItemKind; 8] = [
        ItemKind::Matched,
        ItemKind::MissingAtProvider,
        ItemKind::UnknownToGateway,
        ItemKind::AmountMismatch,
        ItemKind::StatusMismatch,
        ItemKind::ReferenceMismatch,
        ItemKind::DuplicateOnStatement,
        ItemKind::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Matched => "matched",
            ItemKind::MissingAtProvider => "missing_at_provider",
            ItemKind::UnknownToGateway => "unknown_to_gateway",
            ItemKind::AmountMismatch => "amount_mismatch",
            ItemKind::StatusMismatch => "status_mismatch",
            ItemKind::ReferenceMismatch => "reference_mismatch",
            ItemKind::DuplicateOnStatement => "duplicate_on_statement",
            ItemKind::Returned => "returned",
        }
    }

    /// Whether the books balance with this item in them: matched payouts and returns do.
    pub fn balances(self) -> bool {
        matches!(self, ItemKind::Matched | ItemKind::Returned)
    }
}

/// One line of the reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    /// The statement line's own reference; `None` for a payment missing from the statement.
    pub entry_ref: Option<String>,
    /// The payment id (the client reference on the statement line).
    pub payment_id: String,
    pub order_id: Option<String>,
    pub gateway_amount: Option<i64>,
    pub statement_amount: Option<u64>,
    pub gateway_state: Option<PaymentState>,
    /// The provider's return reason code, for a return.
    pub return_reason: Option<String>,
    /// The Vietnam day the statement line was booked; `None` for a missing payment.
    pub booked_on: Option<NaiveDate>,
    /// A sentence for the person reading the report.
    pub note: String,
}

/// Matches `lines` against `payments`. A payment is expected on the statement when it
/// succeeded and was sent inside `window` (ms since 1970, start inclusive, end exclusive).
pub fn match_statement(lines: &[StatementLine], payments: &[GatewayPayment], window: (i64, i64)) -> Vec<Item> {
    let by_id: HashMap<&str, &GatewayPayment> = payments.iter().map(|p| (p.payment_id.as_str(), p)).collect();
    let mut paid_out: HashSet<&str> = HashSet::new();
    let mut items = Vec::new();
    for line in lines {
        let Some(payment) = by_id.get(line.reference.as_str()).copied() else {
            items.push(Item {
                kind: ItemKind::UnknownToGateway,
                entry_ref: Some(line.entry_ref.clone()),
                payment_id: line.reference.clone(),
                order_id: None,
                gateway_amount: None,
                statement_amount: Some(line.amount),
                gateway_state: None,
                return_reason: return_reason(line),
                booked_on: Some(line.booked_on),
                note: match line.kind {
                    LineKind::Payout => "the provider booked a payout the gateway never sent".to_string(),
                    LineKind::Return { .. } => "the provider returned a payout the gateway never sent".to_string(),
                },
            });
            continue;
        };
        let is_payout = line.kind == LineKind::Payout;
        let repeated = is_payout && !paid_out.insert(payment.payment_id.as_str());
        let amount_differs = i64::try_from(line.amount).ok() != Some(payment.amount);
        let reference_differs = is_payout
            && payment
                .provider_ref
                .as_deref()
                .is_some_and(|theirs| !theirs.is_empty() && theirs != line.entry_ref);
        let (kind, note) = if repeated {
            (
                ItemKind::DuplicateOnStatement,
                "a second payout line for this payment: the provider paid it twice".to_string(),
            )
        } else if payment.state != PaymentState::Succeeded {
            let what = if is_payout { "booked" } else { "returned" };
            (
                ItemKind::StatusMismatch,
                format!("the provider {what} it, but the gateway has it {}", payment.state),
            )
        } else if amount_differs {
            (
                ItemKind::AmountMismatch,
                format!(
                    "the statement says {} đồng, the gateway instructed {}",
                    line.amount, payment.amount
                ),
            )
        } else if reference_differs {
            (
                ItemKind::ReferenceMismatch,
                format!(
                    "booked as {}, but the provider reported {} to the gateway",
                    line.entry_ref,
                    payment.provider_ref.as_deref().unwrap_or_default()
                ),
            )
        } else if is_payout {
            (ItemKind::Matched, String::new())
        } else {
            (
                ItemKind::Returned,
                "the payout came back after it succeeded".to_string(),
            )
        };
        items.push(Item {
            kind,
            entry_ref: Some(line.entry_ref.clone()),
            payment_id: payment.payment_id.clone(),
            order_id: Some(payment.order_id.clone()),
            gateway_amount: Some(payment.amount),
            statement_amount: Some(line.amount),
            gateway_state: Some(payment.state),
            return_reason: return_reason(line),
            booked_on: Some(line.booked_on),
            note,
        });
    }
    let (from, to) = window;
    for payment in payments {
        let sent_that_day = payment.submitted_at.is_some_and(|at| at >= from && at < to);
        if payment.state == PaymentState::Succeeded && sent_that_day && !paid_out.contains(payment.payment_id.as_str())
        {
            items.push(Item {
                kind: ItemKind::MissingAtProvider,
                entry_ref: None,
                payment_id: payment.payment_id.clone(),
                order_id: Some(payment.order_id.clone()),
                gateway_amount: Some(payment.amount),
                statement_amount: None,
                gateway_state: Some(payment.state),
                return_reason: None,
                booked_on: None,
                note: "succeeded at the gateway, but the provider's statement does not book it".to_string(),
            });
        }
    }
    items
}

fn return_reason(line: &StatementLine) -> Option<String> {
    match &line.kind {
        LineKind::Return { reason_code } => Some(reason_code.clone()),
        LineKind::Payout => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: (i64, i64) = (1_000, 2_000);

    fn payment(id: &str, amount: i64, state: PaymentState, submitted_at: i64) -> GatewayPayment {
        GatewayPayment {
            payment_id: id.into(),
            order_id: format!("order-{id}"),
            amount,
            state,
            provider_ref: Some(format!("FT-{id}")),
            submitted_at: Some(submitted_at),
        }
    }

    fn line(entry_ref: &str, reference: &str, amount: u64, kind: LineKind) -> StatementLine {
        StatementLine {
            entry_ref: entry_ref.into(),
            reference: reference.into(),
            amount,
            booked_on: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default(),
            kind,
        }
    }

    fn payout(reference: &str, amount: u64) -> StatementLine {
        line(&format!("FT-{reference}"), reference, amount, LineKind::Payout)
    }

    fn kinds(items: &[Item]) -> Vec<(ItemKind, &str)> {
        let mut kinds: Vec<(ItemKind, &str)> = items.iter().map(|i| (i.kind, i.payment_id.as_str())).collect();
        kinds.sort();
        kinds
    }

    #[test]
    fn each_discrepancy_is_found_and_named() {
        use ItemKind::*;
        use PaymentState::{Failed, Pending, Succeeded};
        let payments = [
            payment("a", 1_000, Succeeded, 1_100),
            payment("b", 2_000, Succeeded, 1_200),
            payment("missing", 3_000, Succeeded, 1_300),
            payment("returned", 4_000, Succeeded, 1_400),
            payment("failed", 5_000, Failed, 1_500),
            payment("pending", 6_000, Pending, 1_600),
            // Succeeded, but sent the day before: not expected on this statement.
            payment("yesterday", 7_000, Succeeded, 900),
            payment("other_ref", 8_000, Succeeded, 1_700),
        ];
        let lines = [
            payout("a", 1_000),
            payout("b", 2_500),
            payout("returned", 4_000),
            line(
                "RTN-1",
                "returned",
                4_000,
                LineKind::Return {
                    reason_code: "AC04".into(),
                },
            ),
            payout("stranger", 9_000),
            payout("failed", 5_000),
            payout("a", 1_000),
            line("FT-elsewhere", "other_ref", 8_000, LineKind::Payout),
        ];
        let items = match_statement(&lines, &payments, DAY);
        assert_eq!(
            kinds(&items),
            [
                (Matched, "a"),
                (Matched, "returned"),
                (MissingAtProvider, "missing"),
                (UnknownToGateway, "stranger"),
                (AmountMismatch, "b"),
                (StatusMismatch, "failed"),
                (ReferenceMismatch, "other_ref"),
                (DuplicateOnStatement, "a"),
                (Returned, "returned"),
            ]
        );
        let returned = items
            .iter()
            .find(|i| i.kind == Returned)
            .map(|i| i.return_reason.clone());
        assert_eq!(returned, Some(Some("AC04".to_string())));
    }

    #[test]
    fn a_clean_day_is_all_matched_and_balances() {
        let payments = [
            payment("a", 1_000, PaymentState::Succeeded, 1_100),
            payment("b", 2_000, PaymentState::Succeeded, 1_200),
            payment("failed", 5_000, PaymentState::Failed, 1_500),
        ];
        let items = match_statement(&[payout("a", 1_000), payout("b", 2_000)], &payments, DAY);
        assert_eq!(items.len(), 2);
        assert!(items
            .iter()
            .all(|item| item.kind == ItemKind::Matched && item.kind.balances()));
    }

    #[test]
    fn a_return_of_a_payment_the_gateway_did_not_see_succeed_is_a_status_mismatch() {
        let payments = [payment("p", 1_000, PaymentState::NeedsReview, 1_100)];
        let returned = line(
            "RTN-p",
            "p",
            1_000,
            LineKind::Return {
                reason_code: "AC04".into(),
            },
        );
        let items = match_statement(&[returned], &payments, DAY);
        assert_eq!(kinds(&items), [(ItemKind::StatusMismatch, "p")]);
        assert!(!ItemKind::StatusMismatch.balances());
    }
}
