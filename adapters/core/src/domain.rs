//! Domain newtypes parsed once at the edge: ids, bank BINs, account numbers, phone numbers,
//! channels and destinations. Personal data prints masked in `Debug`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mask::{mask_name, mask_tail};

/// Why a value was refused: a stable machine code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Stable reason code, e.g. `invalid_phone_number`; upstream systems match on it.
    pub code: &'static str,
    /// A sentence that says what is wrong, without personal data.
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Invalid {}

/// The payout channel of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    BankTransfer,
    VnpostAccount,
    MobileMoney,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::BankTransfer, Channel::VnpostAccount, Channel::MobileMoney];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::BankTransfer => "bank_transfer",
            Channel::VnpostAccount => "vnpost_account",
            Channel::MobileMoney => "mobile_money",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|channel| channel.as_str() == value)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three mobile-money providers that may pay welfare allowances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletProvider {
    ViettelMoney,
    VnptMoney,
    MobifoneMoney,
}

impl WalletProvider {
    pub const ALL: [WalletProvider; 3] = [
        WalletProvider::ViettelMoney,
        WalletProvider::VnptMoney,
        WalletProvider::MobifoneMoney,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WalletProvider::ViettelMoney => "viettel_money",
            WalletProvider::VnptMoney => "vnpt_money",
            WalletProvider::MobifoneMoney => "mobifone_money",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|provider| provider.as_str() == value)
    }
}

/// The gateway's deterministic id for a payment, derived from the idempotency key; it is also
/// the idempotency key sent to the provider, so every retry carries the same one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(String);

impl PaymentId {
    /// Wraps an id that came from the gateway's own store.
    pub fn from_stored(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Defines a string newtype whose `Debug` masks the value and whose `as_str` exposes it.
macro_rules! masked_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The raw value, for the wire and the store; never for logs.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value with all but the last three characters masked, for logs.
            pub fn masked(&self) -> String {
                mask_tail(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.masked())
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

masked_string!(
    /// A 12-digit citizen id (CCCD): province of registration, century and sex, birth year,
    /// six random digits. Old 9-digit CMND numbers stopped being valid on 1 January 2025.
    CitizenId
);

impl TryFrom<&str> for CitizenId {
    type Error = Invalid;
    fn try_from(value: &str) -> Result<Self, Invalid> {
        let code = "invalid_citizen_id";
        if value.len() == 9 && value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(
                code,
                "beneficiary.id is a 9-digit CMND number, which is no longer valid since 1 January 2025; send the 12-digit citizen id",
            ));
        }
        if value.len() != 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(code, "beneficiary.id must be a 12-digit citizen id"));
        }
        let province: u32 = value[0..3].parse().unwrap_or(0);
        if !(1..=96).contains(&province) {
            return Err(Invalid::new(
                code,
                "beneficiary.id does not start with a province code (001-096)",
            ));
        }
        if !matches!(value.as_bytes()[3], b'0'..=b'3') {
            return Err(Invalid::new(
                code,
                "beneficiary.id has a century/sex digit other than 0-3 (born 1900-2099)",
            ));
        }
        Ok(Self(value.to_string()))
    }
}

impl CitizenId {
    /// The year of birth it encodes: the century from its fourth digit (0–1: 1900s, 2–3: 2000s)
    /// and the year from the two after it.
    pub fn birth_year(&self) -> i32 {
        let digit = |at: usize| {
            self.0
                .as_bytes()
                .get(at)
                .map_or(0, |byte| i32::from(byte.wrapping_sub(b'0')))
        };
        let century = if digit(3) >= 2 { 2000 } else { 1900 };
        century + digit(4) * 10 + digit(5)
    }
}

masked_string!(
    /// A bank or VNPost account number: an opaque string of 6 to 19 digits or capital letters
    /// (virtual accounts can be alphanumeric); leading zeros are kept.
    AccountNumber
);

