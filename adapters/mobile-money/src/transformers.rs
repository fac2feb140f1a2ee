//! The wallet providers' wire types (prefixed `Wallet…`), their `resultCode`s, and the mapping
//! of those codes onto the gateway's `ProviderStatus` and `AdapterError`.
//!
//! Every mapping is an exhaustive `match` over [`ResultCode`]: a code nobody listed is
//! [`ResultCode::Unlisted`] and can only become `Pending` (a status) or `UnknownOutcome` (a
//! submit answer) — never a success and never a failure — and is counted in
//! `gateway_provider_unknown_status_total`.

use gateway_adapter::lenient::{required_whole_number, string_or_number};
use gateway_adapter::mask::{mask_name, mask_tail};
use gateway_adapter::names::{normalise_name, provider_memo};
use gateway_adapter::telemetry::count_unknown_status;
use gateway_adapter::{AdapterError, Msisdn, PayoutRequest, ProviderStatus, Vnd, WalletProvider};
use provider_http::reason;
use serde::{Deserialize, Serialize};

/// `lang` of every request: Vietnamese answers.
pub const LANG: &str = "vi";
/// `requestType` of a disbursement to a wallet.
pub const REQUEST_TYPE_DISBURSE: &str = "disburseToWallet";

/// A wallet provider's `resultCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// `0`: done (the wallet was credited; for an inquiry, the wallet exists).
    Done,
    /// `1000`: accepted and processing.
    Processing,
    /// `1001`: our partner balance at the provider is too low.
    PartnerBalanceInsufficient,
    /// `1002`: no wallet with this phone number.
    WalletNotFound,
    /// `1003`: the wallet is locked.
    WalletLocked,
    /// `1004`: the wallet's monthly limit would be exceeded.
    WalletMonthlyLimit,
    /// `1006`: the disbursement failed after it was accepted; `failCode` says why.
    FailedAfterAcceptance,
    /// `1010`: no request with this `requestId`.
    RequestNotFound,
    /// `7000` (HTTP 422): the first request with this `requestId` is still processing.
    DuplicateInFlight,
    /// `11`: access denied.
    AccessDenied,
    /// `13`: partner authentication failed (signature or partner code).
    AuthenticationFailed,
    /// `20`: the request is malformed.
    BadFormat,
    /// `40`: this `requestId` was used with other data.
    DuplicateRequestId,
    /// `98`: the provider is busy.
    SystemBusy,
    /// `99`: unknown error at the provider.
    UnknownError,
    /// Any other code; never taken as final.
    Unlisted(i64),
}

impl ResultCode {
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Done,
            1000 => Self::Processing,
            1001 => Self::PartnerBalanceInsufficient,
            1002 => Self::WalletNotFound,
            1003 => Self::WalletLocked,
            1004 => Self::WalletMonthlyLimit,
            1006 => Self::FailedAfterAcceptance,
            1010 => Self::RequestNotFound,
            7000 => Self::DuplicateInFlight,
            11 => Self::AccessDenied,
            13 => Self::AuthenticationFailed,
            20 => Self::BadFormat,
            40 => Self::DuplicateRequestId,
            98 => Self::SystemBusy,
            99 => Self::UnknownError,
            other => Self::Unlisted(other),
        }
    }

    pub fn code(self) -> i64 {
        match self {
            Self::Done => 0,
            Self::Processing => 1000,
            Self::PartnerBalanceInsufficient => 1001,
            Self::WalletNotFound => 1002,
            Self::WalletLocked => 1003,
            Self::WalletMonthlyLimit => 1004,
            Self::FailedAfterAcceptance => 1006,
            Self::RequestNotFound => 1010,
            Self::DuplicateInFlight => 7000,
            Self::AccessDenied => 11,
            Self::AuthenticationFailed => 13,
            Self::BadFormat => 20,
            Self::DuplicateRequestId => 40,
            Self::SystemBusy => 98,
            Self::UnknownError => 99,
            Self::Unlisted(code) => code,
        }
    }

    /// The provider's short English message for the code (the sandbox sends it; the adapter
    /// never copies a provider's message into its errors).
    pub fn message(self) -> &'static str {
        match self {
            Self::Done => "Successful.",
            Self::Processing => "Processing.",
            Self::PartnerBalanceInsufficient => "Partner balance is insufficient.",
            Self::WalletNotFound => "Wallet not found.",
            Self::WalletLocked => "Wallet is locked.",
            Self::WalletMonthlyLimit => "Wallet monthly limit exceeded.",
            Self::FailedAfterAcceptance => "Transaction failed.",
            Self::RequestNotFound => "Request not found.",
            Self::DuplicateInFlight => "A request with this requestId is being processed.",
            Self::AccessDenied => "Access denied.",
            Self::AuthenticationFailed => "Partner authentication failed.",
            Self::BadFormat => "Bad request format.",
            Self::DuplicateRequestId => "Duplicate requestId with different data.",
            Self::SystemBusy => "System is busy.",
            Self::UnknownError => "Unknown error.",
            Self::Unlisted(_) => "Unlisted result.",
        }
    }
}

