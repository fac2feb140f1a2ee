//! `Vnd`: an amount of whole Vietnamese đồng. VND has no minor unit, so there are no fractions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A positive amount of whole đồng. Held as an integer so no float ever touches money;
/// bounded by `i64::MAX` so it always fits a database `BIGINT`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Vnd(u64);

impl Vnd {
    /// The largest amount any channel could carry; anything above is an overflow.
    pub const MAX: u64 = i64::MAX as u64;

    /// Builds an amount, refusing zero and anything that would not fit a `BIGINT`.
    pub fn new(dong: u64) -> Option<Self> {
        (dong > 0 && dong <= Self::MAX).then_some(Self(dong))
    }

    /// The amount in đồng.
    pub fn dong(self) -> u64 {
        self.0
    }

    /// The amount in đồng as a signed integer, for storage.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }
}

impl Vnd {
    /// The amount a provider wrote in a JSON field: a positive whole number of đồng, as a JSON
    /// integer or a string of ASCII digits. Zero, negatives, fractions, other text, `null` and
    /// anything that overflows are `None`, so a caller can tell "no usable amount" apart from
    /// an amount and treat it as a contradiction, never as a skipped check.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Number(number) => number.as_u64().and_then(Vnd::new),
            serde_json::Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse::<u64>().ok().and_then(Vnd::new)
            }
            _ => None,
        }
    }

    /// `#[serde(default, deserialize_with = "Vnd::deserialize_lenient")]` for a provider's
    /// amount field: any JSON value parses, into [`Vnd::from_json`]'s answer, so a bad amount
    /// never makes the whole body unreadable and is reported as `None` instead.
    pub fn deserialize_lenient<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Self>, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Vnd::from_json(&value))
    }
}

impl TryFrom<u64> for Vnd {
    type Error = String;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Vnd::new(value).ok_or_else(|| format!("{value} is not a positive amount of đồng"))
    }
}

impl From<Vnd> for u64 {
    fn from(value: Vnd) -> Self {
        value.0
    }
}

impl fmt::Debug for Vnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vnd({})", self.0)
    }
}

/// Vietnamese display form: dots between thousands and the đồng sign, e.g. `2.789.000 ₫`.
impl fmt::Display for Vnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_dong(self.0))
            // The sign is part of the display form.
            .and_then(|_| f.write_str(" ₫"))
    }
}

/// Groups the digits of `dong` in threes with dots: `2789000` → `2.789.000`.
pub fn format_dong(dong: u64) -> String {
    let digits = dong.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push('.');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_with_dots_and_dong_sign() {
        assert_eq!(
            Vnd::new(2_789_000).map(|v| v.to_string()).as_deref(),
            Some("2.789.000 ₫")
        );
        assert_eq!(format_dong(500), "500");
        assert_eq!(format_dong(1_000), "1.000");
        assert_eq!(format_dong(123_456_789), "123.456.789");
    }

    #[test]
    fn only_positive_whole_amounts_come_out_of_a_providers_json() {
        use serde_json::json;
        assert_eq!(Vnd::from_json(&json!(500_000)), Vnd::new(500_000));
        assert_eq!(Vnd::from_json(&json!("500000")), Vnd::new(500_000));
        for bad in [
            json!(0),
            json!(-500_000),
            json!(500_000.5),
            json!(500_000.0),
            json!("0"),
            json!("-5"),
            json!("+5"),
            json!("5.0"),
            json!(""),
            json!("99999999999999999999"),
            json!(u64::MAX),
            json!(null),
            json!([500_000]),
        ] {
            assert_eq!(Vnd::from_json(&bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_zero_and_overflow() {
        assert!(Vnd::new(0).is_none());
        assert!(Vnd::new(Vnd::MAX + 1).is_none());
        assert!(Vnd::new(1).is_some());
    }
}
