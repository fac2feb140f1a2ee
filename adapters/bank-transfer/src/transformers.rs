//! The bank's wire types (prefixed `Bank…`) and the mapping of its statuses and error codes
//! onto the gateway's `ProviderStatus` and `AdapterError`.

use gateway_adapter::mask::{mask_name, mask_tail};
use gateway_adapter::names::{normalise_name, provider_memo};
use gateway_adapter::parse_error::json_problem;
use gateway_adapter::telemetry::count_unknown_status;
use gateway_adapter::{
    AdapterError, CallbackError, CallbackEvent, Destination, PaymentId, PayoutRequest, ProviderStatus, Vnd,
};
use provider_http::{reason, ProviderResponse};
use serde::{Deserialize, Serialize};

/// Body of `POST /v1/name-inquiry`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankNameInquiryRequest {
    pub bin: String,
    pub account_number: String,
}

impl std::fmt::Debug for BankNameInquiryRequest {
    /// Masks the account number: this type may end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankNameInquiryRequest")
            .field("bin", &self.bin)
            .field("account_number", &mask_tail(&self.account_number))
            .finish()
    }
}

/// Successful answer of `POST /v1/name-inquiry`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankNameInquiryResponse {
    /// UPPERCASE, without diacritics.
    pub account_name: String,
}

impl std::fmt::Debug for BankNameInquiryResponse {
    /// Masks the holder's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankNameInquiryResponse")
            .field("account_name", &mask_name(&self.account_name))
            .finish()
    }
}

/// Body of `POST /v1/transfers`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankTransferRequest {
    /// Our payment id; also the `Idempotency-Key` header.
    pub client_reference: String,
    /// Upstream's order id, for the bank's reconciliation files.
    pub end_to_end_id: String,
    /// Whole đồng.
    pub amount: u64,
    pub currency: String,
    pub beneficiary_bin: String,
    pub beneficiary_account: String,
    pub beneficiary_name: String,
    /// ASCII, no diacritics, at most `memo_max_chars`.
    pub description: String,
}

impl std::fmt::Debug for BankTransferRequest {
    /// Masks the account and the name: this type may end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankTransferRequest")
            .field("client_reference", &self.client_reference)
            .field("end_to_end_id", &self.end_to_end_id)
            .field("amount", &self.amount)
            .field("currency", &self.currency)
            .field("beneficiary_bin", &self.beneficiary_bin)
            .field("beneficiary_account", &mask_tail(&self.beneficiary_account))
            .field("beneficiary_name", &mask_name(&self.beneficiary_name))
            .field("description", &self.description)
            .finish()
    }
}

impl BankTransferRequest {
    /// The transfer for `request`: the name the bank expects (UPPERCASE, no diacritics) and
    /// the memo cut to `memo_max_chars`. Refuses a destination that is not a bank account.
    pub fn from_payout(request: &PayoutRequest, memo_max_chars: usize) -> Result<Self, AdapterError> {
        let Destination::BankAccount {
            bin,
            account_number,
            account_name,
        } = &request.destination
        else {
            return Err(wrong_destination());
        };
        let name = account_name.as_deref().unwrap_or(&request.beneficiary.full_name);
        Ok(Self {
            client_reference: request.payment_id.as_str().to_string(),
            end_to_end_id: request.order_id.clone(),
            amount: request.amount.dong(),
            currency: "VND".into(),
            beneficiary_bin: bin.as_str().to_string(),
            beneficiary_account: account_number.as_str().to_string(),
            beneficiary_name: normalise_name(name),
            description: provider_memo(&request.memo, memo_max_chars),
        })
    }
}

/// The error for a payout routed to this adapter with a non-bank destination.
pub fn wrong_destination() -> AdapterError {
    AdapterError::permanent(
        reason::INVALID_REQUEST,
        "The bank-transfer adapter only pays bank accounts.",
    )
}

