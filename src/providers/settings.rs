//! `[providers.<key>]`: the configured providers, each section read by its provider type. A
//! provider without a section is not paid through (its payments wait, visibly, until it is
//! configured).

use std::collections::BTreeMap;
use std::fmt;

use gateway_adapter::{BankBin, Channel};
use provider_http::registry::{ProviderConfig, ProviderType};
use serde::{Deserialize, Deserializer};

use super::registry::{take_type, type_of};

/// One configured provider.
#[derive(Clone)]
pub struct ConfiguredProvider {
    /// The section's key: the provider key in the store, the callback route and metrics.
    pub key: String,
    pub provider_type: &'static dyn ProviderType,
    /// The NAPAS BINs whose accounts this bank pays (`bins = […]`; bank providers only).
    pub bins: Vec<BankBin>,
    /// The adapter's own keys, read by its type.
    pub config: Box<dyn ProviderConfig>,
}

impl fmt::Debug for ConfiguredProvider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ConfiguredProvider")
            .field("key", &self.key)
            .field("type", &self.provider_type.kind())
            .field("bins", &self.bins)
            .field("config", &self.config)
            .finish()
    }
}

/// Every configured provider, in key order.
#[derive(Clone, Debug, Default)]
pub struct ProvidersSettings {
    providers: Vec<ConfiguredProvider>,
}

impl ProvidersSettings {
    /// Reads every section; the first one that cannot be read is the error.
    pub fn from_sections(sections: BTreeMap<String, serde_json::Value>) -> Result<Self, String> {
        let providers = sections
            .into_iter()
            .map(|(key, section)| {
                read_provider(&key, section).map_err(|problem| format!("[providers.{key}]: {problem}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { providers })
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConfiguredProvider> {
        self.providers.iter()
    }

    /// The longest one call to each provider may take (its `timeout_ms`), by provider key.
    pub fn timeouts(&self) -> std::collections::HashMap<String, std::time::Duration> {
        self.providers
            .iter()
            .map(|provider| {
                let timeout = std::time::Duration::from_millis(provider.config.timeout_ms());
                (provider.key.clone(), timeout)
            })
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<&ConfiguredProvider> {
        self.providers.iter().find(|provider| provider.key == key)
    }

    /// The configured providers paying `channel`.
    pub fn of_channel(&self, channel: Channel) -> impl Iterator<Item = &ConfiguredProvider> {
        self.providers
            .iter()
            .filter(move |provider| provider.provider_type.channel() == channel)
    }

    /// Every provider's config, to point them elsewhere (the demo's sandbox, tests).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ConfiguredProvider> {
        self.providers.iter_mut()
    }

    /// The concrete config of provider `key`, for a test that reads one value.
    pub fn config<T: 'static>(&self, key: &str) -> Option<&T> {
        self.get(key)
            .and_then(|provider| provider.config.as_any().downcast_ref::<T>())
    }

    /// The concrete config of provider `key`, for a test or the demo that changes one value:
    /// `config_mut::<BankTransferConfig>("bank_transfer")`.
    pub fn config_mut<T: 'static>(&mut self, key: &str) -> Option<&mut T> {
        self.providers
            .iter_mut()
            .find(|provider| provider.key == key)
            .and_then(|provider| provider.config.as_any_mut().downcast_mut::<T>())
    }

    /// Stops paying through provider `key` (its payments wait until it is configured again).
    pub fn remove(&mut self, key: &str) -> Option<ConfiguredProvider> {
        let index = self.providers.iter().position(|provider| provider.key == key)?;
        Some(self.providers.remove(index))
    }
}

fn read_provider(key: &str, mut section: serde_json::Value) -> Result<ConfiguredProvider, String> {
    let declared = take_type(key, &mut section)?;
    let provider_type = type_of(key, declared.as_deref())?.provider;
    let bins = take_bins(&mut section)?;
    if !bins.is_empty() && provider_type.channel() != Channel::BankTransfer {
        return Err("bins route bank accounts, so only a bank provider has them".to_string());
    }
    let config = provider_type.read(key, section).map_err(|error| error.to_string())?;
    Ok(ConfiguredProvider {
        key: key.to_string(),
        provider_type,
        bins,
        config,
    })
}

/// Takes the registry's `bins` key out of a section: known NAPAS BINs.
fn take_bins(section: &mut serde_json::Value) -> Result<Vec<BankBin>, String> {
    let Some(raw) = section.as_object_mut().and_then(|object| object.remove("bins")) else {
        return Ok(Vec::new());
    };
    let serde_json::Value::Array(values) = raw else {
        return Err("bins must be a list of NAPAS BINs, e.g. [\"970415\"]".to_string());
    };
    values
        .iter()
        .map(|value| {
            let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
            BankBin::try_from(text.as_str()).map_err(|invalid| format!("bins: \"{text}\": {}", invalid.message))
        })
        .collect()
}

impl<'de> Deserialize<'de> for ProvidersSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let sections = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        Self::from_sections(sections).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(extra: serde_json::Value) -> serde_json::Value {
        let mut section = serde_json::json!({
            "base_url": "http://127.0.0.1:1/bank", "client_id": "gw", "request_secret": "s",
            "webhook_secrets": ["whsec_c2VjcmV0"],
        });
        if let (Some(section), Some(extra)) = (section.as_object_mut(), extra.as_object()) {
            section.extend(extra.clone());
        }
        section
    }

    fn read(sections: Vec<(&str, serde_json::Value)>) -> Result<ProvidersSettings, String> {
        ProvidersSettings::from_sections(
            sections
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect(),
        )
    }

    #[test]
    fn a_second_bank_is_one_section_with_a_type_and_its_bins() {
        let providers = read(vec![
            ("bank_transfer", bank(serde_json::json!({}))),
            (
                "bank_vietinbank",
                bank(serde_json::json!({"type": "bank_transfer", "bins": ["970415"]})),
            ),
        ])
        .expect("two banks");
        let second = providers.get("bank_vietinbank").expect("configured");
        assert_eq!(second.provider_type.kind(), "bank_transfer");
        assert_eq!(
            second.bins.iter().map(|bin| bin.as_str()).collect::<Vec<_>>(),
            ["970415"]
        );
        assert_eq!(providers.of_channel(Channel::BankTransfer).count(), 2);
    }

    #[test]
    fn bad_sections_are_refused_naming_the_section_and_the_problem() {
        let cases = [
            ("bank_x", bank(serde_json::json!({})), "needs a `type`"),
            (
                "bank_x",
                bank(serde_json::json!({"type": "swift"})),
                "not a provider type",
            ),
            (
                "bank_x",
                bank(serde_json::json!({"type": "bank_transfer", "bins": ["970499"]})),
                "970499",
            ),
            (
                "bank_x",
                bank(serde_json::json!({"type": "bank_transfer", "bins": "970415"})),
                "must be a list",
            ),
            (
                "bank_x",
                bank(serde_json::json!({"type": "bank_transfer", "base_ur": "x"})),
                "unknown field",
            ),
            (
                "vnpost_account",
                serde_json::json!({"bins": ["970415"]}),
                "only a bank provider",
            ),
            (
                "vnpost_2",
                serde_json::json!({"type": "vnpost_account"}),
                "VNPost is one provider",
            ),
        ];
        for (key, section, expected) in cases {
            let error = read(vec![(key, section)]).expect_err("refused");
            assert!(error.starts_with(&format!("[providers.{key}]")), "{error}");
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
