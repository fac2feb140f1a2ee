//! The emulated providers' ledger: every credit booked, keyed by (provider, client reference).
//! It enforces the providers' idempotency and is the test oracle for "paid at most once".

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
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

/// What identifies a payout besides its idempotency key: the fields a provider compares when a
/// key comes back, so that a key reused for another payout is refused instead of answered with
/// the first payout's result (real providers answer it with a conflict).
///
/// Only fields the client sends alike on every attempt of one payout belong in it: never a
/// timestamp, a signature, a request id of its own, a memo cut to a configurable length or a
/// callback address, which a client may legitimately change between retries.
///
/// Values are kept as 64-bit hashes: the ledger holds one fingerprint per credit through runs
/// of hundreds of thousands of payouts, and two values of one field hashing alike is a 2⁻⁶⁴
/// chance. It also keeps a second copy of accounts and names out of memory and debug output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    fields: Vec<(&'static str, u64)>,
}

impl Fingerprint {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field under the provider's own name for it, so a conflict can say which one differs.
    pub fn with(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        // `DefaultHasher::new` hashes alike in every instance, so fingerprints compare.
        let mut hasher = DefaultHasher::new();
        value.as_ref().hash(&mut hasher);
        self.fields.push((name, hasher.finish()));
        self
    }

    /// The name of the first field in which `other` differs from this fingerprint, or `None`
    /// when they are the same. Only the name: a conflict answer must not echo an account or a name.
    pub fn difference(&self, other: &Fingerprint) -> Option<&'static str> {
        let mut theirs = other.fields.iter();
        for (name, value) in &self.fields {
            match theirs.next() {
                Some((their_name, their_value)) if their_name == name && their_value == value => {}
                _ => return Some(name),
            }
        }
        theirs.next().map(|(name, _)| *name)
    }
}

/// What [`Ledger::book`] (or [`Ledger::repeated`]) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookOutcome {
    /// A new credit was booked.
    Booked(LedgerEntry),
    /// The reference was already booked with the same fingerprint: nothing new was booked, and
    /// the client gets the existing credit's answer.
    Existing(LedgerEntry),
    /// The reference was already booked for another payout: refused, nothing booked. `field`
    /// names the first field of the fingerprint that differs.
    Conflict { existing: LedgerEntry, field: &'static str },
}

type Key = (String, String);

/// The in-memory ledger shared by every provider emulation.
#[derive(Debug, Default)]
pub struct Ledger {
    books: Mutex<Books>,
}

/// The entries with their fingerprints, and an index by (provider, account) so a per-account
/// question (a wallet's monthly total) costs the same whatever the size of the ledger.
#[derive(Debug, Default)]
struct Books {
    entries: HashMap<Key, Booked>,
    by_account: HashMap<(String, String), Vec<Key>>,
}

/// A booked credit and the fingerprint of the request that booked it.
#[derive(Debug)]
struct Booked {
    entry: LedgerEntry,
    fingerprint: Fingerprint,
}

impl Booked {
    /// What a request with `fingerprint` under this entry's reference gets.
    fn repeated_with(&self, fingerprint: &Fingerprint) -> BookOutcome {
        match self.fingerprint.difference(fingerprint) {
            None => BookOutcome::Existing(self.entry.clone()),
            Some(field) => BookOutcome::Conflict {
                existing: self.entry.clone(),
                field,
            },
        }
    }
}

impl Ledger {
    /// Books `entry`, made from a request with `fingerprint`, unless its (provider, client
    /// reference) exists: a second request with the same reference never books a second
    /// credit, and gets [`BookOutcome::Existing`] only if its fingerprint is the same.
    pub fn book(&self, entry: LedgerEntry, fingerprint: Fingerprint) -> BookOutcome {
        let mut books = self.lock();
        let key = (entry.provider.clone(), entry.client_reference.clone());
        if let Some(existing) = books.entries.get(&key) {
            return existing.repeated_with(&fingerprint);
        }
        books
            .by_account
            .entry((entry.provider.clone(), entry.account.clone()))
            .or_default()
            .push(key.clone());
        let booked = Booked {
            entry: entry.clone(),
            fingerprint,
        };
        books.entries.insert(key, booked);
        BookOutcome::Booked(entry)
    }

    /// What a request with `fingerprint` under an already booked reference gets
    /// ([`BookOutcome::Existing`] or [`BookOutcome::Conflict`]), or `None` when the reference
    /// is new. Lets a provider answer a repeated key before checks whose outcome may have
    /// changed since the first request (a closed account, a reached limit).
    pub fn repeated(&self, provider: &str, client_reference: &str, fingerprint: &Fingerprint) -> Option<BookOutcome> {
        self.lock()
            .entries
            .get(&(provider.to_string(), client_reference.to_string()))
            .map(|booked| booked.repeated_with(fingerprint))
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
            .map(|booked| &booked.entry)
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
            .map(|booked| booked.entry.clone())
    }

