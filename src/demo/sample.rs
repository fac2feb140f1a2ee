//! A synthetic payout list for the ten pilot communes of Thái Bình (April–July 2023 pilot):
//! Vietnamese names, 12-digit ids beginning 034, real NAPAS BINs, amounts from the 2024 bases.
//! A few lines are wrong on purpose, so the demo shows rejections and failures with reasons.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sandbox_kit::RegisteredAccount;

use crate::publish::PayoutRow;

/// The pilot's five wards of Thái Bình city and five communes of Vũ Thư district. The codes
/// are illustrative 5-digit commune codes, not the official register.
pub const COMMUNES: [(&str, &str); 10] = [
    ("12454", "Đề Thám"),
    ("12457", "Quang Trung"),
    ("12460", "Phú Khánh"),
    ("12463", "Đông Hòa"),
    ("12466", "Đông Thọ"),
    ("12700", "Hồng Phong"),
    ("12703", "Song Lãng"),
    ("12706", "Phúc Thành"),
    ("12709", "Xuân Hòa"),
    ("12712", "Dũng Nghĩa"),
];

const FAMILY: [&str; 12] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương", "Lý",
];
const MIDDLE: [&str; 8] = ["Văn", "Thị", "Đức", "Ngọc", "Minh", "Thu", "Quang", "Hữu"];
const GIVEN: [&str; 16] = [
    "An", "Bình", "Chi", "Dũng", "Đào", "Giang", "Hà", "Hùng", "Hương", "Khánh", "Lan", "Long",
    "Mai", "Nam", "Phương", "Thảo",
];
const BINS: [&str; 6] = ["970405", "970436", "970415", "970418", "970449", "970422"];

/// Social-assistance base from 1 July 2024 (Decree 76/2024) and meritorious base (Decree 77/2024).
const SOCIAL_BASE: u64 = 500_000;
const MERITORIOUS_BASE: u64 = 2_789_000;

/// The list, and the accounts the emulated providers know.
pub struct Sample {
    pub rows: Vec<PayoutRow>,
    pub accounts: Vec<RegisteredAccount>,
}

/// Builds `per_commune` lines per commune for `period` (`YYYY-MM`), the same for the same seed.
pub fn generate(per_commune: usize, period: &str, seed: u64) -> Sample {
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
            let beneficiary_id = format!(
                "034{century_sex}{:02}{:06}",
                rng.random_range(30..99u8),
                serial
            );
            let meritorious = rng.random_bool(0.35);
            let (program, amount) = if meritorious {
                (
                    "meritorious",
                    MERITORIOUS_BASE * [2, 3, 4][rng.random_range(0..3)] / 2,
                )
            } else {
                (
                    "social_assistance",
                    SOCIAL_BASE * [2, 3, 4, 5][rng.random_range(0..4)] / 2,
                )
            };
            let account_number = format!(
                "{:013}",
                rng.random_range(1_000_000_000u64..9_999_999_999_999)
            );
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
                channel: "bank_transfer".to_string(),
                bank_bin: BINS[rng.random_range(0..BINS.len())].to_string(),
                account_number: account_number.clone(),
                memo: format!("Tro cap thang {period}"),
                ..PayoutRow::default()
            };
            let mut holder = full_name;
            let mut closed = false;
            let mut registered = true;
            // Every 25th line carries a mistake the gateway or the bank must catch.
            match serial % 25 {
                3 => row.amount = format!("{amount}.5"),
                8 => row.bank_bin = "970499".to_string(),
                13 => row.beneficiary_id = "12345".to_string(),
                17 => holder = "TRAN THI KHAC".to_string(),
                21 => registered = false,
                23 => closed = true,
                _ => {}
            }
            if registered {
                accounts.push(RegisteredAccount {
                    provider: "bank_transfer".to_string(),
                    account: account_number,
                    holder_name: holder,
                    closed,
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
        let first = generate(5, "2026-12", 7);
        let second = generate(5, "2026-12", 7);
        assert_eq!(first.rows.len(), 51);
        assert_eq!(
            first
                .rows
                .iter()
                .map(|r| r.order_id.clone())
                .collect::<Vec<_>>(),
            second
                .rows
                .iter()
                .map(|r| r.order_id.clone())
                .collect::<Vec<_>>()
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
