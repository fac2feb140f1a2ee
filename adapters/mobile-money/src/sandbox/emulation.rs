//! The emulated wallet providers' entry in the sandbox: one per
//! `[sandbox.providers.<wallet provider>]` section.

use axum::Router;
use sandbox_kit::emulation::{read_section, Emulation, EmulationError};
use sandbox_kit::SharedKit;

use crate::registration::{wallet_named, KIND};
use crate::sandbox::{WalletSandbox, WalletSandboxConfig};

/// The sandbox's entry for this crate.
pub static EMULATION: WalletEmulation = WalletEmulation;

/// Builds [`WalletSandbox`]es.
#[derive(Debug)]
pub struct WalletEmulation;

impl Emulation for WalletEmulation {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn router(
        &self,
        key: &str,
        section: serde_json::Value,
        kit: SharedKit,
        _callback_url: String,
    ) -> Result<Router, EmulationError> {
        // Wallets send their IPN to the `ipnUrl` of each request, so they need no callback URL.
        let config: WalletSandboxConfig = read_section(key, section)?;
        Ok(WalletSandbox::new(wallet_named(key)?, config, kit)?.router())
    }
}
