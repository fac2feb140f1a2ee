//! The one HTTP runner every provider adapter sends through.
//!
//! An adapter *describes* a call ([`ProviderRequest`]: method, path, headers, body bytes, and
//! whether it can move money) and parses the answer in its own `transformers.rs`; the
//! [`ProviderRunner`] builds the client (rustls, keep-alive pool, timeouts, mutual TLS),
//! sends, times, reads `Retry-After`, classifies transport errors by whether money could have
//! moved, and records per-provider metrics. [`reason`] holds the reason codes every channel
//! shares; this crate's `README.md` lists them.

pub mod client;
pub mod config_error;
pub mod metrics;
pub mod reason;
pub mod registry;
pub mod request;
pub mod response;
pub mod retry_after;
pub mod runner;
pub mod settings;
pub mod transport;

pub use client::ClientError;
pub use config_error::ConfigError;
pub use request::{CallKind, Method, ProviderRequest};
pub use response::ProviderResponse;
pub use runner::ProviderRunner;
pub use settings::{defaults, ClientSettings, HttpConfig, TlsFiles};