/// Body of `POST /v2/wallet/inquiry`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletInquiryRequest {
    pub partner_code: String,
    /// `inq_` + 28 hex digits of SHA-256 over the payment id (32 characters, the documented
    /// limit): the same for every inquiry about one payment, and never a disbursement's
    /// `requestId`. An inquiry books nothing, so it needs no idempotency of its own.
    pub request_id: String,
    /// The phone number in national form, `0XXXXXXXXX`.
    pub wallet_id: String,
    pub lang: String,
    pub signature: String,
}

impl std::fmt::Debug for WalletInquiryRequest {
    /// Masks the phone number: this type may end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletInquiryRequest")
            .field("partner_code", &self.partner_code)
            .field("request_id", &self.request_id)
            .field("wallet_id", &mask_tail(&self.wallet_id))
            .finish_non_exhaustive()
    }
}

/// Answer of `POST /v2/wallet/inquiry` (after its signature verified).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletInquiryResponse {
    pub result_code: i64,
    #[serde(default)]
    pub wallet_id: Option<String>,
    /// UPPERCASE, without diacritics; present when `resultCode` is 0.
    #[serde(default)]
    pub wallet_name: Option<String>,
}

impl std::fmt::Debug for WalletInquiryResponse {
    /// Masks the phone number and the holder's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletInquiryResponse")
            .field("result_code", &self.result_code)
            .field("wallet_id", &self.wallet_id.as_deref().map(mask_tail))
            .field("wallet_name", &self.wallet_name.as_deref().map(mask_name))
            .finish()
    }
}

/// Body of `POST /v2/disbursement/pay`, fields in the order they are sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletPayRequest {
    pub partner_code: String,
    /// Our payment id: the provider's idempotency key, kept at least 31 days.
    pub request_id: String,
    /// Upstream's order id.
    pub order_id: String,
    /// Whole đồng, a JSON integer.
    pub amount: u64,
    pub wallet_id: String,
    /// The beneficiary's list name, normalised (UPPERCASE, no diacritics).
    pub beneficiary_name: String,
    /// ASCII memo, at most `memo_max_chars`.
    pub order_info: String,
    /// Where the provider sends the IPN callback.
    pub ipn_url: String,
    pub request_type: String,
    pub lang: String,
    pub signature: String,
}

impl std::fmt::Debug for WalletPayRequest {
    /// Masks the phone number and the name: this type may end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletPayRequest")
            .field("partner_code", &self.partner_code)
            .field("request_id", &self.request_id)
            .field("order_id", &self.order_id)
            .field("amount", &self.amount)
            .field("wallet_id", &mask_tail(&self.wallet_id))
            .field("beneficiary_name", &mask_name(&self.beneficiary_name))
            .field("order_info", &self.order_info)
            .field("ipn_url", &self.ipn_url)
            .finish_non_exhaustive()
    }
}

