//! The batch manifest contract v1: a message on the orders queue with `"kind":
//! "batch_manifest"` that declares a payout list's order count and total (and, optionally,
//! each order's id and amount), parsed field by field with stable reason codes like orders.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use gateway_adapter::{Invalid, Vnd};

use crate::order::json::{Fields, NoDuplicateKeys};
use crate::order::{parse_amount, BatchId, OrderId, Period, Program};

/// The value of the top-level `kind` field that makes a message a manifest. Orders carry no
/// `kind` (an order with one is refused as `unknown_field`).
pub const MANIFEST_KIND: &str = "batch_manifest";

/// The largest manifest body: 1 MiB, room for [`MAX_MANIFEST_LINES`] lines of about 60 bytes
/// with whitespace to spare. A larger body is refused unread, whatever it is.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;

/// The most order lines one manifest may list; a larger payout list is split into batches.
pub const MAX_MANIFEST_LINES: usize = 10_000;

/// The largest `order_count` a manifest without lines may declare.
pub const MAX_ORDER_COUNT: u64 = 1_000_000;

pub(crate) const MANIFEST_FIELDS: &[&str] = &[
    "kind",
    "batch_id",
    "program",
    "period",
    "commune_code",
    "order_count",
    "total_amount",
    "deadline",
    "created_at",
    "orders",
];
pub(crate) const LINE_FIELDS: &[&str] = &["order_id", "amount"];

/// One declared order: its id and amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestLine {
    pub order_id: OrderId,
    pub amount: Vnd,
}

/// A manifest after validation: its lines (if any) add up to the declared count and total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchManifest {
    pub batch_id: BatchId,
    pub program: Program,
    pub period: Period,
    pub commune_code: String,
    pub order_count: u64,
    pub total_amount: Vnd,
    /// When the batch closes at the latest; without it, `batches.close_after_ms` after arrival.
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    /// The declared orders, in the manifest's order; `None` when it declares totals only.
    pub lines: Option<Vec<ManifestLine>>,
}

/// Whether a message body is a manifest, so that intake parses (and, if need be, rejects) it
/// as one: a JSON object whose top-level `kind` is `batch_manifest`. Cheap for orders: a body
/// without the word is not read. A body that is not valid JSON as a whole (a duplicated key,
/// bytes after the object, a syntax error) but shows `"kind": "batch_manifest"` is a manifest
/// too: it is answered on the manifest's contract (`batch.rejected` with `duplicate_field`,
/// `malformed_json`, …), not as an order.
pub fn is_manifest(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Peek {
        kind: Option<String>,
    }
    let needle = MANIFEST_KIND.as_bytes();
    if body.len() > MAX_MANIFEST_BYTES || !body.windows(needle.len()).any(|window| window == needle) {
        return false;
    }
    // Only an object: serde would also read `Peek` from an array (`["batch_manifest"]`).
    if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return false;
    }
    match serde_json::from_slice::<Peek>(body) {
        // Valid JSON: its top-level `kind` decides.
        Ok(Peek { kind }) => kind.as_deref() == Some(MANIFEST_KIND),
        // Not readable as a whole: what the bytes show decides.
        Err(_) => shows_manifest_kind(body),
    }
}

/// Whether `body` holds `"kind"`, a colon and `"batch_manifest"`, with whitespace between.
fn shows_manifest_kind(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"kind\"";
    let value = format!("\"{MANIFEST_KIND}\"");
    let mut rest = body;
    while let Some(at) = rest.windows(KEY.len()).position(|window| window == KEY) {
        rest = &rest[at + KEY.len()..];
        let after = rest.trim_ascii_start();
        if let Some(after_colon) = after.strip_prefix(b":") {
            if after_colon.trim_ascii_start().starts_with(value.as_bytes()) {
                return true;
            }
        }
    }
    false
}

/// Parses and validates one manifest. The first problem found is returned, with a stable code.
pub fn parse_manifest(body: &[u8]) -> Result<BatchManifest, Invalid> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(Invalid::new(
            "manifest_too_large",
            format!("the manifest is larger than {MAX_MANIFEST_BYTES} bytes; split the batch"),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| Invalid::new("malformed_json", format!("the manifest is not valid JSON: {error}")))?;
    serde_json::from_slice::<NoDuplicateKeys>(body)
        .map_err(|error| Invalid::new("duplicate_field", error.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(Invalid::new("not_an_object", "the manifest must be a JSON object"));
    };
    let top = Fields::new(map, "", MANIFEST_FIELDS, "a batch manifest")?;
    if top.required_str("kind")? != MANIFEST_KIND {
        return Err(Invalid::new(
            "unknown_message_kind",
            format!("kind must be {MANIFEST_KIND} (orders carry no kind)"),
        ));
    }
    let batch_id = BatchId::try_from(top.required_str("batch_id")?)?;
    let program = Program::parse(top.required_str("program")?)
        .ok_or_else(|| Invalid::new("unknown_program", "program must be meritorious or social_assistance"))?;
    let period = Period::try_from(top.required_str("period")?)?;
    let commune_code = top.required_str("commune_code")?;
    if commune_code.len() != 5 || !commune_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            "invalid_commune_code",
            "commune_code must be a 5-digit commune code",
        ));
    }
    let order_count = parse_order_count(top.required("order_count")?)?;
    let total_amount = parse_amount(top.required("total_amount")?).map_err(|e| top.named("total_amount", e))?;
    let deadline = optional_time(&top, "deadline", "invalid_deadline")?;
    let created_at = optional_time(&top, "created_at", "invalid_created_at")?;
    let lines = match map.get("orders") {
        None | Some(Value::Null) => None,
        Some(orders) => Some(parse_lines(orders, order_count, total_amount)?),
    };
    Ok(BatchManifest {
        batch_id,
        program,
        period,
        commune_code: commune_code.to_string(),
        order_count,
        total_amount,
        deadline,
        created_at,
        lines,
    })
}

