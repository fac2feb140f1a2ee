//! The metrics a provider guard records, named in one place. Labels: the provider key and,
//! for transitions, the state entered — a handful of values each.

use super::breaker::BreakerState;

/// Gauge: 0 closed, 1 half-open, 2 open. Label: `provider`.
pub const BREAKER_STATE: &str = "gateway_provider_breaker_state";
/// Counter of breaker transitions. Labels: `provider`, `to` (`closed`, `half_open`, `open`).
pub const BREAKER_TRANSITIONS_TOTAL: &str = "gateway_provider_breaker_transitions_total";
/// Counter of calls that had to wait for the provider's rate limit. Label: `provider`.
pub const RATE_LIMITED_TOTAL: &str = "gateway_provider_rate_limited_total";

pub(crate) fn set_state(provider: &str, state: BreakerState) {
    metrics::gauge!(BREAKER_STATE, "provider" => provider.to_owned()).set(state.gauge_value());
}

pub(crate) fn transitioned(provider: &str, to: BreakerState) {
    set_state(provider, to);
    metrics::counter!(BREAKER_TRANSITIONS_TOTAL, "provider" => provider.to_owned(), "to" => to.as_str()).increment(1);
}

pub(crate) fn rate_limited(provider: &str) {
    metrics::counter!(RATE_LIMITED_TOTAL, "provider" => provider.to_owned()).increment(1);
}
