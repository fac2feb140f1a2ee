//! The runner against a real HTTP server (wiremock): what it sends, how it classifies what
//! comes back or does not, the protection guard, and the metrics it records.

mod connecting;
mod guarded;
mod metrics;
mod oversized;
mod sending;

use gateway_adapter::AdapterError;
use provider_http::{ClientSettings, ProviderRunner};
use wiremock::MockServer;

/// A runner for provider `test_bank` at `server`, with a `timeout_ms` whole-call timeout.
fn runner(server: &MockServer, timeout_ms: u64) -> ProviderRunner {
    ProviderRunner::new("test_bank", &server.uri(), &ClientSettings::with_timeout_ms(timeout_ms))
        .expect("a valid runner")
}

/// The code of a transient error, `None` for anything else.
fn transient_code(result: &Result<provider_http::ProviderResponse, AdapterError>) -> Option<&str> {
    match result {
        Err(AdapterError::Transient { code, .. }) => Some(code),
        _ => None,
    }
}
