//! `parse_order`: bytes of a payment order message to a [`PaymentOrder`], walking the JSON
//! field by field so every refusal has a stable code and a sentence naming the field. Messages
//! never repeat the personal data they refuse (ids, names, phones, account numbers).

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use gateway_adapter::names::{composed, provider_memo, strip_diacritics};
use gateway_adapter::{
    AccountNumber, BankBin, Beneficiary, Channel, CitizenId, Destination, Invalid, Msisdn, WalletProvider,
};

use super::amount::{parse_amount, ChannelLimits};
use super::ids::{BatchId, IdempotencyKey, OrderId, PaymentType, Period, Program};
use super::json::{Fields, NoDuplicateKeys};
use super::PaymentOrder;
use crate::terminal::is_bidi_control;

/// The largest message body accepted: 64 KiB. A real order is well under 2 KiB.
pub const MAX_ORDER_BYTES: usize = 64 * 1024;

const MAX_NAME_CHARS: usize = 100;
const MAX_MEMO_CHARS: usize = 140;
/// No order of this gateway was made before 2000; an earlier `created_at` is a default time.
const EARLIEST_CREATED_YEAR: i32 = 2000;

pub(crate) const ORDER_FIELDS: &[&str] = &[
    "order_id",
    "idempotency_key",
    "batch_id",
    "program",
    "period",
    "payment_type",
    "beneficiary",
    "amount",
    "currency",
    "channel",
    "destination",
    "memo",
    "created_at",
];
pub(crate) const BENEFICIARY_FIELDS: &[&str] = &["id", "full_name", "commune_code"];
pub(crate) const BANK_FIELDS: &[&str] = &["bank_bin", "account_number", "account_name"];
pub(crate) const VNPOST_FIELDS: &[&str] = &["account_number"];
pub(crate) const WALLET_FIELDS: &[&str] = &["wallet_provider", "phone_number"];

/// Parses and validates one payment order (contract v1). The first problem found is returned;
/// fields are checked in contract order, unknown fields of an object before its values.
pub fn parse_order(body: &[u8], limits: &ChannelLimits) -> Result<PaymentOrder, Invalid> {
    if body.len() > MAX_ORDER_BYTES {
        return Err(Invalid::new(
            "order_too_large",
            format!("the order is larger than {MAX_ORDER_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        // serde_json's syntax errors name a position, never the input's content.
        Invalid::new("malformed_json", format!("the order is not valid JSON: {error}"))
    })?;
    serde_json::from_slice::<NoDuplicateKeys>(body)
        .map_err(|error| Invalid::new("duplicate_field", error.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(Invalid::new("not_an_object", "the order must be a JSON object"));
    };

    let top = Fields::new(map, "", ORDER_FIELDS, "the order")?;
    let order_id = OrderId::try_from(top.required_str("order_id")?)?;
    let idempotency_key = match top.optional_str("idempotency_key")? {
        Some(key) => IdempotencyKey::try_from(key)?,
        None => IdempotencyKey::from(&order_id),
    };
    let batch_id = BatchId::try_from(top.required_str("batch_id")?)?;
    let program = Program::parse(top.required_str("program")?)
        .ok_or_else(|| Invalid::new("unknown_program", "program must be meritorious or social_assistance"))?;
    let period = Period::try_from(top.required_str("period")?)?;
    let payment_type = PaymentType::parse(top.required_str("payment_type")?).ok_or_else(|| {
        Invalid::new(
            "unknown_payment_type",
            "payment_type must be monthly, arrears or one_off",
        )
    })?;
    let beneficiary = parse_beneficiary(&top)?;
    let amount = parse_amount(top.required("amount")?)?;
    if top.required_str("currency")? != "VND" {
        return Err(Invalid::new(
            "unsupported_currency",
            "currency must be VND (whole đồng)",
        ));
    }
    let channel = Channel::parse(top.required_str("channel")?).ok_or_else(|| {
        Invalid::new(
            "unknown_channel",
            "channel must be bank_transfer, vnpost_account or mobile_money",
        )
    })?;
    let destination = parse_destination(&top, channel)?;
    let memo = match top.optional_str("memo")? {
        Some(memo) if !memo.trim().is_empty() => Some(check_memo(&composed(memo))?),
        _ => None,
    }
    // A memo with nothing a provider can print (emoji, zero-width spaces) would reach the
    // beneficiary's statement as an empty line: the default memo says what the money is.
    .filter(|memo| !provider_memo(memo, MAX_MEMO_CHARS).is_empty())
    .unwrap_or_else(|| PaymentOrder::default_memo(program, period));
    let created_at = DateTime::parse_from_rfc3339(top.required_str("created_at")?).map_err(|_| {
        Invalid::new(
            "invalid_created_at",
            "created_at must be an RFC 3339 timestamp with a time zone, e.g. 2025-06-20T08:30:00+07:00",
        )
    })?;
    // A zero or default time (0001-01-01, 1970-01-01) is a missing date, not when the order
    // was made; left in, it would make every citizen id read as someone not born yet.
    if created_at.year() < EARLIEST_CREATED_YEAR {
        return Err(Invalid::new(
            "invalid_created_at",
            "created_at is before 2000: a zero or default time, not when the order was made",
        ));
    }
    // A century or year digit typed wrong reads as someone not born yet. The year is the one
    // upstream wrote (its own offset), not UTC's, which is still the year before for the first
    // hours of 1 January in Vietnam. (The year is not in the message: it is the beneficiary's
    // personal data, and the reason goes to logs.)
    if beneficiary.id.birth_year() > created_at.year() {
        return Err(Invalid::new(
            "invalid_citizen_id",
            "beneficiary.id encodes a year of birth after the order's created_at (its century/sex digit or its year digits are wrong)",
        ));
    }
    limits.check(channel, amount)?;
    // A bank transfer to a wallet's NAPAS BIN with the wallet's phone number is a wallet payout
    // by another road (it counts in that wallet's month too): a wallet's limit per order holds.
    if channel != Channel::MobileMoney && destination.wallet().is_some() {
        limits.check_into_wallet(amount)?;
    }

    Ok(PaymentOrder {
        order_id,
        idempotency_key,
        batch_id,
        program,
        period,
        payment_type,
        beneficiary,
        amount,
        destination,
        memo,
        created_at: created_at.with_timezone(&Utc),
    })
}

fn parse_beneficiary(top: &Fields<'_>) -> Result<Beneficiary, Invalid> {
    let fields = top.object("beneficiary", "beneficiary.", BENEFICIARY_FIELDS, "beneficiary")?;
    let id = CitizenId::try_from(fields.required_str("id")?).map_err(|e| fields.named("id", e))?;
    let full_name = check_name("beneficiary.full_name", &composed(fields.required_str("full_name")?))?;
    let commune_code = fields.required_str("commune_code")?;
    if commune_code.len() != 5 || !commune_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            "invalid_commune_code",
            "beneficiary.commune_code must be a 5-digit commune code",
        ));
    }
    Ok(Beneficiary {
        id,
        full_name,
        commune_code: commune_code.to_string(),
    })
}

