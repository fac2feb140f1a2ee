//! The bank-transfer channel: a sponsor bank's REST API for NAPAS 24/7 interbank transfers,
//! and a sandbox that emulates it.
//!
//! The wire protocol (request signing, idempotency, status codes, Standard Webhooks
//! callbacks) is documented in this crate's `README.md`. [`BankTransferAdapter`] is the
//! gateway's client, [`PROVIDER_TYPE`] registers it with the gateway; `BankSandbox` is the
//! emulated bank, built on `sandbox-kit` (the `sandbox` feature).

pub mod client;
pub mod config;
pub mod registration;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod signing;
pub mod transformers;

pub use client::{system_now, BankTransferAdapter, PROVIDER_KEY};
pub use config::{BankTransferConfig, ConfigError};
pub use registration::PROVIDER_TYPE;
#[cfg(feature = "sandbox")]
pub use sandbox::{emulation::EMULATION, BankSandbox, BankSandboxConfig, AMOUNT_LIMIT_VND};
pub use signing::WebhookSecret;
