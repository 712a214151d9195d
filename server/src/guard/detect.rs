//! Detectors: what each one's pattern is, and the check a candidate must pass after the
//! pattern matches (Luhn for cards, mod 97 for IBANs, the SSA's rules for SSNs, a real
//! address for IPs, a plausible digit count for phone numbers).
//!
//! Invariant: every pattern is compiled by the `regex` crate (linear time in the text; no
//! look-around, no back-references) within a size limit, so no text can make a scan slow.

use super::digits::{Numbers, Run};
use app::types::Detector;
use regex::{Regex, RegexBuilder};
use std::{net::IpAddr, ops::Range};

/// The largest compiled pattern accepted (a gateway's own `regex:` or `words:`).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// The built-in detectors' patterns. ASCII classes and word boundaries (`[0-9]`, `(?-u:\b)`)
/// keep them on the fast engines whatever the text's script, and each begins with a short
/// literal or a small byte class (a digit, `+`, `(`, `@`, `:`) so the `regex` crate skips text
/// that cannot match with a vectorised search instead of running its automaton over it all.
const EMAIL: &str = r"(?-u:\b)[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?-u:\b)";
const PHONE: &str = concat!(
    r"\+[0-9]{1,3}[ .\-]?(?:\([0-9]{1,4}\)[ .\-]?)?[0-9]{2,4}[ .\-][0-9]{3,8}(?:[ .\-][0-9]{3,5}){0,2}(?-u:\b)",
    r"|\([0-9]{1,4}\)[ .\-]?[0-9]{2,4}[ .\-][0-9]{3,8}(?:[ .\-][0-9]{3,5}){0,2}(?-u:\b)",
    r"|(?-u:\b)[0-9]{2,4}[ .\-][0-9]{3,8}(?:[ .\-][0-9]{3,5}){0,2}(?-u:\b)",
    r"|\+[0-9]{7,15}(?-u:\b)",
);
const CARD: &str = r"(?-u:\b)[0-9](?:[ \-]?[0-9]){12,18}(?-u:\b)";
/// From the check digits on: the country code before them is looked at by [`iban_at`] (a
/// pattern starting with two capitals would have no fast start).
const IBAN: &str = r"[0-9]{2}(?: ?[A-Z0-9]){11,30}(?-u:\b)";
const SSN: &str = r"(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}(?-u:\b)";
const IPV4: &str = r"(?-u:\b)[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?-u:\b)";
/// Every IPv6 address has a `:` early on, which the search starts from.
const IPV6: &str = r"[0-9A-Fa-f]{0,4}::?(?:[0-9A-Fa-f]{1,4}::?){0,6}[0-9A-Fa-f]{0,4}";
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
    /// Preceded by its country code, with a checksum that holds.
    Iban,
    /// Luhn's check, on the candidate or (a card written next to another number) the longest
    /// run of its groups that passes.
    Card,
    Ssn,
    Ip,
    /// An IPv6 address: not inside a word (`std::io`, `Foo::Bar`), with a hexadecimal digit.
    Ipv6,
}

/// Where a number-shaped detector's pattern is searched: only around the text's runs of digits
/// that could be part of a match (most prose has numbers — years, counts — but few runs long
/// enough for a card or a phone number), each run widened by the bytes a match may hold
/// before and after it.
#[derive(Clone, Copy, Debug)]
enum Gate {
    /// The whole text.
    Everywhere,
    /// Runs with at least `digits` digits and `dots` dots, widened by `before` and `after`
    /// bytes.
    Digits {
        digits: usize,
        dots: usize,
        before: usize,
        after: usize,
    },
    /// Runs right after two capital letters (an IBAN's country code), widened to the longest
    /// IBAN written in groups.
    CountryCode,
}

/// A detector compiled: its patterns (IP addresses have two: v4 and v6), each with its check
/// and where it is searched.
#[derive(Clone, Debug)]
pub struct Finder {
    patterns: Vec<(Regex, Check, Gate)>,
}

/// Where the last whitespace of `text` ends (0 when it has none): the start of its last word.
pub fn after_last_space(text: &str) -> usize {
    (text.char_indices().rev())
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(at, c)| at + c.len_utf8())
}

