//! Which provider pays an order: a bank account goes to the bank provider whose `bins` list its
//! BIN, else to the default (sponsor) bank; VNPost and wallet orders name their provider.
//! The provider is chosen once, when the order is claimed, and stored with the payment; an
//! order no configured provider pays is refused then (`provider_not_configured`).

use std::collections::{HashMap, HashSet};

use gateway_adapter::{Channel, Destination};
use serde::Deserialize;

use super::ProvidersSettings;

/// `[routing]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// The bank provider that pays every BIN no bank section lists: the sponsor bank, which
    /// sends to the other banks through NAPAS.
    #[serde(default = "default_bank")]
    pub default_bank: String,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            default_bank: default_bank(),
        }
    }
}

fn default_bank() -> String {
    adapter_bank_transfer::PROVIDER_KEY.to_string()
}

/// The routing table, checked against the configured providers.
#[derive(Clone, Debug)]
pub struct Routing {
    bank_by_bin: HashMap<&'static str, String>,
    default_bank: String,
    /// Every configured provider key: the dispatcher runs a loop for each, and for no other.
    configured: HashSet<String>,
}

impl Routing {
    /// Builds the table; refuses a BIN listed by two banks, and a default bank that is not a
    /// configured bank provider while some bank is configured.
    pub fn new(providers: &ProvidersSettings, settings: &RoutingSettings) -> Result<Self, String> {
        let mut bank_by_bin: HashMap<&'static str, String> = HashMap::new();
        for bank in providers.of_channel(Channel::BankTransfer) {
            for bin in &bank.bins {
                if let Some(other) = bank_by_bin.insert(bin.as_str(), bank.key.clone()) {
                    return Err(format!(
                        "BIN {} ({}) is in the bins of both providers.{other} and providers.{}",
                        bin.as_str(),
                        bin.bank_name(),
                        bank.key
                    ));
                }
            }
        }
        let mut banks = providers.of_channel(Channel::BankTransfer).peekable();
        if banks.peek().is_some() && !banks.any(|bank| bank.key == settings.default_bank) {
            return Err(format!(
                "routing.default_bank is \"{}\", which is not a configured bank provider",
                settings.default_bank
            ));
        }
        Ok(Self {
            bank_by_bin,
            default_bank: settings.default_bank.clone(),
            configured: providers.iter().map(|provider| provider.key.clone()).collect(),
        })
    }

    /// The bank provider that pays accounts at `bin`.
    pub fn bank_for_bin(&self, bin: &str) -> &str {
        self.bank_by_bin.get(bin).unwrap_or(&self.default_bank)
    }

    /// The provider key that pays `destination`, or `None` when that provider has no section
    /// in the configuration (a wallet provider the province has no contract with, or no bank
    /// at all): the dispatcher would never step such a payment.
    pub fn provider_for(&self, destination: &Destination) -> Option<&str> {
        let key = self.provider_key_for(destination);
        self.configured.contains(key).then_some(key)
    }

    /// The provider key that would pay `destination`, configured or not.
    pub fn provider_key_for(&self, destination: &Destination) -> &str {
        match destination {
            Destination::BankAccount { bin, .. } => self.bank_for_bin(bin.as_str()),
            other => other.provider_key(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gateway_adapter::{AccountNumber, BankBin};

    use super::*;

    fn banks(sections: &[(&str, Option<&str>)]) -> ProvidersSettings {
        let sections: BTreeMap<String, serde_json::Value> = sections
            .iter()
            .map(|(key, bins)| {
                let mut section = serde_json::json!({
                    "type": "bank_transfer", "base_url": "http://127.0.0.1:1/bank", "client_id": "gw",
                    "request_secret": "s", "webhook_secrets": ["whsec_c2VjcmV0"],
                });
                if let (Some(bins), Some(object)) = (bins, section.as_object_mut()) {
                    object.insert("bins".into(), serde_json::json!([bins]));
                }
                (key.to_string(), section)
            })
            .collect();
        ProvidersSettings::from_sections(sections).expect("valid sections")
    }

    fn account_at(bin: &str) -> Destination {
        Destination::BankAccount {
            bin: BankBin::try_from(bin).expect("known bin"),
            account_number: AccountNumber::try_from("0011004455667").expect("valid account"),
            account_name: None,
        }
    }

    #[test]
    fn a_listed_bin_goes_to_its_bank_and_every_other_bin_to_the_sponsor_bank() {
        let providers = banks(&[("bank_transfer", None), ("bank_vietinbank", Some("970415"))]);
        let routing = Routing::new(&providers, &RoutingSettings::default()).expect("valid routing");
        assert_eq!(routing.provider_for(&account_at("970415")), Some("bank_vietinbank"));
        assert_eq!(routing.provider_for(&account_at("970436")), Some("bank_transfer"));
    }

    #[test]
    fn a_bin_in_two_banks_and_an_unconfigured_default_bank_are_refused() {
        let twice = banks(&[("bank_a", Some("970415")), ("bank_transfer", Some("970415"))]);
        let error = Routing::new(&twice, &RoutingSettings::default()).expect_err("refused");
        assert!(error.contains("970415 (VietinBank)"), "{error}");
        let no_default = banks(&[("bank_a", None)]);
        let error = Routing::new(&no_default, &RoutingSettings::default()).expect_err("refused");
        assert!(error.contains("routing.default_bank is \"bank_transfer\""), "{error}");
        let chosen = RoutingSettings {
            default_bank: "bank_a".into(),
        };
        assert!(Routing::new(&no_default, &chosen).is_ok());
    }

    /// (Before, such orders were claimed under a key no dispatcher loop steps: `accepted`
    /// and then nothing, for good.)
    #[test]
    fn an_order_no_configured_provider_pays_has_no_provider() {
        let routing = Routing::new(&ProvidersSettings::default(), &RoutingSettings::default()).expect("valid");
        assert_eq!(routing.provider_for(&account_at("970436")), None, "no bank at all");
        let wallet = Destination::Wallet {
            provider: gateway_adapter::WalletProvider::MobifoneMoney,
            msisdn: gateway_adapter::Msisdn::try_from("0901234567").expect("a mobile number"),
        };
        let only_banks = banks(&[("bank_transfer", None)]);
        let routing = Routing::new(&only_banks, &RoutingSettings::default()).expect("valid");
        assert_eq!(routing.provider_for(&wallet), None, "no section for the wallet");
        assert_eq!(routing.provider_for(&account_at("970436")), Some("bank_transfer"));
    }
}
