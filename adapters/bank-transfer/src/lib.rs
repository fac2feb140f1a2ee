//! The bank-transfer channel: a sponsor bank's REST API for NAPAS 24/7 interbank transfers,
//! and a sandbox that emulates it.
//!
//! The wire protocol (request signing, idempotency, status codes, Standard Webhooks
//! callbacks) is documented in this crate's `README.md`. [`BankTransferAdapter`] is the
//! gateway's client; [`BankSandbox`] is the emulated bank, built on `sandbox-kit`.

pub mod client;
pub mod config;
pub mod sandbox;
pub mod signing;
pub mod transformers;

pub use client::{system_now, BankTransferAdapter, PROVIDER_KEY};
pub use config::{BankTransferConfig, ConfigError};
pub use sandbox::{BankSandbox, BankSandboxConfig, AMOUNT_LIMIT_VND};
pub use signing::WebhookSecret;
