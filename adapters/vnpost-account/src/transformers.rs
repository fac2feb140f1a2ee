//! VNPost's wire types (prefixed `Vnpost…`) and the mapping of its result codes onto the
//! gateway's `ProviderStatus` and `AdapterError`. Every mapping is an exhaustive `match` over
//! [`VnpostResultCode`]: no wildcard arm can turn a code nobody listed into a success.

use gateway_adapter::lenient::required_string_or_number;
use gateway_adapter::mask::{mask_name, mask_tail};
use gateway_adapter::names::{normalise_name, provider_memo};
use gateway_adapter::parse_error::json_problem;
use gateway_adapter::telemetry::count_unknown_status;
use gateway_adapter::{
    AdapterError, CallbackError, CallbackEvent, Destination, PaymentId, PayoutRequest, ProviderStatus, Vnd,
};
use provider_http::reason;
use serde::{Deserialize, Serialize};

use crate::client::PROVIDER_KEY;
use crate::signing::Signed;

/// Body of `POST /api/v1/account/inquiry`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnpostInquiryRequest {
    pub partner_id: String,
    pub account_no: String,
    /// `yyyyMMddHHmmss`, Vietnam time.
    pub timestamp: String,
    #[serde(default)]
    pub signature: String,
}

/// Answer of `POST /api/v1/account/inquiry`: `00` with the holder's name, or an error code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnpostInquiryResponse {
    pub result_code: VnpostResultCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_no: Option<String>,
    /// UPPERCASE, without diacritics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
    #[serde(default)]
    pub signature: String,
}

impl std::fmt::Debug for VnpostInquiryRequest {
    /// Masks the account number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnpostInquiryRequest")
            .field("partner_id", &self.partner_id)
            .field("account_no", &mask_tail(&self.account_no))
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for VnpostInquiryResponse {
    /// Masks the account number and the holder's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnpostInquiryResponse")
            .field("result_code", &self.result_code)
            .field("account_no", &self.account_no.as_deref().map(mask_tail))
            .field("holder_name", &self.holder_name.as_deref().map(mask_name))
            .finish_non_exhaustive()
    }
}

/// Body of `POST /api/v1/payouts`. The Post Office pays against identity, so the citizen id
/// and the name travel with the payout. Every field is derived from the payout alone — no
/// timestamp — so every attempt of one payment sends the same bytes under its `request_id`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnpostPayoutRequest {
    pub partner_id: String,
    /// Our payment id: VNPost's idempotency key.
    pub request_id: String,
    /// Upstream's order id, for reconciliation.
    pub order_ref: String,
    pub account_no: String,
    /// Whole đồng, a JSON integer.
    pub amount: u64,
    pub citizen_id: String,
    /// `normalise_name(full_name)`: UPPERCASE, no diacritics.
    pub beneficiary_name: String,
    /// `provider_memo(memo, memo_max_chars)`.
    pub content: String,
    #[serde(default)]
    pub signature: String,
}

impl std::fmt::Debug for VnpostPayoutRequest {
    /// Masks the account, the citizen id and the name: this type may end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnpostPayoutRequest")
            .field("partner_id", &self.partner_id)
            .field("request_id", &self.request_id)
            .field("order_ref", &self.order_ref)
            .field("account_no", &mask_tail(&self.account_no))
            .field("amount", &self.amount)
            .field("citizen_id", &mask_tail(&self.citizen_id))
            .field("beneficiary_name", &mask_name(&self.beneficiary_name))
            .field("content", &self.content)
            .finish_non_exhaustive()
    }
}

impl VnpostPayoutRequest {
    /// The payout for `request`, unsigned: the name normalised, the memo cut to
    /// `memo_max_chars`. The same request always gives the same payout. Refuses a destination
    /// that is not a VNPost account.
    pub fn from_payout(request: &PayoutRequest, partner_id: &str, memo_max_chars: usize) -> Result<Self, AdapterError> {
        let account_no = vnpost_account(&request.destination)?;
        Ok(Self {
            partner_id: partner_id.to_string(),
            request_id: request.payment_id.as_str().to_string(),
            order_ref: request.order_id.clone(),
            account_no: account_no.to_string(),
            amount: request.amount.dong(),
            citizen_id: request.beneficiary.id.as_str().to_string(),
            beneficiary_name: normalise_name(&request.beneficiary.full_name),
            content: provider_memo(&request.memo, memo_max_chars),
            signature: String::new(),
        })
    }
}

