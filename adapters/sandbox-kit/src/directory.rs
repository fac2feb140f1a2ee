//! The emulated providers' account directory: who holds which account, at which bank, and
//! whether it is closed. Accounts nobody registered do not exist, so tests choose every outcome.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use gateway_adapter::names::normalise_name;
use serde::{Deserialize, Serialize};

/// One account a provider knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredAccount {
    /// The emulated provider's key, e.g. `bank_transfer`, `vnpost_account`, `viettel_money`.
    pub provider: String,
    /// The account number or phone number, exactly as the client sends it.
    pub account: String,
    /// The holder's name as name inquiry returns it: UPPERCASE, no diacritics. Names given
    /// with diacritics are normalised on registration.
    pub holder_name: String,
    /// A closed account still answers name inquiry but refuses credits.
    #[serde(default)]
    pub closed: bool,
}

impl RegisteredAccount {
    /// This account, held at the bank of NAPAS BIN `bin`: only that BIN finds it.
    pub fn at_bank(self, bin: impl Into<String>) -> Registration {
        Registration {
            account: self,
            bin: Some(bin.into()),
        }
    }
}

/// An account and the bank that holds it, as `POST /sandbox/accounts` takes it: the fields
/// of [`RegisteredAccount`] plus an optional `bin`.
///
/// A bank account number is unique only within its bank, and the same number at another bank
/// is another person's account (or none): a bank answers a transfer to the right number under
/// the wrong BIN with "account not found". Without a BIN an account is found under any BIN,
/// which is what VNPost accounts and wallets need, and what bank accounts registered before
/// the directory knew BINs relied on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    #[serde(flatten)]
    pub account: RegisteredAccount,
    /// The NAPAS BIN of the bank that holds the account (e.g. `970436`), or `None` for any.
    #[serde(default, alias = "bank_bin", skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
}

impl From<RegisteredAccount> for Registration {
    /// The account, found under any BIN.
    fn from(account: RegisteredAccount) -> Self {
        Self { account, bin: None }
    }
}

/// Registered accounts, keyed by (provider, account): each number's registrations, one per
/// bank (rarely more than one), so a lookup costs the same whatever the size of the directory.
#[derive(Debug, Default)]
pub struct Directory {
    accounts: Mutex<HashMap<(String, String), Vec<Registration>>>,
}

impl Directory {
    /// Adds or replaces accounts; the holder name is normalised the way providers print it.
    /// An account registered without a BIN replaces every registration of its number at that
    /// provider; one registered at a bank replaces that bank's and a BIN-less registration.
    pub fn register(&self, accounts: impl IntoIterator<Item = impl Into<Registration>>) {
        let mut map = self.lock();
        for registration in accounts {
            let mut registration: Registration = registration.into();
            registration.account.holder_name = normalise_name(&registration.account.holder_name);
            let key = (
                registration.account.provider.clone(),
                registration.account.account.clone(),
            );
            let held = map.entry(key).or_default();
            match &registration.bin {
                None => held.clear(),
                Some(bin) => held.retain(|other| other.bin.as_ref().is_some_and(|other_bin| other_bin != bin)),
            }
            held.push(registration);
        }
    }

    /// The account, if the provider knows it, whatever bank holds it: for providers whose
    /// accounts have no BIN (VNPost, wallets).
    pub fn lookup(&self, provider: &str, account: &str) -> Option<RegisteredAccount> {
        self.lock()
            .get(&(provider.to_string(), account.to_string()))
            .and_then(|held| held.first())
            .map(|registration| registration.account.clone())
    }

    /// The account, if the provider knows it at the bank of `bin` (or registered it without a
    /// BIN): a bank account asked for under another bank's BIN does not exist.
    pub fn lookup_at(&self, provider: &str, bin: &str, account: &str) -> Option<RegisteredAccount> {
        self.lock()
            .get(&(provider.to_string(), account.to_string()))?
            .iter()
            .find(|registration| registration.bin.as_deref().is_none_or(|held_at| held_at == bin))
            .map(|registration| registration.account.clone())
    }

    /// How many accounts are registered, for the admin API.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every account.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Vec<Registration>>> {
        self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(holder_name: &str) -> RegisteredAccount {
        RegisteredAccount {
            provider: "bank_transfer".into(),
            account: "0011004455667".into(),
            holder_name: holder_name.into(),
            closed: false,
        }
    }

    fn holder_at(directory: &Directory, bin: &str) -> Option<String> {
        directory
            .lookup_at("bank_transfer", bin, "0011004455667")
            .map(|a| a.holder_name)
    }

    #[test]
    fn registered_names_are_normalised_and_unknown_accounts_do_not_exist() {
        let directory = Directory::default();
        directory.register([account("Nguyễn Văn An")]);
        assert_eq!(
            directory
                .lookup("bank_transfer", "0011004455667")
                .map(|a| a.holder_name),
            Some("NGUYEN VAN AN".to_string())
        );
        assert_eq!(directory.lookup("vnpost_account", "0011004455667"), None);
        assert_eq!(directory.lookup("bank_transfer", "0011004455668"), None);
    }

    #[test]
    fn an_account_registered_at_a_bank_is_found_under_that_bin_only_and_one_without_under_any() {
        let directory = Directory::default();
        directory.register([account("Nguyễn Văn An").at_bank("970436")]);
        assert_eq!(holder_at(&directory, "970436"), Some("NGUYEN VAN AN".into()));
        assert_eq!(holder_at(&directory, "970415"), None);

        // The same number at another bank is another person's account.
        directory.register([account("Trần Thị Bình").at_bank("970415")]);
        assert_eq!(holder_at(&directory, "970415"), Some("TRAN THI BINH".into()));
        assert_eq!(holder_at(&directory, "970436"), Some("NGUYEN VAN AN".into()));
        assert_eq!(directory.len(), 2);

        // Without a BIN: found under any BIN, and it replaces the number's bank registrations.
        directory.register([account("Lê Văn Cường")]);
        assert_eq!(holder_at(&directory, "970405"), Some("LE VAN CUONG".into()));
        assert_eq!(holder_at(&directory, "970436"), Some("LE VAN CUONG".into()));
        assert_eq!(directory.len(), 1);

        // At a bank again: no longer found under the others.
        directory.register([account("Lê Văn Cường").at_bank("970436")]);
        assert_eq!(holder_at(&directory, "970405"), None);
        assert_eq!(directory.len(), 1);
    }

    #[test]
    fn a_registration_reads_with_or_without_a_bin() {
        let with: Registration = serde_json::from_value(serde_json::json!({
            "provider": "bank_transfer", "account": "0011004455667", "holder_name": "AN", "bin": "970436"
        }))
        .expect("a registration");
        assert_eq!(with.bin.as_deref(), Some("970436"));
        assert!(!with.account.closed);
        let without: Registration = serde_json::from_value(serde_json::json!({
            "provider": "vnpost_account", "account": "8800123456789", "holder_name": "AN", "closed": true
        }))
        .expect("a registration");
        assert_eq!((without.bin, without.account.closed), (None, true));
    }
}
