//! Text from outside (a statement's references, a dead letter's ids) as it may be printed on an
//! operator's terminal: a control character could carry an escape sequence that rewrites the
//! screen, and a bidirectional control could make a reference read otherwise than it is.

use std::borrow::Cow;

/// Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): text holding
/// one displays in another order than it is stored.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with its control and bidirectional control characters written as `\u{…}` escapes;
/// unchanged (and not copied) when it has none.
pub fn shown(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c.is_control() || is_bidi_control(c))
}

/// [`shown`] for text of several lines (a message body): its line breaks stay.
pub fn shown_lines(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c != '\n' && (c.is_control() || is_bidi_control(c)))
}

fn escaped(text: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_bidi_controls_are_shown_as_escapes() {
        assert!(matches!(shown("FT26120312345"), Cow::Borrowed("FT26120312345")));
        assert_eq!(shown("Lê Thị Ánh"), "Lê Thị Ánh");
        assert_eq!(shown("FT1\u{1b}[2J"), "FT1\\u{1b}[2J");
        assert_eq!(shown("ref\u{202e}cba"), "ref\\u{202e}cba");
        assert_eq!(shown("a\nb"), "a\\u{a}b");
        assert_eq!(
            shown_lines("{\n  \"a\": \"\u{9b}2J\"\n}"),
            "{\n  \"a\": \"\\u{9b}2J\"\n}"
        );
    }
}
