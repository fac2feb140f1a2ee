//! The provider registry: the one place in the gateway that names the concrete adapters.
//! Adding a channel means a new crate under `adapters/`, a config section here, and a line
//! in [`build_adapters`].

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use gateway_adapter::PayoutAdapter;
use serde::Deserialize;

use adapter_bank_transfer::sandbox::{BankSandbox, BankSandboxConfig};
use adapter_bank_transfer::{BankTransferAdapter, BankTransferConfig};
use sandbox_kit::SharedKit;

use crate::config::SandboxSettings;

/// Adapters by provider key (`bank_transfer`, `vnpost_account`, `viettel_money`, …).
pub type Adapters = Arc<HashMap<String, Arc<dyn PayoutAdapter>>>;

/// `[providers.*]`: one section per provider; a provider without a section is not paid
/// through (its payments wait, visibly, until it is configured).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ProvidersSettings {
    pub bank_transfer: Option<BankTransferConfig>,
}

/// Builds every configured adapter.
pub fn build_adapters(settings: &ProvidersSettings) -> anyhow::Result<Adapters> {
    let mut adapters: HashMap<String, Arc<dyn PayoutAdapter>> = HashMap::new();
    if let Some(config) = &settings.bank_transfer {
        let adapter = BankTransferAdapter::new(config.clone())
            .context("providers.bank_transfer is invalid")?;
        adapters.insert(adapter.provider_key().to_string(), Arc::new(adapter));
    }
    Ok(Arc::new(adapters))
}

/// `[sandbox.providers.*]`: what each emulated provider shares with the gateway (secrets).
#[derive(Clone, Debug, Deserialize)]
pub struct SandboxProvidersSettings {
    pub bank_transfer: BankSandboxConfig,
}

/// The provider emulator: each provider under its own path prefix (`/bank`, …) and the
/// kit's admin routes (`/sandbox/ledger`, `/sandbox/faults/{provider}`, `/sandbox/accounts`).
pub fn build_sandbox_router(
    settings: &SandboxSettings,
    kit: SharedKit,
) -> anyhow::Result<axum::Router> {
    for (provider, faults) in &settings.faults {
        kit.set_faults(provider, faults.clone());
    }
    let callback_base = settings.callback_base_url.trim_end_matches('/');
    let bank = BankSandbox::new(
        BankSandboxConfig {
            callback_url: Some(format!("{callback_base}/bank_transfer")),
            ..settings.providers.bank_transfer.clone()
        },
        kit.clone(),
    )
    .context("sandbox.providers.bank_transfer is invalid")?;
    Ok(axum::Router::new()
        .nest("/bank", bank.router())
        .merge(sandbox_kit::admin_router(kit)))
}