/// Answer of `POST /api/v1/payouts` (always HTTP 200 when VNPost read the request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnpostPayoutResponse {
    pub result_code: VnpostResultCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub signature: String,
}

/// Body of `POST /api/v1/payouts/query`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnpostQueryRequest {
    pub partner_id: String,
    pub request_id: String,
    pub timestamp: String,
    #[serde(default)]
    pub signature: String,
}

/// Answer of `POST /api/v1/payouts/query`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnpostQueryResponse {
    pub result_code: VnpostResultCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Whole đồng; absent when the request is not found. `None` also when it is not a
    /// positive whole amount, which for a final code is a contradiction, never "no check".
    #[serde(
        default,
        deserialize_with = "Vnd::deserialize_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<Vnd>,
    /// Why a `03` payout failed, from the same code table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_code: Option<String>,
    #[serde(default)]
    pub signature: String,
}

/// A callback body (`result_code` `00` done or `03` failed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnpostCallback {
    /// VNPost's id for this event; a duplicate delivery reuses it. This and the other ids and
    /// the stamp may come as JSON numbers: they sign the same as strings, so they parse too.
    #[serde(deserialize_with = "required_string_or_number")]
    pub event_id: String,
    #[serde(deserialize_with = "required_string_or_number")]
    pub request_id: String,
    #[serde(deserialize_with = "required_string_or_number")]
    pub order_ref: String,
    #[serde(deserialize_with = "required_string_or_number")]
    pub transaction_id: String,
    /// Whole đồng; `None` when absent or not a positive whole amount (the sandbox always
    /// sends it, for failed payouts too).
    #[serde(
        default,
        deserialize_with = "Vnd::deserialize_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<Vnd>,
    pub result_code: VnpostResultCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_code: Option<String>,
    #[serde(deserialize_with = "required_string_or_number")]
    pub timestamp: String,
    #[serde(default)]
    pub signature: String,
}

macro_rules! signed {
    ($($name:ident),*) => {
        $(impl Signed for $name {
            fn set_signature(&mut self, signature: String) {
                self.signature = signature;
            }
        })*
    };
}

signed!(
    VnpostInquiryRequest,
    VnpostInquiryResponse,
    VnpostPayoutRequest,
    VnpostPayoutResponse,
    VnpostQueryRequest,
    VnpostQueryResponse,
    VnpostCallback
);

/// A VNPost result code. Codes nobody listed are kept as `Other`, never guessed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum VnpostResultCode {
    /// `00`: done, the account is credited.
    Done,
    /// `01`: accepted, still processing.
    Processing,
    /// `02`: this `request_id` was used with other data.
    IdempotencyConflict,
    /// `03`: failed after acceptance (query and callback only); see `fail_code`.
    Failed,
    /// `05`: no request with this `request_id` (query only).
    RequestNotFound,
    /// `10`: no such account.
    AccountNotFound,
    /// `11`: the account is closed or locked.
    AccountClosed,
    /// `12`: the citizen id or the name does not match the account holder.
    IdentityMismatch,
    /// `13`: the amount is over the account's limit.
    AmountOverLimit,
    /// `20`: VNPost could not verify our signature (or our timestamp is off).
    BadSignature,
    /// `21`: the request is malformed.
    InvalidRequest,
    /// `96`: system busy.
    SystemBusy,
    /// `99`: unknown error.
    UnknownError,
    /// Any other code.
    Other(String),
}