fn parse_order_count(value: &Value) -> Result<u64, Invalid> {
    match value {
        Value::Number(number) => match number.as_u64() {
            Some(count) if (1..=MAX_ORDER_COUNT).contains(&count) => Ok(count),
            // An integer out of range, of either sign: `0`, `-1`, or one past what 64 bits hold
            // (which JSON reading gives as a whole float).
            Some(_) => Err(order_count_out_of_range()),
            None if number.as_i64().is_some() => Err(order_count_out_of_range()),
            None if number
                .as_f64()
                .is_some_and(|float| float.fract() == 0.0 && float.abs() >= 2f64.powi(63)) =>
            {
                Err(order_count_out_of_range())
            }
            None => Err(order_count_wrong_type()),
        },
        _ => Err(order_count_wrong_type()),
    }
}

fn order_count_out_of_range() -> Invalid {
    Invalid::new(
        "invalid_order_count",
        format!("order_count must be from 1 to {MAX_ORDER_COUNT}"),
    )
}

fn order_count_wrong_type() -> Invalid {
    Invalid::new("wrong_type", "order_count must be a JSON integer")
}

fn optional_time(top: &Fields<'_>, name: &str, code: &'static str) -> Result<Option<DateTime<Utc>>, Invalid> {
    top.optional_str(name)?
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|time| time.with_timezone(&Utc))
                .map_err(|_| {
                    Invalid::new(
                        code,
                        format!(
                            "{name} must be an RFC 3339 timestamp with a time zone, e.g. 2026-12-10T17:00:00+07:00"
                        ),
                    )
                })
        })
        .transpose()
}

/// The `orders` array: at most [`MAX_MANIFEST_LINES`] distinct order ids whose count and
/// amounts add up to the manifest's own `order_count` and `total_amount`.
fn parse_lines(orders: &Value, order_count: u64, total_amount: Vnd) -> Result<Vec<ManifestLine>, Invalid> {
    let items = orders
        .as_array()
        .ok_or_else(|| Invalid::new("wrong_type", "orders must be a JSON array"))?;
    if items.len() > MAX_MANIFEST_LINES {
        return Err(Invalid::new(
            "too_many_manifest_lines",
            format!("orders lists more than {MAX_MANIFEST_LINES} lines; split the batch"),
        ));
    }
    let mut seen = HashSet::with_capacity(items.len());
    let mut lines = Vec::with_capacity(items.len());
    let mut sum: u128 = 0;
    for item in items {
        let map = item
            .as_object()
            .ok_or_else(|| Invalid::new("wrong_type", "each line of orders must be a JSON object"))?;
        let fields = Fields::new(map, "orders[].", LINE_FIELDS, "a manifest line")?;
        let order_id = OrderId::try_from(fields.required_str("order_id")?).map_err(|e| fields.named("order_id", e))?;
        let amount = parse_amount(fields.required("amount")?).map_err(|e| fields.named("amount", e))?;
        if !seen.insert(order_id.as_str().to_string()) {
            return Err(Invalid::new(
                "duplicate_manifest_line",
                format!("orders lists order {} twice", order_id.as_str()),
            ));
        }
        sum += u128::from(amount.dong());
        lines.push(ManifestLine { order_id, amount });
    }
    if lines.len() as u64 != order_count {
        return Err(Invalid::new(
            "manifest_count_mismatch",
            format!("orders lists {} lines but order_count is {order_count}", lines.len()),
        ));
    }
    if sum != u128::from(total_amount.dong()) {
        return Err(Invalid::new(
            "manifest_total_mismatch",
            format!(
                "the amounts in orders add up to {sum} but total_amount is {}",
                total_amount.dong()
            ),
        ));
    }
    Ok(lines)
}

impl BatchManifest {
    /// Lowercase hex SHA-256 over what the manifest declares (lines sorted by order id,
    /// `created_at` left out): the same list sent again is a duplicate, not a conflict.
    pub fn fingerprint(&self) -> String {
        // Every value is from a closed alphabet without newlines or `=`, so the text is
        // unambiguous.
        let mut text = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.batch_id.as_str(),
            self.program.as_str(),
            self.period,
            self.commune_code,
            self.order_count,
            self.total_amount.dong(),
            self.deadline
                .map(|d| d.timestamp_millis().to_string())
                .unwrap_or_default(),
        );
        if let Some(lines) = &self.lines {
            let mut sorted: Vec<(&str, u64)> = lines
                .iter()
                .map(|line| (line.order_id.as_str(), line.amount.dong()))
                .collect();
            sorted.sort_unstable();
            for (order_id, amount) in sorted {
                text.push_str(&format!("{order_id}={amount}\n"));
            }
        }
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}
