//! Checks shared by every kind of entity.

use super::ManageError;

/// Longest name accepted.
const MAX_NAME_CHARS: usize = 64;

/// A name that people type on a command line and read in URLs and logs: 1 to 64 characters,
/// letters, digits, `.`, `_` and `-`, starting with a letter or digit.
pub fn name(field: &'static str, value: &str) -> Result<String, ManageError> {
    let value = value.trim();
    let valid = !value.is_empty()
        && value.chars().count() <= MAX_NAME_CHARS
        && value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(value.to_string())
    } else {
        Err(ManageError::Invalid {
            field,
            message: format!(
                "must be 1 to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-', starting with a letter or digit"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        assert_eq!(name("name", " gpt-4o.primary_1 ").unwrap(), "gpt-4o.primary_1");
        for bad in ["", "-x", "a b", "a/b", "émoji", "x".repeat(65).as_str(), "\u{202e}evil"] {
            assert!(name("name", bad).is_err(), "{bad:?}");
        }
    }
}
