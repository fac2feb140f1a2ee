//! The providers the gateway pays through: the registry of provider types (the one list that
//! names adapter crates), the configured `[providers.<key>]` sections, routing of orders to
//! them, and the sandbox that emulates them.
//!
//! A second provider of an existing type is one config section (a second bank:
//! `[providers.<key>] type = "bank_transfer"` with its own URL, secrets and `bins`); a new
//! type is one adapter crate and one line in [`registry::PROVIDER_TYPES`].

pub mod registry;
pub mod routing;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod settings;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use gateway_adapter::PayoutAdapter;
use provider_http::registry::ProviderConfig;

pub use routing::{Routing, RoutingSettings};
#[cfg(feature = "sandbox")]
pub use sandbox::build_sandbox_router;
pub use settings::{ConfiguredProvider, ProvidersSettings};

/// `[sandbox.providers.<key>]`: what each emulated provider shares with the gateway (its
/// secrets), read by the provider type's emulation; `type` as in `[providers.<key>]`.
pub type SandboxProvidersSettings = std::collections::BTreeMap<String, serde_json::Value>;

/// Adapters by provider key (`bank_transfer`, `vnpost_account`, `viettel_money`, …).
pub type Adapters = Arc<HashMap<String, Arc<dyn PayoutAdapter>>>;

/// The URL path under which the sandbox serves provider `key`; the gateway's `base_url` for
/// that provider is the sandbox's address followed by it.
pub fn sandbox_path(provider_key: &str) -> String {
    format!("/{provider_key}")
}

/// Builds every configured adapter. A provider whose section leaves its keep-alive pool unset
/// keeps `provider_concurrency` idle connections: one per call the dispatcher runs at once.
pub fn build_adapters(settings: &ProvidersSettings, provider_concurrency: usize) -> anyhow::Result<Adapters> {
    let mut adapters: HashMap<String, Arc<dyn PayoutAdapter>> = HashMap::new();
    for provider in settings.iter() {
        let adapter = pool_sized(provider, provider_concurrency)
            .build(&provider.key)
            .map_err(|error| anyhow::anyhow!(error))
            .with_context(|| format!("providers.{} is invalid", provider.key))?;
        adapters.insert(provider.key.clone(), adapter);
    }
    Ok(Arc::new(adapters))
}

/// The provider's config with its keep-alive pool sized to `provider_concurrency` when its
/// section leaves the pool unset.
fn pool_sized(provider: &ConfiguredProvider, provider_concurrency: usize) -> Box<dyn ProviderConfig> {
    let mut config = provider.config.clone();
    let pool = &mut config.http_mut().pool_max_idle_per_host;
    if pool.is_none() {
        *pool = Some(provider_concurrency.max(1));
    }
    config
}

/// Without the `sandbox` feature there is no emulation to start.
#[cfg(not(feature = "sandbox"))]
pub fn build_sandbox_router(
    _settings: &crate::config::SandboxSettings,
    _kit: sandbox_kit::SharedKit,
) -> anyhow::Result<axum::Router> {
    anyhow::bail!("this gateway was built without the `sandbox` feature, so it has no provider emulations")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_keep_alive_pool_follows_the_dispatchers_concurrency_and_a_set_one_stays() {
        let section = |pool: Option<usize>| {
            let mut section = serde_json::json!({
                "base_url": "http://127.0.0.1:1/bank", "client_id": "gw", "request_secret": "s",
                "webhook_secrets": ["whsec_c2VjcmV0"],
            });
            if let (Some(pool), Some(object)) = (pool, section.as_object_mut()) {
                object.insert("pool_max_idle_per_host".into(), serde_json::json!(pool));
            }
            section
        };
        for (set, expected) in [(None, 64), (Some(8), 8)] {
            let providers =
                ProvidersSettings::from_sections([("bank_transfer".to_string(), section(set))].into_iter().collect())
                    .expect("a valid section");
            let provider = providers.get("bank_transfer").expect("configured");
            assert_eq!(pool_sized(provider, 64).http().pool_max_idle_per_host, Some(expected));
        }
    }
}