/// Answer of `POST /v1/transfers` (202 processing, 200 done).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankTransferResponse {
    pub transfer_id: String,
    pub client_reference: String,
    pub status: BankTransferStatus,
}

/// Answer of `GET /v1/transfers/{client_reference}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankStatusResponse {
    pub transfer_id: String,
    pub client_reference: String,
    pub status: BankTransferStatus,
    #[serde(default)]
    pub reason_code: Option<String>,
    /// Whole đồng; `None` when absent or not a positive whole amount, which for a final
    /// status is a contradiction, never "no check".
    #[serde(default, deserialize_with = "Vnd::deserialize_lenient")]
    pub amount: Option<Vnd>,
}

/// Error body of any 4xx/5xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankErrorResponse {
    pub error_code: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// A callback body: `{"type": "transfer.completed" | "transfer.failed", "data": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankWebhookEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: BankWebhookData,
}

/// The transfer a callback reports on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankWebhookData {
    pub transfer_id: String,
    pub client_reference: String,
    pub end_to_end_id: String,
    /// Whole đồng; `None` when absent or not a positive whole amount (the sandbox always
    /// sends it, for failed transfers too).
    #[serde(
        default,
        deserialize_with = "Vnd::deserialize_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<Vnd>,
    pub status: BankTransferStatus,
    #[serde(default)]
    pub reason_code: Option<String>,
}

/// A transfer status as the bank writes it. Statuses we do not know are kept, not guessed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum BankTransferStatus {
    Processing,
    Completed,
    Failed,
    Rejected,
    /// Anything else the bank may send; it is never taken as final.
    Other(String),
}

impl From<String> for BankTransferStatus {
    fn from(value: String) -> Self {
        match value.as_str() {
            "PROCESSING" => Self::Processing,
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            "REJECTED" => Self::Rejected,
            _ => Self::Other(value),
        }
    }
}

impl From<BankTransferStatus> for String {
    fn from(value: BankTransferStatus) -> Self {
        match value {
            BankTransferStatus::Processing => "PROCESSING".into(),
            BankTransferStatus::Completed => "COMPLETED".into(),
            BankTransferStatus::Failed => "FAILED".into(),
            BankTransferStatus::Rejected => "REJECTED".into(),
            BankTransferStatus::Other(other) => other,
        }
    }
}

/// The exhaustive status mapping: only `COMPLETED` is success, only `FAILED`/`REJECTED` are
/// failure; processing and every unknown status stay pending (an unknown one is counted in
/// `gateway_provider_unknown_status_total`).
pub fn map_status(
    provider: &str,
    status: &BankTransferStatus,
    transfer_id: &str,
    reason_code: Option<&str>,
) -> ProviderStatus {
    let provider_ref = Some(transfer_id.to_string());
    match status {
        BankTransferStatus::Completed => ProviderStatus::Succeeded { provider_ref },
        BankTransferStatus::Failed | BankTransferStatus::Rejected => ProviderStatus::Failed {
            code: reason_code.map_or_else(|| reason::provider_failed(None), reason_code_for),
            reason: format!(
                "The bank reports transfer {transfer_id} as failed ({}).",
                reason_code.unwrap_or("no reason_code")
            ),
        },
        BankTransferStatus::Processing => ProviderStatus::Pending { provider_ref },
        BankTransferStatus::Other(_) => {
            count_unknown_status(provider);
            ProviderStatus::Pending { provider_ref }
        }
    }
}

