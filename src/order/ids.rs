//! Identifiers and small enumerations of the payment order contract: order, idempotency and
//! batch ids, the pay period, the welfare program and the payment type.

use std::fmt;

use serde::{Deserialize, Serialize};

use gateway_adapter::Invalid;

/// The longest id the contract accepts; ids travel as AMQP `message_id` and provider keys.
pub const MAX_ID_LEN: usize = 64;

/// True for 1–64 characters of `[A-Za-z0-9._:-]`.
fn is_valid_id(value: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Defines an id newtype validated on construction and on deserialisation.
macro_rules! order_id_type {
    ($(#[$meta:meta])* $name:ident, $field:literal, $code:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The reason code for a value this type refuses.
            pub const CODE: &'static str = $code;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Invalid;
            fn try_from(value: &str) -> Result<Self, Invalid> {
                if is_valid_id(value) {
                    Ok(Self(value.to_string()))
                } else {
                    Err(Invalid::new(
                        $code,
                        concat!($field, " must be 1 to 64 characters of letters, digits and . _ : -"),
                    ))
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                $name::try_from(raw.as_str()).map_err(serde::de::Error::custom)
            }
        }
    };
}

order_id_type!(
    /// Upstream's unique id of the order (also the AMQP `message_id`).
    OrderId,
    "order_id",
    "invalid_order_id"
);

order_id_type!(
    /// The key the gateway deduplicates on; defaults to the order id.
    IdempotencyKey,
    "idempotency_key",
    "invalid_idempotency_key"
);

order_id_type!(
    /// Upstream's id of the payout list the order belongs to.
    BatchId,
    "batch_id",
    "invalid_batch_id"
);

impl From<&OrderId> for IdempotencyKey {
    /// The default key: the order id (both share one syntax).
    fn from(value: &OrderId) -> Self {
        Self(value.0.clone())
    }
}

/// The month an allowance is for, `YYYY-MM` with a year in 2000–2099.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Period {
    year: u16,
    month: u8,
}

impl Period {
    pub fn new(year: u16, month: u8) -> Option<Self> {
        ((2000..=2099).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    /// The contract form, `YYYY-MM`.
    pub fn as_str(self) -> String {
        self.to_string()
    }
}

impl TryFrom<&str> for Period {
    type Error = Invalid;
    fn try_from(value: &str) -> Result<Self, Invalid> {
        let refuse = || {
            Invalid::new(
                "invalid_period",
                "period must be a month written YYYY-MM, with a year from 2000 to 2099 and a month from 01 to 12",
            )
        };
        let bytes = value.as_bytes();
        let shaped = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[5..].iter().all(u8::is_ascii_digit);
        if !shaped {
            return Err(refuse());
        }
        let year: u16 = value[..4].parse().map_err(|_| refuse())?;
        let month: u8 = value[5..].parse().map_err(|_| refuse())?;
        Period::new(year, month).ok_or_else(refuse)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl From<Period> for String {
    fn from(value: Period) -> Self {
        value.to_string()
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Period::try_from(raw.as_str()).map_err(serde::de::Error::custom)
    }
}

/// The welfare program that pays the allowance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// Allowances for people with meritorious services to the revolution (người có công).
    Meritorious,
    /// Social assistance allowances (bảo trợ xã hội).
    SocialAssistance,
}

impl Program {
    pub const ALL: [Program; 2] = [Program::Meritorious, Program::SocialAssistance];

    pub fn as_str(self) -> &'static str {
        match self {
            Program::Meritorious => "meritorious",
            Program::SocialAssistance => "social_assistance",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|program| program.as_str() == value)
    }

    /// The usual Vietnamese abbreviation, ASCII, for default memos: `NCC` (người có công),
    /// `BTXH` (bảo trợ xã hội).
    pub fn memo_label(self) -> &'static str {
        match self {
            Program::Meritorious => "NCC",
            Program::SocialAssistance => "BTXH",
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the payment is: the regular monthly allowance, back pay, or a one-off grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentType {
    Monthly,
    Arrears,
    OneOff,
}

impl PaymentType {
    pub const ALL: [PaymentType; 3] = [PaymentType::Monthly, PaymentType::Arrears, PaymentType::OneOff];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentType::Monthly => "monthly",
            PaymentType::Arrears => "arrears",
            PaymentType::OneOff => "one_off",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

impl fmt::Display for PaymentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