impl WalletPayRequest {
    /// The unsigned disbursement for `request` to `wallet` (`signature` is empty until the
    /// client signs it).
    pub fn from_payout(
        request: &PayoutRequest,
        wallet: &Msisdn,
        partner_code: &str,
        ipn_url: &str,
        memo_max_chars: usize,
    ) -> Self {
        Self {
            partner_code: partner_code.to_string(),
            request_id: request.payment_id.as_str().to_string(),
            order_id: request.order_id.clone(),
            amount: request.amount.dong(),
            wallet_id: wallet.as_str().to_string(),
            beneficiary_name: normalise_name(&request.beneficiary.full_name),
            order_info: provider_memo(&request.memo, memo_max_chars),
            ipn_url: ipn_url.to_string(),
            request_type: REQUEST_TYPE_DISBURSE.into(),
            lang: LANG.into(),
            signature: String::new(),
        }
    }
}

/// Answer of `POST /v2/disbursement/pay` (after its signature verified). Only `resultCode`
/// is always there; the echoed fields are checked when present and required for success.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletPayResponse {
    pub result_code: i64,
    #[serde(default)]
    pub partner_code: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub amount: Option<u64>,
    /// The provider's transaction id (a number at MoMo-style providers; a string is accepted).
    #[serde(default, deserialize_with = "string_or_number")]
    pub trans_id: Option<String>,
    #[serde(default)]
    pub response_time: Option<i64>,
}

/// Body of `POST /v2/disbursement/query`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletQueryRequest {
    pub partner_code: String,
    /// The payment id the disbursement was sent with.
    pub request_id: String,
    pub lang: String,
    pub signature: String,
}

/// Answer of `POST /v2/disbursement/query` (after its signature verified).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletQueryResponse {
    pub result_code: i64,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub trans_id: Option<String>,
    /// Whole đồng; `None` when absent or not a positive whole amount, which for a final code
    /// is a contradiction, never "no check".
    #[serde(default, deserialize_with = "Vnd::deserialize_lenient")]
    pub amount: Option<Vnd>,
    /// Why a `1006` disbursement failed (a result code such as 1002 or 1003).
    #[serde(default)]
    pub fail_code: Option<i64>,
}

/// An IPN callback body (after its signature verified).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletIpn {
    pub partner_code: String,
    /// Our payment id.
    pub request_id: String,
    pub order_id: String,
    /// Whole đồng; `None` when absent or not a positive whole amount (the sandbox always
    /// sends it, for failed disbursements too).
    #[serde(default, deserialize_with = "Vnd::deserialize_lenient")]
    pub amount: Option<Vnd>,
    #[serde(deserialize_with = "string_or_number")]
    pub trans_id: Option<String>,
    pub result_code: i64,
    #[serde(default)]
    pub fail_code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    /// Unix milliseconds when the provider signed the callback (a number, or its digits as a
    /// string: both sign the same).
    #[serde(deserialize_with = "required_whole_number")]
    pub response_time: i64,
}

/// The gateway's stable reason code for a final refusal code (also a `1006` `failCode`).
pub fn reason_code_for(code: ResultCode) -> String {
    match code {
        ResultCode::PartnerBalanceInsufficient => reason::PROVIDER_INSUFFICIENT_FUNDS.into(),
        ResultCode::WalletNotFound => reason::ACCOUNT_NOT_FOUND.into(),
        ResultCode::WalletLocked => reason::ACCOUNT_CLOSED.into(),
        ResultCode::WalletMonthlyLimit => reason::WALLET_MONTHLY_LIMIT.into(),
        ResultCode::AccessDenied | ResultCode::AuthenticationFailed => reason::PROVIDER_AUTH_FAILED.into(),
        ResultCode::BadFormat => reason::INVALID_REQUEST.into(),
        ResultCode::DuplicateRequestId => reason::IDEMPOTENCY_CONFLICT.into(),
        ResultCode::SystemBusy => reason::PROVIDER_BUSY.into(),
        ResultCode::Done
        | ResultCode::Processing
        | ResultCode::FailedAfterAcceptance
        | ResultCode::RequestNotFound
        | ResultCode::DuplicateInFlight
        | ResultCode::UnknownError
        | ResultCode::Unlisted(_) => reason::provider_failed(Some(&code.code().to_string())),
    }
}