impl TryFrom<&str> for AccountNumber {
    type Error = Invalid;
    fn try_from(value: &str) -> Result<Self, Invalid> {
        let valid_chars = value.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if !(6..=19).contains(&value.len()) || !valid_chars {
            return Err(Invalid::new(
                "invalid_account_number",
                "the account number must be 6 to 19 digits or capital letters",
            ));
        }
        Ok(Self(value.to_string()))
    }
}

masked_string!(
    /// A Vietnamese mobile number in national form, `0` + 9 digits, of a mobile prefix.
    Msisdn
);

impl TryFrom<&str> for Msisdn {
    type Error = Invalid;
    /// Accepts spaces, dots and dashes, and `+84`/`84` for the leading `0`.
    fn try_from(value: &str) -> Result<Self, Invalid> {
        let compact: String = value.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
        let national = if let Some(rest) = compact.strip_prefix("+84") {
            format!("0{rest}")
        } else if let Some(rest) = compact.strip_prefix("84").filter(|rest| rest.len() == 9) {
            format!("0{rest}")
        } else {
            compact
        };
        let bytes = national.as_bytes();
        let valid = bytes.len() == 10
            && bytes[0] == b'0'
            && matches!(bytes[1], b'3' | b'5' | b'7' | b'8' | b'9')
            && bytes.iter().all(u8::is_ascii_digit);
        if !valid {
            return Err(Invalid::new(
                "invalid_phone_number",
                "the phone number must be a Vietnamese mobile number: 0 (or +84) followed by 9 digits starting 3, 5, 7, 8 or 9",
            ));
        }
        Ok(Self(national))
    }
}

/// A NAPAS bank identification number (6 digits), the canonical key of a bank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct BankBin(&'static str);

/// NAPAS transfer BINs with their VietQR codes and names (the domain notes' checked table).
pub const BANKS: &[(&str, &str, &str)] = &[
    ("970436", "VCB", "Vietcombank"),
    ("970415", "ICB", "VietinBank"),
    ("970418", "BIDV", "BIDV"),
    ("970405", "VBA", "Agribank"),
    ("970449", "LPB", "LPBank"),
    ("970422", "MB", "MB"),
    ("970407", "TCB", "Techcombank"),
    ("970416", "ACB", "ACB"),
    ("970432", "VPB", "VPBank"),
    ("970403", "STB", "Sacombank"),
    ("970443", "SHB", "SHB"),
    ("970423", "TPB", "TPBank"),
    ("970437", "HDB", "HDBank"),
    ("970441", "VIB", "VIB"),
    ("970426", "MSB", "MSB"),
    ("970440", "SEAB", "SeABank"),
    ("970431", "EIB", "Eximbank"),
    ("970409", "BAB", "Bac A Bank"),
    ("970446", "COOPBANK", "Co-opBank"),
    ("971005", "VTLMONEY", "Viettel Money"),
    ("971011", "VNPTMONEY", "VNPT Money"),
];

impl BankBin {
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The bank's short name, e.g. `Vietcombank`.
    pub fn bank_name(self) -> &'static str {
        BANKS
            .iter()
            .find(|(bin, _, _)| *bin == self.0)
            .map(|(_, _, name)| *name)
            .unwrap_or("")
    }
}

impl From<BankBin> for String {
    fn from(value: BankBin) -> Self {
        value.0.to_string()
    }
}

impl TryFrom<&str> for BankBin {
    type Error = Invalid;
    fn try_from(value: &str) -> Result<Self, Invalid> {
        if value.len() != 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(
                "invalid_bank_bin",
                "destination.bank_bin must be a 6-digit NAPAS BIN",
            ));
        }
        BANKS
            .iter()
            .find(|(bin, _, _)| *bin == value)
            .map(|(bin, _, _)| BankBin(bin))
            .ok_or_else(|| {
                Invalid::new(
                    "unknown_bank",
                    format!("bank BIN {value} is not a known NAPAS transfer BIN"),
                )
            })
    }
}

