//! The provider registry: the one place in the gateway that names the concrete adapters and
//! their emulations. Adding a channel means a new crate under `adapters/`, a config section
//! here, and a line in [`build_adapters`] (and [`build_sandbox_router`]).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use gateway_adapter::{PayoutAdapter, WalletProvider};
use serde::Deserialize;

use adapter_bank_transfer::{BankSandbox, BankSandboxConfig, BankTransferAdapter, BankTransferConfig};
use adapter_mobile_money::{MobileMoneyAdapter, MobileMoneyConfig, WalletSandbox, WalletSandboxConfig};
use adapter_vnpost_account::{VnpostAccountAdapter, VnpostAccountConfig, VnpostSandbox, VnpostSandboxConfig};
use sandbox_kit::SharedKit;

use crate::config::SandboxSettings;

/// Adapters by provider key (`bank_transfer`, `vnpost_account`, `viettel_money`, …).
pub type Adapters = Arc<HashMap<String, Arc<dyn PayoutAdapter>>>;

/// `[providers.*]`: one section per provider; a provider without a section is not paid
/// through (its payments wait, visibly, until it is configured).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersSettings {
    pub bank_transfer: Option<BankTransferConfig>,
    pub vnpost_account: Option<VnpostAccountConfig>,
    pub viettel_money: Option<MobileMoneyConfig>,
    pub vnpt_money: Option<MobileMoneyConfig>,
    pub mobifone_money: Option<MobileMoneyConfig>,
}

impl ProvidersSettings {
    /// The wallet providers' sections, with their keys.
    pub fn wallets_mut(&mut self) -> [(WalletProvider, &mut Option<MobileMoneyConfig>); 3] {
        [
            (WalletProvider::ViettelMoney, &mut self.viettel_money),
            (WalletProvider::VnptMoney, &mut self.vnpt_money),
            (WalletProvider::MobifoneMoney, &mut self.mobifone_money),
        ]
    }
}

/// Builds every configured adapter.
pub fn build_adapters(settings: &ProvidersSettings) -> anyhow::Result<Adapters> {
    let mut adapters: HashMap<String, Arc<dyn PayoutAdapter>> = HashMap::new();
    let mut add = |adapter: Arc<dyn PayoutAdapter>| {
        adapters.insert(adapter.provider_key().to_string(), adapter);
    };
    if let Some(config) = &settings.bank_transfer {
        add(Arc::new(
            BankTransferAdapter::new(config.clone()).context("providers.bank_transfer is invalid")?,
        ));
    }
    if let Some(config) = &settings.vnpost_account {
        add(Arc::new(
            VnpostAccountAdapter::new(config.clone()).context("providers.vnpost_account is invalid")?,
        ));
    }
    let wallets = [
        (WalletProvider::ViettelMoney, &settings.viettel_money),
        (WalletProvider::VnptMoney, &settings.vnpt_money),
        (WalletProvider::MobifoneMoney, &settings.mobifone_money),
    ];
    for (provider, config) in wallets {
        if let Some(config) = config {
            let adapter = MobileMoneyAdapter::new(provider, config.clone())
                .with_context(|| format!("providers.{} is invalid", provider.as_str()))?;
            add(Arc::new(adapter));
        }
    }
    Ok(Arc::new(adapters))
}

/// `[sandbox.providers.*]`: what each emulated provider shares with the gateway (secrets).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxProvidersSettings {
    pub bank_transfer: BankSandboxConfig,
    pub vnpost_account: VnpostSandboxConfig,
    pub viettel_money: WalletSandboxConfig,
    pub vnpt_money: WalletSandboxConfig,
    pub mobifone_money: WalletSandboxConfig,
}

/// The URL path under which the sandbox serves a provider; the gateway's `base_url` for
/// that provider is the sandbox's address followed by it.
pub fn sandbox_path(provider_key: &str) -> String {
    match provider_key {
        "bank_transfer" => "/bank".to_string(),
        "vnpost_account" => "/vnpost".to_string(),
        wallet => format!("/wallet/{wallet}"),
    }
}

/// The provider emulator: each provider under its own path ([`sandbox_path`]) and the kit's
/// admin routes (`/sandbox/ledger`, `/sandbox/faults/{provider}`, `/sandbox/accounts`).
pub fn build_sandbox_router(settings: &SandboxSettings, kit: SharedKit) -> anyhow::Result<axum::Router> {
    for (provider, faults) in &settings.faults {
        kit.set_faults(provider, faults.clone());
    }
    let callback_base = settings.callback_base_url.trim_end_matches('/');
    let providers = &settings.providers;
    let bank = BankSandbox::new(
        BankSandboxConfig {
            callback_url: Some(format!("{callback_base}/bank_transfer")),
            ..providers.bank_transfer.clone()
        },
        kit.clone(),
    )
    .context("sandbox.providers.bank_transfer is invalid")?;
    let vnpost = VnpostSandbox::new(
        VnpostSandboxConfig {
            callback_url: Some(format!("{callback_base}/vnpost_account")),
            ..providers.vnpost_account.clone()
        },
        kit.clone(),
    )
    .context("sandbox.providers.vnpost_account is invalid")?;
    let mut router = axum::Router::new()
        .nest(&sandbox_path("bank_transfer"), bank.router())
        .nest(&sandbox_path("vnpost_account"), vnpost.router());
    let wallets = [
        (WalletProvider::ViettelMoney, &providers.viettel_money),
        (WalletProvider::VnptMoney, &providers.vnpt_money),
        (WalletProvider::MobifoneMoney, &providers.mobifone_money),
    ];
    for (provider, config) in wallets {
        // Wallets send their IPN to the `ipnUrl` of each request, so they need no callback URL.
        let sandbox = WalletSandbox::new(provider, config.clone(), kit.clone())
            .with_context(|| format!("sandbox.providers.{} is invalid", provider.as_str()))?;
        router = router.nest(&sandbox_path(provider.as_str()), sandbox.router());
    }
    Ok(router.merge(sandbox_kit::admin_router(kit)))
}