fn said(code: ResultCode) -> String {
    format!("The wallet provider answered resultCode {}.", code.code())
}

/// What a disbursement answer's `resultCode` means. Success codes are only passed here
/// after the caller checked the HTTP status and the echoed `requestId` and `amount`. The
/// two "this requestId is already known" codes, 7000 (still processing) and 40 (used with
/// other data), are unknown outcomes: on a resubmit the first request may have been paid,
/// so only a status query can settle it.
pub fn submit_outcome(
    provider: WalletProvider,
    code: ResultCode,
    trans_id: Option<String>,
) -> Result<ProviderStatus, AdapterError> {
    let permanent = |code: ResultCode| Err(AdapterError::permanent(reason_code_for(code), said(code)));
    let transient = |code: ResultCode| Err(AdapterError::transient(reason_code_for(code), said(code)));
    match code {
        ResultCode::Done => Ok(ProviderStatus::Succeeded { provider_ref: trans_id }),
        ResultCode::Processing => Ok(ProviderStatus::Pending { provider_ref: trans_id }),
        // "Wait and inquire": the first request may still pay; never a failure, never a new id.
        ResultCode::DuplicateInFlight => Err(AdapterError::unknown(
            "The wallet provider is still processing an earlier request with this requestId (7000).",
        )),
        ResultCode::PartnerBalanceInsufficient => transient(code),
        ResultCode::WalletNotFound => permanent(code),
        ResultCode::WalletLocked => permanent(code),
        ResultCode::WalletMonthlyLimit => permanent(code),
        ResultCode::AccessDenied | ResultCode::AuthenticationFailed => transient(code),
        ResultCode::BadFormat => permanent(code),
        ResultCode::DuplicateRequestId => Err(AdapterError::unknown(
            "The wallet provider already holds a request with this requestId (resultCode 40), which an earlier \
             attempt may have paid: a status query must settle it.",
        )),
        ResultCode::SystemBusy => transient(code),
        ResultCode::UnknownError => Err(AdapterError::unknown(said(code))),
        // Codes that do not belong in a disbursement answer: only an inquiry can tell.
        ResultCode::FailedAfterAcceptance | ResultCode::RequestNotFound => Err(AdapterError::unknown(said(code))),
        ResultCode::Unlisted(_) => {
            count_unknown_status(provider.as_str());
            Err(AdapterError::unknown(said(code)))
        }
    }
}

/// What a status query's `resultCode` means. Errors of the query itself are transient (a
/// read has no side effect); codes that say nothing final about the payment are `Pending`.
pub fn query_outcome(
    provider: WalletProvider,
    code: ResultCode,
    fail_code: Option<i64>,
    trans_id: Option<String>,
) -> Result<ProviderStatus, AdapterError> {
    match code {
        ResultCode::Done => Ok(ProviderStatus::Succeeded { provider_ref: trans_id }),
        ResultCode::FailedAfterAcceptance => Ok(failed(fail_code, trans_id.as_deref())),
        ResultCode::RequestNotFound => Ok(ProviderStatus::NotFound),
        ResultCode::AccessDenied
        | ResultCode::AuthenticationFailed
        | ResultCode::BadFormat
        | ResultCode::SystemBusy => Err(AdapterError::transient(reason_code_for(code), said(code))),
        ResultCode::UnknownError => Err(AdapterError::transient(reason::PROVIDER_ERROR, said(code))),
        ResultCode::Processing
        | ResultCode::DuplicateInFlight
        | ResultCode::PartnerBalanceInsufficient
        | ResultCode::WalletNotFound
        | ResultCode::WalletLocked
        | ResultCode::WalletMonthlyLimit
        | ResultCode::DuplicateRequestId => Ok(ProviderStatus::Pending { provider_ref: trans_id }),
        ResultCode::Unlisted(_) => {
            count_unknown_status(provider.as_str());
            Ok(ProviderStatus::Pending { provider_ref: trans_id })
        }
    }
}

