//! Fixtures shared by the bank-transfer tests: a payout, a config, and the fixed clock.

#![allow(dead_code)]

use adapter_bank_transfer::{BankTransferAdapter, BankTransferConfig};
use gateway_adapter::{AccountNumber, BankBin, Beneficiary, CitizenId, Destination, PaymentId, PayoutRequest, Vnd};
use provider_http::HttpConfig;
use secrecy::SecretString;

/// 2026-01-01T00:00:00Z, the fixed `X-Timestamp` of the request-signing test vector.
pub const FIXED_NOW: i64 = 1_767_225_600;
pub const REQUEST_SECRET: &str = "test-request-secret";
/// The Standard Webhooks specification's published test secret.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const ACCOUNT: &str = "0011004455667";

pub fn fixed_now() -> i64 {
    FIXED_NOW
}

/// A meritorious-person allowance of 2,789,000 VND to a Vietcombank account.
pub fn payout(payment_id: &str, order_id: &str) -> PayoutRequest {
    PayoutRequest {
        payment_id: PaymentId::from_stored(payment_id),
        order_id: order_id.into(),
        amount: Vnd::new(2_789_000).expect("a positive amount"),
        beneficiary: Beneficiary {
            id: CitizenId::try_from("034087001234").expect("a valid citizen id"),
            full_name: "Nguyễn Văn An".into(),
            commune_code: "12442".into(),
        },
        destination: Destination::BankAccount {
            bin: BankBin::try_from("970436").expect("Vietcombank's BIN"),
            account_number: AccountNumber::try_from(ACCOUNT).expect("a valid account number"),
            account_name: None,
        },
        memo: "Trợ cấp ưu đãi tháng 11/2026 – Đông Hòa".into(),
    }
}

pub fn config(base_url: &str, timeout_ms: u64) -> BankTransferConfig {
    BankTransferConfig {
        base_url: base_url.into(),
        client_id: "gateway-test".into(),
        request_secret: SecretString::from(REQUEST_SECRET),
        webhook_secrets: vec![SecretString::from(WEBHOOK_SECRET)],
        timeout_ms,
        webhook_tolerance_secs: 300,
        memo_max_chars: 25,
        http: HttpConfig::default(),
    }
}

pub fn adapter(base_url: &str, timeout_ms: u64) -> BankTransferAdapter {
    BankTransferAdapter::new(config(base_url, timeout_ms)).expect("a valid test config")
}
