//! Text cells of the CSV files people open in spreadsheets (the report's and the
//! reconciliation's), kept from being read as formulas.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or a
//! carriage return before one) as a formula: text that came from outside — a provider's return
//! reason on a statement, a statement line's reference, a commune name from an operator's list
//! — could then fetch a URL or show `#NAME?` instead of the text. Such a cell is written with
//! a leading `'`, which makes spreadsheets take the cell as text (OWASP's advice for CSV
//! injection); the apostrophe shows in the cell, a small price for a cell that cannot run. Cells the gateway writes itself from numbers are never passed through here.

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as a cell a spreadsheet shows as text.
pub fn text_cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_written_as_text() {
        for formula in [
            "=HYPERLINK(\"http://x\",\"AC04\")",
            "+1",
            "-Sai số tài khoản",
            "@SUM(A1)",
            "\t=1",
        ] {
            assert_eq!(text_cell(formula), format!("'{formula}"));
        }
        for plain in ["AC04", "Đề Thám", "FT-123", "", "pay_1"] {
            assert_eq!(text_cell(plain), plain);
        }
    }
}
