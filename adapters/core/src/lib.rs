//! The adapter trait every payout channel implements, and the domain types the channels share.
//!
//! The gateway parses an order once at the edge into these types; adapters receive a
//! [`PayoutRequest`] built from them and never re-validate. Everything here is free of I/O.

pub mod adapter;
pub mod domain;
pub mod ids;
pub mod lenient;
pub mod mask;
pub mod money;
pub mod names;
pub mod parse_error;
pub mod protection;
pub mod signing;
pub mod telemetry;
pub mod vietnam_time;

pub use adapter::{AdapterError, CallbackError, CallbackEvent, PayoutAdapter, PayoutRequest, ProviderStatus};
pub use domain::{
    AccountNumber, BankBin, Beneficiary, Channel, CitizenId, Destination, Invalid, Msisdn, PaymentId, WalletProvider,
};
pub use money::Vnd;

/// Seconds since 1970 by the system clock, the unit providers' timestamps use.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// A provider base URL without its trailing slash, or `None` when it is not `http(s)://`.
pub fn normalise_base_url(url: &str) -> Option<String> {
    let trimmed = url.trim_end_matches('/');
    (trimmed.starts_with("http://") || trimmed.starts_with("https://")).then(|| trimmed.to_string())
}
