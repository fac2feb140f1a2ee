//! Masking of personal data (account numbers, phone numbers, citizen ids, names) and of
//! configuration values (possibly secrets) for logs and errors.

/// Keeps the last three characters and replaces the rest with `*`: `0011004455667` → `**********667`.
pub fn mask_tail(value: &str) -> String {
    let count = value.chars().count();
    let keep = count.min(3);
    let mut out: String = "*".repeat(count - keep);
    out.extend(value.chars().skip(count - keep));
    out
}

/// Keeps the first letter of each word of a name: `Nguyễn Văn An` → `N***** V** A*`.
pub fn mask_name(name: &str) -> String {
    name.split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            first + &"*".repeat(chars.count())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A deserialisation error with the values it quotes left out: serde writes a wrong value as
/// `string "…"`, and that string may be a secret. Field names (in backticks) stay.
pub fn without_values(message: &str) -> String {
    let mut kept = String::with_capacity(message.len());
    let mut quoted = false;
    for character in message.chars() {
        match character {
            '"' if quoted => {
                quoted = false;
                kept.push_str("(value not shown)");
            }
            '"' => quoted = true,
            _ if quoted => {}
            other => kept.push(other),
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_the_last_three() {
        assert_eq!(mask_tail("0011004455667"), "**********667");
        assert_eq!(mask_tail("12"), "12");
    }

    #[test]
    fn masks_names_to_initials() {
        assert_eq!(mask_name("Nguyễn Văn An"), "N***** V** A*");
    }
}
