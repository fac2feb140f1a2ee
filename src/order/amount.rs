//! The `amount` field: whole đồng as a JSON string of digits or a JSON integer, and the
//! per-channel limits an amount must not exceed.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use gateway_adapter::money::format_dong;
use gateway_adapter::{Channel, Invalid, Vnd};

/// The largest amount one order may carry on each channel, in đồng (config section
/// `[limits]`). An order above its channel's limit is refused with `amount_over_limit`;
/// banks and wallets may enforce lower caps of their own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelLimits {
    /// Per NAPAS 24/7 interbank transfer: below 500,000,000 VND. Default 499,999,999.
    #[serde(deserialize_with = "whole_dong")]
    pub bank_transfer_max: u64,
    /// Per payment into a VNPost account. Default 100,000,000.
    #[serde(deserialize_with = "whole_dong")]
    pub vnpost_account_max: u64,
    /// Per payment into a mobile-money wallet. Default 100,000,000.
    #[serde(deserialize_with = "whole_dong")]
    pub mobile_money_max: u64,
    /// Credits into one wallet per calendar month (Vietnam time) across all orders. The
    /// dispatcher checks it before anything is sent; an order that would exceed it fails
    /// with `wallet_monthly_limit`. 10,000,000 under the 2021-2025 pilot rules (the default),
    /// 100,000,000 under Decree 368/2025.
    #[serde(deserialize_with = "whole_dong")]
    pub wallet_monthly_max: u64,
}

/// A limit in whole đồng, as an integer or a text of digits. A number with a fraction or an
/// exponent is refused: read as an unsigned integer, the config reader rounded it
/// (`499999999.5` became 500,000,000, over the NAPAS limit) or saturated it (`1e30` became no
/// limit at all).
fn whole_dong<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct WholeDong;
    impl serde::de::Visitor<'_> for WholeDong {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number of đồng (no fraction, no exponent)")
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<u64, E> {
            Ok(value)
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<u64, E> {
            u64::try_from(value).map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(value), &self))
        }

        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<u64, E> {
            Err(E::invalid_type(serde::de::Unexpected::Float(value), &self))
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<u64, E> {
            text.parse()
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(text), &self))
        }
    }
    deserializer.deserialize_any(WholeDong)
}

impl Default for ChannelLimits {
    fn default() -> Self {
        Self {
            bank_transfer_max: 499_999_999,
            vnpost_account_max: 100_000_000,
            mobile_money_max: 100_000_000,
            wallet_monthly_max: 10_000_000,
        }
    }
}

impl ChannelLimits {
    /// The limit for one order on `channel`, in đồng.
    pub fn max_for(&self, channel: Channel) -> u64 {
        match channel {
            Channel::BankTransfer => self.bank_transfer_max,
            Channel::VnpostAccount => self.vnpost_account_max,
            Channel::MobileMoney => self.mobile_money_max,
        }
    }

    /// Refuses `amount` with `amount_over_limit` when it is above the channel's limit.
    pub fn check(&self, channel: Channel, amount: Vnd) -> Result<(), Invalid> {
        let max = self.max_for(channel);
        if amount.dong() > max {
            return Err(Invalid::new(
                "amount_over_limit",
                format!(
                    "amount is above the {channel} limit of {} VND per order",
                    format_dong(max)
                ),
            ));
        }
        Ok(())
    }
}

impl ChannelLimits {
    /// Refuses `amount` with `amount_over_limit` when it is above the wallets' limit per order:
    /// for a bank transfer into a wallet, which is a wallet payout by another road.
    pub fn check_into_wallet(&self, amount: Vnd) -> Result<(), Invalid> {
        if amount.dong() > self.mobile_money_max {
            return Err(Invalid::new(
                "amount_over_limit",
                format!(
                    "amount is above the {} limit of {} VND per order, which holds for a bank transfer into a wallet too",
                    Channel::MobileMoney,
                    format_dong(self.mobile_money_max)
                ),
            ));
        }
        Ok(())
    }
}

fn fractional() -> Invalid {
    Invalid::new(
        "amount_fractional",
        "amount must be whole đồng without a decimal point, fraction or exponent (VND has no minor unit)",
    )
}

fn not_positive() -> Invalid {
    Invalid::new("amount_not_positive", "amount must be greater than zero")
}

fn too_large() -> Invalid {
    Invalid::new(
        "amount_too_large",
        format!(
            "amount is larger than the largest amount the gateway can carry ({} VND)",
            format_dong(Vnd::MAX)
        ),
    )
}

