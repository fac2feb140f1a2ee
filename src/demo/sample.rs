//! A synthetic payout list for the ten pilot communes of Thái Bình (April–July 2023 pilot):
//! Vietnamese names, 12-digit ids beginning 034, real NAPAS BINs, amounts from the 2024 bases.
//! A few lines are wrong on purpose, so the demo shows rejections and failures with reasons.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sandbox_kit::{RegisteredAccount, Registration};

use crate::publish::PayoutRow;

/// The pilot's five wards of Thái Bình city and five communes of Vũ Thư district (the report's
/// default names). The codes are illustrative 5-digit commune codes, not the official register.
pub use crate::report::communes::PILOT_COMMUNES as COMMUNES;

const FAMILY: [&str; 12] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương", "Lý",
];
const MIDDLE: [&str; 8] = ["Văn", "Thị", "Đức", "Ngọc", "Minh", "Thu", "Quang", "Hữu"];
const GIVEN: [&str; 16] = [
    "An", "Bình", "Chi", "Dũng", "Đào", "Giang", "Hà", "Hùng", "Hương", "Khánh", "Lan", "Long", "Mai", "Nam", "Phương",
    "Thảo",
];
const BINS: [&str; 6] = ["970405", "970436", "970415", "970418", "970449", "970422"];
/// Wallet providers with mobile prefixes of their carrier (numbers are portable, but most
/// people keep their carrier's wallet).
const WALLETS: [(&str, &[&str]); 3] = [
    ("viettel_money", &["086", "096", "097", "098", "032", "035"]),
    ("vnpt_money", &["088", "091", "094", "081", "083"]),
    ("mobifone_money", &["089", "090", "093", "070", "077"]),
];

/// Social-assistance base from 1 July 2024 (Decree 76/2024) and meritorious base (Decree 77/2024).
const SOCIAL_BASE: u64 = 500_000;
const MERITORIOUS_BASE: u64 = 2_789_000;

/// The list, and the accounts the emulated providers know.
pub struct Sample {
    pub rows: Vec<PayoutRow>,
    /// Bank accounts are registered at their BIN, as a bank knows them.
    pub accounts: Vec<Registration>,
}

/// Builds `per_commune` lines per commune for `period` (`YYYY-MM`), the same for the same
/// seed. Channels in realistic shares: about 55% bank accounts, 25% VNPost accounts and 20%
/// wallets (split between the three wallet providers).
/// `bank_for` names the bank provider that pays a BIN (the routing), under which a bank
/// account is registered in the sandbox.
pub fn generate(per_commune: usize, period: &str, seed: u64, bank_for: &dyn Fn(&str) -> String) -> Sample {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rows = Vec::new();
    let mut accounts = Vec::new();
    let batch_id = format!("TB-{period}-DEMO");
    for (commune_index, (commune_code, _)) in COMMUNES.iter().enumerate() {
        for index in 0..per_commune {
            let serial = commune_index * per_commune + index + 1;
            let full_name = format!(
                "{} {} {}",
                FAMILY[rng.random_range(0..FAMILY.len())],
                MIDDLE[rng.random_range(0..MIDDLE.len())],
                GIVEN[rng.random_range(0..GIVEN.len())]
            );
            let century_sex = rng.random_range(0..2u8);
            let beneficiary_id = format!("034{century_sex}{:02}{:06}", rng.random_range(30..99u8), serial);
            let meritorious = rng.random_bool(0.35);
            let (program, amount) = if meritorious {
                ("meritorious", MERITORIOUS_BASE * [2, 3, 4][rng.random_range(0..3)] / 2)
            } else {
                (
                    "social_assistance",
                    SOCIAL_BASE * [2, 3, 4, 5][rng.random_range(0..4)] / 2,
                )
            };
            let mut row = PayoutRow {
                order_id: format!("TB-{period}-{serial:06}"),
                batch_id: batch_id.clone(),
                program: program.to_string(),
                period: period.to_string(),
                payment_type: "monthly".to_string(),
                beneficiary_id,
                full_name: full_name.clone(),
                commune_code: commune_code.to_string(),
                amount: amount.to_string(),
                memo: format!("Tro cap thang {period}"),
                ..PayoutRow::default()
            };
            let mut bin = None;
            let (provider, account) = match rng.random_range(0..100u8) {
                0..=54 => {
                    row.channel = "bank_transfer".to_string();
                    row.bank_bin = BINS[rng.random_range(0..BINS.len())].to_string();
                    row.account_number = format!("{:013}", rng.random_range(1_000_000_000u64..9_999_999_999_999));
                    // The account's own bank, before any mistake in the line below changes the BIN.
                    bin = Some(row.bank_bin.clone());
                    (bank_for(&row.bank_bin), row.account_number.clone())
                }
                55..=79 => {
                    row.channel = "vnpost_account".to_string();
                    row.account_number = format!("{:012}", rng.random_range(100_000_000_000u64..999_999_999_999));
                    ("vnpost_account".to_string(), row.account_number.clone())
                }
                _ => {
                    row.channel = "mobile_money".to_string();
                    let (provider, prefixes) = WALLETS[rng.random_range(0..WALLETS.len())];
                    row.wallet_provider = provider.to_string();
                    let prefix = prefixes[rng.random_range(0..prefixes.len())];
                    row.phone_number = format!("{prefix}{:07}", rng.random_range(0..10_000_000u32));
                    (provider.to_string(), row.phone_number.clone())
                }
            };
            let mut holder = full_name;
            let mut closed = false;
            let mut registered = true;
            // Every 25th line carries a mistake the gateway or the provider must catch.
            match serial % 25 {
                3 => row.amount = format!("{amount}.5"),
                8 => match row.channel.as_str() {
                    "bank_transfer" => row.bank_bin = "970499".to_string(),
                    "mobile_money" => row.phone_number = "0241234567".to_string(),
                    _ => row.account_number = "12-34".to_string(),
                },
                11 if row.channel == "mobile_money" => {
                    // Arrears for a whole year: more than a wallet may receive in a month.
                    row.payment_type = "arrears".to_string();
                    row.amount = (SOCIAL_BASE * 24).to_string();
                }
                13 => row.beneficiary_id = "12345".to_string(),
                17 => holder = "TRAN THI KHAC".to_string(),
                21 => registered = false,
                23 => closed = true,
                _ => {}
            }
            if registered {
                let account = RegisteredAccount {
                    provider,
                    account,
                    holder_name: holder,
                    closed,
                };
                accounts.push(match bin {
                    Some(bin) => account.at_bank(bin),
                    None => account.into(),
                });
            }
            rows.push(row);
        }
    }
    // Upstream sends one line twice: the gateway must pay it once.
    if let Some(first) = rows.first().cloned() {
        rows.push(first);
    }
    Sample { rows, accounts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_deterministic_and_covers_every_commune() {
        let first = generate(5, "2026-12", 7, &|_| "bank_transfer".to_string());
        let second = generate(5, "2026-12", 7, &|_| "bank_transfer".to_string());
        assert_eq!(first.rows.len(), 51);
        assert_eq!(
            first.rows.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>(),
            second.rows.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>()
        );
        for (code, _) in COMMUNES {
            assert!(first.rows.iter().any(|row| row.commune_code == code));
        }
        assert!(first
            .rows
            .iter()
            .all(|row| row.beneficiary_id.starts_with("034") || row.beneficiary_id == "12345"));
    }
}