impl<'de> Deserialize<'de> for BankBin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        BankBin::try_from(raw.as_str()).map_err(serde::de::Error::custom)
    }
}

/// Who is paid: identity travels with the payout because the Post Office pays against it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beneficiary {
    pub id: CitizenId,
    /// The full name as the upstream list has it, with diacritics.
    pub full_name: String,
    pub commune_code: String,
}

impl fmt::Debug for Beneficiary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Beneficiary")
            .field("id", &self.id)
            .field("full_name", &mask_name(&self.full_name))
            .field("commune_code", &self.commune_code)
            .finish()
    }
}

/// Where the money goes, one shape per channel. `Debug` masks the holder's name (the
/// account number and phone number mask themselves).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    BankAccount {
        bin: BankBin,
        account_number: AccountNumber,
        /// The holder's name if upstream knows it; name inquiry is compared to the beneficiary's name.
        account_name: Option<String>,
    },
    VnpostAccount {
        account_number: AccountNumber,
    },
    Wallet {
        provider: WalletProvider,
        msisdn: Msisdn,
    },
}

impl Destination {
    /// The wallet this destination credits: a wallet's own, or a bank transfer to a wallet's
    /// NAPAS BIN (Viettel Money 971005, VNPT Money 971011) whose account number is the wallet's
    /// phone number — the same wallet and the same monthly cap, by another road. `None` for a
    /// bank or VNPost account, and for a wallet BIN's account that is no phone number.
    pub fn wallet(&self) -> Option<(WalletProvider, Msisdn)> {
        match self {
            Destination::Wallet { provider, msisdn } => Some((*provider, msisdn.clone())),
            Destination::BankAccount {
                bin, account_number, ..
            } => {
                let provider = match bin.as_str() {
                    "971005" => WalletProvider::ViettelMoney,
                    "971011" => WalletProvider::VnptMoney,
                    _ => return None,
                };
                Msisdn::try_from(account_number.as_str())
                    .ok()
                    .map(|msisdn| (provider, msisdn))
            }
            Destination::VnpostAccount { .. } => None,
        }
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::BankAccount {
                bin,
                account_number,
                account_name,
            } => f
                .debug_struct("BankAccount")
                .field("bin", bin)
                .field("account_number", account_number)
                .field("account_name", &account_name.as_deref().map(mask_name))
                .finish(),
            Destination::VnpostAccount { account_number } => f
                .debug_struct("VnpostAccount")
                .field("account_number", account_number)
                .finish(),
            Destination::Wallet { provider, msisdn } => f
                .debug_struct("Wallet")
                .field("provider", provider)
                .field("msisdn", msisdn)
                .finish(),
        }
    }
}

impl Destination {
    pub fn channel(&self) -> Channel {
        match self {
            Destination::BankAccount { .. } => Channel::BankTransfer,
            Destination::VnpostAccount { .. } => Channel::VnpostAccount,
            Destination::Wallet { .. } => Channel::MobileMoney,
        }
    }