/// The windows of `text` a gated pattern is searched in: around each run the gate admits,
/// widened, moved out to whitespace (so the pattern's word boundaries read as in the whole
/// text), and merged where they touch.
fn windows(text: &str, runs: &[Run], gate: Gate) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut windows: Vec<Range<usize>> = Vec::new();
    for run in runs {
        let (before, after) = match gate {
            Gate::Everywhere => (text.len(), text.len()),
            Gate::Digits {
                digits,
                dots,
                before,
                after,
            } if run.digits >= digits && run.dots >= dots => (before, after),
            Gate::CountryCode
                if run.start >= 2 && bytes[run.start - 2..run.start].iter().all(u8::is_ascii_uppercase) =>
            {
                (2, 48)
            }
            Gate::Digits { .. } | Gate::CountryCode => continue,
        };
        let mut start = run.start.saturating_sub(before);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        start = after_last_space(&text[..start]);
        let mut end = (run.end + after).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        end = text[end..].find(char::is_whitespace).map_or(text.len(), |at| end + at);
        match windows.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => windows.push(start..end),
        }
    }
    windows
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
    // Case-insensitive inline: the pattern carries its own flags.
    format!("(?i:{})", alternatives.join("|"))
}

impl Finder {
    /// The detector compiled, or why it cannot be (a custom pattern's error).
    pub fn new(detector: &Detector) -> Result<Finder, String> {
        let built_in = |pattern: &str, check: Check, gate: Gate| build(pattern).map(|regex| (regex, check, gate));
        let digits = |digits: usize, before: usize, after: usize| Gate::Digits {
            digits,
            dots: 0,
            before,
            after,
        };
        let patterns = match detector {
            Detector::Email => vec![built_in(EMAIL, Check::None, Gate::Everywhere)?],
            // `+44 (0) ` before the digits' run; a phone number has 7 digits or more.
            Detector::Phone => vec![built_in(PHONE, Check::Phone, digits(7, 8, 0))?],
            Detector::Card => vec![built_in(CARD, Check::Card, digits(13, 0, 0))?],
            Detector::Iban => vec![built_in(IBAN, Check::Iban, Gate::CountryCode)?],
            Detector::Ssn => vec![built_in(SSN, Check::Ssn, digits(9, 0, 0))?],
            Detector::Ip => vec![
                built_in(
                    IPV4,
                    Check::Ip,
                    Gate::Digits {
                        digits: 4,
                        dots: 3,
                        before: 0,
                        after: 0,
                    },
                )?,
                built_in(IPV6, Check::Ipv6, Gate::Everywhere)?,
            ],
            Detector::Secret => vec![built_in(SECRET, Check::None, Gate::Everywhere)?],
            Detector::Regex(pattern) => vec![built_in(pattern, Check::None, Gate::Everywhere)?],
            Detector::Words(words) => vec![built_in(&words_pattern(words), Check::None, Gate::Everywhere)?],
            // An endpoint reads the text (`proxy/moderation.rs`): nothing is searched here.
            Detector::Moderation(_) => Vec::new(),
        };
        if patterns.iter().any(|(regex, _, _)| regex.is_match("")) {
            return Err("the pattern matches empty text: it must match at least one character".into());
        }
        Ok(Finder { patterns })
    }

    /// Where in `text` the detector finds something, by where it starts.
    pub fn find(&self, text: &str) -> Vec<Range<usize>> {
        self.find_in(&Numbers::new(text))
    }

    /// As [`Finder::find`], with the text's runs of digits shared with other detectors.
    pub fn find_in(&self, numbers: &Numbers<'_>) -> Vec<Range<usize>> {
        let text = numbers.text;
        let mut found = Vec::new();
        for (regex, check, gate) in &self.patterns {
            let mut search = |window: Range<usize>| {
                let candidates = regex.find_iter(&text[window.clone()]);
                let ranges =
                    candidates.map(|candidate| window.start + candidate.start()..window.start + candidate.end());
                // An empty match (`\b` alone) has nothing to redact.
                let ranges = ranges.filter(|range| !range.is_empty());
                found.extend(ranges.filter_map(|range| matched(*check, text, range)));
            };
            match gate {
                Gate::Everywhere => search(0..text.len()),
                Gate::Digits { .. } | Gate::CountryCode => {
                    windows(text, numbers.runs(), *gate).into_iter().for_each(search)
                }
            }
        }
        if self.patterns.len() > 1 {
            found.sort_by_key(|range| range.start);
        }
        found
    }
}

