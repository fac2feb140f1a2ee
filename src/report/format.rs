//! How the report writes money, durations and text into HTML: whole đồng with dots between
//! thousands (`2.789.000 ₫`, the form the demo and `gateway orders` print), short durations,
//! and HTML escaping.

use gateway_adapter::money::format_dong;

/// `2.789.000 ₫`; a negative sum (which the store never holds) is written with a minus sign.
pub fn dong(amount: i64) -> String {
    let digits = format_dong(amount.unsigned_abs());
    if amount < 0 {
        format!("-{digits} ₫")
    } else {
        format!("{digits} ₫")
    }
}

/// A count with dots between thousands, like the amounts: `12.345`.
pub fn count(value: u64) -> String {
    format_dong(value)
}

/// A duration for people: `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`; `–` for none.
pub fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "–".to_string() };
    let ms = ms.max(0);
    let seconds = ms / 1_000;
    match seconds {
        _ if ms < 1_000 => format!("{ms} ms"),
        0..=59 => format!("{}.{} s", seconds, (ms % 1_000) / 100),
        60..=3_599 => format!("{} min {} s", seconds / 60, seconds % 60),
        3_600..=86_399 => format!("{} h {} min", seconds / 3_600, (seconds % 3_600) / 60),
        _ => format!("{} d {} h", seconds / 86_400, (seconds % 86_400) / 3_600),
    }
}

/// Text made safe for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_dong_with_dots() {
        assert_eq!(dong(2_789_000), "2.789.000 ₫");
        assert_eq!(dong(0), "0 ₫");
        assert_eq!(dong(999), "999 ₫");
        assert_eq!(dong(1_234_567_890), "1.234.567.890 ₫");
        assert_eq!(dong(-5_000), "-5.000 ₫");
        assert_eq!(count(172_000), "172.000");
    }

    #[test]
    fn durations_are_short_and_readable() {
        assert_eq!(duration(None), "–");
        assert_eq!(duration(Some(850)), "850 ms");
        assert_eq!(duration(Some(4_250)), "4.2 s");
        assert_eq!(duration(Some(185_000)), "3 min 5 s");
        assert_eq!(duration(Some(7_800_000)), "2 h 10 min");
        assert_eq!(duration(Some(273_600_000)), "3 d 4 h");
    }

    #[test]
    fn html_is_escaped_and_vietnamese_is_kept() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("Đề Thám"), "Đề Thám");
    }
}
