//! Fixtures shared by the VNPost-account tests: a payout, a config, the fixed clock, and
//! answers signed the way VNPost signs them.

#![allow(dead_code)]

use adapter_vnpost_account::signing::sign_fields;
use adapter_vnpost_account::{VnpostAccountAdapter, VnpostAccountConfig};
use gateway_adapter::{AccountNumber, Beneficiary, CitizenId, Destination, PaymentId, PayoutRequest, Vnd};
use provider_http::HttpConfig;
use secrecy::SecretString;

/// 2026-01-01T00:00:00Z, i.e. `20260101070000` in Vietnam: the fixed clock of the vectors.
pub const FIXED_NOW: i64 = 1_767_225_600;
pub const FIXED_TIMESTAMP: &str = "20260101070000";
pub const SECRET: &str = "test-vnpost-secret";
pub const PARTNER_ID: &str = "GW-TEST";
pub const ACCOUNT: &str = "8800123456789";
pub const CITIZEN_ID: &str = "034087001234";
pub const PAYMENT: &str = "pay_01J9Z8ZKQ2";
pub const ORDER: &str = "ORD-2026-11-000123";

pub fn fixed_now() -> i64 {
    FIXED_NOW
}

/// A social-assistance allowance of 500,000 VND (the 2024 base) to a VNPost account.
pub fn payout(payment_id: &str, order_id: &str) -> PayoutRequest {
    PayoutRequest {
        payment_id: PaymentId::from_stored(payment_id),
        order_id: order_id.into(),
        amount: Vnd::new(500_000).expect("a positive amount"),
        beneficiary: Beneficiary {
            id: CitizenId::try_from(CITIZEN_ID).expect("a valid citizen id"),
            full_name: "Nguyễn Văn An".into(),
            commune_code: "12442".into(),
        },
        destination: Destination::VnpostAccount {
            account_number: AccountNumber::try_from(ACCOUNT).expect("a valid account number"),
        },
        memo: "Trợ cấp bảo trợ xã hội tháng 11/2026 – xã Hồng Phong, Vũ Thư".into(),
    }
}

pub fn config(base_url: &str, timeout_ms: u64) -> VnpostAccountConfig {
    VnpostAccountConfig {
        base_url: base_url.into(),
        partner_id: PARTNER_ID.into(),
        secret: SecretString::from(SECRET),
        timeout_ms,
        callback_tolerance_secs: 300,
        memo_max_chars: 50,

        http: HttpConfig::default(),
    }
}

pub fn adapter(base_url: &str, timeout_ms: u64) -> VnpostAccountAdapter {
    VnpostAccountAdapter::new(config(base_url, timeout_ms)).expect("a valid test config")
}

/// `fields` with a `signature` computed under `secret`, as VNPost signs its answers.
pub fn signed_with(secret: &str, fields: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(mut map) = fields else {
        panic!("a signed body is a JSON object");
    };
    let signature = sign_fields(secret.as_bytes(), &map);
    map.insert("signature".into(), serde_json::Value::String(signature));
    serde_json::Value::Object(map)
}

/// `fields` signed with the shared test secret.
pub fn signed(fields: serde_json::Value) -> serde_json::Value {
    signed_with(SECRET, fields)
}
