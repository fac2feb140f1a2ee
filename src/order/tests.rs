//! Tests of the payment order contract v1: the valid fixtures parse, fingerprints ignore
//! spelling, and each refusal carries its exact reason code and no personal data.

use serde_json::{json, Value};

use gateway_adapter::{Channel, Destination, Invalid, WalletProvider};

use super::*;

const BANK: &str = include_str!("../../tests/fixtures/orders/valid_bank_transfer.json");
const VNPOST: &str = include_str!("../../tests/fixtures/orders/valid_vnpost_account.json");
const WALLET: &str = include_str!("../../tests/fixtures/orders/valid_mobile_money.json");

/// Personal data in the fixtures that no error message may repeat.
const PERSONAL: [&str; 6] = [
    "034056001234",
    "3400205123456",
    "Nguyễn",
    "034205009012",
    "986123456",
    "Phạm",
];

fn parse(body: &str) -> PaymentOrder {
    parse_order(body.as_bytes(), &ChannelLimits::default()).expect("a valid order")
}

fn fixture(body: &str) -> Value {
    serde_json::from_str(body).expect("fixture is JSON")
}

/// Parses `body` with the default limits and returns the refusal, after checking that its
/// code is listed in `REASON_CODES` and its message repeats no personal data.
fn refusal(body: &[u8]) -> Invalid {
    let error = parse_order(body, &ChannelLimits::default()).expect_err("a refusal");
    assert!(reason_meaning(error.code).is_some(), "{error}");
    assert!(!PERSONAL.iter().any(|p| error.message.contains(p)), "{error}");
    error
}

fn code_of(value: &Value) -> &'static str {
    refusal(value.to_string().as_bytes()).code
}

/// `body` with the value at JSON pointer `pointer` set (added if absent) to `value`.
fn with(body: &str, pointer: &str, value: Value) -> Value {
    let mut order = fixture(body);
    let (parent, field) = pointer.rsplit_once('/').expect("a JSON pointer");
    let parent = order.pointer_mut(parent).and_then(Value::as_object_mut);
    parent.expect("an object").insert(field.to_string(), value);
    order
}

/// Asserts that every value at `pointer` is refused with `code`.
fn assert_refused(body: &str, pointer: &str, values: &[Value], code: &str) {
    for value in values {
        let order = with(body, pointer, value.clone());
        assert_eq!(code_of(&order), code, "{value}");
    }
}

/// One test per refusal: `name: FIXTURE, "/json/pointer" = value => "code";` sets one
/// value in a valid fixture and expects exactly that code.
macro_rules! refuses {
    ($($name:ident: $body:ident, $pointer:literal = $value:expr => $code:literal;)*) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(code_of(&with($body, $pointer, json!($value))), $code);
            }
        )*
    };
}

#[test]
fn a_valid_bank_transfer_order_parses() {
    let order = parse(BANK);
    assert_eq!(order.order_id.as_str(), "TB-NCC-2025-07-000001");
    assert_eq!(order.program, Program::Meritorious);
    assert_eq!(order.period.to_string(), "2025-07");
    assert_eq!(order.payment_type, PaymentType::Monthly);
    assert_eq!(order.beneficiary.full_name, "Nguyễn Văn Thành");
    assert_eq!(order.amount.dong(), 2_789_000);
    assert_eq!(order.channel(), Channel::BankTransfer);
    match &order.destination {
        Destination::BankAccount {
            bin,
            account_number,
            account_name,
        } => {
            assert_eq!(bin.bank_name(), "Agribank");
            assert_eq!(account_number.as_str(), "3400205123456");
            assert_eq!(account_name.as_deref(), Some("NGUYEN VAN THANH"));
        }
        other => panic!("unexpected destination {other:?}"),
    }
    assert_eq!(order.created_at.to_rfc3339(), "2025-06-20T01:30:00+00:00");
}

#[test]
fn a_valid_vnpost_account_order_parses() {
    let order = parse(VNPOST);
    assert_eq!(order.program, Program::SocialAssistance);
    assert_eq!(order.amount.dong(), 500_000);
    assert_eq!(order.channel(), Channel::VnpostAccount);
    assert_eq!(order.beneficiary.full_name, "Trần Thị Đào");
}

