//! Text that comes from outside (a provider's reference, reason or message) made storable:
//! PostgreSQL's `TEXT` cannot hold a NUL character, and a change it refuses would be refused
//! again on every retry, leaving the payment where it is for good.

use std::borrow::Cow;

/// `text` with each NUL character as U+FFFD (the replacement character); borrowed when it has
/// none, which is nearly always.
pub(super) fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// [`storable`] for an optional owned value.
pub(super) fn storable_owned(text: Option<String>) -> Option<String> {
    text.map(|text| match storable(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cleaned) => cleaned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_becomes_the_replacement_character_and_other_text_is_kept_as_it_is() {
        assert_eq!(storable("T1\0\0x"), "T1\u{FFFD}\u{FFFD}x");
        assert!(matches!(storable("Chuyển khoản\t1"), Cow::Borrowed("Chuyển khoản\t1")));
        assert_eq!(storable_owned(Some("a\0".to_string())).as_deref(), Some("a\u{FFFD}"));
        assert_eq!(storable_owned(None), None);
    }
}
