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

/// Builds every configured adapter.
pub fn build_adapters(settings: &ProvidersSettings) -> anyhow::Result<Adapters> {
    let mut adapters: HashMap<String, Arc<dyn PayoutAdapter>> = HashMap::new();
    for provider in settings.iter() {
        let adapter = provider
            .config
            .build(&provider.key)
            .map_err(|error| anyhow::anyhow!(error))
            .with_context(|| format!("providers.{} is invalid", provider.key))?;
        adapters.insert(provider.key.clone(), adapter);
    }
    Ok(Arc::new(adapters))
}

/// Without the `sandbox` feature there is no emulation to start.
#[cfg(not(feature = "sandbox"))]
pub fn build_sandbox_router(
    _settings: &crate::config::SandboxSettings,
    _kit: sandbox_kit::SharedKit,
) -> anyhow::Result<axum::Router> {
    anyhow::bail!("this gateway was built without the `sandbox` feature, so it has no provider emulations")
}
