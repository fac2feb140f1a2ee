//! The emulated providers' account directory: who holds which account, and whether it is
//! closed. Accounts nobody registered do not exist, so tests choose every outcome.

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

/// Registered accounts, keyed by (provider, account).
#[derive(Debug, Default)]
pub struct Directory {
    accounts: Mutex<HashMap<(String, String), RegisteredAccount>>,
}

impl Directory {
    /// Adds or replaces accounts; the holder name is normalised the way providers print it.
    pub fn register(&self, accounts: impl IntoIterator<Item = RegisteredAccount>) {
        let mut map = self.lock();
        for mut account in accounts {
            account.holder_name = normalise_name(&account.holder_name);
            map.insert((account.provider.clone(), account.account.clone()), account);
        }
    }

    /// The account, if the provider knows it.
    pub fn lookup(&self, provider: &str, account: &str) -> Option<RegisteredAccount> {
        self.lock().get(&(provider.to_string(), account.to_string())).cloned()
    }

    /// How many accounts are registered, for the admin API.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every account.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), RegisteredAccount>> {
        self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_are_normalised_and_unknown_accounts_do_not_exist() {
        let directory = Directory::default();
        directory.register([RegisteredAccount {
            provider: "bank_transfer".into(),
            account: "0011004455667".into(),
            holder_name: "Nguyễn Văn An".into(),
            closed: false,
        }]);
        assert_eq!(
            directory
                .lookup("bank_transfer", "0011004455667")
                .map(|a| a.holder_name),
            Some("NGUYEN VAN AN".to_string())
        );
        assert_eq!(directory.lookup("vnpost_account", "0011004455667"), None);
        assert_eq!(directory.lookup("bank_transfer", "0011004455668"), None);
    }
}
