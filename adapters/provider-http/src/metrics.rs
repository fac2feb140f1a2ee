//! The provider call metrics, recorded the same way for every provider. Labels are
//! low-cardinality on purpose: provider key, call kind, error kind — never a path, an id or
//! a provider's own code.

use std::sync::Arc;
use std::time::Duration;

use crate::request::CallKind;

/// Histogram of how long one provider call took, from the first byte sent to the last byte
/// of the answer (waits for a rate limit not included). Labels: `provider`, `operation`.
pub const REQUEST_SECONDS: &str = "gateway_provider_request_seconds";

/// Counter of provider calls that failed in transport or were answered with a status that
/// counts against the provider. Labels: `provider`, `kind` — one of `connect`, `timeout`,
/// `transport`, `oversized` (an answer body over `runner::MAX_ANSWER_BYTES`), `auth`
/// (401/403), `throttled` (429), `server_error` (5xx, 408), `circuit_open` (refused by the
/// breaker without sending).
pub const ERRORS_TOTAL: &str = "gateway_provider_errors_total";

/// Records one call's duration.
pub fn record_duration(provider: &Arc<str>, kind: CallKind, elapsed: Duration) {
    metrics::histogram!(REQUEST_SECONDS, "provider" => Arc::clone(provider), "operation" => kind.as_str())
        .record(elapsed.as_secs_f64());
}

/// Counts one error of `kind` (see [`ERRORS_TOTAL`]).
pub fn count_error(provider: &Arc<str>, kind: &'static str) {
    metrics::counter!(ERRORS_TOTAL, "provider" => Arc::clone(provider), "kind" => kind).increment(1);
}

/// The error kind of an HTTP status, if it is one we count.
pub fn status_error_kind(status: u16) -> Option<&'static str> {
    match status {
        401 | 403 => Some("auth"),
        429 => Some("throttled"),
        408 | 500..=599 => Some("server_error"),
        _ => None,
    }
}
