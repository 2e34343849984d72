//! Free text from clients: names, ids, custom fields. Bounded in length, and free of the
//! characters that make stored text lie to whoever reads it later: control characters (NUL
//! among them) and the bidirectional overrides and isolates that reorder what a screen shows.

use super::DomainError;

/// Characters no stored text may hold: C0 and C1 controls but tab, line feed and carriage
/// return, and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069).
fn is_hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a text field: `min_chars` to `max_chars` characters, no hidden character, and not
/// only blanks when it is required (`min_chars > 0`).
pub fn checked_text(
    field: &str,
    text: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), DomainError> {
    let n_chars = text.chars().count();
    if n_chars > max_chars || (min_chars > 0 && text.trim().is_empty()) || n_chars < min_chars {
        return Err(DomainError::new(
            field,
            format!("must be {min_chars} to {max_chars} characters"),
        ));
    }
    if let Some(c) = text.chars().find(|&c| is_hidden(c)) {
        return Err(DomainError::new(
            field,
            format!(
                "must not contain control or bidirectional-override characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// Checks a required free-text field: 1 to `max_chars` characters, not only blanks.
pub fn required_text(field: &str, text: &str, max_chars: usize) -> Result<String, DomainError> {
    checked_text(field, text, 1, max_chars)?;
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, valid: bool) {
        assert_eq!(checked_text("name", text, 1, 10).is_ok(), valid, "{text:?}");
    }

    #[test]
    fn hidden_characters_and_lengths_are_refused() {
        check("Ada", true);
        check("Zoë O'Brien", false); // 11 characters
        check("Zoë", true);
        check("שלום", true);
        check("a\tb", true);
        check("   ", false);
        check("", false);
        check("a\0b", false);
        check("a\u{7}b", false);
        check("a\u{85}b", false);
        check("abc\u{202E}fed", false);
        check("a\u{2066}b", false);
    }
}
