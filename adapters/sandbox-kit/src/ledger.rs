//! The emulated providers' ledger: every credit booked, keyed by (provider, client reference).
//! It enforces the providers' idempotency and is the test oracle for "paid at most once".

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a booked credit stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LedgerStatus {
    /// Booked, not yet completed: the money is on its way.
    Processing,
    /// The beneficiary's account was credited.
    Completed,
    /// The provider gave up; nothing was credited.
    Failed { code: String },
}

/// One credit as the provider booked it. The account is stored raw: this is a test oracle
/// that never leaves the sandbox's admin API, not a log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The emulated provider's key, e.g. `bank_transfer`.
    pub provider: String,
    /// The client's idempotency key (the gateway's payment id).
    pub client_reference: String,
    /// The provider's own id for the credit (transfer id, transaction id).
    pub provider_ref: String,
    /// The upstream order the credit pays, for counting credits per order.
    pub order_ref: String,
    /// Whole đồng.
    pub amount: u64,
    /// Account number or phone number credited.
    pub account: String,
    pub status: LedgerStatus,
    pub booked_at: DateTime<Utc>,
}

impl LedgerEntry {
    /// True once the money reached the beneficiary.
    pub fn is_credited(&self) -> bool {
        self.status == LedgerStatus::Completed
    }
}

/// What [`Ledger::book`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookOutcome {
    /// A new credit was booked.
    Booked(LedgerEntry),
    /// The reference was already booked with the same amount: nothing new was booked.
    Existing(LedgerEntry),
    /// The reference was already booked with another amount: refused, nothing booked.
    Conflict(LedgerEntry),
}

type Key = (String, String);

/// The in-memory ledger shared by every provider emulation.
#[derive(Debug, Default)]
pub struct Ledger {
    books: Mutex<Books>,
}

/// The entries, and an index by (provider, account) so a per-account question (a wallet's
/// monthly total) costs the same whatever the size of the ledger.
#[derive(Debug, Default)]
struct Books {
    entries: HashMap<Key, LedgerEntry>,
    by_account: HashMap<(String, String), Vec<Key>>,
}

impl Ledger {
    /// Books `entry` unless its (provider, client reference) exists; a second request with
    /// the same reference never books a second credit.
    pub fn book(&self, entry: LedgerEntry) -> BookOutcome {
        let mut books = self.lock();
        let key = (entry.provider.clone(), entry.client_reference.clone());
        if let Some(existing) = books.entries.get(&key) {
            return if existing.amount == entry.amount {
                BookOutcome::Existing(existing.clone())
            } else {
                BookOutcome::Conflict(existing.clone())
            };
        }
        books
            .by_account
            .entry((entry.provider.clone(), entry.account.clone()))
            .or_default()
            .push(key.clone());
        books.entries.insert(key, entry.clone());
        BookOutcome::Booked(entry)
    }

    /// The sum of `provider`'s credits into `account` that are not failed and whose booking
    /// time satisfies `counts` (a month, say). Reads only that account's entries.
    pub fn account_total(&self, provider: &str, account: &str, counts: impl Fn(DateTime<Utc>) -> bool) -> u64 {
        let books = self.lock();
        let Some(keys) = books.by_account.get(&(provider.to_string(), account.to_string())) else {
            return 0;
        };
        keys.iter()
            .filter_map(|key| books.entries.get(key))
            .filter(|entry| !matches!(entry.status, LedgerStatus::Failed { .. }) && counts(entry.booked_at))
            .map(|entry| entry.amount)
            .sum()
    }

    /// Marks a processing credit completed; final entries stay as they are. Returns the entry.
    pub fn complete(&self, provider: &str, client_reference: &str) -> Option<LedgerEntry> {
        self.finish(provider, client_reference, LedgerStatus::Completed)
    }

    /// Marks a processing credit failed; final entries stay as they are. Returns the entry.
    pub fn fail(&self, provider: &str, client_reference: &str, code: &str) -> Option<LedgerEntry> {
        let status = LedgerStatus::Failed { code: code.into() };
        self.finish(provider, client_reference, status)
    }

    pub fn get(&self, provider: &str, client_reference: &str) -> Option<LedgerEntry> {
        self.lock()
            .entries
            .get(&(provider.to_string(), client_reference.to_string()))
            .cloned()
    }

