//! End-of-day provider statements built from the sandbox ledger, with injected faults.
//!
//! The kit builds one provider's [`Statement`] for a Vietnam calendar day (UTC+7) from the
//! credits the ledger completed that day, then applies that provider's [`StatementFaults`].
//! Each provider emulation registers a [`StatementWriter`] that renders it in the provider's
//! own file format (the bank's camt.053 XML, VNPost's and the wallets' CSV layouts); the admin
//! route `GET /sandbox/statements/{provider}?date=YYYY-MM-DD` serves the file.

pub mod csv;
pub mod faults;
pub mod routes;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

pub use faults::{ExtraCredit, ReturnedCredit, StatementFaults, DEFAULT_RETURN_REASON};

use crate::ledger::LedgerEntry;

/// Statements are cut at Vietnam midnight.
pub use gateway_adapter::vietnam_time::{date as vietnam_date, instant as vietnam_instant, offset as vietnam};

/// What a statement line is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Money out to a beneficiary: one payout the provider booked.
    Payout,
    /// Money back from a beneficiary's provider: a payout returned after it succeeded.
    Return {
        /// ISO 20022 external return reason code, e.g. `AC04`.
        reason_code: String,
        /// The provider's reference of the payout that came back.
        original_ref: String,
        /// When that payout was booked.
        original_booked_at: DateTime<Utc>,
    },
}

/// One line of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementEntry {
    /// The provider's own reference for this line; unique per provider.
    pub entry_ref: String,
    /// The client reference: the gateway's payment id, which it sends as the idempotency key.
    pub client_reference: String,
    /// The upstream order the payout paid (empty for a credit the gateway never sent).
    pub order_ref: String,
    /// Whole đồng.
    pub amount: u64,
    pub booked_at: DateTime<Utc>,
    pub kind: EntryKind,
}

/// One provider's statement for one Vietnam day, entries in booking order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The provider key, e.g. `bank_transfer`.
    pub provider: String,
    /// The Vietnam calendar day the statement covers.
    pub date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub entries: Vec<StatementEntry>,
}

impl Statement {
    /// The statement of `provider` for `date`: the payouts the ledger completed that day, with
    /// `faults` applied. Failed and still-processing credits moved no money and are left out.
    pub fn build(
        provider: &str,
        date: NaiveDate,
        ledger: &[LedgerEntry],
        faults: &StatementFaults,
        created_at: DateTime<Utc>,
    ) -> Self {
        let completed = |entry: &&LedgerEntry| entry.provider == provider && entry.is_credited();
        let mut entries: Vec<StatementEntry> = ledger
            .iter()
            .filter(completed)
            .filter(|entry| vietnam_date(entry.booked_at) == date)
            .filter(|entry| !faults.omit.contains(&entry.client_reference))
            .map(|entry| StatementEntry {
                entry_ref: entry.provider_ref.clone(),
                client_reference: entry.client_reference.clone(),
                order_ref: entry.order_ref.clone(),
                amount: faults
                    .amounts
                    .get(&entry.client_reference)
                    .copied()
                    .unwrap_or(entry.amount),
                booked_at: entry.booked_at,
                kind: EntryKind::Payout,
            })
            .collect();
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default();
        let day = date.format("%Y%m%d");
        for (index, extra) in faults.extra.iter().enumerate() {
            if extra.date.is_some_and(|on| on != date) {
                continue;
            }
            let entry_ref = format!("EXT-{day}-{:03}", index + 1);
            entries.push(StatementEntry {
                client_reference: extra
                    .reference
                    .clone()
                    .unwrap_or_else(|| format!("UNKNOWN-{day}-{:03}", index + 1)),
                entry_ref,
                order_ref: String::new(),
                amount: extra.amount,
                booked_at: vietnam_instant(date, noon),
                kind: EntryKind::Payout,
            });
        }
        for returned in &faults.returns {
            let original = ledger
                .iter()
                .filter(completed)
                .find(|entry| entry.client_reference == returned.reference);
            let Some(original) = original else { continue };
            let returned_on = returned.returned_on.unwrap_or_else(|| vietnam_date(original.booked_at));
            if returned_on != date {
                continue;
            }
            let booked_at = if returned_on == vietnam_date(original.booked_at) {
                original.booked_at + chrono::Duration::seconds(1)
            } else {
                vietnam_instant(date, noon)
            };
            entries.push(StatementEntry {
                entry_ref: format!("RTN-{}", original.provider_ref),
                client_reference: original.client_reference.clone(),
                order_ref: original.order_ref.clone(),
                amount: original.amount,
                booked_at,
                kind: EntryKind::Return {
                    reason_code: returned.reason_code.clone(),
                    original_ref: original.provider_ref.clone(),
                    original_booked_at: original.booked_at,
                },
            });
        }
        entries.sort_by(|a, b| (a.booked_at, &a.entry_ref).cmp(&(b.booked_at, &b.entry_ref)));
        Self {
            provider: provider.to_string(),
            date,
            created_at,
            entries,
        }
    }
}

/// Renders a statement in one provider's file format.
pub trait StatementWriter: Debug + Send + Sync {
    /// The HTTP `Content-Type` of the file.
    fn media_type(&self) -> &'static str;
    /// A file name for the statement, e.g. `bank_transfer-2026-12-03.xml`.
    fn file_name(&self, statement: &Statement) -> String;
    /// The file's bytes.
    fn write(&self, statement: &Statement) -> Vec<u8>;
}

