//! The payment order contract v1: the [`PaymentOrder`] every other part of the gateway works
//! with, parsed once at the edge by [`parse_order`] and refused with a stable reason code.
//!
//! The wire contract (a JSON object) is documented in DESIGN.md, "Message contracts"; the
//! stable reason codes are listed in [`REASON_CODES`].

mod amount;
mod fingerprint;
mod ids;
pub(crate) mod json;
mod parse;

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use gateway_adapter::mask::mask_name;
use gateway_adapter::{Beneficiary, Channel, Destination, Vnd};

pub use amount::{parse_amount, ChannelLimits};
pub use ids::{BatchId, IdempotencyKey, OrderId, PaymentType, Period, Program, MAX_ID_LEN};
pub use parse::{parse_order, MAX_ORDER_BYTES};

/// The fields of an order's objects, as the contract defines them (what `dlq show` may show).
pub(crate) mod contract {
    pub(crate) use super::parse::{BANK_FIELDS, BENEFICIARY_FIELDS, ORDER_FIELDS, VNPOST_FIELDS, WALLET_FIELDS};
}

/// The contract version this module implements.
pub const CONTRACT_VERSION: u32 = 1;

/// A payment order after validation. Everything in it has been checked; the store keeps it as
/// JSON (`Serialize`/`Deserialize` round-trip to an equal value). `Debug` masks personal data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOrder {
    pub order_id: OrderId,
    /// The deduplication key; the order id when upstream sent none.
    pub idempotency_key: IdempotencyKey,
    pub batch_id: BatchId,
    pub program: Program,
    pub period: Period,
    pub payment_type: PaymentType,
    pub beneficiary: Beneficiary,
    pub amount: Vnd,
    /// The destination; its variant is the channel.
    pub destination: Destination,
    /// The memo as upstream wrote it (with diacritics), or a default like `Tro cap NCC 07/2025`;
    /// adapters turn it into the provider's ASCII form.
    pub memo: String,
    pub created_at: DateTime<Utc>,
}

impl PaymentOrder {
    /// The channel the order is paid through, from its destination.
    pub fn channel(&self) -> Channel {
        self.destination.channel()
    }

    /// The memo used when upstream sends none: `Tro cap NCC 07/2025`, `Tro cap BTXH 07/2025`.
    pub fn default_memo(program: Program, period: Period) -> String {
        format!(
            "Tro cap {} {:02}/{}",
            program.memo_label(),
            period.month(),
            period.year()
        )
    }
}

impl fmt::Debug for PaymentOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentOrder")
            .field("order_id", &self.order_id)
            .field("idempotency_key", &self.idempotency_key)
            .field("batch_id", &self.batch_id)
            .field("program", &self.program)
            .field("period", &self.period)
            .field("payment_type", &self.payment_type)
            .field("beneficiary", &self.beneficiary)
            .field("amount", &self.amount)
            .field("destination", &self.destination)
            // Free text may name people: initials only.
            .field("memo", &mask_name(&self.memo))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Every reason code an order can be rejected with (`parse_order`'s, and `unstorable_order`
/// from intake), with its meaning: the README prints this list.
pub const REASON_CODES: &[(&str, &str)] = &[
    ("order_too_large", "the message body is larger than 64 KiB"),
    ("malformed_json", "the message body is not valid UTF-8 JSON"),
    ("not_an_object", "the message body is JSON but not a JSON object"),
    ("duplicate_field", "a JSON object has the same field twice"),
    ("unknown_field", "a field the contract does not define (top level, beneficiary or destination), including another channel's destination field"),
    ("missing_field", "a required field is absent"),
    ("wrong_type", "a field has the wrong JSON type (e.g. a number where a string is expected, null for a required field)"),
    ("invalid_order_id", "order_id is not 1-64 characters of letters, digits and . _ : -"),
    ("invalid_idempotency_key", "idempotency_key is not 1-64 characters of letters, digits and . _ : -"),
    ("invalid_batch_id", "batch_id is not 1-64 characters of letters, digits and . _ : -"),
    ("unknown_program", "program is not meritorious or social_assistance"),
    ("invalid_period", "period is not YYYY-MM with a year 2000-2099 and a month 01-12"),
    ("unknown_payment_type", "payment_type is not monthly, arrears or one_off"),
    ("invalid_citizen_id", "beneficiary.id is not a 12-digit citizen id (old 9-digit CMND numbers are refused)"),
    ("invalid_name", "beneficiary.full_name or destination.account_name is not 1-100 characters of letters, spaces and ' - ."),
    ("invalid_commune_code", "beneficiary.commune_code is not 5 digits"),
    ("invalid_amount", "amount is a string that is not a number written with digits"),
    ("amount_fractional", "amount has a decimal point, a fraction or an exponent (VND has no minor unit)"),
    ("amount_not_positive", "amount is zero or negative"),
    ("amount_too_large", "amount does not fit the largest amount the gateway can carry"),
    ("amount_over_limit", "amount is above the configured per-order limit of the channel"),
    ("unsupported_currency", "currency is not VND"),
    ("unknown_channel", "channel is not bank_transfer, vnpost_account or mobile_money"),
    ("invalid_bank_bin", "destination.bank_bin is not 6 digits"),
    ("unknown_bank", "destination.bank_bin is not a known NAPAS transfer BIN"),
    ("invalid_account_number", "destination.account_number is not 6-19 digits or capital letters"),
    ("unknown_wallet_provider", "destination.wallet_provider is not viettel_money, vnpt_money or mobifone_money"),
    ("invalid_phone_number", "destination.phone_number is not a Vietnamese mobile number"),
    ("invalid_memo", "memo is longer than 140 characters or contains control characters or bidirectional controls"),
    ("invalid_created_at", "created_at is not an RFC 3339 timestamp, or is before 2000"),
    ("unstorable_order", "the gateway's store refuses a value of the order; nothing was paid"),
    ("provider_not_configured", "no provider configured in this gateway pays the destination (its wallet provider, VNPost, or any bank); nothing was paid"),
];

/// The meaning of a reason code, if it is one of [`REASON_CODES`].
pub fn reason_meaning(code: &str) -> Option<&'static str> {
    REASON_CODES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, meaning)| *meaning)
}