/// What an IPN's `resultCode` means: `0` succeeded, `1006` failed, everything else pending.
pub fn callback_status(
    provider: WalletProvider,
    code: ResultCode,
    fail_code: Option<i64>,
    trans_id: Option<String>,
) -> ProviderStatus {
    match code {
        ResultCode::Done => ProviderStatus::Succeeded { provider_ref: trans_id },
        ResultCode::FailedAfterAcceptance => failed(fail_code, trans_id.as_deref()),
        ResultCode::Processing
        | ResultCode::PartnerBalanceInsufficient
        | ResultCode::WalletNotFound
        | ResultCode::WalletLocked
        | ResultCode::WalletMonthlyLimit
        | ResultCode::RequestNotFound
        | ResultCode::DuplicateInFlight
        | ResultCode::AccessDenied
        | ResultCode::AuthenticationFailed
        | ResultCode::BadFormat
        | ResultCode::DuplicateRequestId
        | ResultCode::SystemBusy
        | ResultCode::UnknownError => ProviderStatus::Pending { provider_ref: trans_id },
        ResultCode::Unlisted(_) => {
            count_unknown_status(provider.as_str());
            ProviderStatus::Pending { provider_ref: trans_id }
        }
    }
}

/// A `1006` failure, its reason code mapped from `failCode` (`provider_failed` without one).
fn failed(fail_code: Option<i64>, trans_id: Option<&str>) -> ProviderStatus {
    let code = fail_code.map_or_else(
        || reason::provider_failed(None),
        |fail| reason_code_for(ResultCode::from_code(fail)),
    );
    let fail_text = fail_code.map_or_else(|| "none".to_string(), |fail| fail.to_string());
    ProviderStatus::Failed {
        code,
        reason: format!(
            "The wallet provider reports transaction {} as failed (resultCode 1006, failCode {fail_text}).",
            trans_id.unwrap_or("without id")
        ),
    }
}