    /// Every entry, oldest booking first.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        let mut all: Vec<LedgerEntry> = self.lock().entries.values().cloned().collect();
        all.sort_by(|a, b| {
            (a.booked_at, &a.provider, &a.client_reference).cmp(&(b.booked_at, &b.provider, &b.client_reference))
        });
        all
    }

    /// Completed credits per upstream order, across all providers: any value above 1 means
    /// an order was paid twice.
    pub fn credits_by_order(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.lock().entries.values().filter(|entry| entry.is_credited()) {
            *counts.entry(entry.order_ref.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Completed credits for one upstream order, across all providers.
    pub fn credits_for_order(&self, order_ref: &str) -> usize {
        self.lock()
            .entries
            .values()
            .filter(|entry| entry.is_credited() && entry.order_ref == order_ref)
            .count()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        let mut books = self.lock();
        books.entries.clear();
        books.by_account.clear();
    }

    fn finish(&self, provider: &str, client_reference: &str, status: LedgerStatus) -> Option<LedgerEntry> {
        let mut books = self.lock();
        let entry = books
            .entries
            .get_mut(&(provider.to_string(), client_reference.to_string()))?;
        if entry.status == LedgerStatus::Processing {
            entry.status = status;
        }
        Some(entry.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Books> {
        // A panic while holding the lock leaves plain data behind, still consistent per entry.
        self.books.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reference: &str, order: &str, amount: u64) -> LedgerEntry {
        LedgerEntry {
            provider: "bank_transfer".into(),
            client_reference: reference.into(),
            provider_ref: format!("T-{reference}"),
            order_ref: order.into(),
            amount,
            account: "0011004455667".into(),
            status: LedgerStatus::Processing,
            booked_at: Utc::now(),
        }
    }

    #[test]
    fn same_reference_and_amount_returns_the_existing_entry() {
        let ledger = Ledger::default();
        assert!(matches!(
            ledger.book(entry("pay-1", "order-1", 2_789_000)),
            BookOutcome::Booked(_)
        ));
        ledger.complete("bank_transfer", "pay-1");
        match ledger.book(entry("pay-1", "order-1", 2_789_000)) {
            BookOutcome::Existing(existing) => assert!(existing.is_credited()),
            other => panic!("expected Existing, got {other:?}"),
        }
        assert_eq!(ledger.entries().len(), 1);
        assert_eq!(ledger.credits_for_order("order-1"), 1);
    }

    #[test]
    fn same_reference_with_another_amount_is_a_conflict_and_books_nothing() {
        let ledger = Ledger::default();
        ledger.book(entry("pay-1", "order-1", 2_789_000));
        assert!(matches!(
            ledger.book(entry("pay-1", "order-1", 5_578_000)),
            BookOutcome::Conflict(existing) if existing.amount == 2_789_000
        ));
        assert_eq!(ledger.entries().len(), 1);
    }

    #[test]
    fn the_same_reference_at_another_provider_is_a_separate_credit() {
        let ledger = Ledger::default();
        ledger.book(entry("pay-1", "order-1", 500_000));
        let mut wallet = entry("pay-1", "order-1", 500_000);
        wallet.provider = "viettel_money".into();
        assert!(matches!(ledger.book(wallet), BookOutcome::Booked(_)));
        ledger.complete("bank_transfer", "pay-1");
        ledger.complete("viettel_money", "pay-1");
        assert_eq!(ledger.credits_by_order().get("order-1"), Some(&2));
    }

    #[test]
    fn only_completed_entries_count_as_credits_and_final_states_stay() {
        let ledger = Ledger::default();
        ledger.book(entry("pay-1", "order-1", 500_000));
        ledger.book(entry("pay-2", "order-2", 500_000));
        assert_eq!(ledger.credits_for_order("order-1"), 0);
        ledger.fail("bank_transfer", "pay-2", "account_closed");
        ledger.complete("bank_transfer", "pay-2");
        assert_eq!(
            ledger.get("bank_transfer", "pay-2").map(|e| e.status),
            Some(LedgerStatus::Failed {
                code: "account_closed".into()
            })
        );
        assert!(ledger.credits_by_order().is_empty());
        assert_eq!(ledger.complete("bank_transfer", "missing"), None);
    }

    #[test]
    fn an_account_total_counts_that_accounts_unfailed_credits_only() {
        let ledger = Ledger::default();
        let mut first = entry("ref-1", "order-1", 1_000);
        first.account = "0981234567".into();
        let mut second = entry("ref-2", "order-2", 2_000);
        second.account = "0981234567".into();
        let mut failed = entry("ref-3", "order-3", 4_000);
        failed.account = "0981234567".into();
        let mut other = entry("ref-4", "order-4", 8_000);
        other.account = "0900000000".into();
        for e in [first, second, failed, other] {
            ledger.book(e);
        }
        ledger.fail("bank_transfer", "ref-3", "X");
        assert_eq!(ledger.account_total("bank_transfer", "0981234567", |_| true), 3_000);
        assert_eq!(ledger.account_total("bank_transfer", "0981234567", |_| false), 0);
        assert_eq!(ledger.account_total("viettel_money", "0981234567", |_| true), 0);
        ledger.clear();
        assert_eq!(ledger.account_total("bank_transfer", "0900000000", |_| true), 0);
    }
}
