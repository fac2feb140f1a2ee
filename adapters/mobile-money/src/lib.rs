//! The mobile-money channel: a MoMo-style wallet disbursement API spoken by Viettel Money,
//! VNPT Money and MobiFone Money, and a sandbox that emulates it.
//!
//! The wire protocol (sorted-field HMAC-SHA256 signatures in the body, `requestId`
//! idempotency, `resultCode`s, IPN callbacks answered with 204) is documented in this
//! crate's `README.md`. [`MobileMoneyAdapter`] is the gateway's client, one instance per
//! [`gateway_adapter::WalletProvider`], registered with the gateway by [`PROVIDER_TYPE`];
//! `WalletSandbox` is the emulated provider, built on `sandbox-kit` (the `sandbox` feature).

pub mod client;
pub mod config;
pub mod registration;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod signing;
pub mod transformers;

pub use client::{system_now_ms, MobileMoneyAdapter};
pub use config::{ConfigError, MobileMoneyConfig};
pub use registration::PROVIDER_TYPE;
#[cfg(feature = "sandbox")]
pub use sandbox::{emulation::EMULATION, WalletSandbox, WalletSandboxConfig, DEFAULT_MONTHLY_LIMIT_VND};
pub use transformers::ResultCode;