impl VnpostResultCode {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Done => "00",
            Self::Processing => "01",
            Self::IdempotencyConflict => "02",
            Self::Failed => "03",
            Self::RequestNotFound => "05",
            Self::AccountNotFound => "10",
            Self::AccountClosed => "11",
            Self::IdentityMismatch => "12",
            Self::AmountOverLimit => "13",
            Self::BadSignature => "20",
            Self::InvalidRequest => "21",
            Self::SystemBusy => "96",
            Self::UnknownError => "99",
            Self::Other(other) => other,
        }
    }
}

impl From<String> for VnpostResultCode {
    fn from(value: String) -> Self {
        match value.as_str() {
            "00" => Self::Done,
            "01" => Self::Processing,
            "02" => Self::IdempotencyConflict,
            "03" => Self::Failed,
            "05" => Self::RequestNotFound,
            "10" => Self::AccountNotFound,
            "11" => Self::AccountClosed,
            "12" => Self::IdentityMismatch,
            "13" => Self::AmountOverLimit,
            "20" => Self::BadSignature,
            "21" => Self::InvalidRequest,
            "96" => Self::SystemBusy,
            "99" => Self::UnknownError,
            _ => Self::Other(value),
        }
    }
}

impl From<VnpostResultCode> for String {
    fn from(value: VnpostResultCode) -> Self {
        match value {
            VnpostResultCode::Other(other) => other,
            known => known.as_str().to_string(),
        }
    }
}

/// The account number of a VNPost destination; any other destination is `invalid_request`.
pub fn vnpost_account(destination: &Destination) -> Result<&str, AdapterError> {
    match destination {
        Destination::VnpostAccount { account_number } => Ok(account_number.as_str()),
        Destination::BankAccount { .. } | Destination::Wallet { .. } => Err(AdapterError::permanent(
            reason::INVALID_REQUEST,
            "The VNPost-account adapter only pays VNPost accounts.",
        )),
    }
}

/// The permanent refusal for a code that says the payout can never go through as sent.
fn refused(code: &VnpostResultCode, reason_code: &str) -> AdapterError {
    AdapterError::permanent(
        reason_code,
        format!("VNPost refused the request (result_code {}).", code.as_str()),
    )
}

fn auth_failed() -> AdapterError {
    AdapterError::transient(
        reason::PROVIDER_AUTH_FAILED,
        "VNPost could not verify our signature (result_code 20): check the shared secret and our clock.",
    )
}

fn busy() -> AdapterError {
    AdapterError::transient(reason::PROVIDER_BUSY, "VNPost is busy (result_code 96).")
}

/// What a payout answer means. `00` succeeded, `01` pending; the refusals are permanent
/// with their reason codes; `20` and `96` are transient. `02` says VNPost already holds a
/// request under our `request_id` — on a resend the first may have been paid — so it is an
/// unknown outcome for a status query to settle, never a failure. `99`, `03` and `05`
/// (which a payout answer should never carry) and every unknown code (counted in
/// `gateway_provider_unknown_status_total`) are an unknown outcome too.
pub fn map_payout_answer(
    code: &VnpostResultCode,
    transaction_id: Option<&str>,
) -> Result<ProviderStatus, AdapterError> {
    let provider_ref = transaction_id.map(str::to_string);
    match code {
        VnpostResultCode::Done => Ok(ProviderStatus::Succeeded { provider_ref }),
        VnpostResultCode::Processing => Ok(ProviderStatus::Pending { provider_ref }),
        VnpostResultCode::IdempotencyConflict => Err(AdapterError::unknown(
            "VNPost already holds a request under this request_id (result_code 02), which an earlier attempt \
             may have paid: a status query must settle it.",
        )),
        VnpostResultCode::AccountNotFound => Err(refused(code, reason::ACCOUNT_NOT_FOUND)),
        VnpostResultCode::AccountClosed => Err(refused(code, reason::ACCOUNT_CLOSED)),
        VnpostResultCode::IdentityMismatch => Err(refused(code, reason::IDENTITY_MISMATCH)),
        VnpostResultCode::AmountOverLimit => Err(refused(code, reason::AMOUNT_OVER_LIMIT)),
        VnpostResultCode::InvalidRequest => Err(refused(code, reason::INVALID_REQUEST)),
        VnpostResultCode::BadSignature => Err(auth_failed()),
        VnpostResultCode::SystemBusy => Err(busy()),
        VnpostResultCode::UnknownError | VnpostResultCode::Failed | VnpostResultCode::RequestNotFound => {
            Err(not_telling(code))
        }
        VnpostResultCode::Other(_) => {
            count_unknown_status(PROVIDER_KEY);
            Err(not_telling(code))
        }
    }
}