fn parse_destination(top: &Fields<'_>, channel: Channel) -> Result<Destination, Invalid> {
    let allowed = match channel {
        Channel::BankTransfer => BANK_FIELDS,
        Channel::VnpostAccount => VNPOST_FIELDS,
        Channel::MobileMoney => WALLET_FIELDS,
    };
    let what = format!("a {channel} destination");
    let fields = top.object("destination", "destination.", allowed, &what)?;
    let account_number = |fields: &Fields<'_>| {
        AccountNumber::try_from(fields.required_str("account_number")?).map_err(|e| fields.named("account_number", e))
    };
    Ok(match channel {
        Channel::BankTransfer => {
            let bin = BankBin::try_from(fields.required_str("bank_bin")?).map_err(|e| fields.named("bank_bin", e))?;
            let account_number = account_number(&fields)?;
            let account_name = fields
                .optional_str("account_name")?
                .map(|name| check_name("destination.account_name", &composed(name)))
                .transpose()?;
            Destination::BankAccount {
                bin,
                account_number,
                account_name,
            }
        }
        Channel::VnpostAccount => Destination::VnpostAccount {
            account_number: account_number(&fields)?,
        },
        Channel::MobileMoney => {
            let provider = WalletProvider::parse(fields.required_str("wallet_provider")?).ok_or_else(|| {
                Invalid::new(
                    "unknown_wallet_provider",
                    "destination.wallet_provider must be viettel_money, vnpt_money or mobifone_money",
                )
            })?;
            let msisdn =
                Msisdn::try_from(fields.required_str("phone_number")?).map_err(|e| fields.named("phone_number", e))?;
            Destination::Wallet { provider, msisdn }
        }
    })
}

/// A person's name: 1–100 characters of Latin letters (Vietnamese diacritics included,
/// precomposed or as combining marks), spaces, `'` (`’` and `ʼ` read as it), `-` and `.`, with
/// at least one letter. A
/// letter that reads as no Latin letter once its diacritics are gone (another script, `ß`,
/// `Ø`) is refused here: name matching and the providers' ASCII names would drop it, and the
/// payment would fail `name_mismatch` later, or go out under a name cut short.
fn check_name(path: &str, name: &str) -> Result<String, Invalid> {
    // A word processor's apostrophe (’ U+2019) or the letter apostrophe (ʼ U+02BC), common in
    // ethnic-minority names (H’Hen Niê), is the apostrophe providers spell: one name, one spelling.
    let name = name.replace(['\u{2019}', '\u{02BC}'], "'");
    let name = name.as_str();
    let latin = |c: char| {
        let mut buffer = [0; 4];
        let stripped = strip_diacritics(c.encode_utf8(&mut buffer));
        !stripped.is_empty() && stripped.chars().all(|c| c.is_ascii_alphabetic())
    };
    // Combining diacritics, but not the grapheme joiner (U+034F): invisible, it keeps a
    // decomposed name from composing, so one name would be spelled two ways.
    let allowed = |c: char| {
        (c.is_alphabetic() && latin(c))
            || matches!(c, ' ' | '\'' | '-' | '.' | '\u{0300}'..='\u{034E}' | '\u{0350}'..='\u{036F}')
    };
    let count = name.chars().count();
    // At least one Latin letter: a combining mark Unicode counts as alphabetic (U+0345) on its
    // own is no name, and reaches the providers as an empty one.
    let has_letter = name.chars().any(|c| c.is_alphabetic() && latin(c));
    if !(1..=MAX_NAME_CHARS).contains(&count) || !name.chars().all(allowed) || !has_letter {
        return Err(Invalid::new(
            "invalid_name",
            format!(
                "{path} must be 1 to {MAX_NAME_CHARS} characters of Latin letters (with diacritics), spaces, apostrophes, hyphens and dots"
            ),
        ));
    }
    Ok(name.to_string())
}

/// A memo holding a bidirectional control displays in another order than it is stored (a month
/// or an amount can read differently on screen than in the data), in every tool that shows it.
fn check_memo(memo: &str) -> Result<String, Invalid> {
    if memo.chars().count() > MAX_MEMO_CHARS || memo.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Invalid::new(
            "invalid_memo",
            format!("memo must be at most {MAX_MEMO_CHARS} characters without control characters"),
        ));
    }
    Ok(memo.to_string())
}
