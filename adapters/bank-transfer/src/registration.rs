//! How this crate joins the gateway's provider registry: the `bank_transfer` provider type,
//! one bank per `[providers.<key>]` section (the sponsor bank, and any bank paid directly).

use std::sync::Arc;

use gateway_adapter::{Channel, PayoutAdapter};
use provider_http::registry::{read_section, BoxError, ProviderConfig, ProviderType};
use provider_http::HttpConfig;
use secrecy::SecretString;

use crate::client::{BankTransferAdapter, PROVIDER_KEY};
use crate::config::BankTransferConfig;

/// The registry's entry for this crate.
pub static PROVIDER_TYPE: BankTransferType = BankTransferType;

/// A bank speaking this crate's API (NAPAS 24/7 transfers through a bank's REST API).
#[derive(Debug)]
pub struct BankTransferType;

impl ProviderType for BankTransferType {
    fn kind(&self) -> &'static str {
        PROVIDER_KEY
    }

    fn channel(&self) -> Channel {
        Channel::BankTransfer
    }

    fn implied_by_keys(&self) -> &'static [&'static str] {
        &[PROVIDER_KEY]
    }

    fn read(&self, key: &str, section: serde_json::Value) -> Result<Box<dyn ProviderConfig>, BoxError> {
        Ok(Box::new(read_section::<BankTransferConfig>(key, section)?))
    }
}

impl ProviderConfig for BankTransferConfig {
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
        ("webhook_tolerance_secs", self.webhook_tolerance_secs)
    }

    fn memo_max_chars(&self) -> usize {
        self.memo_max_chars
    }

    fn secrets(&self) -> Vec<(&'static str, &SecretString)> {
        let mut secrets = vec![("request_secret", &self.request_secret)];
        secrets.extend(self.webhook_secrets.iter().map(|secret| ("webhook_secrets", secret)));
        secrets
    }

    fn point_at(&mut self, base_url: &str, _callback_url: &str) {
        // The bank's callback address is set at the bank, not per request.
        self.base_url = base_url.to_string();
    }

    fn build(&self, key: &str) -> Result<Arc<dyn PayoutAdapter>, BoxError> {
        Ok(Arc::new(BankTransferAdapter::for_provider(key, self.clone())?))
    }
}