fn not_telling(code: &VnpostResultCode) -> AdapterError {
    AdapterError::unknown(format!(
        "VNPost answered the payout with result_code {}, which does not say whether it was paid.",
        code.as_str()
    ))
}

/// The status a code reports, for callbacks and queries: only `00` is success and only `03`
/// is failure; every other code stays pending (an unknown one is counted in
/// `gateway_provider_unknown_status_total`).
pub fn map_status(code: &VnpostResultCode, transaction_id: Option<&str>, fail_code: Option<&str>) -> ProviderStatus {
    let provider_ref = transaction_id.map(str::to_string);
    match code {
        VnpostResultCode::Done => ProviderStatus::Succeeded { provider_ref },
        VnpostResultCode::Failed => failed(transaction_id, fail_code),
        VnpostResultCode::Processing
        | VnpostResultCode::IdempotencyConflict
        | VnpostResultCode::RequestNotFound
        | VnpostResultCode::AccountNotFound
        | VnpostResultCode::AccountClosed
        | VnpostResultCode::IdentityMismatch
        | VnpostResultCode::AmountOverLimit
        | VnpostResultCode::BadSignature
        | VnpostResultCode::InvalidRequest
        | VnpostResultCode::SystemBusy
        | VnpostResultCode::UnknownError => ProviderStatus::Pending { provider_ref },
        VnpostResultCode::Other(_) => {
            count_unknown_status(PROVIDER_KEY);
            ProviderStatus::Pending { provider_ref }
        }
    }
}

fn failed(transaction_id: Option<&str>, fail_code: Option<&str>) -> ProviderStatus {
    let vnpost_code = fail_code.unwrap_or("unspecified");
    ProviderStatus::Failed {
        code: fail_code.map_or_else(|| reason::provider_failed(None), reason_code_for),
        reason: format!(
            "VNPost reports transaction {} as failed (fail_code {vnpost_code}).",
            transaction_id.unwrap_or("-")
        ),
    }
}

/// What a status query answer means. `00` succeeded, `01` pending, `03` failed, `05` not
/// found; `20`, `96` and `99` are transient (a read can simply be asked again); `21` is a
/// permanent `invalid_request`; the payout refusal codes and unknown codes stay pending.
pub fn map_query_answer(
    code: &VnpostResultCode,
    transaction_id: Option<&str>,
    fail_code: Option<&str>,
) -> Result<ProviderStatus, AdapterError> {
    match code {
        VnpostResultCode::RequestNotFound => Ok(ProviderStatus::NotFound),
        VnpostResultCode::BadSignature => Err(auth_failed()),
        VnpostResultCode::SystemBusy => Err(busy()),
        VnpostResultCode::UnknownError => Err(AdapterError::transient(
            reason::PROVIDER_ERROR,
            "VNPost answered the status query with an unknown error (result_code 99).",
        )),
        VnpostResultCode::InvalidRequest => Err(refused(code, reason::INVALID_REQUEST)),
        VnpostResultCode::Done
        | VnpostResultCode::Failed
        | VnpostResultCode::Processing
        | VnpostResultCode::IdempotencyConflict
        | VnpostResultCode::AccountNotFound
        | VnpostResultCode::AccountClosed
        | VnpostResultCode::IdentityMismatch
        | VnpostResultCode::AmountOverLimit
        | VnpostResultCode::Other(_) => Ok(map_status(code, transaction_id, fail_code)),
    }
}