/// The text a candidate stands for when it passes its detector's check.
fn matched(check: Check, text: &str, range: Range<usize>) -> Option<Range<usize>> {
    match check {
        Check::Iban => iban_at(text, range),
        Check::Card => card_at(text, range),
        Check::Ipv6 => {
            let bytes = text.as_bytes();
            let word = |at: Option<&u8>| at.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
            let inside_a_word = word(range.start.checked_sub(1).map(|at| &bytes[at])) || word(bytes.get(range.end));
            let candidate = &text[range.clone()];
            let hex = candidate.bytes().any(|b| b.is_ascii_hexdigit());
            // An address has eight groups, or fewer with `::`: a time (`10:30:00`) has neither,
            // and is not parsed.
            let shaped = candidate.contains("::") || candidate.bytes().filter(|b| *b == b':').count() == 7;
            (!inside_a_word && hex && shaped && passes(Check::Ip, candidate)).then_some(range)
        }
        Check::None | Check::Phone | Check::Ssn | Check::Ip => passes(check, &text[range.clone()]).then_some(range),
    }
}

/// A card number in `range`: the whole candidate when it passes Luhn's check, else the longest
/// (then leftmost) run of its digit groups that does — a card written next to another number
/// (`4111 1111 1111 1111 12/27`, a CVV after it) is still found.
fn card_at(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let candidate = &text[range.clone()];
    if luhn(candidate) {
        return Some(range);
    }
    // Where each group of digits starts and ends, inside the candidate.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (at, byte) in candidate.bytes().enumerate() {
        match (byte.is_ascii_digit(), groups.last_mut()) {
            (true, Some((_, end))) if *end == at => *end = at + 1,
            (true, _) => groups.push((at, at + 1)),
            (false, _) => {}
        }
    }
    let mut best: Option<(usize, usize)> = None;
    for first in 0..groups.len() {
        for last in (first..groups.len()).rev() {
            let (start, end) = (groups[first].0, groups[last].1);
            if best.is_some_and(|(s, e)| e - s >= end - start) {
                break;
            }
            if luhn(&candidate[start..end]) {
                best = Some((start, end));
                break;
            }
        }
    }
    best.map(|(start, end)| range.start + start..range.start + end)
}

/// An IBAN whose check digits start `range`: the two capitals before them (at a word's start)
/// and the longest run, cut back a space-separated group at a time, whose checksum holds.
fn iban_at(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let start = range.start.checked_sub(2)?;
    if !bytes[start..range.start].iter().all(u8::is_ascii_uppercase)
        || start
            .checked_sub(1)
            .is_some_and(|before| bytes[before].is_ascii_alphanumeric())
    {
        return None;
    }
    let mut end = range.end;
    while end - start >= 15 {
        if iban(&text[start..end]) {
            return Some(start..end);
        }
        end = start + text[start..end].rfind(' ')?;
    }
    None
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
        Check::Ipv6 => text.parse::<std::net::Ipv6Addr>().is_ok(),
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
        finder
            .find(text)
            .into_iter()
            .map(|range| text[range].to_string())
            .collect()
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
                    ("card 4111 1111 1111 1111 12/27", "4111 1111 1111 1111"),
                    ("4111-1111-1111-1111 123 is mine", "4111-1111-1111-1111"),
                    ("item 2 4111 1111 1111 1111", "4111 1111 1111 1111"),
                ],
                &[
                    "card 4111 1111 1111 1112 fails Luhn",
                    "card 4111 1111 1111 1112 12/27",
                    "order 1234567812345678",
                    "tiny 4111",
                ],
            ),
            (
                Detector::Iban,
                &[
                    ("pay DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
                    ("GB82WEST12345698765432", "GB82WEST12345698765432"),
                    ("to GB82WEST12345698765432 TODAY", "GB82WEST12345698765432"),
                ],
                &["DE89 3704 0044 0532 0130 01", "GB82WEST12345698765431", "AB12", "XGB82WEST12345698765432"],
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
                &[
                    "version 1.2.3.400",
                    "at 10:30:00",
                    "999.1.1.1",
                    "1.2.3",
                    "use std::collections::HashMap;",
                    "Foo::Bar and std::io",
                    "a :: b",
                ],
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
        assert_eq!(
            found(&Detector::Regex(r"\b".into()), "two words"),
            Vec::<String>::new(),
            "empty matches"
        );
        assert!(
            Finder::new(&Detector::Regex("a{1000}{1000}".into())).is_err(),
            "too big"
        );
    }

    #[test]
    fn text_with_wide_spaces_is_searched_without_splitting_a_character() {
        for space in ['\u{a0}', '\u{202f}', '\u{3000}'] {
            let text = format!("carte{space}4111 1111 1111 1111 et{space}1.2.3.4{space}fin");
            assert_eq!(found(&Detector::Card, &text), vec!["4111 1111 1111 1111"]);
            assert_eq!(found(&Detector::Ip, &text), vec!["1.2.3.4"]);
        }
        assert_eq!(after_last_space("a\u{a0}bc"), "a\u{a0}".len());
        assert_eq!(after_last_space("abc"), 0);
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
