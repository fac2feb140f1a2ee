//! What an adapter crate's emulation gives the sandbox: an [`Emulation`] that builds the
//! emulated provider for one `[sandbox.providers.<key>]` section.

use axum::Router;

use crate::SharedKit;

/// An error an emulation reports while reading its section.
pub type EmulationError = Box<dyn std::error::Error + Send + Sync>;

/// One kind of emulated provider; implemented by a unit struct exported as a `static` from the
/// adapter crate's `sandbox` module (behind its `sandbox` feature).
pub trait Emulation: Sync {
    /// The provider type it emulates, as in `type = "…"` (`bank_transfer`, `mobile_money`, …).
    fn kind(&self) -> &'static str;

    /// The emulated provider `key` from its section: its API routes, which book into `kit`
    /// under `key`, and send callbacks to `callback_url` where the provider has a fixed
    /// callback address (banks, VNPost; wallets use each request's own).
    fn router(
        &self,
        key: &str,
        section: serde_json::Value,
        kit: SharedKit,
        callback_url: String,
    ) -> Result<Router, EmulationError>;
}

/// Deserialises a sandbox section with the emulation's own `deny_unknown_fields`, naming the
/// key; like the gateway's provider sections, the error never quotes a value.
pub fn read_section<T: serde::de::DeserializeOwned>(
    key: &str,
    section: serde_json::Value,
) -> Result<T, EmulationError> {
    serde_json::from_value(section).map_err(|error| {
        let message = gateway_adapter::mask::without_values(&error.to_string());
        format!("[sandbox.providers.{key}]: {message}").into()
    })
}