/// What a name-inquiry answer means: `00` the holder's name, `10` `account_not_found`; `20`
/// and `96` transient; `21` permanent; anything else transient (a read has no side effect).
pub fn map_inquiry_answer(answer: VnpostInquiryResponse) -> Result<Option<String>, AdapterError> {
    let code = &answer.result_code;
    match code {
        VnpostResultCode::Done => answer.holder_name.map(Some).ok_or_else(|| {
            AdapterError::transient(
                reason::PROVIDER_BAD_ANSWER,
                "VNPost's name inquiry answer has no holder_name.",
            )
        }),
        VnpostResultCode::AccountNotFound => Err(AdapterError::permanent(
            reason::ACCOUNT_NOT_FOUND,
            "VNPost knows no such account (result_code 10).",
        )),
        VnpostResultCode::BadSignature => Err(auth_failed()),
        VnpostResultCode::SystemBusy => Err(busy()),
        VnpostResultCode::InvalidRequest => Err(refused(code, reason::INVALID_REQUEST)),
        VnpostResultCode::Processing
        | VnpostResultCode::IdempotencyConflict
        | VnpostResultCode::Failed
        | VnpostResultCode::RequestNotFound
        | VnpostResultCode::AccountClosed
        | VnpostResultCode::IdentityMismatch
        | VnpostResultCode::AmountOverLimit
        | VnpostResultCode::UnknownError
        | VnpostResultCode::Other(_) => Err(AdapterError::transient(
            reason::PROVIDER_ERROR,
            format!("VNPost answered the name inquiry with result_code {}.", code.as_str()),
        )),
    }
}

/// The gateway's stable reason code for a VNPost `fail_code` (the same code table).
pub fn reason_code_for(vnpost_code: &str) -> String {
    match VnpostResultCode::from(vnpost_code.to_string()) {
        VnpostResultCode::AccountNotFound => reason::ACCOUNT_NOT_FOUND.into(),
        VnpostResultCode::AccountClosed => reason::ACCOUNT_CLOSED.into(),
        VnpostResultCode::IdentityMismatch => reason::IDENTITY_MISMATCH.into(),
        VnpostResultCode::AmountOverLimit => reason::AMOUNT_OVER_LIMIT.into(),
        VnpostResultCode::InvalidRequest => reason::INVALID_REQUEST.into(),
        VnpostResultCode::IdempotencyConflict => reason::IDEMPOTENCY_CONFLICT.into(),
        VnpostResultCode::Done
        | VnpostResultCode::Processing
        | VnpostResultCode::Failed
        | VnpostResultCode::RequestNotFound
        | VnpostResultCode::BadSignature
        | VnpostResultCode::SystemBusy
        | VnpostResultCode::UnknownError
        | VnpostResultCode::Other(_) => reason::provider_failed(Some(vnpost_code)),
    }
}

