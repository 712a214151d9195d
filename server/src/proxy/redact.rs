//! Secrets kept out of what upstreams say. An upstream's error may quote the credential it was
//! sent ("Incorrect API key provided: sk-…"); its message reaches the client, the request log
//! and the process log, so it is scrubbed first: the endpoint's own credential wherever it
//! appears, and anything shaped like a provider or gateway key.
//!
//! Invariant: every upstream error message on the inference path and in "Test connection"
//! passes through [`redacted`] before it is shown, logged or stored.

use regex::Regex;
use std::sync::LazyLock;

/// What stands in for a secret.
pub const MASK: &str = "[redacted]";

/// Key shapes: OpenAI and Anthropic (`sk-…`, `sk-proj-…`, `sk-ant-…`, restricted `rk-…`),
/// Google (`AIza…`), AWS access key ids (`AKIA…`), our own gateway keys (`mgw_…`), and any
/// `Bearer` token.
static KEY_SHAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:sk|rk)-[A-Za-z0-9_\-*]{8,}(?:\.[A-Za-z0-9_\-*]+)*|\bAIza[0-9A-Za-z_\-]{30,}|\bAKIA[0-9A-Z]{16}\b|\bmgw_[A-Za-z0-9_\-]{8,}|(?i:\bbearer\s+)[A-Za-z0-9._~+/=\-]{16,}",
    )
    .unwrap_or_else(|error| unreachable!("the key pattern is valid: {error}"))
});

/// `text` without `credential` (when it has one) and without anything shaped like a key.
pub fn redacted(text: &str, credential: Option<&str>) -> String {
    let text = match credential.map(str::trim) {
        // A short credential would mask ordinary words (Ollama's conventional key is `ollama`).
        Some(credential) if credential.len() >= 8 => text.replace(credential, MASK),
        _ => text.to_string(),
    };
    KEY_SHAPES.replace_all(&text, MASK).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_and_key_shapes_are_masked() {
        let cases = [
            (
                "Incorrect API key provided: sk-proj-abc123DEF456ghi.",
                None,
                "Incorrect API key provided: [redacted].",
            ),
            ("key sk-ant-api03-AAAAbbbbCCCC given", None, "key [redacted] given"),
            (
                "Incorrect API key provided: sk-abc12***********wxyz",
                None,
                "Incorrect API key provided: [redacted]",
            ),
            ("header was Bearer abcdefgh12345678", None, "header was [redacted]"),
            (
                "AIzaSyA1234567890abcdefghijklmnopqrstu is not valid",
                None,
                "[redacted] is not valid",
            ),
            (
                "azure key 0123456789abcdef0123456789abcdef refused",
                Some("0123456789abcdef0123456789abcdef"),
                "azure key [redacted] refused",
            ),
            ("gateway key mgw_pub123_secretsecret", None, "gateway key [redacted]"),
        ];
        for (text, credential, expected) in cases {
            assert_eq!(redacted(text, credential), expected, "{text}");
        }
    }

    #[test]
    fn ordinary_messages_are_left_alone() {
        for text in [
            "The model `gpt-5` does not exist",
            "Rate limit reached for requests; ask-me later",
            "max_tokens is too large: 100000. This model supports at most 4096 completion tokens",
            "request 0123456789abcdef0123456789abcdef failed",
        ] {
            assert_eq!(redacted(text, Some("abc")), text);
        }
    }
}
