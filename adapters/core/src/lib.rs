//! The adapter trait every payout channel implements, and the domain types the channels share.
//!
//! The gateway parses an order once at the edge into these types; adapters receive a
//! [`PayoutRequest`] built from them and never re-validate. Everything here is free of I/O.

pub mod adapter;
pub mod domain;
pub mod mask;
pub mod money;
pub mod names;
pub mod signing;

pub use adapter::{AdapterError, CallbackError, CallbackEvent, PayoutAdapter, PayoutRequest, ProviderStatus};
pub use domain::{
    AccountNumber, BankBin, Beneficiary, Channel, CitizenId, Destination, Invalid, Msisdn, PaymentId, WalletProvider,
};
pub use money::Vnd;
