//! The emulated Post Office's entry in the sandbox (`[sandbox.providers.vnpost_account]`).

use axum::Router;
use sandbox_kit::emulation::{read_section, Emulation, EmulationError};
use sandbox_kit::SharedKit;

use crate::client::PROVIDER_KEY;
use crate::registration::only_one_vnpost;
use crate::sandbox::{VnpostSandbox, VnpostSandboxConfig};

/// The sandbox's entry for this crate.
pub static EMULATION: VnpostEmulation = VnpostEmulation;

/// Builds the [`VnpostSandbox`].
#[derive(Debug)]
pub struct VnpostEmulation;

impl Emulation for VnpostEmulation {
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
        only_one_vnpost(key)?;
        let config = VnpostSandboxConfig {
            callback_url: Some(callback_url),
            ..read_section(key, section)?
        };
        Ok(VnpostSandbox::new(config, kit)?.router())
    }
}
