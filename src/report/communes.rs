//! Commune names for the report: orders carry only a 5-digit commune code, so the names come
//! from a CSV file (`commune_code,name`, UTF-8) or, without one, from the pilot's ten communes.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

/// The pilot's ten communes of Thái Bình, whose orders the demo's sample list makes (the codes
/// are illustrative, not the official register).
pub const PILOT_COMMUNES: [(&str, &str); 10] = [
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

/// Commune code → Vietnamese name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommuneNames(HashMap<String, String>);

impl CommuneNames {
    /// The pilot's communes ([`PILOT_COMMUNES`]).
    pub fn pilot() -> Self {
        Self(
            PILOT_COMMUNES
                .iter()
                .map(|(code, name)| (code.to_string(), name.to_string()))
                .collect(),
        )
    }

    /// Reads `commune_code,name` lines (a header line is allowed). A line without two fields
    /// is an error naming the line.
    pub fn from_csv_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the commune names in {}", path.display()))?;
        Self::from_csv(&text).with_context(|| format!("{} is not a commune_code,name list", path.display()))
    }

    fn from_csv(text: &str) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let mut names = HashMap::new();
        for (index, record) in reader.records().enumerate() {
            let record = record.with_context(|| format!("line {} cannot be read", index + 1))?;
            let (Some(code), Some(name)) = (record.get(0), record.get(1)) else {
                anyhow::bail!("line {} does not have a code and a name", index + 1);
            };
            let code = code.trim();
            if index == 0 && !code.bytes().all(|b| b.is_ascii_digit()) {
                continue; // a header line
            }
            names.insert(code.to_string(), name.trim().to_string());
        }
        Ok(Self(names))
    }

    /// The commune's name, or its code when the name is unknown.
    pub fn name<'a>(&'a self, code: &'a str) -> &'a str {
        self.0.get(code).map(String::as_str).unwrap_or(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_a_csv_with_or_without_header() {
        let names =
            CommuneNames::from_csv("commune_code,name\n12454,Đề Thám\n12457, Quang Trung \n").unwrap_or_default();
        assert_eq!(names.name("12454"), "Đề Thám");
        assert_eq!(names.name("12457"), "Quang Trung");
        assert_eq!(names.name("99999"), "99999");
        assert!(CommuneNames::from_csv("12454\n").is_err());
    }

    #[test]
    fn the_pilot_communes_are_known_without_a_file_and_match_the_demo() {
        assert_eq!(CommuneNames::pilot().name("12454"), "Đề Thám");
        assert_eq!(PILOT_COMMUNES, crate::demo::sample::COMMUNES);
    }
}