    /// The key of the provider that pays this destination: the channel name, or the wallet
    /// provider's name for mobile money (three providers share one channel).
    pub fn provider_key(&self) -> &'static str {
        match self {
            Destination::Wallet { provider, .. } => provider.as_str(),
            other => other.channel().as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bank_transfer_to_a_wallets_bin_and_its_phone_number_credits_that_wallet() {
        let bank = |bin: &str, account: &str| Destination::BankAccount {
            bin: BankBin::try_from(bin).expect("a known BIN"),
            account_number: AccountNumber::try_from(account).expect("an account number"),
            account_name: None,
        };
        let phone = Msisdn::try_from("0961234567").expect("a phone number");
        assert_eq!(
            bank("971005", "0961234567").wallet(),
            Some((WalletProvider::ViettelMoney, phone.clone()))
        );
        assert_eq!(
            bank("971011", "0961234567").wallet(),
            Some((WalletProvider::VnptMoney, phone.clone()))
        );
        assert_eq!(bank("971005", "1234567890123").wallet(), None, "no phone number");
        assert_eq!(bank("970436", "0961234567").wallet(), None, "a bank");
        let wallet = Destination::Wallet {
            provider: WalletProvider::MobifoneMoney,
            msisdn: phone.clone(),
        };
        assert_eq!(wallet.wallet(), Some((WalletProvider::MobifoneMoney, phone)));
    }

    #[test]
    fn phone_numbers_accept_common_forms() {
        for raw in [
            "0912345678",
            "+84912345678",
            "84912345678",
            "091 234 5678",
            "091.234.5678",
            "091-234-5678",
        ] {
            assert_eq!(
                Msisdn::try_from(raw).map(|m| m.as_str().to_string()),
                Ok("0912345678".into()),
                "{raw}"
            );
        }
    }

    #[test]
    fn phone_numbers_refuse_landlines_and_bad_lengths() {
        for raw in ["0241234567", "091234567", "09123456789", "abc", "", "+8491234567"] {
            assert_eq!(
                Msisdn::try_from(raw).map_err(|e| e.code),
                Err("invalid_phone_number"),
                "{raw}"
            );
        }
    }

    #[test]
    fn citizen_ids_are_twelve_digits_with_a_province_and_century() {
        assert!(CitizenId::try_from("034087001234").is_ok());
        assert!(CitizenId::try_from("034187001234").is_ok());
        assert_eq!(
            CitizenId::try_from("034587001234").map_err(|e| e.code),
            Err("invalid_citizen_id")
        );
        assert_eq!(
            CitizenId::try_from("000087001234").map_err(|e| e.code),
            Err("invalid_citizen_id")
        );
        assert_eq!(
            CitizenId::try_from("151234567").map_err(|e| e.code),
            Err("invalid_citizen_id")
        );
        assert_eq!(
            CitizenId::try_from("03408700123A").map_err(|e| e.code),
            Err("invalid_citizen_id")
        );
    }

    #[test]
    fn a_citizen_id_says_the_year_of_birth() {
        let year = |id: &str| CitizenId::try_from(id).map(|id| id.birth_year()).ok();
        assert_eq!(year("034087001234"), Some(1987));
        assert_eq!(year("034148001234"), Some(1948));
        assert_eq!(year("034205001234"), Some(2005));
        assert_eq!(year("034399001234"), Some(2099));
    }

    #[test]
    fn bank_bins_come_from_the_checked_table() {
        assert_eq!(BankBin::try_from("970436").map(|b| b.bank_name()), Ok("Vietcombank"));
        assert_eq!(BankBin::try_from("970415").map(|b| b.bank_name()), Ok("VietinBank"));
        assert_eq!(BankBin::try_from("970499").map_err(|e| e.code), Err("unknown_bank"));
        assert_eq!(BankBin::try_from("97043").map_err(|e| e.code), Err("invalid_bank_bin"));
    }

    #[test]
    fn account_numbers_keep_leading_zeros() {
        assert_eq!(
            AccountNumber::try_from("0011004455667").map(|a| a.as_str().to_string()),
            Ok("0011004455667".into())
        );
        assert!(AccountNumber::try_from("12345").is_err());
        assert!(AccountNumber::try_from("00110044556677889900").is_err());
        assert!(AccountNumber::try_from("0011-0044").is_err());
    }

    #[test]
    fn debug_output_masks_personal_data() {
        let id = CitizenId::try_from("034087001234").expect("valid id");
        assert_eq!(format!("{id:?}"), "CitizenId(*********234)");
        let destination = Destination::BankAccount {
            bin: BankBin::try_from("970436").expect("known bin"),
            account_number: AccountNumber::try_from("0011004455667").expect("valid account"),
            account_name: Some("Nguyễn Văn An".to_string()),
        };
        let printed = format!("{destination:?}");
        assert!(
            !printed.contains("0011004455667") && !printed.contains("Nguyễn"),
            "{printed}"
        );
    }
}