/// Parses a verified callback body; `event_id` is its `webhook-id`. An event whose type
/// contradicts its status is malformed; unknown event types map by status (so, pending).
pub fn callback_event(provider: &str, event_id: String, body: &[u8]) -> Result<CallbackEvent, CallbackError> {
    let event: BankWebhookEvent = serde_json::from_slice(body)
        .map_err(|error| CallbackError::Malformed(format!("the callback body {}", json_problem(&error))))?;
    let data = &event.data;
    let consistent = match event.event_type.as_str() {
        "transfer.completed" => data.status == BankTransferStatus::Completed,
        "transfer.failed" => matches!(data.status, BankTransferStatus::Failed | BankTransferStatus::Rejected),
        _ => true,
    };
    if !consistent {
        return Err(CallbackError::Malformed(format!(
            "a {} event carries another status",
            event.event_type
        )));
    }
    Ok(CallbackEvent {
        event_id,
        payment_id: PaymentId::from_stored(data.client_reference.clone()),
        amount: data.amount,
        status: map_status(provider, &data.status, &data.transfer_id, data.reason_code.as_deref()),
    })
}

/// The gateway's stable reason code for a bank error code; one outside the table is
/// `provider_failed_<code>`.
pub fn reason_code_for(bank_code: &str) -> String {
    match bank_code {
        "ACCOUNT_NOT_FOUND" => reason::ACCOUNT_NOT_FOUND.into(),
        "ACCOUNT_CLOSED" => reason::ACCOUNT_CLOSED.into(),
        "AMOUNT_LIMIT_EXCEEDED" => reason::AMOUNT_OVER_LIMIT.into(),
        "INVALID_REQUEST" => reason::INVALID_REQUEST.into(),
        "IDEMPOTENCY_CONFLICT" => reason::IDEMPOTENCY_CONFLICT.into(),
        other => reason::provider_failed(Some(other)),
    }
}

/// Whether an answer carries the bank's own error code `code` (`TRANSFER_NOT_FOUND` for a
/// status inquiry's 404, `ACCOUNT_NOT_FOUND` for a name inquiry's): a 404 means what it says
/// only with it, since anything in front of the bank can answer 404.
pub fn has_bank_code(answer: &ProviderResponse, code: &str) -> bool {
    serde_json::from_slice::<BankErrorResponse>(&answer.body).is_ok_and(|error| error.error_code == code)
}