/// The statement writers the provider emulations registered, and each provider's faults.
#[derive(Debug, Default)]
pub struct Statements {
    writers: Mutex<HashMap<String, Arc<dyn StatementWriter>>>,
    faults: Mutex<HashMap<String, StatementFaults>>,
}

impl Statements {
    /// Registers how `provider` writes its statements; a second registration replaces the first.
    pub fn register(&self, provider: &str, writer: Arc<dyn StatementWriter>) {
        let mut writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        writers.insert(provider.to_string(), writer);
    }

    /// How `provider` writes its statements, if it registered.
    pub fn writer(&self, provider: &str) -> Option<Arc<dyn StatementWriter>> {
        let writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        writers.get(provider).cloned()
    }

    /// Replaces the statement faults of `provider`.
    pub fn set_faults(&self, provider: &str, faults: StatementFaults) {
        let mut map = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(provider.to_string(), faults);
    }

    /// The statement faults of `provider` (none until set).
    pub fn faults(&self, provider: &str) -> StatementFaults {
        let map = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        map.get(provider).cloned().unwrap_or_default()
    }

    /// Forgets every provider's statement faults (writers stay).
    pub fn clear_faults(&self) {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::LedgerStatus;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default()
    }

    fn at(hour: u32) -> DateTime<Utc> {
        vietnam_instant(day(), NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default())
    }

    fn credit(reference: &str, amount: u64, booked_at: DateTime<Utc>, status: LedgerStatus) -> LedgerEntry {
        LedgerEntry {
            provider: "bank_transfer".into(),
            client_reference: reference.into(),
            provider_ref: format!("FT-{reference}"),
            order_ref: format!("order-{reference}"),
            amount,
            account: "0011004455667".into(),
            status,
            booked_at,
        }
    }

    fn ledger() -> Vec<LedgerEntry> {
        vec![
            credit("pay_a", 1_000, at(9), LedgerStatus::Completed),
            credit("pay_b", 2_000, at(10), LedgerStatus::Completed),
            credit("pay_c", 3_000, at(11), LedgerStatus::Completed),
            credit("pay_failed", 4_000, at(11), LedgerStatus::Failed { code: "X".into() }),
            credit("pay_busy", 5_000, at(11), LedgerStatus::Processing),
            // 23:30 Vietnam time on the day before is 16:30 UTC: not on this statement.
            credit(
                "pay_yesterday",
                6_000,
                at(0) - chrono::Duration::minutes(30),
                LedgerStatus::Completed,
            ),
        ]
    }

    #[test]
    fn a_clean_statement_lists_the_days_completed_credits_only() {
        let statement = Statement::build("bank_transfer", day(), &ledger(), &StatementFaults::default(), at(23));
        let references: Vec<&str> = statement.entries.iter().map(|e| e.client_reference.as_str()).collect();
        assert_eq!(references, ["pay_a", "pay_b", "pay_c"]);
        assert!(statement.entries.iter().all(|e| e.kind == EntryKind::Payout));
        let other = Statement::build("vnpost_account", day(), &ledger(), &StatementFaults::default(), at(23));
        assert!(other.entries.is_empty());
    }

    #[test]
    fn each_fault_changes_exactly_its_line() {
        let faults = StatementFaults {
            omit: vec!["pay_a".into()],
            amounts: [("pay_b".to_string(), 2_500)].into(),
            extra: vec![ExtraCredit {
                amount: 9_999,
                reference: None,
                date: Some(day()),
            }],
            returns: vec![ReturnedCredit {
                reference: "pay_c".into(),
                reason_code: "AC04".into(),
                returned_on: None,
            }],
        };
        let statement = Statement::build("bank_transfer", day(), &ledger(), &faults, at(23));
        let lines: Vec<(&str, &str, u64)> = statement
            .entries
            .iter()
            .map(|e| (e.entry_ref.as_str(), e.client_reference.as_str(), e.amount))
            .collect();
        assert_eq!(
            lines,
            [
                ("FT-pay_b", "pay_b", 2_500),
                ("FT-pay_c", "pay_c", 3_000),
                ("RTN-FT-pay_c", "pay_c", 3_000),
                ("EXT-20261203-001", "UNKNOWN-20261203-001", 9_999),
            ]
        );
        assert!(matches!(
            &statement.entries[2].kind,
            EntryKind::Return { reason_code, original_ref, .. } if reason_code == "AC04" && original_ref == "FT-pay_c"
        ));
    }

    #[test]
    fn a_return_booked_days_later_shows_on_that_days_statement_only() {
        let later = day() + chrono::Duration::days(2);
        let faults = StatementFaults {
            returns: vec![ReturnedCredit {
                reference: "pay_a".into(),
                reason_code: "AC04".into(),
                returned_on: Some(later),
            }],
            ..StatementFaults::default()
        };
        let today = Statement::build("bank_transfer", day(), &ledger(), &faults, at(23));
        assert_eq!(today.entries.len(), 3, "the credit itself, no return yet");
        let then = Statement::build("bank_transfer", later, &ledger(), &faults, at(23));
        assert_eq!(then.entries.len(), 1);
        assert_eq!(then.entries[0].entry_ref, "RTN-FT-pay_a");
        assert_eq!(vietnam_date(then.entries[0].booked_at), later);
    }
}
