//! The reason codes every channel gives for the same condition, so ops and upstream read one
//! vocabulary whatever the provider. The table with their meaning is in this crate's README.

/// Our credentials or signature were refused (HTTP 401/403, or a provider code that says so).
/// Transient: nothing is failed while ops fix the secret, the certificate or the clock.
pub const PROVIDER_AUTH_FAILED: &str = "provider_auth_failed";
/// The provider could not be reached: the connection failed (nothing was sent), or a read
/// lost its answer. Transient.
pub const PROVIDER_UNREACHABLE: &str = "provider_unreachable";
/// A read (name inquiry, status query) got no answer in time. Transient. (A money-moving call
/// that times out is an unknown outcome, which has no code.)
pub const PROVIDER_TIMEOUT: &str = "provider_timeout";
/// The provider said it is busy. Transient.
pub const PROVIDER_BUSY: &str = "provider_busy";
/// The provider answered a read with an error code of its own that says nothing about the
/// payment (an "unknown error", or a code that does not belong there). Transient.
pub const PROVIDER_ERROR: &str = "provider_error";
/// A read's answer was unreadable, incomplete, or about another request. Transient.
pub const PROVIDER_BAD_ANSWER: &str = "provider_bad_answer";
/// A read's answer carried no signature, or one that does not verify. Transient.
pub const PROVIDER_BAD_SIGNATURE: &str = "provider_bad_signature";
/// The request is not one this provider can take (wrong destination type, a field it
/// refuses, a body we could not write). Permanent.
pub const INVALID_REQUEST: &str = "invalid_request";
/// The provider knows no such account or wallet. Permanent.
pub const ACCOUNT_NOT_FOUND: &str = "account_not_found";
/// The account or wallet is closed or locked. Permanent.
pub const ACCOUNT_CLOSED: &str = "account_closed";
/// The amount is over the provider's or the account's limit. Permanent.
pub const AMOUNT_OVER_LIMIT: &str = "amount_over_limit";
/// The citizen id or name does not match the account (channels that pay against identity).
/// Permanent.
pub const IDENTITY_MISMATCH: &str = "identity_mismatch";
/// The wallet's monthly total would go over its legal limit. Permanent.
pub const WALLET_MONTHLY_LIMIT: &str = "wallet_monthly_limit";
/// Our float at the provider is too low to pay. Transient: ops top it up, nothing is failed.
pub const PROVIDER_INSUFFICIENT_FUNDS: &str = "provider_insufficient_funds";
/// The provider holds another request under our idempotency key (as a failure code only;
/// on a submit it is an unknown outcome).
pub const IDEMPOTENCY_CONFLICT: &str = "idempotency_conflict";
/// Prefix of a provider failure code that is not in our table: `provider_failed_<code>`
/// (lowercase, non-alphanumerics as `_`); `provider_failed` alone when the provider gave none.
pub const PROVIDER_FAILED: &str = "provider_failed";

/// Longest provider code kept in `provider_failed_<code>`: a reason code is a label for
/// dashboards and ops, not a place for free text.
const MAX_PROVIDER_CODE_CHARS: usize = 24;

/// The reason code for a provider failure code we have no entry for: `provider_failed_<code>`
/// with the code lowercased, every other character than `[a-z0-9]` as `_` and cut to 24
/// characters, or `provider_failed` when there is none.
pub fn provider_failed(provider_code: Option<&str>) -> String {
    let safe: String = provider_code
        .unwrap_or_default()
        .chars()
        .take(MAX_PROVIDER_CODE_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        PROVIDER_FAILED.to_string()
    } else {
        format!("{PROVIDER_FAILED}_{safe}")
    }
}

/// The reason code for a non-success HTTP status nobody interpreted: `http_<status>`.
pub fn http_status(status: u16) -> String {
    format!("http_{status}")
}

/// Whether `code` is a bare HTTP status ([`http_status`]): what answered gave no meaning of
/// the provider's own, so it may not have been the provider at all (a load balancer, a proxy).
pub fn is_http_status(code: &str) -> bool {
    code.strip_prefix("http_")
        .is_some_and(|status| status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_http_status_code_is_told_from_the_providers_codes() {
        assert!(is_http_status(&http_status(404)));
        assert!(is_http_status("http_501"));
        for code in [
            "http_",
            "http_4041",
            "http_4x4",
            "account_closed",
            "provider_failed_404",
        ] {
            assert!(!is_http_status(code), "{code}");
        }
    }

    #[test]
    fn unlisted_provider_codes_are_namespaced_sanitised_and_cut() {
        assert_eq!(provider_failed(Some("E 7/x")), "provider_failed_e_7_x");
        assert_eq!(provider_failed(Some("1006")), "provider_failed_1006");
        assert_eq!(provider_failed(Some("")), "provider_failed");
        assert_eq!(provider_failed(None), "provider_failed");
        let long = provider_failed(Some(&"A".repeat(100)));
        assert_eq!(long.len(), "provider_failed_".len() + 24);
    }
}