/// Classifies a non-2xx answer (`message` never quotes the bank's text, which may hold
/// personal data). A 409, or a 422 `IDEMPOTENCY_CONFLICT`, says the bank already
/// holds a transfer under our `Idempotency-Key`: on a resubmit the first one may have been
/// booked, so it is an unknown outcome for a status inquiry to settle, never a failure. 422
/// with the bank's `error_code` carries permanent business refusals; every other status is classified the same way for
/// every provider ([`ProviderResponse::status_error`]: 401/403 `provider_auth_failed`, 3xx,
/// 408, 429 and 5xx transient with `Retry-After`, the rest permanent).
pub fn map_error(answer: &ProviderResponse) -> AdapterError {
    let status = answer.status;
    let parsed: Option<BankErrorResponse> = serde_json::from_slice(&answer.body).ok();
    let bank_code = parsed.as_ref().map(|error| error.error_code.as_str());
    // The bank's free-text `message` is left out: it may quote the account or the name.
    let message = match bank_code {
        Some(code) => format!("The bank answered HTTP {status} {code}."),
        None => format!("The bank answered HTTP {status}."),
    };
    if status == 409 || (status == 422 && bank_code == Some("IDEMPOTENCY_CONFLICT")) {
        return AdapterError::unknown(format!(
            "{message} The bank already holds a transfer under this Idempotency-Key, which an \
             earlier attempt may have booked: a status inquiry must settle it."
        ));
    }
    match (status, bank_code) {
        (422, Some(code)) => AdapterError::permanent(reason_code_for(code), message),
        // A 422 without the bank's code (a page from something in front of the bank, a body of
        // another shape) is a bare status, like any provider's: it fails a first attempt, and
        // after one the bank may have booked it is asked about, never taken as its refusal.
        _ => answer.status_error(message),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn answer(status: u16, body: &[u8], retry_after: Option<Duration>) -> ProviderResponse {
        ProviderResponse {
            status,
            retry_after,
            body: body.to_vec(),
        }
    }

    /// The wire types that carry an account or a name print them masked: one logged with `{:?}`
    /// (by a later change, or a crate's debug log) must not write them out whole.
    #[test]
    fn wire_types_debug_print_no_account_or_name() {
        let transfer = BankTransferRequest {
            client_reference: "pay_1".into(),
            end_to_end_id: "TB-1".into(),
            amount: 500_000,
            currency: "VND".into(),
            beneficiary_bin: "970436".into(),
            beneficiary_account: "0011004455667".into(),
            beneficiary_name: "NGUYEN VAN DUC".into(),
            description: "Tro cap".into(),
        };
        let inquiry = BankNameInquiryRequest {
            bin: "970436".into(),
            account_number: "0011004455667".into(),
        };
        let holder = BankNameInquiryResponse {
            account_name: "NGUYEN VAN DUC".into(),
        };
        for printed in [format!("{transfer:?}"), format!("{inquiry:?}"), format!("{holder:?}")] {
            assert!(
                !printed.contains("0011004455667") && !printed.contains("NGUYEN VAN DUC"),
                "{printed}"
            );
        }
        assert!(format!("{transfer:?}").contains("pay_1"), "the ids stay readable");
    }

    #[test]
    fn only_completed_is_success_and_unknown_statuses_stay_pending() {
        let status = |text: &str| {
            let parsed: BankTransferStatus = serde_json::from_value(serde_json::json!(text)).expect("a string");
            map_status("bank_transfer", &parsed, "T1", None)
        };
        assert!(matches!(status("COMPLETED"), ProviderStatus::Succeeded { .. }));
        assert!(matches!(status("FAILED"), ProviderStatus::Failed { .. }));
        assert!(matches!(status("REJECTED"), ProviderStatus::Failed { .. }));
        for pending in ["PROCESSING", "SUCCESS", "completed", "DONE", ""] {
            assert!(matches!(status(pending), ProviderStatus::Pending { .. }), "{pending}");
        }
    }

    #[test]
    fn failed_transfers_carry_the_mapped_reason_code() {
        let failed = map_status(
            "bank_transfer",
            &BankTransferStatus::Failed,
            "T1",
            Some("ACCOUNT_CLOSED"),
        );
        assert!(matches!(failed, ProviderStatus::Failed { code, .. } if code == "account_closed"));
    }

    #[test]
    fn a_completed_event_carrying_a_failed_status_is_malformed() {
        let body = br#"{"type":"transfer.completed","data":{"transfer_id":"T1",
            "client_reference":"p","end_to_end_id":"o","amount":1,"status":"FAILED"}}"#;
        assert!(matches!(
            callback_event("bank_transfer", "msg".into(), body),
            Err(CallbackError::Malformed(_))
        ));
    }

    #[test]
    fn a_key_the_bank_already_holds_is_an_unknown_outcome_and_422_refusals_stay_permanent() {
        let conflict = br#"{"error_code":"IDEMPOTENCY_CONFLICT","message":"other amount"}"#;
        assert!(matches!(
            map_error(&answer(409, conflict, None)),
            AdapterError::UnknownOutcome { .. }
        ));
        assert!(matches!(
            map_error(&answer(409, b"", None)),
            AdapterError::UnknownOutcome { .. }
        ));
        assert!(matches!(
            map_error(&answer(422, conflict, None)),
            AdapterError::UnknownOutcome { .. }
        ));
        let closed = br#"{"error_code":"ACCOUNT_CLOSED"}"#;
        assert!(
            matches!(map_error(&answer(422, closed, None)), AdapterError::Permanent { code, .. } if code == "account_closed")
        );
    }

    #[test]
    fn retry_after_is_kept_on_transient_errors() {
        let error = map_error(&answer(429, b"", Some(Duration::from_secs(2))));
        assert_eq!(
            error,
            AdapterError::Transient {
                code: "http_429".into(),
                message: "The bank answered HTTP 429.".into(),
                retry_after: Some(Duration::from_secs(2)),
            }
        );
    }
}
