//! The metrics every adapter records the same way, so names and labels stay in one place.

/// Counter of provider statuses or result codes an adapter did not know and therefore took
/// as not final (pending, or an unknown outcome on a submit). Label: `provider` only.
pub const UNKNOWN_STATUS_TOTAL: &str = "gateway_provider_unknown_status_total";

/// Counts one provider status or result code the adapter for `provider` (its provider key,
/// e.g. `vnpost_account`) does not know. The code itself is not a label: a provider sending
/// arbitrary codes must not create arbitrary time series.
pub fn count_unknown_status(provider: &str) {
    metrics::counter!(UNKNOWN_STATUS_TOTAL, "provider" => provider.to_string()).increment(1);
}
