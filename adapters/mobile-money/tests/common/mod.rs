//! Fixtures shared by the mobile-money tests: a payout, a config, and signed answers.

#![allow(dead_code)]

use adapter_mobile_money::signing;
use adapter_mobile_money::{MobileMoneyAdapter, MobileMoneyConfig};
use gateway_adapter::{Beneficiary, CitizenId, Destination, Msisdn, PaymentId, PayoutRequest, Vnd, WalletProvider};
use provider_http::HttpConfig;
use secrecy::SecretString;
use serde_json::Value;

/// 2026-01-01T00:00:00Z in unix seconds, the clock of the IPN test vector.
pub const FIXED_NOW: i64 = 1_767_225_600;
pub const PARTNER_CODE: &str = "GWTEST01";
pub const SECRET_KEY: &str = "test-wallet-secret";
/// A Viettel number (098).
pub const WALLET: &str = "0981234567";
pub const IPN_URL: &str = "http://127.0.0.1:8080/callbacks/viettel_money";

/// A social-assistance allowance of 500,000 VND to a Viettel Money wallet.
pub fn payout(payment_id: &str, order_id: &str) -> PayoutRequest {
    payout_to(WalletProvider::ViettelMoney, WALLET, payment_id, order_id)
}

pub fn payout_to(provider: WalletProvider, wallet: &str, payment_id: &str, order_id: &str) -> PayoutRequest {
    PayoutRequest {
        payment_id: PaymentId::from_stored(payment_id),
        order_id: order_id.into(),
        amount: Vnd::new(500_000).expect("a positive amount"),
        beneficiary: Beneficiary {
            id: CitizenId::try_from("034187001234").expect("a valid citizen id"),
            full_name: "Nguyễn Văn An".into(),
            commune_code: "12442".into(),
        },
        destination: Destination::Wallet {
            provider,
            msisdn: Msisdn::try_from(wallet).expect("a valid phone number"),
        },
        memo: "Trợ cấp xã hội tháng 11/2026 – Đông Hòa".into(),
    }
}

pub fn config(base_url: &str, timeout_ms: u64) -> MobileMoneyConfig {
    MobileMoneyConfig {
        base_url: base_url.into(),
        partner_code: PARTNER_CODE.into(),
        secret_key: SecretString::from(SECRET_KEY),
        ipn_url: IPN_URL.into(),
        timeout_ms,
        callback_tolerance_secs: 300,
        memo_max_chars: 50,
        http: HttpConfig::default(),
    }
}

pub fn adapter(base_url: &str, timeout_ms: u64) -> MobileMoneyAdapter {
    MobileMoneyAdapter::new(WalletProvider::ViettelMoney, config(base_url, timeout_ms)).expect("a valid test config")
}

/// `value` (a JSON object) signed with the test secret, as a provider answers.
pub fn signed(value: Value) -> Value {
    let Value::Object(fields) = value else {
        panic!("a JSON object");
    };
    Value::Object(signing::signed(SECRET_KEY.as_bytes(), fields))
}
