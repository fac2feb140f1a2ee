//! Vietnamese names and memos made safe for providers: ASCII, no diacritics, `Đ` → `D`.

use unicode_normalization::UnicodeNormalization;

/// Strips diacritics and maps `Đ`/`đ` to `D`/`d` (Unicode decomposition does not do that one),
/// dropping anything that is still not ASCII afterwards.
pub fn strip_diacritics(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            // Đ and the letters that look just like it in lists that passed through other
            // encodings (Icelandic Ð U+00D0, African Ɖ U+0189): none of them decomposes to D, and
            // dropped as non-ASCII they would turn "Đặng Văn Đức" into "ANG VAN UC".
            'Đ' | 'Ð' | 'Ɖ' => 'D',
            'đ' | 'ð' | 'ɖ' => 'd',
            other => other,
        })
        .collect::<String>()
        .nfd()
        .filter(|c| c.is_ascii())
        .collect()
}

/// `text` in Unicode's composed form (NFC): `e` + U+0302 + U+0303 becomes `ễ`. Orders may
/// spell a name or memo either way; composed once at the edge, the two spellings are the same
/// text everywhere after (fingerprints, lengths, what providers get).
pub fn composed(text: &str) -> String {
    text.nfc().collect()
}

/// A name as providers' name inquiry returns it: no diacritics, UPPERCASE, single spaces.
/// `Nguyễn  Thị Đào` → `NGUYEN THI DAO`.
pub fn normalise_name(name: &str) -> String {
    strip_diacritics(name)
        .to_ascii_uppercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when a list name and a provider's account-holder name are the same person's name
/// once both are normalised.
pub fn names_match(list_name: &str, holder_name: &str) -> bool {
    normalise_name(list_name) == normalise_name(holder_name)
}

/// A memo a provider accepts: ASCII letters, digits, spaces and `-./`, no diacritics, single
/// spaces, at most `max_chars` characters (cut on a character boundary, trailing space trimmed).
pub fn provider_memo(memo: &str, max_chars: usize) -> String {
    let ascii: String = strip_diacritics(memo)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-./".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let single_spaced = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
    single_spaced
        .chars()
        .take(max_chars)
        .collect::<String>()
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_look_alikes_of_d_with_stroke_read_as_d() {
        // U+00D0 and U+0189 in the list, U+0110 nowhere.
        assert_eq!(normalise_name("\u{D0}ặng Văn \u{D0}ức"), "DANG VAN DUC");
        assert_eq!(normalise_name("\u{189}\u{F0}ào"), "DDAO");
        assert!(names_match("\u{D0}ặng Văn \u{D0}ức", "DANG VAN DUC"));
    }

    #[test]
    fn normalises_real_vietnamese_names() {
        assert_eq!(normalise_name("Nguyễn Văn An"), "NGUYEN VAN AN");
        assert_eq!(normalise_name("  Đặng   Thị  Ngọc Ánh "), "DANG THI NGOC ANH");
        assert_eq!(normalise_name("Lê Đức Thọ"), "LE DUC THO");
        assert_eq!(normalise_name("Trương Thị Huyền Trâm"), "TRUONG THI HUYEN TRAM");
        assert_eq!(normalise_name("Phạm Ngũ Lão"), "PHAM NGU LAO");
        assert_eq!(normalise_name("Bùi Thị Xuân"), "BUI THI XUAN");
    }

    #[test]
    fn compares_list_names_with_holder_names() {
        assert!(names_match("Đỗ Thị Hương", "DO THI HUONG"));
        assert!(!names_match("Đỗ Thị Hương", "DO THI HUONG GIANG"));
    }

    #[test]
    fn memos_are_ascii_and_cut_to_the_limit() {
        let memo = provider_memo("Trợ cấp ưu đãi tháng 11/2026 – Đông Hòa", 25);
        assert_eq!(memo, "Tro cap uu dai thang 11/2");
        assert!(memo.is_ascii());
        assert_eq!(provider_memo("Đề Thám", 19), "De Tham");
        assert_eq!(provider_memo("a  b", 2), "a");
    }
}