/// What a wallet inquiry's non-zero `resultCode` means: an unknown or locked wallet and a
/// malformed request are final; everything else is worth asking again.
pub fn inquiry_error(code: ResultCode) -> AdapterError {
    match code {
        ResultCode::WalletNotFound | ResultCode::WalletLocked | ResultCode::BadFormat => {
            AdapterError::permanent(reason_code_for(code), said(code))
        }
        ResultCode::AccessDenied | ResultCode::AuthenticationFailed | ResultCode::SystemBusy => {
            AdapterError::transient(reason_code_for(code), said(code))
        }
        ResultCode::Done
        | ResultCode::Processing
        | ResultCode::PartnerBalanceInsufficient
        | ResultCode::WalletMonthlyLimit
        | ResultCode::FailedAfterAcceptance
        | ResultCode::RequestNotFound
        | ResultCode::DuplicateInFlight
        | ResultCode::DuplicateRequestId
        | ResultCode::UnknownError
        | ResultCode::Unlisted(_) => AdapterError::transient(reason::PROVIDER_ERROR, said(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIETTEL: WalletProvider = WalletProvider::ViettelMoney;

    const EVERY_LISTED_CODE: [i64; 15] = [
        0, 1000, 1001, 1002, 1003, 1004, 1006, 1010, 7000, 11, 13, 20, 40, 98, 99,
    ];

    /// The wire types that carry a phone number or a name print them masked: one logged with
    /// `{:?}` (by a later change, or a crate's debug log) must not write them out whole.
    #[test]
    fn wire_types_debug_print_no_phone_number_or_name() {
        let pay = WalletPayRequest {
            partner_code: "GW".into(),
            request_id: "pay_1".into(),
            order_id: "TB-1".into(),
            amount: 500_000,
            wallet_id: "0981234567".into(),
            beneficiary_name: "NGUYEN VAN DUC".into(),
            order_info: "Tro cap".into(),
            ipn_url: "http://127.0.0.1/callbacks/viettel_money".into(),
            request_type: "disburseToWallet".into(),
            lang: "vi".into(),
            signature: String::new(),
        };
        let inquiry = WalletInquiryRequest {
            partner_code: "GW".into(),
            request_id: "inq_1".into(),
            wallet_id: "0981234567".into(),
            lang: "vi".into(),
            signature: String::new(),
        };
        let holder = WalletInquiryResponse {
            result_code: 0,
            wallet_id: Some("0981234567".into()),
            wallet_name: Some("NGUYEN VAN DUC".into()),
        };
        for printed in [format!("{pay:?}"), format!("{inquiry:?}"), format!("{holder:?}")] {
            assert!(
                !printed.contains("0981234567") && !printed.contains("NGUYEN VAN DUC"),
                "{printed}"
            );
        }
        assert!(format!("{pay:?}").contains("pay_1"), "the ids stay readable");
    }

    #[test]
    fn codes_round_trip_and_unlisted_codes_are_kept() {
        for code in EVERY_LISTED_CODE {
            let parsed = ResultCode::from_code(code);
            assert!(!matches!(parsed, ResultCode::Unlisted(_)), "{code}");
            assert_eq!(parsed.code(), code);
        }
        assert_eq!(ResultCode::from_code(42), ResultCode::Unlisted(42));
        assert_eq!(ResultCode::Unlisted(42).code(), 42);
    }

    #[test]
    fn only_zero_is_success_anywhere() {
        for code in [-1, 1, 9, 10, 21, 1005, 1007, 4001, 7001, 9000] {
            let code = ResultCode::from_code(code);
            assert!(matches!(
                submit_outcome(VIETTEL, code, None),
                Err(AdapterError::UnknownOutcome { .. })
            ));
            assert!(matches!(
                query_outcome(VIETTEL, code, None, None),
                Ok(ProviderStatus::Pending { .. })
            ));
            assert!(matches!(
                callback_status(VIETTEL, code, None, None),
                ProviderStatus::Pending { .. }
            ));
        }
        for code in EVERY_LISTED_CODE.into_iter().filter(|code| *code != 0) {
            let code = ResultCode::from_code(code);
            assert!(!matches!(
                submit_outcome(VIETTEL, code, None),
                Ok(ProviderStatus::Succeeded { .. })
            ));
            assert!(!matches!(
                query_outcome(VIETTEL, code, None, None),
                Ok(ProviderStatus::Succeeded { .. })
            ));
        }
    }

    #[test]
    fn an_already_known_request_id_is_an_unknown_outcome_never_a_failure() {
        for code in [ResultCode::DuplicateRequestId, ResultCode::DuplicateInFlight] {
            assert!(
                matches!(
                    submit_outcome(VIETTEL, code, None),
                    Err(AdapterError::UnknownOutcome { .. })
                ),
                "{code:?}"
            );
        }
    }

    #[test]
    fn a_failure_after_acceptance_carries_the_mapped_fail_code() {
        let status = query_outcome(VIETTEL, ResultCode::FailedAfterAcceptance, Some(1003), Some("9".into()));
        assert!(
            matches!(&status, Ok(ProviderStatus::Failed { code, .. }) if code == "account_closed"),
            "{status:?}"
        );
        let without = callback_status(VIETTEL, ResultCode::FailedAfterAcceptance, None, None);
        assert!(matches!(without, ProviderStatus::Failed { code, .. } if code == "provider_failed"));
        let odd = callback_status(VIETTEL, ResultCode::FailedAfterAcceptance, Some(5555), None);
        assert!(matches!(odd, ProviderStatus::Failed { code, .. } if code == "provider_failed_5555"));
    }

    #[test]
    fn transaction_ids_may_be_numbers_or_strings() {
        let number: WalletQueryResponse =
            serde_json::from_str(r#"{"resultCode":0,"transId":2890001234567}"#).expect("valid");
        assert_eq!(number.trans_id.as_deref(), Some("2890001234567"));
        let text: WalletQueryResponse = serde_json::from_str(r#"{"resultCode":0,"transId":"T-1"}"#).expect("valid");
        assert_eq!(text.trans_id.as_deref(), Some("T-1"));
        assert!(serde_json::from_str::<WalletQueryResponse>(r#"{"resultCode":0,"transId":[1]}"#).is_err());
    }
}