    /// Every entry, oldest booking first.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        let mut all: Vec<LedgerEntry> = self
            .lock()
            .entries
            .values()
            .map(|booked| booked.entry.clone())
            .collect();
        all.sort_by(|a, b| {
            (a.booked_at, &a.provider, &a.client_reference).cmp(&(b.booked_at, &b.provider, &b.client_reference))
        });
        all
    }

    /// Completed credits per upstream order, across all providers: any value above 1 means
    /// an order was paid twice.
    pub fn credits_by_order(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        let books = self.lock();
        for entry in books
            .entries
            .values()
            .map(|booked| &booked.entry)
            .filter(|entry| entry.is_credited())
        {
            *counts.entry(entry.order_ref.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Completed credits for one upstream order, across all providers.
    pub fn credits_for_order(&self, order_ref: &str) -> usize {
        self.lock()
            .entries
            .values()
            .filter(|booked| booked.entry.is_credited() && booked.entry.order_ref == order_ref)
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
        let entry = &mut books
            .entries
            .get_mut(&(provider.to_string(), client_reference.to_string()))?
            .entry;
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

    /// What the request for `entry` is identified by, the way an emulation fingerprints it.
    fn fingerprint(entry: &LedgerEntry) -> Fingerprint {
        Fingerprint::new()
            .with("amount", entry.amount.to_string())
            .with("account", &entry.account)
            .with("order_ref", &entry.order_ref)
    }

    /// Books `entry` with its fingerprint.
    fn book(ledger: &Ledger, entry: LedgerEntry) -> BookOutcome {
        let fingerprint = fingerprint(&entry);
        ledger.book(entry, fingerprint)
    }

    #[test]
    fn same_reference_and_amount_returns_the_existing_entry() {
        let ledger = Ledger::default();
        assert!(matches!(
            book(&ledger, entry("pay-1", "order-1", 2_789_000)),
            BookOutcome::Booked(_)
        ));
        ledger.complete("bank_transfer", "pay-1");
        match book(&ledger, entry("pay-1", "order-1", 2_789_000)) {
            BookOutcome::Existing(existing) => assert!(existing.is_credited()),
            other => panic!("expected Existing, got {other:?}"),
        }
        assert_eq!(ledger.entries().len(), 1);
        assert_eq!(ledger.credits_for_order("order-1"), 1);
    }

    #[test]
    fn same_reference_with_another_amount_is_a_conflict_and_books_nothing() {
        let ledger = Ledger::default();
        book(&ledger, entry("pay-1", "order-1", 2_789_000));
        assert!(matches!(
            book(&ledger, entry("pay-1", "order-1", 5_578_000)),
            BookOutcome::Conflict { existing, field: "amount" } if existing.amount == 2_789_000
        ));
        assert_eq!(ledger.entries().len(), 1);
    }

    #[test]
    fn same_reference_and_amount_for_another_order_or_account_is_a_conflict_naming_the_field() {
        let ledger = Ledger::default();
        book(&ledger, entry("pay-1", "order-1", 2_789_000));
        assert!(matches!(
            book(&ledger, entry("pay-1", "order-2", 2_789_000)),
            BookOutcome::Conflict { existing, field: "order_ref" } if existing.order_ref == "order-1"
        ));
        let mut elsewhere = entry("pay-1", "order-1", 2_789_000);
        elsewhere.account = "0099887766".into();
        let asked = fingerprint(&elsewhere);
        assert!(matches!(
            ledger.repeated("bank_transfer", "pay-1", &asked),
            Some(BookOutcome::Conflict { field: "account", .. })
        ));
        assert_eq!(ledger.entries().len(), 1);
        assert_eq!(
            ledger.get("bank_transfer", "pay-1").map(|e| e.account),
            Some("0011004455667".into())
        );
    }

    #[test]
    fn a_repeated_reference_with_the_same_fingerprint_is_the_existing_entry_and_a_new_one_is_none() {
        let ledger = Ledger::default();
        let first = entry("pay-1", "order-1", 500_000);
        let asked = fingerprint(&first);
        assert_eq!(ledger.repeated("bank_transfer", "pay-1", &asked), None);
        book(&ledger, first);
        assert!(matches!(
            ledger.repeated("bank_transfer", "pay-1", &asked),
            Some(BookOutcome::Existing(existing)) if existing.client_reference == "pay-1"
        ));
    }

    #[test]
    fn a_fingerprint_names_the_first_differing_field_and_never_a_value() {
        let one = Fingerprint::new()
            .with("amount", "500000")
            .with("account", "0011004455667");
        assert_eq!(one.difference(&one.clone()), None);
        let other_account = Fingerprint::new()
            .with("amount", "500000")
            .with("account", "0099887766");
        assert_eq!(one.difference(&other_account), Some("account"));
        let shorter = Fingerprint::new().with("amount", "500000");
        assert_eq!(one.difference(&shorter), Some("account"));
        assert_eq!(shorter.difference(&one), Some("account"));
    }

    #[test]
    fn the_same_reference_at_another_provider_is_a_separate_credit() {
        let ledger = Ledger::default();
        book(&ledger, entry("pay-1", "order-1", 500_000));
        let mut wallet = entry("pay-1", "order-1", 500_000);
        wallet.provider = "viettel_money".into();
        assert!(matches!(book(&ledger, wallet), BookOutcome::Booked(_)));
        ledger.complete("bank_transfer", "pay-1");
        ledger.complete("viettel_money", "pay-1");
        assert_eq!(ledger.credits_by_order().get("order-1"), Some(&2));
    }

    #[test]
    fn only_completed_entries_count_as_credits_and_final_states_stay() {
        let ledger = Ledger::default();
        book(&ledger, entry("pay-1", "order-1", 500_000));
        book(&ledger, entry("pay-2", "order-2", 500_000));
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
            book(&ledger, e);
        }
        ledger.fail("bank_transfer", "ref-3", "X");
        assert_eq!(ledger.account_total("bank_transfer", "0981234567", |_| true), 3_000);
        assert_eq!(ledger.account_total("bank_transfer", "0981234567", |_| false), 0);
        assert_eq!(ledger.account_total("viettel_money", "0981234567", |_| true), 0);
        ledger.clear();
        assert_eq!(ledger.account_total("bank_transfer", "0900000000", |_| true), 0);
    }
}