#[test]
fn a_valid_mobile_money_order_parses_with_defaults_and_a_national_phone_number() {
    let order = parse(WALLET);
    assert_eq!(order.amount.dong(), 750_000);
    assert_eq!(order.payment_type, PaymentType::Arrears);
    assert_eq!(order.idempotency_key.as_str(), order.order_id.as_str());
    assert_eq!(order.memo, "Tro cap BTXH 07/2025");
    match &order.destination {
        Destination::Wallet { provider, msisdn } => {
            assert_eq!(*provider, WalletProvider::ViettelMoney);
            assert_eq!(msisdn.as_str(), "0986123456");
        }
        other => panic!("unexpected destination {other:?}"),
    }
}

#[test]
fn amount_as_string_and_as_integer_give_the_same_fingerprint() {
    let as_string = parse(BANK);
    let as_integer = parse(&with(BANK, "/amount", json!(2_789_000)).to_string());
    assert_eq!(as_string, as_integer);
    assert_eq!(as_string.fingerprint(), as_integer.fingerprint());
    assert_eq!(as_string.fingerprint().len(), 64);
    assert!(as_string
        .fingerprint()
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn phone_spelling_key_order_and_time_zone_do_not_change_the_fingerprint() {
    let original = parse(WALLET);
    let mut respelled = with(WALLET, "/destination/phone_number", json!("0986.123.456"));
    respelled["created_at"] = json!("2025-06-20T08:32:00+07:00");
    respelled["idempotency_key"] = json!("TB-BTXH-2025-07-000003");
    assert_eq!(original.fingerprint(), parse(&respelled.to_string()).fingerprint());
}

#[test]
fn an_order_sent_again_later_keeps_its_fingerprint() {
    let original = parse(BANK);
    let later = parse(&with(BANK, "/created_at", json!("2026-01-05T09:00:00+07:00")).to_string());
    assert_eq!(original.fingerprint(), later.fingerprint());
}

#[test]
fn a_different_amount_gives_a_different_fingerprint() {
    let original = parse(BANK);
    let changed = parse(&with(BANK, "/amount", json!("2789001")).to_string());
    assert_ne!(original.fingerprint(), changed.fingerprint());
}

#[test]
fn a_serde_round_trip_gives_an_equal_order() {
    for body in [BANK, VNPOST, WALLET] {
        let order = parse(body);
        let stored = serde_json::to_string(&order).expect("serialise");
        let reloaded: PaymentOrder = serde_json::from_str(&stored).expect("deserialise");
        assert_eq!(reloaded, order);
        assert_eq!(reloaded.fingerprint(), order.fingerprint());
    }
}

#[test]
fn debug_output_masks_personal_data() {
    for body in [BANK, VNPOST, WALLET] {
        let debug = format!("{:?}", parse(body));
        for personal in PERSONAL.iter().chain(&["NGUYEN VAN THANH", "Trần", "8800034012345"]) {
            assert!(!debug.contains(personal), "{personal} in {debug}");
        }
    }
}

#[test]
fn reason_codes_are_unique_snake_case_and_explained() {
    let mut codes: Vec<&str> = REASON_CODES.iter().map(|(code, _)| *code).collect();
    assert!(codes
        .iter()
        .all(|code| code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    assert!(REASON_CODES.iter().all(|(_, meaning)| !meaning.is_empty()));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), REASON_CODES.len());
}

refuses! {
    an_unknown_top_level_field_is_unknown_field:
        BANK, "/priority" = "high" => "unknown_field";
    an_unknown_beneficiary_field_is_unknown_field:
        BANK, "/beneficiary/dob" = "1956" => "unknown_field";
    bank_fields_on_a_mobile_money_order_are_unknown_field:
        WALLET, "/destination/bank_bin" = "970405" => "unknown_field";
    a_non_numeric_amount_string_is_invalid_amount:
        BANK, "/amount" = "abc" => "invalid_amount";
    an_amount_written_with_thousands_dots_is_invalid_amount:
        BANK, "/amount" = "2.789.000" => "invalid_amount";
    an_amount_of_500_million_by_bank_transfer_is_amount_over_limit:
        BANK, "/amount" = 500_000_000 => "amount_over_limit";
    an_amount_over_100_million_to_a_wallet_is_amount_over_limit:
        WALLET, "/amount" = "100000001" => "amount_over_limit";
    a_currency_of_usd_is_unsupported_currency:
        BANK, "/currency" = "USD" => "unsupported_currency";
    a_card_bin_970499_is_unknown_bank:
        BANK, "/destination/bank_bin" = "970499" => "unknown_bank";
    a_five_digit_bin_is_invalid_bank_bin:
        BANK, "/destination/bank_bin" = "97043" => "invalid_bank_bin";
    an_account_number_with_dashes_is_invalid_account_number:
        BANK, "/destination/account_number" = "0011-0044" => "invalid_account_number";
    a_landline_number_is_invalid_phone_number:
        WALLET, "/destination/phone_number" = "0241234567" => "invalid_phone_number";
    a_five_digit_citizen_id_is_invalid_citizen_id:
        BANK, "/beneficiary/id" = "12345" => "invalid_citizen_id";
    a_citizen_id_of_someone_born_after_the_order_is_invalid_citizen_id:
        BANK, "/beneficiary/id" = "034226001234" => "invalid_citizen_id";
    an_unknown_channel_is_unknown_channel:
        BANK, "/channel" = "cash" => "unknown_channel";
    an_unknown_program_is_unknown_program:
        BANK, "/program" = "pension" => "unknown_program";
    a_thirteenth_month_is_invalid_period:
        BANK, "/period" = "2026-13" => "invalid_period";
    an_unknown_payment_type_is_unknown_payment_type:
        BANK, "/payment_type" = "bonus" => "unknown_payment_type";
    an_unknown_wallet_provider_is_unknown_wallet_provider:
        WALLET, "/destination/wallet_provider" = "momo" => "unknown_wallet_provider";
    an_empty_order_id_is_invalid_order_id:
        BANK, "/order_id" = "" => "invalid_order_id";
    an_idempotency_key_over_64_characters_is_invalid_idempotency_key:
        BANK, "/idempotency_key" = "k".repeat(65) => "invalid_idempotency_key";
    a_batch_id_with_spaces_is_invalid_batch_id:
        BANK, "/batch_id" = "lô 7" => "invalid_batch_id";
    a_four_digit_commune_code_is_invalid_commune_code:
        BANK, "/beneficiary/commune_code" = "1243" => "invalid_commune_code";
    an_account_name_with_an_underscore_is_invalid_name:
        BANK, "/destination/account_name" = "NGUYEN_VAN" => "invalid_name";
    a_memo_of_141_characters_is_invalid_memo:
        BANK, "/memo" = "đ".repeat(141) => "invalid_memo";
    a_created_at_without_a_time_zone_is_invalid_created_at:
        BANK, "/created_at" = "2025-06-20T08:30:00" => "invalid_created_at";
}

#[test]
fn a_body_that_is_not_json_is_malformed_json() {
    assert_eq!(refusal(b"{\"order_id\": ").code, "malformed_json");
    assert_eq!(refusal(b"\xff\xfe").code, "malformed_json");
}

#[test]
fn json_that_is_not_an_object_is_not_an_object() {
    assert_eq!(code_of(&json!([1, 2])), "not_an_object");
    assert_eq!(code_of(&json!("order")), "not_an_object");
}

#[test]
fn a_field_given_twice_is_a_duplicate_field() {
    let body = BANK.replacen("\"amount\": ", "\"amount\": \"1\", \"amount\": ", 1);
    assert_eq!(refusal(body.as_bytes()).code, "duplicate_field");
}

#[test]
fn a_body_over_64_kib_is_order_too_large() {
    let padded = BANK.replacen('{', &format!("{{{}", " ".repeat(MAX_ORDER_BYTES)), 1);
    assert_eq!(refusal(padded.as_bytes()).code, "order_too_large");
}

#[test]
fn a_missing_required_field_is_missing_field() {
    let top = ["/order_id", "/batch_id", "/amount", "/currency", "/created_at"];
    for pointer in top.into_iter().chain(["/destination", "/beneficiary/full_name"]) {
        let mut order = fixture(BANK);
        let (parent, field) = pointer.rsplit_once('/').expect("a pointer");
        let parent = order.pointer_mut(parent).and_then(Value::as_object_mut);
        parent.expect("an object").remove(field);
        assert_eq!(code_of(&order), "missing_field", "{pointer}");
    }
}

#[test]
fn a_field_of_the_wrong_json_type_is_wrong_type() {
    assert_refused(BANK, "/order_id", &[json!(42)], "wrong_type");
    assert_refused(BANK, "/beneficiary", &[json!("x")], "wrong_type");
    assert_refused(BANK, "/memo", &[json!(["a"])], "wrong_type");
    let amounts = [json!(true), json!(null), json!([1]), json!({"value": 1})];
    assert_refused(BANK, "/amount", &amounts, "wrong_type");
}

#[test]
fn an_amount_with_a_fraction_or_a_float_is_amount_fractional() {
    let amounts = [json!("2789000.5"), json!("2789000.00"), json!(2789000.0), json!(1e6)];
    assert_refused(BANK, "/amount", &amounts, "amount_fractional");
}

#[test]
fn a_zero_or_negative_amount_is_amount_not_positive() {
    let amounts = [json!("0"), json!(0), json!("-2789000"), json!(-2789000)];
    assert_refused(BANK, "/amount", &amounts, "amount_not_positive");
}

#[test]
fn an_amount_that_overflows_is_amount_too_large() {
    let big = "99999999999999999999999";
    assert_refused(BANK, "/amount", &[json!(big)], "amount_too_large");
    // The same digits as a JSON integer, and one beyond even a 96-bit decimal.
    for literal in [big, "9999999999999999999999999999999999999999"] {
        let body = BANK.replace("\"2789000\"", literal);
        assert_eq!(refusal(body.as_bytes()).code, "amount_too_large", "{literal}");
    }
}

#[test]
fn amounts_up_to_the_configured_limit_pass_and_above_it_are_amount_over_limit() {
    let at_limit = with(BANK, "/amount", json!(499_999_999)).to_string();
    assert!(parse_order(at_limit.as_bytes(), &ChannelLimits::default()).is_ok());
    let strict = ChannelLimits {
        mobile_money_max: 500_000,
        ..ChannelLimits::default()
    };
    let error = parse_order(WALLET.as_bytes(), &strict).expect_err("over the configured limit");
    assert_eq!(error.code, "amount_over_limit");
}

/// A bank transfer to a wallet's BIN whose account is the wallet's phone number is a wallet
/// payout by another road: the wallets' limit per order holds for it (it held only the banks'
/// before, so with `mobile_money_max` below `bank_transfer_max` a large payout went to the
/// wallet by the bank road). To a wallet BIN with an account that is no phone number, or to a
/// bank, the banks' limit alone.
#[test]
fn a_bank_transfer_into_a_wallet_holds_the_wallets_limit_per_order() {
    let limits = ChannelLimits {
        mobile_money_max: 1_000_000,
        ..ChannelLimits::default()
    };
    let into_wallet = |bin: &str, account: &str, amount: u64| {
        let order = with(BANK, "/destination/bank_bin", json!(bin));
        let order = with(&order.to_string(), "/destination/account_number", json!(account));
        with(&order.to_string(), "/amount", json!(amount)).to_string()
    };
    let error = parse_order(into_wallet("971005", "0981234567", 1_000_001).as_bytes(), &limits)
        .expect_err("over the wallets' limit");
    assert_eq!(error.code, "amount_over_limit");
    assert!(
        error.message.contains("bank transfer into a wallet"),
        "{}",
        error.message
    );
    assert!(parse_order(into_wallet("971005", "0981234567", 1_000_000).as_bytes(), &limits).is_ok());
    assert!(parse_order(into_wallet("971011", "0981234567", 1_000_001).as_bytes(), &limits).is_err());
    // A wallet BIN's account that is no phone number, and a bank: the banks' limit.
    assert!(parse_order(into_wallet("971005", "123456789012", 1_000_001).as_bytes(), &limits).is_ok());
    assert!(parse_order(into_wallet("970436", "0981234567", 1_000_001).as_bytes(), &limits).is_ok());
}

/// Born in the year the order was made is plausible (a newborn's allowance); a year after it
/// is a digit typed wrong, refused without repeating the id or the year.
#[test]
fn a_citizen_id_is_checked_against_the_orders_date_without_showing_the_year() {
    let born_that_year = with(BANK, "/beneficiary/id", json!("034225001234"));
    assert!(parse_order(born_that_year.to_string().as_bytes(), &ChannelLimits::default()).is_ok());
    let error = refusal(
        with(BANK, "/beneficiary/id", json!("034399001234"))
            .to_string()
            .as_bytes(),
    );
    assert_eq!(error.code, "invalid_citizen_id");
    assert!(
        !error.message.contains("2099") && !error.message.contains("99"),
        "{error}"
    );
}

#[test]
fn a_nine_digit_cmnd_number_is_invalid_citizen_id() {
    let order = with(BANK, "/beneficiary/id", json!("151234567"));
    let error = refusal(order.to_string().as_bytes());
    assert_eq!(error.code, "invalid_citizen_id");
    assert!(error.message.contains("CMND"), "{error}");
}

#[test]
fn malformed_periods_are_invalid_period() {
    let periods = ["2026-00", "2026-1", "1999-12", "2100-01", "2026/07", "202607"];
    assert_refused(BANK, "/period", &periods.map(Value::from), "invalid_period");
}

/// A zero or default time is a missing date: refused as `invalid_created_at`, not blamed on
/// the citizen id whose year of birth it would make look later.
#[test]
fn a_default_created_at_is_invalid_created_at_not_invalid_citizen_id() {
    let values = [
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "1999-12-31T23:59:59+07:00",
    ]
    .map(Value::from);
    assert_refused(BANK, "/created_at", &values, "invalid_created_at");
    let first_of_2000 = with(BANK, "/created_at", json!("2000-01-01T00:00:00+07:00"));
    let born_1960 = with(&first_of_2000.to_string(), "/beneficiary/id", json!("034160001234"));
    assert!(parse_order(born_1960.to_string().as_bytes(), &ChannelLimits::default()).is_ok());
}

/// The year of `created_at` is the one upstream wrote: 03:00 on 1 January 2026 in Vietnam is
/// still 2025 in UTC, and someone born in 2026 may have an allowance made that morning.
#[test]
fn the_year_of_created_at_is_read_in_its_own_offset() {
    let new_year_morning = with(BANK, "/created_at", json!("2026-01-01T03:00:00+07:00"));
    let born_2026 = with(&new_year_morning.to_string(), "/beneficiary/id", json!("034226001234"));
    let order = parse_order(born_2026.to_string().as_bytes(), &ChannelLimits::default()).expect("a newborn's order");
    assert_eq!(
        order.created_at.to_rfc3339(),
        "2025-12-31T20:00:00+00:00",
        "kept in UTC"
    );
}

#[test]
fn created_at_that_is_not_rfc_3339_is_invalid_created_at() {
    let values = ["2025-06-20 08:30", "2025-06-20", "yesterday"].map(Value::from);
    assert_refused(BANK, "/created_at", &values, "invalid_created_at");
}

#[test]
fn a_name_without_letters_or_with_digits_is_invalid_name() {
    let names = [
        "",
        "  ",
        "Nguyen Van 2",
        "Lê<script>",
        "\u{0345}",
        " \u{0301}",
        "Nguy\u{034F}ễn",
    ]
    .map(Value::from);
    assert_refused(BANK, "/beneficiary/full_name", &names, "invalid_name");
}

#[test]
fn a_name_with_letters_no_provider_can_spell_is_invalid_name_and_vietnamese_ones_are_accepted() {
    // Another script, and Latin letters that lose themselves without diacritics.
    let names = ["Nguyễn Văn 李", "Иван Петров", "Strauß", "Søren"].map(Value::from);
    assert_refused(BANK, "/beneficiary/full_name", &names, "invalid_name");
    assert_refused(BANK, "/destination/account_name", &[json!("NGUYEN 文")], "invalid_name");
    for name in ["Ðặng Thị Ánh", "H'Hen Niê", "Ksor Y-Blang", "Zoë Đỗ"] {
        let order = parse(&with(BANK, "/beneficiary/full_name", json!(name)).to_string());
        assert_eq!(order.beneficiary.full_name, name);
    }
}

#[test]
fn decomposed_diacritics_apostrophes_and_a_140_character_memo_are_accepted() {
    let name = with(BANK, "/beneficiary/full_name", json!("H'Hen Nie\u{0302}"));
    let memo = with(BANK, "/memo", json!("đ".repeat(140)));
    for order in [name, memo] {
        assert!(parse_order(order.to_string().as_bytes(), &ChannelLimits::default()).is_ok());
    }
}

#[test]
fn an_unknown_field_message_names_the_field_but_never_a_value_used_as_a_key() {
    let order = with(WALLET, "/destination/bank_bin", json!("970405"));
    let error = refusal(order.to_string().as_bytes());
    assert!(error.message.contains("destination.bank_bin"), "{error}");
    let odd = with(BANK, "/034056001234", json!(1));
    assert_eq!(code_of(&odd), "unknown_field");
}

#[test]
fn a_name_or_memo_spelt_with_combining_marks_is_the_same_order_as_its_composed_spelling() {
    let composed = with(BANK, "/beneficiary/full_name", json!("Nguyễn Văn Đức"));
    let mut decomposed = with(
        BANK,
        "/beneficiary/full_name",
        json!("Nguye\u{302}\u{303}n Va\u{306}n Đu\u{31B}\u{301}c"),
    );
    decomposed["memo"] = json!("Tro\u{31B}\u{323} ca\u{302}\u{301}p");
    let mut composed = composed;
    composed["memo"] = json!("Trợ cấp");
    let (composed, decomposed) = (parse(&composed.to_string()), parse(&decomposed.to_string()));
    assert_eq!(decomposed.beneficiary.full_name, "Nguyễn Văn Đức");
    assert_eq!(decomposed.memo, "Trợ cấp");
    assert_eq!(
        composed.fingerprint(),
        decomposed.fingerprint(),
        "a re-sent order is a duplicate, not a conflict"
    );
    // A curly or letter apostrophe is the plain one: H’Hen Niê and H'Hen Niê are one order.
    let straight = parse(&with(BANK, "/beneficiary/full_name", json!("H'Hen Niê")).to_string());
    for apostrophe in ['\u{2019}', '\u{02BC}'] {
        let name = format!("H{apostrophe}Hen Niê");
        let curly = parse(&with(BANK, "/beneficiary/full_name", json!(name)).to_string());
        assert_eq!(curly.beneficiary.full_name, "H'Hen Niê");
        assert_eq!(curly.fingerprint(), straight.fingerprint(), "{name}");
    }
    // Lengths count what a person reads: 140 "ữ" spelt with combining marks are 420 code points.
    let long = with(BANK, "/memo", json!("u\u{31B}\u{303}".repeat(140)));
    assert_eq!(parse(&long.to_string()).memo.chars().count(), 140);
}

#[test]
fn a_memo_a_provider_cannot_print_becomes_the_default_and_bidi_controls_are_refused() {
    for unprintable in ["🙏", "\u{200B}", "🙏 \u{200B} 🌾"] {
        let order = parse(&with(WALLET, "/memo", json!(unprintable)).to_string());
        assert_eq!(order.memo, "Tro cap BTXH 07/2025", "{unprintable:?}");
    }
    assert_eq!(
        parse(&with(WALLET, "/memo", json!("Tết 🌸")).to_string()).memo,
        "Tết 🌸"
    );
    for spoof in ["Tro cap \u{202E}2026/09", "a\u{2066}b\u{2069}"] {
        let error = refusal(with(WALLET, "/memo", json!(spoof)).to_string().as_bytes());
        assert_eq!(error.code, "invalid_memo", "{spoof:?}");
    }
}