/// Parses the `amount` value: a string of digits (`"2789000"`) or a JSON integer (`2789000`).
pub fn parse_amount(value: &Value) -> Result<Vnd, Invalid> {
    match value {
        Value::String(text) => parse_amount_text(text),
        Value::Number(number) => parse_amount_number(number),
        _ => Err(Invalid::new(
            "wrong_type",
            "amount must be a string of digits or a JSON integer",
        )),
    }
}

/// `-?digits(.digits)?`: the only spellings worth a more precise code than `invalid_amount`.
fn is_decimal_syntax(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

fn parse_amount_text(text: &str) -> Result<Vnd, Invalid> {
    if !is_decimal_syntax(text) {
        return Err(Invalid::new(
            "invalid_amount",
            "amount must be whole đồng written with digits only, e.g. \"2789000\"",
        ));
    }
    let decimal = match Decimal::from_str_exact(text) {
        Ok(decimal) => decimal,
        // Valid digits that do not fit a 96-bit decimal: far from any amount.
        Err(_) if text.starts_with('-') => return Err(not_positive()),
        Err(_) if text.contains('.') => return Err(fractional()),
        Err(_) => return Err(too_large()),
    };
    if decimal.is_sign_negative() || decimal.is_zero() {
        return Err(not_positive());
    }
    // `2789000.00` is refused too: a decimal point means the sender thinks in minor units.
    if decimal.scale() > 0 || text.contains('.') {
        return Err(fractional());
    }
    let dong = decimal.to_u64().ok_or_else(too_large)?;
    vnd(dong)
}

fn parse_amount_number(number: &Number) -> Result<Vnd, Invalid> {
    if let Some(dong) = number.as_u64() {
        return vnd(dong);
    }
    if number.as_i64().is_some() {
        // `as_u64` failed, so the integer is negative.
        return Err(not_positive());
    }
    // An integer literal beyond 64 bits: serde_json keeps its text with `arbitrary_precision`
    // and turns it into a float without; either way it is huge, not fractional.
    let text = number.to_string();
    let unsigned = text.strip_prefix('-').unwrap_or(&text);
    let integer_literal = !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit());
    let float = number.as_f64().unwrap_or(f64::NAN);
    if text.starts_with('-') || float <= 0.0 {
        return Err(not_positive());
    }
    if integer_literal || (float.fract() == 0.0 && float > Vnd::MAX as f64) {
        return Err(too_large());
    }
    Err(fractional())
}

fn vnd(dong: u64) -> Result<Vnd, Invalid> {
    if dong == 0 {
        return Err(not_positive());
    }
    Vnd::new(dong).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn code(value: Value) -> &'static str {
        parse_amount(&value).err().map(|e| e.code).unwrap_or("ok")
    }

    #[test]
    fn the_largest_amount_is_accepted_and_one_more_is_too_large() {
        assert_eq!(code(json!(Vnd::MAX)), "ok");
        assert_eq!(code(json!(Vnd::MAX.to_string())), "ok");
        assert_eq!(code(json!(Vnd::MAX + 1)), "amount_too_large");
        assert_eq!(code(json!((Vnd::MAX + 1).to_string())), "amount_too_large");
        assert_eq!(code(json!(u64::MAX)), "amount_too_large");
    }

    #[test]
    fn odd_spellings_of_numbers_are_invalid_amounts() {
        for text in ["", "-", ".", "1e6", " 100", "100 ", "+100", "1_000", "1,000", "0x10"] {
            assert_eq!(code(json!(text)), "invalid_amount", "{text:?}");
        }
    }

    #[test]
    fn negative_zero_and_negative_fractions_are_refused() {
        assert_eq!(code(json!("-0")), "amount_not_positive");
        assert_eq!(code(json!("000")), "amount_not_positive");
        assert_eq!(code(json!("-0.5")), "amount_not_positive");
        assert_eq!(code(json!("0.00")), "amount_not_positive");
        assert_eq!(code(json!("0.5")), "amount_fractional");
        assert_eq!(code(json!(-2.5)), "amount_not_positive");
        assert_eq!(code(json!("0002789000")), "ok");
    }

    #[test]
    fn limits_default_to_the_domain_notes() {
        let limits = ChannelLimits::default();
        assert_eq!(limits.max_for(Channel::BankTransfer), 499_999_999);
        assert_eq!(limits.max_for(Channel::MobileMoney), 100_000_000);
        let partial: ChannelLimits = serde_json::from_str(r#"{"mobile_money_max": 10000000}"#).expect("partial config");
        assert_eq!(partial.mobile_money_max, 10_000_000);
        assert_eq!(partial.vnpost_account_max, 100_000_000);
    }
}
