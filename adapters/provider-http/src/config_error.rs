//! Why an adapter (or its emulation) could not be built from its section: one error type for
//! every provider crate. Messages name the key inside the section; the gateway's registry
//! adds which section (`providers.<key> is invalid: base_url is not an http(s) URL`).

use crate::ClientError;

/// A provider section that could never work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A URL key (`base_url`, `ipn_url`) that is not `http(s)://…`.
    #[error("{key} is not an http(s) URL")]
    NotAnHttpUrl { key: &'static str },
    /// A key that must not be empty; `why` says what would fail.
    #[error("{key} is empty: {why}")]
    Empty { key: &'static str, why: &'static str },
    /// A value not of its form, e.g. `webhook_secrets[1]` that is not `whsec_<base64>`.
    #[error("{key} is not {expected}")]
    Malformed { key: String, expected: &'static str },
    /// The HTTP client could not be built (a TLS file, say).
    #[error(transparent)]
    HttpClient(#[from] ClientError),
}
