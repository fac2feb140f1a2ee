//! The emulated bank's entry in the sandbox: one emulated bank per `[sandbox.providers.<key>]`
//! section of type `bank_transfer`, each with its own secrets, ledger key and accounts.

use axum::Router;
use sandbox_kit::emulation::{read_section, Emulation, EmulationError};
use sandbox_kit::SharedKit;

use crate::client::PROVIDER_KEY;
use crate::sandbox::{BankSandbox, BankSandboxConfig};

/// The sandbox's entry for this crate.
pub static EMULATION: BankEmulation = BankEmulation;

/// Builds [`BankSandbox`]es.
#[derive(Debug)]
pub struct BankEmulation;

impl Emulation for BankEmulation {
    fn kind(&self) -> &'static str {
        PROVIDER_KEY
    }

    fn router(
        &self,
        key: &str,
        section: serde_json::Value,
        kit: SharedKit,
        callback_url: String,
    ) -> Result<Router, EmulationError> {
        let config = BankSandboxConfig {
            callback_url: Some(callback_url),
            ..read_section(key, section)?
        };
        Ok(BankSandbox::for_provider(key, config, kit)?.router())
    }
}
