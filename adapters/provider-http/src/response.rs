//! What the runner hands back: the provider's HTTP answer, and the one classification of an
//! HTTP status that no adapter interpreted.

use std::time::Duration;

use gateway_adapter::AdapterError;

use crate::reason;

/// A provider's answer, whatever its status: adapters read provider codes from 4xx bodies
/// too (a bank's 422 refusals, a wallet's 422 `7000`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderResponse {
    pub status: u16,
    /// The provider's `Retry-After`, already clamped to the runner's maximum.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl ProviderResponse {
    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error for a status the adapter has no provider-specific meaning for, the same on
    /// every channel: 401/403 `provider_auth_failed` (transient: ops fix the credentials,
    /// nothing is failed); 3xx (a redirect, not followed), 408, 429 and 5xx except 501
    /// `http_<status>`, transient with `Retry-After` kept; every other status `http_<status>`,
    /// permanent. `message` says who answered what and never quotes the body (it may hold
    /// personal data).
    pub fn status_error(&self, message: impl Into<String>) -> AdapterError {
        classify_status(self.status, self.retry_after, message.into())
    }
}

/// See [`ProviderResponse::status_error`].
pub fn classify_status(status: u16, retry_after: Option<Duration>, message: String) -> AdapterError {
    match status {
        401 | 403 => AdapterError::transient(reason::PROVIDER_AUTH_FAILED, message),
        // A redirect (not followed, see `client`) says nothing of whether the payout was booked:
        // tried again with the same key, then asked about, never taken as a refusal.
        300..=399 => AdapterError::transient(reason::http_status(status), message),
        408 | 429 | 500 | 502..=599 => AdapterError::Transient {
            code: reason::http_status(status),
            message,
            retry_after,
        },
        _ => AdapterError::permanent(reason::http_status(status), message),
    }
}

/// Whether an answer counts against the provider's health (for the circuit breaker and the
/// error metrics): 408, 429 and every 5xx do; a 4xx business answer is the provider working.
pub fn is_provider_failure(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(error: &AdapterError) -> (&str, bool) {
        match error {
            AdapterError::Transient { code, .. } => (code, true),
            AdapterError::Permanent { code, .. } => (code, false),
            AdapterError::UnknownOutcome { .. } => ("unknown", false),
        }
    }

    #[test]
    fn statuses_map_to_one_set_of_codes() {
        let wait = Some(Duration::from_secs(3));
        for (status, expected, transient) in [
            (401, "provider_auth_failed", true),
            (303, "http_303", true),
            (307, "http_307", true),
            (403, "provider_auth_failed", true),
            (408, "http_408", true),
            (429, "http_429", true),
            (500, "http_500", true),
            (503, "http_503", true),
            (501, "http_501", false),
            (400, "http_400", false),
            (404, "http_404", false),
        ] {
            let error = classify_status(status, wait, "m".into());
            assert_eq!(code(&error), (expected, transient), "{status}");
        }
    }

    #[test]
    fn retry_after_stays_on_retryable_statuses() {
        let error = classify_status(429, Some(Duration::from_secs(7)), "m".into());
        assert!(matches!(error, AdapterError::Transient { retry_after: Some(wait), .. } if wait.as_secs() == 7));
    }

    #[test]
    fn only_timeouts_throttling_and_server_errors_count_against_the_provider() {
        for status in [408, 429, 500, 501, 503] {
            assert!(is_provider_failure(status), "{status}");
        }
        for status in [200, 202, 400, 401, 404, 409, 422] {
            assert!(!is_provider_failure(status), "{status}");
        }
    }
}
