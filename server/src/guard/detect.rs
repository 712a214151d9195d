//! Detectors: what each one's pattern is, and the check a candidate must pass after the
//! pattern matches (Luhn for cards, mod 97 for IBANs, the SSA's rules for SSNs, a real
//! address for IPs, a plausible digit count for phone numbers).
//!
//! Invariant: every pattern is compiled by the `regex` crate (linear time in the text; no
//! look-around, no back-references) within a size limit, so no text can make a scan slow.

use app::types::Detector;
use regex::{Regex, RegexBuilder};
use std::{net::IpAddr, ops::Range};

/// The largest compiled pattern accepted (a gateway's own `regex:` or `words:`).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// The built-in detectors' patterns. ASCII word boundaries (`(?-u:\b)`) keep them on the
/// fast engines whatever the text's script.
const EMAIL: &str = r"(?-u:\b)[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?-u:\b)";
const PHONE: &str = r"(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?(?-u:\b)\d{2,4}[ .\-]\d{3,8}(?:[ .\-]\d{3,5}){0,2}(?-u:\b)|\+\d{7,15}(?-u:\b)";
const CARD: &str = r"(?-u:\b)\d(?:[ \-]?\d){12,18}(?-u:\b)";
const IBAN: &str = r"(?-u:\b)[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?-u:\b)";
const SSN: &str = r"(?-u:\b)\d{3}-\d{2}-\d{4}(?-u:\b)";
const IP: &str = r"(?-u:\b)(?:\d{1,3}\.){3}\d{1,3}(?-u:\b)|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}";
/// OpenAI (`sk-…`, `sk-proj-…`), Anthropic (`sk-ant-…`), AWS access key ids, Google API
/// keys, GitHub tokens (classic and fine-grained), Slack tokens, and JWTs.
const SECRET: &str = concat!(
    r"(?-u:\b)(?:sk|rk)-[A-Za-z0-9_\-]{16,}",
    r"|(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)",
    r"|(?-u:\b)AIza[0-9A-Za-z_\-]{35}",
    r"|(?-u:\b)gh[pousr]_[A-Za-z0-9]{36,}",
    r"|(?-u:\b)github_pat_[A-Za-z0-9_]{22,}",
    r"|(?-u:\b)xox[abprs]-[A-Za-z0-9\-]{10,}",
    r"|(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}",
);

/// What a candidate must pass besides the pattern.
#[derive(Clone, Copy, Debug)]
enum Check {
    None,
    Phone,
    Card,
    Iban,
    Ssn,
    Ip,
}

/// A detector compiled: its pattern, and its check.
#[derive(Clone, Debug)]
pub struct Finder {
    regex: Regex,
    check: Check,
}

/// A pattern the size limit allows, or why not.
fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => "the pattern is too large".to_string(),
            regex::Error::Syntax(why) => why,
            other => other.to_string(),
        })
}

/// `words` as one alternation of whole words or phrases (a word boundary where a word's edge is
/// a word character).
fn words_pattern(words: &[String]) -> String {
    let word_char = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let alternatives: Vec<String> = (words.iter())
        .map(|word| {
            let (start, end) = (word.chars().next(), word.chars().last());
            format!(
                "{}{}{}",
                if word_char(start) { r"\b" } else { "" },
                regex::escape(word),
                if word_char(end) { r"\b" } else { "" }
            )
        })
        .collect();
    // Case-insensitive inline, so the set that finds which detectors match reads it alike.
    format!("(?i:{})", alternatives.join("|"))
}

impl Finder {
    /// The detector compiled, or why it cannot be (a custom pattern's error).
    pub fn new(detector: &Detector) -> Result<Finder, String> {
        let (pattern, check) = match detector {
            Detector::Email => (EMAIL.to_string(), Check::None),
            Detector::Phone => (PHONE.to_string(), Check::Phone),
            Detector::Card => (CARD.to_string(), Check::Card),
            Detector::Iban => (IBAN.to_string(), Check::Iban),
            Detector::Ssn => (SSN.to_string(), Check::Ssn),
            Detector::Ip => (IP.to_string(), Check::Ip),
            Detector::Secret => (SECRET.to_string(), Check::None),
            Detector::Regex(pattern) => (pattern.clone(), Check::None),
            Detector::Words(words) => (words_pattern(words), Check::None),
        };
        let regex = build(&pattern)?;
        if regex.is_match("") {
            return Err("the pattern matches empty text: it must match at least one character".into());
        }
        Ok(Finder { regex, check })
    }

    /// The pattern, as compiled.
    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    /// Where in `text` the detector finds something, in order, not overlapping.
    pub fn find<'t>(&'t self, text: &'t str) -> impl Iterator<Item = Range<usize>> + 't {
        (self.regex.find_iter(text))
            .filter(|found| passes(self.check, found.as_str()))
            .map(|found| found.range())
    }
}

/// Whether a candidate passes its detector's check.
fn passes(check: Check, text: &str) -> bool {
    match check {
        Check::None => true,
        Check::Phone => {
            let digits = text.bytes().filter(u8::is_ascii_digit).count();
            (7..=15).contains(&digits)
        }
        Check::Card => luhn(text),
        Check::Iban => iban(text),
        Check::Ssn => ssn(text),
        Check::Ip => text.parse::<IpAddr>().is_ok(),
    }
}

