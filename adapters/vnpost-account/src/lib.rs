//! The VNPost-account channel: the Post Office's signed-JSON payout API, and a sandbox that
//! emulates it.
//!
//! The wire protocol (the `signature` field inside every body, result codes, status query,
//! callbacks signed the same way) is documented in this crate's `README.md`.
//! [`VnpostAccountAdapter`] is the gateway's client, [`PROVIDER_TYPE`] registers it with the
//! gateway; `VnpostSandbox` is the emulated Post Office, built on `sandbox-kit` (the `sandbox`
//! feature).

pub mod client;
pub mod config;
pub mod registration;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod signing;
pub mod transformers;

pub use client::{system_now, VnpostAccountAdapter, PROVIDER_KEY};
pub use config::{ConfigError, VnpostAccountConfig};
pub use registration::PROVIDER_TYPE;
#[cfg(feature = "sandbox")]
pub use sandbox::{emulation::EMULATION, VnpostSandbox, VnpostSandboxConfig, AMOUNT_LIMIT_VND};
