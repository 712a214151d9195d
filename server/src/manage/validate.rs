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

/// The longest expiry accepted from a number of days (about ten years), for keys and tokens
/// alike.
pub const MAX_EXPIRY_DAYS: i64 = 3650;

/// An expiry typed as a whole number of days from now (blank: none), as Unix milliseconds.
pub fn expires_in_days(field: &'static str, text: &str) -> Result<Option<i64>, ManageError> {
    match text.trim() {
        "" => Ok(None),
        text => match text.parse::<i64>() {
            Ok(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
                Ok(Some(crate::store::now_ms().saturating_add(days * 86_400_000)))
            }
            _ => Err(ManageError::invalid(
                field,
                format!("must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}"),
            )),
        },
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
