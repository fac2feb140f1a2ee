//! How this crate joins the gateway's provider registry: the `vnpost_account` provider type.
//! VNPost is one national provider, so its one section is `[providers.vnpost_account]`.

use std::sync::Arc;

use gateway_adapter::{Channel, PayoutAdapter};
use provider_http::registry::{read_section, BoxError, ProviderConfig, ProviderType};
use provider_http::HttpConfig;
use secrecy::SecretString;

use crate::client::{VnpostAccountAdapter, PROVIDER_KEY};
use crate::config::VnpostAccountConfig;

/// The registry's entry for this crate.
pub static PROVIDER_TYPE: VnpostAccountType = VnpostAccountType;

/// The Post Office's payout API.
#[derive(Debug)]
pub struct VnpostAccountType;

/// Refuses a VNPost section under another key: orders name no VNPost instance, so a second
/// one could never be paid through.
pub(crate) fn only_one_vnpost(key: &str) -> Result<(), BoxError> {
    if key == PROVIDER_KEY {
        Ok(())
    } else {
        Err(format!("[providers.{key}]: VNPost is one provider; its section is [providers.{PROVIDER_KEY}]").into())
    }
}

impl ProviderType for VnpostAccountType {
    fn kind(&self) -> &'static str {
        PROVIDER_KEY
    }

    fn channel(&self) -> Channel {
        Channel::VnpostAccount
    }

    fn implied_by_keys(&self) -> &'static [&'static str] {
        &[PROVIDER_KEY]
    }

    fn read(&self, key: &str, section: serde_json::Value) -> Result<Box<dyn ProviderConfig>, BoxError> {
        only_one_vnpost(key)?;
        Ok(Box::new(read_section::<VnpostAccountConfig>(key, section)?))
    }
}

impl ProviderConfig for VnpostAccountConfig {
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
        vec![("secret", &self.secret)]
    }

    fn point_at(&mut self, base_url: &str, _callback_url: &str) {
        // VNPost's callback address is set at VNPost, not per request.
        self.base_url = base_url.to_string();
    }

    fn build(&self, key: &str) -> Result<Arc<dyn PayoutAdapter>, BoxError> {
        only_one_vnpost(key)?;
        Ok(Arc::new(VnpostAccountAdapter::new(self.clone())?))
    }
}
