//! How this crate joins the gateway's provider registry: the `mobile_money` provider type. An
//! order names its wallet provider, so each section is named after one
//! (`[providers.viettel_money]`, `[providers.vnpt_money]`, `[providers.mobifone_money]`).

use std::sync::Arc;

use gateway_adapter::{Channel, PayoutAdapter, WalletProvider};
use provider_http::registry::{read_section, BoxError, ProviderConfig, ProviderType};
use provider_http::HttpConfig;
use secrecy::SecretString;

use crate::client::MobileMoneyAdapter;
use crate::config::MobileMoneyConfig;

/// The registry's entry for this crate.
pub static PROVIDER_TYPE: MobileMoneyType = MobileMoneyType;

/// The type's name in `type = "…"`.
pub const KIND: &str = "mobile_money";

/// A wallet provider speaking this crate's disbursement API.
#[derive(Debug)]
pub struct MobileMoneyType;

/// The wallet provider a section's key names.
pub(crate) fn wallet_named(key: &str) -> Result<WalletProvider, BoxError> {
    WalletProvider::parse(key).ok_or_else(|| {
        let names: Vec<&str> = WalletProvider::ALL.iter().map(|wallet| wallet.as_str()).collect();
        format!(
            "[providers.{key}]: a mobile_money section is named after its wallet provider, one of {}",
            names.join(", ")
        )
        .into()
    })
}

impl ProviderType for MobileMoneyType {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn channel(&self) -> Channel {
        Channel::MobileMoney
    }

    fn implied_by_keys(&self) -> &'static [&'static str] {
        &["viettel_money", "vnpt_money", "mobifone_money"]
    }

    fn read(&self, key: &str, section: serde_json::Value) -> Result<Box<dyn ProviderConfig>, BoxError> {
        wallet_named(key)?;
        Ok(Box::new(read_section::<MobileMoneyConfig>(key, section)?))
    }
}

impl ProviderConfig for MobileMoneyConfig {
    fn timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    fn http(&self) -> &HttpConfig {
        &self.http
    }

    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }

    fn callback_tolerance(&self) -> (&'static str, i64) {
        ("callback_tolerance_secs", self.callback_tolerance_secs)
    }

    fn memo_max_chars(&self) -> usize {
        self.memo_max_chars
    }

    fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
        vec![("secret_key", &self.secret_key)]
    }

    fn point_at(&mut self, base_url: &str, callback_url: &str) {
        // Wallets send their IPN to the `ipnUrl` of each request.
        self.base_url = base_url.to_string();
        self.ipn_url = callback_url.to_string();
    }

    fn build(&self, key: &str) -> Result<Arc<dyn PayoutAdapter>, BoxError> {
        Ok(Arc::new(MobileMoneyAdapter::new(wallet_named(key)?, self.clone())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_must_be_named_after_a_wallet_provider() {
        assert!(wallet_named("viettel_money").is_ok());
        let error = wallet_named("momo").expect_err("not a wallet provider").to_string();
        assert!(error.contains("viettel_money, vnpt_money, mobifone_money"), "{error}");
    }
}