/// Luhn's check over the digits of `text` (13 to 19 of them).
pub fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = (digits.iter().rev().enumerate())
        .map(|(place, &digit)| match place % 2 {
            0 => digit,
            _ if digit * 2 > 9 => digit * 2 - 9,
            _ => digit * 2,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The IBAN check: country code and check digits moved to the end, letters as 10–35, the
/// number mod 97 is 1 (15 to 34 characters).
pub fn iban(text: &str) -> bool {
    let compact: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u32 = 0;
    for c in tail.iter().chain(head) {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        remainder = match value {
            0..=9 => (remainder * 10 + value) % 97,
            _ => (remainder * 100 + value) % 97,
        };
    }
    remainder == 1
}

/// A US social security number that can have been issued: area not 000, 666 or 9xx, group
/// not 00, serial not 0000.
fn ssn(text: &str) -> bool {
    let mut parts = text.split('-');
    let (Some(area), Some(group), Some(serial)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(detector: &Detector, text: &str) -> Vec<String> {
        let finder = Finder::new(detector).unwrap();
        finder.find(text).map(|range| text[range].to_string()).collect()
    }

    /// A detector, texts holding one with what it finds there, and near-misses it must leave.
    type Case = (
        Detector,
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );

    /// Each detector: what it finds in texts that hold one, and texts with near-misses that
    /// it must leave alone.
    #[test]
    fn each_detector_finds_its_kind_and_leaves_near_misses_alone() {
        let cases: [Case; 7] = [
            (
                Detector::Email,
                &[
                    ("write to ada.lovelace+ml@example.co.uk today", "ada.lovelace+ml@example.co.uk"),
                    ("<bob@mail.example.org>", "bob@mail.example.org"),
                ],
                &["user@localhost", "an @ sign alone", "email me at example.com", "a@b.c"],
            ),
            (
                Detector::Phone,
                &[
                    ("call +1 415-555-0132 now", "+1 415-555-0132"),
                    ("tel: (020) 7946 0958.", "(020) 7946 0958"),
                    ("whatsapp +447700900123", "+447700900123"),
                    ("office 030 1234567", "030 1234567"),
                ],
                &["version 1.2.3", "in 2024 we had 12 teams", "order 1234567", "12-34", "on 2024-01-15", "100 000 people"],
            ),
            (
                Detector::Card,
                &[
                    ("card 4111 1111 1111 1111 exp 12/30", "4111 1111 1111 1111"),
                    ("pan=5500-0000-0000-0004;", "5500-0000-0000-0004"),
                    ("amex 378282246310005", "378282246310005"),
                ],
                &[
                    "card 4111 1111 1111 1112 fails Luhn",
                    "order 1234567812345678",
                    "tiny 4111",
                ],
            ),
            (
                Detector::Iban,
                &[
                    ("pay DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
                    ("GB82WEST12345698765432", "GB82WEST12345698765432"),
                ],
                &["DE89 3704 0044 0532 0130 01", "GB82WEST12345698765431", "AB12"],
            ),
            (
                Detector::Ssn,
                &[("ssn 123-45-6789.", "123-45-6789")],
                &["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "123456789"],
            ),
            (
                Detector::Ip,
                &[
                    ("from 192.168.1.20 at noon", "192.168.1.20"),
                    ("v6 2001:db8::8a2e:370:7334 up", "2001:db8::8a2e:370:7334"),
                    ("loopback ::1", "::1"),
                ],
                &["version 1.2.3.400", "at 10:30:00", "999.1.1.1", "1.2.3"],
            ),
            (
                Detector::Secret,
                &[
                    ("key sk-proj-abcdefghijklmnop1234 leaked", "sk-proj-abcdefghijklmnop1234"),
                    ("AKIAIOSFODNN7EXAMPLE is aws", "AKIAIOSFODNN7EXAMPLE"),
                    (
                        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here",
                        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                    ),
                    (
                        "bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                    ),
                ],
                &["a task-list item", "sk-short", "ghp_short", "eyJ alone", "AKIA123"],
            ),
        ];
        for (detector, positives, negatives) in cases {
            for (text, expected) in positives {
                assert_eq!(
                    found(&detector, text),
                    vec![expected.to_string()],
                    "{detector} in {text:?}"
                );
            }
            for text in negatives {
                assert_eq!(found(&detector, text), Vec::<String>::new(), "{detector} in {text:?}");
            }
        }
    }

    #[test]
    fn custom_patterns_and_words_are_found_and_bad_ones_refused() {
        let pattern = Detector::Regex(r"PRJ-\d{4}".into());
        assert_eq!(found(&pattern, "see PRJ-0042 and PRJ-12"), vec!["PRJ-0042"]);
        let words = Detector::Words(vec!["Blue Moon".into(), "c++".into()]);
        assert_eq!(
            found(&words, "a blue moon, in C++ too; bluemoon no"),
            vec!["blue moon", "C++"]
        );
        assert_eq!(found(&words, "bluemoons"), Vec::<String>::new());
        for bad in [r"(unclosed", r"(?=ahead)", r"(a)\1", r"a*"] {
            assert!(Finder::new(&Detector::Regex(bad.into())).is_err(), "{bad}");
        }
        assert!(
            Finder::new(&Detector::Regex("a{1000}{1000}".into())).is_err(),
            "too big"
        );
    }

    #[test]
    fn luhn_and_iban_checks() {
        assert!(luhn("4012888888881881"));
        assert!(!luhn("4012888888881882"));
        assert!(!luhn("0000 0000 0000"), "too short");
        assert!(iban("NL91ABNA0417164300"));
        assert!(!iban("NL91ABNA0417164301"));
    }
}