/// Parses a callback body that `verify_callback` accepted. A `00` that carries a `fail_code`
/// contradicts itself and is malformed; codes other than `00`/`03` map to pending.
pub fn callback_event(body: &[u8]) -> Result<CallbackEvent, CallbackError> {
    let callback: VnpostCallback = serde_json::from_slice(body)
        .map_err(|error| CallbackError::Malformed(format!("the callback body {}", json_problem(&error))))?;
    if callback.result_code == VnpostResultCode::Done && callback.fail_code.is_some() {
        return Err(CallbackError::Malformed(
            "a result_code 00 callback carries a fail_code".into(),
        ));
    }
    if callback.event_id.is_empty() || callback.request_id.is_empty() {
        return Err(CallbackError::Malformed(
            "event_id and request_id must not be empty".into(),
        ));
    }
    Ok(CallbackEvent {
        event_id: callback.event_id.clone(),
        payment_id: PaymentId::from_stored(callback.request_id.clone()),
        amount: callback.amount,
        status: map_status(
            &callback.result_code,
            Some(&callback.transaction_id),
            callback.fail_code.as_deref(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_with_ids_and_stamp_as_numbers_parses_as_it_verifies() {
        let as_numbers = serde_json::json!({
            "event_id": 7001, "request_id": "pay_1", "order_ref": 42, "transaction_id": 9001,
            "amount": 1_000_000, "result_code": "00", "timestamp": 20_261_207_070_000_u64
        });
        let as_strings = serde_json::json!({
            "event_id": "7001", "request_id": "pay_1", "order_ref": "42", "transaction_id": "9001",
            "amount": 1_000_000, "result_code": "00", "timestamp": "20261207070000"
        });
        let fields = |body: &serde_json::Value| body.as_object().cloned().unwrap_or_default();
        assert_eq!(
            crate::signing::sign_fields(b"k", &fields(&as_numbers)),
            crate::signing::sign_fields(b"k", &fields(&as_strings)),
            "they sign the same"
        );
        assert!(crate::signing::timestamp_of(&fields(&as_numbers)).is_some());
        for body in [as_numbers, as_strings] {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let event = callback_event(&bytes).expect("it parses as it verified");
            assert_eq!(event.event_id, "7001");
            assert!(matches!(event.status, ProviderStatus::Succeeded { .. }), "{event:?}");
        }
    }

    fn code(text: &str) -> VnpostResultCode {
        serde_json::from_value(serde_json::json!(text)).expect("a string")
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_are_kept() {
        for text in [
            "00", "01", "02", "03", "05", "10", "11", "12", "13", "20", "21", "96", "99", "42",
        ] {
            assert_eq!(String::from(code(text)), text);
        }
        assert_eq!(code("42"), VnpostResultCode::Other("42".into()));
    }

    #[test]
    fn only_00_is_success_and_unknown_statuses_stay_pending() {
        assert!(matches!(
            map_status(&code("00"), Some("T"), None),
            ProviderStatus::Succeeded { .. }
        ));
        assert!(matches!(
            map_status(&code("03"), Some("T"), Some("11")),
            ProviderStatus::Failed { code, .. } if code == "account_closed"
        ));
        for pending in ["01", "0", "000", "OK", "", "99", "05"] {
            assert!(
                matches!(map_status(&code(pending), None, None), ProviderStatus::Pending { .. }),
                "{pending}"
            );
        }
    }

    #[test]
    fn unknown_payout_answers_are_unknown_outcomes_never_success() {
        for text in ["99", "03", "05", "42", "0", ""] {
            assert!(
                matches!(
                    map_payout_answer(&code(text), Some("T")),
                    Err(AdapterError::UnknownOutcome { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn a_request_id_vnpost_already_holds_is_an_unknown_outcome_never_a_failure() {
        assert!(matches!(
            map_payout_answer(&code("02"), None),
            Err(AdapterError::UnknownOutcome { .. })
        ));
        // A failure after acceptance that names 02 as its reason keeps its stable code.
        assert_eq!(reason_code_for("02"), "idempotency_conflict");
    }

    #[test]
    fn unknown_query_answers_stay_pending() {
        assert_eq!(
            map_query_answer(&code("42"), Some("T"), None),
            Ok(ProviderStatus::Pending {
                provider_ref: Some("T".into())
            })
        );
    }

    #[test]
    fn debug_output_masks_accounts_citizen_ids_and_names() {
        let inquiry = VnpostInquiryResponse {
            result_code: VnpostResultCode::Done,
            message: None,
            account_no: Some("8800123456789".into()),
            holder_name: Some("NGUYEN VAN AN".into()),
            signature: String::new(),
        };
        let printed = format!("{inquiry:?}");
        assert!(!printed.contains("8800123456789") && !printed.contains("NGUYEN"));
        let payout = VnpostPayoutRequest {
            partner_id: "GW".into(),
            request_id: "p".into(),
            order_ref: "o".into(),
            account_no: "8800123456789".into(),
            amount: 500_000,
            citizen_id: "034087001234".into(),
            beneficiary_name: "NGUYEN VAN AN".into(),
            content: String::new(),
            signature: String::new(),
        };
        let printed = format!("{payout:?}");
        for secret in ["8800123456789", "034087001234", "NGUYEN"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn fail_codes_outside_the_table_are_namespaced_and_sanitised() {
        assert_eq!(reason_code_for("12"), "identity_mismatch");
        assert_eq!(reason_code_for("E 7/x"), "provider_failed_e_7_x");
    }
}
