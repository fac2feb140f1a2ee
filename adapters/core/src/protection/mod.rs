//! Per-provider protection: a rate limit and a circuit breaker that the HTTP runner asks before
//! every request it sends.
//!
//! ```text
//! let admission = guard.admit().await?;   // waits for the rate limit, or Err(circuit_open)
//! let answer = send(request).await;
//! admission.record(answer_means_provider_works);
//! ```
//!
//! A `circuit_open` refusal is an `AdapterError::Transient` that was never sent: the gateway
//! reschedules the payment after `retry_after` without counting an attempt, so a provider
//! that is down delays its payments and never fails them. Each provider has its own guard, so
//! one failing provider neither waits behind nor slows another.
//!
//! Code map: [`config`] (the config section), `breaker` (the pure state machine), `rate_limit`
//! (governor on tokio's clock), `guard` (the two together, with the lock and the metrics),
//! [`telemetry`] (metric names).

mod breaker;
mod clock;
pub mod config;
mod guard;
mod rate_limit;
pub mod telemetry;

pub use breaker::BreakerState;
pub use config::{InvalidProtectionConfig, ProtectionConfig};
pub use guard::{Admission, ProviderGuard, CIRCUIT_OPEN};

#[cfg(test)]
mod tests;
